//! The interactive wizard driven through a pseudo-terminal against azure-sim: a full run, a validation retry,
//! the Keeper record asked for when a KSM config is given, Ctrl-C at a prompt, and the error without a terminal.

mod common;

use std::time::Duration;

use common::*;
use expectrl::process::Healthcheck;
use expectrl::session::OsSession as Session;
use expectrl::{ControlCode, Eof, Expect};

const DOWN: &str = "\x1b[B";

fn command(w: &World) -> std::process::Command {
    let op = w.sim.operator();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args([
        "setup",
        "--cloud",
        &w.profile.display().to_string(),
        "--auth",
        "env",
        "--state",
        &w.state_path().display().to_string(),
    ])
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", w.dir.path())
    .env("TERM", "xterm-256color")
    .env("NO_COLOR", "1")
    .env("AZURE_TENANT_ID", &op.tenant_id)
    .env("AZURE_CLIENT_ID", &op.client_id)
    .env("AZURE_CLIENT_SECRET", &op.client_secret);
    cmd
}

fn session(w: &World) -> Session {
    spawn(command(w))
}

fn spawn(cmd: std::process::Command) -> Session {
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(60)));
    p
}

/// A wizard run on a terminal: what it printed so far (the transcript), and the keys typed at each prompt.
struct Terminal {
    p: Session,
    log: Vec<u8>,
}

impl Terminal {
    fn new(p: Session) -> Terminal {
        Terminal { p, log: Vec::new() }
    }

    /// Waits for `wait` on the screen, then types `keys`.
    fn step(&mut self, wait: &str, keys: &str) {
        let found = self
            .p
            .expect(wait)
            .unwrap_or_else(|e| panic!("waiting for {wait:?}: {e}"));
        self.log.extend_from_slice(found.before());
        self.log.extend_from_slice(found.as_bytes());
        if !keys.is_empty() {
            self.p.send(keys).expect("send");
        }
    }

    /// Waits for the run to end; the transcript without escape sequences.
    fn finish(mut self) -> String {
        let rest = self.p.expect(Eof).expect("the run ends");
        self.log.extend_from_slice(rest.before());
        plain(&self.log)
    }
}

