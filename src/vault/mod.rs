//! The Keeper vault through Keeper Secrets Manager (Keeper's SDK): the KSM config, reaching Keeper, and the record
//! that holds the Admin Console values (issue 14; the SDK's behaviour is in docs/design/keeper-vault/NOTES.md).
//!
//! The SDK is blocking and can panic on replies it does not expect, so every call runs on a blocking thread
//! (`spawn_blocking`), and a panic comes back as an error. Its HTTP goes through the tool's own client (the post
//! function below): the tool's timeouts and CA, and, with a cloud profile that names `keeper_endpoint`, a
//! simulator instead of Keeper. A `Record` is never Debug-printed: its Debug shows every field value.
//!
//! A one-time access token is redeemed once ([`Vault::redeem`]): the SDK binds a new device key to it, and the
//! bound config it yields is saved (mode 0600) where `--ksm-config-out` says; every later call uses that config.

pub mod args;
pub mod config;
pub mod record;
pub mod target;

use std::path::{Path, PathBuf};

use keeper_secrets_manager_core::config_keys::ConfigKeys;
use keeper_secrets_manager_core::dto::dtos::RecordCreate;
use keeper_secrets_manager_core::dto::payload::{
    EncryptedPayload, KsmHttpResponse, TransmissionKey,
};
use keeper_secrets_manager_core::utils::bytes_to_base64;
use keeper_secrets_manager_core::{
    ClientOptions, InMemoryKeyValueStorage, KSMRError, KeyValueStorage, KvStoreType, Record,
    SecretsManager,
};

pub use self::config::KsmConfig;
use self::config::Source;
pub use self::record::RecordView;
use self::record::{set_custom, set_typed, view};
use crate::cloud::CloudProfile;
use crate::error::Error;
use crate::secret::SecretString;

/// The custom field labels the tool fills (the typed fields are login, password and url).
pub mod label {
    pub const TENANT: &str = "Azure Tenant ID";
    pub const KEY_ID: &str = "Client Secret Key ID";
    pub const EXPIRY: &str = "Client Secret Expires";
    pub const DCR: &str = "DCR Immutable ID";
    pub const DEPLOYMENT: &str = "keeper-azmon Deployment";
}

/// What went wrong with the vault, by what the user does about it.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the KSM config ({origin}) is not usable: {what}")]
    Config { origin: String, what: String },
    #[error("Keeper refused the KSM application's sign-in: {0}")]
    SignIn(String),
    #[error("Keeper refused the one-time access token in --ksm-config: {0}")]
    Token(String),
    #[error("record {0} is not shared with the KSM application (or does not exist)")]
    UnknownRecord(String),
    #[error("the KSM application may not edit record {0} (its share is read-only)")]
    ReadOnly(String),
    #[error("shared folder {0} is not shared with the KSM application (or does not exist)")]
    UnknownFolder(String),
    #[error(
        "the KSM application may not add records to shared folder {0} (its share is read-only)"
    )]
    ReadOnlyFolder(String),
    #[error("cannot reach Keeper: {0}")]
    Unreachable(String),
    #[error("Keeper is throttling the KSM application: {0}")]
    Throttled(String),
    #[error("Keeper refused the write: {0}")]
    Write(String),
    #[error("Keeper's SDK stopped on an answer it did not expect ({0})")]
    Panicked(String),
    #[error("environment variable {0}")]
    Environment(String),
}

impl VaultError {
    /// The same error with each of `secrets` taken out of its text: what Keeper's SDK says is never taken on
    /// trust not to quote the config.
    fn scrubbed(self, secrets: &[String]) -> VaultError {
        let s = |t: String| config::scrub(&t, secrets);
        match self {
            VaultError::Config { origin, what } => VaultError::Config {
                origin: s(origin),
                what: s(what),
            },
            VaultError::SignIn(t) => VaultError::SignIn(s(t)),
            VaultError::Token(t) => VaultError::Token(s(t)),
            VaultError::UnknownRecord(t) => VaultError::UnknownRecord(s(t)),
            VaultError::ReadOnly(t) => VaultError::ReadOnly(s(t)),
            VaultError::UnknownFolder(t) => VaultError::UnknownFolder(s(t)),
            VaultError::ReadOnlyFolder(t) => VaultError::ReadOnlyFolder(s(t)),
            VaultError::Unreachable(t) => VaultError::Unreachable(s(t)),
            VaultError::Throttled(t) => VaultError::Throttled(s(t)),
            VaultError::Write(t) => VaultError::Write(s(t)),
            VaultError::Panicked(t) => VaultError::Panicked(s(t)),
            VaultError::Environment(t) => VaultError::Environment(s(t)),
        }
    }

