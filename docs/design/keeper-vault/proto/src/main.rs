//! Prototype: drive keeper-secrets-manager-core 17.3.0 against an in-process fake Keeper (no
//! network) through the SDK's custom post function, and check each behaviour issue 14 relies on.

mod fake;
mod kcrypto;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use fake::{Fault, FakeFolder, FakeKeeper, FakeRecord, Shared};
use kcrypto as kc;
use keeper_secrets_manager_core::core::{ClientOptions, SecretsManager};
use keeper_secrets_manager_core::crypto::CryptoUtils;
use keeper_secrets_manager_core::custom_error::KSMRError;
use keeper_secrets_manager_core::dto::dtos::RecordCreate;
use keeper_secrets_manager_core::dto::field_structs::{KeeperField, Login, Text, URL};
use keeper_secrets_manager_core::dto::payload::QueryOptions;
use keeper_secrets_manager_core::enums::KvStoreType;
use keeper_secrets_manager_core::storage::{InMemoryKeyValueStorage, KeyValueStorage};
use keeper_secrets_manager_core::Record;
use serde_json::{Value, json};

const GOV_HOST: &str = "govcloud.keepersecurity.us";

type R = Result<(), String>;

fn e(err: KSMRError) -> String {
    format!("{err:?} / {err}")
}

fn uid() -> String {
    kc::b64url(&kc::random_key()[..16])
}

fn login_record(title: &str, login: &str, password: &str) -> Value {
    json!({
        "title": title, "type": "login", "notes": "",
        "fields": [
            {"type": "login", "value": [login]},
            {"type": "password", "value": [password]},
            {"type": "url", "value": []},
            {"type": "fileRef", "value": []},
            {"type": "oneTimeCode", "value": []},
        ],
        "custom": [],
    })
}

/// A fake holding one record (and one shared folder), plus a bound base64 config for it.
fn seeded(editable: bool) -> Result<(Shared, String, String, String), String> {
    let mut fk = FakeKeeper::new(GOV_HOST);
    let rec_uid = uid();
    let folder_uid = uid();
    fk.records.insert(
        rec_uid.clone(),
        FakeRecord {
            key: kc::random_key(),
            data: login_record("azmon-prod", "11111111-2222-3333-4444-555555555555", "s3cr3t-v1"),
            revision: 3,
            editable,
            folder: None,
        },
    );
    fk.folders.insert(
        folder_uid.clone(),
        FakeFolder { key: kc::random_key(), name: "Azure".into(), editable },
    );
    let config = bound_config(&mut fk)?;
    Ok((Arc::new(Mutex::new(fk)), config, rec_uid, folder_uid))
}

/// What the Keeper vault's "Base64 config" export looks like, for a device registered in the fake.
fn bound_config(fk: &mut FakeKeeper) -> Result<String, String> {
    let der = CryptoUtils::generate_private_key_der().map_err(e)?;
    let private_b64 = kc::b64(&der);
    let public = CryptoUtils::extract_public_key_bytes(&private_b64).map_err(e)?;
    let client_id = kc::client_id_for(&kc::random_key());
    fk.clients.insert(client_id.clone(), Some(public));
    let mut cfg = json!({
        "hostname": fk.host,
        "clientId": client_id,
        "privateKey": private_b64,
        "serverPublicKeyId": "10",
        "appKey": kc::b64(&fk.app_key),
        "appOwnerPublicKey": kc::b64(&kc::public_sec1(&fk.owner_secret)),
    });
    if let Some(spk) = fk.server_public_b64url() {
        cfg["serverPublicKey"] = json!(spk); // test-only: lets the fake unwrap the transmission key
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(cfg.to_string()))
}

fn manager(
    shared: &Shared,
    config: KvStoreType,
    token: Option<&str>,
    sleeps: Option<Arc<Mutex<Vec<Duration>>>>,
) -> Result<SecretsManager, String> {
    let mut opts = match token {
        Some(t) => ClientOptions::new_client_options_with_token(t.to_string(), config),
        None => ClientOptions::new_client_options(config),
    };
    if token.is_some() {
        let spk = shared.lock().map_err(|_| "poisoned")?.server_public_b64url();
        if let Some(spk) = spk {
            opts.set_server_public_key(&spk);
        }
    }
    let s2 = shared.clone();
    opts.set_custom_post_function(move |url, tk, ep| FakeKeeper::post(&s2, url, tk, ep));
    let mut sm = SecretsManager::new(opts).map_err(e)?;
    let sleeps = sleeps.unwrap_or_default();
    sm.set_custom_sleep_function(move |d| sleeps.lock().expect("sleeps").push(d));
    Ok(sm)
}

