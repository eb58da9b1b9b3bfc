//! End-to-end tests of verify, status, teardown and rotate-secret against azure-sim.

mod common;

use std::time::Duration;

use azure_sim::{Fault, FaultKind, SimCloud, SimConfig};
use common::*;
use serde_json::Value;

/// Runs setup with the secret written to a file; returns (setup JSON output, secret file path).
/// The simulator's clock then moves on a second, past Graph's read-after-create lag and the moment a new secret
/// is refused (both a fraction of a second in the simulator): the next command comes later, as an admin's would.
async fn set_up(w: &World) -> (Value, std::path::PathBuf) {
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    w.sim.advance_clock(Duration::from_secs(1));
    (json_out(&o), secret_file)
}

fn args(w: &World, cmd: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec![
        cmd.to_string(),
        "--state".into(),
        w.state_path().display().to_string(),
        "--auth".into(),
        "env".into(),
    ];
    if !extra.contains(&"--cloud") {
        a.extend(w.cloud_arg());
    }
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_proves_the_console_values_and_names_each_broken_link() {
    let w = World::start(SimConfig {
        cloud: SimCloud::UsGov,
        ..sim_config()
    })
    .await;
    let mut a = w.setup_args(&["--output", "json", "--secret-file"]);
    let secret_file = w.dir.path().join("secret.txt");
    a.push(secret_file.display().to_string());
    let p = a.iter().position(|x| x == "eastus").expect("loc");
    a[p] = "usgovvirginia".into();
    assert_ok(&w.run(&a).await);
    let sf = secret_file.display().to_string();

    let ok = w
        .run(&args(
            &w,
            "verify",
            &[
                "--secret-file",
                &sf,
                "--wait",
                "--timeout",
                "30",
                "--output",
                "json",
            ],
        ))
        .await;
    assert_ok(&ok);
    let v = json_out(&ok);
    assert_eq!(v["arrived"], 3);

    // wrong secret
    let bad = w.dir.path().join("bad.txt");
    std::fs::write(&bad, "not-the-secret").expect("write");
    let o = w
        .run(&args(
            &w,
            "verify",
            &["--secret-file", &bad.display().to_string()],
        ))
        .await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("client secret is wrong"),
        "{}",
        stderr(&o)
    );

    // wrong DCR id and wrong stream in the Endpoint URL
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    let url = state["outputs"]["endpoint_url"]
        .as_str()
        .expect("url")
        .to_string();
    let imm = state["outputs"]["dcr_immutable_id"]
        .as_str()
        .expect("imm")
        .to_string();
    let wrong_dcr = url.replace(&imm, "dcr-00000000000000000000000000000000");
    let o = w
        .run(&args(
            &w,
            "verify",
            &["--secret-file", &sf, "--endpoint-url", &wrong_dcr],
        ))
        .await;
    assert!(stderr(&o).contains("DCR immutable id"), "{}", stderr(&o));
    let wrong_stream = url.replace("Custom-KeeperLogs_CL", "Custom-Other_CL");
    let o = w
        .run(&args(
            &w,
            "verify",
            &["--secret-file", &sf, "--endpoint-url", &wrong_stream],
        ))
        .await;
    assert!(stderr(&o).contains("stream"), "{}", stderr(&o));

    // wrong scope: a profile whose monitor audience is the public cloud's, against a US Government tenant
    let mut prof: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("p")).expect("json");
    prof["monitor_audience"] = "https://monitor.azure.com".into();
    let wrong_prof = w.dir.path().join("wrong-cloud.json");
    std::fs::write(&wrong_prof, prof.to_string()).expect("write");
    let o = w
        .run(&args(
            &w,
            "verify",
            &[
                "--secret-file",
                &sf,
                "--cloud",
                &wrong_prof.display().to_string(),
            ],
        ))
        .await;
    assert!(stderr(&o).contains("scope"), "{}", stderr(&o));

    // table gone
    let ws = state["resources"]["workspace"]["id"]
        .as_str()
        .expect("ws")
        .to_string();
    w.sim
        .snapshot()
        .delete_resource(&format!("{ws}/tables/KeeperLogs_CL"));
    let o = w
        .run(&args(
            &w,
            "verify",
            &["--secret-file", &sf, "--wait", "--timeout", "5"],
        ))
        .await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("table"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_403_until_the_role_takes_effect() {
    // A role assignment takes minutes to take effect in Azure; the simulator's clock passes them.
    let w = World::start(SimConfig {
        role_propagation_delay: Duration::from_secs(300),
        ..sim_config()
    })
    .await;
    let (_, secret_file) = set_up(&w).await;
    let sf = secret_file.display().to_string();
    let o = w.run(&args(&w, "verify", &["--secret-file", &sf])).await;
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("Monitoring Metrics Publisher") && err.contains("minutes"),
        "{err}"
    );
    // With --wait, verify keeps trying through the 403s until the role takes effect.
    let refused = |log: &[azure_sim::LoggedRequest]| {
        log.iter()
            .filter(|r| r.status == 403 && r.path.contains("/streams/"))
            .count()
    };
    let o = run_advancing(
        &w,
        &args(
            &w,
            "verify",
            &["--secret-file", &sf, "--wait", "--timeout", "60"],
        ),
        |log| refused(log) >= 3,
        Duration::from_secs(300),
    )
    .await;
    assert_ok(&o);
    assert!(
        refused(&w.sim.request_log()) >= 3,
        "verify --wait met 403s before the role took effect"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_drift_and_missing_resources() {
    let w = World::public().await;
    set_up(&w).await;
    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["healthy"], true);

    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    let dcr = state["resources"]["dcr"]["id"]
        .as_str()
        .expect("dcr")
        .to_string();
    let dce = state["resources"]["dce"]["id"]
        .as_str()
        .expect("dce")
        .to_string();
    w.sim.snapshot().patch_resource(&dcr, serde_json::json!({ "properties": { "dataFlows": [ { "streams": ["Custom-KeeperLogs_CL"], "destinations": ["keeperWorkspace"], "transformKql": "source | where 1 == 0", "outputStream": "Custom-KeeperLogs_CL" } ] } }));
    w.sim.snapshot().delete_resource(&dce);
    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let v = json_out(&o);
    let health = |item: &str| {
        v["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["item"] == item))
            .map(|i| i["health"].clone())
    };
    assert_eq!(health("dcr"), Some("drifted".into()));
    assert_eq!(health("dce"), Some("missing".into()));
    assert_eq!(
        health("role:dce:Monitoring Metrics Publisher"),
        Some("missing".into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_removes_what_setup_made_and_keeps_what_it_reused() {
    let w = World::public().await;
    // A workspace that exists before setup: reused, so teardown must leave it.
    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/rg-shared");
    let ws_id = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/shared-ws");
    assert!(arm_put(
        &w,
        &rg,
        "2021-04-01",
        serde_json::json!({ "location": "eastus" })
    )
    .await
    .is_success());
    assert!(arm_put(
        &w,
        &ws_id,
        "2022-10-01",
        serde_json::json!({ "location": "eastus" })
    )
    .await
    .is_success());
    let (_, _) = {
        let secret_file = w.dir.path().join("secret.txt");
        let o = w
            .setup(&[
                "--workspace",
                &ws_id,
                "--output",
                "json",
                "--secret-file",
                &secret_file.display().to_string(),
            ])
            .await;
        assert_ok(&o);
        (json_out(&o), secret_file)
    };
    // Interrupt the teardown at its third delete, then finish it.
    w.sim.inject(Fault {
        method: Some("DELETE".into()),
        path_contains: None,
        skip: 2,
        times: 1,
        writes_only: false,
        kind: FaultKind::Status {
            status: 400,
            code: "SimulatedFailure".into(),
            retry_after: None,
        },
    });
    let o = w.run(&args(&w, "teardown", &["--yes"])).await;
    assert!(!o.status.success());
    w.sim.clear_faults();
    let o = w.run(&args(&w, "teardown", &["--yes"])).await;
    assert_ok(&o);
    let again = w.run(&args(&w, "teardown", &["--yes"])).await;
    assert_ok(&again);

    let snap = w.sim.snapshot();
    assert!(
        snap.applications()
            .iter()
            .all(|a| a["displayName"] != "KeeperLogging"),
        "app removed"
    );
    assert!(snap
        .resources_of_type("Microsoft.Insights/dataCollectionRules")
        .is_empty());
    assert!(snap
        .resources_of_type("Microsoft.Insights/dataCollectionEndpoints")
        .is_empty());
    assert!(
        snap.resource(&format!("{ws_id}/tables/KeeperLogs_CL"))
            .is_none(),
        "our table in the reused workspace is removed"
    );
    assert!(
        snap.resource(&ws_id).is_some(),
        "the reused workspace stays"
    );
    let op_principal = w.sim.snapshot().service_principals().len();
    assert_eq!(
        op_principal, 1,
        "only the operator's service principal is left"
    );
    assert!(
        snap.role_assignments()
            .iter()
            .all(|(_, role, _)| role.eq_ignore_ascii_case("8e3af657-a8ff-443c-a75c-2fe8c4bcb635")),
        "only the operator's Owner assignment is left: {:?}",
        snap.role_assignments()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_secret_leaves_one_valid_secret_and_the_old_one_stops_working() {
    let w = World::public().await;
    let (out, secret_file) = set_up(&w).await;
    let old = std::fs::read_to_string(&secret_file).expect("old secret");
    let new_file = w.dir.path().join("new.txt");
    let o = w
        .run(&args(
            &w,
            "rotate-secret",
            &[
                "--secret-file",
                &new_file.display().to_string(),
                "--remove-old",
                "--output",
                "json",
            ],
        ))
        .await;
    assert_ok(&o);
    let new = std::fs::read_to_string(&new_file).expect("new secret");
    assert_ne!(old, new);
    let app = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .find(|a| a["displayName"] == "KeeperLogging")
        .expect("app");
    assert_eq!(app["passwordCredentials"].as_array().map(Vec::len), Some(1));
    let tenant = out["tenant_id"].as_str().expect("tenant");
    let client = out["client_id"].as_str().expect("client");
    assert_eq!(
        token(&w.sim, tenant, client, &old, "https://monitor.azure.com")
            .await
            .status(),
        401,
        "the old secret stops working (invalid_client: Entra answers 401)"
    );
    // A new secret is refused for a moment after it is made (as in Entra); Keeper uses it later.
    w.sim.advance_clock(std::time::Duration::from_secs(60));
    assert_eq!(
        token(&w.sim, tenant, client, &new, "https://monitor.azure.com")
            .await
            .status(),
        200,
        "the new one works"
    );
    assert!(!stdout(&o).contains(&new) && !stderr(&o).contains(&new));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_state_file_status_and_teardown_find_the_deployment_by_its_tag() {
    let w = World::public().await;
    set_up(&w).await;
    std::fs::remove_file(w.state_path()).expect("state removed");
    let sub = w.sim.operator().subscription_id;
    let profile = w.profile.display().to_string();
    let by_tag = |cmd: &str, extra: &[&str]| {
        let mut a = args(
            &w,
            cmd,
            &[
                "--cloud",
                &profile,
                "--deployment",
                "rg-keeper",
                "--subscription",
                &sub,
            ],
        );
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let o = w.run(&by_tag("status", &["--output", "json"])).await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["healthy"], true);
    assert_eq!(
        v["items"].as_array().map(Vec::len),
        Some(14),
        "rg, app, sp, workspace, table, dce, dcr and six roles: {v}"
    );

    let o = w.run(&by_tag("teardown", &["--yes"])).await;
    assert_ok(&o);
    let snap = w.sim.snapshot();
    assert!(snap
        .applications()
        .iter()
        .all(|a| a["displayName"] != "KeeperLogging"));
    assert!(snap
        .resources_of_type("Microsoft.OperationalInsights/workspaces")
        .is_empty());
    assert!(snap
        .resources_of_type("Microsoft.Insights/dataCollectionRules")
        .is_empty());
    assert!(
        snap.resources_of_type("Microsoft.Resources/resourceGroups")
            .is_empty(),
        "the resource group setup made is gone too"
    );
    assert_eq!(
        snap.role_assignments().len(),
        1,
        "only the operator's Owner assignment is left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_warns_of_a_secret_inside_thirty_days_and_rotation_clears_it() {
    let w = World::public().await;
    let o = w.setup(&["--secret-expiry-days", "20"]).await;
    assert_ok(&o);
    w.sim.advance_clock(Duration::from_secs(1)); // as in `set_up`
    let o = w.run(&args(&w, "status", &[])).await;
    assert_eq!(o.status.code(), Some(5), "needs attention: {}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("expiring"), "{text}");
    assert!(text.contains("keeper-azmon rotate-secret"), "{text}");

    let o = w
        .run(&args(
            &w,
            "rotate-secret",
            &[
                "--remove-old",
                "--secret-expiry-days",
                "180",
                "--secret-file",
                &w.dir.path().join("new-secret.txt").display().to_string(),
            ],
        ))
        .await;
    assert_ok(&o);
    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["healthy"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_secret_keeps_the_old_one_working_until_finish_removes_it() {
    let w = World::public().await;
    let (out, secret_file) = set_up(&w).await;
    let old = std::fs::read_to_string(&secret_file).expect("old secret");
    let old_key = w.state()["secret"]["key_id"].clone();
    let new_file = w.dir.path().join("new.txt");
    let o = w
        .run(&args(
            &w,
            "rotate-secret",
            &[
                "--secret-file",
                &new_file.display().to_string(),
                "--output",
                "json",
            ],
        ))
        .await;
    assert_ok(&o);
    w.settle();
    let v = json_out(&o);
    assert_eq!(v["still_valid"], serde_json::json!([old_key]), "{v}");
    let new = std::fs::read_to_string(&new_file).expect("new secret");
    let (tenant, client) = (
        out["tenant_id"].as_str().expect("tenant"),
        out["client_id"].as_str().expect("client"),
    );
    let works = |secret: String| {
        let sim = &w.sim;
        async move {
            token(sim, tenant, client, &secret, "https://monitor.azure.com")
                .await
                .status()
                == 200
        }
    };
    assert!(
        works(old.clone()).await,
        "until --finish, the old secret still works"
    );
    assert!(works(new.clone()).await);

    let o = w
        .run(&args(
            &w,
            "rotate-secret",
            &["--finish", "--force", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["removed"], serde_json::json!([old_key]));
    assert!(!works(old).await, "--finish removed the old secret");
    assert!(works(new).await, "and left the new one");
    assert_eq!(w.state()["retired_secrets"], serde_json::json!([]));

    let again = w
        .run(&args(
            &w,
            "rotate-secret",
            &["--finish", "--force", "--output", "json"],
        ))
        .await;
    assert_ok(&again);
    assert_eq!(
        json_out(&again)["removed"],
        serde_json::json!([]),
        "nothing left to remove"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_an_expired_secret_with_the_rotate_hint() {
    let w = World::public().await;
    set_up(&w).await;
    // The secret as it is a day after its end date: Graph lists it with an end in the past. (The tool's clock is
    // the wall clock, so the test makes the past-dated credential as the operator and records it in the state.)
    let mut state = w.state();
    let app = state["resources"]["application"]["id"]
        .as_str()
        .expect("app")
        .to_string();
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("date");
    let made = graph_as_operator(
        &w,
        reqwest::Method::POST,
        &format!("/applications/{app}/addPassword"),
        serde_json::json!({ "passwordCredential": { "displayName": "Keeper Azure Monitor Logs", "endDateTime": yesterday } }),
    )
    .await;
    state["secret"]["key_id"] = made["keyId"].clone();
    state["secret"]["end_date_time"] = made["endDateTime"].clone();
    std::fs::write(w.state_path(), state.to_string()).expect("state written");

    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let v = json_out(&o);
    let secret = v["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["item"] == "secret"))
        .expect("a secret item");
    assert_eq!(secret["health"], "expired", "{v}");
    let o = w.run(&args(&w, "status", &[])).await;
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stdout(&o).contains("keeper-azmon rotate-secret"),
        "{}",
        stdout(&o)
    );
}