    /// The tool's error: a sign-in failure is exit 3, every other refusal exit 2, each naming the flag to look at.
    pub fn into_error(self) -> Error {
        let hint = match &self {
            VaultError::Config { .. } => "pass --ksm-config (or KSM_CONFIG) the file or base64 text of a KSM application config, or a one-time access token with --ksm-config-out: Keeper vault > Secrets Manager > the application > Devices > Add Device",
            VaultError::SignIn(_) => "the --ksm-config device may be revoked or locked to another IP address: add a new device to the KSM application and pass its config",
            VaultError::Token(_) => "a one-time access token binds one device, once: pass --ksm-config the file --ksm-config-out saved when it was first used, or make a new token (Keeper vault > Secrets Manager > the application > Devices > Add Device > One-Time Access Token)",
            VaultError::UnknownRecord(_) => "check --keeper-record, and share the record with the KSM application (Keeper vault > Secrets Manager > the application > Records)",
            VaultError::ReadOnly(_) => "edit the application's share of the --keeper-record record and turn on Can Edit",
            VaultError::UnknownFolder(_) => "check --keeper-folder (a shared folder's UID), and share the folder with the KSM application",
            VaultError::ReadOnlyFolder(_) => "edit the application's share of the --keeper-folder folder and turn on Can Edit",
            VaultError::Unreachable(_) | VaultError::Throttled(_) => "check the network path to Keeper (the --ksm-config host), then run the same command again",
            VaultError::Write(_) | VaultError::Panicked(_) => "run the same command again; if it persists, check the --keeper-record record in the Keeper vault",
            VaultError::Environment(_) => "unset it: the tool reaches Keeper only at the host the --ksm-config names, over its own verified TLS",
        };
        match self {
            e @ (VaultError::SignIn(_) | VaultError::Token(_)) => Error::Auth {
                what: e.to_string(),
                hint: hint.into(),
            },
            e => Error::input(e.to_string(), hint),
        }
    }
}

impl From<VaultError> for Error {
    fn from(e: VaultError) -> Error {
        e.into_error()
    }
}

/// Refuses the SDK's own environment switches that would move or weaken the tool's Keeper traffic
/// (NOTES.md §5): `KSM_HOSTNAME` sends every call to another host. `KSM_SKIP_VERIFY` has no effect (the tool's
/// client always verifies TLS), so it is only warned of.
fn check_environment() -> Result<(), VaultError> {
    if std::env::var_os("KSM_HOSTNAME").is_some_and(|v| !v.is_empty()) {
        return Err(VaultError::Environment(
            "KSM_HOSTNAME is set: it would send the vault's traffic to another host".into(),
        ));
    }
    if std::env::var_os("KSM_SKIP_VERIFY").is_some_and(|v| !v.is_empty()) {
        crate::console::note(format_args!("warning: KSM_SKIP_VERIFY is ignored: keeper-azmon always verifies Keeper's TLS certificate"));
    }
    Ok(())
}

/// A new client secret for the record: its value, key id and end date.
pub struct NewValue {
    pub secret: SecretString,
    pub key_id: String,
    pub expires: String,
}

/// The values setup and rotate-secret put into the record.
pub struct VaultValues {
    pub client_id: String,
    /// None: the record keeps its secret (a setup re-run refreshing the other values).
    pub secret: Option<NewValue>,
    pub endpoint_url: String,
    pub tenant_id: String,
    pub dcr_immutable_id: String,
    pub deployment: String,
}

