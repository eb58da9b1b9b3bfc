//! End-to-end tests of the Keeper vault delivery (issue 14) against azure-sim's fake Keeper Secrets Manager
//! backend: the tool drives Keeper's real SDK, whose requests azure-sim unwraps and answers as Keeper does.

mod common;

use azure_sim::KeeperFault;
use common::keeper::*;
use common::*;
use serde_json::Value;

#[tokio::test]
async fn setup_stores_the_console_values_in_the_record_and_shows_no_secret() {
    let (w, uid, config) = keeper_world(true).await;
    let o = w
        .run(&bare(
            &w,
            &[
                "--output",
                "json",
                "--ksm-config",
                &config,
                "--keeper-record",
                &uid,
            ],
        ))
        .await;
    assert_ok(&o);
    w.settle();
    let out = json_out(&o);
    assert_eq!(out["client_secret"], Value::Null, "no secret on stdout");
    assert_eq!(out["keeper_record"], uid.as_str());
    let rec = w.sim.keeper_record(&uid).expect("the record");
    assert_eq!(
        field(&rec, "fields", "type", "login").as_deref(),
        out["client_id"].as_str()
    );
    assert_eq!(
        field(&rec, "fields", "type", "url").as_deref(),
        out["endpoint_url"].as_str()
    );
    assert_eq!(
        field(&rec, "custom", "label", "Azure Tenant ID").as_deref(),
        out["tenant_id"].as_str()
    );
    assert_eq!(
        field(&rec, "custom", "label", "Client Secret Key ID").as_deref(),
        out["secret_key_id"].as_str()
    );
    assert!(field(&rec, "custom", "label", "DCR Immutable ID").is_some());
    assert!(
        rec.get("record_type").is_none(),
        "no stray SDK key in the record"
    );
    let secret = password(&w, &uid);
    assert!(!stdout(&o).contains(&secret) && !stderr(&o).contains(&secret));
    // The state keeps where the record is, never the config or the value.
    let state = std::fs::read_to_string(w.state_path()).expect("state");
    assert!(state.contains(&uid) && !state.contains(&secret));
    assert!(!state.contains(&w.sim.keeper_config()[..40]));
    // The secret in the record works: a token as the new app.
    let t = token(
        &w.sim,
        out["tenant_id"].as_str().unwrap_or_default(),
        out["client_id"].as_str().unwrap_or_default(),
        &secret,
        "https://monitor.azure.com",
    )
    .await;
    assert!(t.status().is_success());
}