fn from_b64(shared: &Shared, cfg: &str) -> Result<SecretsManager, String> {
    let storage = InMemoryKeyValueStorage::new(Some(cfg.to_string())).map_err(e)?;
    manager(shared, KvStoreType::InMemory(storage), None, None)
}

fn one(sm: &mut SecretsManager, uid: &str) -> Result<Record, String> {
    let mut recs = sm.get_secrets(vec![uid.to_string()]).map_err(e)?;
    if recs.len() != 1 {
        return Err(format!("expected 1 record, got {}", recs.len()));
    }
    Ok(recs.remove(0))
}

fn field(rec: &Record, kind: &str) -> Result<String, String> {
    let v = rec.get_standard_field_value(kind, true).map_err(e)?;
    v.as_str().map(String::from).ok_or(format!("{kind} is {v}"))
}

// ---- scenarios ------------------------------------------------------------------------------

fn reads_password_from_base64_config() -> R {
    let (shared, cfg, rec_uid, _) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    let rec = one(&mut sm, &rec_uid)?;
    assert_eq(field(&rec, "password")?, "s3cr3t-v1")?;
    assert_eq(rec.revision, Some(3))?;
    assert_eq(rec.is_editable, true)?;
    let by_notation = sm.get_notation(format!("keeper://{rec_uid}/field/password")).map_err(e)?;
    assert_eq(by_notation, json!("s3cr3t-v1"))
}

fn one_time_token_binds_and_config_saves_0600() -> R {
    let mut fk = FakeKeeper::new(GOV_HOST);
    let token_bytes = kc::random_key();
    let cid = kc::client_id_for(&token_bytes);
    fk.clients.insert(cid.clone(), None);
    fk.pending_tokens.insert(cid, token_bytes.to_vec());
    let rec_uid = uid();
    fk.records.insert(
        rec_uid.clone(),
        FakeRecord { key: kc::random_key(), data: login_record("t", "l", "pw"), revision: 1, editable: true, folder: None },
    );
    let shared = Arc::new(Mutex::new(fk));
    let storage = InMemoryKeyValueStorage::new(None).map_err(e)?;
    // "GOV:" selects govcloud.keepersecurity.us; the fake only answers on that host.
    let token = format!("GOV:{}", kc::b64url(&token_bytes));
    let mut sm = manager(&shared, KvStoreType::InMemory(storage), Some(&token), None)?;
    let recs = sm.get_secrets(vec![]).map_err(e)?; // redeems the token (two get_secret calls)
    assert_eq(recs.len(), 1usize)?;
    // Export the now-bound config ourselves and write it 0600, atomically.
    let map = sm.config.read_storage().map_err(e)?;
    let json_cfg = serde_json::to_string(&map).map_err(|x| x.to_string())?;
    for k in ["appKey", "appOwnerPublicKey", "clientId", "privateKey", "hostname"] {
        if !json_cfg.contains(&format!("\"{k}\"")) {
            return Err(format!("bound config lacks {k}: keys {:?}", map.keys().collect::<Vec<_>>()));
        }
    }
    if json_cfg.contains("clientKey") {
        return Err("the spent one-time token is still in the config".into());
    }
    let path = std::env::temp_dir().join(format!("ksm-proto-{}.json", std::process::id()));
    save_0600(&path, json_cfg.as_bytes()).map_err(|x| x.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).map_err(|x| x.to_string())?.permissions().mode() & 0o777;
    assert_eq(mode, 0o600u32)?;
    // Reload from the saved file (JSON, not base64: InMemoryKeyValueStorage takes either).
    let text = std::fs::read_to_string(&path).map_err(|x| x.to_string())?;
    let _ = std::fs::remove_file(&path);
    let mut sm2 = from_b64(&shared, &text)?;
    assert_eq(field(&one(&mut sm2, &rec_uid)?, "password")?, "pw")?;
    let calls = shared.lock().map_err(|_| "poisoned")?.calls.clone();
    assert_eq(calls, vec!["get_secret".to_string(), "get_secret".into(), "get_secret".into()])
}