/// Strips terminal escape sequences, for the transcript.
fn plain(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                while let Some(&n) = chars.peek() {
                    chars.next();
                    if n.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_run_picks_an_existing_group_and_a_new_workspace_after_a_refused_name() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/rg-existing");
    assert!(arm_put(
        &w,
        &rg,
        "2021-04-01",
        serde_json::json!({ "location": "westus2" })
    )
    .await
    .is_success());
    assert!(arm_put(
        &w,
        &format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/shared-ws"),
        "2022-10-01",
        serde_json::json!({ "location": "westus2" })
    )
    .await
    .is_success());

    let w = std::sync::Arc::new(w);
    let wc = w.clone();
    let transcript = tokio::task::spawn_blocking(move || {
        let mut t = Terminal::new(session(&wc));
        t.step("Signed in to", "");
        t.step("Subscription", "\r");
        // The existing group is preselected; its location comes with it.
        t.step("Resource group", "\r");
        // "+ create a new workspace" is first; then a name that breaks Azure's rules, then a good one.
        t.step("Log Analytics workspace", "\r");
        // The rule shows while typing, before Enter; Enter on the bad name is refused and clears it.
        t.step("Workspace name", "x");
        t.step("not a valid name", "\r");
        t.step("not a valid name", "keeper-ws-1");
        t.step("✔", "\r");
        t.step("App registration name", "\r");
        t.step("Client secret description", "\r");
        t.step("Client secret expiry", "\r");
        t.step("Table name", "\r");
        t.step("Data collection endpoint name", "\r");
        t.step("Data collection rule name", "\r");
        t.step("Role assignments", &format!("{DOWN}\r"));
        // A new workspace: Sentinel is offered, default no.
        t.step("Microsoft Sentinel", "\r");
        t.step("Apply this plan?", "y");
        t.step("Client Secret Value", "");
        t.finish()
    })
    .await
    .expect("pty session");

    let snap = w.sim.snapshot();
    let ws = format!("/subscriptions/{sub}/resourceGroups/rg-existing/providers/Microsoft.OperationalInsights/workspaces/keeper-ws-1");
    let body = snap
        .resource(&ws)
        .expect("the new workspace, in the existing group");
    assert_eq!(
        body["location"], "westus2",
        "location taken from the chosen resource group"
    );
    let roles = snap
        .role_assignments()
        .into_iter()
        .filter(|(s, _, _)| s.contains("rg-existing"))
        .count();
    assert_eq!(
        roles, 1,
        "minimal role set: Monitoring Metrics Publisher on the DCR only"
    );
    assert!(
        transcript.contains("Application (client) ID"),
        "{transcript}"
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    assert_eq!(
        state["resources"]["resource_group"],
        serde_json::Value::Null,
        "the existing group is not recorded as made"
    );
    // Keep the transcript for the README (secret value masked).
    let secret_line = transcript
        .lines()
        .find(|l| l.contains("Client Secret Value"))
        .unwrap_or_default()
        .to_string();
    let masked = transcript.replace(
        secret_line.split_whitespace().last().unwrap_or("-"),
        "<the secret value, shown once>",
    );
    let _ = std::fs::write(
        concat!(env!("CARGO_TARGET_TMPDIR"), "/wizard-transcript.txt"),
        masked,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_one_time_token_the_wizard_asks_where_to_save_its_config_and_for_the_keeper_record()
{
    let w = World::public().await;
    let uid = w.sim.keeper_add_record("Azure Monitor Logs", true);
    let token = w.sim.keeper_token();
    let saved = w.dir.path().join("ksm-saved.json");
    let saved_typed = format!("{}\r", saved.display());
    let sub = w.sim.operator().subscription_id;
    let w = std::sync::Arc::new(w);
    let wc = w.clone();
    let uid_typed = uid.clone();
    let transcript = tokio::task::spawn_blocking(move || {
        let mut cmd = command(&wc);
        // Every Azure input as a flag: only the Keeper prompts and the plan's confirmation are left to ask.
        cmd.args([
            "--subscription",
            &sub,
            "--resource-group",
            "rg-keeper",
            "--create-resource-group",
            "--location",
            "eastus",
            "--workspace",
            "keeper-ws",
            "--app-name",
            "KeeperLogging",
            "--secret-description",
            "Keeper Azure Monitor Logs",
            "--secret-expiry-days",
            "180",
            "--table",
            "KeeperLogs",
            "--dce-name",
            "KeeperLogsEndpoint",
            "--dcr-name",
            "KeeperDCR",
            "--roles",
            "minimal",
            "--sentinel",
            "false",
        ])
        .env("KSM_CONFIG", &token);
        let mut t = Terminal::new(spawn(cmd));
        t.step(
            "Save the KSM config the one-time token yields",
            &saved_typed,
        );
        // "an existing record" is first; then its UID (a bad one is refused, as the other names are).
        t.step("Keeper record for the Admin Console values", "\r");
        t.step("Record UID", "nope\r");
        t.step("is not a Keeper UID", &format!("{uid_typed}\r"));
        t.step("the KSM application may write it", "");
        t.step("Apply this plan?", "y");
        t.finish()
    })
    .await
    .expect("pty session");
    let rec = w.sim.keeper_record(&uid).expect("the record");
    let secret = rec["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["type"] == "password"))
        .and_then(|f| f["value"][0].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        !secret.is_empty(),
        "the record holds the secret: {transcript}"
    );
    assert!(!transcript.contains(&secret), "the secret is not shown");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    assert_eq!(state["keeper"]["record_uid"], uid.as_str());
    assert!(saved.is_file(), "the config is saved");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&saved)
            .expect("the config is saved")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_at_a_prompt_leaves_nothing_made() {
    let w = std::sync::Arc::new(World::public().await);
    let wc = w.clone();
    let alive = tokio::task::spawn_blocking(move || {
        // Started the way a shell starts a background job, with SIGINT ignored (ignored signals are inherited):
        // Ctrl-C must still end the wizard, whether it lands while a prompt holds the terminal raw or between
        // two of its reads.
        let tool = command(&wc);
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(r#"trap "" INT; exec "$0" "$@""#)
            .arg(tool.get_program())
            .args(tool.get_args())
            .env_clear()
            .envs(tool.get_envs().filter_map(|(k, v)| Some((k, v?))));
        let mut p = spawn(cmd);
        p.expect("Subscription").expect("prompt");
        p.send(ControlCode::EndOfText).expect("ctrl-c");
        let _ = p.expect(Eof);
        // The terminal closed; the process is reaped a moment later (ten seconds is a hang, not a moment).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while p.is_alive().unwrap_or(false) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        p.is_alive().unwrap_or(false)
    })
    .await
    .expect("pty");
    assert!(!alive, "Ctrl-C ends the wizard");
    assert_eq!(w.sim.write_count(), 0, "nothing was made");
    assert!(!w.state_path().exists(), "no state file was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_a_missing_input_names_its_flag() {
    let w = World::public().await;
    let args: Vec<String> = [
        "setup",
        "--cloud",
        &w.profile.display().to_string(),
        "--auth",
        "env",
        "--location",
        "eastus",
        "--resource-group",
        "rg",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = w.run(&args).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--subscription is required")
            && stderr(&o).contains("KEEPER_AZMON_SUBSCRIPTION"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.sim.write_count(), 0);
}

#[test]
fn demo_on_a_terminal_runs_without_a_question() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args(["demo", "--cloud", "public", "--dir"])
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .env("KEEPER_AZMON_TIME_SCALE", "0.01");
    let mut p = spawn(cmd);
    // Nothing is typed: a wizard's first question would wait until the timeout.
    let rest = p.expect(Eof).expect("the demo ends on its own");
    let screen = plain(&[rest.before(), rest.as_bytes()].concat());
    assert!(screen.contains("the Admin Console values work"), "{screen}");
    // The wizard's path announces its sign-in before the first question.
    assert!(
        !screen.contains("Signed in to"),
        "the wizard did not start: {screen}"
    );
}
