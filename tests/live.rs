//! Against real Azure, opt-in: setup, verify --wait, status and teardown of a fresh deployment in its own resource
//! group. Runs only with KEEPER_AZMON_LIVE=1 and KEEPER_AZMON_LIVE_SUBSCRIPTION set; otherwise it says why and
//! passes. The README's "Live test" section says how to run it and what it costs.
//!
//! Inputs (environment): KEEPER_AZMON_LIVE_SUBSCRIPTION (required), KEEPER_AZMON_LIVE_CLOUD (default public),
//! KEEPER_AZMON_LIVE_LOCATION (default eastus, usgovvirginia for usgov clouds), KEEPER_AZMON_LIVE_AUTH (default
//! auto: AZURE_CLIENT_SECRET, a federated token, or the Azure CLI's login), KEEPER_AZMON_LIVE_TENANT (optional).

use std::path::Path;
use std::process::{Command, Output};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The tool with the caller's environment (their sign-in), so that real credentials reach it.
fn tool(args: &[String]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the binary runs");
    eprintln!(
        "$ keeper-azmon {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    o
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Deletes what setup made when dropped, even if an assertion failed half way.
struct Teardown {
    args: Vec<String>,
    done: bool,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if !self.done {
            let o = tool(&self.args);
            if !o.status.success() {
                eprintln!("teardown failed: delete the resource group and the KeeperLogging app registration by hand");
            }
        }
    }
}

#[test]
fn setup_verify_status_and_teardown_against_real_azure() {
    if env("KEEPER_AZMON_LIVE").as_deref() != Some("1") {
        eprintln!("skipped: set KEEPER_AZMON_LIVE=1 and KEEPER_AZMON_LIVE_SUBSCRIPTION to run against real Azure");
        return;
    }
    let Some(subscription) = env("KEEPER_AZMON_LIVE_SUBSCRIPTION") else {
        eprintln!("skipped: KEEPER_AZMON_LIVE=1 but KEEPER_AZMON_LIVE_SUBSCRIPTION is not set");
        return;
    };
    let cloud = env("KEEPER_AZMON_LIVE_CLOUD").unwrap_or_else(|| "public".into());
    let location = env("KEEPER_AZMON_LIVE_LOCATION").unwrap_or_else(|| {
        if cloud.starts_with("usgov") {
            "usgovvirginia".into()
        } else {
            "eastus".into()
        }
    });
    let auth = env("KEEPER_AZMON_LIVE_AUTH").unwrap_or_else(|| "auto".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state.json").display().to_string();
    let secret = dir.path().join("secret.txt").display().to_string();
    // A resource group of its own, so that teardown (and a person cleaning up by hand) touches nothing else.
    let suffix = uuid_suffix(dir.path());
    let group = format!("keeper-azmon-live-{suffix}");
    let app = format!("KeeperLogging-live-{suffix}");
    let mut connection = strings(&["--cloud", &cloud, "--auth", &auth, "--state", &state]);
    if let Some(t) = env("KEEPER_AZMON_LIVE_TENANT") {
        connection.extend(strings(&["--tenant", &t]));
    }
    let with = |cmd: &str, extra: &[&str]| {
        let mut a = vec![cmd.to_string()];
        a.extend(connection.iter().cloned());
        a.extend(strings(extra));
        a
    };

    let mut teardown = Teardown {
        args: with("teardown", &["--yes", "--force-delete-workspace"]),
        done: false,
    };
    let o = tool(&with(
        "setup",
        &[
            "--subscription",
            &subscription,
            "--resource-group",
            &group,
            "--create-resource-group",
            "--location",
            &location,
            "--app-name",
            &app,
            "--yes",
            "--secret-file",
            &secret,
        ],
    ));
    assert!(o.status.success(), "setup failed");
    // Right after setup, as an admin pasting the values into the console would: the secret, the role and the
    // table take minutes to be usable; --wait waits through that.
    let o = tool(&with(
        "verify",
        &["--wait", "--timeout", "1200", "--secret-file", &secret],
    ));
    assert!(o.status.success(), "verify --wait failed");
    let o = tool(&with("status", &[]));
    assert!(o.status.success(), "status reports problems");
    // A second setup would change nothing.
    let o = tool(&with(
        "setup",
        &[
            "--subscription",
            &subscription,
            "--resource-group",
            &group,
            "--location",
            &location,
            "--app-name",
            &app,
            "--dry-run",
            "--output",
            "json",
        ],
    ));
    assert!(o.status.success(), "setup --dry-run after setup failed");
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    let actions: Vec<&str> = plan["plan"]
        .as_array()
        .map(|steps| steps.iter().filter_map(|s| s["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        !actions.is_empty() && actions.iter().all(|a| *a == "reuse"),
        "a re-run would write: {plan}"
    );
    teardown.done = true;
    let o = tool(&teardown.args);
    assert!(o.status.success(), "teardown failed");
}

/// Eight hex digits that differ between runs (from the temporary directory's random name).
fn uuid_suffix(dir: &Path) -> String {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut h: u32 = 2166136261;
    for b in name.bytes().chain(std::process::id().to_le_bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(16777619);
    }
    format!("{h:08x}")
}