fn save_0600(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Set a typed field, adding it when the record type lacks it.
fn set_typed(rec: &mut Record, kind: &str, value: &str) -> Result<(), String> {
    if rec.get_standard_field_mut(kind).is_ok() {
        rec.set_standard_field_value_mut(kind, json!(value)).map_err(e)
    } else {
        let f = [("type", json!(kind)), ("value", json!([value]))];
        rec.insert_field("fields", f.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).map_err(e)
    }
}

/// Set a custom field by label (type "text"), adding it when absent.
fn set_custom(rec: &mut Record, label: &str, value: &str) -> Result<(), String> {
    let exists = rec
        .record_dict
        .get("custom")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|f| f["label"] == json!(label)));
    if exists {
        rec.set_custom_field_value_mut(label, json!(value)).map_err(e)
    } else {
        let f = [("type", json!("text")), ("label", json!(label)), ("value", json!([value]))];
        rec.insert_field("custom", f.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).map_err(e)?;
        rec.update().map_err(e) // refresh raw_json; update_secret serialises record_dict anyway
    }
}

fn updates_typed_and_custom_fields() -> R {
    let (shared, cfg, rec_uid, _) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    let mut rec = one(&mut sm, &rec_uid)?;
    set_typed(&mut rec, "login", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")?;
    set_typed(&mut rec, "password", "s3cr3t-v2")?;
    set_typed(&mut rec, "url", "https://dce-x.usgovvirginia-1.ingest.monitor.azure.us")?;
    set_custom(&mut rec, "Azure Tenant ID", "tenant-guid")?;
    set_custom(&mut rec, "Secret key id", "key-id-1")?;
    sm.update_secret(rec).map_err(e)?;
    // Second update through a fresh read: revision moved on, existing custom field is replaced.
    let mut rec = one(&mut sm, &rec_uid)?;
    assert_eq(rec.revision, Some(4))?;
    set_custom(&mut rec, "Secret key id", "key-id-2")?;
    rec.record_dict.remove("record_type"); // Record::update() adds this non-Keeper key; drop it
    sm.update_secret(rec).map_err(e)?;
    let rec = one(&mut sm, &rec_uid)?;
    assert_eq(field(&rec, "password")?, "s3cr3t-v2")?;
    assert_eq(field(&rec, "url")?, "https://dce-x.usgovvirginia-1.ingest.monitor.azure.us")?;
    assert_eq(rec.get_custom_field_value("Secret key id", true).map_err(e)?, json!("key-id-2"))?;
    assert_eq(rec.get_custom_field_value("Azure Tenant ID", true).map_err(e)?, json!("tenant-guid"))?;
    let stored = shared.lock().map_err(|_| "poisoned")?.records[&rec_uid].data.clone();
    println!("    stored record JSON keys after update: {:?}", keys(&stored));
    if stored.get("record_type").is_some() {
        return Err("record_type leaked into the vault record".into());
    }
    // A stale revision (someone edited the record meanwhile) is refused by the server.
    let mut stale = rec.clone();
    stale.revision = Some(1);
    let err = sm.update_secret(stale).err().ok_or("stale update accepted")?;
    println!("    stale revision -> {}", err);
    Ok(())
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn creates_record_in_shared_folder() -> R {
    let (shared, cfg, _, folder_uid) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    let folders = sm.get_folders().map_err(e)?;
    assert_eq(folders.iter().map(|f| (f.folder_uid.clone(), f.name.clone())).collect::<Vec<_>>(), vec![(folder_uid.clone(), "Azure".to_string())])?;
    let mut rc = RecordCreate::new("login", "keeper-azmon: prod (usgov)", None);
    rc.append_standard_fields(Login::new_login("client-id".into()));
    let mut pw = KeeperField::new("password", None); // Password::new needs the password-gen feature
    pw.value = json!(["s3cr3t-new"]);
    rc.append_standard_fields(pw);
    rc.append_standard_fields(URL::new_url("https://dce.example/".into()));
    rc.append_custom_field(Text::new("tenant-guid".into(), Some("Azure Tenant ID".into()), false, false));
    let new_uid = sm.create_secret(&folder_uid, rc).map_err(e)?;
    let rec = one(&mut sm, &new_uid)?;
    assert_eq(field(&rec, "password")?, "s3cr3t-new")?;
    assert_eq(rec.folder_uid.clone(), folder_uid.clone())?;
    // Reading the folder: get_secrets filtered by folder.
    let in_folder = sm.get_secrets_with_options(QueryOptions::new(vec![], vec![folder_uid])).map_err(e)?;
    assert_eq(in_folder.len(), 1usize)?;
    let deleted = sm.delete_secret(vec![new_uid.clone()]).map_err(e)?;
    println!("    delete_secret returned {deleted:?}");
    deleted.contains(&new_uid).then_some(()).ok_or("not deleted".into())
}

fn read_only_application() -> R {
    let (shared, cfg, rec_uid, folder_uid) = seeded(false)?;
    let mut sm = from_b64(&shared, &cfg)?;
    let mut rec = one(&mut sm, &rec_uid)?;
    assert_eq(rec.is_editable, false)?; // the preflight signal, before any write
    set_typed(&mut rec, "password", "nope")?;
    let err = sm.update_secret(rec).err().ok_or("read-only update accepted")?;
    println!("    update on read-only record -> {err:?}");
    let rc = RecordCreate::new("login", "x", None);
    let err = sm.create_secret(&folder_uid, rc).err().ok_or("read-only create accepted")?;
    println!("    create in read-only folder -> {err:?}");
    Ok(())
}

fn unknown_record_is_empty_not_error() -> R {
    let (shared, cfg, _, _) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    let recs = sm.get_secrets(vec![uid()]).map_err(e)?;
    assert_eq(recs.len(), 0usize)?;
    let err = sm.get_notation(format!("keeper://{}/field/password", uid())).err().ok_or("notation found it")?;
    println!("    notation on unknown uid -> {err:?}");
    Ok(())
}

fn throttled_then_exhausted() -> R {
    let (shared, cfg, rec_uid, _) = seeded(true)?;
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let storage = InMemoryKeyValueStorage::new(Some(cfg)).map_err(e)?;
    let mut sm = manager(&shared, KvStoreType::InMemory(storage), None, Some(sleeps.clone()))?;
    {
        let mut fk = shared.lock().map_err(|_| "poisoned")?;
        fk.fault("get_secret", Fault::Throttled);
        fk.fault("get_secret", Fault::Throttled);
    }
    one(&mut sm, &rec_uid)?;
    println!("    two throttles -> success after sleeps {:?}", sleeps.lock().map_err(|_| "poisoned")?);
    {
        let mut fk = shared.lock().map_err(|_| "poisoned")?;
        for _ in 0..6 {
            fk.fault("get_secret", Fault::Throttled);
        }
    }
    let err = sm.get_secrets(vec![rec_uid]).err().ok_or("six throttles succeeded")?;
    println!("    six throttles -> {err:?}");
    matches!(err, KSMRError::Throttled(_)).then_some(()).ok_or("not Throttled".into())
}

fn sign_in_and_transport_failures() -> R {
    let (shared, cfg, rec_uid, _) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    shared.lock().map_err(|_| "poisoned")?.fault("get_secret", Fault::SignatureInvalid);
    let err = sm.get_secrets(vec![rec_uid.clone()]).err().ok_or("accepted")?;
    println!("    signature rejected -> {err:?}");
    shared.lock().map_err(|_| "poisoned")?.fault("get_secret", Fault::Unreachable);
    let err = sm.get_secrets(vec![rec_uid.clone()]).err().ok_or("accepted")?;
    println!("    unreachable -> {err:?}");
    // A config for a device the server does not know (revoked / another app).
    let cfg2 = {
        let mut fk = shared.lock().map_err(|_| "poisoned")?;
        let before: Vec<String> = fk.clients.keys().cloned().collect();
        let cfg2 = bound_config(&mut fk)?;
        fk.clients.retain(|k, _| before.contains(k));
        cfg2
    };
    let mut sm2 = from_b64(&shared, &cfg2)?;
    let err = sm2.get_secrets(vec![rec_uid]).err().ok_or("accepted")?;
    println!("    unknown client -> {err:?}");
    Ok(())
}

fn malformed_configs() -> R {
    for bad in ["not-base64-{", "e30=", "eyJjbGllbnRJZCI6MX0=", "eyJib2d1cyI6IngifQ=="] {
        let r = InMemoryKeyValueStorage::new(Some(bad.to_string()))
            .map_err(e)
            .and_then(|s| {
                let o = ClientOptions::new_client_options(KvStoreType::InMemory(s));
                SecretsManager::new(o).map(|_| ()).map_err(e)
            });
        println!("    config {bad:?} -> {r:?}");
        if r.is_ok() {
            return Err(format!("{bad} accepted"));
        }
    }
    // Well-formed JSON with a broken key passes new(): only the first call finds out.
    let (shared, _, rec_uid, _) = seeded(true)?;
    let bad = r#"{"hostname":"govcloud.keepersecurity.us","clientId":"x","privateKey":"AAAA","appKey":"AAAA","serverPublicKeyId":"10"}"#;
    let mut sm = from_b64(&shared, bad)?;
    let err = sm.get_secrets(vec![rec_uid]).err().ok_or("bad key accepted")?;
    println!("    config with a broken privateKey: new() ok, first call -> {err:?}");
    Ok(())
}

fn sdk_panics_on_reply_without_records() -> R {
    let (shared, cfg, rec_uid, _) = seeded(true)?;
    let mut sm = from_b64(&shared, &cfg)?;
    shared.lock().map_err(|_| "poisoned")?.fault("get_secret", Fault::RawBody("{}".into()));
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sm.get_secrets(vec![rec_uid])));
    std::panic::set_hook(prev);
    match r {
        Err(_) => {
            println!("    a 200 reply lacking \"records\" PANICS inside the SDK (unwrap)");
            Ok(())
        }
        Ok(x) => Err(format!("no panic: {:?}", x.map(|v| v.len()))),
    }
}