/// The vault of one deployment: a KSM config and the tool's HTTP client.
#[derive(Clone)]
pub struct Vault {
    config: KsmConfig,
    http: reqwest::Client,
    /// Where KSM calls go instead of the config's host (a simulator's origin), from the cloud profile.
    endpoint: Option<String>,
    /// The server key a token is redeemed with instead of Keeper's published ones, from the cloud profile.
    server_key: Option<String>,
    /// `--ksm-config-out`: where the config a token yields is saved.
    out: Option<PathBuf>,
}

impl Vault {
    pub fn new(
        config: KsmConfig,
        http: reqwest::Client,
        profile: &CloudProfile,
        out: Option<PathBuf>,
    ) -> Vault {
        Vault {
            config,
            http,
            endpoint: profile.keeper_endpoint.clone(),
            server_key: profile.keeper_server_public_key.clone(),
            out,
        }
    }

    pub fn config_path(&self) -> Option<&Path> {
        self.config.path.as_deref()
    }

    /// Whether `--ksm-config` is a one-time access token not redeemed yet.
    pub fn holds_token(&self) -> bool {
        self.config.is_token()
    }

    /// Redeems a one-time access token (nothing to do for a bound config): the SDK binds a new device key to it
    /// on its first `get_secret` (core.rs `SecretsManager::new`, "deferred bind"; `filter` keeps that first read
    /// to the record at hand), and the bound config is saved, mode 0600, at `--ksm-config-out`, which this vault
    /// then uses. When that file already holds the config this same token yielded (a re-run of the same command),
    /// it is used as it is: the SDK itself recognises it (`_init`, "already initiated with the same token").
    pub async fn redeem(&mut self, filter: Option<&str>) -> Result<(), crate::error::Error> {
        let Source::Token(token) = self.config.source.clone() else {
            return Ok(());
        };
        let out = self.out.clone().ok_or_else(|| VaultError::Config {
            origin: "the one-time access token".into(),
            what: "--ksm-config-out is needed to save the config it yields".into(),
        })?;
        let existing = match std::fs::read_to_string(&out) {
            Ok(t) if !t.trim().is_empty() => Some(t.trim().to_string()),
            _ => None,
        };
        let filter: Vec<String> = filter.into_iter().map(str::to_string).collect();
        let (http, endpoint, server_key) = (
            self.http.clone(),
            self.endpoint.clone(),
            self.server_key.clone(),
        );
        let out_name = out.display().to_string();
        let mut secrets = self.config.secret_parts();
        secrets.extend(existing.clone());
        let bound = run_blocking(move |handle| {
            let storage = InMemoryKeyValueStorage::new(existing.clone()).map_err(|e| {
                VaultError::Config {
                    origin: format!("--ksm-config-out {out_name}"),
                    what: format!("it holds something that is not a KSM config ({e}); pass a new file name"),
                }
            })?;
            let mut options = ClientOptions::new_client_options_with_token(
                token.expose().to_string(),
                KvStoreType::InMemory(storage),
            );
            options.set_custom_post_function(move |url, tk, payload| {
                post(&handle, &http, endpoint.as_deref(), url, tk, payload)
            });
            if let Some(key) = &server_key {
                options.set_server_public_key(key);
            }
            let mut sm = SecretsManager::new(options).map_err(|e| VaultError::Config {
                origin: format!("--ksm-config-out {out_name}"),
                what: if e.to_string().contains("does not match the client id") {
                    "it holds the config of another KSM device (another token); pass a new file name".into()
                } else {
                    e.to_string()
                },
            })?;
            let already = sm.config.get(ConfigKeys::KeyAppKey).ok().flatten().is_some();
            if let (true, Some(text)) = (already, existing) {
                return Ok((SecretString::new(text), false));
            }
            sm.set_custom_sleep_function(|d| std::thread::sleep(crate::rest::scaled(crate::rest::RetryPolicy::default().honour(d))));
            sm.get_secrets(filter)
                .map_err(|e| classify(e, Call::Bind, "the one-time access token"))?;
            Ok((config::bound_text(&sm.config)?, true))
        })
        .await
        .map_err(|e| e.scrubbed(&secrets))?;
        let (text, fresh) = bound;
        if fresh {
            crate::private_file::write(&out, "--ksm-config-out", text.expose().as_bytes())?;
        }
        self.config = KsmConfig::saved(text, &out);
        Ok(())
    }

