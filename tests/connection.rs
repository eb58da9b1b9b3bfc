//! One set of connection flags: every command that talks to Azure takes --cloud, --auth and --tenant, and those
//! that find resources take --subscription; a flag that disagrees with the state file is refused before any
//! request; --tenant reaches the Azure CLI; and an Azure CLI set to AzureUSGovernment (GCC High or DoD) is never
//! taken for one of them without asking.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `keeper-azmon CMD --help`.
fn help(cmd: &str) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args([cmd, "--help"])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{cmd} --help");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_command_that_talks_to_azure_takes_the_connection_flags() {
    for cmd in [
        "setup",
        "status",
        "teardown",
        "rotate-secret",
        "verify",
        "send",
    ] {
        let h = help(cmd);
        for flag in ["--cloud", "--auth", "--tenant"] {
            assert!(h.contains(flag), "{cmd} has no {flag}:\n{h}");
        }
    }
    // The subscription means something where resources are found or made.
    for cmd in ["setup", "status", "teardown"] {
        assert!(
            help(cmd).contains("--subscription"),
            "{cmd} has no --subscription"
        );
    }
}

#[tokio::test]
async fn status_and_teardown_take_tenant_and_subscription_and_refuse_other_ones() {
    let w = World::public().await;
    assert_ok(&w.setup(&[]).await);
    let op = w.sim.operator();
    let state = w.state_path().display().to_string();
    let cloud = w.profile.display().to_string();
    let with = |cmd: &str, extra: &[&str]| {
        let mut a = strings(&[cmd, "--cloud", &cloud, "--auth", "env", "--state", &state]);
        a.extend(strings(extra));
        a
    };

    let o = w
        .run(&with(
            "status",
            &[
                "--tenant",
                &op.tenant_id,
                "--subscription",
                &op.subscription_id,
            ],
        ))
        .await;
    assert_ok(&o);

    // Another tenant or subscription than the deployment's: refused before any request.
    let other = "00000000-0000-4000-8000-000000000001";
    let before = w.sim.request_log().len();
    for args in [
        with("status", &["--tenant", other]),
        with("status", &["--subscription", other]),
        with("teardown", &["--tenant", other, "--yes"]),
        with("teardown", &["--subscription", other, "--yes"]),
        with("rotate-secret", &["--tenant", other, "--show-secret"]),
    ] {
        let o = w.run(&args).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(other) && err.contains("hint:"), "{err}");
    }
    assert_eq!(
        w.sim.request_log().len(),
        before,
        "nothing was asked of Azure"
    );

    let o = w
        .run(&with(
            "teardown",
            &[
                "--tenant",
                &op.tenant_id,
                "--subscription",
                &op.subscription_id,
                "--yes",
            ],
        ))
        .await;
    assert_ok(&o);
}

#[cfg_attr(windows, ignore = "the stand-in az is a POSIX shell script")]
#[tokio::test(flavor = "multi_thread")]
async fn the_azure_cli_is_asked_for_the_deployments_tenant() {
    let w = World::public().await;
    assert_ok(&w.setup(&[]).await);
    let op = w.sim.operator();
    let bin = fake_az(w.dir.path(), &w);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let args = strings(&[
        "status",
        "--cloud",
        &w.profile.display().to_string(),
        "--auth",
        "cli",
        "--state",
        &w.state_path().display().to_string(),
    ]);
    // Without --tenant: the state file's tenant, not the CLI's default one.
    let o = run_env(&w, &args, &[("PATH", path.as_str())]).await;
    assert_ok(&o);
    let calls = std::fs::read_to_string(w.dir.path().join("az-calls.log")).expect("az was called");
    assert!(!calls.is_empty());
    assert!(
        calls
            .lines()
            .all(|l| l.contains(&format!("--tenant {}", op.tenant_id))),
        "{calls}"
    );
}

/// A HOME whose Azure CLI is signed in and set to `cloud`.
fn azure_cli_home(dir: &Path, cloud: &str) -> PathBuf {
    let home = dir.join(format!("home-{cloud}"));
    let azure = home.join(".azure");
    std::fs::create_dir_all(&azure).expect("dir");
    std::fs::write(
        azure.join("config"),
        format!("[core]\noutput = json\n\n[cloud]\nname = {cloud}\n"),
    )
    .expect("config");
    std::fs::write(azure.join("azureProfile.json"), "{\"subscriptions\": []}").expect("profile");
    home
}

#[tokio::test]
async fn an_azure_cli_on_us_government_is_not_taken_for_gcc_high_or_dod_without_a_terminal() {
    let w = World::public().await;
    let home = azure_cli_home(w.dir.path(), "AzureUSGovernment");
    let h = home.display().to_string();
    let sub = w.sim.operator().subscription_id;
    let state = w.state_path().display().to_string();
    for args in [
        strings(&[
            "setup",
            "--subscription",
            &sub,
            "--resource-group",
            "rg-keeper",
            "--location",
            "usgovvirginia",
            "--yes",
            "--state",
            &state,
        ]),
        strings(&[
            "status",
            "--subscription",
            &sub,
            "--deployment",
            "rg-keeper",
            "--state",
            &state,
        ]),
    ] {
        // stdin is not a terminal in tests: nobody to ask.
        let o = run_env(&w, &args, &[("HOME", h.as_str())]).await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("AzureUSGovernment"), "{err}");
        assert!(
            err.contains("--cloud usgov ") && err.contains("--cloud usgov-dod"),
            "the hint names both: {err}"
        );
        assert!(err.contains("dod-graph.microsoft.us"), "{err}");
    }
    assert!(w.sim.request_log().is_empty(), "nothing was asked of Azure");
}

#[test]
fn on_a_terminal_the_us_government_cloud_is_asked_for_by_its_graph() {
    use expectrl::session::OsSession as Session;
    use expectrl::{ControlCode, Expect};
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::public());
    let home = azure_cli_home(w.dir.path(), "AzureUSGovernment");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args([
        "status",
        "--subscription",
        &w.sim.operator().subscription_id,
        "--deployment",
        "rg-keeper",
        "--state",
        &w.state_path().display().to_string(),
    ])
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", &home)
    .env("TERM", "xterm-256color")
    .env("NO_COLOR", "1");
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(std::time::Duration::from_secs(60)));
    p.expect("Which Azure US Government cloud")
        .expect("the question");
    p.expect("graph.microsoft.us").expect("GCC High's Graph");
    p.expect("dod-graph.microsoft.us").expect("DoD's Graph");
    // Nothing chosen: nothing was asked of Azure.
    p.send(ControlCode::EndOfText).expect("ctrl-c");
    let _ = p.expect(expectrl::Eof);
    assert!(w.sim.request_log().is_empty());
}
