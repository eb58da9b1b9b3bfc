//! Microsoft Graph v1.0: applications, service principals, addPassword / removePassword, and filtered lists.
//!
//! Graph is eventually consistent: a new application or service principal is not found by reads for a while
//! (`SimConfig::graph_replication_delay`). Source: "A successful write to Microsoft Entra does not guarantee that
//! an immediate read will reflect that change ... A newly created object to return a 'Not Found'" (Microsoft
//! Entra blog, "Designing for Eventual Consistency for Microsoft Entra", 2026-03-24,
//! https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

use super::{Aud, Req, World};
use crate::reply::{graph_err, now_iso, Reply};

/// The directory: applications, service principals, their secrets and owners, the users, and when each new
/// object replicates.
#[derive(Debug)]
pub struct GraphState {
    pub apps: Vec<Value>,
    /// Client secrets by key id (their text is never in `apps`).
    secrets: HashMap<String, Secret>,
    pub sps: Vec<Value>,
    /// Owners (directory object ids) of each application, by the application's object id (`owners.rs`).
    pub owners: HashMap<String, Vec<String>>,
    /// Directory users (other members of the tenant; the operator is a service principal).
    pub(super) users: Vec<Value>,
    /// Whether a new application's creator becomes its owner (Graph's behaviour; a test may turn it off).
    pub creator_becomes_owner: bool,
    /// When each service principal (by object id) was made.
    sp_created: HashMap<String, Instant>,
    /// Each service principal's own replication delay.
    sp_delay: HashMap<String, Duration>,
    /// When a new application or service principal (by object id) becomes visible to Graph reads.
    pub(super) graph_visible_at: HashMap<String, Instant>,
    /// When the token endpoint starts to accept a new service principal (by object id).
    sp_usable_at: HashMap<String, Instant>,
}

#[derive(Debug, Clone)]
struct Secret {
    app_object_id: String,
    text: String,
    /// The token endpoint refuses it until then (`SimConfig::credential_activation_delay`).
    usable_at: Instant,
}

impl Default for GraphState {
    fn default() -> Self {
        GraphState {
            apps: vec![],
            secrets: HashMap::new(),
            sps: vec![],
            owners: HashMap::new(),
            users: vec![],
            creator_becomes_owner: true,
            sp_created: HashMap::new(),
            sp_delay: HashMap::new(),
            graph_visible_at: HashMap::new(),
            sp_usable_at: HashMap::new(),
        }
    }
}

impl GraphState {
    /// An application and its service principal that exist before the world starts (the operator's), made at
    /// `created` and visible at once.
    pub(super) fn add_seeded(&mut self, app: Value, sp: Value, created: Instant) {
        if let Some(id) = sp["id"].as_str() {
            self.sp_created.insert(id.to_string(), created);
        }
        self.apps.push(app);
        self.sps.push(sp);
    }
}

/// What the other families ask of the directory (the token endpoint, RBAC).
impl GraphState {
    /// The application whose application (client) id is `client_id`.
    pub(super) fn app_by_client_id(&self, client_id: &str) -> Option<&Value> {
        self.apps.iter().find(|a| a["appId"] == client_id)
    }

    /// The service principal of the application `client_id`.
    pub(super) fn sp_of_app(&self, client_id: &str) -> Option<&Value> {
        self.sps.iter().find(|s| s["appId"] == client_id)
    }

    /// The application (client) id of the service principal with object id `principal`.
    pub(super) fn sp_app_id(&self, principal: &str) -> Option<&str> {
        self.sps
            .iter()
            .find(|s| s["id"] == principal)
            .and_then(|s| s["appId"].as_str())
    }

