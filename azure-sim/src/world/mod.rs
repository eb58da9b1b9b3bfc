//! The simulated world's state and clock: the `World` struct and what it keeps (tokens, Graph objects, ARM
//! resources, role assignments, operations, faults, table rows), ids, simulated time and what time moves on,
//! and the helpers the ARM families share.
//!
//! One file per API family adds its handlers to `World` (`impl World` blocks):
//!
//! | file            | job                                                                         |
//! |-----------------|-----------------------------------------------------------------------------|
//! | `mod.rs`        | state, ids, clock (`now`, `advance`, `tick`), latency model, lags, paging   |
//! | `seed.rs`       | the world as it starts: tenant, operator, subscription, providers           |
//! | `faults.rs`     | planned faults (`Sim::inject`) and chaos; `FaultAction`                     |
//! | `entra.rs`      | token endpoint, managed-identity endpoint, audiences, bearer principals     |
//! | `graph.rs`      | applications, service principals, addPassword / removePassword, lists       |
//! | `owners.rs`     | owners of applications, directory users, apps registered by someone else    |
//! | `arm.rs`        | the ARM router: api-versions, subscriptions, locations, providers, groups   |
//! | `workspaces.rs` | workspaces (soft delete, recovery) and tables (classic too), long-running  |
//! | `dce.rs`        | data collection endpoints                                                   |
//! | `dcr.rs`        | data collection rules                                                       |
//! | `rbac.rs`       | role definitions, role assignments, `permitted`, permissions, `has_role`    |
//! | `ingest.rs`     | the Logs Ingestion API                                                      |
//! | `query.rs`      | the Log Analytics query API (KQL in `crate::kql`)                           |
//! | `sentinel.rs`   | Sentinel onboarding, analytics rules, saved searches (functions), workbooks |
//! | `classic.rs`    | classic `_CL` tables as the retired HTTP Data Collector API filled them     |
//!
//! The Azure behaviours modelled, file by file and with their sources, are listed in `azure-sim/BEHAVIOUR.md`.
//! Family files depend on this module and on each other only downwards (`arm` on the resource families,
//! everything on `entra` for bearer tokens); this module depends on none of them.

mod arm;
mod classic;
mod dce;
mod dcr;
mod entra;
pub mod faults;
mod graph;
mod ingest;
pub mod keeper;
mod keeper_crypto;
pub mod owners;
mod query;
mod rbac;
mod seed;
mod sentinel;
mod workspaces;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::api::{Fault, LoggedRequest, Operator, SimConfig};
use crate::reply::{arm_err, Reply};
use crate::schema::Specs;

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aud {
    Arm,
    Graph,
    Monitor,
    LogAnalytics,
}

#[derive(Debug, Clone)]
struct TokenInfo {
    principal: String,
    aud: Aud,
    expires: Instant,
}

#[derive(Debug, Clone)]
struct Secret {
    app_object_id: String,
    text: String,
    /// The token endpoint refuses it until then (`SimConfig::credential_activation_delay`).
    usable_at: Instant,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: String,
    pub scope: String,
    pub role: String,
    pub principal: String,
    pub principal_type: Option<String>,
    pub created: Instant,
}

/// A resource kept by id (lower-case key), with when it becomes ready and whether its operation fails.
#[derive(Debug, Clone)]
struct Res {
    body: Value,
    ready_at: Instant,
    fail: bool,
}

#[derive(Debug, Clone)]
struct Operation {
    resource: String,
    done_at: Instant,
    fail: bool,
}

#[derive(Debug, Clone)]
struct FaultState {
    fault: Fault,
    seen: usize,
    hit: usize,
    /// `(method, path part)` of the request that arms this fault (`Sim::inject_once_seen`); until it has been
    /// seen, the fault matches nothing.
    armed_by: Option<(String, String)>,
}

/// A parsed request.
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub auth: Option<String>,
    /// `X-IDENTITY-HEADER`, which the managed-identity endpoint requires.
    pub identity_header: Option<String>,
    pub body: Vec<u8>,
}