fn runs_inside_tokio_spawn_blocking() -> R {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|x| x.to_string())?;
    rt.block_on(async {
        let (shared, cfg, rec_uid, _) = seeded(true)?;
        // Build, use and drop the SDK (and its reqwest::blocking::Client) on a blocking thread.
        tokio::task::spawn_blocking(move || -> R {
            let mut sm = from_b64(&shared, &cfg)?;
            assert_eq(field(&one(&mut sm, &rec_uid)?, "password")?, "s3cr3t-v1")
        })
        .await
        .map_err(|x| x.to_string())?
    })
}

/// The tool's own post function will be sync code that awaits its async HTTP client: check that
/// `Handle::block_on` works from the SDK's call, made on a `spawn_blocking` thread.
fn post_function_can_block_on_async_client() -> R {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|x| x.to_string())?;
    rt.block_on(async {
        let (shared, cfg, rec_uid, _) = seeded(true)?;
        tokio::task::spawn_blocking(move || -> R {
            let storage = InMemoryKeyValueStorage::new(Some(cfg)).map_err(e)?;
            let mut opts = ClientOptions::new_client_options(KvStoreType::InMemory(storage));
            let handle = tokio::runtime::Handle::current();
            opts.set_custom_post_function(move |url, tk, ep| {
                let s = shared.clone();
                handle.block_on(async move {
                    tokio::task::yield_now().await; // stands in for `client.post(url).send().await`
                    FakeKeeper::post(&s, url, tk, ep)
                })
            });
            let mut sm = SecretsManager::new(opts).map_err(e)?;
            assert_eq(field(&one(&mut sm, &rec_uid)?, "password")?, "s3cr3t-v1")
        })
        .await
        .map_err(|x| x.to_string())?
    })
}