    /// Runs `f` with a fresh `SecretsManager` on a blocking thread; builds, uses and drops it there.
    async fn with_sdk<T, F>(&self, f: F) -> Result<T, VaultError>
    where
        T: Send + 'static,
        F: FnOnce(&mut SecretsManager) -> Result<T, VaultError> + Send + 'static,
    {
        let origin = self.config.origin();
        let Source::Bound(text) = self.config.source.clone() else {
            return Err(VaultError::Config {
                origin,
                what: "the one-time access token was not redeemed yet".into(),
            });
        };
        let http = self.http.clone();
        let endpoint = self.endpoint.clone();
        let secrets = self.config.secret_parts();
        run_blocking(move |handle| {
            let storage =
                InMemoryKeyValueStorage::new(Some(text.expose().to_string())).map_err(|e| {
                    VaultError::Config {
                        origin: origin.clone(),
                        what: e.to_string(),
                    }
                })?;
            let mut options = ClientOptions::new_client_options(KvStoreType::InMemory(storage));
            options.set_custom_post_function(move |url, tk, payload| {
                post(&handle, &http, endpoint.as_deref(), url, tk, payload)
            });
            let mut sm = SecretsManager::new(options).map_err(|e| VaultError::Config {
                origin,
                what: e.to_string(),
            })?;
            // Keeper's Retry-After waits, shortened like every other wait of the tool in tests.
            sm.set_custom_sleep_function(|d| {
                std::thread::sleep(crate::rest::scaled(
                    crate::rest::RetryPolicy::default().honour(d),
                ))
            });
            f(&mut sm)
        })
        .await
        .map_err(|e| e.scrubbed(&secrets))
    }

    /// Reads one record (the preflight read, and verify's and status's).
    pub async fn read(&self, uid: &str) -> Result<RecordView, VaultError> {
        let uid = uid.to_string();
        self.with_sdk(move |sm| {
            let rec = fetch(sm, &uid)?;
            Ok(view(&rec))
        })
        .await
    }

    /// Proves the KSM application can write the record before anything is written in Azure.
    pub async fn preflight(&self, uid: &str) -> Result<(), VaultError> {
        let rec = self.read(uid).await?;
        if !rec.editable {
            return Err(VaultError::ReadOnly(uid.to_string()));
        }
        Ok(())
    }

    /// Writes the values into the record (Keeper keeps the earlier values in the record's history); nothing
    /// when the record holds them already. Returns whether it wrote.
    pub async fn write(&self, uid: &str, values: VaultValues) -> Result<bool, VaultError> {
        let uid = uid.to_string();
        self.with_sdk(move |sm| {
            let mut rec = fetch(sm, &uid)?;
            let before = rec.record_dict.clone();
            let d = &mut rec.record_dict;
            set_typed(d, "login", &values.client_id);
            set_typed(d, "url", &values.endpoint_url);
            if let Some(new) = &values.secret {
                set_typed(d, "password", new.secret.expose());
                set_custom(d, label::KEY_ID, &new.key_id);
                set_custom(d, label::EXPIRY, &new.expires);
            }
            for (l, v) in [
                (label::TENANT, &values.tenant_id),
                (label::DCR, &values.dcr_immutable_id),
                (label::DEPLOYMENT, &values.deployment),
            ] {
                set_custom(d, l, v);
            }
            // The SDK's setters add this non-Keeper key (NOTES.md §5); the tool does not use them, but be sure.
            d.remove("record_type");
            if *d == before {
                return Ok(false);
            }
            if !rec.is_editable {
                return Err(VaultError::ReadOnly(uid.clone()));
            }
            sm.update_secret(rec)
                .map_err(|e| classify(e, Call::Write, &uid))?;
            Ok(true)
        })
        .await
    }