/// The simulated cloud: every object and resource, the tokens issued, the faults planned, and the request log.
pub struct World {
    pub cfg: SimConfig,
    specs: Specs,
    rng: StdRng,
    pub base_url: String,
    offset: Duration,
    pub tenant: String,
    pub operator: Operator,
    subscriptions: Vec<(String, String, bool)>,
    locations: Vec<&'static str>,
    pub apps: Vec<Value>,
    secrets: HashMap<String, Secret>,
    pub sps: Vec<Value>,
    /// Owners (directory object ids) of each application, by the application's object id.
    pub owners: HashMap<String, Vec<String>>,
    /// Directory users (other members of the tenant; the operator is a service principal).
    pub users: Vec<Value>,
    /// Whether a new application's creator becomes its owner (Graph's behaviour; a test may turn it off).
    pub creator_becomes_owner: bool,
    sp_created: HashMap<String, Instant>,
    tokens: HashMap<String, TokenInfo>,
    providers: HashMap<String, (String, Instant)>,
    resources: BTreeMap<String, Res>,
    pub assignments: Vec<Assignment>,
    operations: HashMap<String, Operation>,
    pub rows: HashMap<String, Vec<Value>>,
    /// Custom tables deleted from a live workspace (lower-case id): their rows and columns, back when a table of
    /// that name and those columns is made again.
    deleted_tables: HashMap<String, workspaces::DeletedTable>,
    /// Workspaces deleted without `force` (lower-case id), recoverable for 14 days with what they held.
    soft_deleted: BTreeMap<String, workspaces::SoftDeleted>,
    /// Workspaces (ids, lower case) that have received a row: from then on their queries never answer 204 ("No
    /// data in workspace"), even once a table is deleted.
    pub had_data: std::collections::HashSet<String>,
    faults: Vec<FaultState>,
    pub log: Vec<LoggedRequest>,
    pub writes: usize,
    /// Rows accepted by the Logs Ingestion API, stored or not.
    pub ingested: u64,
    /// Requests applied and held without an answer (`FaultKind::ApplyThenHang`).
    pub hanging: usize,
    /// Each service principal's own replication delay.
    sp_delay: HashMap<String, Duration>,
    /// When a new application or service principal (by object id) becomes visible to Graph reads.
    graph_visible_at: HashMap<String, Instant>,
    /// When the token endpoint starts to accept a new service principal (by object id).
    sp_usable_at: HashMap<String, Instant>,
    /// Faults drawn by chaos, by kind, for reports.
    pub chaos_counts: BTreeMap<&'static str, usize>,
    /// How many times chaos has seen each request shape.
    chaos_seen: HashMap<String, u64>,
    /// The fake Keeper Secrets Manager backend (`/api/rest/sm/v1/*`).
    pub keeper: keeper::Keeper,
}

fn lc(s: &str) -> String {
    s.to_ascii_lowercase()
}

// ---------- clock and ids ----------

impl World {
    /// How long this request takes to answer under the latency model.
    pub fn latency_of(&self, method: &str, path: &str) -> Duration {
        let Some(l) = &self.cfg.latency else {
            return Duration::ZERO;
        };
        let read = method == "GET" || method == "HEAD";
        let d = if path.contains("/oauth2/") {
            l.token
        } else if path.starts_with("/v1.0/") {
            if read {
                l.graph_read
            } else {
                l.graph_write
            }
        } else if path.starts_with("/subscriptions") {
            if read {
                l.arm_read
            } else if lc(path).contains("/roleassignments/") {
                l.role_write
            } else {
                l.arm_write
            }
        } else {
            Duration::ZERO
        };
        l.scaled(d)
    }

    pub fn now(&self) -> Instant {
        Instant::now() + self.offset
    }

    /// The simulated wall clock: what `now()` is to a query and when a row was ingested.
    pub fn wall_now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + self.offset
    }

    pub fn advance(&mut self, d: Duration) {
        self.offset += d;
    }

    /// Graph's read-after-create lag for a new object now (the latency model's, else the configured one).
    fn graph_lag(&self) -> Duration {
        match &self.cfg.latency {
            Some(l) if !self.cfg.graph_replication_delay.is_zero() => l.scaled(l.graph_replication),
            _ => self.cfg.graph_replication_delay,
        }
    }

    /// How long the token endpoint refuses a new secret or service principal (the latency model's, else the
    /// configured one).
    fn credential_lag(&self) -> Duration {
        match &self.cfg.latency {
            Some(l) if !self.cfg.credential_activation_delay.is_zero() => {
                l.scaled(l.credential_activation)
            }
            _ => self.cfg.credential_activation_delay,
        }
    }

    /// How long Logs Ingestion answers 403 after the role assignment it relies on (the latency model's, else the
    /// configured one).
    fn ingestion_role_lag(&self) -> Duration {
        match &self.cfg.latency {
            Some(l) if !self.cfg.role_propagation_delay.is_zero() => {
                l.scaled(l.ingestion_role_propagation)
            }
            _ => self.cfg.role_propagation_delay,
        }
    }

    /// How long the query API answers 403 after a new role assignment on the workspace (the latency model's,
    /// else the configured one).
    fn query_role_lag(&self) -> Duration {
        match &self.cfg.latency {
            Some(l) if !self.cfg.query_propagation_delay.is_zero() => {
                l.scaled(l.query_role_propagation)
            }
            _ => self.cfg.query_propagation_delay,
        }
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.gen())
            .into_uuid()
            .to_string()
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| format!("{:x}", self.rng.gen_range(0..16u8)))
            .collect()
    }

    /// The simulated wall clock as RFC 3339 (what Azure writes in a date property).
    fn wall_iso(&self) -> String {
        self.wall_now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }

    /// Moves time-driven state on: provider registrations, finished and failed operations, soft-deleted
    /// workspaces past their 14 days.
    fn tick(&mut self) {
        let now = self.now();
        self.expire_soft_deleted(now);
        let delay = self.cfg.provider_registration_delay;
        for (_, (state, since)) in self.providers.iter_mut() {
            if state == "Registering" && now >= *since + delay {
                *state = "Registered".into();
            }
        }
        let due: Vec<String> = self
            .resources
            .iter()
            .filter(|(_, r)| now >= r.ready_at)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            let fail = self.resources.get(&k).map(|r| r.fail).unwrap_or(false);
            if let Some(r) = self.resources.get_mut(&k) {
                let ty = r
                    .body
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let state = r
                    .body
                    .pointer("/properties/provisioningState")
                    .and_then(Value::as_str)
                    .unwrap_or("Succeeded")
                    .to_string();
                if fail && ty.ends_with("/tables") {
                    self.resources.remove(&k);
                    continue;
                }
                if matches!(state.as_str(), "Creating" | "InProgress" | "Updating") {
                    r.body["properties"]["provisioningState"] =
                        json!(if fail { "Failed" } else { "Succeeded" });
                }
            }
        }
    }
}

