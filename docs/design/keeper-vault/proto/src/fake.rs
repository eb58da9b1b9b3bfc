//! An in-process fake of Keeper's Secrets Manager endpoints (`/api/rest/sm/v1/*`), plugged into
//! the SDK through `ClientOptions::set_custom_post_function`. It speaks the real payloads: it
//! unwraps the transmission key (ECIES, when the config names our server key), checks the ECDSA
//! signature, decrypts the AES-GCM request, and answers with AES-GCM-encrypted JSON whose record
//! and folder keys are wrapped with the application key, as Keeper's servers do.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use keeper_secrets_manager_core::custom_error::KSMRError;
use keeper_secrets_manager_core::dto::{EncryptedPayload, KsmHttpResponse, TransmissionKey};
use serde_json::{Value, json};

use crate::kcrypto::{self as kc, Key};

pub struct FakeRecord {
    pub key: Key,
    pub data: Value,
    pub revision: i64,
    pub editable: bool,
    pub folder: Option<String>,
}

pub struct FakeFolder {
    pub key: Key,
    pub name: String,
    pub editable: bool,
}

/// One injected failure, consumed by the next call to the endpoint it is queued for.
#[derive(Clone, Debug)]
pub enum Fault {
    /// HTTP 403 {"error":"throttled"} — the SDK sleeps and retries (up to 5 times).
    Throttled,
    /// HTTP 403 {"error":"access_denied","message":"Signature is invalid"}.
    SignatureInvalid,
    /// The transport fails, as reqwest does when Keeper is unreachable.
    Unreachable,
    /// A 200 whose decrypted body is this text (to probe the SDK's parsing).
    RawBody(String),
}

pub struct FakeKeeper {
    pub host: String,
    pub app_key: Key,
    pub owner_secret: p256::SecretKey,
    /// When set, the config's `serverPublicKey` is ours and the fake unwraps the transmission key.
    pub server_secret: Option<p256::SecretKey>,
    /// clientId -> client public key (SEC1), or None while the one-time token is not yet bound.
    pub clients: HashMap<String, Option<Vec<u8>>>,
    /// clientId -> the one-time token bytes, for devices that have not bound yet.
    pub pending_tokens: HashMap<String, Vec<u8>>,
    pub records: HashMap<String, FakeRecord>,
    pub folders: HashMap<String, FakeFolder>,
    pub faults: HashMap<String, VecDeque<Fault>>,
    pub calls: Vec<String>,
}

pub type Shared = Arc<Mutex<FakeKeeper>>;

impl FakeKeeper {
    pub fn new(host: &str) -> Self {
        FakeKeeper {
            host: host.to_string(),
            app_key: kc::random_key(),
            owner_secret: p256::SecretKey::random(&mut rand::rngs::OsRng),
            server_secret: Some(p256::SecretKey::random(&mut rand::rngs::OsRng)),
            clients: HashMap::new(),
            pending_tokens: HashMap::new(),
            records: HashMap::new(),
            folders: HashMap::new(),
            faults: HashMap::new(),
            calls: Vec::new(),
        }
    }

    pub fn server_public_b64url(&self) -> Option<String> {
        self.server_secret.as_ref().map(|s| kc::b64url(&kc::public_sec1(s)))
    }

    pub fn fault(&mut self, endpoint: &str, f: Fault) {
        self.faults.entry(endpoint.to_string()).or_default().push_back(f);
    }

    /// The custom post function: `(url, transmission key, encrypted payload) -> response`.
    pub fn post(
        shared: &Shared,
        url: String,
        tk: TransmissionKey,
        ep: EncryptedPayload,
    ) -> Result<KsmHttpResponse, KSMRError> {
        let mut me = shared.lock().map_err(|_| KSMRError::HTTPError("fake poisoned".into()))?;
        me.handle(&url, &tk, &ep)
    }

