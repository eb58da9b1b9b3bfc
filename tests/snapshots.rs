//! Snapshots (insta) of what a user sees, human and JSON, end to end against azure-sim: setup's plan (create,
//! reuse, update with its delta), the Admin Console card, status (healthy, drifted, expiring), teardown's plan,
//! and the main errors with their hints. Secrets, GUIDs, generated ids, times, temporary paths and ports are
//! redacted, so that a snapshot changes only when the output does.
//!
//! A changed output fails here with the difference; `cargo insta review` (or `INSTA_UPDATE=always`) accepts it.

mod common;

use std::process::Output;
use std::time::Duration;

use azure_sim::SimConfig;
use common::*;
use serde_json::Value;

/// `text` with every regex metacharacter escaped, for a filter on an exact value.
fn literal(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// The redactions every snapshot takes: this world's paths and ports, and whatever differs from run to run.
fn settings(w: &World, secrets: &[&str]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    for secret in secrets.iter().filter(|x| !x.is_empty()) {
        s.add_filter(&literal(secret), "[SECRET]");
    }
    s.add_filter(&literal(&w.dir.path().display().to_string()), "[TMP]");
    s.add_filter(&literal(&w.sim.base_url()), "[SIM]");
    for (pattern, with) in [
        // The tests' own knob, which the tool warns of on stderr.
        (r"(?m)^warning: KEEPER_AZMON_TIME_SCALE=.*\n", ""),
        // Temporary directories other than the world's (the simulator's own).
        (r"/tmp/\.tmp[A-Za-z0-9]+", "[TMP]"),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:[PORT]"),
        (
            r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            "[GUID]",
        ),
        (r"dcr-[0-9a-f]{32}", "dcr-[ID]"),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?( ?(Z|UTC|[+-]\d{2}:?\d{2}))?",
            "[TIME]",
        ),
        (r"\(-?\d+ days\)", "([N] days)"),
        (r"\d+\.\d+s\b", "[SECS]s"),
        (
            r#""(seconds|requests|writes|megabytes|events_per_second|peak_rss_mb)": [0-9.]+"#,
            r#""$1": [N]"#,
        ),
    ] {
        s.add_filter(pattern, with);
    }
    s
}

/// stdout as one JSON value, pretty (one field a line, so that a snapshot's difference names the field).
fn pretty_json(o: &Output) -> String {
    let v: Value = serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{}", stdout(o)));
    serde_json::to_string_pretty(&v).expect("JSON")
}

