//! The tool's promises about the client secret, ownership and teardown (README "Security"), each tested as the
//! scenario that broke it: a secret with nowhere to go, a rotation that lost the working secret, a secret file
//! written through a symlink, someone else's app adopted, tags put on what the tool did not make, one deployment
//! run twice through two state files, test knobs in production, secrets and tokens in verbose logs.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use azure_sim::{Fault, FaultKind, SimConfig};
use common::*;
use serde_json::{json, Value};

/// The standard setup arguments without the `--show-secret` the helpers add.
fn bare(w: &World, extra: &[&str]) -> Vec<String> {
    let mut a = w.setup_args(extra);
    if !extra.contains(&"--show-secret") {
        a.retain(|x| x != "--show-secret");
    }
    a
}

/// A command after setup: the state file, the operator's sign-in and the simulator's profile.
fn after(w: &World, cmd: &str, extra: &[&str]) -> Vec<String> {
    after_at(w, &w.state_path(), cmd, extra)
}

/// The same with another state file (none there: the deployment is found by its tag).
fn after_at(w: &World, state: &Path, cmd: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        cmd.into(),
        "--state".into(),
        state.display().to_string(),
        "--auth".into(),
        "env".into(),
    ];
    a.extend(w.cloud_arg());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn app_named(w: &World, client_id: &str) -> Value {
    w.sim
        .snapshot()
        .applications()
        .into_iter()
        .find(|a| a["appId"] == client_id)
        .expect("the app")
}

