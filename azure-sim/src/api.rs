//! The simulator's public types: its configuration, the operator identity, faults, and the request log.

use std::time::Duration;

/// Which Azure cloud the simulator plays: decides the token audiences it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCloud {
    Public,
    /// Azure US Government as GCC High sees it (Graph at graph.microsoft.us).
    UsGov,
    /// Azure US Government for DoD: the same ARM and monitor audiences, Graph at dod-graph.microsoft.us
    /// (https://learn.microsoft.com/graph/deployments).
    UsGovDod,
    /// Azure operated by 21Vianet (China).
    China,
}

impl SimCloud {
    /// The cloud of a keeper-azmon `--cloud` name the simulator can play.
    pub fn from_name(name: &str) -> Option<SimCloud> {
        match name {
            "public" => Some(SimCloud::Public),
            "usgov" => Some(SimCloud::UsGov),
            "usgov-dod" => Some(SimCloud::UsGovDod),
            "china" => Some(SimCloud::China),
            _ => None,
        }
    }

    /// (ARM, Graph, monitor, Log Analytics) audiences of this cloud.
    pub fn audiences(self) -> [&'static str; 4] {
        match self {
            SimCloud::Public => [
                "https://management.core.windows.net/",
                "https://graph.microsoft.com",
                "https://monitor.azure.com",
                "https://api.loganalytics.io",
            ],
            SimCloud::UsGov => [
                "https://management.core.usgovcloudapi.net/",
                "https://graph.microsoft.us",
                "https://monitor.azure.us",
                "https://api.loganalytics.us",
            ],
            SimCloud::UsGovDod => [
                "https://management.core.usgovcloudapi.net/",
                "https://dod-graph.microsoft.us",
                "https://monitor.azure.us",
                "https://api.loganalytics.us",
            ],
            // `az cloud show --name AzureChinaCloud`; monitor audience from the Logs Ingestion API docs.
            SimCloud::China => [
                "https://management.core.chinacloudapi.cn/",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://monitor.azure.cn",
                "https://api.loganalytics.azure.cn",
            ],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SimCloud::Public => "azure-sim-public",
            SimCloud::UsGov => "azure-sim-usgov",
            SimCloud::UsGovDod => "azure-sim-usgov-dod",
            SimCloud::China => "azure-sim-china",
        }
    }
}

/// A built-in Azure role the seeded operator may hold on the subscription (`SimConfig::operator_roles`).
/// Source of the GUIDs and permissions: "Azure built-in roles",
/// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimRole {
    /// Everything, role assignments included.
    Owner,
    /// Everything but `Microsoft.Authorization/*/Write` and `*/Delete`: cannot assign roles.
    Contributor,
    /// `*/read` and `Microsoft.Authorization/*`: may assign roles, cannot make resources.
    UserAccessAdministrator,
    /// `*/read` and role assignment write/delete.
    RoleBasedAccessControlAdministrator,
}

impl SimRole {
    /// The role definition GUID, the same in every cloud.
    pub fn guid(self) -> &'static str {
        match self {
            SimRole::Owner => "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            SimRole::Contributor => "b24988ac-6180-42a0-ab88-20f7382dd24c",
            SimRole::UserAccessAdministrator => "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            SimRole::RoleBasedAccessControlAdministrator => "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        }
    }
}

