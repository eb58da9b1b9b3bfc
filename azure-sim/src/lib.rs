//! azure-sim: a stateful simulator of the Azure APIs keeper-azmon calls (Entra token endpoint, Microsoft Graph,
//! ARM, Logs Ingestion, Log Analytics query), served over TLS on loopback with a certificate it generates.

mod api;
mod kql;
mod reply;
mod schema;
mod snapshot;
mod world;

pub use snapshot::Snapshot;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use api::{
    AlertEvaluation, Chaos, Fault, FaultKind, Hook, Latency, LoggedRequest, Operator,
    SentinelContent, SimCloud, SimConfig, SimRole,
};
use reply::{arm_err, Reply};
pub use world::keeper::KeeperFault;
pub use world::owners::ForeignApp;
use world::{faults::FaultAction, Req, World};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot bind 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot make the TLS certificate: {0}")]
    Tls(String),
    #[error("cannot load the Azure specs: {0}")]
    Specs(String),
}

/// A running simulator. Dropping it (or `shutdown`) stops the server.
pub struct Sim {
    world: Arc<Mutex<World>>,
    base_url: String,
    ca_pem: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The Keeper region of a simulated cloud: Keeper's GovCloud (token prefix `GOV`) for the US Government clouds,
/// its US region otherwise (hosts from keeper-secrets-manager-core `constants.rs`).
fn keeper_region(cloud: SimCloud) -> (&'static str, &'static str) {
    match cloud {
        SimCloud::UsGov | SimCloud::UsGovDod => ("GOV", "govcloud.keepersecurity.us"),
        SimCloud::Public | SimCloud::China => ("US", "keepersecurity.com"),
    }
}

fn lock(w: &Mutex<World>) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sim {
    /// Starts the simulator on 127.0.0.1 (an ephemeral port unless `config.port` says otherwise).
    pub async fn start(config: SimConfig) -> Result<Sim, SimError> {
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|e| SimError::Bind {
                port: config.port,
                source: e,
            })?;
        let addr: SocketAddr = listener.local_addr().map_err(|e| SimError::Bind {
            port: config.port,
            source: e,
        })?;
        let base_url = format!("https://127.0.0.1:{}", addr.port());
        let certified = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
        ])
        .map_err(|e| SimError::Tls(e.to_string()))?;
        let ca_pem = certified.cert.pem();
        let cert = rustls::pki_types::CertificateDer::from(certified.cert.der().to_vec());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .map_err(|e| SimError::Tls(e.to_string()))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let world = Arc::new(Mutex::new(
            World::new(config, base_url.clone()).map_err(SimError::Specs)?,
        ));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let w = world.clone();
        let task = tokio::spawn(async move {
            loop {
                let conn = tokio::select! {
                    _ = &mut stopped => break,
                    c = listener.accept() => c,
                };
                let Ok((tcp, _)) = conn else { continue };
                let (acceptor, w) = (acceptor.clone(), w.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| handle(w.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Sim {
            world,
            base_url,
            ca_pem,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `https://127.0.0.1:PORT`: every API of the simulator is served from this one origin.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The host the simulator answers on (`127.0.0.1`), without its port.
    pub fn host(&self) -> String {
        let authority = self.base_url.trim_start_matches("https://");
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
            .to_string()
    }

    /// The PEM of the simulator's self-signed certificate.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// The cloud profile (keeper-azmon's `--cloud FILE` format) that points every endpoint here.
    pub fn profile(&self, ca_certificate_path: &str) -> Value {
        let w = lock(&self.world);
        let [arm, graph, monitor, la] = w.cfg.cloud.audiences();
        serde_json::json!({
            "name": w.cfg.cloud.name(),
            "authority_host": self.base_url,
            "resource_manager_endpoint": self.base_url,
            "resource_manager_audience": arm,
            "graph_endpoint": self.base_url,
            "graph_audience": graph,
            "monitor_audience": monitor,
            "log_analytics_endpoint": self.base_url,
            "log_analytics_audience": la,
            // The DCEs' logs ingestion endpoints are this server (world/dce.rs), so its host is the simulated
            // cloud's Logs Ingestion domain: keeper-azmon sends the app's token nowhere else.
            "logs_ingestion_domain": self.host(),
            "ca_certificate": ca_certificate_path,
            // keeper-azmon sends Keeper Secrets Manager calls here: the fake Keeper backend (world/keeper.rs).
            "keeper_endpoint": self.base_url,
            // The server key a one-time access token is redeemed with (the fake backend's own, not Keeper's).
            "keeper_server_public_key": w.keeper.server_public_key(),
        })
    }

    /// Writes `azure-sim-ca.pem` and `azure-sim-cloud.json` into `dir`; returns the profile's path.
    pub fn write_profile(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let ca = dir.join("azure-sim-ca.pem");
        std::fs::write(&ca, &self.ca_pem)?;
        let ca_abs = std::fs::canonicalize(&ca)?;
        let path = dir.join("azure-sim-cloud.json");
        let text = serde_json::to_string_pretty(&self.profile(&ca_abs.display().to_string()))
            .map_err(std::io::Error::other)?;
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// The seeded operator: Owner of the seeded subscription.
    pub fn operator(&self) -> Operator {
        lock(&self.world).operator.clone()
    }

    /// A bound Keeper Secrets Manager config (base64, as the vault exports it) for the fake Keeper backend, on the
    /// host of the simulated cloud's Keeper region.
    pub fn keeper_config(&self) -> String {
        let mut w = lock(&self.world);
        let (_, host) = keeper_region(w.cfg.cloud);
        w.keeper.mint_config(host)
    }
    /// A one-time access token for a new device of the fake KSM application (`GOV:…` in the US Government clouds,
    /// `US:…` elsewhere): it binds once.
    pub fn keeper_token(&self) -> String {
        let mut w = lock(&self.world);
        let (region, _) = keeper_region(w.cfg.cloud);
        w.keeper.mint_token(region)
    }
    /// Shares a new, empty login record with the fake Keeper application; its UID. `editable`: "Can Edit".
    pub fn keeper_add_record(&self, title: &str, editable: bool) -> String {
        lock(&self.world).keeper.add_record(title, editable)
    }
    /// Shares a new, empty shared folder with the fake Keeper application; its UID. `editable`: may add records.
    pub fn keeper_add_folder(&self, name: &str, editable: bool) -> String {
        lock(&self.world).keeper.add_folder(name, editable)
    }
    /// The UIDs of the records in a shared folder of the fake Keeper.
    pub fn keeper_folder_records(&self, folder: &str) -> Vec<String> {
        lock(&self.world).keeper.folder_records(folder)
    }
    /// A Keeper record's JSON as the vault holds it (`fields`, `custom`).
    pub fn keeper_record(&self, uid: &str) -> Option<Value> {
        lock(&self.world).keeper.record(uid)
    }
    /// Replaces a Keeper record's JSON behind the tool's back (a person editing it in the vault).
    pub fn keeper_put_record(&self, uid: &str, data: Value) -> bool {
        lock(&self.world).keeper.put_record(uid, data)
    }
    /// Queues a failure for the next call to a Keeper endpoint (`get_secret`, `update_secret`).
    pub fn keeper_inject(&self, endpoint: &str, fault: KeeperFault) {
        lock(&self.world).keeper.inject(endpoint, fault);
    }
    /// Revokes every device of the fake KSM application: their next call is refused `access_denied`.
    pub fn keeper_revoke_devices(&self) {
        lock(&self.world).keeper.revoke_devices();
    }
    /// The Keeper endpoints called so far, in order.
    pub fn keeper_calls(&self) -> Vec<String> {
        lock(&self.world).keeper.calls.clone()
    }
    /// Graph and ARM writes (POST, PUT, PATCH, DELETE) received, faulted or not; not token, ingestion, query or polls.
    pub fn write_count(&self) -> usize {
        lock(&self.world).writes
    }

    /// How many faults chaos drew, by kind (`429`, `500`, `503`, `reset`, `slow`, `lro-failed`).
    pub fn chaos_counts(&self) -> std::collections::BTreeMap<&'static str, usize> {
        lock(&self.world).faults.chaos_counts.clone()
    }

    /// Requests now held without an answer by `FaultKind::ApplyThenHang`.
    pub fn hanging(&self) -> usize {
        lock(&self.world).hanging
    }

    /// Every request so far, in order.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        lock(&self.world).log.clone()
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.world).add_fault(fault);
    }

    /// Injects `fault`, matching from the request after the first one of `method` whose path contains `path`
    /// (a failure that comes only after a given call, whatever came before it).
    pub fn inject_once_seen(&self, method: &str, path: &str, fault: Fault) {
        lock(&self.world).add_fault_once_seen(method, path, fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.world).clear_faults();
    }

    /// A subscription more; `visible_to_operator: false` makes one the operator cannot see.
    pub fn add_subscription(&self, id: &str, name: &str, visible_to_operator: bool) {
        lock(&self.world).add_subscription(id, name, visible_to_operator);
    }

    /// An app registration another member of the tenant made (owned by a new user only, with a secret of its
    /// own), e.g. named like the tool's app and carrying its tag, to see the tool refuse to adopt it.
    pub fn create_foreign_app(&self, display_name: &str, tags: &[&str]) -> ForeignApp {
        lock(&self.world).create_foreign_app(display_name, tags)
    }

    /// The same app, registered a moment ago: Graph shows it only once the simulator's clock has moved on by
    /// `replicating` (to see what the tool does with an app that appears while it runs).
    pub fn create_foreign_app_replicating(
        &self,
        display_name: &str,
        tags: &[&str],
        replicating: Duration,
    ) -> ForeignApp {
        lock(&self.world).create_foreign_app_replicating(display_name, tags, replicating)
    }

    /// Sentinel content an analyst made on an onboarded workspace (in the portal, say): `body` holds its
    /// `properties` (and, for a data connector, its `kind`); answers its id, or None when the workspace is not
    /// onboarded.
    pub fn add_sentinel_content(
        &self,
        workspace_id: &str,
        content: SentinelContent,
        name: &str,
        body: Value,
    ) -> Option<String> {
        lock(&self.world).add_sentinel_content(workspace_id, content, name, body)
    }

    /// Whether a new application's creator becomes its owner (true, as in Graph); false to see the tool add
    /// itself as owner where Graph did not.
    pub fn set_creator_becomes_owner(&self, yes: bool) {
        lock(&self.world).graph.creator_becomes_owner = yes;
    }

    /// Gives the seeded operator exactly these roles on its subscription from now on (e.g. an Owner who became a
    /// Contributor between setup and teardown).
    pub fn set_operator_roles(&self, roles: &[SimRole]) {
        let mut w = lock(&self.world);
        let now = w.now();
        w.set_operator_roles(roles, now);
    }

    /// One more subscription of the tenant, with the operator as its Owner.
    pub fn add_operator_subscription(&self, id: &str, name: &str) {
        lock(&self.world).add_operator_subscription(id, name);
    }

    /// Moves the simulator's clock forward (replication and propagation delays, operations).
    pub fn advance_clock(&self, d: Duration) {
        lock(&self.world).advance(d);
    }

    /// Puts a classic custom table `table` (as the retired HTTP Data Collector API made them: `tableSubType`
    /// `Classic`) into an existing workspace; the tables API then refuses to change its schema. False when the
    /// workspace does not exist.
    pub fn add_classic_table(&self, workspace_id: &str, table: &str) -> bool {
        lock(&self.world).add_classic_table(workspace_id, table)
    }
    /// Posts `records` as the retired HTTP Data Collector API did with `Log-Type: log_type` (Keeper Commander's
    /// `audit-log --target azure-la` used `Keeper`): they land in the classic table `<log_type>_CL` of the
    /// workspace (resource id), under Data Collector column names (`audit_event_type_s`, `timestamp_t`, ...).
    /// Returns the table's name.
    pub fn post_data_collector(
        &self,
        workspace_id: &str,
        log_type: &str,
        records: &[Value],
    ) -> String {
        lock(&self.world).post_data_collector(workspace_id, log_type, records)
    }

    /// Evaluates the log alert rule `rule_id` (a `Microsoft.Insights/scheduledQueryRules` id) once, at the
    /// simulator's now, as Azure Monitor would on its schedule: the first condition's query over the scoped
    /// workspace, limited to the rule's time range, aggregated and compared with the threshold. `Err` when the rule
    /// is not there, is not scoped to a workspace, or its query fails (its table does not exist): Azure fires nothing
    /// then. See `world/alerts.rs` for what is modelled.
    pub fn evaluate_log_alert(&self, rule_id: &str) -> Result<AlertEvaluation, String> {
        lock(&self.world).evaluate_log_alert(rule_id)
    }

    /// From now on, every client-credentials sign-in at the token endpoint (a service principal's secret, right or
    /// wrong) adds a row to the table `AADServicePrincipalSignInLogs` of the workspace `workspace_id` (a resource
    /// id; the table appears with its first row), as the tenant's Entra diagnostic setting
    /// (`PUT /providers/microsoft.aadiam/diagnosticSettings/{name}?api-version=2017-04-01`, category
    /// `ServicePrincipalSignInLogs`) would. Read the rows with `Snapshot::table_rows` or the query API.
    pub fn export_sign_in_logs(&self, workspace_id: &str) {
        lock(&self.world).export_sign_in_logs(workspace_id);
    }

    /// Changes the latency model from now on (a benchmark sets up fast, then times a re-run in real time).
    pub fn set_latency(&self, latency: Option<Latency>) {
        lock(&self.world).cfg.latency = latency;
    }

    /// A live view of the simulated world, for assertions and for changes behind the tool's back.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            world: self.world.clone(),
        }
    }

    /// Stops the server.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

fn respond(r: Reply) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match r.body {
        Some(v) => {
            b = b.header("content-type", "application/json; charset=utf-8");
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// An error from the service makes hyper drop the connection: how `ResetConnection` looks to a client.
#[derive(Debug)]
struct Reset;
impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by azure-sim")
    }
}
impl std::error::Error for Reset {}

/// What one request comes to, decided under the world's lock.
enum Outcome {
    Reply(Reply),
    Slow(Reply, Duration),
    Reset,
    Hang,
}

async fn handle(
    world: Arc<Mutex<World>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Reset> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = header("authorization");
    let transmission_key = header("transmissionkey");
    let identity_header = header("x-identity-header");
    let client_request_id = header("x-ms-client-request-id");
    let gzip = header("content-encoding").is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let raw = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => return Err(Reset),
    };
    // Keeper Secrets Manager: binary bodies both ways, answered by the fake Keeper backend.
    if path.starts_with(world::keeper::PATH_PREFIX) {
        let (status, body) =
            lock(&world)
                .keeper
                .handle(&path, transmission_key.as_deref(), auth.as_deref(), &raw);
        let mut b = Response::builder().status(status);
        if status != 200 {
            b = b.header("content-type", "application/json");
        }
        return Ok(b
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))));
    }
    let body = if gzip {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut out) {
            Ok(_) => out,
            Err(_) => {
                return Ok(respond(arm_err(
                    400,
                    "InvalidContentEncoding",
                    "The body is not valid gzip.",
                )));
            }
        }
    } else {
        raw
    };
    let delay = lock(&world).latency_of(&method, &path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let r = Req {
        method,
        path,
        query,
        auth,
        identity_header,
        client_request_id,
        body,
    };
    let outcome = (|| {
        let mut w = lock(&world);
        let write = World::is_write(&r);
        if write {
            w.writes += 1;
        }
        let fault = w.fault_for(&r);
        let reply = match &fault {
            FaultAction::Reply(_) => None,
            FaultAction::Reset => {
                w.log.push(LoggedRequest {
                    method: r.method.clone(),
                    path: r.path.clone(),
                    query: r.query.clone().into_iter().collect(),
                    status: 0,
                    gzip,
                });
                return Outcome::Reset;
            }
            _ => Some(route(&mut w, &r, &fault)),
        };
        let slow = match fault {
            FaultAction::ApplyThenSlow(d) => Some(d),
            _ => None,
        };
        if let FaultAction::ApplyThenRun(hook) = &fault {
            (hook.0)();
        }
        if matches!(fault, FaultAction::ApplyThenHang) {
            w.log.push(LoggedRequest {
                method: r.method.clone(),
                path: r.path.clone(),
                query: r.query.clone().into_iter().collect(),
                status: 0,
                gzip,
            });
            w.hanging += 1;
            return Outcome::Hang;
        }
        let reply = match (fault, reply) {
            (FaultAction::Reply(f), _) => f,
            (FaultAction::ApplyThen(status), Some(_)) => arm_err(
                status,
                "SimulatedFailure",
                "azure-sim applied this request, then answered with an error",
            ),
            (_, Some(r)) => r,
            (_, None) => arm_err(500, "InternalServerError", "no reply"),
        };
        // Whatever answered it (the API or an injected fault such as a 429), a refused ingestion may be logged in
        // its DCR's error log.
        w.record_ingestion_outcome(&r, &reply);
        w.log.push(LoggedRequest {
            method: r.method.clone(),
            path: r.path.clone(),
            query: r.query.clone().into_iter().collect(),
            status: reply.status,
            gzip,
        });
        match slow {
            Some(d) => Outcome::Slow(reply, d),
            None => Outcome::Reply(reply),
        }
    })();
    match outcome {
        Outcome::Reply(reply) => Ok(respond(reply)),
        Outcome::Slow(reply, d) => {
            tokio::time::sleep(d).await;
            Ok(respond(reply))
        }
        Outcome::Reset => Err(Reset),
        Outcome::Hang => {
            // Applied; the answer never comes. The test kills the client now.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Err(Reset)
        }
    }
}