    fn handle(
        &mut self,
        url: &str,
        tk: &TransmissionKey,
        ep: &EncryptedPayload,
    ) -> Result<KsmHttpResponse, KSMRError> {
        let prefix = format!("https://{}/api/rest/sm/v1/", self.host);
        let Some(endpoint) = url.strip_prefix(&prefix).map(str::to_string) else {
            return Ok(error(404, url, "not_found", &format!("unexpected url {url}")));
        };
        self.calls.push(endpoint.clone());
        if let Some(f) = self.faults.get_mut(&endpoint).and_then(VecDeque::pop_front) {
            match f {
                Fault::Throttled => {
                    let body = json!({"error": "throttled", "message": "Too many requests", "retry_after": 1});
                    return Ok(raw(403, body.to_string()));
                }
                Fault::SignatureInvalid => {
                    return Ok(error(403, url, "access_denied", "Signature is invalid"));
                }
                Fault::Unreachable => {
                    return Err(KSMRError::HTTPError(format!(
                        "error sending request for url ({url})"
                    )));
                }
                Fault::RawBody(text) => {
                    return Ok(ok(&tk.key, text.as_bytes()));
                }
            }
        }

        // 1. The transmission key: with our own server key in the config, unwrap it as Keeper does.
        if let Some(server) = &self.server_secret {
            match kc::ecies_decrypt(server, &tk.encrypted_key) {
                Ok(k) if k == tk.key => {}
                _ => return Ok(error(403, url, "key", "transmission key does not unwrap")),
            }
        }
        // 2. The request body.
        let Ok(plain) = kc::gcm_decrypt(&tk.key, &ep.encrypted_payload) else {
            return Ok(error(400, url, "bad_request", "payload does not decrypt"));
        };
        let Ok(req) = serde_json::from_slice::<Value>(&plain) else {
            return Ok(error(400, url, "bad_request", "payload is not JSON"));
        };
        let client_id = req["clientId"].as_str().unwrap_or_default().to_string();
        // 3. Who is calling, and is the signature theirs?
        let signed = [tk.encrypted_key.as_slice(), ep.encrypted_payload.as_slice()].concat();
        let sig = ep.signature.as_bytes().to_vec();
        let mut binding = false;
        let public = match self.clients.get(&client_id) {
            Some(Some(pk)) => pk.clone(),
            Some(None) if endpoint == "get_secret" => {
                // First call with a one-time token: the device sends its public key to register.
                let Some(pk) = req["publicKey"].as_str().and_then(|s| kc::b64_any(s).ok()) else {
                    return Ok(error(403, url, "access_denied", "Unable to validate application access"));
                };
                binding = true;
                pk
            }
            _ => return Ok(error(403, url, "access_denied", "Unable to validate application access")),
        };
        if !kc::verify_signature(&public, &signed, &sig) {
            return Ok(error(403, url, "access_denied", "Signature is invalid"));
        }
        if binding {
            self.clients.insert(client_id.clone(), Some(public));
        }

        let reply = match endpoint.as_str() {
            "get_secret" => self.get_secret(&req, binding.then(|| client_id.clone())),
            "get_folders" => Ok(self.get_folders()),
            "update_secret" => self.update_secret(&req),
            "create_secret" => self.create_secret(&req),
            "delete_secret" => Ok(self.delete_secret(&req)),
            other => Err((404, "not_found", format!("no endpoint {other}"))),
        };
        match reply {
            Ok(Some(body)) => Ok(ok(&tk.key, body.to_string().as_bytes())),
            Ok(None) => Ok(KsmHttpResponse { status_code: 200, data: vec![], http_response: None }),
            Err((status, code, msg)) => Ok(error(status, url, code, &msg)),
        }
    }

    fn record_json(&self, uid: &str, r: &FakeRecord, wrap_key: &[u8]) -> Value {
        json!({
            "recordUid": uid,
            "recordKey": kc::b64(&kc::gcm_encrypt(wrap_key, &r.key)),
            "data": kc::b64(&kc::gcm_encrypt(&r.key, r.data.to_string().as_bytes())),
            "revision": r.revision,
            "isEditable": r.editable,
            "files": null,
        })
    }

    fn get_secret(&mut self, req: &Value, binding: Option<String>) -> Reply {
        let want_records: Option<Vec<String>> = strings(&req["requestedRecords"]);
        let want_folders: Option<Vec<String>> = strings(&req["requestedFolders"]);
        let wanted = |uid: &str| want_records.as_ref().is_none_or(|w| w.iter().any(|u| u == uid));
        let mut records = Vec::new();
        let mut folders = Vec::new();
        for (uid, r) in &self.records {
            if r.folder.is_none() && want_folders.is_none() && wanted(uid) {
                records.push(self.record_json(uid, r, &self.app_key));
            }
        }
        for (fuid, f) in &self.folders {
            if want_folders.as_ref().is_some_and(|w| !w.contains(fuid)) {
                continue;
            }
            let inner: Vec<Value> = self
                .records
                .iter()
                .filter(|(uid, r)| r.folder.as_deref() == Some(fuid) && wanted(uid))
                .map(|(uid, r)| self.record_json(uid, r, &f.key))
                .collect();
            if want_records.is_some() && inner.is_empty() {
                continue;
            }
            folders.push(json!({
                "folderUid": fuid,
                "folderKey": kc::b64(&kc::gcm_encrypt(&self.app_key, &f.key)),
                "records": inner,
            }));
        }
        let mut body = json!({"records": records, "folders": folders});
        if let Some(cid) = binding {
            let token = self.pending_tokens.remove(&cid).ok_or((403, "access_denied", "token used".into()))?;
            body["encryptedAppKey"] = json!(kc::b64url(&kc::gcm_encrypt(&token, &self.app_key)));
            body["appOwnerPublicKey"] = json!(kc::b64url(&kc::public_sec1(&self.owner_secret)));
        }
        Ok(Some(body))
    }