/// How the simulator behaves; everything that varies is here, so tests are deterministic.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub cloud: SimCloud,
    /// Seeds every generated id.
    pub seed: u64,
    /// After a service principal is created, role assignments naming it get `PrincipalNotFound` for this long
    /// (half as long when the request sets principalType, as in Azure).
    pub sp_replication_delay: Duration,
    /// After a role assignment is created, ingestion relying on it still gets 403 `OperationFailed` for this long
    /// (up to 30 minutes in Azure; `Latency::azure` takes that figure).
    pub role_propagation_delay: Duration,
    /// After a role assignment is created, the Log Analytics query API still answers its principal 403
    /// `InsufficientAccessError` for this long (up to 60 minutes in Azure; `Latency::azure` takes that figure).
    pub query_propagation_delay: Duration,
    /// How long workspace and table operations stay in progress.
    pub lro_duration: Duration,
    /// After a table's operation has ended, a data collection rule naming it as an output still gets
    /// `InvalidOutputTable` for this long (the table is not yet known to the DCR service).
    pub table_output_delay: Duration,
    /// The operator's built-in roles on the seeded subscription (Owner by default).
    pub operator_roles: Vec<SimRole>,
    /// How long a provider registration takes.
    pub provider_registration_delay: Duration,
    /// Whether Microsoft.Insights and Microsoft.OperationalInsights start registered.
    pub providers_registered: bool,
    /// 0 = an ephemeral port.
    pub port: u16,
    /// Keep ingested rows for the query API (off for benchmarks of millions of events: then they are only counted).
    pub store_rows: bool,
    /// Largest ingestion body accepted (uncompressed), 1 MiB as the API documents.
    pub ingest_limit_bytes: usize,
    /// Most rows one Log Analytics query answers (500,000, Azure Monitor service limits); past it the answer
    /// is cut and carries a partial error.
    pub query_row_limit: usize,
    /// Random faults on Graph and ARM requests, drawn from `seed`.
    pub chaos: Option<Chaos>,
    /// How long each kind of request takes, like Azure; `None` answers at once.
    pub latency: Option<Latency>,
    /// Graph read-after-create lag: a new application or service principal answers 404
    /// `Request_ResourceNotFound` to GET, PATCH and addPassword, is missing from `$filter` lists, and (an
    /// application) cannot back a new service principal, for this long. `Duration::ZERO` turns it off.
    pub graph_replication_delay: Duration,
    /// The token endpoint refuses a new client secret (AADSTS7000215) and a new service principal
    /// (AADSTS700016) for this long. `Duration::ZERO` turns it off.
    pub credential_activation_delay: Duration,
    /// Items per page of every paged list (ARM `nextLink`, Graph `@odata.nextLink`); `None` answers one page.
    pub page_size: Option<usize>,
}

/// How long Azure takes, per kind of operation, and a time scale so a benchmark runs a minute in a second.
/// With a model, its workspace, table and replication figures replace `lro_duration` and `sp_replication_delay`,
/// and its role propagation figures replace `role_propagation_delay` and `query_propagation_delay` where those
/// are not zero.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Real seconds per modelled second (0.05: a 20 s table operation takes 1 s).
    pub scale: f64,
    pub token: Duration,
    pub graph_read: Duration,
    pub graph_write: Duration,
    pub arm_read: Duration,
    /// Synchronous ARM writes: resource group, DCE, DCR, provider registration call, deletes.
    pub arm_write: Duration,
    pub role_write: Duration,
    /// From the workspace PUT until it says Succeeded.
    pub workspace_create: Duration,
    /// From the table PUT until its operation says Succeeded.
    pub table_create: Duration,
    /// A new service principal's PrincipalNotFound window (halved when principalType is sent).
    pub sp_replication: Duration,
    /// After a new table is ready, how long a DCR naming it still gets `InvalidOutputTable`.
    pub table_output: Duration,
    /// Graph read-after-create lag of a new application or service principal.
    pub graph_replication: Duration,
    /// How long the token endpoint refuses a new client secret or service principal.
    pub credential_activation: Duration,
    /// How long Logs Ingestion answers 403 after the role assignment it relies on.
    pub ingestion_role_propagation: Duration,
    /// How long the Log Analytics query API answers 403 after a new role assignment on the workspace.
    pub query_role_propagation: Duration,
}

