//! The simulated world: the `World` struct, which holds one state per API family and the parts they share
//! (configuration, ids, the clock and what time moves on, the ARM resource store, faults, the request log), and
//! the helpers the ARM families share.
//!
//! Each API family's state is a struct in its own file, beside the handlers that use it (`impl World` blocks
//! there); other families reach it through small methods of that struct (`GraphState::sp_usable`,
//! `RbacState::remove_at_or_under`, `WorkspacesState::append_rows`, ...), not through its fields.
//!
//! | file            | state            | job                                                                      |
//! |-----------------|------------------|--------------------------------------------------------------------------|
//! | `mod.rs`        | `World`, `Res`   | ids, clock (`now`, `advance`, `tick`), latency model, lags, paging, the resource store |
//! | `seed.rs`       |                  | the world as it starts: tenant, operator, subscription, providers       |
//! | `faults.rs`     | `FaultsState`    | planned faults (`Sim::inject`) and chaos; `FaultAction`                  |
//! | `entra.rs`      | `EntraState`     | token endpoint, managed-identity endpoint, audiences, bearer principals  |
//! | `graph.rs`      | `GraphState`     | applications, service principals, secrets, addPassword / removePassword, lists, replication |
//! | `owners.rs`     | (`GraphState`)   | owners of applications, directory users, apps registered by someone else |
//! | `arm.rs`        | `ArmState`       | the ARM router: api-versions, subscriptions, locations, providers, groups |
//! | `workspaces.rs` | `WorkspacesState`| workspaces (soft delete, recovery) and tables (classic too), their rows, long-running operations |
//! | `dce.rs`        |                  | data collection endpoints (kept in the resource store)                   |
//! | `dcr.rs`        |                  | data collection rules (kept in the resource store)                       |
//! | `rbac.rs`       | `RbacState`      | role definitions, role assignments, `permitted`, permissions, `has_role` |
//! | `ingest.rs`     | `IngestState`    | the Logs Ingestion API                                                   |
//! | `monitor.rs`    | `MonitorState`   | action groups (kept in the resource store), diagnostic settings (kept apart: they outlive their resource), a DCR's error log `DCRLogErrors` |
//! | `alerts.rs`     |                  | log alert rules (`scheduledQueryRules`, kept in the resource store) and their evaluation (`Sim::evaluate_log_alert`) |
//! | `signins.rs`    | `SignInsState`   | Entra's tenant diagnostic setting and the `AADServicePrincipalSignInLogs` rows the token endpoint writes |
//! | `query.rs`      |                  | the Log Analytics query API (KQL in `crate::kql`)                        |
//! | `sentinel.rs`   |                  | Sentinel onboarding, analytics rules, saved searches (functions), workbooks (kept in the resource store) |
//! | `classic.rs`    |                  | classic `_CL` tables as the retired HTTP Data Collector API filled them  |
//! | `keeper.rs`     | `KeeperState`    | the fake Keeper Secrets Manager backend (its crypto in `keeper_crypto.rs`) |
//!
//! DCEs, DCRs, action groups, log alert rules and Sentinel's content have no state of their own: like every ARM
//! resource they live in the one resource store (`World::resources`), because ARM ids nest across families and
//! ARM's own behaviours (a group's lists and deletion, operations becoming ready) walk them together. Diagnostic
//! settings are the exception, kept in `MonitorState`: Azure keeps them apart from their resource, which they
//! outlive (`monitor.rs`).
//!
//! The Azure behaviours modelled, file by file and with their sources, are listed in `azure-sim/BEHAVIOUR.md`.
//! Family files depend on this module and on each other only downwards (`arm` on the resource families,
//! everything on `entra` for bearer tokens); this module names the family states and, where time or a
//! deletion behind the tool's back touches them (`tick`, `delete_resource`), calls their methods.

mod alerts;
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
mod monitor;
pub mod owners;
mod query;
mod rbac;
mod seed;
mod sentinel;
mod signins;
mod workspaces;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::api::{LoggedRequest, Operator, SimConfig};
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

