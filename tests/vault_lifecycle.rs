//! End-to-end tests of the Keeper vault's life around the record (issue 14), against azure-sim's fake Keeper
//! Secrets Manager backend: a one-time access token redeemed once and its config saved, a base64 config the state
//! never keeps, and the record at teardown.

mod common;

use azure_sim::{SimCloud, SimConfig};
use common::keeper::*;
use common::*;
use serde_json::Value;

/// The file mode of `path` (unix permission bits).
#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

#[tokio::test]
async fn a_one_time_token_binds_once_and_its_config_is_saved_0600_where_the_user_says() {
    let w = World::public().await;
    let uid = w.sim.keeper_add_record("Azure Monitor Logs", true);
    let token = w.sim.keeper_token();
    assert!(token.starts_with("US:"), "{token}");
    let out = w.dir.path().join("ksm-bound.json");
    let out_arg = out.display().to_string();

    // Without --ksm-config-out a token is refused before Keeper or Azure is asked anything (it stays unspent).
    let o = w
        .run(&bare(
            &w,
            &["--ksm-config", &token, "--keeper-record", &uid],
        ))
        .await;
    assert_refused(&o, &["--ksm-config-out"]);
    assert_eq!(w.sim.write_count(), 0, "nothing written in Azure");
    assert!(w.sim.keeper_calls().is_empty(), "Keeper not asked");

    let args = bare(
        &w,
        &[
            "--ksm-config",
            &token,
            "--ksm-config-out",
            &out_arg,
            "--keeper-record",
            &uid,
        ],
    );
    let o = w.run(&args).await;
    assert_ok(&o);
    w.settle();
    assert!(
        !password(&w, &uid).is_empty(),
        "the record holds the secret"
    );
    // The binding: the first get_secret brings the device key and gets the app key back, the SDK reads again.
    assert_eq!(
        &w.sim.keeper_calls()[..2],
        ["get_secret", "get_secret"],
        "{:?}",
        w.sim.keeper_calls()
    );
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("saved")).expect("JSON config");
    for key in [
        "clientId",
        "privateKey",
        "appKey",
        "appOwnerPublicKey",
        "hostname",
    ] {
        assert!(saved[key].is_string(), "{key} in {saved}");
    }
    assert_eq!(
        saved["hostname"], "keepersecurity.com",
        "US: names Keeper's US host"
    );
    assert!(
        saved.get("clientKey").is_none(),
        "the spent token is not kept"
    );
    // The state remembers where the config is, never what it holds (nor the token).
    let state_text = std::fs::read_to_string(w.state_path()).expect("state");
    let canonical = std::fs::canonicalize(&out).expect("path");
    assert_eq!(
        w.state()["keeper"]["config_path"],
        canonical.display().to_string()
    );
    let token_key = token.split_once(':').map(|t| t.1).unwrap_or_default();
    let app_key = saved["appKey"].as_str().unwrap_or_default();
    assert!(!state_text.contains(token_key) && !state_text.contains(app_key));
    assert!(!stderr(&o).contains(token_key) && !stdout(&o).contains(token_key));

    // Later commands reach the record through the saved file the state names.
    assert_ok(&w.run(&after(&w, "verify", &[])).await);
    // The same command line again: the file already holds this token's config, which is used as it is.
    let calls = w.sim.keeper_calls().len();
    assert_ok(&w.run(&args).await);
    assert!(w.sim.keeper_calls().len() > calls);
    assert_eq!(
        serde_json::from_str::<Value>(&std::fs::read_to_string(&out).expect("saved")).ok(),
        Some(saved.clone()),
        "the saved config is left as it was"
    );

    // The token a second time, for another file: Keeper checks the new device key against the one it bound.
    let writes = w.sim.write_count();
    let other = w.dir.path().join("ksm-second.json");
    let o = w
        .run(&bare(
            &w,
            &[
                "--ksm-config",
                &token,
                "--ksm-config-out",
                &other.display().to_string(),
                "--keeper-record",
                &uid,
            ],
        ))
        .await;
    assert_eq!(
        o.status.code(),
        Some(3),
        "a sign-in refusal: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("Signature is invalid") && stderr(&o).contains("--ksm-config-out"),
        "{}",
        stderr(&o)
    );
    assert!(!other.exists(), "nothing saved for a refused token");
    assert_eq!(w.sim.write_count(), writes, "nothing written in Azure");
}

#[tokio::test]
async fn a_govcloud_token_binds_on_keepers_govcloud_host() {
    govcloud_token_binds(|t| t).await;
}

#[tokio::test]
async fn a_token_may_name_keepers_host_instead_of_its_region() {
    govcloud_token_binds(|t| t.replacen("GOV:", "govcloud.keepersecurity.us:", 1)).await;
}

