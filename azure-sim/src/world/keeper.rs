//! A fake Keeper Secrets Manager backend (`/api/rest/sm/v1/*`), so the tool's Keeper vault delivery is tested
//! without Keeper's servers: it speaks the real KSM payloads that keeper-secrets-manager-core 17.3.0 sends.
//!
//! Each request is unwrapped as Keeper's server does: the `TransmissionKey` header is ECIES-decrypted with this
//! backend's own server key (test configs name it in `serverPublicKey`, the mechanism Keeper's IL5 region uses;
//! a one-time token is redeemed with it through the cloud profile's `keeper_server_public_key`), the
//! `Authorization: Signature` is checked against the device's registered public key, and the AES-GCM body is
//! decrypted. A one-time access token binds the device key its first request carries (`publicKey`), and the
//! answer carries the application key wrapped with the token (`encryptedAppKey`). Replies are AES-GCM JSON whose
//! record keys are wrapped with the application key; errors are plain JSON `{"error", "message", ...}` as Keeper
//! sends them (shape from Keeper's Python SDK test sdk/python/core/tests/exception_test.py; codes and messages,
//! and which are unverified: azure-sim/BEHAVIOUR.md). Payload shapes and the crypto:
//! docs/design/keeper-vault/NOTES.md §2.

use std::collections::{BTreeMap, HashMap, VecDeque};

use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};

use super::keeper_crypto::{self as kc, Key};

/// Keeper's message for a throttled call (secrets-manager sdk/python core.py and the Go port, comment in `fetch`).
const THROTTLED: &str =
    "Due to repeated attempts, your request has been throttled. Try again in 2 minutes.";

/// Where Keeper Secrets Manager's API lives on any Keeper host (`https://{host}/api/rest/sm/v1/{endpoint}`).
pub const PATH_PREFIX: &str = "/api/rest/sm/v1/";

/// One failure queued for the next call to a KSM endpoint (`get_secret`, `update_secret`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeeperFault {
    /// HTTP 403 `{"error":"throttled","retry_after":1}` with Keeper's message: the SDK sleeps and retries, up to
    /// 5 times (keeper-secrets-manager-core core.rs `post_query`, `parse_throttle`).
    Throttled,
    /// HTTP 500 with a plain JSON error: Keeper failed the call. Keeper's real 5xx body is not documented; this
    /// one has the shape of its 4xx errors.
    Fail,
}

struct FakeRecord {
    key: Key,
    data: Value,
    revision: i64,
    editable: bool,
    /// The shared folder it is in; None: shared with the application directly.
    folder: Option<String>,
}

struct FakeFolder {
    key: Key,
    name: String,
    /// The share's "Can Edit": whether the application may add records.
    editable: bool,
}

/// The Keeper side of the simulator: one KSM application, its devices, the records shared with it.
pub struct KeeperState {
    app_key: Key,
    owner_secret: p256::SecretKey,
    server_secret: p256::SecretKey,
    /// clientId → the device's public key (uncompressed SEC1).
    clients: HashMap<String, Vec<u8>>,
    /// One-time access tokens not redeemed yet: clientId (derived from the token) → the token's key bytes.
    tokens: HashMap<String, Key>,
    records: BTreeMap<String, FakeRecord>,
    folders: BTreeMap<String, FakeFolder>,
    faults: HashMap<String, VecDeque<KeeperFault>>,
    /// Every endpoint called, in order.
    pub calls: Vec<String>,
}

impl Default for KeeperState {
    fn default() -> Self {
        KeeperState {
            app_key: kc::random_key(),
            owner_secret: p256::SecretKey::random(&mut rand::rngs::OsRng),
            server_secret: p256::SecretKey::random(&mut rand::rngs::OsRng),
            clients: HashMap::new(),
            tokens: HashMap::new(),
            records: BTreeMap::new(),
            folders: BTreeMap::new(),
            faults: HashMap::new(),
            calls: Vec::new(),
        }
    }
}