/// Role assignments are recorded in the order their writes finished, which runs side by side: status and
/// teardown list them in that order. Each run of consecutive role lines is put in one order here.
fn roles_sorted(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    let is_role = |l: &str| l.contains(" role:");
    let mut i = 0;
    while i < lines.len() {
        let j = (i..lines.len())
            .find(|&j| !is_role(lines[j]))
            .unwrap_or(lines.len());
        lines[i..j].sort_unstable();
        i = j.max(i + 1);
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// [`pretty_json`] with each run of consecutive role entries (`item` or `step` starting `role:`) in one order
/// (see [`roles_sorted`]).
fn pretty_json_roles_sorted(o: &Output) -> String {
    fn key(v: &Value) -> Option<String> {
        ["item", "step"]
            .iter()
            .find_map(|k| v[*k].as_str())
            .filter(|k| k.starts_with("role:"))
            .map(|_| v.to_string())
    }
    fn walk(v: &mut Value) {
        match v {
            Value::Array(a) => {
                let mut i = 0;
                while i < a.len() {
                    let j = (i..a.len())
                        .find(|&j| key(&a[j]).is_none())
                        .unwrap_or(a.len());
                    a[i..j].sort_by_key(key);
                    i = j.max(i + 1);
                }
                a.iter_mut().for_each(walk);
            }
            Value::Object(m) => m.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_str(stdout(o).trim()).expect("stdout is one JSON value");
    walk(&mut v);
    serde_json::to_string_pretty(&v).expect("JSON")
}

/// The lines of stderr that are the error and its hint (from `error:` on), without the progress above them.
fn error_text(o: &Output) -> String {
    let err = stderr(o);
    match err.find("error: ") {
        Some(i) => err[i..].to_string(),
        None => panic!("no error on stderr ({:?}):\n{err}", o.status.code()),
    }
}

/// A status run: stdout, whatever its exit code (4 when unhealthy).
async fn status(w: &World, json: bool) -> Output {
    let extra: &[&str] = if json { &["--output", "json"] } else { &[] };
    w.run(&w.command_args("status", extra)).await
}

/// The DCR changed behind the tool's back: its transformation drops every row.
fn drift_the_dcr(w: &World) {
    let dcr = w.state()["resources"]["dcr"]["id"]
        .as_str()
        .expect("the DCR's id")
        .to_string();
    w.sim.snapshot().patch_resource(
        &dcr,
        serde_json::json!({ "properties": { "dataFlows": [ {
            "streams": ["Custom-KeeperLogs_CL"], "destinations": ["keeperWorkspace"],
            "transformKql": "source | where 1 == 0", "outputStream": "Custom-KeeperLogs_CL" } ] } }),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_card_status_and_teardown_plan_of_one_deployment() {
    let w = World::public().await;

    let dry = w.setup(&["--dry-run"]).await;
    assert_ok(&dry);
    let dry_json = w.setup(&["--dry-run", "--output", "json"]).await;
    assert_ok(&dry_json);

    let o = w.setup(&[]).await;
    assert_ok(&o);
    // The card shows the value (stdout is not a terminal, so `--show-secret`): find it by its label.
    let card = stdout(&o);
    let shown = card
        .lines()
        .find_map(|l| l.trim().strip_prefix("Client Secret Value:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    w.sim.advance_clock(Duration::from_secs(1));

    let reuse = w.setup(&["--dry-run"]).await;
    assert_ok(&reuse);
    let healthy = status(&w, false).await;
    assert_ok(&healthy);
    let healthy_json = status(&w, true).await;
    assert_ok(&healthy_json);
    let teardown = w.run(&w.command_args("teardown", &["--dry-run"])).await;
    assert_ok(&teardown);
    let teardown_json = w
        .run(&w.command_args("teardown", &["--dry-run", "--output", "json"]))
        .await;
    assert_ok(&teardown_json);

    drift_the_dcr(&w);
    let update = w.setup(&["--dry-run"]).await;
    assert_ok(&update);
    let update_json = w.setup(&["--dry-run", "--output", "json"]).await;
    assert_ok(&update_json);
    let drifted = status(&w, false).await;
    assert_eq!(drifted.status.code(), Some(4), "{}", stderr(&drifted));
    let drifted_json = status(&w, true).await;
    assert_eq!(drifted_json.status.code(), Some(4));

    settings(&w, &[&shown]).bind(|| {
        insta::assert_snapshot!("plan_create", stdout(&dry));
        insta::assert_snapshot!("plan_create_json", pretty_json(&dry_json));
        insta::assert_snapshot!("admin_console_card", card);
        insta::assert_snapshot!("plan_reuse", stdout(&reuse));
        insta::assert_snapshot!("status_healthy", roles_sorted(&stdout(&healthy)));
        insta::assert_snapshot!(
            "status_healthy_json",
            pretty_json_roles_sorted(&healthy_json)
        );
        insta::assert_snapshot!("teardown_plan", roles_sorted(&stderr(&teardown)));
        insta::assert_snapshot!(
            "teardown_plan_json",
            pretty_json_roles_sorted(&teardown_json)
        );
        insta::assert_snapshot!("plan_update", stdout(&update));
        insta::assert_snapshot!("plan_update_json", pretty_json(&update_json));
        insta::assert_snapshot!("status_drifted", roles_sorted(&stdout(&drifted)));
        insta::assert_snapshot!(
            "status_drifted_json",
            pretty_json_roles_sorted(&drifted_json)
        );
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_console_card_as_json() {
    let w = World::public().await;
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&o);
    let v = json_out(&o);
    let secret = v["client_secret"].as_str().unwrap_or_default().to_string();
    settings(&w, &[&secret]).bind(|| {
        insta::assert_snapshot!("admin_console_card_json", pretty_json(&o));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_secret_that_expires_within_thirty_days() {
    let w = World::public().await;
    let o = w.setup(&["--secret-expiry-days", "20"]).await;
    assert_ok(&o);
    w.sim.advance_clock(Duration::from_secs(1));
    let human = status(&w, false).await;
    assert_eq!(human.status.code(), Some(5), "{}", stderr(&human));
    let json = status(&w, true).await;
    assert_eq!(json.status.code(), Some(5));
    settings(&w, &[]).bind(|| {
        insta::assert_snapshot!("status_expiring", roles_sorted(&stdout(&human)));
        insta::assert_snapshot!("status_expiring_json", pretty_json_roles_sorted(&json));
        insta::assert_snapshot!("error_unhealthy", error_text(&human));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_errors_with_their_hints() {
    let w = World::public().await;
    // A missing input: setup without a subscription, and no terminal to ask on.
    let mut args = w.setup_args(&[]);
    if let Some(i) = args.iter().position(|a| a == "--subscription") {
        args.drain(i..i + 2);
    }
    let missing = w.run(&args).await;
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    // A sign-in failure: the operator's secret is wrong.
    let sign_in = run_env(
        &w,
        &w.setup_args(&[]),
        &[("AZURE_CLIENT_SECRET", "not-the-secret")],
    )
    .await;
    assert_eq!(sign_in.status.code(), Some(3), "{}", stderr(&sign_in));
    settings(&w, &[]).bind(|| {
        insta::assert_snapshot!("error_missing_input", error_text(&missing));
        insta::assert_snapshot!("error_sign_in", error_text(&sign_in));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn an_azure_error_shows_its_details_and_the_hint_of_the_first_that_has_one() {
    // The table never becomes usable by a DCR: Azure refuses the DCR with InvalidPayload, the reason in
    // details[] (InvalidOutputTable), whose hint is the one shown.
    let w = World::start(SimConfig {
        table_output_delay: Duration::from_secs(3600),
        ..sim_config()
    })
    .await;
    let o = w.setup(&[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    settings(&w, &[]).bind(|| {
        insta::assert_snapshot!("error_azure_details", error_text(&o));
    });
}
