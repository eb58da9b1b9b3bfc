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
