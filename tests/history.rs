//! `import-classic` end to end against azure-sim: a classic `Keeper_CL` table filled the way Commander's
//! `audit-log --target azure-la` filled it moves into the deployment's table once, stops where live streaming
//! began, survives a kill, and splits slices the query API cannot answer whole.

mod common;

use std::time::{Duration, Instant};

use azure_sim::{Fault, FaultKind, SimCloud, SimConfig};
use common::*;
use serde_json::{json, Value};

/// Event `i` as Commander's `audit-log --target azure-la` posted it (aram.py
/// `AuditLogAzureLogAnalyticsExport.convert_event`: the raw row without `id` and `created`, `timestamp` in
/// seconds), at `start` + `i` × `every` seconds.
fn commander_event(i: usize, start: i64, every: i64) -> Value {
    let t = time::OffsetDateTime::from_unix_timestamp(start + i as i64 * every).expect("time");
    let kind = [
        "login",
        "record_update",
        "change_master_password",
        "folder_add_user",
    ][i % 4];
    json!({
        "audit_event_type": kind,
        "username": format!("user{}@example.com", i % 7),
        "ip_address": format!("10.0.{}.{}", i / 250, i % 250),
        "keeper_version": "Web Vault 17.2.1",
        "geo_location": "Dublin, Leinster, IE",
        "node": 5_299_989_643_266u64,
        "record_uid": format!("R{i:06}"),
        "timestamp": t.format(&time::format_description::well_known::Rfc3339).expect("fmt"),
    })
}

/// 2025-01-01T00:00:00Z
const JAN_1: i64 = 1_735_689_600;

fn import_args(w: &World, secret: &str, extra: &[&str]) -> Vec<String> {
    app_args(
        w,
        "import-classic",
        secret,
        &[&["--output", "json"], extra].concat(),
    )
}

/// `cmd` for the deployment as its app (`--secret-file`), Keeper's enterprise id 1234, then `extra`.
fn app_args(w: &World, cmd: &str, secret: &str, extra: &[&str]) -> Vec<String> {
    let app = ["--secret-file", secret, "--enterprise-id", "1234"];
    w.command_args(cmd, &[&app[..], extra].concat())
}