    fn get_folders(&self) -> Option<Value> {
        let folders: Vec<Value> = self
            .folders
            .iter()
            .map(|(uid, f)| {
                json!({
                    "folderUid": uid,
                    "folderKey": kc::b64(&kc::gcm_encrypt(&self.app_key, &f.key)),
                    "data": kc::b64(&kc::cbc_encrypt(&f.key, json!({"name": f.name}).to_string().as_bytes())),
                    "parent": null,
                })
            })
            .collect();
        Some(json!({"folders": folders}))
    }

    fn update_secret(&mut self, req: &Value) -> Reply {
        let uid = req["recordUid"].as_str().unwrap_or_default();
        let r = self.records.get_mut(uid).ok_or((400, "invalid_record_uid", format!("no record {uid}")))?;
        if !r.editable {
            return Err((403, "access_denied", "the application may not edit this record".into()));
        }
        if req["revision"].as_i64() != Some(r.revision) {
            return Err((400, "out_of_sync", "record revision is stale".into()));
        }
        let data = req["data"].as_str().and_then(|s| kc::b64_any(s).ok()).unwrap_or_default();
        let plain = kc::gcm_decrypt(&r.key, &data).map_err(|e| (400, "bad_request", e))?;
        r.data = serde_json::from_slice(&plain).map_err(|e| (400, "bad_request", e.to_string()))?;
        r.revision += 1;
        Ok(None)
    }

    fn create_secret(&mut self, req: &Value) -> Reply {
        let folder_uid = req["folderUid"].as_str().unwrap_or_default();
        let f = self.folders.get(folder_uid).ok_or((400, "invalid_folder_uid", format!("no folder {folder_uid}")))?;
        if !f.editable {
            return Err((403, "access_denied", "the application may not add to this folder".into()));
        }
        let dec = |field: &str, key: &[u8]| -> Result<Vec<u8>, (u16, &'static str, String)> {
            let raw = req[field].as_str().and_then(|s| kc::b64_any(s).ok()).unwrap_or_default();
            kc::gcm_decrypt(key, &raw).map_err(|e| (400, "bad_request", format!("{field}: {e}")))
        };
        let record_key = dec("folderKey", &f.key)?;
        // The same record key, wrapped for the application owner (ECIES): both must agree.
        let owner_wrapped = req["recordKey"].as_str().and_then(|s| kc::b64_any(s).ok()).unwrap_or_default();
        let by_owner = kc::ecies_decrypt(&self.owner_secret, &owner_wrapped).map_err(|e| (400, "bad_request", e))?;
        if by_owner != record_key {
            return Err((400, "bad_request", "recordKey and folderKey disagree".into()));
        }
        let data = dec("data", &record_key)?;
        let key: Key = record_key.try_into().map_err(|_| (400, "bad_request", "record key size".into()))?;
        let uid = req["recordUid"].as_str().unwrap_or_default().to_string();
        let data = serde_json::from_slice(&data).map_err(|e| (400, "bad_request", e.to_string()))?;
        let rec = FakeRecord { key, data, revision: 1, editable: true, folder: Some(folder_uid.to_string()) };
        self.records.insert(uid, rec);
        Ok(None)
    }

    fn delete_secret(&mut self, req: &Value) -> Option<Value> {
        let uids = strings(&req["recordUids"]).unwrap_or_default();
        let results: Vec<Value> = uids
            .iter()
            .map(|u| {
                let code = if self.records.remove(u).is_some() { "ok" } else { "not_found" };
                json!({"recordUid": u, "responseCode": code})
            })
            .collect();
        Some(json!({"records": results}))
    }
}

type Reply = Result<Option<Value>, (u16, &'static str, String)>;

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
}

fn ok(tk: &[u8], body: &[u8]) -> KsmHttpResponse {
    KsmHttpResponse { status_code: 200, data: kc::gcm_encrypt(tk, body), http_response: None }
}

fn raw(status: u16, body: String) -> KsmHttpResponse {
    KsmHttpResponse { status_code: status, data: body.clone().into_bytes(), http_response: Some(body) }
}

/// Keeper's error bodies are plain JSON (not encrypted), e.g. the Python SDK's exception test.
fn error(status: u16, url: &str, code: &str, message: &str) -> KsmHttpResponse {
    let body = json!({
        "path": format!("{url}, POST"),
        "additional_info": "",
        "location": "default exception manager - api validation exception",
        "error": code,
        "message": message,
    });
    raw(status, body.to_string())
}