    /// Proves the shared folder is shared with the application (Keeper has no permission flag on folders: the
    /// creation itself is the proof of Can Edit; NOTES.md §3).
    pub async fn check_folder(&self, folder: &str) -> Result<(), VaultError> {
        let folder = folder.to_string();
        self.with_sdk(move |sm| {
            let folders = sm
                .get_folders()
                .map_err(|e| classify(e, Call::Read, &folder))?;
            if folders.iter().any(|f| f.folder_uid == folder) {
                Ok(())
            } else {
                Err(VaultError::UnknownFolder(folder))
            }
        })
        .await
    }

    /// Creates an empty login record titled `title` in the shared folder; its UID.
    pub async fn create_record(&self, folder: &str, title: &str) -> Result<String, VaultError> {
        let (folder, title) = (folder.to_string(), title.to_string());
        self.with_sdk(move |sm| {
            // No fields yet: the SDK refuses empty typed fields, and the first write adds them.
            let rec = RecordCreate::new("login", title, None);
            sm.create_secret(&folder, rec)
                .map_err(|e| match classify(e, Call::Write, &folder) {
                    VaultError::ReadOnly(f) => VaultError::ReadOnlyFolder(f),
                    VaultError::Write(t) if t.contains("Could not find a shared folder") => {
                        VaultError::UnknownFolder(folder.clone())
                    }
                    other => other,
                })
        })
        .await
    }

    /// Deletes the record (teardown `--delete-keeper-record`). The SDK returns the UIDs Keeper answered
    /// `responseCode: "ok"` for (core.rs `delete_secret`, `calculate_successful_deletes`); an absent record is
    /// already gone.
    pub async fn delete(&self, uid: &str) -> Result<bool, VaultError> {
        let uid = uid.to_string();
        self.with_sdk(move |sm| {
            if sm
                .get_secrets(vec![uid.clone()])
                .map_err(|e| classify(e, Call::Read, &uid))?
                .iter()
                .all(|r| r.uid != uid)
            {
                return Ok(false);
            }
            let deleted = sm
                .delete_secret(vec![uid.clone()])
                .map_err(|e| classify(e, Call::Write, &uid))?;
            if deleted.contains(uid.as_str()) {
                Ok(true)
            } else {
                Err(VaultError::Write(format!(
                    "Keeper did not delete record {uid}"
                )))
            }
        })
        .await
    }

    /// The value at Keeper notation `keeper://<UID>/field/password` (only the password field is supported).
    pub async fn password(&self, uid: &str) -> Result<SecretString, VaultError> {
        self.read(uid)
            .await?
            .password
            .ok_or_else(|| VaultError::Write(format!("record {uid} has no password")))
    }
}

/// The UID of `keeper://<UID>/field/password`; None when `s` is not Keeper notation.
pub fn notation_uid(s: &str) -> Option<Result<String, Error>> {
    let rest = s.strip_prefix("keeper://")?;
    Some(match rest.split_once('/') {
        Some((uid, "field/password")) if !uid.is_empty() => Ok(uid.to_string()),
        _ => Err(Error::input(
            format!("--secret {s} is not supported Keeper notation"),
            "use keeper://<record UID>/field/password",
        )),
    })
}

/// Runs `f` on a blocking thread with the runtime's handle (for the post function); a panic of the SDK comes back
/// as an error. The SDK is built, used and dropped there: its blocking client may not be dropped in async code.
async fn run_blocking<T, F>(f: F) -> Result<T, VaultError>
where
    T: Send + 'static,
    F: FnOnce(tokio::runtime::Handle) -> Result<T, VaultError> + Send + 'static,
{
    check_environment()?;
    let handle = tokio::runtime::Handle::current();
    match tokio::task::spawn_blocking(move || f(handle)).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => Err(VaultError::Panicked(panic_text(e.into_panic()))),
        Err(e) => Err(VaultError::Panicked(e.to_string())),
    }
}

#[derive(Clone, Copy)]
enum Call {
    Read,
    Write,
    /// The first read with a one-time access token, which binds it.
    Bind,
}