// ---------- helpers the ARM families share ----------

impl World {
    /// Stores a resource that is ready at once (a synchronous PUT: resource groups, DCEs, DCRs) under its id.
    fn store_ready(&mut self, id: &str, body: Value) {
        let ready_at = self.now();
        self.resources.insert(
            lc(id),
            Res {
                body,
                ready_at,
                fail: false,
            },
        );
    }

    fn sub_of(path: &str) -> Option<&str> {
        path.strip_prefix("/subscriptions/")
            .map(|r| r.split('/').next().unwrap_or(""))
    }

    fn parse_body(req: &Req) -> Result<Value, Reply> {
        serde_json::from_slice(&req.body).map_err(|e| {
            arm_err(
                400,
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: {e}"),
            )
        })
    }

    fn validate(&self, file: &str, def: &str, body: &Value, code: &str) -> Result<(), Reply> {
        self.specs
            .validate(file, def, body)
            .map_err(|e| arm_err(400, code, format!("The request content was invalid: {e}")))
    }

    fn provider_registered(&self, kind: &str) -> Result<(), Reply> {
        let ns = kind.split('/').next().unwrap_or_default();
        match self.providers.get(ns) {
            Some((s, _)) if s != "Registered" => Err(arm_err(
                409,
                "MissingSubscriptionRegistration",
                format!("The subscription is not registered to use namespace '{ns}'. See https://aka.ms/rps-not-found for how to register subscriptions."),
            )),
            _ => Ok(()),
        }
    }
}

// ---------- paging ----------

impl World {
    /// One page of a list: `value`, and while more remain, `next` (`nextLink` for ARM, `@odata.nextLink` for
    /// Graph) holding this request's URL with a `$skiptoken`. Azure pages lists server-side and the client must
    /// follow the link until it is absent: Graph, "Paging Microsoft Graph data in your app"
    /// (https://learn.microsoft.com/graph/paging); ARM, the `x-ms-pageable` / `nextLink` of the list operations in
    /// the vendored specs (e.g. `authorization-RoleAssignmentsCalls.json`).
    fn page(&self, req: &Req, items: Vec<Value>, next: &str) -> Reply {
        let Some(size) = self.cfg.page_size.filter(|s| *s > 0) else {
            return Reply::json(200, json!({ "value": items }));
        };
        let from: usize = req
            .query
            .get("$skiptoken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = items.iter().skip(from).take(size).cloned().collect();
        let mut body = json!({ "value": page });
        if from + size < items.len() {
            let mut keys: Vec<&String> = req.query.keys().filter(|k| *k != "$skiptoken").collect();
            keys.sort();
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            for k in keys {
                q.append_pair(k, &req.query[k]);
            }
            q.append_pair("$skiptoken", &(from + size).to_string());
            body[next] = json!(format!("{}{}?{}", self.base_url, req.path, q.finish()));
        }
        Reply::json(200, body)
    }
}

// ---------- what `Snapshot` reads, and changes behind the tool's back ----------

impl World {
    pub fn resource_body(&self, id: &str) -> Option<Value> {
        self.resources.get(&lc(id)).map(|r| r.body.clone())
    }

    pub fn resources_of_type(&self, ty: &str) -> Vec<Value> {
        self.resources
            .values()
            .filter(|r| {
                r.body["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(ty))
            })
            .map(|r| r.body.clone())
            .collect()
    }

    pub fn delete_resource(&mut self, id: &str) {
        let key = lc(id);
        let prefix = format!("{key}/");
        self.resources
            .retain(|k, _| *k != key && !k.starts_with(&prefix));
        self.rows
            .retain(|k, _| *k != key && !k.starts_with(&prefix));
        self.deleted_tables
            .retain(|k, _| *k != key && !k.starts_with(&prefix));
        self.assignments
            .retain(|a| !(lc(&a.scope) == key || lc(&a.scope).starts_with(&prefix)));
    }

    pub fn patch_resource(&mut self, id: &str, patch: &Value) {
        fn merge(a: &mut Value, b: &Value) {
            match (a, b) {
                (Value::Object(a), Value::Object(b)) => {
                    for (k, v) in b {
                        merge(a.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
                (a, b) => *a = b.clone(),
            }
        }
        if let Some(r) = self.resources.get_mut(&lc(id)) {
            merge(&mut r.body, patch);
        }
    }
}