impl Latency {
    /// Figures from observed Azure traffic, at `scale`. Sources: the recordings summarised in
    /// shared/azure-specs/README.md (workspace creation ~12 s; table PUT 2-60 s, 20 s taken; DCE and DCR PUT
    /// synchronous), Microsoft Graph and ARM round trips as seen from a client in the same geography
    /// (~150-400 ms; 200-500 ms taken), and the replication delay Microsoft's docs describe for new service
    /// principals (seconds to minutes; 10 s taken). Graph's read-after-create lag: "a newly created object to
    /// return a Not Found" during replication (Microsoft Entra blog, "Designing for Eventual Consistency for
    /// Microsoft Entra", https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/;
    /// 5 s taken). A new client secret: "I've observed latency from 4-18 seconds" before a token is issued
    /// (https://github.com/microsoftgraph/microsoft-graph-docs/issues/17966; 10 s taken). A new role assignment:
    /// Logs Ingestion "Error code 403 … You might also need to wait up to 30 minutes for permissions to propagate"
    /// (Sample code to send data to Azure Monitor using Logs ingestion API, Troubleshooting,
    /// https://learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-code#troubleshooting); the
    /// query API "it might take up to 60 minutes for the … REST API to recognize new role-based access control
    /// permissions. While permissions are propagating, REST API calls might fail with error code 403" (Azure
    /// Monitor Log Analytics API errors, "Insufficient permissions",
    /// https://learn.microsoft.com/azure/azure-monitor/logs/api/errors). Both pages give only the worst case, which
    /// is taken: the tool has to live through it.
    pub fn azure(scale: f64) -> Latency {
        let ms = Duration::from_millis;
        Latency {
            scale,
            token: ms(250),
            graph_read: ms(200),
            graph_write: ms(500),
            arm_read: ms(200),
            arm_write: ms(1_000),
            role_write: ms(1_000),
            workspace_create: Duration::from_secs(12),
            table_create: Duration::from_secs(20),
            sp_replication: Duration::from_secs(10),
            // "A few seconds" after the table operation ends (issue 11; a DCR PUT made at once after a table PUT
            // fails with InvalidOutputTable: hashicorp/terraform-provider-azurerm#21897); 5 s taken.
            table_output: Duration::from_secs(5),
            graph_replication: Duration::from_secs(5),
            credential_activation: Duration::from_secs(10),
            ingestion_role_propagation: Duration::from_secs(30 * 60),
            query_role_propagation: Duration::from_secs(60 * 60),
        }
    }

    /// `d` at this model's scale.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }
}

/// Per-request probabilities of the faults cloud APIs show, and replication delays drawn from a range.
#[derive(Debug, Clone)]
pub struct Chaos {
    pub p429: f64,
    pub p500: f64,
    pub p503: f64,
    pub p_reset: f64,
    /// Apply the request, then answer only after `slow_delay` (past the client's timeout).
    pub p_slow: f64,
    pub slow_delay: Duration,
    /// A long-running operation (workspace or table PUT) that ends Failed.
    pub p_lro_fail: f64,
    /// Each new service principal is `PrincipalNotFound` for a delay drawn from this range.
    pub replication: (Duration, Duration),
}

impl Chaos {
    /// The mix of the reliability issue: 10% 429, 5% 500, 3% resets, replication 0-30 s (times `scale`).
    pub fn standard(scale: f64) -> Chaos {
        Chaos {
            p429: 0.10,
            p500: 0.05,
            p503: 0.0,
            p_reset: 0.03,
            p_slow: 0.0,
            slow_delay: Duration::from_secs(5),
            p_lro_fail: 0.0,
            replication: (Duration::ZERO, Duration::from_secs_f64(30.0 * scale)),
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            cloud: SimCloud::Public,
            seed: 1,
            sp_replication_delay: Duration::ZERO,
            role_propagation_delay: Duration::ZERO,
            query_propagation_delay: Duration::ZERO,
            lro_duration: Duration::from_millis(300),
            table_output_delay: Duration::from_millis(400),
            operator_roles: vec![SimRole::Owner],
            provider_registration_delay: Duration::from_millis(300),
            providers_registered: true,
            port: 0,
            store_rows: true,
            ingest_limit_bytes: 1_048_576,
            query_row_limit: 500_000,
            chaos: None,
            latency: None,
            // On by default, at a fraction of Azure's seconds (as `lro_duration` is): every test meets them.
            graph_replication_delay: Duration::from_millis(300),
            credential_activation_delay: Duration::from_millis(300),
            page_size: Some(2),
        }
    }
}

/// The seeded operator: a service principal that is Owner of the seeded subscription.
#[derive(Debug, Clone)]
pub struct Operator {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
    /// The assertion the token endpoint accepts for the operator (workload identity).
    pub federated_token: String,
    /// The `IDENTITY_HEADER` secret of the App Service managed-identity endpoint (`/msi/token`) for the operator.
    pub identity_header: String,
    /// The operator's service principal object id.
    pub object_id: String,
}

/// What a fault does to a request it matches.
#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer this error instead of processing the request.
    Status {
        status: u16,
        code: String,
        retry_after: Option<u64>,
    },
    /// Process the request (state changes), then answer this error: the client sees a failure for a write that happened.
    ApplyThenStatus { status: u16 },
    /// Accept a long-running operation, then end it `Failed`; the resource is not made.
    FailLro,
    /// Close the connection without an answer.
    ResetConnection,
    /// Process the request (state changes), then never answer: the moment to kill a client after its write landed.
    ApplyThenHang,
    /// Every token issued so far expires, then the request is served (401 ExpiredAuthenticationToken): a long
    /// run outliving its tokens.
    ExpireTokens,
    /// Process the request, run the test's hook, then answer as usual: the moment for a test to change the
    /// client's world (its disk) between one call and the next, as a full disk or a removed directory would.
    ApplyThenRun(Hook),
}