#[tokio::test]
async fn setup_verify_rotate_verify_round_trip_through_the_record() {
    let (w, uid, config) = keeper_world(true).await;
    let o = w
        .run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await;
    assert_ok(&o);
    w.settle();
    let first = password(&w, &uid);
    assert!(!stdout(&o).contains(&first), "the card does not show it");
    assert!(stdout(&o).contains(&uid), "the card names the record");

    // verify takes the secret from the record named in Keeper notation...
    let notation = format!("keeper://{uid}/field/password");
    let v = w
        .run(&after(
            &w,
            "verify",
            &["--secret", &notation, "--ksm-config", &config],
        ))
        .await;
    assert_ok(&v);
    // ...or from the state's record (and its config path) without any flag.
    assert_ok(&w.run(&after(&w, "verify", &[])).await);

    let app_id = w.state()["resources"]["application"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = w.run(&after(&w, "rotate-secret", &["--remove-old"])).await;
    assert_ok(&r);
    w.settle();
    let second = password(&w, &uid);
    assert_ne!(first, second, "the record holds the new value");
    assert!(!stdout(&r).contains(&second) && !stderr(&r).contains(&second));
    let key = w.state()["secret"]["key_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(w.state()["keeper"]["key_id"], key.as_str());
    let app = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .find(|a| a["id"] == app_id.as_str())
        .expect("the app");
    assert_eq!(
        key_ids(&app),
        vec![key],
        "the old secret is gone once the record has the new one"
    );
    assert_ok(&w.run(&after(&w, "verify", &[])).await);

    // status checks the record without reading out the value; teardown leaves the record.
    let s = w.run(&after(&w, "status", &["--output", "json"])).await;
    assert_ok(&s);
    let items = json_out(&s)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rec = items
        .iter()
        .find(|i| i["item"] == "keeper_record")
        .expect("the record item");
    assert_eq!(rec["health"], "ok", "{rec}");
    assert!(!stdout(&s).contains(&second));
    let t = w
        .run(&after(&w, "teardown", &["--yes", "--output", "json"]))
        .await;
    assert_ok(&t);
    assert!(stdout(&t).contains(&uid), "listed as kept: {}", stdout(&t));
    assert_eq!(password(&w, &uid), second, "the record is left as it was");
}

#[tokio::test]
async fn status_reports_a_record_that_lacks_the_current_secret() {
    let (w, uid, config) = keeper_world(true).await;
    assert_ok(
        &w.run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await,
    );
    // A rotation that could not reach the record leaves it behind the app.
    w.sim.keeper_inject("update_secret", KeeperFault::Fail);
    let r = w
        .run(&after(&w, "rotate-secret", &["--output", "json"]))
        .await;
    assert!(!r.status.success());
    assert!(
        json_out(&r)["client_secret"].is_string(),
        "shown once with the error"
    );
    let s = w.run(&after(&w, "status", &["--output", "json"])).await;
    assert_eq!(s.status.code(), Some(4), "{}", stderr(&s));
    let items = json_out(&s)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let rec = items
        .iter()
        .find(|i| i["item"] == "keeper_record")
        .expect("the record item");
    assert_eq!(rec["health"], "drifted", "{rec}");
}

#[tokio::test]
async fn each_keeper_refusal_comes_before_any_azure_write() {
    let (w, uid, config) = keeper_world(true).await;
    let read_only = w.sim.keeper_add_record("read only", false);
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        // A read-only share of the record.
        (
            bare(
                &w,
                &["--ksm-config", &config, "--keeper-record", &read_only],
            ),
            2,
            "--keeper-record",
        ),
        // A record not shared with the application.
        (
            bare(
                &w,
                &[
                    "--ksm-config",
                    &config,
                    "--keeper-record",
                    "AAAAAAAAAAAAAAAAAAAAAA",
                ],
            ),
            2,
            "--keeper-record",
        ),
        // A UID may begin with '-' (URL-safe base64): taken as the value, not as a flag.
        (
            bare(
                &w,
                &[
                    "--ksm-config",
                    &config,
                    "--keeper-record",
                    "-AAAAAAAAAAAAAAAAAAAAA",
                ],
            ),
            2,
            "is not shared",
        ),
        // Not a UID at all.
        (
            bare(&w, &["--ksm-config", &config, "--keeper-record", "nope"]),
            2,
            "--keeper-record",
        ),
        // A malformed config.
        (
            bare(
                &w,
                &["--ksm-config", "not-a-config", "--keeper-record", &uid],
            ),
            2,
            "--ksm-config",
        ),
        // A config file that is not there.
        (
            bare(
                &w,
                &[
                    "--ksm-config",
                    "missing-ksm-config.json",
                    "--keeper-record",
                    &uid,
                ],
            ),
            2,
            "missing-ksm-config.json",
        ),
        // No config.
        (bare(&w, &["--keeper-record", &uid]), 2, "--ksm-config"),
    ];
    for (args, code, names) in cases {
        let before = w.sim.write_count();
        let o = w.run(&args).await;
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert!(stderr(&o).contains(names), "names {names}: {}", stderr(&o));
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
        assert_eq!(w.sim.write_count(), before, "nothing written in Azure");
    }
    // A device Keeper no longer knows (revoked): a sign-in failure, exit 3.
    w.sim.keeper_revoke_devices();
    let before = w.sim.write_count();
    let o = w
        .run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await;
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(w.sim.write_count(), before);
    // KSM_HOSTNAME would move the vault's traffic: refused (before Keeper is even asked).
    let config = w.dir.path().join("ksm-config-2.txt");
    std::fs::write(&config, w.sim.keeper_config()).expect("config");
    let config = config.display().to_string();
    let o = run_env(
        &w,
        &bare(&w, &["--ksm-config", &config, "--keeper-record", &uid]),
        &[("KSM_HOSTNAME", "keepersecurity.eu")],
    )
    .await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("KSM_HOSTNAME"));
    assert_eq!(w.sim.write_count(), before);
}

