//! Operator sign-in other than a client secret, against azure-sim: workload identity (a federated token file),
//! `--auth auto` choosing it, the Azure CLI (a stand-in `az` on PATH that gets its tokens from the simulator),
//! and the Azure CLI's cloud: used when `--cloud` is missing, refused when it is another than `--cloud`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Runs the binary without the operator's client secret, with `env` added.
async fn run_without_secret(
    w: &World,
    args: &[String],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = tool_command(w.dir.path(), &w.sim, args);
    cmd.env_remove("AZURE_CLIENT_SECRET");
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("binary runs")
}

fn with_auth(mut args: Vec<String>, mode: &str) -> Vec<String> {
    let i = args.iter().position(|a| a == "--auth").expect("--auth") + 1;
    args[i] = mode.to_string();
    args
}

fn apps_named(w: &World, name: &str) -> usize {
    w.sim
        .snapshot()
        .applications()
        .iter()
        .filter(|a| a["displayName"] == name)
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn workload_identity_signs_in_with_the_federated_token_file_and_auto_picks_it() {
    let w = World::public().await;
    let token_file = w.dir.path().join("federated-token");
    std::fs::write(&token_file, w.sim.operator().federated_token).expect("token file");
    let tf = token_file.display().to_string();
    let env = [("AZURE_FEDERATED_TOKEN_FILE", tf.as_str())];

    let o = run_without_secret(&w, &with_auth(w.setup_args(&[]), "workload"), &env).await;
    assert_ok(&o);
    assert_eq!(apps_named(&w, "KeeperLogging"), 1);

    // auto: no client secret in the environment, a federated token file: workload identity, and a re-run changes nothing.
    let writes = w.sim.write_count();
    let o = run_without_secret(&w, &with_auth(w.setup_args(&[]), "auto"), &env).await;
    assert_ok(&o);
    assert_eq!(w.sim.write_count(), writes, "a re-run makes no write");

    // A token the tenant does not trust: refused, the mode named, nothing made.
    let w2 = World::public().await;
    std::fs::write(&token_file, "not-the-federated-token").expect("token file");
    let o = run_without_secret(&w2, &with_auth(w2.setup_args(&[]), "workload"), &env).await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).to_lowercase().contains("workload identity"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        w2.sim.write_count(),
        0,
        "nothing written with a refused credential"
    );
}

