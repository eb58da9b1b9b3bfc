//! The simulated world: tenant, Graph objects, ARM resources, role assignments, table rows; and the handlers that change it.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use crate::api::{Fault, FaultKind, LoggedRequest, Operator, SimConfig};
use crate::schema::{self, Specs};

pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
const KNOWN_ROLES: &[&str] = &[
    OWNER,
    CONTRIBUTOR,
    "92aaf0da-9dab-42b6-94a3-d43ce8d16293",
    MONITORING_METRICS_PUBLISHER,
    "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
    "73c42c96-874c-492b-b04d-ab87d138a893",
];

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: Some(body),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: None,
        }
    }
    pub fn header(mut self, k: &str, v: String) -> Reply {
        self.headers.push((k.to_string(), v));
        self
    }
}

/// ARM error shape.
pub fn arm_err(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": code, "message": message.into() } }),
    )
}

fn graph_err(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": code, "message": message.into(), "innerError": { "request-id": uuid::Uuid::new_v4().to_string(), "date": now_iso() } } }),
    )
}

fn token_err(code: &str, aadsts: u32, description: impl Into<String>) -> Reply {
    Reply::json(
        400,
        json!({ "error": code, "error_description": format!("AADSTS{aadsts}: {}", description.into()), "error_codes": [aadsts] }),
    )
}

pub fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

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

/// What the handler decided about faults for one request.
pub enum FaultAction {
    None,
    Reply(Reply),
    ApplyThen(u16),
    FailLro,
    Reset,
    ApplyThenHang,
    ApplyThenSlow(Duration),
}

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
    sp_created: HashMap<String, Instant>,
    tokens: HashMap<String, TokenInfo>,
    providers: HashMap<String, (String, Instant)>,
    resources: BTreeMap<String, Res>,
    pub assignments: Vec<Assignment>,
    operations: HashMap<String, Operation>,
    pub rows: HashMap<String, Vec<Value>>,
    faults: Vec<FaultState>,
    pub log: Vec<LoggedRequest>,
    pub writes: usize,
    /// Rows accepted by the Logs Ingestion API, stored or not.
    pub ingested: u64,
    /// Requests applied and held without an answer (`FaultKind::ApplyThenHang`).
    pub hanging: usize,
    /// Each service principal's own replication delay.
    sp_delay: HashMap<String, Duration>,
    /// Faults drawn by chaos, by kind, for reports.
    pub chaos_counts: BTreeMap<&'static str, usize>,
    /// How many times chaos has seen each request shape.
    chaos_seen: HashMap<String, u64>,
}