/// A test's code run by [`FaultKind::ApplyThenRun`] once the request was applied, before it is answered.
#[derive(Clone)]
pub struct Hook(pub std::sync::Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

/// A fault: which requests it matches, how many to let through first, how many to affect.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: Option<String>,
    pub skip: usize,
    pub times: usize,
    /// Match only Graph and ARM writes (the requests `write_count` counts).
    pub writes_only: bool,
    pub kind: FaultKind,
}

impl Fault {
    /// Answers `status` with Azure's `code` (and no Retry-After) instead of serving the first `times` requests of
    /// `method` whose path contains `path`.
    pub fn status(method: &str, path: &str, times: usize, status: u16, code: &str) -> Fault {
        Fault {
            method: Some(method.into()),
            path_contains: Some(path.into()),
            skip: 0,
            times,
            writes_only: false,
            kind: FaultKind::Status {
                status,
                code: code.into(),
                retry_after: None,
            },
        }
    }

    /// Runs `hook` once the first `times` requests of `method` whose path contains `path` were applied, before
    /// each is answered (as usual).
    pub fn then_run(
        method: &str,
        path: &str,
        times: usize,
        hook: impl Fn() + Send + Sync + 'static,
    ) -> Fault {
        Fault {
            method: Some(method.into()),
            path_contains: Some(path.into()),
            skip: 0,
            times,
            writes_only: false,
            kind: FaultKind::ApplyThenRun(Hook(std::sync::Arc::new(hook))),
        }
    }

    /// The same fault, with `Retry-After: seconds` on its answers.
    pub fn retry_after(mut self, seconds: u64) -> Fault {
        if let FaultKind::Status { retry_after, .. } = &mut self.kind {
            *retry_after = Some(seconds);
        }
        self
    }

    /// The same fault, letting the first `n` matching requests through.
    pub fn after(mut self, n: usize) -> Fault {
        self.skip = n;
        self
    }
}

/// One request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The query string's parameters (`api-version`, `force`, ...).
    pub query: std::collections::BTreeMap<String, String>,
    /// 0 when the connection was reset.
    pub status: u16,
    /// Whether the body came gzip-compressed.
    pub gzip: bool,
}

/// Microsoft Sentinel content other than analytics rules that an analyst makes on a workspace
/// (`Sim::add_sentinel_content`), each a collection under `{workspace}/providers/Microsoft.SecurityInsights/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentinelContent {
    AutomationRule,
    Watchlist,
    Incident,
    DataConnector,
    /// An installed solution from the content hub.
    ContentPackage,
    /// A hunting bookmark.
    Bookmark,
}

impl SentinelContent {
    pub const ALL: [SentinelContent; 6] = [
        SentinelContent::AutomationRule,
        SentinelContent::Watchlist,
        SentinelContent::Incident,
        SentinelContent::DataConnector,
        SentinelContent::ContentPackage,
        SentinelContent::Bookmark,
    ];

    /// The collection's path segment, as the specs spell it.
    pub fn collection(self) -> &'static str {
        match self {
            SentinelContent::AutomationRule => "automationRules",
            SentinelContent::Watchlist => "watchlists",
            SentinelContent::Incident => "incidents",
            SentinelContent::DataConnector => "dataConnectors",
            SentinelContent::ContentPackage => "contentPackages",
            SentinelContent::Bookmark => "bookmarks",
        }
    }

    /// The one whose collection segment is `segment` (any case, as ARM matches paths).
    pub fn of_segment(segment: &str) -> Option<SentinelContent> {
        SentinelContent::ALL
            .into_iter()
            .find(|c| c.collection().eq_ignore_ascii_case(segment))
    }
}

/// One evaluation of a log alert rule (`Sim::evaluate_log_alert`): whether it fired, the aggregated value that was
/// compared with the rule's threshold (the number of result rows for `Count`), and how many rows the query gave.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvaluation {
    pub fired: bool,
    pub value: f64,
    pub rows: usize,
}