type Answer = Result<Option<Value>, (u16, &'static str, String)>;

impl KeeperState {
    /// A bound KSM config for a new device of the application, base64 of its JSON as the Keeper vault exports it.
    /// It names this backend's server key (`serverPublicKey`) so the transmission key can be unwrapped here.
    pub fn mint_config(&mut self, hostname: &str) -> String {
        let device = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = device
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default();
        let client_id = kc::client_id_for(&kc::random_key());
        self.clients
            .insert(client_id.clone(), kc::public_sec1(&device));
        let cfg = json!({
            "hostname": hostname,
            "clientId": client_id,
            "privateKey": kc::b64(&der),
            "serverPublicKeyId": "10",
            "appKey": kc::b64(&self.app_key),
            "appOwnerPublicKey": kc::b64(&kc::public_sec1(&self.owner_secret)),
            "serverPublicKey": kc::b64url(&kc::public_sec1(&self.server_secret)),
        });
        kc::b64(cfg.to_string().as_bytes())
    }

    /// The server key test configs and tokens are redeemed with: URL-safe base64 (no padding) of its SEC1 point,
    /// the form the SDK's `serverPublicKey` takes.
    pub fn server_public_key(&self) -> String {
        kc::b64url(&kc::public_sec1(&self.server_secret))
    }

    /// A one-time access token for a new device of the application, `REGION:TOKEN` as the Keeper vault shows it
    /// (the token: 32 random bytes, URL-safe base64 without padding).
    pub fn mint_token(&mut self, region: &str) -> String {
        let key = kc::random_key();
        self.tokens.insert(kc::client_id_for(&key), key);
        format!("{region}:{}", kc::b64url(&key))
    }

    /// Shares a new empty login record with the application (`editable`: the share's "Can Edit"); its UID.
    pub fn add_record(&mut self, title: &str, editable: bool) -> String {
        let uid = kc::b64url(&kc::random_key()[..16]);
        let data = json!({
            "title": title, "type": "login", "notes": "",
            "fields": [
                {"type": "login", "value": []},
                {"type": "password", "value": []},
                {"type": "url", "value": []},
                {"type": "fileRef", "value": []},
                {"type": "oneTimeCode", "value": []},
            ],
            "custom": [],
        });
        let rec = FakeRecord {
            key: kc::random_key(),
            data,
            revision: 1,
            editable,
            folder: None,
        };
        self.records.insert(uid.clone(), rec);
        uid
    }

    /// Shares a new empty shared folder with the application (`editable`: may add records); its UID.
    pub fn add_folder(&mut self, name: &str, editable: bool) -> String {
        let uid = kc::b64url(&kc::random_key()[..16]);
        let f = FakeFolder {
            key: kc::random_key(),
            name: name.to_string(),
            editable,
        };
        self.folders.insert(uid.clone(), f);
        uid
    }

    /// The UIDs of the records in a shared folder.
    pub fn folder_records(&self, folder: &str) -> Vec<String> {
        self.records
            .iter()
            .filter(|(_, r)| r.folder.as_deref() == Some(folder))
            .map(|(uid, _)| uid.clone())
            .collect()
    }

    /// A record's decrypted JSON, as the Keeper vault shows it.
    pub fn record(&self, uid: &str) -> Option<Value> {
        self.records.get(uid).map(|r| r.data.clone())
    }

    /// Replaces a record's JSON, as a person editing it in the vault does (a new revision).
    pub fn put_record(&mut self, uid: &str, data: Value) -> bool {
        match self.records.get_mut(uid) {
            Some(r) => {
                r.data = data;
                r.revision += 1;
                true
            }
            None => false,
        }
    }

    /// Forgets every device, as revoking them in the Keeper vault does: their calls are refused `access_denied`.
    pub fn revoke_devices(&mut self) {
        self.clients.clear();
    }

    pub fn inject(&mut self, endpoint: &str, fault: KeeperFault) {
        self.faults
            .entry(endpoint.to_string())
            .or_default()
            .push_back(fault);
    }

    /// Answers one KSM request: `(status, body)`; a 200 body is encrypted with the request's transmission key.
    pub fn handle(
        &mut self,
        path: &str,
        transmission_key: Option<&str>,
        authorization: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let endpoint = path.strip_prefix(PATH_PREFIX).unwrap_or(path).to_string();
        self.calls.push(endpoint.clone());
        if let Some(f) = self.faults.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            return match f {
                KeeperFault::Throttled => plain(
                    403,
                    json!({"error": "throttled", "message": THROTTLED, "retry_after": 1}),
                ),
                KeeperFault::Fail => error(
                    500,
                    path,
                    "internal_error",
                    "azure-sim: Keeper failed this call",
                ),
            };
        }
        // 1. The transmission key, wrapped for this backend's server key. Never answer `key_id` here: with a
        //    custom server key the SDK would retry forever (NOTES.md §2.6).
        let Some(encrypted_key) = transmission_key.and_then(|t| kc::b64_any(t).ok()) else {
            return error(400, path, "bad_request", "TransmissionKey header missing");
        };
        let Ok(tk) = kc::ecies_decrypt(&self.server_secret, &encrypted_key) else {
            return error(403, path, "key", "transmission key does not unwrap");
        };
        let Ok(tk) = <Key>::try_from(tk.as_slice()) else {
            return error(400, path, "bad_request", "transmission key is not 32 bytes");
        };
        // 2. The body.
        // Keeper's 400s, as its own KSM clients list them (secrets-manager sdk/python core.py `fetch`).
        let Ok(text) = kc::gcm_decrypt(&tk, body) else {
            return error(400, path, "bad_request", "unable to decrypt the payload");
        };
        let Ok(req) = serde_json::from_slice::<Value>(&text) else {
            return error(400, path, "invalid", "Invalid secrets manager payload");
        };
        // 3. The caller and its signature: a registered device's key, or, for a one-time token not redeemed yet,
        //    the key the request brings to bind (`publicKey`, base64 SEC1).
        let client_id = req["clientId"].as_str().unwrap_or_default().to_string();
        let binding = self.tokens.get(&client_id).copied();
        let public = match (self.clients.get(&client_id), binding) {
            (Some(p), _) => p.clone(),
            (None, Some(_)) => req["publicKey"]
                .as_str()
                .and_then(|k| kc::b64_any(k).ok())
                .unwrap_or_default(),
            (None, None) => {
                return error(
                    403,
                    path,
                    "access_denied",
                    "Unable to validate application access",
                )
            }
        };
        let signature = authorization
            .and_then(|a| a.strip_prefix("Signature "))
            .and_then(|s| kc::b64_any(s).ok())
            .unwrap_or_default();
        let signed = [encrypted_key.as_slice(), body].concat();
        // A token used a second time comes with a new device key: Keeper checks it against the first one.
        if !kc::verify_signature(&public, &signed, &signature) {
            return error(403, path, "access_denied", "Signature is invalid");
        }
        let mut answer = match endpoint.as_str() {
            "get_secret" => Ok(Some(self.get_secret(&req))),
            "get_folders" => Ok(Some(self.get_folders())),
            "update_secret" => self.update_secret(&req),
            "create_secret" => self.create_secret(&req),
            "delete_secret" => Ok(Some(self.delete_secret(&req))),
            other => Err((
                404,
                "not_found",
                format!("azure-sim has no KSM endpoint {other}"),
            )),
        };
        // The token's first read binds: the device key is registered, the token is spent, and the answer brings
        // the application key wrapped with the token (the SDK unwraps both, core.rs `set_app_key_if_absent`).
        if let (Some(token_key), Ok(Some(Value::Object(reply)))) = (binding, answer.as_mut()) {
            if matches!(endpoint.as_str(), "get_secret" | "get_folders") {
                self.tokens.remove(&client_id);
                self.clients.insert(client_id, public);
                reply.insert(
                    "encryptedAppKey".into(),
                    json!(kc::b64url(&kc::gcm_encrypt(&token_key, &self.app_key))),
                );
                reply.insert(
                    "appOwnerPublicKey".into(),
                    json!(kc::b64url(&kc::public_sec1(&self.owner_secret))),
                );
            }
        }
        match answer {
            Ok(Some(v)) => (200, kc::gcm_encrypt(&tk, v.to_string().as_bytes())),
            Ok(None) => (200, Vec::new()),
            Err((status, code, message)) => error(status, path, code, &message),
        }
    }

    fn record_json(uid: &str, r: &FakeRecord, wrap_key: &Key) -> Value {
        json!({
            "recordUid": uid,
            "recordKey": kc::b64(&kc::gcm_encrypt(wrap_key, &r.key)),
            "data": kc::b64(&kc::gcm_encrypt(&r.key, r.data.to_string().as_bytes())),
            "revision": r.revision,
            "isEditable": r.editable,
            "files": null,
        })
    }

    /// Records shared directly with the application, and shared folders with their records (record keys wrapped
    /// with the folder key); an unknown UID is simply absent, as Keeper answers. Whether Keeper answers a
    /// requested record of a shared folder under `folders` (as here) or `records` is unverified (NOTES.md §6).
    fn get_secret(&self, req: &Value) -> Value {
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
        };
        let wanted = strings(&req["requestedRecords"]);
        let want_folders = strings(&req["requestedFolders"]);
        let is_wanted = |uid: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|u| u == uid));
        let records: Vec<Value> = self
            .records
            .iter()
            .filter(|(uid, r)| r.folder.is_none() && want_folders.is_none() && is_wanted(uid))
            .map(|(uid, r)| Self::record_json(uid, r, &self.app_key))
            .collect();
        let mut folders = vec![];
        for (fuid, f) in &self.folders {
            if want_folders.as_ref().is_some_and(|w| !w.contains(fuid)) {
                continue;
            }
            let inner: Vec<Value> = self
                .records
                .iter()
                .filter(|(uid, r)| r.folder.as_deref() == Some(fuid.as_str()) && is_wanted(uid))
                .map(|(uid, r)| Self::record_json(uid, r, &f.key))
                .collect();
            if wanted.is_some() && inner.is_empty() {
                continue;
            }
            folders.push(json!({
                "folderUid": fuid,
                "folderKey": kc::b64(&kc::gcm_encrypt(&self.app_key, &f.key)),
                "records": inner,
            }));
        }
        // `records` and `folders` must both be present: the SDK unwraps them (NOTES.md §2.3).
        json!({"records": records, "folders": folders})
    }

    /// The shared folders: key wrapped with the app key (GCM), name AES-CBC under the folder key (NOTES.md §2.3).
    fn get_folders(&self) -> Value {
        let folders: Vec<Value> = self
            .folders
            .iter()
            .map(|(uid, f)| {
                let name = json!({ "name": f.name }).to_string();
                json!({
                    "folderUid": uid,
                    "folderKey": kc::b64(&kc::gcm_encrypt(&self.app_key, &f.key)),
                    "data": kc::b64(&kc::cbc_encrypt(&f.key, name.as_bytes())),
                    "parent": null,
                })
            })
            .collect();
        json!({ "folders": folders })
    }

    /// A new record in a shared folder: its key comes wrapped twice (folder key, and ECIES to the application
    /// owner) and both must agree.
    fn create_secret(&mut self, req: &Value) -> Answer {
        let folder_uid = req["folderUid"].as_str().unwrap_or_default().to_string();
        let f = self.folders.get(&folder_uid).ok_or((
            400,
            "invalid_folder_uid",
            format!("no folder {folder_uid}"),
        ))?;
        if !f.editable {
            return Err((
                403,
                "access_denied",
                "the application may not add to this folder".into(),
            ));
        }
        let bytes = |field: &str| {
            req[field]
                .as_str()
                .and_then(|s| kc::b64_any(s).ok())
                .unwrap_or_default()
        };
        let bad = |e: String| (400, "bad_request", e);
        let record_key = kc::gcm_decrypt(&f.key, &bytes("folderKey")).map_err(bad)?;
        let by_owner = kc::ecies_decrypt(&self.owner_secret, &bytes("recordKey")).map_err(bad)?;
        if by_owner != record_key {
            return Err(bad("recordKey and folderKey disagree".into()));
        }
        let key =
            <Key>::try_from(record_key.as_slice()).map_err(|_| bad("record key size".into()))?;
        let text = kc::gcm_decrypt(&key, &bytes("data")).map_err(bad)?;
        let data = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        let uid = req["recordUid"].as_str().unwrap_or_default().to_string();
        let rec = FakeRecord {
            key,
            data,
            revision: 1,
            editable: true,
            folder: Some(folder_uid),
        };
        self.records.insert(uid, rec);
        Ok(None)
    }

    /// Deletes records the application may edit; each answered with its `responseCode` (the SDK counts `ok` only,
    /// core.rs `calculate_successful_deletes`). The codes other than `ok` are the fake's: Keeper's are unverified.
    fn delete_secret(&mut self, req: &Value) -> Value {
        let uids: Vec<String> = req["recordUids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let records: Vec<Value> = uids
            .into_iter()
            .map(|uid| {
                let code = match self.records.get(&uid) {
                    None => "not_found",
                    Some(r) if !r.editable => "access_denied",
                    Some(_) => {
                        self.records.remove(&uid);
                        "ok"
                    }
                };
                json!({ "recordUid": uid, "responseCode": code })
            })
            .collect();
        json!({ "records": records })
    }

    fn update_secret(&mut self, req: &Value) -> Answer {
        let uid = req["recordUid"].as_str().unwrap_or_default();
        let r = self.records.get_mut(uid).ok_or((
            400,
            "invalid_record_uid",
            format!("no record {uid}"),
        ))?;
        if !r.editable {
            return Err((
                403,
                "access_denied",
                "the application may not edit this record".into(),
            ));
        }
        if req["revision"].as_i64() != Some(r.revision) {
            return Err((400, "out_of_sync", "record revision is stale".into()));
        }
        let data = req["data"]
            .as_str()
            .and_then(|s| kc::b64_any(s).ok())
            .unwrap_or_default();
        let text = kc::gcm_decrypt(&r.key, &data).map_err(|e| (400, "bad_request", e))?;
        r.data = serde_json::from_slice(&text).map_err(|e| (400, "bad_request", e.to_string()))?;
        r.revision += 1;
        Ok(None)
    }
}

fn plain(status: u16, body: Value) -> (u16, Vec<u8>) {
    (status, body.to_string().into_bytes())
}

/// Keeper's error body: plain JSON, not encrypted.
fn error(status: u16, path: &str, code: &str, message: &str) -> (u16, Vec<u8>) {
    plain(
        status,
        json!({
            "path": format!("{path}, POST"),
            "additional_info": "",
            "location": "default exception manager - api validation exception",
            "error": code,
            "message": message,
        }),
    )
}
