//! The tool's promises about the client secret and what it writes (README "Security"), each tested as the
//! scenario that broke it: a secret with nowhere to go, a rotation that lost the working secret, a secret file
//! written through a symlink or into someone else's file, events lost at a 403, test knobs in production,
//! secrets and tokens in verbose logs, verify's events taken for real ones. Ownership is in `ownership.rs`.

mod common;

use std::time::Duration;

use azure_sim::{Fault, FaultKind, SimConfig};
use common::*;
use serde_json::{json, Value};

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_secret_with_nowhere_to_go_is_refused_before_any_write() {
    let w = World::public().await;
    // A dry run is not refused, but says the run will be.
    let dry = w.run(&bare(&w, &["--dry-run"])).await;
    assert_ok(&dry);
    assert!(stdout(&dry).contains("will be refused"), "{}", stdout(&dry));
    // JSON without --show-secret or --secret-out; a card to a pipe (the tests' stdout is never a terminal).
    for extra in [&["--output", "json"][..], &[][..]] {
        let o = w.run(&bare(&w, extra)).await;
        assert_refused(&o, &["--secret-out", "--show-secret"]);
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
        assert_refused(&o, &["--secret-out", "--show-secret"]);
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
    w.settle();
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
    w.settle();
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
        401,
        "invalid_client"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn old_secrets_stay_while_the_newest_was_never_delivered() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let client = json_out(&o)["client_id"]
        .as_str()
        .expect("client")
        .to_string();
    let new_file = w.dir.path().join("new-secret.txt");
    let nf = new_file.display().to_string();
    assert_ok(
        &w.run(&after(&w, "rotate-secret", &["--secret-file", &nf]))
            .await,
    );
    assert_eq!(
        key_ids(&app_named(&w, &client)).len(),
        2,
        "the old one still works"
    );
    // As if the new value had never reached anyone.
    let mut state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    state["secret"]["delivered"] = json!(false);
    std::fs::write(w.state_path(), state.to_string()).expect("write");
    let before = w.sim.write_count();
    let o = w.run(&after(&w, "rotate-secret", &["--finish"])).await;
    assert_refused(&o, &["never delivered"]);
    assert_eq!(w.sim.write_count(), before);
    assert_eq!(key_ids(&app_named(&w, &client)).len(), 2);
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
    // A file another user owns is not replaced (the tests run as root where they can hand one over).
    #[cfg(unix)]
    {
        let theirs = w.dir.path().join("theirs.txt");
        std::fs::write(&theirs, "theirs").expect("write");
        if std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).is_ok() {
            let t = theirs.display().to_string();
            let before = w.sim.write_count();
            let o = w
                .run(&after(&w, "rotate-secret", &["--secret-file", &t]))
                .await;
            assert_refused(&o, &["another user"]);
            assert_eq!(w.sim.write_count(), before);
            assert_eq!(std::fs::read_to_string(&theirs).expect("read"), "theirs");
        }
    }
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
        role_propagation_delay: Duration::from_secs(3 * 3600),
        ..SimConfig::default()
    })
    .await;
    let (o, secret) = w.setup_json().await;
    assert_ok(&o);
    // Assigned two hours ago: its 403 is not a new role propagating, and stops the run at once.
    set_ingestion_role_assigned(&w, Some(Duration::from_secs(2 * 3600)));
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
    // The harness sets the time scale for every run; empty is unset.
    let o = run_env(
        &w,
        &args,
        &[
            ("KEEPER_AZMON_TIME_SCALE", ""),
            ("KEEPER_AZMON_HTTP_TIMEOUT", ""),
        ],
    )
    .await;
    assert!(
        !stderr(&o).contains("warning: KEEPER_AZMON_"),
        "{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_state_files_lock_and_temporary_file_follow_no_symlink_and_the_locks_stay_beside_it() {
    use std::os::unix::fs::symlink;
    let w = World::public().await;
    let dir = w.dir.path();
    let state = w.state_path().display().to_string();
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "keep").expect("victim");
    // The state file's lock a link to another file: refused, before any write, the file untouched.
    let lock = std::path::PathBuf::from(format!("{state}.lock"));
    symlink(&victim, &lock).expect("symlink");
    let o = w.setup(&[]).await;
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    assert_eq!(w.sim.write_count(), 0);
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
    std::fs::remove_file(&lock).expect("unlink");
    // The temporary file a link: the state is saved beside it, the link's target untouched. And without HOME
    // (nor XDG_RUNTIME_DIR or XDG_CACHE_HOME), the deployment's lock is beside the state file, not in a
    // directory every user of the machine shares.
    symlink(&victim, format!("{state}.tmp")).expect("symlink");
    let o = tool_command(dir, &w.sim, &w.setup_args(&[]))
        .env_remove("HOME")
        .output()
        .await
        .expect("binary runs");
    assert_ok(&o);
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
    assert!(w.state()["outputs"]["endpoint_url"].is_string());
    let locks: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".keeper-azmon-") && n.ends_with(".lock"))
        .collect();
    assert_eq!(
        locks.len(),
        1,
        "the deployment's lock beside the state file: {locks:?}"
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