/// Setup in US Government with a GovCloud token (written as `spell` makes it) binds on Keeper's GovCloud host.
async fn govcloud_token_binds(spell: fn(String) -> String) {
    let w = World::start(SimConfig {
        cloud: SimCloud::UsGov,
        ..sim_config()
    })
    .await;
    let uid = w.sim.keeper_add_record("Azure Monitor Logs", true);
    let token = w.sim.keeper_token();
    assert!(token.starts_with("GOV:"), "{token}");
    let token = spell(token);
    let out = w.dir.path().join("ksm-gov.json");
    let mut a = bare(
        &w,
        &[
            "--ksm-config",
            &token,
            "--ksm-config-out",
            &out.display().to_string(),
            "--keeper-record",
            &uid,
        ],
    );
    let p = a.iter().position(|x| x == "eastus").expect("location");
    a[p] = "usgovvirginia".into();
    assert_ok(&w.run(&a).await);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("saved")).expect("JSON config");
    assert_eq!(saved["hostname"], "govcloud.keepersecurity.us");
    assert!(!password(&w, &uid).is_empty());
}

#[tokio::test]
async fn a_token_keeper_never_issued_is_refused_before_any_azure_write() {
    let (w, uid, _) = keeper_world(true).await;
    let out = w.dir.path().join("ksm.json");
    let o = w
        .run(&bare(
            &w,
            &[
                "--ksm-config",
                "US:bm90LWEtdG9rZW4ta2VlcGVyLWhhcy1pc3N1ZWQtMDAw",
                "--ksm-config-out",
                &out.display().to_string(),
                "--keeper-record",
                &uid,
            ],
        ))
        .await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Unable to validate application access"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("hint:"));
    assert!(!out.exists());
    assert_eq!(w.sim.write_count(), 0);
}

#[tokio::test]
async fn teardown_refuses_to_delete_a_record_it_was_given_and_deletes_nothing() {
    let (w, uid, config) = keeper_world(true).await;
    assert_ok(
        &w.run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await,
    );
    let state = w.state();
    let writes = w.sim.write_count();
    let o = w
        .run(&after(
            &w,
            "teardown",
            &["--yes", "--delete-keeper-record", "--ksm-config", &config],
        ))
        .await;
    assert_refused(&o, &[uid.as_str(), "--delete-keeper-record"]);
    assert_eq!(w.sim.write_count(), writes, "nothing deleted in Azure");
    assert!(w.sim.keeper_record(&uid).is_some(), "the record is left");
    assert!(!w.sim.keeper_calls().contains(&"delete_secret".to_string()));
    assert_eq!(w.state(), state, "the state is unchanged");
}

#[tokio::test]
async fn a_base64_config_is_never_stored_and_later_commands_ask_for_it_again() {
    let w = World::public().await;
    let folder = w.sim.keeper_add_folder("Azure", true);
    let config = w.sim.keeper_config();
    let env = [("KSM_CONFIG", config.as_str())];
    let o = run_env(&w, &bare(&w, &["--keeper-folder", &folder]), &env).await;
    assert_ok(&o);
    w.settle();
    let uid = w.sim.keeper_folder_records(&folder)[0].clone();
    let state_text = std::fs::read_to_string(w.state_path()).expect("state");
    assert!(state_text.contains(&uid));
    assert!(
        !state_text.contains(&config[..40]),
        "no config content in the state"
    );
    assert_eq!(w.state()["keeper"]["config_path"], Value::Null);

    // Each command that needs the record says how to give the config again, before any Azure write.
    for (cmd, extra) in [
        ("verify", vec![]),
        ("rotate-secret", vec!["--remove-old"]),
        ("status", vec![]),
        ("teardown", vec!["--yes", "--delete-keeper-record"]),
    ] {
        let writes = w.sim.write_count();
        let o = w.run(&after(&w, cmd, &extra)).await;
        assert_refused(
            &o,
            &[uid.as_str(), "pass --ksm-config or set KSM_CONFIG again"],
        );
        assert_eq!(
            w.sim.write_count(),
            writes,
            "{cmd}: nothing written in Azure"
        );
    }
    assert!(w.sim.keeper_record(&uid).is_some());

    // Without the flag, teardown leaves even the record it made.
    let plan = w
        .run(&after(&w, "teardown", &["--dry-run", "--output", "json"]))
        .await;
    assert_ok(&plan);
    let plan = json_out(&plan);
    assert!(plan["keep"].to_string().contains(&uid), "{plan}");
    assert!(
        !plan["delete"].to_string().contains("keeper_record"),
        "{plan}"
    );

    // With the config again, teardown deletes the record the tool made, after Azure's resources.
    let t = run_env(
        &w,
        &after(
            &w,
            "teardown",
            &["--yes", "--delete-keeper-record", "--output", "json"],
        ),
        &env,
    )
    .await;
    assert_ok(&t);
    assert!(w.sim.keeper_record(&uid).is_none(), "the record is gone");
    assert_eq!(
        w.sim.keeper_calls().last().map(String::as_str),
        Some("delete_secret")
    );
    let deleted = json_out(&t)["deleted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        deleted.last().map(|d| d["step"].clone()),
        Some("keeper_record".into())
    );
    assert_eq!(w.state()["keeper"], Value::Null);
}