fn route(w: &mut World, r: &Req, fault: &FaultAction) -> Reply {
    let segs: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), segs.as_slice()) {
        // OpenID metadata: MSAL-based clients (the Python SDK) read it before asking for a token.
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            let base = w.base_url.clone();
            Reply::json(
                200,
                serde_json::json!({
                    "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
                    "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
                    "issuer": format!("{base}/{tenant}/v2.0"),
                    "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
                    "response_types_supported": ["code", "token"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                    "tenant_region_scope": "NA"
                }),
            )
        }
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            let form: std::collections::HashMap<String, String> =
                url::form_urlencoded::parse(&r.body).into_owned().collect();
            let tenant = tenant.to_string();
            w.token(&tenant, &form)
        }
        // The App Service managed-identity endpoint (IDENTITY_ENDPOINT), serving the operator as the identity.
        ("GET", ["msi", "token"]) => w.managed_identity_token(r),
        (_, ["v1.0", ..]) => w.graph(r),
        // Entra ID's tenant-level diagnostic settings, on the ARM host outside any subscription.
        (_, ["providers", ns, kind, rest @ ..])
            if ns.eq_ignore_ascii_case("microsoft.aadiam")
                && kind.eq_ignore_ascii_case("diagnosticSettings")
                && rest.len() <= 1 =>
        {
            let name = rest.first().map(|n| n.to_string());
            w.aadiam_diagnostic_setting(r, name.as_deref())
        }
        (_, ["subscriptions", ..]) => w.arm(r, fault),
        ("POST", ["dataCollectionRules", imm, "streams", stream]) => {
            let (imm, stream) = (imm.to_string(), stream.to_string());
            w.ingest(r, &imm, &stream)
        }
        ("GET" | "POST", ["v1", "workspaces", cid, "query"]) => {
            let cid = cid.to_string();
            w.query(r, &cid)
        }
        _ => arm_err(
            404,
            "NotFound",
            format!("azure-sim has no route for {} {}", r.method, r.path),
        ),
    }
}
