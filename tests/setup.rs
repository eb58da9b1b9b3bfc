//! End-to-end tests of `keeper-azmon setup` against azure-sim: the guide's eight steps, idempotence, resume, faults, secrecy.

mod common;

use std::time::Duration;

use azure_sim::{Fault, FaultKind, SimCloud, SimConfig};
use common::*;

async fn full_setup_in(cloud: SimCloud, location: &str) {
    let w = World::start(SimConfig {
        cloud,
        ..sim_config()
    })
    .await;
    let mut args = w.setup_args(&["--output", "json", "--show-secret"]);
    let pos = args
        .iter()
        .position(|a| a == "eastus")
        .expect("location arg");
    args[pos] = location.to_string();
    let o = w.run(&args).await;
    assert_ok(&o);
    let out = json_out(&o);
    let secret = out["client_secret"]
        .as_str()
        .expect("secret shown with --show-secret")
        .to_string();
    assert_complete(&w, &out, &secret).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_completes_the_guide_in_azure_public() {
    full_setup_in(SimCloud::Public, "eastus").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_completes_the_guide_in_azure_us_government() {
    full_setup_in(SimCloud::UsGov, "usgovvirginia").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_completes_the_guide_in_azure_us_government_dod() {
    full_setup_in(SimCloud::UsGovDod, "usdodeast").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_completes_the_guide_in_azure_china() {
    full_setup_in(SimCloud::China, "chinaeast2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn second_run_makes_no_write_and_dry_run_makes_none_at_all() {
    let w = World::public().await;
    let dry = w.setup(&["--dry-run"]).await;
    assert_ok(&dry);
    assert_eq!(w.sim.write_count(), 0, "--dry-run wrote");
    assert!(
        stdout(&dry).contains("create"),
        "the plan shows creates:\n{}",
        stdout(&dry)
    );

    let first = w.setup(&[]).await;
    assert_ok(&first);
    let after_first = w.sim.write_count();
    assert!(
        after_first >= 14,
        "a first run writes everything ({after_first})"
    );

    let second = w.setup(&["--output", "json"]).await;
    assert_ok(&second);
    assert_eq!(
        w.sim.write_count(),
        after_first,
        "the second run wrote:\n{}",
        stderr(&second)
    );
    let out = json_out(&second);
    assert_eq!(out["changed"], false);
    assert!(out["client_secret"].is_null());
    assert!(out["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .all(|s| s["action"] == "reuse"));

    let dry_again = w.setup(&["--dry-run", "--output", "json"]).await;
    assert_ok(&dry_again);
    assert_eq!(w.sim.write_count(), after_first);
}

/// Fails the run at each write in turn (the simulator refuses it, or applies it and loses the answer), then re-runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_interrupted_at_any_write_resumes_to_exactly_one_of_everything() {
    let probe = World::start(same_writes_every_run()).await;
    assert_ok(&probe.setup(&[]).await);
    let writes = probe.sim.write_count();
    // resource group, app, identifier URI, service principal, workspace, table, DCE, DCR, six roles, the DCR's diagnostic setting, secret
    assert_eq!(writes, 16, "a clean run makes sixteen writes");
    let cases = [false, true]
        .into_iter()
        .flat_map(|apply| (0..writes).map(move |n| (apply, n)));
    each_concurrently(cases, |(apply, n)| interrupted_at_write(apply, n)).await;
}

/// A simulator whose setup makes the same writes in the same order every run, so that "the n-th write" names
/// one request: no Graph read-after-create lag and no DCR refused while its new table settles (the retries
/// they add are tested in tests/graph.rs, tests/preflight.rs, and tests/crash.rs interrupts runs with the lag on).
fn same_writes_every_run() -> SimConfig {
    SimConfig {
        cloud: SimCloud::Public,
        table_output_delay: Duration::ZERO,
        graph_replication_delay: Duration::ZERO,
        ..sim_config()
    }
}

async fn interrupted_at_write(apply: bool, n: usize) {
    let w = World::start(same_writes_every_run()).await;
    let kind = if apply {
        FaultKind::ApplyThenStatus { status: 400 }
    } else {
        FaultKind::Status {
            status: 400,
            code: "SimulatedFailure".into(),
            retry_after: None,
        }
    };
    w.sim.inject(Fault {
        method: None,
        path_contains: None,
        skip: n,
        times: 1,
        writes_only: true,
        kind,
    });
    let first = w.setup(&[]).await;
    assert!(
        !first.status.success(),
        "write {n} (apply={apply}) was meant to fail the run"
    );
    assert!(
        stderr(&first).contains("SimulatedFailure") || stderr(&first).contains("400"),
        "{}",
        stderr(&first)
    );
    w.sim.clear_faults();
    let second = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&second);
    let out = json_out(&second);
    let Some(secret) = out["client_secret"].as_str() else {
        panic!("write {n} (apply={apply}): the re-run did not make a new secret although none was delivered")
    };
    assert_complete(&w, &out, secret).await;
}

/// Role assignments refused because the new service principal has not replicated yet.
fn principal_not_found(log: &[azure_sim::LoggedRequest]) -> usize {
    log.iter()
        .filter(|r| r.status == 400 && r.path.contains("roleAssignments"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn principal_replication_throttling_and_server_errors_are_survived() {
    // Replication as slow as Azure's can be; the simulator's clock passes it once the tool has met it.
    let w = World::start(SimConfig {
        sp_replication_delay: Duration::from_secs(60),
        ..sim_config()
    })
    .await;
    w.sim
        .inject(Fault::status("GET", "/locations", 2, 429, "TooManyRequests").retry_after(1));
    w.sim.inject(Fault::status(
        "PUT",
        "dataCollectionEndpoints",
        2,
        500,
        "InternalServerError",
    ));
    let o = run_advancing(
        &w,
        &w.setup_args(&["--output", "json", "--show-secret"]),
        |log| principal_not_found(log) > 0,
        Duration::from_secs(60),
    )
    .await;
    assert_ok(&o);
    let out = json_out(&o);
    assert_complete(&w, &out, out["client_secret"].as_str().expect("secret")).await;
    let log = w.sim.request_log();
    assert!(
        principal_not_found(&log) > 0,
        "PrincipalNotFound was seen and retried"
    );
    let throttled = log.iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_long_running_operation_is_reported_with_its_step_and_resumes() {
    let w = World::public().await;
    w.sim.inject(Fault {
        method: Some("PUT".into()),
        path_contains: Some("/tables/".into()),
        skip: 0,
        times: 1,
        writes_only: false,
        kind: FaultKind::FailLro,
    });
    let o = w.setup(&[]).await;
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("step 'table' failed"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    w.sim.clear_faults();
    let again = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&again);
    let out = json_out(&again);
    assert_complete(&w, &out, out["client_secret"].as_str().expect("secret")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_write() {
    let w = World::public().await;
    let cases: &[(&[&str], &str)] = &[
        (&["--workspace", "x"], "--workspace"),
        (&["--dce-name", "bad_name!"], "--dce-name"),
        (&["--table", "9table"], "--table"),
        (&["--secret-expiry-days", "0"], "--secret-expiry-days"),
        (&["--secret-expiry-days", "731"], "--secret-expiry-days"),
        (&["--tenant", "not-a-guid"], "--tenant"),
        (&["--location", "atlantis"], "location 'atlantis'"),
        (&["--workspace", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.OperationalInsights/workspaces/w"], "not in --subscription"),
    ];
    for (extra, expect) in cases {
        let mut args = w.setup_args(&[]);
        // later flags win in clap only for repeated options; replace instead
        for pair in extra.chunks(2) {
            if let Some(p) = args.iter().position(|a| a == pair[0]) {
                args[p + 1] = pair[1].to_string();
            } else {
                args.push(pair[0].to_string());
                args.push(pair[1].to_string());
            }
        }
        let o = w.run(&args).await;
        assert_eq!(
            o.status.code(),
            Some(2),
            "{extra:?} must be refused as bad input: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains(expect),
            "{extra:?}: message names {expect}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    }
    let mut args = w.setup_args(&[]);
    let p = args
        .iter()
        .position(|a| a == "--subscription")
        .expect("sub");
    args[p + 1] = "11111111-1111-1111-1111-111111111111".into();
    let o = w.run(&args).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("was not found"), "{}", stderr(&o));
    assert_eq!(w.sim.write_count(), 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_provider_is_registered_first_or_reported_before_any_write() {
    let w = World::start(SimConfig {
        providers_registered: false,
        ..sim_config()
    })
    .await;
    let dry = w.setup(&["--dry-run"]).await;
    assert_ok(&dry);
    assert!(
        stdout(&dry).contains("Microsoft.Insights is NotRegistered"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(w.sim.write_count(), 0);

    w.sim.inject(Fault::status(
        "POST",
        "/register",
        usize::MAX,
        403,
        "AuthorizationFailed",
    ));
    let o = w.setup(&[]).await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("AuthorizationFailed") && stderr(&o).contains("hint:"),
        "{}",
        stderr(&o)
    );
    let resource_writes = w
        .sim
        .request_log()
        .into_iter()
        .filter(|r| {
            r.method != "GET"
                && (r.path.starts_with("/subscriptions") || r.path.starts_with("/v1.0/"))
                && !r.path.ends_with("/register")
        })
        .count();
    assert_eq!(
        resource_writes, 0,
        "no resource was written before the provider check failed"
    );

    w.sim.clear_faults();
    assert_ok(&w.setup(&[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_value_never_leaks() {
    let w = World::public().await;
    let secret_file = w.dir.path().join("secret.txt");
    let args = w.setup_args(&["-vv", "--secret-file", &secret_file.display().to_string()]);
    let o = run_env(&w, &args, &[("KEEPER_AZMON_LOG", "trace")]).await;
    assert_ok(&o);
    let secret = std::fs::read_to_string(&secret_file).expect("secret file");
    assert!(secret.len() >= 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret_file)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    assert!(!stdout(&o).contains(&secret), "stdout leaks the secret");
    assert!(
        !stderr(&o).contains(&secret),
        "stderr (trace logs) leaks the secret"
    );
    assert!(stderr(&o).len() > 1000, "trace logging was on");
    let state = std::fs::read_to_string(w.state_path()).expect("state");
    assert!(!state.contains(&secret), "the state file holds the secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_without_show_secret_leaves_a_new_secret_out() {
    let w = World::public().await;
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    let out = json_out(&o);
    assert_eq!(out["secret_created"], true, "this run made a secret: {out}");
    assert!(out["client_secret"].is_null(), "{out}");
    let secret = std::fs::read_to_string(&secret_file).expect("secret file");
    assert!(secret.len() >= 20);
    assert!(!stdout(&o).contains(&secret), "stdout carries the secret");
    assert!(!stderr(&o).contains(&secret), "stderr carries the secret");
}
