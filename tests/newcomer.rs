//! A newcomer's first hour (issue 27): what a pipeline without a terminal is told, all at once.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn setup_without_flags_names_every_missing_input_in_one_refusal() {
    let w = World::public().await;
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
        ])
        .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for flag in [
        "--cloud",
        "--subscription",
        "--resource-group",
        "--location",
    ] {
        assert!(
            err.contains(&format!("{flag} is required")),
            "{flag}: {err}"
        );
    }
    for env in [
        "KEEPER_AZMON_CLOUD",
        "KEEPER_AZMON_SUBSCRIPTION",
        "KEEPER_AZMON_RESOURCE_GROUP",
        "KEEPER_AZMON_LOCATION",
    ] {
        assert!(err.contains(env), "{env}: {err}");
    }
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");

    // Two missing: both named, with the cloud given.
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--subscription".into(),
            w.sim.operator().subscription_id,
        ])
        .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--resource-group is required") && err.contains("--location is required"),
        "{err}"
    );
    assert!(!err.contains("--cloud is required"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dash_o_is_output_as_in_the_az_cli() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let o = w.run(&w.command_args("status", &["-o", "json"])).await;
    let v = json_out(&o);
    assert!(v.is_object(), "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_sign_in_endpoint_is_a_network_error_naming_host_and_port() {
    let w = World::public().await;
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    // A cloud profile whose sign-in endpoint is a port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    profile["authority_host"] = format!("https://127.0.0.1:{closed}/").into();
    let unreachable = w.dir.path().join("unreachable-cloud.json");
    std::fs::write(&unreachable, profile.to_string()).expect("write");
    let mut args = vec![
        "verify".to_string(),
        "-v".into(),
        "--state".into(),
        w.state_path().display().to_string(),
        "--cloud".into(),
        unreachable.display().to_string(),
        "--secret-file".into(),
        secret_file.display().to_string(),
    ];
    let o = w.run(&args).await;
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.contains(&format!("127.0.0.1:{closed}")),
        "names the host and port: {err}"
    );
    assert!(err.contains("cannot reach"), "a network error: {err}");
    for blame in ["secret is wrong", "client id", "az login"] {
        assert!(!err.contains(blame), "no credential hint ({blame}): {err}");
    }
    assert!(err.contains("retrying"), "the retries show at -v: {err}");
    // status, as the operator, says the same.
    args[0] = "status".into();
    args.retain(|a| a != "--secret-file" && !a.ends_with("secret.txt"));
    args.extend(["--auth".to_string(), "env".into()]);
    let o = w.run(&args).await;
    let err = stderr(&o);
    assert!(
        err.contains(&format!("127.0.0.1:{closed}")) && err.contains("cannot reach"),
        "{err}"
    );
    assert!(!err.contains("az login"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_the_exit_codes() {
    let w = World::public().await;
    let o = w.run(&["--help".to_string()]).await;
    assert_ok(&o);
    let out = stdout(&o);
    for code in ["Exit codes", "2 bad input", "3 sign-in", "4 status", "130"] {
        assert!(out.contains(code), "{code}: {out}");
    }
}

/// Every file under `dir`, with its content.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setup_dry_run_writes_nothing_not_even_a_lock_also_when_sign_in_fails() {
    let w = World::public().await;
    let before = files(w.dir.path());
    let o = w.run(&w.setup_args(&["--dry-run"])).await;
    assert_ok(&o);
    let o = run_env(
        &w,
        &w.setup_args(&["--dry-run"]),
        &[("AZURE_CLIENT_SECRET", "wrong")],
    )
    .await;
    assert!(!o.status.success(), "sign-in fails: {}", stderr(&o));
    let after = files(w.dir.path());
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(added.is_empty(), "a dry run wrote {added:?}");
    assert_eq!(before, after);
    assert_eq!(w.sim.write_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_az_clis_cloud_names_are_accepted_beside_ours() {
    let w = World::public().await;
    let o = w
        .run(&["cloud".to_string(), "show".into(), "AzureCloud".into()])
        .await;
    assert_ok(&o);
    assert!(
        stdout(&o).contains("management.azure.com"),
        "{}",
        stdout(&o)
    );
    let mut args = w.setup_args(&[]);
    let at = args.iter().position(|a| a == "--cloud").expect("--cloud") + 1;
    args[at] = "AzureUSGovernment".into();
    let o = w.run(&args).await;
    assert_refused(&o, &["usgov", "usgov-dod"]);
    args[at] = "AzureCloudd".into();
    let o = w.run(&args).await;
    assert_refused(&o, &["did you mean --cloud AzureCloud?"]);
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_with_output_json_also_writes_a_json_error_object_on_stdout() {
    let w = World::public().await;
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
            "-o".into(),
            "json".into(),
        ])
        .await;
    assert_eq!(o.status.code(), Some(2));
    let out = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object on stdout");
    assert_eq!(v["error"]["code"], "InvalidInput");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--subscription"),
        "{v}"
    );
    assert!(v["error"]["hint"].is_string(), "{v}");
    // stderr keeps the human text.
    assert!(stderr(&o).contains("error:"), "{}", stderr(&o));

    // Without --output json, stdout stays empty.
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
        ])
        .await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).trim().is_empty(), "{}", stdout(&o));
}