#[cfg_attr(windows, ignore = "the stand-in az is a POSIX shell script")]
#[tokio::test(flavor = "multi_thread")]
async fn the_azure_cli_login_is_used_through_az_with_one_token_per_audience() {
    let w = World::public().await;
    let bin = fake_az(w.dir.path(), &w);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = run_without_secret(
        &w,
        &with_auth(w.setup_args(&["--output", "json"]), "cli"),
        &[
            ("PATH", path.as_str()),
            ("AZURE_CLIENT_ID", ""),
            ("AZURE_TENANT_ID", ""),
        ],
    )
    .await;
    assert_ok(&o);
    let out: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert!(
        !out["client_id"].as_str().unwrap_or_default().is_empty(),
        "{out}"
    );
    assert_eq!(apps_named(&w, "KeeperLogging"), 1);
    let calls = std::fs::read_to_string(w.dir.path().join("az-calls.log")).expect("az was called");
    let scopes: std::collections::BTreeSet<&str> = calls
        .lines()
        .filter_map(|l| l.split("--scope ").nth(1))
        .map(|s| s.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(
        scopes.len(),
        2,
        "ARM and Graph, each fetched once and cached: {calls}"
    );
    assert!(
        calls.lines().count() <= 3,
        "tokens are cached per audience, not fetched per request: {calls}"
    );
    // The Graph tenant is the subscription's: the CLI is asked for its tokens there, not in its default tenant.
    let tenant = w.sim.operator().tenant_id;
    let graph_calls: Vec<&str> = calls.lines().filter(|l| l.contains("graph")).collect();
    assert!(!graph_calls.is_empty(), "{calls}");
    for l in graph_calls {
        assert!(
            l.contains(&format!("--tenant {tenant}")),
            "the Graph token is asked for in the subscription's tenant: {l}"
        );
    }
    // teardown, with the tenant the state file records: its Graph calls go to the same tenant.
    std::fs::write(w.dir.path().join("az-calls.log"), "").expect("reset log");
    let o = run_without_secret(
        &w,
        &[
            "teardown",
            "--state",
            &w.state_path().display().to_string(),
            "--cloud",
            &w.profile.display().to_string(),
            "--auth",
            "cli",
            "--yes",
        ]
        .map(String::from),
        &[
            ("PATH", path.as_str()),
            ("AZURE_CLIENT_ID", ""),
            ("AZURE_TENANT_ID", ""),
        ],
    )
    .await;
    assert_ok(&o);
    assert_eq!(apps_named(&w, "KeeperLogging"), 0);
    let calls = std::fs::read_to_string(w.dir.path().join("az-calls.log")).expect("az was called");
    assert!(
        calls
            .lines()
            .all(|l| l.contains(&format!("--tenant {tenant}"))),
        "teardown asks for every token in the state's tenant: {calls}"
    );
}

fn azure_cli_home(dir: &Path, cloud: Option<&str>, signed_in: bool) -> std::path::PathBuf {
    let home = dir.join(format!("home-{}-{signed_in}", cloud.unwrap_or("default")));
    let azure = home.join(".azure");
    std::fs::create_dir_all(&azure).expect("dir");
    if let Some(c) = cloud {
        std::fs::write(
            azure.join("config"),
            format!("[core]\noutput = json\n\n[cloud]\nname = {c}\n"),
        )
        .expect("config");
    }
    if signed_in {
        std::fs::write(azure.join("azureProfile.json"), "{\"subscriptions\": []}")
            .expect("profile");
    }
    home
}

#[tokio::test(flavor = "multi_thread")]
async fn the_azure_cli_cloud_is_checked_against_cloud_and_never_guessed() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "setup",
            "--subscription",
            &sub,
            "--resource-group",
            "rg-keeper",
            "--location",
            "eastus",
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // Signed in to US Government, asked for Public: refused before any request, with the command that fixes it.
    let home = azure_cli_home(w.dir.path(), Some("AzureUSGovernment"), true);
    let h = home.display().to_string();
    let o = run_without_secret(
        &w,
        &args(&["--cloud", "public", "--auth", "cli"]),
        &[("HOME", h.as_str())],
    )
    .await;
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("AzureUSGovernment") && err.contains("az cloud set --name AzureCloud"),
        "{err}"
    );

    // The same, with the config directory moved by AZURE_CONFIG_DIR.
    let elsewhere = w.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    let moved = azure_cli_home(&elsewhere, Some("AzureChinaCloud"), true).join(".azure");
    let m = moved.display().to_string();
    let o = run_without_secret(
        &w,
        &args(&["--cloud", "usgov", "--auth", "cli"]),
        &[("AZURE_CONFIG_DIR", m.as_str())],
    )
    .await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("az cloud set --name AzureUSGovernment"),
        "{}",
        stderr(&o)
    );

    // Not signed in and no --cloud: the cloud is asked for by name, not guessed.
    let home = azure_cli_home(w.dir.path(), None, false);
    let h = home.display().to_string();
    let o = run_without_secret(&w, &args(&["--auth", "cli"]), &[("HOME", h.as_str())]).await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--cloud is required"), "{}", stderr(&o));
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_gets_a_new_token_when_its_tokens_run_out_and_makes_everything_once() {
    let w = World::public().await;
    // The DCR's PUT finds every token expired (ARM and Graph alike): refused with 401, never applied.
    w.sim.inject(azure_sim::Fault {
        method: Some("PUT".into()),
        path_contains: Some("dataCollectionRules/".into()),
        skip: 0,
        times: 1,
        writes_only: true,
        kind: azure_sim::FaultKind::ExpireTokens,
    });
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    let log = w.sim.request_log();
    assert!(
        log.iter().any(|r| r.status == 401),
        "the expired token was refused once: {log:?}"
    );
    let out: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let secret = std::fs::read_to_string(&secret_file).expect("secret");
    assert_complete(&w, &out, secret.trim()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_managed_identity_signs_in_through_the_platform_identity_endpoint() {
    let w = World::public().await;
    let op = w.sim.operator();
    let endpoint = format!("{}/msi/token", w.sim.base_url());
    let msi = |header: &str| -> Vec<(String, String)> {
        vec![
            ("IDENTITY_ENDPOINT".into(), endpoint.clone()),
            ("IDENTITY_HEADER".into(), header.into()),
        ]
    };
    let run = |args: Vec<String>, env: Vec<(String, String)>, client_id: Option<String>| {
        let mut cmd = tool_command(w.dir.path(), &w.sim, &args);
        cmd.env_remove("AZURE_CLIENT_SECRET")
            .env_remove("AZURE_CLIENT_ID");
        if let Some(c) = client_id {
            cmd.env("AZURE_CLIENT_ID", c);
        }
        cmd.envs(env);
        async move { cmd.output().await.expect("binary runs") }
    };

    // The wrong platform secret: refused, the mode named, nothing made.
    let o = run(with_auth(w.setup_args(&[]), "msi"), msi("wrong"), None).await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).to_lowercase().contains("managed identity"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.sim.write_count(), 0);

    // System-assigned: setup completes.
    let o = run(
        with_auth(w.setup_args(&[]), "msi"),
        msi(&op.identity_header),
        None,
    )
    .await;
    assert_ok(&o);
    assert_eq!(apps_named(&w, "KeeperLogging"), 1);
    assert!(
        w.sim
            .request_log()
            .iter()
            .any(|r| r.path == "/msi/token" && r.status == 200),
        "tokens came from the identity endpoint"
    );

    // User-assigned, named by AZURE_CLIENT_ID: the same identity, so a re-run writes nothing.
    let writes = w.sim.write_count();
    let o = run(
        with_auth(w.setup_args(&[]), "msi"),
        msi(&op.identity_header),
        Some(op.client_id.clone()),
    )
    .await;
    assert_ok(&o);
    assert_eq!(w.sim.write_count(), writes);
}