fn key_ids(app: &Value) -> Vec<String> {
    app["passwordCredentials"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["keyId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_refused(o: &std::process::Output, names: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "refused as bad input: {err}");
    assert!(err.contains("hint:"), "a refusal gives a hint: {err}");
    for n in names {
        assert!(err.contains(n), "the refusal names {n}: {err}");
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_secret_with_nowhere_to_go_is_refused_before_any_write() {
    let w = World::public().await;
    // JSON without --show-secret or --secret-file; a card to a pipe (the tests' stdout is never a terminal).
    for extra in [&["--output", "json"][..], &[][..]] {
        let o = w.run(&bare(&w, extra)).await;
        assert_refused(&o, &["--secret-file", "--show-secret"]);
        assert_eq!(w.sim.write_count(), 0, "{extra:?}: nothing was written");
    }
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let client = json_out(&o)["client_id"]
        .as_str()
        .expect("client")
        .to_string();
    // A re-run that makes no secret needs no way out.
    assert_ok(&w.run(&bare(&w, &["--output", "json"])).await);

    let before = w.sim.write_count();
    for extra in [
        &["--output", "json", "--remove-old"][..],
        &["--remove-old"][..],
    ] {
        let o = w.run(&after(&w, "rotate-secret", extra)).await;
        assert_refused(&o, &["--secret-file", "--show-secret"]);
    }
    assert_eq!(w.sim.write_count(), before, "rotate-secret wrote nothing");
    assert_eq!(
        key_ids(&app_named(&w, &client)).len(),
        1,
        "the working secret stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_cut_off_after_add_password_leaves_no_unknown_secret_and_keeps_the_working_one()
{
    let w = World::public().await;
    let (o, old_file) = w.setup_json().await;
    assert_ok(&o);
    let out = json_out(&o);
    let (tenant, client) = (
        out["tenant_id"].as_str().expect("tenant").to_string(),
        out["client_id"].as_str().expect("client").to_string(),
    );
    let old = std::fs::read_to_string(&old_file).expect("old secret");
    let new_file = w.dir.path().join("new-secret.txt");
    let rotate = after(
        &w,
        "rotate-secret",
        &[
            "--secret-file",
            &new_file.display().to_string(),
            "--remove-old",
            "--output",
            "json",
        ],
    );
    // addPassword lands, its answer is lost: the value is gone for good.
    w.sim.inject(Fault {
        method: Some("POST".into()),
        path_contains: Some("/addPassword".into()),
        skip: 0,
        times: 1,
        writes_only: false,
        kind: FaultKind::ApplyThenStatus { status: 500 },
    });
    let o = w.run(&rotate).await;
    assert!(!o.status.success(), "{}", stderr(&o));
    assert_eq!(key_ids(&app_named(&w, &client)).len(), 2, "old + orphan");
    let aud = "https://monitor.azure.com";
    assert_eq!(
        token(&w.sim, &tenant, &client, &old, aud).await.status(),
        200,
        "the working secret was not removed"
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    assert!(
        state["secret_pending_since"].is_string(),
        "the crash marker is set: {state}"
    );

    w.sim.clear_faults();
    let o = w.run(&rotate).await;
    assert_ok(&o);
    let new = std::fs::read_to_string(&new_file).expect("new secret");
    let keys = key_ids(&app_named(&w, &client));
    assert_eq!(
        keys,
        [json_out(&o)["secret_key_id"]
            .as_str()
            .expect("key")
            .to_string()],
        "only the new secret is left"
    );
    assert_eq!(
        token(&w.sim, &tenant, &client, &new, aud).await.status(),
        200
    );
    assert_eq!(
        token(&w.sim, &tenant, &client, &old, aud).await.status(),
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secret_files_are_never_written_through_a_symlink_and_are_always_0600() {
    let w = World::public().await;
    let precious = w.dir.path().join("precious.txt");
    std::fs::write(&precious, "keep").expect("write");
    let link = w.dir.path().join("secret-link.txt");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&precious, &link).expect("symlink");
    let l = link.display().to_string();
    let o = w
        .run(&bare(&w, &["--output", "json", "--secret-file", &l]))
        .await;
    assert_refused(&o, &["symbolic link"]);
    assert_eq!(w.sim.write_count(), 0);
    assert_eq!(std::fs::read_to_string(&precious).expect("read"), "keep");

    // An existing file of ours, readable by others: replaced whole, mode 0600.
    let file = w.dir.path().join("secret.txt");
    std::fs::write(&file, "old").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let f = file.display().to_string();
    assert_ok(
        &w.run(&bare(&w, &["--output", "json", "--secret-file", &f]))
            .await,
    );
    assert_ne!(std::fs::read_to_string(&file).expect("read"), "old");
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(w.dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );

    // rotate-secret and send refuse the same way, before any write.
    let before = w.sim.write_count();
    let o = w
        .run(&after(
            &w,
            "rotate-secret",
            &["--secret-file", &l, "--remove-old"],
        ))
        .await;
    assert_refused(&o, &["symbolic link"]);
    assert_eq!(w.sim.write_count(), before);
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(&input, json!({"audit_event": "x"}).to_string()).expect("write");
    let o = w
        .run(&after(
            &w,
            "send",
            &[
                "--secret-file",
                &f,
                "--failed-file",
                &l,
                &input.display().to_string(),
            ],
        ))
        .await;
    assert_refused(&o, &["--failed-file", "symbolic link"]);
    assert_eq!(std::fs::read_to_string(&precious).expect("read"), "keep");
}

#[tokio::test(flavor = "multi_thread")]
async fn send_keeps_the_events_in_flight_when_a_403_stops_it() {
    let w = World::start(SimConfig {
        role_propagation_delay: Duration::from_secs(600),
        ..SimConfig::default()
    })
    .await;
    let (o, secret) = w.setup_json().await;
    assert_ok(&o);
    // About four 1 MB requests, all in flight at once when the first 403 comes back.
    let n = 40;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({"audit_event": format!("e{i}"), "data": {"pad": "x".repeat(100_000)}})
                .to_string()
        })
        .collect();
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(&input, lines.join("\n")).expect("write");
    let failed = w.dir.path().join("failed.jsonl");
    let o = w
        .run(&after(
            &w,
            "send",
            &[
                "--secret-file",
                &secret.display().to_string(),
                "--failed-file",
                &failed.display().to_string(),
                "--output",
                "json",
                &input.display().to_string(),
            ],
        ))
        .await;
    assert!(!o.status.success());
    let kept = std::fs::read_to_string(&failed).expect("failed file");
    assert_eq!(
        kept.lines().count(),
        n,
        "every event read is in --failed-file"
    );
    #[cfg(unix)]
    assert_eq!(mode(&failed), 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_someone_else_registered_with_our_name_and_tag_is_not_adopted() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let foreign = w
        .sim
        .create_foreign_app("KeeperLogging", &[&format!("keeper-azmon:{sub}/rg-keeper")]);
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_refused(
        &o,
        &[
            &foreign.app_id,
            &foreign.owner_upn,
            "their secret",
            &format!("--adopt-app {}", foreign.app_id),
        ],
    );
    assert_eq!(w.sim.write_count(), 0, "nothing was written");

    // Taken knowingly: it gets a secret and roles, keeps its own tags, shows its owners, and teardown leaves it.
    let o = w
        .setup(&[
            "--output",
            "json",
            "--show-secret",
            "--adopt-app",
            &foreign.app_id,
        ])
        .await;
    assert_ok(&o);
    let out = json_out(&o);
    assert_eq!(out["client_id"], foreign.app_id.as_str());
    let plan = out["plan"].to_string();
    assert!(
        plan.contains(&foreign.owner_upn),
        "the plan shows the owners: {plan}"
    );
    let app = app_named(&w, &foreign.app_id);
    assert_eq!(
        app["tags"],
        json!([format!("keeper-azmon:{sub}/rg-keeper")])
    );
    assert_eq!(key_ids(&app).len(), 2, "theirs and ours");
    assert_ok(&w.run(&after(&w, "teardown", &["--yes"])).await);
    let app = app_named(&w, &foreign.app_id);
    assert_eq!(key_ids(&app).len(), 1, "our secret went, theirs stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_tagged_the_old_way_is_adopted_only_through_a_state_file() {
    let w = World::public().await;
    let foreign = w
        .sim
        .create_foreign_app("KeeperLogging", &["keeper-azmon:rg-keeper"]);
    let o = w.setup(&[]).await;
    assert_refused(&o, &[&foreign.app_id, "older keeper-azmon", "--adopt-app"]);
    assert_eq!(w.sim.write_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_the_tool_creates_list_the_operator_as_owner() {
    for graph_adds_the_creator in [true, false] {
        let w = World::public().await;
        w.sim.set_creator_becomes_owner(graph_adds_the_creator);
        let o = w.setup(&["--output", "json", "--show-secret"]).await;
        assert_ok(&o);
        let app = app_named(&w, json_out(&o)["client_id"].as_str().expect("client"));
        let owners = w.sim.snapshot().app_owners(app["id"].as_str().expect("id"));
        assert_eq!(
            owners,
            [w.sim.operator().object_id],
            "creator owner by Graph: {graph_adds_the_creator}"
        );
        // And so a re-run without a state file adopts it.
        std::fs::remove_file(w.state_path()).expect("rm state");
        let again = w.setup(&["--output", "json", "--show-secret"]).await;
        assert_ok(&again);
        assert_eq!(json_out(&again)["client_id"], app["appId"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_subscriptions_with_the_same_deployment_name_keep_their_own_apps() {
    let w = World::public().await;
    let sub2 = "22222222-2222-2222-2222-222222222222";
    w.sim.add_operator_subscription(sub2, "Second");
    let first = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&first);
    let mut args = w.setup_args(&["--output", "json", "--show-secret"]);
    let p = args
        .iter()
        .position(|a| a == "--subscription")
        .expect("sub");
    args[p + 1] = sub2.into();
    let p = args.iter().position(|a| a == "--state").expect("state");
    args[p + 1] = w.dir.path().join("second.json").display().to_string();
    let second = w.run(&args).await;
    assert_ok(&second);
    let (c1, c2) = (
        json_out(&first)["client_id"].clone(),
        json_out(&second)["client_id"].clone(),
    );
    assert_ne!(c1, c2, "each subscription has its own app");

    // Teardown of the second, found by its tag alone: the first subscription's app stays.
    let none = w.dir.path().join("none.json");
    let o = w
        .run(&after_at(
            &w,
            &none,
            "teardown",
            &["--yes", "--deployment", "rg-keeper", "--subscription", sub2],
        ))
        .await;
    assert_ok(&o);
    let apps: Vec<Value> = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .collect();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["appId"], c1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_adopted_rule_keeps_its_tags_and_teardown_by_tag_leaves_it() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/rg-keeper");
    assert!(
        arm_put(&w, &rg, "2021-04-01", json!({"location": "eastus"}))
            .await
            .is_success()
    );
    let dcr = format!("{rg}/providers/Microsoft.Insights/dataCollectionRules/KeeperDCR");
    let status = arm_put(
        &w,
        &dcr,
        "2022-06-01",
        json!({"location": "eastus", "tags": {"team": "secops"}, "properties": {"description": "theirs"}}),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&o);
    let rule = w.sim.snapshot().resource(&dcr).expect("rule");
    assert_eq!(
        rule["tags"],
        json!({"team": "secops"}),
        "the adopted rule keeps its own tags"
    );
    assert!(
        rule["properties"]["streamDeclarations"]["Custom-KeeperLogs_CL"].is_object(),
        "and was updated"
    );

    let none = w.dir.path().join("none.json");
    let o = w
        .run(&after_at(
            &w,
            &none,
            "teardown",
            &["--yes", "--deployment", "rg-keeper", "--subscription", &sub],
        ))
        .await;
    assert_ok(&o);
    assert!(
        w.sim.snapshot().resource(&dcr).is_some(),
        "a rule the tool did not make is never deleted"
    );
    assert!(
        w.sim.snapshot().resource(&rg).is_some(),
        "nor a group it did not make"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_cloud_named_in_the_state_file_is_not_followed_without_cloud() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let seen = w.sim.request_log().len();
    let args: Vec<String> = [
        "status",
        "--auth",
        "env",
        "--state",
        &w.state_path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = w.run(&args).await;
    assert_refused(&o, &["--cloud", &w.profile.display().to_string()]);
    assert_eq!(w.sim.request_log().len(), seen, "no request was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_deployment_cannot_run_twice_at_once_through_two_state_files() {
    let w = World::public().await;
    w.sim.inject(Fault {
        method: None,
        path_contains: None,
        skip: 0,
        times: 1,
        writes_only: true,
        kind: FaultKind::ApplyThenHang,
    });
    let mut first = tool_command(w.dir.path(), &w.sim, &w.setup_args(&[]))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.hanging() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never wrote"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut args = w.setup_args(&[]);
    let p = args.iter().position(|a| a == "--state").expect("state");
    args[p + 1] = w.dir.path().join("other.json").display().to_string();
    let writes = w.sim.write_count();
    let o = w.run(&args).await;
    assert_refused(&o, &["another keeper-azmon run"]);
    assert_eq!(w.sim.write_count(), writes);
    first.start_kill().expect("kill");
    let _ = first.wait().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn test_knobs_warn_when_set() {
    let w = World::public().await;
    let args = w.setup_args(&["--dry-run"]);
    let o = run_env(
        &w,
        &args,
        &[
            ("KEEPER_AZMON_TIME_SCALE", "0.5"),
            ("KEEPER_AZMON_HTTP_TIMEOUT", "30"),
        ],
    )
    .await;
    assert_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("warning: KEEPER_AZMON_TIME_SCALE=0.5"),
        "{err}"
    );
    assert!(
        err.contains("warning: KEEPER_AZMON_HTTP_TIMEOUT=30"),
        "{err}"
    );
    let o = w.run(&args).await;
    assert!(
        !stderr(&o).contains("warning: KEEPER_AZMON_"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_or_token_reaches_the_most_verbose_logs_of_any_command() {
    let w = World::public().await;
    let trace = [("KEEPER_AZMON_LOG", "trace")];
    let mut outputs = vec![];
    let secret_file = w.dir.path().join("secret.txt");
    let sf = secret_file.display().to_string();
    let o = run_env(
        &w,
        &bare(&w, &["-vv", "--output", "json", "--secret-file", &sf]),
        &trace,
    )
    .await;
    assert_ok(&o);
    outputs.push(o);
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(&input, sample_events()[0].to_string()).expect("write");
    let new_file = w.dir.path().join("new.txt");
    let nf = new_file.display().to_string();
    let inp = input.display().to_string();
    let mut secrets = vec![std::fs::read_to_string(&secret_file).expect("secret")];
    for (cmd, extra) in [
        (
            "verify",
            vec!["-vv", "--secret-file", sf.as_str(), "--wait"],
        ),
        ("status", vec!["-vv"]),
        (
            "send",
            vec!["-vv", "--secret-file", sf.as_str(), inp.as_str()],
        ),
        (
            "rotate-secret",
            vec!["-vv", "--secret-file", nf.as_str(), "--remove-old"],
        ),
        ("teardown", vec!["-vv", "--yes"]),
    ] {
        let o = run_env(&w, &after(&w, cmd, &extra), &trace).await;
        assert_ok(&o);
        outputs.push(o);
        if cmd == "rotate-secret" {
            secrets.push(std::fs::read_to_string(&new_file).expect("new secret"));
        }
    }
    secrets.push(w.sim.operator().client_secret);
    let all: String = outputs
        .iter()
        .map(|o| format!("{}{}", stdout(o), stderr(o)))
        .collect();
    assert!(all.len() > 10_000, "trace logging was on");
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "a secret is in the logs");
    }
    // Entra's access tokens (and the simulator's) are JWTs: a header that starts `{"typ"` is `eyJ0eXAi`.
    assert!(!all.contains("eyJ0eXAi"), "a bearer token is in the logs");
    assert!(
        !all.to_ascii_lowercase().contains("bearer ey"),
        "an Authorization header is in the logs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_sample_events_are_marked_as_tests() {
    let w = World::public().await;
    let (o, secret) = w.setup_json().await;
    assert_ok(&o);
    let o = w
        .run(&after(
            &w,
            "verify",
            &["--secret-file", &secret.display().to_string(), "--wait"],
        ))
        .await;
    assert_ok(&o);
    let sub = w.sim.operator().subscription_id;
    let ws = format!("/subscriptions/{sub}/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/KeeperLogsWorkspace");
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|r| r["audit_event"] == "keeper_azmon_verify"),
        "{rows:?}"
    );
}
