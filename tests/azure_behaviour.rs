//! Azure as it behaves, round two (issue 26), end to end against azure-sim: backfilled history keeps its own time
//! while Azure restamps it, and nothing that watches Keeper's live stream takes it for live; a workspace without
//! data answers 204.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Writes `events` as one JSON array and sends them as Commander's (`send`, JSON summary).
async fn send_commander(w: &World, secret: &str, name: &str, events: &[Value]) -> Value {
    let export = w.dir.path().join(name);
    std::fs::write(&export, Value::Array(events.to_vec()).to_string()).expect("write");
    let o = w
        .run(&w.command_args(
            "send",
            &[
                "--secret-file",
                secret,
                "--enterprise-id",
                "1234",
                "--output",
                "json",
                &export.display().to_string(),
            ],
        ))
        .await;
    assert_ok(&o);
    json_out(&o)
}

/// Runs `kql` through the query API as the operator.
async fn query(w: &World, kql: &str) -> (u16, String) {
    let token = operator_token(w, "log_analytics_audience").await;
    let customer = w.state()["outputs"]["workspace_customer_id"]
        .as_str()
        .expect("customer id")
        .to_string();
    let r = http(&w.sim)
        .post(format!(
            "{}/v1/workspaces/{customer}/query",
            w.sim.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({ "query": kql }))
        .send()
        .await
        .expect("query");
    (r.status().as_u16(), r.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_without_data_answers_204_and_the_tool_reads_it_as_no_rows() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    let (status, body) = query(&w, "KeeperLogs_CL | count").await;
    assert_eq!((status, body.as_str()), (204, ""), "no data in workspace");
    // The history cut-off asks that empty workspace where Keeper's streaming began: nowhere yet.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let s = send_commander(
        &w,
        &secret,
        "a.json",
        &[commander_event(0, "login", now - 86_400 * 10)],
    )
    .await;
    assert_eq!(
        (s["sent"].as_u64(), s["until"].clone()),
        (Some(1), Value::Null),
        "{s}"
    );
    assert!(
        w.sim
            .request_log()
            .iter()
            .any(|r| r.path.contains("/query") && r.status == 204),
        "the cut-off query met the 204"
    );
    // Once a row is in, the same query answers 200, even for a table left empty.
    assert_eq!(query(&w, "KeeperLogs_CL | count").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn backfilled_history_keeps_its_own_time_and_is_never_taken_for_keepers_live_stream() {
    let w = World::public().await;
    let file = w.dir.path().join("secret.txt");
    assert_ok(
        &w.setup(&[
            "--sentinel",
            "--output",
            "json",
            "--secret-file",
            &file.display().to_string(),
        ])
        .await,
    );
    w.settle();
    let secret = file.display().to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Two backfills of history from 30 days ago, one after the other: the second is not cut off by the first.
    let first: Vec<Value> = (0..5)
        .map(|i| commander_event(i, "login_failure", now - 30 * 86_400 + i as i64))
        .collect();
    let second: Vec<Value> = (5..10)
        .map(|i| commander_event(i, "change_master_password", now - 20 * 86_400 + i as i64))
        .collect();
    let s = send_commander(&w, &secret, "first.json", &first).await;
    assert_eq!(s["sent"], 5, "{s}");
    let s = send_commander(&w, &secret, "second.json", &second).await;
    assert_eq!(
        (s["sent"].as_u64(), s["already_streamed"].as_u64()),
        (Some(5), Some(0)),
        "{s}"
    );
    assert_eq!(
        s["until"],
        Value::Null,
        "an earlier backfill is not Keeper's live stream: {s}"
    );

    let ws = w.state()["resources"]["workspace"]["id"]
        .as_str()
        .expect("ws")
        .to_string();
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 10);
    for r in &rows {
        // Azure stamped each with the time it received it; its own time is in timestamp, and it says it is history.
        assert_restamped(r);
        assert_ne!(r["timestamp"], r["TimeGenerated"], "{r}");
        assert!(
            r["data"]["keeper_azmon_backfill"]
                .as_str()
                .is_some_and(|id| id.starts_with("send-")),
            "{r}"
        );
    }

    // The rules look at the last hour's ingestion: every backfilled row is in it, and none of them counts.
    let rule: Value = serde_json::from_str(include_str!(
        "../templates/sentinel/rules/keeper-master-password-changed.json"
    ))
    .expect("rule");
    let (status, body) = query(&w, rule["query"].as_str().expect("query")).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("answer");
    assert_eq!(
        answer["tables"][0]["rows"],
        json!([]),
        "no alert on history: {answer}"
    );
    // Hunting sees them, by their own time.
    let (_, body) = query(
        &w,
        "KeeperSecurityEvents | where Timestamp < ago(7d) | count",
    )
    .await;
    let answer: Value = serde_json::from_str(&body).expect("answer");
    assert_eq!(answer["tables"][0]["rows"][0][0], 10, "{answer}");

    // A live event of Keeper's is seen by the rule.
    let live = w.dir.path().join("live.jsonl");
    let now_text = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now");
    std::fs::write(&live, json!({"audit_event": "change_master_password", "username": "a@example.com", "timestamp": now_text}).to_string()).expect("write");
    assert_ok(
        &w.run(&w.command_args(
            "send",
            &[
                "--secret-file",
                &secret,
                "--output",
                "json",
                &live.display().to_string(),
            ],
        ))
        .await,
    );
    let (_, body) = query(&w, rule["query"].as_str().expect("query")).await;
    let answer: Value = serde_json::from_str(&body).expect("answer");
    assert_eq!(
        answer["tables"][0]["rows"].as_array().map(Vec::len),
        Some(1),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_field_azure_would_drop_or_store_empty_is_reported_with_its_line_not_sent() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let lines = [
        json!({"audit_event": "login", "username": "a@example.com", "timestamp": "2026-12-01T00:00:00Z"}),
        // Not a column of the stream: Azure would drop the field and keep the event.
        json!({"audit_event": "login", "user_name": "b@example.com", "timestamp": "2026-12-01T00:00:00Z"}),
        // Not of its column's type: Azure would store the event with enterprise_id empty.
        json!({"audit_event": "login", "enterprise_id": "1234", "timestamp": "2026-12-01T00:00:00Z"}),
        json!({"audit_event": "logout", "username": "a@example.com", "timestamp": "2026-12-01T00:00:01Z"}),
    ];
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        lines
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    let args = |on_error: &str| {
        w.command_args(
            "send",
            &[
                "--secret-file",
                &secret,
                "--on-error",
                on_error,
                "--output",
                "json",
                &input.display().to_string(),
            ],
        )
    };
    let o = w.run(&args("skip")).await;
    assert_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("line 2") && err.contains("'user_name'"),
        "{err}"
    );
    assert!(
        err.contains("line 3") && err.contains("'enterprise_id'"),
        "{err}"
    );
    let s = json_out(&o);
    assert_eq!(
        (s["sent"].as_u64(), s["skipped"].as_u64()),
        (Some(2), Some(2)),
        "{s}"
    );
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 2, "only the events Azure would keep whole");
    let o = w.run(&args("fail")).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}
