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

/// The standard setup arguments with `--auth` set to `mode` and `--cloud` to `cloud`.
fn setup_with(w: &World, mode: &str, cloud: &str) -> Vec<String> {
    let mut args = w.setup_args(&[]);
    let at = args.iter().position(|a| a == "--auth").expect("--auth") + 1;
    args[at] = mode.into();
    let at = args.iter().position(|a| a == "--cloud").expect("--cloud") + 1;
    args[at] = cloud.into();
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_without_az_says_so_before_claiming_a_sign_in_and_names_the_way_on() {
    let w = World::public().await;
    let empty = w.dir.path().join("no-az-here");
    std::fs::create_dir_all(&empty).expect("dir");
    let mut cmd = tool_command(w.dir.path(), &w.sim, &setup_with(&w, "auto", "usgov"));
    cmd.env_remove("AZURE_CLIENT_SECRET").env("PATH", &empty);
    let o = cmd.output().await.expect("runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(!err.contains("signed in as"), "no premature claim: {err}");
    assert!(err.contains("`az` is not on PATH"), "{err}");
    assert!(err.contains("install the Azure CLI"), "{err}");
    assert!(err.contains("--auth env"), "{err}");
    assert!(
        err.contains("az cloud set --name AzureUSGovernment"),
        "the real cloud: {err}"
    );
    assert!(!err.contains("<cloud>"), "{err}");
    assert_eq!(w.sim.request_log().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_az_login_gets_a_hint_naming_the_clouds_az_name() {
    let w = World::public().await;
    let bin = w.dir.path().join("failing-az");
    std::fs::create_dir_all(&bin).expect("dir");
    let az = bin.join("az");
    std::fs::write(
        &az,
        "#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n",
    )
    .expect("az");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = w.dir.path().join("home-gov");
    std::fs::create_dir_all(home.join(".azure")).expect("dir");
    std::fs::write(
        home.join(".azure/config"),
        "[cloud]\nname = AzureUSGovernment\n",
    )
    .expect("config");
    std::fs::write(home.join(".azure/azureProfile.json"), "{}").expect("profile");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = tool_command(w.dir.path(), &w.sim, &setup_with(&w, "cli", "usgov"));
    cmd.env_remove("AZURE_CLIENT_SECRET")
        .env("PATH", path)
        .env("HOME", &home);
    let o = cmd.output().await.expect("runs");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(!err.contains("signed in as"), "{err}");
    assert!(
        err.contains("az cloud set --name AzureUSGovernment"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_display_name_location_is_refused_before_sign_in_with_arms_name() {
    let w = World::public().await;
    let mut args = w.setup_args(&[]);
    let at = args
        .iter()
        .position(|a| a == "--location")
        .expect("--location")
        + 1;
    args[at] = "East US".into();
    let o = w.run(&args).await;
    assert_refused(&o, &["'East US'", "did you mean --location eastus?"]);
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");
}

#[tokio::test(flavor = "multi_thread")]
async fn send_of_a_missing_file_fails_before_the_secret_is_read_or_anyone_signs_in() {
    let w = World::public().await;
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    let before = w.sim.request_log().len();
    let missing = w.dir.path().join("nonexistent.json");
    let o = w
        .run(&w.command_args(
            "send",
            &[
                "--secret-file",
                &secret_file.display().to_string(),
                &missing.display().to_string(),
            ],
        ))
        .await;
    assert_refused(&o, &["nonexistent.json", "does not exist"]);
    // Without a state file either: the file is named, not the tenant.
    let o = w
        .run(&[
            "send".to_string(),
            "--state".into(),
            w.dir.path().join("none.json").display().to_string(),
            missing.display().to_string(),
        ])
        .await;
    assert_refused(&o, &["nonexistent.json"]);
    assert!(!stderr(&o).contains("--tenant"), "{}", stderr(&o));
    assert_eq!(w.sim.request_log().len(), before, "no token was asked for");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_without_a_state_file_or_a_tag_is_refused_before_sign_in() {
    let w = World::public().await;
    let o = w.run(&w.command_args("status", &[])).await;
    assert_refused(&o, &["no state file", "--deployment"]);
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");
}

async fn help_of(w: &World, cmd: &str) -> String {
    let o = w.run(&[cmd.to_string(), "--help".into()]).await;
    assert_ok(&o);
    stdout(&o)
}

#[tokio::test(flavor = "multi_thread")]
async fn setups_help_marks_its_required_flags_which_clap_leaves_to_the_wizard() {
    let w = World::public().await;
    let help = help_of(&w, "setup").await;
    let (_, required) = help
        .split_once("Required (on a terminal, the wizard asks for what is missing):")
        .expect("a Required heading");
    for flag in ["--subscription", "--resource-group", "--location"] {
        assert!(required.contains(flag), "{flag} under Required: {help}");
    }
    // Not a clap requirement: the refusal is the tool's, with every missing input at once.
    let o = w
        .run(&["setup".to_string(), "--auth".into(), "env".into()])
        .await;
    assert!(
        !stderr(&o).contains("the following required arguments"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_secret_goes_to_secret_out_and_the_old_spelling_still_works_with_a_warning() {
    let w = World::public().await;
    let help = help_of(&w, "setup").await;
    assert!(help.contains("--secret-out <FILE>"), "{help}");
    assert!(help.contains("KEEPER_AZMON_SECRET_OUT"), "{help}");
    assert!(
        !help.contains("--secret-file"),
        "the old spelling is hidden: {help}"
    );
    let verify = help_of(&w, "verify").await;
    assert!(verify.contains("--secret-file <FILE>"), "{verify}");
    assert!(!verify.contains("--secret-out <"), "{verify}");

    // The new spelling: written, no warning.
    let (o, file) = w.setup_json().await;
    assert_ok(&o);
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));
    let first = std::fs::read_to_string(&file).expect("secret written");
    assert!(!first.trim().is_empty());
    w.settle();

    // rotate-secret with the old spelling: written, one warning line naming the new one.
    let old = w.dir.path().join("rotated-old-spelling.txt");
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &["--secret-file", &old.display().to_string(), "-o", "json"],
        ))
        .await;
    assert_ok(&o);
    let err = stderr(&o);
    let warnings: Vec<_> = err.lines().filter(|l| l.contains("deprecated")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("--secret-out"), "{err}");
    let second = std::fs::read_to_string(&old).expect("written through the old spelling");
    assert_ne!(first.trim(), second.trim());
    w.settle();

    // rotate-secret through KEEPER_AZMON_SECRET_OUT.
    let by_env = w.dir.path().join("rotated-env.txt");
    let o = run_env(
        &w,
        &w.command_args("rotate-secret", &["-o", "json"]),
        &[("KEEPER_AZMON_SECRET_OUT", &by_env.display().to_string())],
    )
    .await;
    assert_ok(&o);
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));
    let third = std::fs::read_to_string(&by_env).expect("written through the env var");
    assert_ne!(second.trim(), third.trim());

    // Both spellings at once: refused by the parser, before anything.
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &["--secret-file", "a.txt", "--secret-out", "b.txt"],
        ))
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_keeper_flags_help_fits_each_command() {
    let w = World::public().await;
    for cmd in ["setup", "rotate-secret"] {
        let help = help_of(&w, cmd).await;
        assert!(
            help.contains("the Keeper record to put the Admin Console values in"),
            "{cmd}: {help}"
        );
        assert!(help.contains("--ksm-config-out"), "{cmd}: {help}");
    }
    let status = help_of(&w, "status").await;
    assert!(
        status.contains("the Keeper record to read the Admin Console values from"),
        "{status}"
    );
    for cmd in ["status", "teardown"] {
        let help = help_of(&w, cmd).await;
        assert!(!help.contains("--ksm-config-out"), "{cmd}: {help}");
        assert!(!help.contains("one-time access token"), "{cmd}: {help}");
        assert!(
            !help.contains("to put the Admin Console values in"),
            "{cmd}: {help}"
        );
    }
    for cmd in ["verify", "send", "import-classic"] {
        let help = help_of(&w, cmd).await;
        assert!(
            !help.contains("--keeper-record"),
            "reads through --secret: {help}"
        );
        assert!(!help.contains("--keeper-folder"), "{cmd}: {help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_secret_dry_run_says_what_it_would_do_and_writes_nothing_anywhere() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    w.settle();
    let (writes, before) = (w.sim.write_count(), files(w.dir.path()));
    let out = w.dir.path().join("would-be-secret.txt");
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &[
                "--dry-run",
                "--secret-out",
                &out.display().to_string(),
                "-o",
                "json",
            ],
        ))
        .await;
    let v = json_out(&o);
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["adds_secret"], true, "{v}");
    assert!(
        v["deliver_to"]
            .as_str()
            .unwrap_or_default()
            .contains("would-be-secret.txt"),
        "{v}"
    );
    assert!(
        !v["expires"].as_str().unwrap_or_default().contains('.'),
        "to the second: {v}"
    );
    assert_eq!(w.sim.write_count(), writes, "no write in Azure");
    assert_eq!(files(w.dir.path()), before, "no file written, no lock");
    // The real one, with -y, writes.
    let o = w
        .run(&w.command_args(
            "rotate-secret",
            &[
                "-y",
                "--secret-out",
                &out.display().to_string(),
                "-o",
                "json",
            ],
        ))
        .await;
    assert_ok(&o);
    assert!(w.sim.write_count() > writes);
}

#[tokio::test(flavor = "multi_thread")]
async fn send_dry_run_previews_count_size_time_range_and_target_and_posts_nothing() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(std::time::Duration::from_secs(60)).await;
    let events = w.dir.path().join("events.json");
    std::fs::write(&events, sample_events().to_string()).expect("events");
    let writes = w.sim.write_count();
    let posts = |w: &World| {
        w.sim
            .request_log()
            .iter()
            .filter(|r| r.path.contains("/streams/"))
            .count()
    };
    let o = w
        .run(&w.command_args(
            "send",
            &[
                "--dry-run",
                "--format",
                "plain",
                "--secret-file",
                &secret,
                "-o",
                "json",
                &events.display().to_string(),
            ],
        ))
        .await;
    let v = json_out(&o);
    let n = sample_events().as_array().map_or(0, |a| a.len()) as u64;
    assert_eq!(v["dry_run"], true, "{v}");
    assert_eq!(v["events"], n, "{v}");
    assert!(v["bytes"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["requests"], 1, "{v}");
    assert_eq!(v["stream"], "Custom-KeeperLogs_CL", "{v}");
    assert!(
        v["endpoint_host"].as_str().is_some_and(|h| !h.is_empty()),
        "{v}"
    );
    assert!(v["first"].is_string() && v["last"].is_string(), "{v}");
    assert_eq!(posts(&w), 0, "nothing posted to Logs Ingestion");
    assert_eq!(w.sim.write_count(), writes);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscription_takes_a_name_looked_up_in_arms_list_and_refuses_an_unknown_or_ambiguous_one()
{
    let w = World::public().await;
    let secret = w.dir.path().join("s.txt").display().to_string();
    let with_sub = |sub: &str| {
        let mut args = w.setup_args(&["-o", "json", "--secret-out", &secret]);
        let at = args
            .iter()
            .position(|a| a == "--subscription")
            .expect("--subscription")
            + 1;
        args[at] = sub.into();
        args
    };
    let twin_a = "11111111-1111-1111-1111-111111111111";
    let twin_b = "22222222-2222-2222-2222-222222222222";
    w.sim.add_subscription(twin_a, "Twin", true);
    w.sim.add_subscription(twin_b, "twin", true);

    let o = w.run(&with_sub("No Such Subscription")).await;
    assert_refused(
        &o,
        &["'No Such Subscription'", "Keeper Sim Subscription", twin_a],
    );
    let o = w.run(&with_sub("Twin")).await;
    assert_refused(&o, &["names 2 subscriptions", twin_a, twin_b]);
    assert_eq!(w.sim.write_count(), 0, "refused before any write");

    // A bad input beside the name is still found before sign-in.
    let mut args = with_sub("keeper sim subscription");
    let at = args
        .iter()
        .position(|a| a == "--location")
        .expect("--location")
        + 1;
    args[at] = "East US".into();
    let before = w.sim.request_log().len();
    let o = w.run(&args).await;
    assert_refused(&o, &["did you mean --location eastus?"]);
    assert_eq!(w.sim.request_log().len(), before, "nothing asked of Azure");

    // The name, any case: the operator's subscription.
    let o = w.run(&with_sub("keeper sim subscription")).await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains(&w.sim.operator().subscription_id),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        w.state()["subscription_id"],
        w.sim.operator().subscription_id
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expiry_times_are_shown_to_the_second() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    let out = json_out(&o);
    let expires = out["secret_expires"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(expires.ends_with('Z') && !expires.contains('.'), "{out}");
    w.settle();
    let o = w.run(&w.command_args("status", &["-o", "json"])).await;
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("status JSON");
    let secret = v["items"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["item"] == "secret"))
        .cloned()
        .unwrap_or_default();
    let detail = secret["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("expires {expires}")), "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_lines_fit_100_columns_with_ids_whole_in_json_and_status_columns_align() {
    let w = World::public().await;
    let o = w.setup(&["--dry-run", "--sentinel"]).await;
    assert_ok(&o);
    let err = format!("{}{}", stdout(&o), stderr(&o));
    let plan: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("  create ") || l.starts_with("  reuse "))
        .collect();
    assert!(plan.len() > 10, "{err}");
    for l in &plan {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    assert!(!err.contains("/subscriptions/"), "ids shortened: {err}");
    let o = w.setup(&["--dry-run", "--sentinel", "-o", "json"]).await;
    assert!(
        stdout(&o).contains("/providers/Microsoft.Insights/dataCollectionRules/KeeperDCR"),
        "whole in JSON: {}",
        stdout(&o)
    );

    let o = w.setup(&["--sentinel"]).await;
    assert_ok(&o);
    w.settle();
    let o = w.run(&w.command_args("status", &[])).await;
    let out = stdout(&o);
    let items: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("  ✓ ") || l.starts_with("  ✗ "))
        .collect();
    assert!(items.iter().any(|l| l.contains("sentinel_rule:")), "{out}");
    // Where the health word begins, in characters (the marks are not ASCII).
    let health_at = |l: &str| {
        ["ok", "drifted", "missing", "expiring", "expired"]
            .iter()
            .filter_map(|h| l.find(&format!(" {h} ")))
            .min()
            .map(|b| l[..b].chars().count())
    };
    let columns: std::collections::BTreeSet<_> = items.iter().map(|l| health_at(l)).collect();
    assert_eq!(columns.len(), 1, "one health column: {out}");
    assert!(!columns.contains(&None), "{out}");
}
