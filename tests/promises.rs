//! The promises on the paths users walk next (issue 21, findings 1 to 6), end to end against azure-sim: a new
//! client secret is delivered or removed again, and old ones go only after; no command panics on a stdout or
//! stderr it cannot write; verify's test events never pass for Keeper's; a stopped send loses nothing it read;
//! a bad event is malformed, with its line, however it is bad.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use azure_sim::Fault;
use common::*;
use serde_json::{json, Value};

/// Where a run's stdout or stderr goes when it cannot be written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sink {
    /// A device that is always full (writes fail with ENOSPC).
    Full,
    /// A pipe whose reader is gone (writes fail with EPIPE), as `| head` leaves it.
    ClosedPipe,
}

/// Runs the tool with stdout (or, with `on_stderr`, stderr) on `sink`; the other stream is captured.
async fn run_into(w: &World, args: &[String], sink: Sink, on_stderr: bool) -> Output {
    let mut cmd = tool_command(w.dir.path(), &w.sim, args);
    let (out, err) = match sink {
        Sink::Full => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full");
            (Stdio::from(full), Stdio::piped())
        }
        Sink::ClosedPipe => (Stdio::piped(), Stdio::piped()),
    };
    if on_stderr {
        cmd.stderr(out).stdout(err);
    } else {
        cmd.stdout(out).stderr(err);
    }
    let mut child = cmd.spawn().expect("binary runs");
    if sink == Sink::ClosedPipe {
        // The reader goes before the tool writes anything.
        if on_stderr {
            drop(child.stderr.take());
        } else {
            drop(child.stdout.take());
        }
    }
    child.wait_with_output().await.expect("binary runs")
}

fn assert_no_panic(o: &Output, what: &str) {
    let err = stderr(o);
    assert_ne!(o.status.code(), Some(101), "{what} panicked: {err}");
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
}

/// Setup with the secret in `secret.txt`, then the clock past Graph's lag; the setup JSON and the secret.
async fn set_up(w: &World) -> (Value, String) {
    let (o, file) = w.setup_json().await;
    assert_ok(&o);
    w.settle();
    let secret = std::fs::read_to_string(&file).expect("secret file");
    (json_out(&o), secret)
}

/// Whether `secret` signs the deployment's app in.
async fn signs_in(w: &World, out: &Value, secret: &str) -> bool {
    token(
        &w.sim,
        out["tenant_id"].as_str().expect("tenant"),
        out["client_id"].as_str().expect("client"),
        secret,
        "https://monitor.azure.com",
    )
    .await
    .status()
        == 200
}

/// The key ids of the deployment app's secrets.
fn app_keys(w: &World, out: &Value) -> Vec<String> {
    key_ids(&app_named(w, out["client_id"].as_str().expect("client")))
}

/// After a rotation that could not deliver: only the old secret is on the app, it still works, and the state
/// still names it as current and delivered, with nothing retired.
async fn assert_old_secret_kept(w: &World, out: &Value, old: &str, old_key: &Value, o: &Output) {
    let err = stderr(o);
    assert!(!o.status.success(), "an undelivered rotation fails: {err}");
    assert_no_panic(o, "rotate-secret");
    assert!(
        err.contains("removed") && err.contains("not delivered"),
        "the run says the new secret was not delivered and was removed: {err}"
    );
    assert_eq!(
        app_keys(w, out),
        vec![old_key.as_str().expect("key").to_string()],
        "the new secret is gone, the old one stays"
    );
    assert!(signs_in(w, out, old).await, "the old secret still works");
    let s = w.state();
    assert_eq!(s["secret"]["key_id"], *old_key, "{s}");
    assert_eq!(s["secret"]["delivered"], true, "{s}");
    assert_eq!(s["retired_secrets"], json!([]), "{s}");
}