fn fetch(sm: &mut SecretsManager, uid: &str) -> Result<Record, VaultError> {
    let mut recs = sm
        .get_secrets(vec![uid.to_string()])
        .map_err(|e| classify(e, Call::Read, uid))?;
    match recs.iter().position(|r| r.uid == uid) {
        Some(i) => Ok(recs.swap_remove(i)),
        None => Err(VaultError::UnknownRecord(uid.to_string())),
    }
}

/// Sorts the SDK's errors (its variants say little: Keeper's code and message are in the text, "Error: {code},
/// message={message}", core.rs `handle_http_error`). Keeper's own KSM clients list the answers that matter
/// (Keeper-Security/secrets-manager sdk/python core.py and the Go port, comment in `fetch`): `throttled` ("Due to
/// repeated attempts, your request has been throttled. Try again in 2 minutes."), `access_denied` "Unable to
/// validate application access" (a client id Keeper does not know: a revoked device, or a mistyped or expired
/// token, issue Keeper-Security/secrets-manager#278), `access_denied` "Signature is invalid" (a request not signed
/// by the device key Keeper registered: a one-time token used a second time binds another key). Any other
/// `access_denied` on a write is the share's missing Can Edit (its real message is unverified; see
/// azure-sim/BEHAVIOUR.md).
fn classify(e: KSMRError, call: Call, uid: &str) -> VaultError {
    let text = e.to_string();
    let has = |s: &str| text.contains(s);
    let sign_in = has("Signature is invalid") || has("Unable to validate application access");
    match e {
        KSMRError::Throttled(_) => VaultError::Throttled(text),
        _ if has("throttled") => VaultError::Throttled(text),
        _ if sign_in && matches!(call, Call::Bind) => VaultError::Token(text),
        _ if sign_in => VaultError::SignIn(text),
        _ if has("access_denied") => match call {
            Call::Write => VaultError::ReadOnly(uid.to_string()),
            Call::Bind => VaultError::Token(text),
            Call::Read => VaultError::SignIn(text),
        },
        _ if has("error sending request") => VaultError::Unreachable(text),
        KSMRError::CryptoError(_) | KSMRError::DecodeError(_) | KSMRError::StorageError(_) => {
            VaultError::Config {
                origin: "--ksm-config".into(),
                // Which part: the SDK reads the private key as PKCS#8 DER (crypto.rs
                // `der_base64_private_key_to_private_key`).
                what: if has("DER to SecretKey") || has("load private key") {
                    "its privateKey is not a P-256 private key (PKCS#8 DER in base64)".into()
                } else {
                    text
                },
            }
        }
        _ => match call {
            Call::Read | Call::Bind => VaultError::Unreachable(text),
            Call::Write => VaultError::Write(text),
        },
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The post function the SDK calls for every request: the same request (headers as the SDK's own post function
/// sends them, keeper-secrets-manager-core core.rs `post_function`) over the tool's client.
fn post(
    handle: &tokio::runtime::Handle,
    http: &reqwest::Client,
    endpoint: Option<&str>,
    url: String,
    tk: TransmissionKey,
    payload: EncryptedPayload,
) -> Result<KsmHttpResponse, KSMRError> {
    let url = match (endpoint, url::Url::parse(&url)) {
        (Some(base), Ok(u)) => format!("{}{}", base.trim_end_matches('/'), u.path()),
        _ => url,
    };
    let signature = bytes_to_base64(payload.signature.as_bytes());
    let request = http
        .post(&url)
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", format!("Signature {signature}"))
        .header("TransmissionKey", bytes_to_base64(&tk.encrypted_key))
        .header("PublicKeyId", tk.public_key_id.clone())
        .body(payload.encrypted_payload);
    handle.block_on(async move {
        let unreachable = |e: reqwest::Error| {
            KSMRError::HTTPError(format!("error sending request for url ({url}): {e}"))
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        Ok(KsmHttpResponse {
            status_code: status,
            http_response: Some(String::from_utf8_lossy(&body).into_owned()),
            data: body.to_vec(),
        })
    })
}