#[tokio::test]
async fn a_throttled_keeper_is_waited_out() {
    let (w, uid, config) = keeper_world(true).await;
    w.sim.keeper_inject("get_secret", KeeperFault::Throttled);
    w.sim.keeper_inject("update_secret", KeeperFault::Throttled);
    let o = w
        .run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await;
    assert_ok(&o);
    assert!(!password(&w, &uid).is_empty());
    let calls = w.sim.keeper_calls();
    let n = |e: &str| calls.iter().filter(|c| *c == e).count();
    assert!(
        n("get_secret") >= 3 && n("update_secret") == 2,
        "retried: {calls:?}"
    );
}

#[tokio::test]
async fn a_failed_vault_write_shows_the_value_once_and_the_next_run_fills_the_record() {
    let (w, uid, config) = keeper_world(true).await;
    let secret_file = w.dir.path().join("secret.txt");
    // The preflight read passes; the write after the secret exists fails.
    w.sim.keeper_inject("update_secret", KeeperFault::Fail);
    let o = w
        .run(&bare(
            &w,
            &[
                "--ksm-config",
                &config,
                "--keeper-record",
                &uid,
                "--secret-file",
                &secret_file.display().to_string(),
            ],
        ))
        .await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains(&uid), "{}", stderr(&o));
    let kept = std::fs::read_to_string(&secret_file).expect("the value is not lost");
    assert!(!kept.trim().is_empty());
    assert_eq!(
        field(
            &w.sim.keeper_record(&uid).expect("rec"),
            "fields",
            "type",
            "password"
        ),
        None
    );
    // The next run makes a new secret for the record; the one written to the file waits for --finish.
    let again = w
        .run(&bare(
            &w,
            &["--ksm-config", &config, "--keeper-record", &uid],
        ))
        .await;
    assert_ok(&again);
    let now = password(&w, &uid);
    assert_ne!(now.trim(), kept.trim());
    assert_eq!(
        w.state()["retired_secrets"].as_array().map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_setup_rerun_brings_the_records_console_values_back_and_keeps_its_secret() {
    let (w, uid, config) = keeper_world(true).await;
    let args = bare(&w, &["--ksm-config", &config, "--keeper-record", &uid]);
    assert_ok(&w.run(&args).await);
    let secret = password(&w, &uid);
    let url = field(
        &w.sim.keeper_record(&uid).expect("rec"),
        "fields",
        "type",
        "url",
    );
    // Someone overwrites the Endpoint URL in the vault.
    let mut rec = w.sim.keeper_record(&uid).expect("rec");
    for f in rec["fields"].as_array_mut().expect("fields") {
        if f["type"] == "url" {
            f["value"] = serde_json::json!(["https://example.invalid"]);
        }
    }
    assert!(w.sim.keeper_put_record(&uid, rec));
    let s = w.run(&after(&w, "status", &["--output", "json"])).await;
    assert_eq!(
        s.status.code(),
        Some(4),
        "drift is a problem: {}",
        stdout(&s)
    );
    let writes = w
        .sim
        .keeper_calls()
        .iter()
        .filter(|c| *c == "update_secret")
        .count();
    assert_ok(&w.run(&args).await);
    let rec = w.sim.keeper_record(&uid).expect("rec");
    assert_eq!(
        field(&rec, "fields", "type", "url"),
        url,
        "the Endpoint URL is back"
    );
    assert_eq!(
        password(&w, &uid),
        secret,
        "no new secret for a record that holds the current one"
    );
    // A second re-run finds nothing to change and writes nothing.
    assert_ok(&w.run(&args).await);
    let now = w
        .sim
        .keeper_calls()
        .iter()
        .filter(|c| *c == "update_secret")
        .count();
    assert_eq!(now, writes + 1);
    assert_ok(&w.run(&after(&w, "status", &[])).await);
}

#[tokio::test]
async fn neither_the_secret_nor_the_ksm_config_reaches_the_most_verbose_logs() {
    let (w, uid, config) = keeper_world(true).await;
    let config_text = std::fs::read_to_string(&config).expect("config");
    let trace = [("KEEPER_AZMON_LOG", "trace")];
    let mut outputs = vec![
        run_env(
            &w,
            &bare(
                &w,
                &["-vv", "--ksm-config", &config, "--keeper-record", &uid],
            ),
            &trace,
        )
        .await,
    ];
    assert_ok(&outputs[0]);
    w.settle();
    let first = password(&w, &uid);
    outputs.push(run_env(&w, &after(&w, "verify", &["-vv"]), &trace).await);
    outputs.push(
        run_env(
            &w,
            &after(&w, "rotate-secret", &["-vv", "--remove-old"]),
            &trace,
        )
        .await,
    );
    outputs.push(run_env(&w, &after(&w, "status", &["-vv"]), &trace).await);
    let second = password(&w, &uid);
    for o in &outputs {
        assert_ok(o);
        let all = format!("{}{}", stdout(o), stderr(o));
        for s in [&first, &second, &config_text] {
            assert!(!all.contains(s.trim()), "a secret leaked:\n{all}");
        }
    }
}

#[tokio::test]
async fn keeper_folder_makes_the_record_once_before_any_azure_write() {
    let (w, _, config) = keeper_world(true).await;
    let folder = w.sim.keeper_add_folder("Azure", true);
    let read_only = w.sim.keeper_add_folder("Azure (read only)", false);
    // An unknown folder, and a folder the application may not add to: refused with nothing written in Azure.
    for (f, names) in [
        ("BBBBBBBBBBBBBBBBBBBBBB", "--keeper-folder"),
        (read_only.as_str(), "--keeper-folder"),
    ] {
        let o = w
            .run(&bare(&w, &["--ksm-config", &config, "--keeper-folder", f]))
            .await;
        assert_refused(&o, &[names]);
        assert_eq!(
            w.sim.write_count(),
            0,
            "nothing written in Azure: {}",
            stderr(&o)
        );
    }
    assert!(w.sim.keeper_folder_records(&read_only).is_empty());
    let args = bare(&w, &["--ksm-config", &config, "--keeper-folder", &folder]);
    let o = w.run(&args).await;
    assert_ok(&o);
    let made = w.sim.keeper_folder_records(&folder);
    assert_eq!(made.len(), 1, "one record in the folder");
    let uid = made[0].clone();
    assert_eq!(w.state()["keeper"]["record_uid"], uid.as_str());
    assert_eq!(w.state()["keeper"]["created"], true);
    let rec = w.sim.keeper_record(&uid).expect("rec");
    assert_eq!(rec["title"], "rg-keeper", "titled after the deployment");
    assert!(!password(&w, &uid).is_empty());
    // A re-run uses the record it made.
    assert_ok(&w.run(&args).await);
    assert_eq!(w.sim.keeper_folder_records(&folder), vec![uid.clone()]);
    w.settle();
    assert_ok(&w.run(&after(&w, "verify", &[])).await);
}

/// Standard base64 with padding, as the Keeper vault exports a config.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether `text` holds any 12 characters in a row of `secret`.
fn echoes(text: &str, secret: &str) -> bool {
    let s: Vec<char> = secret.chars().collect();
    s.windows(12)
        .any(|w| text.contains(&w.iter().collect::<String>()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_or_refused_ksm_config_is_never_echoed_and_the_error_names_the_broken_part() {
    let (w, uid, config_file) = keeper_world(true).await;
    // What a config holds that nobody may see: the device's private key, the app key, the client id.
    let private_key = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPrivateKeyMaterialNeverShown0123456789abcd";
    let app_key = "AppKeyMaterialThatIsSecretAsWell0123456789ab=";
    let client_id = "ClientIdOfTheDeviceNotToBeShownEither0123456789AB==";
    let config = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = serde_json::json!({
            "hostname": "keepersecurity.com",
            "clientId": client_id,
            "privateKey": private_key,
            "appKey": app_key,
            "serverPublicKeyId": "10",
        });
        edit(c.as_object_mut().expect("object"));
        c.to_string()
    };
    let bound = w.sim.keeper_config();
    let token = w.sim.keeper_token();
    let token_key = token
        .split_once(':')
        .map(|(_, k)| k.to_string())
        .expect("REGION:KEY");
    let broken_file = w.dir.path().join("broken-ksm-config.json");
    std::fs::write(
        &broken_file,
        config(&|c| {
            c.insert("privateKey".into(), "not base64 at all!".into());
        }),
    )
    .expect("write");
    let broken_file = broken_file.display().to_string();
    let cases: Vec<(String, &str)> = vec![
        // The vault's base64 with a full stop pasted after it.
        (format!("{bound}."), "not base64"),
        // JSON in quotes the shell kept.
        (format!("'{}'", config(&|_| {})), "character 1"),
        // A one-time access token whose region is not Keeper's.
        (
            format!("keepersecurity.co:{token_key}"),
            "region 'keepersecurity.co'",
        ),
        // JSON that breaks off.
        (config(&|_| {})[..120].to_string(), "line 1, column"),
        // Base64 of JSON whose private key is not a string, or missing, or not base64.
        (
            base64(
                config(&|c| {
                    c.insert("privateKey".into(), 42.into());
                })
                .as_bytes(),
            ),
            "privateKey is not a string",
        ),
        (
            config(&|c| {
                c.remove("clientId");
            }),
            "lacks clientId",
        ),
        (
            config(&|c| {
                c.insert("privateKey".into(), format!("{private_key}!!").into());
            }),
            "privateKey is not base64",
        ),
        // A key a config never holds.
        (
            config(&|c| {
                c.insert("privateKye".into(), private_key.into());
            }),
            "privateKye",
        ),
        // A file holding a config with a broken key: the file is named, its content is not shown.
        (broken_file.clone(), "privateKey is not base64"),
    ];
    let secrets = [
        private_key,
        app_key,
        client_id,
        bound.as_str(),
        token_key.as_str(),
    ];
    for (arg, names) in &cases {
        let before = w.sim.write_count();
        let o = w
            .run(&bare(&w, &["--ksm-config", arg, "--keeper-record", &uid]))
            .await;
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(names), "names {names}: {err}");
        assert!(err.contains("hint:"), "{err}");
        for s in secrets {
            assert!(!echoes(&err, s), "the config is echoed: {err}");
        }
        assert_eq!(w.sim.write_count(), before, "nothing written in Azure");
    }
    assert!(
        stderr(
            &w.run(&bare(
                &w,
                &["--ksm-config", &broken_file, "--keeper-record", &uid]
            ))
            .await
        )
        .contains(&broken_file),
        "a file is named by its path"
    );
    // Refused by Keeper: a revoked device's config, in a file and as its text; a token already spent.
    let redeemed = w.dir.path().join("redeemed.json").display().to_string();
    let o = w
        .run(&bare(
            &w,
            &[
                "--ksm-config",
                &token,
                "--ksm-config-out",
                &redeemed,
                "--keeper-record",
                &uid,
            ],
        ))
        .await;
    assert_ok(&o);
    let spent = w.dir.path().join("spent.json").display().to_string();
    w.sim.keeper_revoke_devices();
    for args in [
        vec!["--ksm-config", config_file.as_str()],
        vec!["--ksm-config", bound.as_str()],
        vec![
            "--ksm-config",
            token.as_str(),
            "--ksm-config-out",
            spent.as_str(),
        ],
    ] {
        let o = w
            .run(&bare(&w, &[&args[..], &["--keeper-record", &uid]].concat()))
            .await;
        let err = stderr(&o);
        assert!(!o.status.success(), "{err}");
        for s in secrets {
            assert!(!echoes(&err, s), "the config is echoed: {err}");
        }
    }
}