/// `data.record_uid` of every row of the deployment's table, sorted.
fn imported_uids(w: &World, ws: &str) -> Vec<String> {
    let mut v: Vec<String> = w
        .sim
        .snapshot()
        .table_rows(ws, "KeeperLogs_CL")
        .iter()
        .filter_map(|r| r["data"]["record_uid"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

fn uids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("R{i:06}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_classic_row_moves_once_and_the_import_stops_where_live_streaming_began() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    // 300 events, one an hour from 2025-01-01: the history Commander wrote to Keeper_CL.
    let history: Vec<Value> = (0..300).map(|i| commander_event(i, JAN_1, 3600)).collect();
    assert_eq!(
        w.sim.post_data_collector(&ws, "Keeper", &history),
        "Keeper_CL"
    );
    // Keeper's live stream began at event 200's time (2025-01-09T08:00:00Z): it sent 200.. itself.
    let live = w.dir.path().join("live.jsonl");
    let lines: Vec<String> = history[200..]
        .iter()
        .map(|e| {
            json!({ "audit_event": e["audit_event_type"], "username": e["username"], "timestamp": e["timestamp"], "data": { "record_uid": e["record_uid"], "live": true } }).to_string()
        })
        .collect();
    std::fs::write(&live, lines.join("\n")).expect("write");
    let o = w
        .run(&[
            "send".into(),
            "--state".into(),
            w.state_path().display().to_string(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--secret-file".into(),
            secret.clone(),
            "--output".into(),
            "json".into(),
            live.display().to_string(),
        ])
        .await;
    assert_ok(&o);

    let o = w.run(&import_args(&w, &secret, &[])).await;
    assert_ok(&o);
    let s = json_out(&o);
    assert_eq!(s["imported"], 200, "{s}");
    assert_eq!(s["until_live_stream"], true);
    assert_eq!(s["since"], "2025-01-01T00:00:00Z");
    assert_eq!(s["until"], "2025-01-09T08:00:00Z");
    assert_eq!(
        imported_uids(&w, &ws),
        uids(0..300),
        "every event once: 0..200 imported, 200.. live"
    );

    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    let r = rows
        .iter()
        .find(|r| r["data"]["record_uid"] == "R000002")
        .expect("row");
    assert_eq!(r["audit_event"], "change_master_password");
    // Older than two days: Azure stamps TimeGenerated with the import's time; the event's own stays in timestamp,
    // and the row says it is history.
    assert_restamped(r);
    assert_eq!(
        r["timestamp"], "2025-01-01T02:00:00Z",
        "the event's own time"
    );
    assert!(
        r["data"]["keeper_azmon_backfill"]
            .as_str()
            .is_some_and(|id| id.starts_with("import-")),
        "{r}"
    );
    assert_eq!(r["remote_address"], "10.0.0.2");
    assert_eq!(r["client_version"], "Web Vault 17.2.1");
    assert_eq!(r["username"], "user2@example.com");
    assert_eq!(r["enterprise_id"], 1234);
    assert_eq!(r["category"], "account");
    assert_eq!(
        r["data"]["node"], 5_299_989_643_266u64,
        "node_d is an id again"
    );
    assert_eq!(r["data"]["geo_location"], "Dublin, Leinster, IE");
    assert!(
        r["data"].get("TenantId").is_none(),
        "Azure's columns stay behind"
    );

    // Run again: the import is complete; nothing is sent twice.
    let o = w.run(&import_args(&w, &secret, &[])).await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["imported"], 200);
    assert_eq!(imported_uids(&w, &ws), uids(0..300));
}

/// Starts the import, waits until azure-sim holds an ingestion request it applied, and kills the process there.
async fn run_and_kill(w: &World, args: &[String]) {
    let mut child = tool_command(w.dir.path(), &w.sim, args)
        .stdout(std::process::Stdio::piped()) // a secret shown on /dev/null is refused
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.hanging() == 0 {
        assert!(
            child.try_wait().ok().flatten().is_none(),
            "the import ended before the request to kill it at"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "never reached");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_killed_mid_slice_resumes_without_a_duplicate_or_a_gap() {
    for kill_at in [0, 3] {
        let w = World::public().await;
        let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
        let history: Vec<Value> = (0..240).map(|i| commander_event(i, JAN_1, 3600)).collect();
        w.sim.post_data_collector(&ws, "Keeper", &history);
        // The ingestion request `kill_at` is applied, its answer never comes: the run dies not knowing.
        w.sim.inject(Fault {
            method: Some("POST".into()),
            path_contains: Some("/streams/".into()),
            skip: kill_at,
            times: 1,
            writes_only: false,
            kind: FaultKind::ApplyThenHang,
        });
        run_and_kill(&w, &import_args(&w, &secret, &["--until", "2025-01-11"])).await;
        w.sim.clear_faults();
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
                .expect("json");
        assert!(
            !state["imports"]["Keeper_CL"]["slice"].is_null(),
            "killed with a slice in flight: {}",
            state["imports"]
        );
        let o = w.run(&import_args(&w, &secret, &[])).await;
        assert_ok(&o);
        let s = json_out(&o);
        assert_eq!(s["resumed"], true);
        assert!(
            s["already_there"].as_u64() > Some(0),
            "the applied request's events are not sent again: {s}"
        );
        assert_eq!(
            imported_uids(&w, &ws),
            uids(0..240),
            "killed at request {kill_at}: every event once"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slice_the_query_api_cannot_answer_whole_is_split() {
    // A query answers at most 50 rows here (500,000 in Azure).
    let w = World::start(SimConfig {
        cloud: SimCloud::Public,
        query_row_limit: 50,
        ..SimConfig::default()
    })
    .await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    // 400 events in one day, a burst of 200 of them within ten minutes.
    let mut history: Vec<Value> = (0..200).map(|i| commander_event(i, JAN_1, 400)).collect();
    history.extend((200..400).map(|i| commander_event(i, JAN_1 + 40_000, 3)));
    w.sim.post_data_collector(&ws, "Keeper", &history);
    let o = w
        .run(&import_args(
            &w,
            &secret,
            &["--since", "2025-01-01", "--until", "2025-01-02"],
        ))
        .await;
    assert_ok(&o);
    let s = json_out(&o);
    assert_eq!(s["imported"], 400, "{s}");
    assert!(
        s["slices"].as_u64() >= Some(8),
        "400 rows at most 50 a query: {s}"
    );
    assert_eq!(s["until_live_stream"], false, "--until overrides");
    assert_eq!(imported_uids(&w, &ws), uids(0..400), "every event once");
    // No query was answered cut and then sent: each read held whole slices.
    let over = w
        .sim
        .request_log()
        .iter()
        .filter(|r| r.path.contains("/query"))
        .count();
    assert!(over > s["slices"].as_u64().unwrap_or(0) as usize);

    // Counting narrows a slice to the --slice-rows asked for, before any read is cut.
    let w2 = World::public().await;
    let (secret2, ws2) = w2.set_up_then(Duration::from_secs(60)).await;
    w2.sim.post_data_collector(&ws2, "Keeper", &history);
    let o = w2
        .run(&import_args(
            &w2,
            &secret2,
            &["--until", "2025-01-02", "--slice-rows", "30"],
        ))
        .await;
    assert_ok(&o);
    let s = json_out(&o);
    assert_eq!(s["imported"], 400);
    assert!(s["slices"].as_u64() >= Some(14), "{s}");
    assert_eq!(imported_uids(&w2, &ws2), uids(0..400));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_import_keeps_its_range_unless_restarted() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let history: Vec<Value> = (0..20).map(|i| commander_event(i, JAN_1, 3600)).collect();
    w.sim.post_data_collector(&ws, "Keeper", &history);
    assert_ok(
        &w.run(&import_args(
            &w,
            &secret,
            &["--until", "2025-01-01T10:00:00Z"],
        ))
        .await,
    );
    assert_eq!(imported_uids(&w, &ws), uids(0..10));
    let o = w
        .run(&import_args(&w, &secret, &["--until", "2025-01-02"]))
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    let o = w
        .run(&import_args(
            &w,
            &secret,
            &[
                "--since",
                "2025-01-01T10:00:00Z",
                "--until",
                "2025-01-02",
                "--restart",
            ],
        ))
        .await;
    assert_ok(&o);
    assert_eq!(imported_uids(&w, &ws), uids(0..20));
}

/// `send` arguments for the deployment, with `extra` after them.
fn send_args(w: &World, secret: &str, extra: &[&str]) -> Vec<String> {
    app_args(w, "send", secret, extra)
}

/// Keeper's live stream of `history[from..]`, in the guide's shape, sent with plain `send`.
async fn stream_live(w: &World, secret: &str, history: &[Value], from: usize) {
    let live = w.dir.path().join("live.jsonl");
    let lines: Vec<String> = history[from..]
        .iter()
        .map(|e| {
            json!({ "audit_event": e["audit_event_type"], "username": e["username"], "timestamp": e["timestamp"], "data": { "record_uid": e["record_uid"], "live": true } }).to_string()
        })
        .collect();
    std::fs::write(&live, lines.join("\n")).expect("write");
    assert_ok(
        &w.run(&send_args(
            w,
            secret,
            &["--output", "json", &live.display().to_string()],
        ))
        .await,
    );
}

/// The ingestion requests and queries azure-sim has seen.
fn posts_and_queries(w: &World) -> (usize, usize) {
    let log = w.sim.request_log();
    (
        log.iter().filter(|r| r.path.contains("/streams/")).count(),
        log.iter().filter(|r| r.path.contains("/query")).count(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commander_export_is_sent_only_up_to_where_live_streaming_began() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    // 300 events, one an hour from 2025-01-01; Keeper streamed 200.. live (from 2025-01-09T08:00:00Z).
    let history: Vec<Value> = (0..300).map(|i| commander_event(i, JAN_1, 3600)).collect();
    stream_live(&w, &secret, &history, 200).await;
    let export = w.dir.path().join("audit-log.json");
    std::fs::write(&export, Value::Array(history).to_string()).expect("write");
    let (_, queries_before) = posts_and_queries(&w);

    // Recognised as Commander's without --format: the one query runs before any event is read.
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &["--output", "json", &export.display().to_string()],
        ))
        .await;
    assert_ok(&o);
    let s = json_out(&o);
    assert_eq!(s["sent"], 200, "{s}");
    assert_eq!(s["already_streamed"], 100, "{s}");
    assert_eq!(s["failed"], 0);
    assert_eq!(s["until"], "2025-01-09T08:00:00Z");
    assert_eq!(s["until_live_stream"], true);
    assert_eq!(posts_and_queries(&w).1 - queries_before, 1, "one query");
    assert_eq!(
        imported_uids(&w, &ws),
        uids(0..300),
        "every event once: 0..200 from the export, 200.. live"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_read_access_send_refuses_before_any_post_and_until_needs_no_query() {
    let w = World::public().await;
    let secret_file = w.dir.path().join("secret.txt");
    let secret = secret_file.display().to_string();
    // The app may only ingest (Monitoring Metrics Publisher on the DCR): it cannot query the workspace.
    assert_ok(
        &w.setup(&[
            "--output",
            "json",
            "--secret-file",
            &secret,
            "--roles",
            "minimal",
        ])
        .await,
    );
    w.settle();
    let ws = w.state()["resources"]["workspace"]["id"]
        .as_str()
        .expect("ws")
        .to_string();
    let history: Vec<Value> = (0..300).map(|i| commander_event(i, JAN_1, 3600)).collect();
    let export = w.dir.path().join("audit-log.json");
    std::fs::write(&export, Value::Array(history.clone()).to_string()).expect("write");
    let export = export.display().to_string();

    let before = posts_and_queries(&w);
    let o = w
        .run(&send_args(&w, &secret, &["--format", "commander", &export]))
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("hint:") && err.contains("--until") && err.contains("Log Analytics Reader"),
        "{err}"
    );
    let after = posts_and_queries(&w);
    assert_eq!(after.0, before.0, "nothing was posted");
    assert_eq!(after.1, before.1 + 1, "the one query, refused");
    assert!(imported_uids(&w, &ws).is_empty());

    // --until sets the cutoff itself: no query, the events before it sent, the rest counted.
    let o = w
        .run(&send_args(&w, &secret, &["--until", "2025-01-05", &export]))
        .await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("already streamed, skipped: 204"),
        "{}",
        stderr(&o)
    );
    assert_eq!(posts_and_queries(&w).1, after.1, "no query with --until");
    assert_eq!(
        imported_uids(&w, &ws),
        uids(0..96),
        "before 2025-01-05 only"
    );

    // Plain (Keeper-shaped) events are sent as they are: no query, no cutoff.
    stream_live(&w, &secret, &history, 250).await;
    assert_eq!(
        posts_and_queries(&w).1,
        after.1,
        "no query for plain events"
    );
    assert_eq!(imported_uids(&w, &ws).len(), 96 + 50);
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &["--format", "plain", "--until", "2025-01-05", &export],
        ))
        .await;
    assert_eq!(o.status.code(), Some(2), "--until is for Commander events");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_classic_dry_run_counts_the_rows_it_would_move_and_sends_and_saves_nothing() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let history: Vec<Value> = (0..120).map(|i| commander_event(i, JAN_1, 3600)).collect();
    w.sim.post_data_collector(&ws, "Keeper", &history);
    let state_before = std::fs::read(w.state_path()).expect("state");
    let lock = w.dir.path().join("state.json.lock");
    let lock_before = lock.exists();
    let o = w.run(&import_args(&w, &secret, &["--dry-run"])).await;
    let v = json_out(&o);
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["rows"], 120, "{v}");
    assert_eq!(v["from_table"], "Keeper_CL", "{v}");
    assert_eq!(v["since"], "2025-01-01T00:00:00Z", "{v}");
    assert_eq!(v["resumed"], false, "{v}");
    assert!(imported_uids(&w, &ws).is_empty(), "nothing sent");
    assert_eq!(
        std::fs::read(w.state_path()).expect("state"),
        state_before,
        "no progress saved"
    );
    assert_eq!(lock.exists(), lock_before, "no lock taken");
    // The real import moves what the preview counted.
    let o = w.run(&import_args(&w, &secret, &[])).await;
    assert_eq!(json_out(&o)["imported"], 120);
}