#[cfg_attr(windows, ignore = "a full device is /dev/full, which Windows has not")]
#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_whose_stdout_cannot_take_the_secret_removes_it_and_keeps_the_old_one() {
    let w = World::public().await;
    let (out, old) = set_up(&w).await;
    let old_key = w.state()["secret"]["key_id"].clone();
    for (sink, output) in [(Sink::Full, "json"), (Sink::ClosedPipe, "human")] {
        let args = w.command_args(
            "rotate-secret",
            &["--output", output, "--show-secret", "--remove-old"],
        );
        let o = run_into(&w, &args, sink, false).await;
        assert_old_secret_kept(&w, &out, &old, &old_key, &o).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_whose_secret_file_cannot_be_written_removes_it_and_keeps_the_old_one() {
    let w = World::public().await;
    let (out, old) = set_up(&w).await;
    let old_key = w.state()["secret"]["key_id"].clone();
    let new_file = w.dir.path().join("new-secret.txt");
    // Writable when checked, before the secret exists; a directory by the time its value is written.
    let blocker = new_file.clone();
    w.sim
        .inject(Fault::then_run("POST", "addPassword", 1, move || {
            std::fs::create_dir_all(&blocker).expect("mkdir");
        }));
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &[
                "--output",
                "json",
                "--secret-file",
                &new_file.display().to_string(),
                "--remove-old",
            ],
        ))
        .await;
    assert_old_secret_kept(&w, &out, &old, &old_key, &o).await;
    assert!(stderr(&o).contains("--secret-out"), "{}", stderr(&o));
}

/// What a first setup may leave on the app when its secret could not be delivered: nothing.
fn assert_no_secret_left(w: &World, o: &Output, client_id: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "an undelivered secret fails the run");
    assert_no_panic(o, "setup");
    assert!(
        err.contains("removed") && err.contains("not delivered"),
        "the run says the secret was not delivered and was removed: {err}"
    );
    assert_eq!(
        key_ids(&app_named(w, client_id)),
        Vec::<String>::new(),
        "no secret whose value nobody holds: {err}"
    );
}

/// The app registration a setup made (there is one, besides the operator's own).
fn the_app(w: &World) -> String {
    let apps: Vec<Value> = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .collect();
    assert_eq!(apps.len(), 1, "{apps:?}");
    apps[0]["appId"].as_str().expect("appId").to_string()
}