fn assert_eq<T: PartialEq + std::fmt::Debug, U: Into<T>>(got: T, want: U) -> R {
    let want = want.into();
    if got == want { Ok(()) } else { Err(format!("got {got:?}, want {want:?}")) }
}

fn main() {
    for var in ["KSM_CONFIG", "KSM_TOKEN", "KSM_HOSTNAME", "KSM_SKIP_VERIFY", "KSM_CONFIG_FILE"] {
        if std::env::var_os(var).is_some() {
            eprintln!("warning: {var} is set and changes the SDK's behaviour");
        }
    }
    let scenarios: Vec<(&str, fn() -> R)> = vec![
        ("reads password from a base64 config", reads_password_from_base64_config),
        ("one-time token binds; config saved 0600", one_time_token_binds_and_config_saves_0600),
        ("updates typed and custom fields", updates_typed_and_custom_fields),
        ("creates a record in a shared folder", creates_record_in_shared_folder),
        ("read-only application", read_only_application),
        ("unknown record", unknown_record_is_empty_not_error),
        ("throttling", throttled_then_exhausted),
        ("sign-in and transport failures", sign_in_and_transport_failures),
        ("malformed configs", malformed_configs),
        ("SDK robustness on a bad 200", sdk_panics_on_reply_without_records),
        ("inside tokio spawn_blocking", runs_inside_tokio_spawn_blocking),
        ("post function block_on an async client", post_function_can_block_on_async_client),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in scenarios {
        match f() {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err(m) => {
                failed += 1;
                println!("FAIL {name}: {m}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
