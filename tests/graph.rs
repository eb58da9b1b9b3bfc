//! End-to-end tests of how the tool meets Microsoft Graph and Entra as they behave: new objects not found for a
//! while (read-after-create lag), new credentials refused for a while, and lists that come in pages.

mod common;

use std::time::Duration;

use azure_sim::{Fault, FaultKind, SimConfig};
use common::*;
use serde_json::{json, Value};

fn args(w: &World, cmd: &str, extra: &[&str]) -> Vec<String> {
    w.command_args(cmd, extra)
}

/// Requests the simulator answered with `status` whose path contains `path`.
fn answered(w: &World, method: &str, path: &str, status: u16) -> usize {
    w.sim
        .request_log()
        .iter()
        .filter(|r| r.method == method && r.path.contains(path) && r.status == status)
        .count()
}

/// A time scale five times the tests' usual one, for the tests whose simulated delay must stay inside a window
/// of the tool's that is measured in real time.
const SLOWER: &str = "0.05";

#[tokio::test(flavor = "multi_thread")]
async fn setup_completes_on_its_first_run_while_graph_does_not_show_the_new_app_yet() {
    // Shorter than the tool's bounded wait at the tests' time scale (120 s x 0.01), as Azure's seconds are
    // shorter than its two minutes.
    let w = World::start(SimConfig {
        graph_replication_delay: Duration::from_millis(500),
        ..sim_config()
    })
    .await;
    let secret_file = w.dir.path().join("secret.txt");
    let first = w
        .setup(&["--secret-file", &secret_file.display().to_string()])
        .await;
    assert_ok(&first);
    assert!(
        answered(&w, "PATCH", "/v1.0/applications/", 404) >= 1,
        "Graph did not show the new app at first: {:?}",
        w.sim.request_log()
    );
    assert!(
        stderr(&first).contains("waiting for the new app registration to show in Microsoft Graph"),
        "the run says what it waits for:\n{}",
        stderr(&first)
    );
    let writes = w.sim.write_count();
    w.sim.advance_clock(Duration::from_secs(2));
    let again = w.setup(&["--output", "json"]).await;
    assert_ok(&again);
    assert_eq!(w.sim.write_count(), writes, "a re-run makes no write");
    let secret = std::fs::read_to_string(&secret_file).expect("secret");
    assert_complete(&w, &json_out(&again), secret.trim()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_wait_waits_until_the_token_endpoint_takes_a_new_secret() {
    let w = World::start(SimConfig {
        credential_activation_delay: Duration::from_secs(3),
        ..sim_config()
    })
    .await;
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    let sf = secret_file.display().to_string();
    let refused = w.run(&args(&w, "verify", &["--secret-file", &sf])).await;
    assert!(
        !refused.status.success(),
        "a secret made moments ago is refused"
    );
    let err = stderr(&refused);
    assert!(
        err.contains("AADSTS7000215") && err.contains("--wait"),
        "names the refusal and the way through it:\n{err}"
    );
    // The secret becomes usable on the simulator's clock once verify has met a second refusal.
    let refusals = |log: &[azure_sim::LoggedRequest]| {
        log.iter()
            .filter(|r| r.path.contains("/oauth2/v2.0/token") && r.status >= 400)
            .count()
            >= 2
    };
    let o = run_advancing(
        &w,
        &args(
            &w,
            "verify",
            &["--secret-file", &sf, "--wait", "--timeout", "600"],
        ),
        refusals,
        Duration::from_secs(5),
    )
    .await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("does not accept the app's credentials yet"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_wait_with_minimal_roles_reads_the_rows_back_as_the_operator() {
    let w = World::public().await;
    let secret_file = w.dir.path().join("secret.txt");
    let o = w
        .setup(&[
            "--roles",
            "minimal",
            "--output",
            "json",
            "--secret-file",
            &secret_file.display().to_string(),
        ])
        .await;
    assert_ok(&o);
    w.sim.advance_clock(Duration::from_secs(1));
    let o = w
        .run(&args(
            &w,
            "verify",
            &[
                "--secret-file",
                &secret_file.display().to_string(),
                "--wait",
                "--timeout",
                "30",
            ],
        ))
        .await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("reading the rows back as"),
        "{}",
        stderr(&o)
    );
}

/// Five apps of the same name, two to a page, ours on the last: a re-run without its state file still finds
/// ours (all pages read) and makes no second one.
#[tokio::test(flavor = "multi_thread")]
async fn a_graph_list_of_five_paged_by_two_is_read_to_the_end() {
    let w = World::start(SimConfig {
        page_size: Some(2),
        ..sim_config()
    })
    .await;
    for _ in 0..4 {
        let a = graph_as_operator(
            &w,
            reqwest::Method::POST,
            "/applications",
            json!({ "displayName": "KeeperLogging" }),
        )
        .await;
        assert!(a["id"].is_string(), "{a}");
    }
    assert_ok(&w.setup(&[]).await);
    std::fs::remove_file(w.state_path()).expect("state removed");
    w.sim.advance_clock(Duration::from_secs(2));
    let o = w.setup(&["--output", "json"]).await;
    assert_ok(&o);
    let out = json_out(&o);
    let app_step = out["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .find(|s| s["step"] == "application")
        .cloned()
        .expect("application step");
    assert_eq!(app_step["action"], "reuse", "{app_step}");
    let named: Vec<Value> = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .collect();
    assert_eq!(named.len(), 5, "no second app of ours");
    let lists = w
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/v1.0/applications")
        .count();
    assert!(lists >= 3, "the three pages read: {lists} list requests");
}

/// The answer to the app's create is lost (applied, then 500) while Graph does not show the new app yet: the run
/// looks for it until it shows instead of creating a second one.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_answer_is_looked_for_until_graph_shows_the_app() {
    // Inside the tool's look for a lost create (30 s) at a time scale of 0.05 (1.5 s): half of it, so that a
    // busy machine's slower steps do not outlast the look. At the usual 0.01 the margin was 150 ms, which a
    // loaded CI machine can lose.
    let w = World::start(SimConfig {
        graph_replication_delay: Duration::from_millis(750),
        ..sim_config()
    })
    .await;
    for path in ["/v1.0/applications", "/v1.0/servicePrincipals"] {
        w.sim.inject(Fault {
            method: Some("POST".into()),
            path_contains: Some(path.into()),
            skip: 0,
            times: 1,
            writes_only: true,
            kind: FaultKind::ApplyThenStatus { status: 500 },
        });
    }
    let o = run_env(
        &w,
        &w.setup_args(&["--output", "json", "--show-secret"]),
        &[("KEEPER_AZMON_TIME_SCALE", SLOWER)],
    )
    .await;
    assert_ok(&o);
    let out = json_out(&o);
    assert_eq!(answered(&w, "POST", "/v1.0/applications", 500), 1);
    assert_eq!(answered(&w, "POST", "/v1.0/servicePrincipals", 500), 1);
    assert_complete(&w, &out, out["client_secret"].as_str().expect("secret")).await;
}

/// `status` straight after `setup`: Graph may not show the new service principal yet, which is not "missing".
#[tokio::test(flavor = "multi_thread")]
async fn status_right_after_setup_does_not_call_a_replicating_object_missing() {
    // Inside the window status allows a deployment written moments ago (120 s) at a time scale of 0.05 (6 s):
    // Graph shows the new objects 3 s after their creation, long enough for status to meet the lag even on a
    // busy machine (at 0.01 the lag was 600 ms, which a loaded CI machine could spend before status asked).
    let w = World::start(SimConfig {
        graph_replication_delay: Duration::from_millis(3000),
        ..sim_config()
    })
    .await;
    let slower = [("KEEPER_AZMON_TIME_SCALE", SLOWER)];
    let o = run_env(&w, &w.setup_args(&["--output", "json"]), &slower).await;
    assert_ok(&o);
    let o = run_env(&w, &args(&w, "status", &["--output", "json"]), &slower).await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["healthy"], true, "{}", stdout(&o));
    assert!(
        answered(&w, "GET", "/v1.0/servicePrincipals/", 404) >= 1,
        "status met the lag: {:?}",
        w.sim.request_log()
    );
}

/// `teardown` straight after `setup`: Graph may answer "not found" for the app and service principal it has not
/// replicated yet (azure-sim's deletes meet its lag too); taken for "already gone", the app and its secret would
/// be left behind. Here the first two answers of each are that 404 whatever the timing, and teardown runs inside
/// the window (two minutes after setup's last write, 6 s at this time scale) in which it asks again.
#[tokio::test(flavor = "multi_thread")]
async fn teardown_right_after_setup_deletes_an_app_graph_has_not_replicated_yet() {
    let w = World::start(sim_config()).await;
    let slower = [("KEEPER_AZMON_TIME_SCALE", SLOWER)];
    let o = run_env(&w, &w.setup_args(&["--output", "json"]), &slower).await;
    assert_ok(&o);
    for (method, path) in [
        ("POST", "/removePassword"),
        ("DELETE", "/v1.0/servicePrincipals/"),
        ("DELETE", "/v1.0/applications/"),
    ] {
        w.sim.inject(Fault::status(
            method,
            path,
            2,
            404,
            "Request_ResourceNotFound",
        ));
    }
    let o = run_env(&w, &args(&w, "teardown", &["--yes"]), &slower).await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("Graph does not find it yet"),
        "the wait is said:\n{}",
        stderr(&o)
    );
    for path in [
        "/removePassword",
        "/v1.0/servicePrincipals/",
        "/v1.0/applications/",
    ] {
        let method = if path == "/removePassword" {
            "POST"
        } else {
            "DELETE"
        };
        // Two injected, and the simulator's own lag may add one.
        assert!(answered(&w, method, path, 404) >= 2, "{path}");
    }
    let snap = w.sim.snapshot();
    assert!(
        snap.applications()
            .iter()
            .all(|a| a["displayName"] != "KeeperLogging"),
        "the app is gone: {:?}",
        snap.applications()
    );
    assert_eq!(
        snap.service_principals().len(),
        1,
        "only the operator's is left"
    );
}