#[cfg_attr(windows, ignore = "a full device is /dev/full, which Windows has not")]
#[tokio::test(flavor = "multi_thread")]
async fn a_setup_whose_secret_cannot_be_delivered_leaves_no_secret_behind() {
    // The secret file turns into a directory once the secret exists.
    let w = World::public().await;
    let file = w.dir.path().join("secret.txt");
    let blocker = file.clone();
    w.sim
        .inject(Fault::then_run("POST", "addPassword", 1, move || {
            std::fs::create_dir_all(&blocker).expect("mkdir");
        }));
    let o = w.setup_json().await.0;
    assert_no_secret_left(&w, &o, &the_app(&w));
    assert!(stderr(&o).contains("--secret-out"), "{}", stderr(&o));
    // The next run, with somewhere to write, makes one and delivers it.
    std::fs::remove_dir(&file).expect("rmdir");
    w.settle();
    let (out, secret) = set_up(&w).await;
    assert_eq!(app_keys(&w, &out).len(), 1);
    assert!(signs_in(&w, &out, &secret).await);

    // stdout full while the JSON with the secret is written.
    let w = World::public().await;
    let o = run_into(
        &w,
        &w.setup_args(&["--output", "json", "--show-secret"]),
        Sink::Full,
        false,
    )
    .await;
    assert_no_secret_left(&w, &o, &the_app(&w));

    // The state file cannot be saved once the secret exists (its path has become a directory).
    let w = World::public().await;
    let state = w.state_path();
    w.sim
        .inject(Fault::then_run("POST", "addPassword", 1, move || {
            let _ = std::fs::remove_file(&state);
            std::fs::create_dir_all(&state).expect("mkdir");
        }));
    let o = w.setup_json().await.0;
    assert_no_secret_left(&w, &o, &the_app(&w));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_call_failing_after_the_secret_was_made_does_not_lose_it() {
    let w = World::public().await;
    // Every read of an app after addPassword fails (Graph down for good).
    w.sim.inject_once_seen(
        "POST",
        "addPassword",
        Fault::status("GET", "/v1.0/applications", 1000, 503, "ServiceUnavailable"),
    );
    let (o, file) = w.setup_json().await;
    // The clean-up of older secrets waits for the next run; the new one is delivered.
    assert_ok(&o);
    let client = the_app(&w);
    let keys = key_ids(&app_named(&w, &client));
    let secret = std::fs::read_to_string(&file).expect("the secret was delivered");
    assert_eq!(keys.len(), 1, "the one secret is the delivered one");
    w.settle();
    let out = json!({ "tenant_id": w.sim.operator().tenant_id, "client_id": client });
    assert!(signs_in(&w, &out, secret.trim()).await);
}

#[cfg_attr(windows, ignore = "a full device is /dev/full, which Windows has not")]
#[tokio::test(flavor = "multi_thread")]
async fn no_command_panics_when_stdout_or_stderr_cannot_be_written() {
    let w = World::public().await;
    let (out, secret) = set_up(&w).await;
    let secret_file = w.dir.path().join("secret.txt").display().to_string();
    let events = w.dir.path().join("events.jsonl");
    std::fs::write(
        &events,
        sample_events()
            .as_array()
            .expect("events")
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("events");
    let events = events.display().to_string();
    let app = ["--secret-file", secret_file.as_str()];
    let commands: Vec<Vec<String>> = vec![
        vec!["--help".into()],
        vec!["cloud".into(), "show".into(), "usgov".into()],
        w.setup_args(&["--output", "json", "--dry-run"]),
        w.setup_args(&[]),
        w.command_args("status", &["--output", "json"]),
        w.command_args("status", &[]),
        w.command_args("verify", &[&app[..], &["--output", "json"]].concat()),
        w.command_args("verify", &app),
        w.command_args("send", &[&app[..], &["--output", "json", &events]].concat()),
        w.command_args("send", &[&app[..], &[events.as_str()]].concat()),
        w.command_args(
            "import-classic",
            &[
                &app[..],
                &[
                    "--output",
                    "json",
                    "--from-table",
                    "Keeper_CL",
                    "--enterprise-id",
                    "1",
                ],
            ]
            .concat(),
        ),
        w.command_args("rotate-secret", &["--finish", "--output", "json"]),
        w.command_args("rotate-secret", &["--finish"]),
        w.command_args("teardown", &["--dry-run", "--output", "json"]),
        w.command_args("teardown", &["--dry-run"]),
    ];
    for args in &commands {
        // A command that succeeds with stdout as usual must fail, and say so, with stdout on a full disk.
        let succeeds = w.run(args).await.status.success();
        for sink in [Sink::Full, Sink::ClosedPipe] {
            for on_stderr in [false, true] {
                let o = run_into(&w, args, sink, on_stderr).await;
                let what = format!(
                    "{args:?} with {} on {sink:?}",
                    if on_stderr { "stderr" } else { "stdout" }
                );
                assert_no_panic(&o, &what);
                if succeeds && !on_stderr && sink == Sink::Full && args.iter().any(|a| a == "json")
                {
                    assert_eq!(
                        o.status.code(),
                        Some(1),
                        "{what}: a failed write is an error: {}",
                        stderr(&o)
                    );
                    assert!(stderr(&o).contains("stdout"), "{what}: {}", stderr(&o));
                }
            }
        }
    }
    // A closed pipe ends a command quietly.
    let o = run_into(&w, &commands[1], Sink::ClosedPipe, false).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("error"), "{}", stderr(&o));
    // Nothing above made or lost a secret.
    assert_eq!(app_keys(&w, &out).len(), 1);
    assert!(signs_in(&w, &out, &secret).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_test_events_neither_stop_a_backfill_nor_count_as_keepers() {
    let w = World::public().await;
    let (secret_file, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let o = w
        .run(&w.command_args(
            "verify",
            &["--secret-file", &secret_file, "--wait", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    // Every time column of a test event is the time it was sent.
    let now = time::OffsetDateTime::now_utc();
    let rows = w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL");
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["audit_event"], "keeper_azmon_verify");
        for col in ["TimeGenerated", "timestamp"] {
            let t = time::OffsetDateTime::parse(
                r[col].as_str().unwrap_or_default(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap_or_else(|e| panic!("{col} {r}: {e}"));
            assert!((now - t).abs() < time::Duration::minutes(10), "{col}: {r}");
        }
    }
    // History from a month ago: none of it is "already streamed" because of verify's events.
    let month_ago = now.unix_timestamp() - 30 * 86_400;
    let history: Vec<Value> = (0..10)
        .map(|i| commander_event(i, "login", month_ago + i as i64 * 60))
        .collect();
    let export = w.dir.path().join("audit-log.json");
    std::fs::write(&export, Value::Array(history).to_string()).expect("write");
    let o = w
        .run(&send_args(
            &w,
            &secret_file,
            &["--enterprise-id", "1234", &export.display().to_string()],
        ))
        .await;
    assert_ok(&o);
    let s = json_out(&o);
    assert_eq!(
        (s["sent"].as_u64(), s["already_streamed"].as_u64()),
        (Some(10), Some(0)),
        "{s}"
    );
    assert_eq!(
        s["until"],
        Value::Null,
        "no live event from Keeper yet: no cutoff: {s}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sentinel_function_leaves_out_verify_test_events() {
    let w = World::public().await;
    let (o, file) = {
        let file = w.dir.path().join("secret.txt");
        let o = w
            .setup(&[
                "--sentinel",
                "--output",
                "json",
                "--secret-file",
                &file.display().to_string(),
            ])
            .await;
        (o, file)
    };
    assert_ok(&o);
    w.settle();
    let out = json_out(&o);
    let secret_file = file.display().to_string();
    let verify = w
        .run(&w.command_args(
            "verify",
            &["--secret-file", &secret_file, "--wait", "--output", "json"],
        ))
        .await;
    assert_ok(&verify);
    let v = json_out(&verify);
    assert_eq!(v["arrived"], 3, "{v}");
    assert_eq!(
        v["through_function"], 0,
        "the function shows none of them: {v}"
    );
    // One event of Keeper's own shows through it, and only that one.
    let live = w.dir.path().join("live.jsonl");
    std::fs::write(&live, json!({"audit_event": "login", "username": "a@example.com", "timestamp": "2026-12-01T00:00:00Z"}).to_string()).expect("write");
    assert_ok(
        &w.run(&send_args(&w, &secret_file, &[&live.display().to_string()]))
            .await,
    );
    let secret = std::fs::read_to_string(&file).expect("secret");
    let r = query_as(
        &w,
        &out,
        &secret,
        "KeeperSecurityEvents | summarize n = count() by AuditEvent",
    )
    .await;
    let rows = r["tables"][0]["rows"].clone();
    assert_eq!(rows, json!([["login", 1]]), "{r}");
}

/// Runs `kql` through the Log Analytics query API as the deployment's app.
async fn query_as(w: &World, out: &Value, secret: &str, kql: &str) -> Value {
    let customer = w.state()["outputs"]["workspace_customer_id"]
        .as_str()
        .expect("customer id")
        .to_string();
    query_as_app(
        w,
        out["client_id"].as_str().expect("client"),
        secret,
        &customer,
        kql,
    )
    .await
}

/// `send` for the deployment as its app (`--secret-file`), JSON summary, then `extra`.
fn send_args(w: &World, secret: &str, extra: &[&str]) -> Vec<String> {
    w.command_args(
        "send",
        &[&["--secret-file", secret, "--output", "json"], extra].concat(),
    )
}

/// A plain event `i`, padded to about 600 bytes, as one JSON line.
fn plain_line(i: usize) -> String {
    json!({
        "audit_event": "record_update",
        "username": "a@example.com",
        "timestamp": "2026-12-01T00:00:00Z",
        "data": { "seq": i, "pad": "x".repeat(520) }
    })
    .to_string()
}

/// `data.seq` of every row in the deployment's table, sorted.
fn stored_seqs(w: &World, ws: &str) -> Vec<u64> {
    let mut v: Vec<u64> = w
        .sim
        .snapshot()
        .table_rows(ws, "KeeperLogs_CL")
        .iter()
        .filter_map(|r| r["data"]["seq"].as_u64())
        .collect();
    v.sort_unstable();
    v
}

/// `data.seq` of every event in a `--failed-file`.
fn kept_seqs(path: &std::path::Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["data"]["seq"].as_u64())
        .collect();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_stopped_by_a_malformed_line_sends_or_keeps_everything_read_before_it() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let mut lines: Vec<String> = (0..5000).map(plain_line).collect();
    lines[4000] = "{ not json".into();
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(&input, lines.join("\n")).expect("write");
    let failed = w.dir.path().join("failed.jsonl");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--on-error",
                "fail",
                "--failed-file",
                &failed.display().to_string(),
                &input.display().to_string(),
            ],
        ))
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("line 4001"), "{}", stderr(&o));
    let (stored, kept) = (stored_seqs(&w, &ws), kept_seqs(&failed));
    let mut all = [stored.clone(), kept.clone()].concat();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..4000).collect::<Vec<u64>>(),
        "everything read before the stop, once; nothing after it"
    );
    let s = json_out(&o);
    assert_eq!(s["sent"].as_u64(), Some(stored.len() as u64), "{s}");
    assert_eq!(s["failed"].as_u64(), Some(kept.len() as u64), "{s}");
    assert_eq!(s["malformed"].as_u64(), Some(1), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_counts_after_a_413_split_are_what_happened() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        (0..100).map(plain_line).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
    // The batch is too large; of its halves the first goes through, the second is refused for good.
    w.sim.inject(Fault::status(
        "POST",
        "/streams/",
        1,
        413,
        "ContentLengthLimitExceeded",
    ));
    w.sim
        .inject(Fault::status("POST", "/streams/", 1, 400, "InvalidPayload").after(1));
    let failed = w.dir.path().join("failed.jsonl");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--failed-file",
                &failed.display().to_string(),
                &input.display().to_string(),
            ],
        ))
        .await;
    assert!(!o.status.success());
    let (stored, kept) = (stored_seqs(&w, &ws), kept_seqs(&failed));
    assert_eq!(stored.len() + kept.len(), 100);
    assert!(
        !stored.is_empty() && !kept.is_empty(),
        "{stored:?} {kept:?}"
    );
    let s = json_out(&o);
    assert_eq!(s["sent"].as_u64(), Some(stored.len() as u64), "{s}");
    assert_eq!(s["failed"].as_u64(), Some(kept.len() as u64), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_file_that_cannot_be_written_fails_the_run_loudly() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        (0..100).map(plain_line).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
    // Every post is refused for good: all 100 events (60 kB) go to --failed-file, on a disk that takes 8 kB.
    w.sim.inject(Fault::status(
        "POST",
        "/streams/",
        1000,
        400,
        "InvalidPayload",
    ));
    let failed = w.dir.path().join("failed.jsonl");
    let args = send_args(
        &w,
        &secret,
        &[
            "--failed-file",
            &failed.display().to_string(),
            &input.display().to_string(),
        ],
    );
    // Files past 8 kB cannot grow (EFBIG: SIGXFSZ ignored, as a shell's `ulimit -f` leaves a write failing).
    let o = tool_command_after_shell(w.dir.path(), &w.sim, "trap '' XFSZ; ulimit -f 16", &args)
        .output()
        .await
        .expect("runs");
    assert_no_panic(&o, "send");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--failed-file")
            && stderr(&o).contains("neither the table nor the file"),
        "the run names the file it could not write, and what that lost: {}",
        stderr(&o)
    );
    // The summary is still there, and counts what is in neither place.
    let s = json_out(&o);
    let kept = std::fs::read_to_string(&failed)
        .map(|t| t.lines().count())
        .unwrap_or(0) as u64;
    assert_eq!(s["failed"], 100, "{s}");
    assert_eq!(s["lost"].as_u64(), Some(100 - kept), "{s}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_over_the_request_limit_is_malformed_and_not_read_whole() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let input = w.dir.path().join("events.jsonl");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
        writeln!(f, "{}", plain_line(0)).expect("write");
        // 200 MB on one line.
        let chunk = "x".repeat(1 << 20);
        write!(f, "{{\"audit_event\":\"").expect("write");
        for _ in 0..200 {
            f.write_all(chunk.as_bytes()).expect("write");
        }
        writeln!(f, "\"}}").expect("write");
        writeln!(f, "{}", plain_line(2)).expect("write");
    }
    let o = w
        .run(&send_args(&w, &secret, &[&input.display().to_string()]))
        .await;
    assert_ok(&o);
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let s = json_out(&o);
    assert_eq!(
        (s["sent"].as_u64(), s["skipped"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    assert_eq!(stored_seqs(&w, &ws), vec![0, 2]);
    let peak = s["peak_rss_mb"].as_f64().expect("peak_rss_mb");
    assert!(
        peak < 120.0,
        "the 200 MB line was not held in memory: peak {peak} MB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commander_time_beyond_any_date_is_malformed_with_its_line() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let good = |i: usize| commander_event(i, "login", 1_735_689_600 + i as i64).to_string();
    let lines = [
        good(0),
        r#"{"audit_event_type":"login","username":"a@example.com","created":1e400}"#.to_string(),
        r#"{"audit_event_type":"login","username":"a@example.com","created":-9223372036854775808}"#
            .to_string(),
        r#"{"audit_event_type":"login","username":"a@example.com","created":1e30}"#.to_string(),
        good(4),
    ];
    let input = w.dir.path().join("commander.jsonl");
    std::fs::write(&input, lines.join("\n")).expect("write");
    let o = w
        .run(&send_args(
            &w,
            &secret,
            &[
                "--format",
                "commander",
                "--enterprise-id",
                "1234",
                "--until",
                "2026-01-01",
                "--on-error",
                "skip",
                &input.display().to_string(),
            ],
        ))
        .await;
    assert_no_panic(&o, "send");
    assert_ok(&o);
    for line in ["line 2", "line 3", "line 4"] {
        assert!(stderr(&o).contains(line), "{line}: {}", stderr(&o));
    }
    let s = json_out(&o);
    assert_eq!(
        (s["sent"].as_u64(), s["skipped"].as_u64()),
        (Some(2), Some(3)),
        "{s}"
    );
    let years: Vec<String> = w
        .sim
        .snapshot()
        .table_rows(&ws, "KeeperLogs_CL")
        .iter()
        .map(|r| r["timestamp"].as_str().unwrap_or_default()[..4].to_string())
        .collect();
    assert_eq!(years, ["2025", "2025"], "no 1969");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_whose_answer_is_lost_is_sent_again_so_delivery_is_at_least_once() {
    let w = World::public().await;
    let (secret, ws) = w.set_up_then(Duration::from_secs(60)).await;
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        (0..3).map(plain_line).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
    // Stored, then answered with a 500, as when the answer to a post that landed is lost.
    w.sim.inject(azure_sim::Fault {
        kind: azure_sim::FaultKind::ApplyThenStatus { status: 500 },
        ..Fault::status("POST", "/streams/", 1, 500, "InternalServerError")
    });
    let o = w
        .run(&send_args(&w, &secret, &[&input.display().to_string()]))
        .await;
    assert_ok(&o);
    assert_eq!(json_out(&o)["sent"], 3);
    assert_eq!(
        stored_seqs(&w, &ws),
        vec![0, 0, 1, 1, 2, 2],
        "the README's \"at least once\": each event is in the table twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_to_be_shown_on_a_stdout_that_goes_nowhere_is_refused_before_it_exists() {
    let w = World::public().await;
    let (out, old) = set_up(&w).await;
    let keys = app_keys(&w, &out);
    let writes = w.sim.write_count();
    let args = w.command_args(
        "rotate-secret",
        &["--output", "json", "--show-secret", "--remove-old"],
    );
    let mut cmd = tool_command(w.dir.path(), &w.sim, &args);
    // (spawn, not output(): tokio's output() pipes stdout whatever was set)
    let o = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs")
        .wait_with_output()
        .await
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/null"), "{}", stderr(&o));
    assert_eq!(w.sim.write_count(), writes, "refused before any write");
    assert_eq!(app_keys(&w, &out), keys);
    assert!(signs_in(&w, &out, &old).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_does_not_turn_a_failed_send_into_success() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        (0..3).map(plain_line).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
    w.sim.inject(Fault::status(
        "POST",
        "/streams/",
        100,
        400,
        "InvalidPayload",
    ));
    let args = send_args(&w, &secret, &[&input.display().to_string()]);
    let o = run_into(&w, &args, Sink::ClosedPipe, false).await;
    assert_eq!(
        o.status.code(),
        Some(1),
        "the events were not sent: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("3 events were not sent"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_stopped_by_a_403_keeps_all_the_input_it_did_not_send_not_only_what_it_had_read() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    // An old role that refuses: the run stops at the first 403, with 12 MB of input still to read.
    set_ingestion_role_assigned(&w, Some(Duration::from_secs(3 * 3600)));
    w.sim.inject(Fault::status(
        "POST",
        "/streams/",
        1000,
        403,
        "OperationFailed",
    ));
    let input = w.dir.path().join("events.jsonl");
    std::fs::write(
        &input,
        (0..20_000).map(plain_line).collect::<Vec<_>>().join("\n"),
    )
    .expect("write");
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
    assert!(!o.status.success());
    let s = json_out(&o);
    assert_eq!(
        (s["sent"].as_u64(), s["failed"].as_u64()),
        (Some(0), Some(20_000)),
        "{s}"
    );
    assert_eq!(
        kept_seqs(&failed),
        (0..20_000).collect::<Vec<u64>>(),
        "every event is in --failed-file"
    );
    assert!(
        stderr(&o).contains("Monitoring Metrics Publisher"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_wait_without_a_workspace_to_read_is_refused_before_it_posts_anything() {
    let w = World::public().await;
    let (out, secret) = set_up(&w).await;
    let file = w.dir.path().join("only-secret.txt");
    std::fs::write(&file, &secret).expect("write");
    let none = w.dir.path().join("no-state.json");
    let posts = || {
        w.sim
            .request_log()
            .iter()
            .filter(|r| r.path.contains("/streams/"))
            .count()
    };
    let before = posts();
    let mut args = vec![
        "verify".to_string(),
        "--wait".into(),
        "--state".into(),
        none.display().to_string(),
        "--tenant".into(),
        out["tenant_id"].as_str().expect("tenant").into(),
        "--client-id".into(),
        out["client_id"].as_str().expect("client").into(),
        "--endpoint-url".into(),
        out["endpoint_url"].as_str().expect("endpoint").into(),
        "--secret-file".into(),
        file.display().to_string(),
    ];
    args.extend(w.cloud_arg());
    let o = w.run(&args).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--wait needs the workspace and table"),
        "{}",
        stderr(&o)
    );
    assert_eq!(posts(), before, "nothing was posted");
}
