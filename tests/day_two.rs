//! Day two against azure-sim: the DCR's diagnostic setting, `--alert-email`'s action group and log alerts (fresh,
//! re-run, drift, teardown), the alert's query through the simulator's KQL engine (silence versus events),
//! `status`'s stream and exit codes, `verify --keeper`, and `rotate-secret --finish` with proof of use.

mod common;

use std::time::Duration;

use common::{assert_ok, json_out, stderr, stdout, World};
use serde_json::{json, Value};

/// A Keeper event as Keeper posts it, stamped now.
fn keeper_event(audit_event: &str) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    json!({
        "TimeGenerated": now,
        "timestamp": now,
        "audit_event": audit_event,
        "remote_address": "198.51.100.7",
        "category": "login",
        "client_version": "EMConsole.17.0.0",
        "username": "admin@example.com",
        "enterprise_id": 1234,
        "data": {}
    })
}

/// Posts `events` as Keeper would, with the app's secret in `secret_file` (through `send`).
async fn post_as_keeper(w: &World, secret_file: &str, events: &[Value]) {
    let file = w
        .dir
        .path()
        .join(format!("events-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec(events).expect("json")).expect("events file");
    let o = w
        .run(&w.command_args(
            "send",
            &[
                "--secret-file",
                secret_file,
                "--output",
                "json",
                &file.display().to_string(),
            ],
        ))
        .await;
    assert_ok(&o);
}

fn id_of(w: &World, key: &str) -> String {
    w.state()["resources"][key]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in the state"))
        .to_string()
}

fn item_health(status: &Value, item: &str) -> Option<String> {
    status["items"]
        .as_array()?
        .iter()
        .find(|i| i["item"] == item)
        .and_then(|i| i["health"].as_str().map(str::to_string))
}

/// Setup with two alert addresses (JSON output, the secret in `secret.txt`); the secret file.
async fn set_up_with_alerts(w: &World, extra: &[&str]) -> (Value, String) {
    let secret = w.dir.path().join("secret.txt").display().to_string();
    let mut args = vec![
        "--alert-email",
        "soc@example.com",
        "--alert-email",
        "ops@example.com",
        "--output",
        "json",
        "--secret-file",
        &secret,
    ];
    args.extend_from_slice(extra);
    let o = w.setup(&args).await;
    assert_ok(&o);
    w.settle();
    (json_out(&o), secret)
}

#[tokio::test]
async fn alerts_and_the_diagnostic_setting_are_made_tagged_and_a_rerun_converges() {
    let w = World::public().await;
    let (card, _) = set_up_with_alerts(&w, &[]).await;
    // The card tells the admin of the confirmation each address owes Azure.
    assert_eq!(card["alerts"]["confirm_within_minutes"], 30);
    assert_eq!(
        card["alerts"]["emails"],
        json!(["soc@example.com", "ops@example.com"])
    );
    assert_eq!(card["alerts"]["silence_hours"], 24);

    let group = w
        .sim
        .snapshot()
        .resource(&id_of(&w, "action_group"))
        .expect("the action group");
    assert_eq!(group["tags"]["keeper-azmon"], "rg-keeper");
    assert!(
        group["properties"]["groupShortName"]
            .as_str()
            .expect("short name")
            .len()
            <= 12
    );
    let mails: Vec<&str> = group["properties"]["emailReceivers"]
        .as_array()
        .expect("receivers")
        .iter()
        .filter_map(|r| r["emailAddress"].as_str())
        .collect();
    assert_eq!(mails, ["soc@example.com", "ops@example.com"]);

    let stopped = w
        .sim
        .snapshot()
        .resource(&id_of(&w, "log_alert:events-stopped"))
        .expect("the silence rule");
    let refused = w
        .sim
        .snapshot()
        .resource(&id_of(&w, "log_alert:posts-refused"))
        .expect("the refusal rule");
    for rule in [&stopped, &refused] {
        assert_eq!(rule["tags"]["keeper-azmon"], "rg-keeper");
        assert_eq!(rule["kind"], "LogAlert");
        let groups = rule["properties"]["actions"]["actionGroups"]
            .to_string()
            .to_ascii_lowercase();
        assert!(groups.contains(&id_of(&w, "action_group").to_ascii_lowercase()));
        assert!(rule["properties"]["criteria"]["allOf"][0]
            .get("metricMeasureColumn")
            .is_none());
    }
    let q = stopped["properties"]["criteria"]["allOf"][0]["query"]
        .as_str()
        .expect("query");
    assert!(
        q.contains("keeper_azmon_verify") && q.contains("keeper_azmon_backfill"),
        "{q}"
    );
    assert_eq!(
        stopped["properties"]["criteria"]["allOf"][0]["operator"],
        "LessThan"
    );
    assert_eq!(refused["properties"]["skipQueryValidation"], true);
    assert!(stopped["properties"].get("skipQueryValidation").is_none());

    let diag = w
        .sim
        .snapshot()
        .resource(&id_of(&w, "diagnostic_setting"))
        .expect("the DCR's diagnostic setting");
    assert_eq!(
        diag["properties"]["workspaceId"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some(id_of(&w, "workspace").to_ascii_lowercase())
    );
    assert_eq!(diag["properties"]["logs"][0]["category"], "LogErrors");

    // The same inputs again: nothing to do, nothing written.
    let writes = w.sim.write_count();
    let o = w
        .setup(&[
            "--alert-email",
            "soc@example.com,ops@example.com",
            "--output",
            "json",
        ])
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["changed"], false, "{}", stdout(&o));
    assert_eq!(w.sim.write_count(), writes);

    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    for item in [
        "diagnostic_setting",
        "action_group",
        "log_alert:events-stopped",
        "log_alert:posts-refused",
    ] {
        assert_eq!(item_health(&v, item).as_deref(), Some("ok"), "{item}: {v}");
    }
}

#[tokio::test]
async fn a_silence_window_out_of_range_or_a_bad_address_is_refused_before_any_write() {
    let w = World::public().await;
    for extra in [
        &[
            "--alert-email",
            "soc@example.com",
            "--alert-silence-hours",
            "49",
        ][..],
        &[
            "--alert-email",
            "soc@example.com",
            "--alert-silence-hours",
            "0",
        ][..],
        &["--alert-silence-hours", "12"][..],
        &["--alert-email", "not-an-address"][..],
        &["--alert-email", "soc@example"][..],
    ] {
        let o = w.setup(extra).await;
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert_eq!(w.sim.write_count(), 0, "{extra:?} wrote");
    }
}

#[tokio::test]
async fn drift_in_an_alert_is_seen_by_status_and_repaired_by_a_rerun_with_its_delta() {
    let w = World::public().await;
    set_up_with_alerts(&w, &[]).await;
    let rule = id_of(&w, "log_alert:events-stopped");
    w.sim
        .snapshot()
        .patch_resource(&rule, json!({ "properties": { "enabled": false } }));
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert_eq!(
        item_health(&json_out(&o), "log_alert:events-stopped").as_deref(),
        Some("drifted")
    );

    let o = w
        .setup(&[
            "--alert-email",
            "soc@example.com,ops@example.com",
            "--output",
            "json",
        ])
        .await;
    assert_ok(&o);
    let plan = json_out(&o)["plan"].clone();
    let step = plan
        .as_array()
        .and_then(|p| p.iter().find(|s| s["step"] == "log_alert:events-stopped"))
        .expect("the rule's step")
        .clone();
    assert_eq!(step["action"], "update");
    assert_eq!(step["delta"][0]["field"], "enabled", "{step}");
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_ok(&o);

    // An address the group no longer mails is drifted too; so is the diagnostic setting gone.
    w.sim
        .snapshot()
        .delete_resource(&id_of(&w, "diagnostic_setting"));
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(
        item_health(&json_out(&o), "diagnostic_setting").as_deref(),
        Some("missing")
    );
}

#[tokio::test]
async fn teardown_removes_the_alerts_the_group_and_the_diagnostic_setting() {
    let w = World::public().await;
    set_up_with_alerts(&w, &[]).await;
    let made: Vec<String> = [
        "log_alert:events-stopped",
        "log_alert:posts-refused",
        "action_group",
        "diagnostic_setting",
    ]
    .iter()
    .map(|k| id_of(&w, k))
    .collect();
    let o = w
        .run(&w.command_args("teardown", &["--yes", "--output", "json"]))
        .await;
    assert_ok(&o);
    for id in &made {
        assert!(
            w.sim.snapshot().resource(id).is_none(),
            "{id} is left after teardown"
        );
    }
    let deleted: Vec<String> = json_out(&o)["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .filter_map(|d| d["step"].as_str().map(str::to_string))
        .collect();
    let at = |k: &str| {
        deleted
            .iter()
            .position(|d| d == k)
            .unwrap_or_else(|| panic!("{k} deleted: {deleted:?}"))
    };
    // The diagnostic setting outlives its DCR in Azure: it goes first.
    assert!(at("diagnostic_setting") < at("dcr"));
    assert!(at("log_alert:events-stopped") < at("action_group"));
}

#[tokio::test]
async fn the_silence_alert_fires_on_test_events_alone_and_not_after_one_real_event() {
    let w = World::public().await;
    let (_, secret) = set_up_with_alerts(&w, &["--alert-silence-hours", "6"]).await;
    let rule = id_of(&w, "log_alert:events-stopped");
    let eval = || w.sim.evaluate_log_alert(&rule).expect("the rule evaluates");
    assert!(eval().fired, "an empty table is silence");

    // verify's test events are not Keeper's.
    let o = w
        .run(&w.command_args(
            "verify",
            &["--secret-file", &secret, "--wait", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    let e = eval();
    assert!(
        e.fired,
        "test events alone must not silence the alert: {e:?}"
    );

    post_as_keeper(&w, &secret, &[keeper_event("login")]).await;
    let e = eval();
    assert!(!e.fired, "one real event ends the silence: {e:?}");

    // Seven hours on, that event is outside the window: silence again.
    w.sim.advance_clock(Duration::from_secs(7 * 3600));
    assert!(eval().fired);
}

#[tokio::test]
async fn status_reports_the_stream_and_exits_five_when_keeper_is_silent_too_long() {
    let w = World::public().await;
    let (_, secret) = set_up_with_alerts(&w, &["--alert-silence-hours", "2"]).await;
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_ok(&o);
    let st = json_out(&o)["stream"].clone();
    assert_eq!(st["last_event"], Value::Null);
    assert_eq!(st["events_24h"], 0);
    assert_eq!(
        st["errors_24h"], 0,
        "the diagnostic setting is there: errors are counted"
    );
    let o = w.run(&w.command_args("status", &[])).await;
    assert!(
        stdout(&o).contains("no event from Keeper yet"),
        "{}",
        stdout(&o)
    );

    w.run(&w.command_args("verify", &["--secret-file", &secret, "--wait"]))
        .await;
    post_as_keeper(
        &w,
        &secret,
        &[keeper_event("login"), keeper_event("record_add")],
    )
    .await;
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_ok(&o);
    let st = json_out(&o)["stream"].clone();
    assert!(st["last_event"].is_string(), "{st}");
    assert_eq!(st["events_24h"], 2, "test events are not counted: {st}");
    let o = w.run(&w.command_args("status", &[])).await;
    assert!(stdout(&o).contains("Keeper: last event"), "{}", stdout(&o));
    assert!(stdout(&o).contains("2 in 24 h"), "{}", stdout(&o));

    // Three hours of silence against a two-hour window: needs attention (exit 5), still healthy.
    w.sim.advance_clock(Duration::from_secs(3 * 3600));
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(5), "{}\n{}", stdout(&o), stderr(&o));
    let v = json_out(&o);
    assert_eq!(v["healthy"], true);
    assert_eq!(
        v["stream"]["attention"].as_array().map(Vec::len),
        Some(1),
        "{v}"
    );
}

#[tokio::test]
async fn verify_keeper_finds_keepers_newest_event_or_says_what_to_check() {
    let w = World::public().await;
    let (_, secret) = set_up_with_alerts(&w, &[]).await;
    let o = w
        .run(&w.command_args("verify", &["--keeper", "--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert_eq!(json_out(&o)["found"], false);
    assert!(
        stderr(&o).contains("Admin Console") && stderr(&o).contains("30 minutes"),
        "{}",
        stderr(&o)
    );

    // verify's own test events are not Keeper's.
    w.run(&w.command_args("verify", &["--secret-file", &secret, "--wait"]))
        .await;
    let o = w
        .run(&w.command_args("verify", &["--keeper", "--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(6));

    post_as_keeper(&w, &secret, &[keeper_event("login")]).await;
    let o = w
        .run(&w.command_args("verify", &["--keeper", "--wait", "--output", "json"]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["found"], true);
    assert_eq!(v["keeper_event"]["audit_event"], "login");
}

#[tokio::test]
async fn rotate_finish_wants_a_sign_in_with_the_new_secret_or_force() {
    let w = World::public().await;
    let (_, old_secret) = set_up_with_alerts(&w, &[]).await;
    let new_secret = w.dir.path().join("new-secret.txt").display().to_string();
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &["--secret-file", &new_secret, "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    w.settle();
    let old_key = w.state()["retired_secrets"][0]
        .as_str()
        .expect("the old key id")
        .to_string();
    let new_key = w.state()["secret"]["key_id"]
        .as_str()
        .expect("the new key id")
        .to_string();

    // No sign-in logs in the workspace: refused, with how to get them, and the old secret kept.
    let o = w.run(&w.command_args("rotate-secret", &["--finish"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("ServicePrincipalSignInLogs") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.state()["retired_secrets"][0], old_key.as_str());

    // The logs arrive; Keeper still uses the old secret: refused, naming the key id it used.
    w.sim.export_sign_in_logs(&id_of(&w, "workspace"));
    post_as_keeper(&w, &old_secret, &[keeper_event("login")]).await;
    let o = w.run(&w.command_args("rotate-secret", &["--finish"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&old_key), "{}", stderr(&o));
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(
        json_out(&o)["stream"]["last_sign_in"]["secret"],
        "retired",
        "{}",
        stdout(&o)
    );

    // Keeper signs in with the new one: the proof, and the old secret goes.
    post_as_keeper(&w, &new_secret, &[keeper_event("login")]).await;
    let o = w
        .run(&w.command_args("rotate-secret", &["--finish", "--output", "json"]))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["proof"]["key_id"], new_key.as_str());
    assert_eq!(v["removed"], json!([old_key]));
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(json_out(&o)["stream"]["last_sign_in"]["secret"], "current");
}

#[tokio::test]
async fn rotate_finish_force_removes_the_old_secret_without_proof() {
    let w = World::public().await;
    set_up_with_alerts(&w, &[]).await;
    let new_secret = w.dir.path().join("new-secret.txt").display().to_string();
    assert_ok(
        &w.run(&w.command_args("rotate-secret", &["--secret-file", &new_secret]))
            .await,
    );
    w.settle();
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &["--finish", "--force", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["forced"], true);
    assert_eq!(v["proof"], Value::Null);
    assert_eq!(v["removed"].as_array().map(Vec::len), Some(1));
}