fn lc(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl World {
    pub fn new(cfg: SimConfig, base_url: String) -> Result<World, String> {
        let specs = Specs::load()?;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let id = |rng: &mut StdRng| {
            uuid::Builder::from_random_bytes(rng.gen())
                .into_uuid()
                .to_string()
        };
        let tenant = id(&mut rng);
        let sub = id(&mut rng);
        let op_app_id = id(&mut rng);
        let op_object = id(&mut rng);
        let op_app_object = id(&mut rng);
        let secret: String = (0..40)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let federated: String = (0..64)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let operator = Operator {
            tenant_id: tenant.clone(),
            client_id: op_app_id.clone(),
            client_secret: secret.clone(),
            subscription_id: sub.clone(),
            identity_header: format!("msi-{}", &federated[..24]),
            federated_token: federated,
            object_id: op_object.clone(),
        };
        let now = Instant::now();
        let mut w = World {
            specs,
            rng,
            base_url,
            offset: Duration::ZERO,
            tenant,
            operator,
            subscriptions: vec![(sub.clone(), "Keeper Sim Subscription".into(), true)],
            locations: vec![
                "eastus",
                "eastus2",
                "westus2",
                "westus3",
                "centralus",
                "northeurope",
                "westeurope",
                "uksouth",
                "australiaeast",
                "usgovvirginia",
                "usgovarizona",
                "usgovtexas",
            ],
            apps: vec![],
            secrets: HashMap::new(),
            sps: vec![],
            sp_created: HashMap::new(),
            tokens: HashMap::new(),
            providers: HashMap::new(),
            resources: BTreeMap::new(),
            assignments: vec![],
            operations: HashMap::new(),
            rows: HashMap::new(),
            faults: vec![],
            log: vec![],
            writes: 0,
            ingested: 0,
            hanging: 0,
            sp_delay: HashMap::new(),
            chaos_counts: BTreeMap::new(),
            chaos_seen: HashMap::new(),
            cfg,
        };
        let registered = if w.cfg.providers_registered {
            "Registered"
        } else {
            "NotRegistered"
        };
        for ns in ["Microsoft.Insights", "Microsoft.OperationalInsights"] {
            w.providers.insert(lc(ns), (registered.to_string(), now));
        }
        w.apps.push(json!({
            "id": op_app_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "signInAudience": "AzureADMyOrg",
            "identifierUris": [], "tags": [], "passwordCredentials": [], "createdDateTime": now_iso(), "publisherDomain": "sim.onmicrosoft.com"
        }));
        w.sps.push(json!({ "id": op_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "servicePrincipalType": "Application", "tags": [] }));
        w.sp_created
            .insert(op_object.clone(), now - Duration::from_secs(3600));
        w.assignments.push(Assignment {
            id: format!(
                "/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments/{}",
                uuid::Uuid::new_v4()
            ),
            scope: format!("/subscriptions/{sub}"),
            role: OWNER.into(),
            principal: op_object,
            principal_type: Some("ServicePrincipal".into()),
            created: now - Duration::from_secs(3600),
        });
        Ok(w)
    }

    /// How long a workspace (or else table) operation runs: the latency model's figure, or `lro_duration`.
    fn lro(&self, workspace: bool) -> Duration {
        match &self.cfg.latency {
            Some(l) if workspace => l.scaled(l.workspace_create),
            Some(l) => l.scaled(l.table_create),
            None => self.cfg.lro_duration,
        }
    }

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

    pub fn advance(&mut self, d: Duration) {
        self.offset += d;
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

    pub fn add_subscription(&mut self, id: &str, name: &str, visible: bool) {
        self.subscriptions
            .push((id.to_string(), name.to_string(), visible));
    }

    pub fn add_fault(&mut self, f: Fault) {
        self.faults.push(FaultState {
            fault: f,
            seen: 0,
            hit: 0,
        });
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    // ---------- faults ----------

    pub fn is_write(req: &Req) -> bool {
        let api = req.path.starts_with("/subscriptions") || req.path.starts_with("/v1.0/");
        api && matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }

    pub fn fault_for(&mut self, req: &Req) -> FaultAction {
        let planned = self.planned_fault(req);
        if !matches!(planned, FaultAction::None) {
            return planned;
        }
        self.chaos_fault(req)
    }

    /// A fault drawn at random, when chaos is on, for Graph and ARM requests (not operation polls).
    fn chaos_fault(&mut self, req: &Req) -> FaultAction {
        let Some(c) = self.cfg.chaos.clone() else {
            return FaultAction::None;
        };
        let api = req.path.starts_with("/subscriptions") || req.path.starts_with("/v1.0/");
        if !api || req.path.contains("/operationstatuses/") {
            return FaultAction::None;
        }
        // The draw depends on the request (method, path with ids blanked, how many times it was seen) and the
        // seed, not on the order in which concurrent requests arrive: the same seed gives the same faults.
        let shape: String = req
            .path
            .split('/')
            .map(|seg| {
                if uuid::Uuid::parse_str(seg).is_ok()
                    || seg.starts_with("dcr-")
                    || seg.starts_with("dce-")
                {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let key = format!("{} {}", req.method, lc(&shape));
        let seen = self.chaos_seen.entry(key.clone()).or_default();
        *seen += 1;
        let r = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (self.cfg.seed, &key, *seen).hash(&mut h);
            (h.finish() >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut edge = 0.0;
        let mut hit = |p: f64| {
            edge += p;
            r < edge
        };
        let lro = req.method == "PUT"
            && (lc(&req.path).contains("/tables/")
                || lc(&req.path).ends_with(&format!(
                    "/workspaces/{}",
                    lc(req.path.rsplit('/').next().unwrap_or_default())
                )));
        let (name, action) = if hit(c.p429) {
            (
                "429",
                FaultAction::Reply(
                    arm_err(429, "TooManyRequests", "azure-sim chaos: throttled")
                        .header("Retry-After", "1".into()),
                ),
            )
        } else if hit(c.p500) {
            (
                "500",
                FaultAction::Reply(arm_err(
                    500,
                    "InternalServerError",
                    "azure-sim chaos: internal error",
                )),
            )
        } else if hit(c.p503) {
            (
                "503",
                FaultAction::Reply(
                    arm_err(503, "ServiceUnavailable", "azure-sim chaos: unavailable")
                        .header("Retry-After", "1".into()),
                ),
            )
        } else if hit(c.p_reset) {
            ("reset", FaultAction::Reset)
        } else if hit(c.p_slow) {
            ("slow", FaultAction::ApplyThenSlow(c.slow_delay))
        } else if lro && hit(c.p_lro_fail) {
            ("lro-failed", FaultAction::FailLro)
        } else {
            return FaultAction::None;
        };
        *self.chaos_counts.entry(name).or_default() += 1;
        action
    }

    fn planned_fault(&mut self, req: &Req) -> FaultAction {
        let write = World::is_write(req);
        for f in self.faults.iter_mut() {
            let m = &f.fault;
            if m.method
                .as_ref()
                .is_some_and(|x| !x.eq_ignore_ascii_case(&req.method))
                || m.path_contains
                    .as_ref()
                    .is_some_and(|p| !req.path.contains(p.as_str()))
                || (m.writes_only && !write)
            {
                continue;
            }
            if f.seen < m.skip {
                f.seen += 1;
                continue;
            }
            if f.hit >= m.times {
                continue;
            }
            f.hit += 1;
            return match &m.kind {
                FaultKind::Status {
                    status,
                    code,
                    retry_after,
                } => {
                    let mut r = arm_err(*status, code, format!("azure-sim injected {code}"));
                    if let Some(s) = retry_after {
                        r = r.header("Retry-After", s.to_string());
                    }
                    FaultAction::Reply(r)
                }
                FaultKind::ApplyThenStatus { status } => FaultAction::ApplyThen(*status),
                FaultKind::FailLro => FaultAction::FailLro,
                FaultKind::ResetConnection => FaultAction::Reset,
                FaultKind::ApplyThenHang => FaultAction::ApplyThenHang,
                FaultKind::ExpireTokens => {
                    // Every token issued so far runs out now; this request is then served as any other.
                    let now = self.now();
                    let past = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
                    for t in self.tokens.values_mut() {
                        t.expires = past;
                    }
                    FaultAction::None
                }
            };
        }
        FaultAction::None
    }

    // ---------- time ----------

    /// Moves time-driven state on: provider registrations, finished and failed operations.
    fn tick(&mut self) {
        let now = self.now();
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

    // ---------- auth ----------

    fn audience_of(&self, scope: &str) -> Option<Aud> {
        let norm = |s: &str| {
            s.trim_end_matches("/.default")
                .trim_end_matches('/')
                .to_ascii_lowercase()
        };
        let want = norm(scope);
        let [arm, graph, monitor, la] = self.cfg.cloud.audiences();
        [
            (arm, Aud::Arm),
            (graph, Aud::Graph),
            (monitor, Aud::Monitor),
            (la, Aud::LogAnalytics),
        ]
        .into_iter()
        .find(|(a, _)| norm(a) == want)
        .map(|(_, k)| k)
    }

    /// The principal (service principal object id) a bearer token names, if it is valid for `aud`.
    fn principal(&self, req: &Req, aud: Aud) -> Result<String, Reply> {
        let Some(h) = &req.auth else {
            return Err(arm_err(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let tok = h.strip_prefix("Bearer ").unwrap_or("");
        match self.tokens.get(tok) {
            None => Err(arm_err(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )),
            Some(t) if t.expires < self.now() => Err(arm_err(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry has passed.",
            )),
            Some(t) if t.aud != aud => Err(arm_err(
                401,
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource.",
            )),
            Some(t) => Ok(t.principal.clone()),
        }
    }

    /// A new bearer token for `principal` and `aud`, valid for an hour of simulated time.
    fn issue_token(&mut self, principal: String, aud: Aud) -> String {
        let tok: String = (0..48)
            .map(|_| self.rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        self.tokens.insert(
            tok.clone(),
            TokenInfo {
                principal,
                aud,
                expires: self.now() + Duration::from_secs(3600),
            },
        );
        tok
    }

    /// A token from the App Service managed-identity endpoint (api-version 2019-08-01): `resource` names the
    /// audience, `X-IDENTITY-HEADER` must be the secret the platform gave the process, and the identity is the
    /// operator's (system-assigned, or user-assigned named by its client id).
    pub fn managed_identity_token(&mut self, req: &Req) -> Reply {
        let fail = |status: u16, message: &str| {
            Reply::json(status, json!({ "statusCode": status, "message": message }))
        };
        if req.identity_header.as_deref() != Some(self.operator.identity_header.as_str()) {
            return fail(401, "The X-IDENTITY-HEADER is missing or wrong.");
        }
        if req.query.get("api-version").map(String::as_str) != Some("2019-08-01") {
            return fail(400, "api-version 2019-08-01 is required.");
        }
        if req
            .query
            .get("client_id")
            .is_some_and(|c| *c != self.operator.client_id)
        {
            return fail(
                400,
                "No managed identity with this client_id is assigned to this resource.",
            );
        }
        let Some(resource) = req.query.get("resource").cloned() else {
            return fail(400, "resource is required.");
        };
        let Some(aud) = self.audience_of(&resource) else {
            return fail(400, "The resource is not known in this tenant.");
        };
        let tok = self.issue_token(self.operator.object_id.clone(), aud);
        let expires_on = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 3600)
            .unwrap_or(0);
        Reply::json(
            200,
            json!({
                "access_token": tok, "expires_on": expires_on.to_string(), "resource": resource,
                "token_type": "Bearer", "client_id": self.operator.client_id,
            }),
        )
    }

    pub fn token(&mut self, tenant: &str, form: &HashMap<String, String>) -> Reply {
        if tenant != self.tenant {
            return token_err(
                "invalid_request",
                90002,
                format!("Tenant '{tenant}' not found."),
            );
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return token_err(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        let Some(aud) = form.get("scope").and_then(|s| self.audience_of(s)) else {
            return token_err(
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {} was not found in the tenant.",
                    form.get("scope").cloned().unwrap_or_default()
                ),
            );
        };
        let Some(app) = self
            .apps
            .iter()
            .find(|a| a["appId"] == client_id.as_str())
            .cloned()
        else {
            return token_err(
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        };
        let app_object = app["id"].as_str().unwrap_or_default().to_string();
        let authenticated = if let Some(assertion) = form.get("client_assertion") {
            client_id == self.operator.client_id && *assertion == self.operator.federated_token
        } else {
            let given = form.get("client_secret").cloned().unwrap_or_default();
            let op = client_id == self.operator.client_id && given == self.operator.client_secret;
            let now = time::OffsetDateTime::now_utc();
            let app_secret = self.secrets.iter().any(|(key, s)| {
                s.app_object_id == app_object && s.text == given && {
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
                    end.is_some_and(|e| e > now)
                }
            });
            op || app_secret
        };
        if !authenticated {
            return token_err("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
        }
        let Some(sp) = self.sps.iter().find(|s| s["appId"] == client_id.as_str()) else {
            return token_err(
                "unauthorized_client",
                700016,
                format!(
                    "Application '{client_id}' has no service principal in tenant '{}'.",
                    self.tenant
                ),
            );
        };
        let principal = sp["id"].as_str().unwrap_or_default().to_string();
        let tok = self.issue_token(principal, aud);
        Reply::json(
            200,
            json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok }),
        )
    }

    // ---------- Graph ----------

    pub fn graph(&mut self, req: &Req) -> Reply {
        if let Err(r) = self.principal(req, Aud::Graph) {
            return r;
        }
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
        match (req.method.as_str(), segs.as_slice()) {
            ("POST", ["applications"]) => self.create_app(&body),
            ("GET", ["applications"]) => self.list_graph(true, req.query.get("$filter")),
            ("GET", ["applications", id]) => match self.apps.iter().find(|a| a["id"] == *id) {
                Some(a) => Reply::json(200, a.clone()),
                None => graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")),
            },
            ("PATCH", ["applications", id]) => self.patch_app(id, &body),
            ("DELETE", ["applications", id]) => {
                let Some(app) = self.apps.iter().find(|a| a["id"] == *id).cloned() else {
                    return graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."));
                };
                self.apps.retain(|a| a["id"] != *id);
                self.secrets.retain(|_, s| s.app_object_id != *id);
                self.sps.retain(|s| s["appId"] != app["appId"]);
                Reply::empty(204)
            }
            ("POST", ["applications", id, "addPassword"]) => self.add_password(id, &body),
            ("POST", ["applications", id, "removePassword"]) => {
                let key = body["keyId"].as_str().unwrap_or_default().to_string();
                let Some(app) = self.apps.iter_mut().find(|a| a["id"] == *id) else {
                    return graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."));
                };
                let creds = app["passwordCredentials"].as_array_mut();
                let Some(creds) = creds else { return graph_err(400, "Request_BadRequest", "No password credentials") };
                let before = creds.len();
                creds.retain(|p| p["keyId"] != key.as_str());
                if creds.len() == before {
                    return graph_err(400, "Request_BadRequest", format!("No password credential found with keyId {key}."));
                }
                self.secrets.remove(&key);
                Reply::empty(204)
            }
            ("POST", ["servicePrincipals"]) => self.create_sp(&body),
            ("GET", ["servicePrincipals"]) => self.list_graph(false, req.query.get("$filter")),
            ("GET", ["servicePrincipals", id]) => match self.sps.iter().find(|s| s["id"] == *id) {
                Some(s) => Reply::json(200, s.clone()),
                None => graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist.")),
            },
            ("DELETE", ["servicePrincipals", id]) => {
                let before = self.sps.len();
                self.sps.retain(|s| s["id"] != *id);
                if self.sps.len() == before {
                    graph_err(404, "Request_ResourceNotFound", format!("Resource '{id}' does not exist."))
                } else {
                    Reply::empty(204)
                }
            }
            _ => graph_err(400, "BadRequest", format!("Resource not found for the segment '{}'.", segs.first().unwrap_or(&""))),
        }
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

    fn create_app(&mut self, body: &Value) -> Reply {
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
        self.apps.push(app.clone());
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
        let Some(app) = self.apps.iter_mut().find(|a| a["id"] == id) else {
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
        let key = self.uuid();
        let text: String = (0..40)
            .map(|_| self.rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let Some(app) = self.apps.iter_mut().find(|a| a["id"] == id) else {
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
        self.secrets.insert(
            key,
            Secret {
                app_object_id: id.to_string(),
                text: text.clone(),
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
        let Some(app) = self
            .apps
            .iter()
            .find(|a| a["appId"] == app_id.as_str())
            .cloned()
        else {
            return graph_err(400, "Request_BadRequest", format!("The appId '{app_id}' of the service principal does not reference a valid application object."));
        };
        if self.sps.iter().any(|s| s["appId"] == app_id.as_str()) {
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
        self.sp_delay.insert(sp_id.clone(), delay);
        self.sp_created.insert(sp_id, self.now());
        self.sps.push(sp.clone());
        Reply::json(201, sp)
    }

    fn list_graph(&self, apps: bool, filter: Option<&String>) -> Reply {
        let list = if apps { &self.apps } else { &self.sps };
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
        Reply::json(
            200,
            json!({ "value": list.iter().filter(|v| pick(v)).cloned().collect::<Vec<_>>() }),
        )
    }

    // ---------- ARM ----------

    fn has_role(
        &self,
        principal: &str,
        scope: &str,
        roles: &[&str],
        effective_after: Duration,
    ) -> bool {
        let scope = lc(scope);
        let now = self.now();
        self.assignments.iter().any(|a| {
            a.principal == principal
                && roles.contains(&a.role.as_str())
                && (scope == lc(&a.scope) || scope.starts_with(&format!("{}/", lc(&a.scope))))
                && now >= a.created + effective_after
        })
    }

    fn sub_of(path: &str) -> Option<&str> {
        path.strip_prefix("/subscriptions/")
            .map(|r| r.split('/').next().unwrap_or(""))
    }

    fn api_versions(path: &str) -> &'static [&'static str] {
        let p = lc(path);
        if p.contains("/providers/microsoft.authorization/roleassignments") {
            &["2022-04-01", "2020-04-01-preview"]
        } else if p.contains("/providers/microsoft.operationalinsights/workspaces")
            || p.contains("/providers/microsoft.operationalinsights/locations")
        {
            &["2022-10-01", "2023-09-01", "2025-02-01", "2020-08-01"]
        } else if p.contains("/providers/microsoft.insights/datacollection") {
            &["2022-06-01", "2023-03-11", "2024-03-11"]
        } else if p.contains("/providers/")
            || p.contains("/resourcegroups")
            || p.ends_with("/resources")
        {
            &["2021-04-01", "2022-09-01", "2024-03-01"]
        } else {
            &["2022-12-01", "2020-01-01", "2021-01-01"]
        }
    }

    pub fn arm(&mut self, req: &Req, fault: &FaultAction) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::Arm) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(v) = req.query.get("api-version") else {
            return arm_err(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        };
        if !World::api_versions(&req.path).contains(&v.as_str()) {
            return arm_err(
                400,
                "InvalidApiVersionParameter",
                format!("The api-version '{v}' is invalid for {}.", req.path),
            );
        }
        let path = req.path.trim_end_matches('/').to_string();
        if path == "/subscriptions" {
            let visible: Vec<Value> = self
                .subscriptions
                .iter()
                .filter(|(id, _, vis)| {
                    *vis || self.has_role(
                        &principal,
                        &format!("/subscriptions/{id}"),
                        &[OWNER, CONTRIBUTOR],
                        Duration::ZERO,
                    )
                })
                .map(|(id, name, _)| self.sub_json(id, name))
                .collect();
            return Reply::json(200, json!({ "value": visible }));
        }
        // operation status polls
        if lc(&path).contains("/operationstatuses/") {
            let id = path.rsplit('/').next().unwrap_or_default().to_string();
            return self.operation_status(&id);
        }
        let Some(sub) = World::sub_of(&path).map(str::to_string) else {
            return arm_err(404, "InvalidResourceType", format!("No route for {path}"));
        };
        let known = self
            .subscriptions
            .iter()
            .find(|(id, _, _)| lc(id) == lc(&sub))
            .cloned();
        let allowed = self.has_role(
            &principal,
            &format!("/subscriptions/{sub}"),
            &[OWNER, CONTRIBUTOR],
            Duration::ZERO,
        );
        let Some((sub_id, sub_name, _)) = known.filter(|_| allowed) else {
            return arm_err(
                404,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            );
        };
        let rest = path[format!("/subscriptions/{sub}").len()..].to_string();
        let lrest = lc(&rest);
        let m = req.method.as_str();
        if rest.is_empty() && m == "GET" {
            return Reply::json(200, self.sub_json(&sub_id, &sub_name));
        }
        if lrest == "/locations" && m == "GET" {
            let v: Vec<Value> = self
                .locations
                .iter()
                .map(|l| json!({ "id": format!("/subscriptions/{sub_id}/locations/{l}"), "name": l, "displayName": l, "regionalDisplayName": l, "type": "Region" }))
                .collect();
            return Reply::json(200, json!({ "value": v }));
        }
        if let Some(i) = lrest.find("/providers/microsoft.authorization/roleassignments") {
            let scope = format!("/subscriptions/{sub_id}{}", &rest[..i]);
            let name = rest[i + "/providers/microsoft.authorization/roleassignments".len()..]
                .trim_start_matches('/')
                .to_string();
            return self.role_assignment(req, &scope, &name, fault);
        }
        let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let lsegs: Vec<String> = segs.iter().map(|s| lc(s)).collect();
        match lsegs
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["providers", _ns] if m == "GET" => {
                let ns = segs[1];
                let state = self
                    .providers
                    .get(&lc(ns))
                    .map(|p| p.0.clone())
                    .unwrap_or_else(|| "Registered".into());
                Reply::json(
                    200,
                    json!({ "id": format!("/subscriptions/{sub_id}/providers/{ns}"), "namespace": ns, "registrationState": state }),
                )
            }
            ["providers", _ns, "register"] if m == "POST" => {
                let ns = segs[1].to_string();
                let now = self.now();
                let entry = self
                    .providers
                    .entry(lc(&ns))
                    .or_insert(("NotRegistered".into(), now));
                if entry.0 != "Registered" {
                    *entry = ("Registering".into(), now);
                }
                let state = entry.0.clone();
                Reply::json(
                    200,
                    json!({ "id": format!("/subscriptions/{sub_id}/providers/{ns}"), "namespace": ns, "registrationState": state }),
                )
            }
            ["providers", "microsoft.operationalinsights", "workspaces"] if m == "GET" => {
                Reply::json(
                    200,
                    json!({ "value": self.list_type("microsoft.operationalinsights/workspaces", &format!("/subscriptions/{sub_id}/")) }),
                )
            }
            ["resourcegroups"] if m == "GET" => {
                let all = self.list_type(
                    "microsoft.resources/resourcegroups",
                    &format!("/subscriptions/{sub_id}/"),
                );
                Reply::json(
                    200,
                    json!({ "value": World::tag_filter(all, req.query.get("$filter")) }),
                )
            }
            ["resources"] if m == "GET" => {
                let prefix = lc(&format!("/subscriptions/{sub_id}/resourcegroups/"));
                let all: Vec<Value> = self
                    .resources
                    .iter()
                    .filter(|(k, r)| k.starts_with(&prefix) && k.contains("/providers/") && !k.contains("/tables/") && r.body.get("location").is_some())
                    .map(|(_, r)| json!({ "id": r.body["id"], "name": r.body["name"], "type": r.body["type"], "location": r.body["location"], "tags": r.body["tags"] }))
                    .collect();
                Reply::json(
                    200,
                    json!({ "value": World::tag_filter(all, req.query.get("$filter")) }),
                )
            }
            ["resourcegroups", _rg, "resources"] if m == "GET" => {
                let prefix = lc(&format!(
                    "/subscriptions/{sub_id}/resourceGroups/{}/providers/",
                    segs[1]
                ));
                let v: Vec<Value> = self
                    .resources
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix) && !k.contains("/tables/"))
                    .map(|(_, r)| json!({ "id": r.body["id"], "name": r.body["name"], "type": r.body["type"], "location": r.body["location"] }))
                    .collect();
                Reply::json(200, json!({ "value": v }))
            }
            ["resourcegroups", _rg] => self.resource_group(req, &sub_id, segs[1], fault),
            ["resourcegroups", _rg, "providers", ns, ty, _name] => {
                let kind = format!("{ns}/{ty}");
                let id = format!(
                    "/subscriptions/{sub_id}/resourceGroups/{}/providers/{}/{}/{}",
                    segs[1], segs[3], segs[4], segs[5]
                );
                self.resource(req, &kind, &id, segs[1], &sub_id, fault)
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "tables"]
                if m == "GET" =>
            {
                let prefix = lc(&format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/tables/", segs[1], segs[5]));
                let v: Vec<Value> = self
                    .resources
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, r)| r.body.clone())
                    .collect();
                Reply::json(200, json!({ "value": v }))
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "tables", _t] =>
            {
                let id = format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/tables/{}", segs[1], segs[5], segs[7]);
                self.table(req, &id, fault)
            }
            _ => arm_err(
                404,
                "InvalidResourceType",
                format!("The resource type could not be found for {rest}."),
            ),
        }
    }

    /// ARM's `$filter=tagName eq 'k' and tagValue eq 'v'` on a list.
    fn tag_filter(list: Vec<Value>, filter: Option<&String>) -> Vec<Value> {
        let Some(f) = filter else { return list };
        let q = |s: &str| s.trim().trim_matches('\'').to_string();
        let (name, value) = match f.split_once(" and tagValue eq ") {
            Some((n, v)) => (q(n.trim_start_matches("tagName eq ")), Some(q(v))),
            None => (q(f.trim_start_matches("tagName eq ")), None),
        };
        list.into_iter()
            .filter(
                |r| match r.pointer(&format!("/tags/{name}")).and_then(Value::as_str) {
                    Some(v) => value.as_ref().is_none_or(|want| want == v),
                    None => false,
                },
            )
            .collect()
    }

    fn sub_json(&self, id: &str, name: &str) -> Value {
        json!({ "id": format!("/subscriptions/{id}"), "subscriptionId": id, "displayName": name, "state": "Enabled", "tenantId": self.tenant })
    }

    fn list_type(&self, ty: &str, prefix: &str) -> Vec<Value> {
        let prefix = lc(prefix);
        self.resources
            .iter()
            .filter(|(k, r)| {
                k.starts_with(&prefix) && r.body["type"].as_str().map(lc).as_deref() == Some(ty)
            })
            .map(|(_, r)| r.body.clone())
            .collect()
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

    fn resource_group(&mut self, req: &Req, sub: &str, rg: &str, fault: &FaultAction) -> Reply {
        let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
        let key = lc(&id);
        match req.method.as_str() {
            "GET" | "HEAD" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceGroupNotFound",
                    format!("Resource group '{rg}' could not be found."),
                ),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let o = body.as_object();
                if o.is_none_or(|o| {
                    o.keys().any(|k| {
                        !["location", "tags", "managedBy", "properties"].contains(&k.as_str())
                    })
                }) || !body["location"].is_string()
                {
                    return arm_err(400, "InvalidRequestContent", "The request content was invalid: a resource group takes location (string), tags and managedBy.");
                }
                if !self
                    .locations
                    .contains(&body["location"].as_str().unwrap_or_default())
                {
                    return arm_err(
                        400,
                        "LocationNotAvailableForResourceGroup",
                        format!(
                            "The provided location '{}' is not available for resource group.",
                            body["location"]
                        ),
                    );
                }
                let existed = self.resources.contains_key(&key);
                let rb = json!({ "id": id, "name": rg, "type": "Microsoft.Resources/resourceGroups", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": { "provisioningState": "Succeeded" } });
                let _ = fault;
                self.resources.insert(
                    key,
                    Res {
                        body: rb.clone(),
                        ready_at: self.now(),
                        fail: false,
                    },
                );
                Reply::json(if existed { 200 } else { 201 }, rb)
            }
            "DELETE" => {
                if self.resources.remove(&key).is_none() {
                    return Reply::empty(204);
                }
                let prefix = format!("{key}/");
                self.resources.retain(|k, _| !k.starts_with(&prefix));
                self.assignments
                    .retain(|a| !(lc(&a.scope) == key || lc(&a.scope).starts_with(&prefix)));
                Reply::empty(200)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
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

    fn resource(
        &mut self,
        req: &Req,
        kind: &str,
        id: &str,
        rg: &str,
        sub: &str,
        fault: &FaultAction,
    ) -> Reply {
        let key = lc(id);
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        let ty = match kind {
            "microsoft.operationalinsights/workspaces" => {
                "Microsoft.OperationalInsights/workspaces"
            }
            "microsoft.insights/datacollectionendpoints" => {
                "Microsoft.Insights/dataCollectionEndpoints"
            }
            "microsoft.insights/datacollectionrules" => "Microsoft.Insights/dataCollectionRules",
            _ => {
                return arm_err(
                    404,
                    "InvalidResourceType",
                    format!("The resource type '{kind}' could not be found."),
                )
            }
        };
        match req.method.as_str() {
            "GET" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!(
                        "The Resource '{ty}/{name}' under resource group '{rg}' was not found."
                    ),
                ),
            },
            "DELETE" => {
                if self.resources.remove(&key).is_none() {
                    return Reply::empty(204);
                }
                let prefix = format!("{key}/");
                self.resources.retain(|k, _| !k.starts_with(&prefix));
                self.rows.retain(|k, _| !k.starts_with(&prefix));
                self.assignments
                    .retain(|a| !(lc(&a.scope) == key || lc(&a.scope).starts_with(&prefix)));
                Reply::empty(200)
            }
            "PUT" => {
                if let Err(r) = self.provider_registered(kind) {
                    return r;
                }
                if !self
                    .resources
                    .contains_key(&lc(&format!("/subscriptions/{sub}/resourceGroups/{rg}")))
                {
                    return arm_err(
                        404,
                        "ResourceGroupNotFound",
                        format!("Resource group '{rg}' could not be found."),
                    );
                }
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let loc = body["location"].as_str().unwrap_or_default().to_string();
                let existing = self.resources.get(&key).map(|r| r.body.clone());
                let r = match kind {
                    "microsoft.operationalinsights/workspaces" => {
                        self.put_workspace(id, &name, &body, existing, fault)
                    }
                    "microsoft.insights/datacollectionendpoints" => {
                        self.put_dce(id, &name, &body, existing)
                    }
                    _ => self.put_dcr(id, &name, &body, existing),
                };
                if r.status < 300 && !self.locations.contains(&loc.as_str()) {
                    self.resources.remove(&key);
                    return arm_err(400, "LocationNotAvailableForResourceType", format!("The provided location '{loc}' is not available for resource type '{ty}'."));
                }
                r
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    fn put_workspace(
        &mut self,
        id: &str,
        name: &str,
        body: &Value,
        existing: Option<Value>,
        fault: &FaultAction,
    ) -> Reply {
        if let Err(r) = self.validate(
            schema::WORKSPACES,
            "Workspace",
            body,
            "InvalidRequestContent",
        ) {
            return r;
        }
        let ok = name.len() >= 4
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return arm_err(400, "InvalidWorkspaceName", format!("The workspace name '{name}' is invalid. It must be 4-63 alphanumerics or hyphens, starting and ending with an alphanumeric."));
        }
        let now = self.now();
        let created = existing.is_none();
        let customer = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/customerId").cloned())
            .unwrap_or_else(|| json!(self.uuid()));
        let mut props = body.get("properties").cloned().unwrap_or(json!({}));
        if props.get("sku").is_none() {
            props["sku"] = json!({ "name": "PerGB2018" });
        }
        if props.get("retentionInDays").is_none() {
            props["retentionInDays"] = json!(30);
        }
        props["customerId"] = customer;
        props["provisioningState"] = json!(if created { "Creating" } else { "Succeeded" });
        props["createdDate"] = json!(now_iso());
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.OperationalInsights/workspaces", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        let fail = matches!(fault, FaultAction::FailLro);
        let ready = if created { now + self.lro(true) } else { now };
        self.resources.insert(
            lc(id),
            Res {
                body: rb.clone(),
                ready_at: ready,
                fail,
            },
        );
        let loc = format!("{}{id}?api-version=2022-10-01", self.base_url);
        Reply::json(if created { 201 } else { 200 }, rb).header("Location", loc)
    }

    fn put_dce(&mut self, id: &str, name: &str, body: &Value, existing: Option<Value>) -> Reply {
        if let Err(r) = self.validate(
            schema::DCE,
            "DataCollectionEndpointResource",
            body,
            "InvalidPayload",
        ) {
            return r;
        }
        if name.len() < 3
            || name.len() > 44
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return arm_err(
                400,
                "InvalidPayload",
                format!("The data collection endpoint name '{name}' is invalid."),
            );
        }
        let imm = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/immutableId").cloned())
            .unwrap_or_else(|| json!(format!("dce-{}", self.hex(32))));
        let mut props = body.get("properties").cloned().unwrap_or(json!({}));
        props["immutableId"] = imm;
        props["logsIngestion"] = json!({ "endpoint": self.base_url });
        props["configurationAccess"] = json!({ "endpoint": self.base_url });
        props["metricsIngestion"] = json!({ "endpoint": self.base_url });
        props["provisioningState"] = json!("Succeeded");
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.Insights/dataCollectionEndpoints", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        self.resources.insert(
            lc(id),
            Res {
                body: rb.clone(),
                ready_at: self.now(),
                fail: false,
            },
        );
        Reply::json(200, rb)
    }

    fn put_dcr(&mut self, id: &str, name: &str, body: &Value, existing: Option<Value>) -> Reply {
        if let Err(r) = self.validate(
            schema::DCR,
            "DataCollectionRuleResource",
            body,
            "InvalidPayload",
        ) {
            return r;
        }
        let p = body.get("properties").cloned().unwrap_or(json!({}));
        if let Some(dce) = p["dataCollectionEndpointId"].as_str() {
            if !self.resources.contains_key(&lc(dce)) {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Data collection endpoint '{dce}' does not exist."),
                );
            }
        }
        let streams: Map<String, Value> = p["streamDeclarations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (s, d) in &streams {
            if !s.starts_with("Custom-") {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Stream declaration '{s}' must start with 'Custom-'."),
                );
            }
            for c in d["columns"].as_array().into_iter().flatten() {
                let t = c["type"].as_str().unwrap_or_default().to_ascii_lowercase();
                if ![
                    "string", "int", "long", "real", "boolean", "datetime", "dynamic",
                ]
                .contains(&t.as_str())
                {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!(
                            "Column '{}' of stream '{s}' has an invalid type '{t}'.",
                            c["name"]
                        ),
                    );
                }
            }
        }
        let mut dests: HashMap<String, String> = HashMap::new();
        for d in p
            .pointer("/destinations/logAnalytics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ws = d["workspaceResourceId"].as_str().unwrap_or_default();
            if !self.resources.contains_key(&lc(ws)) {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Log Analytics workspace '{ws}' does not exist."),
                );
            }
            dests.insert(
                d["name"].as_str().unwrap_or_default().to_string(),
                ws.to_string(),
            );
        }
        for f in p["dataFlows"].as_array().into_iter().flatten() {
            for s in f["streams"].as_array().into_iter().flatten() {
                let s = s.as_str().unwrap_or_default();
                if !streams.contains_key(s) && !s.starts_with("Microsoft-") {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Data flow stream '{s}' is not declared in streamDeclarations."),
                    );
                }
            }
            for d in f["destinations"].as_array().into_iter().flatten() {
                let d = d.as_str().unwrap_or_default();
                let Some(ws) = dests.get(d) else {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Data flow destination '{d}' is not declared in destinations."),
                    );
                };
                if let Some(out) = f["outputStream"].as_str() {
                    let table = out.strip_prefix("Custom-").unwrap_or(out);
                    if !self
                        .resources
                        .contains_key(&lc(&format!("{ws}/tables/{table}")))
                    {
                        return arm_err(400, "InvalidOutputTable", format!("Table for output stream '{out}' is not available for destination '{d}'."));
                    }
                }
            }
        }
        let imm = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/immutableId").cloned())
            .unwrap_or_else(|| json!(format!("dcr-{}", self.hex(32))));
        let mut props = p;
        props["immutableId"] = imm;
        props["provisioningState"] = json!("Succeeded");
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.Insights/dataCollectionRules", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        self.resources.insert(
            lc(id),
            Res {
                body: rb.clone(),
                ready_at: self.now(),
                fail: false,
            },
        );
        Reply::json(200, rb)
    }

    fn table(&mut self, req: &Req, id: &str, fault: &FaultAction) -> Reply {
        let key = lc(id);
        let ws_key = key
            .rsplit_once("/tables/")
            .map(|(w, _)| w.to_string())
            .unwrap_or_default();
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        if !self.resources.contains_key(&ws_key) {
            return arm_err(
                404,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.OperationalInsights/workspaces/{}' was not found.",
                    ws_key.rsplit('/').next().unwrap_or_default()
                ),
            );
        }
        match req.method.as_str() {
            "GET" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!("The table '{name}' was not found."),
                ),
            },
            "DELETE" => {
                if self.resources.remove(&key).is_none() {
                    return Reply::empty(204);
                }
                self.rows.remove(&key);
                self.start_operation(&key, false)
            }
            "PUT" | "PATCH" => {
                if let Err(r) = self.provider_registered("microsoft.operationalinsights") {
                    return r;
                }
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if let Err(r) = self.validate(schema::TABLES, "Table", &body, "InvalidParameter") {
                    return r;
                }
                if !name.ends_with("_CL") {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        format!("Custom table name '{name}' must end with '_CL'."),
                    );
                }
                let schema_name = body
                    .pointer("/properties/schema/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if schema_name != name {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        format!(
                            "Schema name '{schema_name}' must be equal to the table name '{name}'."
                        ),
                    );
                }
                let cols = body
                    .pointer("/properties/schema/columns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut has_tg = false;
                for c in &cols {
                    let t = c["type"].as_str().unwrap_or_default().to_ascii_lowercase();
                    if ![
                        "string", "int", "long", "real", "boolean", "datetime", "dynamic", "guid",
                    ]
                    .contains(&t.as_str())
                    {
                        return arm_err(
                            400,
                            "InvalidParameter",
                            format!("Column '{}' has an invalid type '{t}'.", c["name"]),
                        );
                    }
                    if c["name"] == "TimeGenerated" && t == "datetime" {
                        has_tg = true;
                    }
                }
                if !has_tg {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        "A custom table needs a column TimeGenerated of type datetime.",
                    );
                }
                let mut props = body["properties"].clone();
                props["schema"]["tableType"] = json!("CustomLog");
                props["schema"]["tableSubType"] = json!("DataCollectionRuleBased");
                props["provisioningState"] = json!("InProgress");
                props
                    .as_object_mut()
                    .map(|o| o.entry("retentionInDays").or_insert(json!(30)));
                let rb = json!({ "id": id, "name": name, "type": "Microsoft.OperationalInsights/workspaces/tables", "properties": props });
                let fail = matches!(fault, FaultAction::FailLro);
                self.resources.insert(
                    key.clone(),
                    Res {
                        body: rb,
                        ready_at: self.now() + self.lro(false),
                        fail,
                    },
                );
                self.start_operation(&key, fail)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    fn start_operation(&mut self, resource_key: &str, fail: bool) -> Reply {
        let op = self.uuid();
        let sub = World::sub_of(resource_key).unwrap_or_default().to_string();
        self.operations.insert(
            op.clone(),
            Operation {
                resource: resource_key.to_string(),
                done_at: self.now() + self.lro(false),
                fail,
            },
        );
        let url = format!("{}/subscriptions/{sub}/providers/Microsoft.OperationalInsights/locations/eastus/operationstatuses/{op}?api-version=2022-10-01", self.base_url);
        Reply::empty(202)
            .header("Azure-AsyncOperation", url.clone())
            .header("Location", url)
    }

    fn operation_status(&mut self, op: &str) -> Reply {
        let Some(o) = self.operations.get(op).cloned() else {
            return arm_err(
                404,
                "OperationNotFound",
                format!("Operation '{op}' was not found."),
            );
        };
        let now = self.now();
        let status = if now < o.done_at {
            "InProgress"
        } else if o.fail {
            "Failed"
        } else {
            "Succeeded"
        };
        let mut b = json!({ "id": op, "name": op, "status": status, "startTime": now_iso() });
        if status == "Failed" {
            b["error"] = json!({ "code": "InternalServerError", "message": format!("The operation on '{}' failed (azure-sim injected).", o.resource) });
        }
        Reply::json(200, b)
    }

    fn role_assignment(
        &mut self,
        req: &Req,
        scope: &str,
        name: &str,
        fault: &FaultAction,
    ) -> Reply {
        let _ = fault;
        let lscope = lc(scope);
        if name.is_empty() {
            if req.method != "GET" {
                return arm_err(405, "MethodNotAllowed", "The method is not allowed.");
            }
            let filter = req.query.get("$filter").cloned().unwrap_or_default();
            let principal = filter
                .strip_prefix("principalId eq '")
                .map(|p| p.trim_end_matches('\'').to_string());
            let at_scope = filter.trim() == "atScope()";
            let v: Vec<Value> = self
                .assignments
                .iter()
                .filter(|a| {
                    let s = lc(&a.scope);
                    let related = if at_scope {
                        lscope == s || lscope.starts_with(&format!("{s}/"))
                    } else {
                        lscope == s
                            || lscope.starts_with(&format!("{s}/"))
                            || s.starts_with(&format!("{lscope}/"))
                    };
                    related && principal.as_ref().is_none_or(|p| &a.principal == p)
                })
                .map(|a| self.assignment_json(a))
                .collect();
            return Reply::json(200, json!({ "value": v }));
        }
        let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        match req.method.as_str() {
            "GET" => match self.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                Some(a) => Reply::json(200, self.assignment_json(a)),
                None => arm_err(
                    404,
                    "RoleAssignmentNotFound",
                    format!("The role assignment '{name}' is not found."),
                ),
            },
            "DELETE" => match self.assignments.iter().position(|a| lc(&a.id) == lc(&id)) {
                Some(i) => {
                    let a = self.assignments.remove(i);
                    Reply::json(200, self.assignment_json(&a))
                }
                None => Reply::empty(204),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if let Err(r) = self.validate(
                    schema::ROLES,
                    "RoleAssignmentCreateParameters",
                    &body,
                    "InvalidRequestContent",
                ) {
                    return r;
                }
                if uuid::Uuid::parse_str(name).is_err() {
                    return arm_err(400, "InvalidRoleAssignmentId", format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."));
                }
                let p = &body["properties"];
                let role_def = p["roleDefinitionId"].as_str().unwrap_or_default();
                let role = role_def
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let sub = World::sub_of(scope).unwrap_or_default();
                if !lc(role_def).starts_with(&lc(&format!(
                    "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                ))) || !KNOWN_ROLES.contains(&role.as_str())
                {
                    return arm_err(
                        400,
                        "RoleDefinitionDoesNotExist",
                        format!("The specified role definition with ID '{role}' does not exist."),
                    );
                }
                let scope_exists = lscope == lc(&format!("/subscriptions/{sub}"))
                    || self.resources.contains_key(&lscope);
                if !scope_exists {
                    return arm_err(
                        404,
                        "ResourceNotFound",
                        format!("The scope '{scope}' does not exist."),
                    );
                }
                let principal = p["principalId"].as_str().unwrap_or_default().to_string();
                let ptype = p["principalType"].as_str().map(str::to_string);
                let own = self
                    .sp_delay
                    .get(&principal)
                    .copied()
                    .unwrap_or(self.cfg.sp_replication_delay);
                let delay = if ptype.is_some() { own / 2 } else { own };
                let replicated = self
                    .sp_created
                    .get(&principal)
                    .is_some_and(|c| self.now() >= *c + delay);
                if !replicated {
                    return arm_err(400, "PrincipalNotFound", format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, and retry the assignment.", principal.replace('-', ""), self.tenant));
                }
                if let Some(a) = self.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                    if a.principal == principal && a.role == role {
                        return Reply::json(201, self.assignment_json(a));
                    }
                    return arm_err(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
                }
                if self
                    .assignments
                    .iter()
                    .any(|a| lc(&a.scope) == lscope && a.role == role && a.principal == principal)
                {
                    return arm_err(
                        409,
                        "RoleAssignmentExists",
                        "The role assignment already exists.",
                    );
                }
                let a = Assignment {
                    id: id.clone(),
                    scope: scope.to_string(),
                    role,
                    principal,
                    principal_type: ptype,
                    created: self.now(),
                };
                let j = self.assignment_json(&a);
                self.assignments.push(a);
                Reply::json(201, j)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    fn assignment_json(&self, a: &Assignment) -> Value {
        let sub = World::sub_of(&a.scope).unwrap_or_default();
        json!({
            "id": a.id, "name": a.id.rsplit('/').next(), "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}", a.role),
                "principalId": a.principal, "principalType": a.principal_type.clone().unwrap_or_else(|| "ServicePrincipal".into()),
                "scope": a.scope, "createdOn": now_iso(), "updatedOn": now_iso()
            }
        })
    }

    // ---------- Logs Ingestion ----------

    /// Logs Ingestion. `parsed` is the body already parsed as JSON (outside the world's lock), if it parses.
    pub fn ingest(
        &mut self,
        req: &Req,
        immutable: &str,
        stream: &str,
        parsed: Option<Value>,
    ) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::Monitor) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if req.query.get("api-version").map(String::as_str) != Some("2023-01-01") {
            return arm_err(
                400,
                "InvalidApiVersion",
                "api-version 2023-01-01 is required.",
            );
        }
        let Some(dcr) = self
            .resources
            .values()
            .find(|r| {
                r.body
                    .pointer("/properties/immutableId")
                    .and_then(Value::as_str)
                    == Some(immutable)
            })
            .map(|r| r.body.clone())
        else {
            return arm_err(
                404,
                "NotFound",
                format!("Data collection rule with immutable Id '{immutable}' not found."),
            );
        };
        let Some(decl) = dcr
            .pointer(&format!("/properties/streamDeclarations/{stream}"))
            .cloned()
        else {
            return arm_err(
                400,
                "InvalidStream",
                format!(
                    "Stream '{stream}' is not declared in the data collection rule '{immutable}'."
                ),
            );
        };
        let dcr_id = dcr["id"].as_str().unwrap_or_default().to_string();
        if !self.has_role(
            &principal,
            &dcr_id,
            &[MONITORING_METRICS_PUBLISHER],
            self.cfg.role_propagation_delay,
        ) {
            return arm_err(403, "OperationFailed", format!("The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{immutable}'."));
        }
        if req.body.len() > self.cfg.ingest_limit_bytes {
            return arm_err(
                413,
                "ContentLengthLimitExceeded",
                "Maximum request body size is 1MB.",
            );
        }
        let events: Vec<Value> = match parsed {
            Some(Value::Array(a)) => a,
            _ => {
                return arm_err(
                    400,
                    "InvalidPayload",
                    "The request body must be a JSON array of objects.",
                )
            }
        };
        let cols: HashMap<String, String> = decl["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_string(),
                    c["type"].as_str()?.to_ascii_lowercase(),
                ))
            })
            .collect();
        let mut rows = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let Some(o) = e.as_object() else {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Item {i} is not a JSON object."),
                );
            };
            let mut row = Map::new();
            for (k, v) in o {
                let Some(t) = cols.get(k) else { continue };
                let ok = match t.as_str() {
                    "string" => v.is_string(),
                    "int" | "long" => v.is_i64() || v.is_u64(),
                    "real" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "datetime" => v.as_str().is_some_and(|s| {
                        time::OffsetDateTime::parse(
                            s,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .is_ok()
                    }),
                    _ => true,
                };
                if !ok && !v.is_null() {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Item {i}: field '{k}' is not of type {t}."),
                    );
                }
                row.insert(k.clone(), v.clone());
            }
            row.entry("TimeGenerated")
                .or_insert_with(|| json!(now_iso()));
            rows.push(Value::Object(row));
        }
        for f in dcr
            .pointer("/properties/dataFlows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !f["streams"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == stream))
            {
                continue;
            }
            let out = f["outputStream"].as_str().unwrap_or(stream);
            let table = out.strip_prefix("Custom-").unwrap_or(out);
            for d in f["destinations"].as_array().into_iter().flatten() {
                let ws = dcr
                    .pointer("/properties/destinations/logAnalytics")
                    .and_then(Value::as_array)
                    .and_then(|l| l.iter().find(|x| x["name"] == *d))
                    .and_then(|x| x["workspaceResourceId"].as_str())
                    .unwrap_or_default();
                let key = lc(&format!("{ws}/tables/{table}"));
                // Like Azure, rows for a table that is gone are accepted and dropped.
                if self.resources.contains_key(&key) {
                    self.ingested += rows.len() as u64;
                    if self.cfg.store_rows {
                        self.rows
                            .entry(key)
                            .or_default()
                            .extend(rows.iter().cloned());
                    }
                }
            }
        }
        Reply::empty(204)
    }

    // ---------- Log Analytics query ----------

    pub fn query(&mut self, req: &Req, customer_id: &str) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::LogAnalytics) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(ws) = self
            .resources
            .values()
            .find(|r| {
                r.body
                    .pointer("/properties/customerId")
                    .and_then(Value::as_str)
                    == Some(customer_id)
            })
            .map(|r| r.body.clone())
        else {
            return Reply::json(
                404,
                json!({ "error": { "code": "WorkspaceNotFoundError", "message": format!("The workspace {customer_id} could not be found") } }),
            );
        };
        let ws_id = ws["id"].as_str().unwrap_or_default().to_string();
        let any_role = self.assignments.iter().any(|a| {
            a.principal == principal
                && (lc(&ws_id) == lc(&a.scope)
                    || lc(&ws_id).starts_with(&format!("{}/", lc(&a.scope))))
        });
        if !any_role {
            return Reply::json(
                403,
                json!({ "error": { "code": "InsufficientAccessError", "message": "The provided credentials have insufficient access to perform the requested operation" } }),
            );
        }
        let q = if req.method == "GET" {
            req.query.get("query").cloned().unwrap_or_default()
        } else {
            serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|b| b["query"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        crate::kql::run(&q, |table| {
            let key = lc(&format!("{ws_id}/tables/{table}"));
            self.resources.get(&key).map(|r| {
                (
                    r.body.clone(),
                    self.rows.get(&key).cloned().unwrap_or_default(),
                )
            })
        })
    }

    // ---------- snapshot access ----------

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