/// A resource kept by id (lower-case key), with when it becomes ready and whether its operation fails.
#[derive(Debug, Clone)]
struct Res {
    body: Value,
    ready_at: Instant,
    fail: bool,
}

/// A parsed request.
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub auth: Option<String>,
    /// `X-IDENTITY-HEADER`, which the managed-identity endpoint requires.
    pub identity_header: Option<String>,
    /// `x-ms-client-request-id`, which a DCR's error log records (`DCRLogErrors.ClientRequestId`).
    pub client_request_id: Option<String>,
    pub body: Vec<u8>,
}

/// The simulated cloud: one state per API family (each defined in its family's file, beside its handlers), and
/// the parts every family shares: the configuration, the clock, the ids, the ARM resource store, the faults and
/// the request log.
pub struct World {
    pub cfg: SimConfig,
    specs: Specs,
    rng: StdRng,
    pub base_url: String,
    /// How far the simulated clock runs ahead of the real one (`now`, `advance`).
    offset: Duration,
    pub tenant: String,
    pub operator: Operator,
    /// Every ARM resource by lower-case id, whatever its family: resource groups, workspaces and their tables
    /// and saved searches, DCEs, DCRs, Sentinel settings, rules and content, workbooks. One store, because ARM
    /// ids nest across families (a table or a Sentinel rule under a workspace, all of it under a resource
    /// group) and ARM's own behaviours walk them together: lists of a group's resources, a group's deletion
    /// taking what is under it, long-running operations becoming ready (`tick`).
    resources: BTreeMap<String, Res>,
    /// Tokens the token endpoints issued (`entra.rs`).
    entra: entra::EntraState,
    /// Applications, service principals, secrets, owners, users and their replication (`graph.rs`, `owners.rs`).
    pub graph: graph::GraphState,
    /// Subscriptions, locations and resource providers (`arm.rs`).
    arm: arm::ArmState,
    /// Role assignments (`rbac.rs`).
    pub rbac: rbac::RbacState,
    /// Table rows, deleted tables, soft-deleted workspaces, long-running operations (`workspaces.rs`).
    pub workspaces: workspaces::WorkspacesState,
    /// What the Logs Ingestion API accepted (`ingest.rs`).
    pub ingest: ingest::IngestState,
    /// Diagnostic settings and the muting of repeated DCR errors (`monitor.rs`).
    monitor: monitor::MonitorState,
    /// Where service principal sign-ins are exported (`signins.rs`).
    signins: signins::SignInsState,
    /// Planned faults and chaos's draws (`faults.rs`).
    pub faults: faults::FaultsState,
    pub log: Vec<LoggedRequest>,
    pub writes: usize,
    /// Requests applied and held without an answer (`FaultKind::ApplyThenHang`).
    pub hanging: usize,
    /// The fake Keeper Secrets Manager backend (`/api/rest/sm/v1/*`, `keeper.rs`).
    pub keeper: keeper::KeeperState,
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
        self.arm
            .finish_registrations(now, self.cfg.provider_registration_delay);
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
    /// A resource's body by id; a diagnostic setting too, though it is kept apart (`monitor.rs`).
    pub fn resource_body(&self, id: &str) -> Option<Value> {
        self.resources
            .get(&lc(id))
            .map(|r| r.body.clone())
            .or_else(|| self.monitor.diagnostic_setting(id))
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

    /// Deletes a resource and what is under it, as ARM's DELETE does: the diagnostic settings on it stay
    /// (`monitor.rs`), unless `id` names a diagnostic setting itself.
    pub fn delete_resource(&mut self, id: &str) {
        self.monitor.remove_diagnostic_setting(id);
        let key = lc(id);
        let prefix = format!("{key}/");
        self.resources
            .retain(|k, _| *k != key && !k.starts_with(&prefix));
        self.workspaces.forget_table_data(&key, &prefix);
        self.rbac.remove_at_or_under(&key);
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