    /// The key id of the secret of `app` that `given` is, if the token endpoint takes it at `now`: made long enough
    /// ago to be usable, and its credential's `endDateTime` (by the real wall clock) not passed.
    pub(super) fn accepted_secret(&self, app: &Value, given: &str, now: Instant) -> Option<String> {
        let app_object = app["id"].as_str().unwrap_or_default();
        let wall = time::OffsetDateTime::now_utc();
        self.secrets.iter().find_map(|(key, s)| {
            let accepted =
                s.app_object_id == app_object && s.text == given && s.usable_at <= now && {
                    let end = app["passwordCredentials"]
                        .as_array()
                        .and_then(|l| l.iter().find(|p| p["keyId"] == key.as_str()))
                        .and_then(|p| p["endDateTime"].as_str())
                        .and_then(|e| {
                            time::OffsetDateTime::parse(
                                e,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .ok()
                        });
                    end.is_some_and(|e| e > wall)
                };
            accepted.then(|| key.clone())
        })
    }

    /// Whether the token endpoint knows the service principal `principal` at `now` (a new one is refused for a
    /// while: entra.rs).
    pub(super) fn sp_usable(&self, principal: &str, now: Instant) -> bool {
        self.sp_usable_at.get(principal).is_none_or(|at| now >= *at)
    }

    /// The replication delay drawn for the service principal `principal` when it was made.
    pub(super) fn replication_delay(&self, principal: &str) -> Option<Duration> {
        self.sp_delay.get(principal).copied()
    }

    /// When the service principal `principal` was made.
    pub(super) fn sp_created_at(&self, principal: &str) -> Option<Instant> {
        self.sp_created.get(principal).copied()
    }
}

impl World {
    pub fn graph(&mut self, req: &Req) -> Reply {
        let caller = match self.principal(req, Aud::Graph) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let segs: Vec<&str> = req.path.trim_start_matches("/v1.0/").split('/').collect();
        let body: Value = if req.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => {
                    return graph_err(
                        400,
                        "BadRequest",
                        format!("Unable to read JSON request payload: {e}"),
                    )
                }
            }
        };
        if let Some(r) = self.owners_route(&req.method, &segs, &body) {
            return r;
        }
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["applications"]) => self.create_app(&body, &caller),
            ("GET", ["applications"]) => self.list_graph(req, true),
            ("GET", ["applications", id]) => match self.graph.apps.iter().find(|a| a["id"] == *id && self.graph_visible(id)) {
                Some(a) => Reply::json(200, a.clone()),
                None => graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")),
            },
            ("PATCH", ["applications", id]) => self.patch_app(id, &body),
            // Writes meet the lag as reads do (the same source): an object made moments ago is "not found".
            ("DELETE", ["applications", id]) if !self.graph_visible(id) => World::not_yet_visible(id),
            ("DELETE", ["applications", id]) => {
                let Some(app) = self.graph.apps.iter().find(|a| a["id"] == *id).cloned() else {
                    return graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."));
                };
                self.graph.apps.retain(|a| a["id"] != *id);
                self.graph.owners.remove(*id);
                self.graph.secrets.retain(|_, s| s.app_object_id != *id);
                self.graph.sps.retain(|s| s["appId"] != app["appId"]);
                Reply::empty(204)
            }
            ("POST", ["applications", id, "addPassword"]) => self.add_password(id, &body),
            ("POST", ["applications", id, "removePassword"]) if !self.graph_visible(id) => {
                World::not_yet_visible(id)
            }
            ("POST", ["applications", id, "removePassword"]) => {
                let key = body["keyId"].as_str().unwrap_or_default().to_string();
                let Some(app) = self.graph.apps.iter_mut().find(|a| a["id"] == *id) else {
                    return graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."));
                };
                let creds = app["passwordCredentials"].as_array_mut();
                let Some(creds) = creds else { return graph_err(400, "Request_BadRequest", "No password credentials") };
                let before = creds.len();
                creds.retain(|p| p["keyId"] != key.as_str());
                if creds.len() == before {
                    return graph_err(400, "Request_BadRequest", format!("No password credential found with keyId {key}."));
                }
                self.graph.secrets.remove(&key);
                Reply::empty(204)
            }
            ("POST", ["servicePrincipals"]) => self.create_sp(&body),
            ("GET", ["servicePrincipals"]) => self.list_graph(req, false),
            ("GET", ["servicePrincipals", id]) => match self.graph.sps.iter().find(|s| s["id"] == *id && self.graph_visible(id)) {
                Some(s) => Reply::json(200, s.clone()),
                None => graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist.")),
            },
            ("DELETE", ["servicePrincipals", id]) if !self.graph_visible(id) => World::not_yet_visible(id),
            ("DELETE", ["servicePrincipals", id]) => {
                let before = self.graph.sps.len();
                self.graph.sps.retain(|s| s["id"] != *id);
                if self.graph.sps.len() == before {
                    graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."))
                } else {
                    Reply::empty(204)
                }
            }
            _ => graph_err(400, "BadRequest", format!("Resource not found for the segment '{}'.", segs.first().unwrap_or(&""))),
        }
    }

    /// Whether a Graph object is past its read-after-create lag (objects the simulator did not create this way,
    /// like the operator's, always are).
    fn graph_visible(&self, object_id: &str) -> bool {
        self.graph
            .graph_visible_at
            .get(object_id)
            .is_none_or(|at| self.now() >= *at)
    }

    /// 404 `Request_ResourceNotFound` for an object still replicating, as for one that does not exist.
    fn not_yet_visible(object_id: &str) -> Reply {
        graph_err(
            404,
            "Request_ResourceNotFound",
            format!("Resource '{object_id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }

    fn check_keys(body: &Value, allowed: &[&str]) -> Result<(), Reply> {
        let Some(o) = body.as_object() else {
            return Err(graph_err(
                400,
                "Request_BadRequest",
                "The request body must be a JSON object.",
            ));
        };
        for k in o.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(graph_err(
                    400,
                    "Request_BadRequest",
                    format!("Property '{k}' does not exist on type 'microsoft.graph.application'."),
                ));
            }
        }
        Ok(())
    }

    fn create_app(&mut self, body: &Value, caller: &str) -> Reply {
        if let Err(r) = World::check_keys(
            body,
            &[
                "displayName",
                "signInAudience",
                "tags",
                "identifierUris",
                "description",
                "notes",
            ],
        ) {
            return r;
        }
        let Some(name) = body["displayName"]
            .as_str()
            .filter(|n| !n.trim().is_empty())
        else {
            return graph_err(
                400,
                "Request_BadRequest",
                "Property displayName is required.",
            );
        };
        if body
            .get("identifierUris")
            .and_then(Value::as_array)
            .is_some_and(|u| !u.is_empty())
        {
            return graph_err(400, "Request_BadRequest", "identifierUris must reference the appId, which is not known before the application exists.");
        }
        let app = json!({
            "id": self.uuid(), "appId": self.uuid(), "displayName": name,
            "signInAudience": body.get("signInAudience").cloned().unwrap_or(json!("AzureADMyOrg")),
            "identifierUris": [], "tags": body.get("tags").cloned().unwrap_or(json!([])), "passwordCredentials": [],
            "createdDateTime": now_iso(), "publisherDomain": "sim.onmicrosoft.com",
        });
        let visible_at = self.now() + self.graph_lag();
        self.graph.graph_visible_at.insert(
            app["id"].as_str().unwrap_or_default().to_string(),
            visible_at,
        );
        self.graph.apps.push(app.clone());
        self.creator_owns(app["id"].as_str().unwrap_or_default(), caller);
        Reply::json(201, app)
    }

    fn patch_app(&mut self, id: &str, body: &Value) -> Reply {
        if let Err(r) = World::check_keys(
            body,
            &[
                "displayName",
                "tags",
                "identifierUris",
                "notes",
                "description",
            ],
        ) {
            return r;
        }
        if !self.graph_visible(id) {
            return World::not_yet_visible(id);
        }
        let Some(app) = self.graph.apps.iter_mut().find(|a| a["id"] == id) else {
            return graph_err(
                404,
                "Request_ResourceNotFound",
                format!("Resource '{id}' does not exist."),
            );
        };
        if let Some(uris) = body.get("identifierUris").and_then(Value::as_array) {
            let want = format!("api://{}", app["appId"].as_str().unwrap_or_default());
            if uris.iter().any(|u| u.as_str() != Some(want.as_str())) {
                return graph_err(400, "HostNameNotOnVerifiedDomain", "Values of identifierUris property must use a verified domain of the organization or its subdomain, or use the default api://{appId} form.");
            }
        }
        for (k, v) in body.as_object().into_iter().flatten() {
            app[k] = v.clone();
        }
        Reply::empty(204)
    }

    fn add_password(&mut self, id: &str, body: &Value) -> Reply {
        if let Err(r) = World::check_keys(body, &["passwordCredential"]) {
            return r;
        }
        let pc = &body["passwordCredential"];
        let display = pc["displayName"].as_str().map(str::to_string);
        let end = pc["endDateTime"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                (time::OffsetDateTime::now_utc() + time::Duration::days(730))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            });
        if time::OffsetDateTime::parse(&end, &time::format_description::well_known::Rfc3339)
            .is_err()
        {
            return graph_err(
                400,
                "Request_BadRequest",
                format!("Invalid endDateTime '{end}'."),
            );
        }
        if !self.graph_visible(id) {
            return World::not_yet_visible(id);
        }
        let key = self.uuid();
        let text: String = (0..40)
            .map(|_| self.rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let Some(app) = self.graph.apps.iter_mut().find(|a| a["id"] == id) else {
            return graph_err(
                404,
                "Request_ResourceNotFound",
                format!("Resource '{id}' does not exist."),
            );
        };
        let start = now_iso();
        let cred = json!({ "customKeyIdentifier": null, "displayName": display, "endDateTime": end, "hint": &text[..3], "keyId": key, "secretText": null, "startDateTime": start });
        if let Some(list) = app["passwordCredentials"].as_array_mut() {
            list.push(cred.clone());
        }
        let usable_at = self.now() + self.credential_lag();
        self.graph.secrets.insert(
            key,
            Secret {
                app_object_id: id.to_string(),
                text: text.clone(),
                usable_at,
            },
        );
        let mut answer = cred;
        answer["secretText"] = json!(text);
        Reply::json(200, answer)
    }

    fn create_sp(&mut self, body: &Value) -> Reply {
        if let Err(r) = World::check_keys(body, &["appId", "tags", "accountEnabled"]) {
            return r;
        }
        let app_id = body["appId"].as_str().unwrap_or_default().to_string();
        // An application still replicating cannot back a service principal yet: the same 400 as for no
        // application, `details[0].code` `NoBackingApplicationObject` (the answer recorded in "MS Graph API -
        // failing to create Service Principal for just created Application",
        // https://learn.microsoft.com/en-us/answers/questions/5883620/).
        let Some(app) = self
            .graph
            .apps
            .iter()
            .find(|a| {
                a["appId"] == app_id.as_str()
                    && self.graph_visible(a["id"].as_str().unwrap_or_default())
            })
            .cloned()
        else {
            let message = format!("The appId '{app_id}' of the service principal does not reference a valid application object.");
            let mut r = graph_err(400, "Request_BadRequest", message.clone());
            if let Some(e) = r.body.as_mut().and_then(|b| b.get_mut("error")) {
                e["details"] = json!([{ "code": "NoBackingApplicationObject", "message": message, "target": "appId" }]);
            }
            return r;
        };
        if self.graph.sps.iter().any(|s| s["appId"] == app_id.as_str()) {
            return graph_err(
                409,
                "Request_MultipleObjectsWithSameKeyValue",
                "Another object with the same value for property appId already exists.",
            );
        }
        let sp = json!({ "id": self.uuid(), "appId": app_id, "displayName": app["displayName"], "servicePrincipalType": "Application", "tags": body.get("tags").cloned().unwrap_or(json!([])) });
        let sp_id = sp["id"].as_str().unwrap_or_default().to_string();
        let delay = match &self.cfg.chaos {
            Some(c) if c.replication.1 > c.replication.0 => {
                let (lo, hi) = (c.replication.0.as_secs_f64(), c.replication.1.as_secs_f64());
                Duration::from_secs_f64(self.rng.gen_range(lo..hi))
            }
            Some(c) => c.replication.0,
            None => self
                .cfg
                .latency
                .as_ref()
                .map(|l| l.scaled(l.sp_replication))
                .unwrap_or(self.cfg.sp_replication_delay),
        };
        self.graph.sp_delay.insert(sp_id.clone(), delay);
        let now = self.now();
        self.graph
            .graph_visible_at
            .insert(sp_id.clone(), now + self.graph_lag());
        self.graph
            .sp_usable_at
            .insert(sp_id.clone(), now + self.credential_lag());
        self.graph.sp_created.insert(sp_id, now);
        self.graph.sps.push(sp.clone());
        Reply::json(201, sp)
    }

    fn list_graph(&self, req: &Req, apps: bool) -> Reply {
        let filter = req.query.get("$filter");
        let list = if apps {
            &self.graph.apps
        } else {
            &self.graph.sps
        };
        let pick = |v: &Value| -> bool {
            let Some(f) = filter else { return true };
            let f = f.trim();
            let quoted = |s: &str| {
                s.trim()
                    .trim_start_matches('\'')
                    .trim_end_matches('\'')
                    .replace("''", "'")
            };
            if let Some(rest) = f.strip_prefix("displayName eq ") {
                v["displayName"] == quoted(rest).as_str()
            } else if let Some(rest) = f.strip_prefix("appId eq ") {
                v["appId"] == quoted(rest).as_str()
            } else if let Some(rest) = f.strip_prefix("tags/any(t:t eq ") {
                let want = quoted(rest.trim_end_matches(')'));
                v["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == want.as_str()))
            } else {
                false
            }
        };
        if let Some(f) = filter {
            let ok = ["displayName eq ", "appId eq ", "tags/any(t:t eq "]
                .iter()
                .any(|p| f.trim().starts_with(p));
            if !ok {
                return graph_err(
                    400,
                    "Request_UnsupportedQuery",
                    format!("Unsupported query: {f}"),
                );
            }
        }
        // Objects still replicating are missing from lists too.
        let found = list
            .iter()
            .filter(|v| pick(v) && self.graph_visible(v["id"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        self.page(req, found, "@odata.nextLink")
    }
}
