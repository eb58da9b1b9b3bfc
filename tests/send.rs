//! End-to-end tests of `keeper-azmon send` against azure-sim: round trip, batching at 1 MB, gzip, 429, malformed input, 403.

mod common;

use std::io::Write;
use std::time::Duration;

use azure_sim::{Fault, FaultKind, SimConfig};
use common::*;
use serde_json::{json, Value};

fn send_args(w: &World, secret: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "send",
        "--cloud",
        &w.profile.display().to_string(),
        "--state",
        &w.state_path().display().to_string(),
        "--secret-file",
        secret,
        "--output",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn event(i: usize, pad: usize) -> Value {
    json!({
        "audit_event": format!("event_{i}"),
        "remote_address": "10.15.12.192",
        "category": "security",
        "client_version": "EMConsole.17.0.0",
        "username": "email@company.com",
        "enterprise_id": 1234,
        "timestamp": "2025-01-23T01:31:11.123Z",
        "data": { "node_id": "abc12345", "seq": i, "pad": "x".repeat(pad) }
    })
}

/// Writes events 0..n (each padded by `pad` bytes) as JSON lines, and returns the file's path as an argument.
fn jsonl(w: &World, n: usize, pad: usize) -> String {
    let input = w.dir.path().join(format!("events-{n}-{pad}.jsonl"));
    let text: Vec<String> = (0..n).map(|i| event(i, pad).to_string()).collect();
    std::fs::write(&input, text.join("\n")).expect("write");
    input.display().to_string()
}

/// The ingestion requests azure-sim has seen, in order.
fn ingestion_posts(w: &World) -> Vec<azure_sim::LoggedRequest> {
    w.sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/streams/"))
        .collect()
}

/// The `data.seq` of every row in the table, in the order stored.
fn stored_seqs(w: &World, ws: &str) -> Vec<u64> {
    w.sim
        .snapshot()
        .table_rows(ws, "KeeperLogs_CL")
        .iter()
        .filter_map(|r| r["data"]["seq"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_sent_is_in_the_table_once_with_its_fields() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    let input = w.dir.path().join("events.jsonl");
    let mut f = std::fs::File::create(&input).expect("create");
    for i in 0..5000 {
        writeln!(f, "{}", event(i, 10)).expect("write");
    }
    drop(f);
    let o = w
        .run(&send_args(&w, &secret, &[&input.display().to_string()]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["sent"], 5000);
    assert_eq!(v["failed"], 0);
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 5000);
    let mut seen: Vec<u64> = rows
        .iter()
        .filter_map(|r| r["data"]["seq"].as_u64())
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..5000).collect::<Vec<u64>>(),
        "each event exactly once"
    );
    let r0 = rows.iter().find(|r| r["data"]["seq"] == 0).expect("row 0");
    assert_eq!(r0["audit_event"], "event_0");
    assert_eq!(r0["enterprise_id"], 1234);
    // The tool sets TimeGenerated from timestamp (src/events.rs tests); Azure restamps one this old.
    assert_restamped(r0);
    assert_eq!(r0["timestamp"], "2025-01-23T01:31:11.123Z");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_stay_under_one_megabyte_and_travel_gzipped() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    // A JSON array of events of ~100 KB each: ten of them are about 1 MB, so batches must be cut.
    let input = w.dir.path().join("events.json");
    let events: Vec<Value> = (0..35).map(|i| event(i, 100_000)).collect();
    std::fs::write(&input, serde_json::to_vec(&events).expect("json")).expect("write");
    let o = w
        .run(&send_args(&w, &secret, &[&input.display().to_string()]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["sent"], 35);
    assert!(
        v["requests"].as_u64().expect("requests") >= 4,
        "35 x 100 KB needs at least 4 requests: {v}"
    );
    let posts = ingestion_posts(&w);
    assert!(
        posts.iter().all(|r| r.status == 204),
        "no request over the limit: {posts:?}"
    );
    assert_eq!(w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL").len(), 35);
    assert!(
        w.sim.snapshot().ingestion_gzip_requests() >= 4,
        "requests were gzip-compressed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_without_duplicates() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    w.sim.inject(
        Fault::status("POST", "/streams/", 3, 429, "TooManyRequests")
            .after(1)
            .retry_after(1),
    );
    let input = w.dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..3000).map(|i| event(i, 400).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).expect("write");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &["--concurrency", "2", &input.display().to_string()],
        ))
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["sent"], 3000);
    assert_eq!(
        w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL").len(),
        3000,
        "no duplicates after 429"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_lines_are_reported_with_their_line_number_and_counted() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        format!("{}\n{{broken\n{}\n[1,2]\n", event(1, 1), event(2, 1)),
    )
    .expect("write");
    let o = w
        .run(&send_args(&w, &secret, &[&input.display().to_string()]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(
        (v["sent"].as_u64(), v["skipped"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(
        stderr(&o).contains("line 2") && stderr(&o).contains("line 4"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL").len(), 2);

    let o = w
        .run(&send_args(
            &w,
            &secret,
            &["--on-error", "fail", &input.display().to_string()],
        ))
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"));
}

// A 403 on a role assigned more than an hour ago is not Azure still propagating it: the run stops at once (a new
// role's 403s are waited through: tests/permissions.rs).
#[tokio::test(flavor = "multi_thread")]
async fn forbidden_stops_with_the_role_hint_and_counts_the_events_as_failed() {
    let w = World::start(SimConfig {
        role_propagation_delay: Duration::from_secs(3 * 3600),
        ..sim_config()
    })
    .await;
    let (secret, _) = w.set_up_then(Duration::from_secs(1)).await;
    set_ingestion_role_assigned(&w, Some(Duration::from_secs(2 * 3600)));
    let input = jsonl(&w, 10, 1);
    let o = w.run(&send_args(&w, &secret, &[&input])).await;
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("Monitoring Metrics Publisher") && err.contains("minutes"),
        "{err}"
    );
    let v = json_out(&o);
    assert_eq!(
        (v["sent"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(10)),
        "{v}"
    );
}

/// One event, serialized with `TimeGenerated` (so `send` passes it on byte for byte), of exactly `len` bytes.
fn event_of_len(i: usize, len: usize) -> String {
    let mut e = event(i, 0);
    e["TimeGenerated"] = json!("2025-01-23T01:31:11.123Z");
    let base = e.to_string().len();
    assert!(len >= base, "{len} < {base}");
    e["data"]["pad"] = json!("x".repeat(len - base));
    let s = e.to_string();
    assert_eq!(s.len(), len);
    s
}

#[tokio::test(flavor = "multi_thread")]
async fn the_one_megabyte_limit_is_met_exactly_and_an_event_over_it_is_kept_not_sent() {
    const MAX: usize = 1_048_576;
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    // [a,b] fills a request to the byte ('[' a ',' b ']'), so does [c]; d is one byte too many for any request.
    let (a, b) = ((MAX - 3) / 2, MAX - 3 - (MAX - 3) / 2);
    let lines = [
        event_of_len(0, a),
        event_of_len(1, b),
        event_of_len(2, MAX - 2),
        event_of_len(3, MAX - 1),
        event_of_len(4, 300),
    ];
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(&input, lines.join("\n")).expect("write");
    let failed = w.dir.path().join("failed.jsonl");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--concurrency",
                "1",
                "--failed-file",
                &failed.display().to_string(),
                &input.display().to_string(),
            ],
        ))
        .await;
    assert!(
        !o.status.success(),
        "an event was not sent: the run says so"
    );
    assert!(stderr(&o).contains("line 4"), "{}", stderr(&o));
    let v = json_out(&o);
    assert_eq!(
        (v["sent"].as_u64(), v["failed"].as_u64()),
        (Some(4), Some(1)),
        "{v}"
    );
    let posts = ingestion_posts(&w);
    assert_eq!(posts.len(), 3, "[a,b], [c], [e]: {posts:?}");
    assert!(posts.iter().all(|r| r.status == 204), "{posts:?}");
    let seqs = stored_seqs(&w, &ws);
    assert_eq!(seqs, vec![0, 1, 2, 4]);
    let kept = std::fs::read_to_string(&failed).expect("failed file");
    assert_eq!(
        kept.trim_end(),
        lines[3],
        "the refused event is kept whole to send again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_413_splits_the_batch_until_it_fits_and_nothing_is_lost_or_doubled() {
    // A service whose limit is a fifth of the documented one: every 1 MB batch is refused and must be split.
    let w = World::start(SimConfig {
        ingest_limit_bytes: 200_000,
        ..sim_config()
    })
    .await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    let input = jsonl(&w, 3000, 600);
    let o = w.run(&send_args(&w, &secret, &[&input])).await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["sent"], 3000);
    let statuses: Vec<u16> = ingestion_posts(&w).iter().map(|r| r.status).collect();
    assert!(statuses.contains(&413), "the limit was hit: {statuses:?}");
    let mut seqs = stored_seqs(&w, &ws);
    seqs.sort_unstable();
    assert_eq!(seqs, (0..3000).collect::<Vec<u64>>(), "every event once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_runs_out_mid_run_is_replaced_and_nothing_is_lost_or_doubled() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    let input = jsonl(&w, 2000, 2000);
    let before = w.sim.request_log().len();
    // The third post finds every token expired, as a long upload outliving its hour would.
    w.sim.inject(Fault {
        method: Some("POST".into()),
        path_contains: Some("/streams/".into()),
        skip: 2,
        times: 1,
        writes_only: false,
        kind: FaultKind::ExpireTokens,
    });
    let o = w
        .run(&send_args(&w, &secret, &["--concurrency", "1", &input]))
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["sent"], 2000);
    let log: Vec<_> = w.sim.request_log().into_iter().skip(before).collect();
    let posts: Vec<u16> = log
        .iter()
        .filter(|r| r.path.contains("/streams/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts.iter().filter(|s| **s == 401).count(), 1, "{posts:?}");
    assert_eq!(
        log.iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .count(),
        2,
        "one token, then one more after it was refused"
    );
    let mut seqs = stored_seqs(&w, &ws);
    seqs.sort_unstable();
    assert_eq!(seqs, (0..2000).collect::<Vec<u64>>(), "every event once");
}

/// The Commander-shaped fixtures (tests/fixtures/commander/README.md says how they follow Commander's code).
fn commander_fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/commander/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commander_export_lands_with_every_column_filled() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    // Keeper's categories as Commander lists them (`audit-report --report-type dim --columns audit_event_type
    // --format json`): fields id, name, category, syslog.
    let types = w.dir.path().join("event-types.json");
    std::fs::write(
        &types,
        json!([
            { "id": 1, "name": "login_failure", "category": "security", "syslog": "User ${username} failed to log in" },
            { "id": 2, "name": "folder_add_user", "category": "share" }
        ])
        .to_string(),
    )
    .expect("write");
    let log = commander_fixture("audit-log.json");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--format",
                "commander",
                "--enterprise-id",
                "1234",
                "--event-types",
                &types.display().to_string(),
                &log,
            ],
        ))
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["sent"], 4);
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 4);
    let exported: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&log).expect("fixture")).expect("json");
    for e in &exported {
        let row = rows
            .iter()
            .find(|r| r["audit_event"] == e["audit_event_type"])
            .unwrap_or_else(|| panic!("{} landed", e["audit_event_type"]));
        for col in [
            "TimeGenerated",
            "audit_event",
            "remote_address",
            "category",
            "client_version",
            "username",
            "enterprise_id",
            "timestamp",
            "data",
        ] {
            assert!(
                !row[col].is_null() && row[col] != "",
                "{col} filled in {row}"
            );
        }
        assert_restamped(row);
        assert_eq!(row["timestamp"], e["timestamp"], "the event's own time");
        assert!(
            row["data"]["keeper_azmon_backfill"]
                .as_str()
                .is_some_and(|id| id.starts_with("send-")),
            "Commander events are history: {row}"
        );
        assert_eq!(row["remote_address"], e["ip_address"]);
        assert_eq!(row["client_version"], e["keeper_version"]);
        assert_eq!(row["username"], e["username"]);
        assert_eq!(row["enterprise_id"], 1234);
        assert_eq!(row["data"]["geo_location"], e["geo_location"]);
    }
    let by_event = |name: &str| {
        rows.iter()
            .find(|r| r["audit_event"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        by_event("change_master_password")["category"],
        "account",
        "built in, from Keeper's docs"
    );
    assert_eq!(
        by_event("login_failure")["category"],
        "security",
        "from --event-types"
    );
    let share = by_event("folder_add_user");
    assert_eq!(share["data"]["to_username"], "carol@example.com");
    assert_eq!(share["data"]["shared_folder_uid"], "u6Yq3fW1b2pKcX0Jv8NtQA");
    assert_eq!(share["data"]["node"], 5299989643266u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commander_report_is_recognised_without_format() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(1)).await;
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--enterprise-id",
                "1234",
                &commander_fixture("audit-report.json"),
            ],
        ))
        .await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("read as Keeper Commander events"),
        "{}",
        stderr(&o)
    );
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 3);
    let rec = rows
        .iter()
        .find(|r| r["audit_event"] == "folder_add_user")
        .expect("row");
    assert_eq!(
        rec["timestamp"], "2025-01-23T01:35:05Z",
        "created +00:00, as Z"
    );
    assert_eq!(rec["data"]["record_title"], "Payroll DB");
    assert_eq!(
        rows.iter()
            .find(|r| r["audit_event"] == "bw_record_high_risk")
            .map(|r| r["category"].clone()),
        Some(json!("breachwatch"))
    );
}
