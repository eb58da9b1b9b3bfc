//! The README's first command: `keeper-azmon demo` runs setup and verify against an in-process azure-sim.

use std::process::Command;

fn demo(cloud: &str) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(["demo", "--cloud", cloud, "--dir"])
        .arg(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        // The demo's own waits (polls, verify's retries) at 1/100: the flow is what is tested, not its pace.
        .env("KEEPER_AZMON_TIME_SCALE", "0.01")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("binary runs");
    (o, dir)
}

#[test]
fn demo_sets_up_and_verifies_in_both_simulated_clouds() {
    // Both clouds at once: each demo runs its own simulator in its own directory.
    std::thread::scope(|s| {
        for cloud in ["usgov", "public"] {
            s.spawn(move || demo_works_in(cloud));
        }
    });
}

fn demo_works_in(cloud: &str) {
    let (o, dir) = demo(cloud);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert!(o.status.success(), "demo --cloud {cloud}: {err}");
    let all = format!("{out}{err}");
    for want in [
        "Azure Tenant ID",
        "Application (client) ID",
        "Endpoint URL",
        "/streams/Custom-KeeperLogs_CL?api-version=2023-01-01",
        "the Admin Console values work",
    ] {
        assert!(
            all.contains(want),
            "demo --cloud {cloud} shows {want:?}:\n{all}"
        );
    }
    let secret =
        std::fs::read_to_string(dir.path().join("client-secret.txt")).expect("secret file");
    assert!(!secret.trim().is_empty());
    assert!(
        !all.contains(secret.trim()),
        "the secret value is not printed: it is in the file"
    );
    let state = std::fs::read_to_string(dir.path().join("keeper-azmon.state.json")).expect("state");
    assert!(!state.contains(secret.trim()), "nor stored in the state");
    if cloud == "usgov" {
        assert!(
            all.contains("usgovvirginia") || state.contains("usgovvirginia"),
            "{state}"
        );
    }
}

/// The demo's own temporary directories under `tmp`.
fn demo_dirs(tmp: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(tmp)
        .expect("read_dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keeper-azmon-demo-"))
        })
        .collect()
}

fn demo_command(home: &std::path::Path, tmp: &std::path::Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args(["demo", "--cloud", "public"])
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TMPDIR", tmp)
        .env("KEEPER_AZMON_TIME_SCALE", "0.01")
        .stdin(std::process::Stdio::null());
    cmd
}

#[test]
fn the_demos_temporary_directory_and_its_secret_are_removed_at_the_end() {
    let home = tempfile::tempdir().expect("tempdir");
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = demo_command(home.path(), tmp.path(), &[])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("the simulator's"),
        "the card's values are the simulator's: {err}"
    );
    assert!(
        demo_dirs(tmp.path()).is_empty(),
        "{:?}",
        demo_dirs(tmp.path())
    );
}

#[test]
fn demo_keep_running_serves_the_exported_commands_until_ctrl_c() {
    use std::io::BufRead;
    let home = tempfile::tempdir().expect("tempdir");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = demo_command(home.path(), tmp.path(), &["--keep-running"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawns");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut exports = vec![];
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.expect("line");
        seen.push_str(&line);
        seen.push('\n');
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            exports.push((k.to_string(), v.trim_matches('\'').to_string()));
        }
        if line.contains("Ctrl-C stops the simulator") {
            break;
        }
    }
    for cmd in ["keeper-azmon status", "send", "rotate-secret", "teardown"] {
        assert!(seen.contains(cmd), "{cmd}: {seen}");
    }
    let names: Vec<&str> = exports.iter().map(|(k, _)| k.as_str()).collect();
    for k in [
        "KEEPER_AZMON_CLOUD",
        "KEEPER_AZMON_STATE",
        "AZURE_CLIENT_SECRET",
    ] {
        assert!(names.contains(&k), "{k}: {seen}");
    }
    // `status` against the running simulator, with nothing but the exported environment.
    let status = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(["status", "-o", "json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(exports.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("status runs");
    let out = String::from_utf8_lossy(&status.stdout);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("status JSON");
    assert!(
        matches!(status.status.code(), Some(0) | Some(5)),
        "healthy (perhaps waiting for Keeper's first event): {out}\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(v["items"].as_array().is_some_and(|i| !i.is_empty()), "{v}");
    // Ctrl-C: the demo ends cleanly, and its directory (named by the exports) stays.
    let pid = child.id().to_string();
    let kill = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let done = child.wait().expect("waits");
    assert!(done.success(), "{done:?}");
    let state = &exports
        .iter()
        .find(|(k, _)| k == "KEEPER_AZMON_STATE")
        .expect("state")
        .1;
    assert!(std::path::Path::new(state).exists(), "kept: {state}");
}
