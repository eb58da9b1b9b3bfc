//! Permissions that take up to an hour (issue 26 §3): Logs Ingestion answers 403 for up to 30 minutes after the
//! role assignment, the query API for up to 60; `verify --wait` and `send` right after setup wait through them,
//! for a bounded time, and lose no event past it. The simulator's clock runs as the tool's waits do
//! (`run_ticking`), so each wait is met at its documented length.

mod common;

use std::time::Duration;

use azure_sim::{LoggedRequest, SimConfig};
use common::*;
use serde_json::json;

const MINUTE: Duration = Duration::from_secs(60);

/// A simulator where a new role assignment takes `ingestion` to be honoured by Logs Ingestion and `query` by
/// the query API.
async fn world(ingestion: Duration, query: Duration) -> World {
    World::start(SimConfig {
        role_propagation_delay: ingestion,
        query_propagation_delay: query,
        ..sim_config()
    })
    .await
}

/// 403s the simulator answered on requests whose path contains `path`.
fn refused(log: &[LoggedRequest], path: &str) -> usize {
    log.iter()
        .filter(|r| r.status == 403 && r.path.contains(path))
        .count()
}

/// Lines of `text` that contain `needle`.
fn lines_with(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// When the state file says the app's Monitoring Metrics Publisher role on the DCR was assigned.
fn ingestion_role_assigned_at(w: &World) -> Option<String> {
    w.state()["role_assignments"]
        .as_array()?
        .iter()
        .find(|r| r["role"] == "MonitoringMetricsPublisher" && r["on"] == "dcr")?["assigned_at"]
        .as_str()
        .map(str::to_string)
}

fn verify(w: &World, secret: &str, extra: &[&str]) -> Vec<String> {
    let mut a = vec!["--secret-file", secret];
    a.extend_from_slice(extra);
    after(w, "verify", &a)
}

/// `n` events as JSON lines, each padded to about `pad` bytes, in a file; its path.
fn events(w: &World, n: usize, pad: usize) -> String {
    let path = w.dir.path().join(format!("events-{n}.jsonl"));
    let lines: Vec<String> = (0..n)
        .map(|i| {
            json!({ "audit_event": "login", "timestamp": "2025-01-23T01:31:11.123Z", "data": { "seq": i, "pad": "x".repeat(pad) } })
                .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).expect("events written");
    path.display().to_string()
}

fn send(w: &World, secret: &str, input: &str, failed: &std::path::Path) -> Vec<String> {
    after(
        w,
        "send",
        &[
            "--secret-file",
            secret,
            "--output",
            "json",
            "--concurrency",
            "2",
            "--failed-file",
            &failed.display().to_string(),
            input,
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_wait_waits_through_half_an_hour_of_ingestion_403s_and_an_hour_of_query_403s() {
    // Azure's documented worst cases: 30 minutes for ingestion, 60 for the query API.
    let w = world(30 * MINUTE, 60 * MINUTE).await;
    let (secret, _) = w.set_up_then(Duration::from_secs(1)).await;
    let o = run_ticking(&w, &verify(&w, &secret, &["--wait"])).await;
    assert_ok(&o);
    let log = w.sim.request_log();
    assert!(refused(&log, "/streams/") >= 2, "ingestion refused first");
    assert!(refused(&log, "/query") >= 2, "the query API refused first");
    let err = stderr(&o);
    // Said once each, with what it waits for, how long Azure may take, and how long it will wait.
    assert_eq!(lines_with(&err, "up to 30 minutes"), 1, "{err}");
    assert_eq!(lines_with(&err, "up to 60 minutes"), 1, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("up to 30 minutes") && l.contains("Monitoring Metrics Publisher")),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("up to 60 minutes") && l.contains("Log Analytics Contributor")),
        "{err}"
    );
    assert!(err.contains("75 min"), "the default --timeout: {err}");
    assert!(err.contains("events arrived"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_wait_still_stops_at_its_timeout_counted_as_azure_counts_time() {
    // A role that takes two hours, on ingestion then on the query API: verify --wait --timeout 900 gives up after
    // 15 (simulated) minutes, not later, naming the link and the limit.
    for (ingestion, query, stage, path) in [
        (120 * MINUTE, Duration::ZERO, "post", "/streams/"),
        (Duration::ZERO, 120 * MINUTE, "query", "/query"),
    ] {
        let w = world(ingestion, query).await;
        let (secret, _) = w.set_up_then(Duration::from_secs(1)).await;
        let o = run_ticking(&w, &verify(&w, &secret, &["--wait", "--timeout", "900"])).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(refused(&w.sim.request_log(), path) >= 2, "{err}");
        assert!(
            err.contains(&format!("verify failed at '{stage}'"))
                && err.contains("403")
                && err.contains("15 min"),
            "{err}"
        );
        assert!(err.contains("--timeout"), "the hint names the limit: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn send_right_after_setup_waits_through_the_403_and_sends_everything() {
    let w = world(20 * MINUTE, Duration::ZERO).await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    // About three requests of 1 MB.
    let n = 30;
    let input = events(&w, n, 100_000);
    let failed = w.dir.path().join("failed.jsonl");
    let o = run_ticking(&w, &send(&w, &secret, &input, &failed)).await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(
        (v["sent"].as_u64(), v["failed"].as_u64()),
        (Some(n as u64), Some(0)),
        "{v}"
    );
    assert_eq!(w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL").len(), n);
    assert!(refused(&w.sim.request_log(), "/streams/") >= 1);
    assert!(v["forbidden_retries"].as_u64() >= Some(1), "{v}");
    // Setup wrote down when it assigned the role.
    let assigned_at = ingestion_role_assigned_at(&w).expect("assigned_at recorded");
    let err = stderr(&o);
    assert_eq!(lines_with(&err, "up to 30 minutes"), 1, "said once: {err}");
    assert!(
        err.contains(&assigned_at),
        "names the assignment's time: {err}"
    );
    // A re-run of setup keeps the time of the assignment it made.
    assert_ok(&w.setup(&["--output", "json"]).await);
    assert_eq!(ingestion_role_assigned_at(&w), Some(assigned_at));
}

#[tokio::test(flavor = "multi_thread")]
async fn send_past_the_bound_stops_and_every_event_is_in_the_failed_file() {
    // The role never takes effect; it was assigned 58 minutes ago, so send waits two more minutes at most.
    let w = world(180 * MINUTE, Duration::ZERO).await;
    let (secret, _) = w.set_up_then(Duration::from_secs(1)).await;
    set_ingestion_role_assigned(&w, Some(58 * MINUTE));
    let n = 30;
    let input = events(&w, n, 100_000);
    let failed = w.dir.path().join("failed.jsonl");
    let o = run_ticking(&w, &send(&w, &secret, &input, &failed)).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let v = json_out(&o);
    assert_eq!(
        (v["sent"].as_u64(), v["failed"].as_u64(), v["lost"].as_u64()),
        (Some(0), Some(n as u64), Some(0)),
        "{v}"
    );
    let mut kept: Vec<u64> = std::fs::read_to_string(&failed)
        .expect("failed file")
        .lines()
        .map(|l| {
            let e: serde_json::Value = serde_json::from_str(l).expect("an event");
            e["data"]["seq"].as_u64().expect("seq")
        })
        .collect();
    kept.sort_unstable();
    assert_eq!(
        kept,
        (0..n as u64).collect::<Vec<_>>(),
        "every event is in --failed-file, once"
    );
    assert!(
        refused(&w.sim.request_log(), "/streams/") >= 3,
        "it retried before giving up"
    );
    assert!(
        err.contains("an hour") && err.contains(&failed.display().to_string()),
        "says why it stopped and where the events are: {err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_on_an_assignment_older_than_an_hour_or_of_unknown_age_stops_at_once() {
    let w = world(180 * MINUTE, Duration::ZERO).await;
    let (secret, _) = w.set_up_then(Duration::from_secs(1)).await;
    let input = events(&w, 10, 10);
    let failed = w.dir.path().join("failed.jsonl");
    for (ago, why) in [
        (Some(120 * MINUTE), "more than an hour ago"),
        (None, "not recorded"),
    ] {
        set_ingestion_role_assigned(&w, ago);
        let before = refused(&w.sim.request_log(), "/streams/");
        let o = run_ticking(&w, &send(&w, &secret, &input, &failed)).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert_eq!(
            refused(&w.sim.request_log(), "/streams/") - before,
            1,
            "one request, no retry: {err}"
        );
        assert_eq!(json_out(&o)["failed"].as_u64(), Some(10));
        assert!(
            err.contains(why) && err.contains("Monitoring Metrics Publisher"),
            "says why it did not wait: {err}"
        );
        let kept = std::fs::read_to_string(&failed).expect("failed file");
        assert_eq!(kept.lines().count(), 10);
    }
}
