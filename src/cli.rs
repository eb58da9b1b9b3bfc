//! Command-line definitions: commands, flags, their KEEPER_AZMON_* environment variables and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::AuthMode;
use crate::console::Format;
use crate::steps::inputs::RulesState;
use crate::steps::retention::Preset;
use crate::steps::RoleSet;

/// Sets up the Azure side of streaming Keeper Security audit events into Azure Monitor / Microsoft Sentinel
/// (Logs Ingestion API), in Azure Public and Azure US Government.
/// `--version`: the version, the commit it was built from (build.rs) and whether the simulator is in the build,
/// e.g. `keeper-azmon 0.1.0 (54fde48, demo)`.
#[cfg(feature = "demo")]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KEEPER_AZMON_COMMIT"),
    ", demo)"
);
#[cfg(not(feature = "demo"))]
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KEEPER_AZMON_COMMIT"),
    ", no demo)"
);

#[derive(Debug, Parser)]
#[command(name = "keeper-azmon", version = VERSION, about, long_about = None, after_help = crate::error::Error::EXIT_CODES)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never prompt: a missing input or confirmation is an error that names its flag (as with CI=true).
    #[arg(long, global = true, env = "KEEPER_AZMON_NO_INPUT")]
    pub no_input: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create (or adopt) everything the Keeper Admin Console needs: guide steps 1-8.
    Setup(Box<SetupArgs>),
    /// Cloud profiles.
    Cloud {
        #[command(subcommand)]
        command: CloudCommand,
    },
    /// Prove the Admin Console values work: a token as the app, sample events posted, (--wait) rows found.
    Verify(VerifyArgs),
    /// Each resource of the deployment: present, as expected, drifted or missing; secret expiry. Exit 4 if unhealthy.
    Status(StatusArgs),
    /// A new client secret for the Admin Console; the old one is removed once the console has the new one.
    RotateSecret(RotateArgs),
    /// Upload exported Keeper events (JSON array or JSON lines; files or stdin) to the DCR stream as the app.
    Send(SendArgs),
    /// Move the history of a classic table (Commander's `Keeper_CL`) into the deployment's table, resumably.
    ImportClassic(ImportClassicArgs),
    /// Delete what setup created, and only that (reused resources stay).
    Teardown(TeardownArgs),
    /// Run setup against the built-in Azure simulator (no Azure account needed), then verify --wait.
    // Listed only in builds that carry the simulator (feature `demo`); elsewhere it says what is missing.
    #[cfg_attr(not(feature = "demo"), command(hide = true))]
    Demo(DemoArgs),
    /// Print shell completions (bash, zsh, fish, powershell) on stdout.
    #[command(hide = true)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `keeper-azmon man > keeper-azmon.1`.
    #[command(hide = true)]
    Man,
}

impl Command {
    /// The `--output` the command was given; `None` for the commands without one.
    pub fn output(&self) -> Option<Format> {
        match self {
            Command::Setup(a) => Some(a.common.output),
            Command::Verify(a) => Some(a.target.common.output),
            Command::Status(a) => Some(a.common.output),
            Command::RotateSecret(a) => Some(a.common.output),
            Command::Send(a) => Some(a.target.common.output),
            Command::ImportClassic(a) => Some(a.target.common.output),
            Command::Teardown(a) => Some(a.common.output),
            Command::Cloud { .. }
            | Command::Demo(_)
            | Command::Completions { .. }
            | Command::Man => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CloudCommand {
    /// Print a profile (built-in name or file) as JSON: the format `--cloud FILE` takes.
    Show {
        /// public, usgov, usgov-dod, china, or a profile file.
        name: String,
    },
}

pub use crate::vault::args::{KeeperArgs, KeeperReadArgs, KsmArgs, KsmReadArgs};

/// The heading of setup's required flags in `--help`. Not required by clap itself: on a terminal the wizard asks
/// for what is missing; without one, setup names every missing input in one refusal.
const REQUIRED: &str = "Required (on a terminal, the wizard asks for what is missing)";

/// Inputs shared by every command that talks to Azure.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// Cloud: public, usgov (GCC High), usgov-dod, china, or the path of a cloud profile JSON file.
    /// Default: the Azure CLI's active cloud.
    #[arg(long, env = "KEEPER_AZMON_CLOUD")]
    pub cloud: Option<String>,

    /// How the operator signs in: auto tries env, then workload, then cli.
    #[arg(long, env = "KEEPER_AZMON_AUTH", value_enum, default_value = "auto")]
    pub auth: AuthMode,

    /// Directory (tenant) id: the tenant to sign in to and work in (for verify and send, the app's tenant).
    /// Default: the state file's, else the subscription's.
    #[arg(long, env = "KEEPER_AZMON_TENANT")]
    pub tenant: Option<String>,

    /// human: progress and a card; json: one JSON object on stdout. `-o` as in the az CLI.
    #[arg(
        short = 'o',
        long,
        env = "KEEPER_AZMON_OUTPUT",
        value_enum,
        default_value = "human"
    )]
    pub output: Format,

    /// State file: what this deployment made, never a secret value.
    #[arg(
        long,
        env = "KEEPER_AZMON_STATE",
        default_value = "keeper-azmon.state.json"
    )]
    pub state: PathBuf,
}

#[derive(Debug, Args, Clone)]
pub struct SetupArgs {
    #[command(flatten)]
    pub common: Common,

    /// Subscription: its id, or its name as `az account list` shows it (looked up in the subscriptions you see).
    #[arg(long, env = "KEEPER_AZMON_SUBSCRIPTION", help_heading = REQUIRED)]
    pub subscription: Option<String>,

    /// Resource group for the workspace, DCE and DCR.
    #[arg(long, env = "KEEPER_AZMON_RESOURCE_GROUP", help_heading = REQUIRED)]
    pub resource_group: Option<String>,

    /// Create the resource group if it does not exist.
    #[arg(long, env = "KEEPER_AZMON_CREATE_RESOURCE_GROUP")]
    pub create_resource_group: bool,

    /// Azure region, as ARM names it (e.g. eastus, usgovvirginia).
    #[arg(long, env = "KEEPER_AZMON_LOCATION", help_heading = REQUIRED)]
    pub location: Option<String>,

    /// Workspace: a name to create (or adopt), or the resource id of an existing workspace to reuse. [default: KeeperLogsWorkspace]
    #[arg(long, env = "KEEPER_AZMON_WORKSPACE")]
    pub workspace: Option<String>,

    /// App registration display name. [default: KeeperLogging]
    #[arg(long, env = "KEEPER_AZMON_APP_NAME")]
    pub app_name: Option<String>,

    /// Client secret description. [default: Keeper Azure Monitor Logs]
    #[arg(long, env = "KEEPER_AZMON_SECRET_DESCRIPTION")]
    pub secret_description: Option<String>,

    /// Client secret lifetime in days (1-730). [default: 180]
    #[arg(long, env = "KEEPER_AZMON_SECRET_EXPIRY_DAYS")]
    pub secret_expiry_days: Option<i64>,

    /// Custom table name; Azure appends _CL. [default: KeeperLogs]
    #[arg(long, env = "KEEPER_AZMON_TABLE")]
    pub table: Option<String>,

    /// Data collection endpoint name. [default: KeeperLogsEndpoint]
    #[arg(long, env = "KEEPER_AZMON_DCE_NAME")]
    pub dce_name: Option<String>,

    /// Data collection rule name. [default: KeeperDCR]
    #[arg(long, env = "KEEPER_AZMON_DCR_NAME")]
    pub dcr_name: Option<String>,

    /// Role assignments: guide (the guide's six) or minimal (Monitoring Metrics Publisher on the DCR only). [default: guide]
    #[arg(long, env = "KEEPER_AZMON_ROLES", value_enum)]
    pub roles: Option<RoleSet>,

    /// Deployment name: the value of the keeper-azmon tag on everything created. Default: the resource group.
    #[arg(long, env = "KEEPER_AZMON_DEPLOYMENT")]
    pub deployment: Option<String>,

    /// Also set up Microsoft Sentinel on the workspace: onboard it (unless it already is), the KQL function
    /// KeeperSecurityEvents, Scheduled analytics rules and the Keeper Security Dashboard workbook.
    /// The wizard asks (default yes when the workspace already runs Sentinel).
    #[arg(long, env = "KEEPER_AZMON_SENTINEL", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub sentinel: Option<bool>,

    /// With --sentinel: install the analytics rules enabled or disabled. [default: new rules enabled, existing ones
    /// keep the state an analyst gave them]
    #[arg(long, env = "KEEPER_AZMON_SENTINEL_RULES", value_enum)]
    pub sentinel_rules: Option<RulesState>,

    /// Interactive retention of the Keeper table in days (4-730).
    #[arg(
        long,
        env = "KEEPER_AZMON_RETENTION_DAYS",
        conflicts_with = "retention"
    )]
    pub retention_days: Option<i64>,

    /// Total retention of the Keeper table in days, long-term included (4-730, or whole years: 1095, 1460, ... 4383).
    #[arg(
        long,
        env = "KEEPER_AZMON_TOTAL_RETENTION_DAYS",
        conflicts_with = "retention"
    )]
    pub total_retention_days: Option<i64>,

    /// A retention policy for the Keeper table: m-21-31 (US federal: 12 months active, 18 more archived; sets 366 / 1095 days).
    #[arg(long, env = "KEEPER_AZMON_RETENTION", value_enum)]
    pub retention: Option<Preset>,
    /// Use this existing app registration (its Application (client) ID) although you do not own it or no state
    /// file names it: it gets a new client secret and the role assignments. Teardown leaves the app itself.
    #[arg(long, env = "KEEPER_AZMON_ADOPT_APP")]
    pub adopt_app: Option<String>,

    /// Mail this address when Keeper stops sending events or its posts are refused: an action group and two log
    /// alerts. Repeat for several addresses (the environment variable takes a comma-separated list). Each address
    /// must confirm Azure's mail within 30 minutes.
    #[arg(
        long = "alert-email",
        env = "KEEPER_AZMON_ALERT_EMAIL",
        value_delimiter = ',',
        value_name = "ADDR"
    )]
    pub alert_email: Vec<String>,

    /// With --alert-email: the hours without an event from Keeper before "Keeper events stopped" fires (1-48).
    /// [default: 24]
    #[arg(long, env = "KEEPER_AZMON_ALERT_SILENCE_HOURS")]
    pub alert_silence_hours: Option<i64>,

    /// Print the plan (create / reuse / update per step) and write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply without asking.
    #[arg(long, short = 'y', env = "KEEPER_AZMON_YES")]
    pub yes: bool,

    /// Print the new secret's value even where it may be captured: in the JSON (--output json), or in the card
    /// when stdout is not a terminal. Without it (or --secret-out, or --keeper-record) such a run is refused
    /// before any write.
    #[arg(long)]
    pub show_secret: bool,

    #[command(flatten)]
    pub keeper: KeeperArgs,

    #[command(flatten)]
    pub secret_out: SecretOutArgs,

    /// Run the steps one after another in dependency order, as the guide does (for the setup benchmark).
    #[arg(long, hide = true)]
    pub sequential: bool,

    /// How long role assignments wait for a new service principal to replicate, in seconds.
    #[arg(long, env = "KEEPER_AZMON_REPLICATION_WAIT", default_value_t = 300)]
    pub replication_wait: u64,
}

#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Which cloud the simulator plays: public, usgov, usgov-dod or china.
    #[arg(long, default_value = "usgov")]
    pub cloud: String,
    /// Where the demo's state file, cloud profile, CA certificate and secret file go (kept). Default: a temporary
    /// directory, removed at the end.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// After setup and verify, keep the simulator running and print the `export` lines and the commands to try
    /// against it (status, send, rotate-secret, teardown), until Ctrl-C. Its directory is kept.
    #[arg(long)]
    pub keep_running: bool,
}

/// Where events go and as whom: the Admin Console values, from the state file or flags.
#[derive(Debug, Args, Clone)]
pub struct TargetArgs {
    #[command(flatten)]
    pub common: Common,
    /// Application (client) id. Default: from the state file.
    #[arg(long, env = "KEEPER_AZMON_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The Endpoint URL. Default: from the state file.
    #[arg(long, env = "KEEPER_AZMON_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Send the app's token to an Endpoint URL outside the cloud's Logs Ingestion domain (*.ingest.monitor.azure.com,
    /// .azure.us, .azure.cn; a custom cloud profile's logs_ingestion_domain, else the host the state file records):
    /// a host of your own on purpose, such as a proxy you run. https is required all the same.
    #[arg(long, env = "KEEPER_AZMON_ALLOW_FOREIGN_ENDPOINT")]
    pub allow_foreign_endpoint: bool,
    /// Read the client secret value from this file (else KEEPER_AZMON_CLIENT_SECRET, else the state's Keeper
    /// record). The file setup and rotate-secret wrote with --secret-out.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The client secret from a Keeper record: keeper://<record UID>/field/password (needs --ksm-config).
    #[arg(long, value_name = "KEEPER_NOTATION")]
    pub secret: Option<String>,
    /// The vault `--secret` (or the state's Keeper record) is read through.
    #[command(flatten)]
    pub ksm: KsmArgs,
}

#[derive(Debug, Args, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Workspace (customer) id for the read-back. Default: from the state file.
    #[arg(long)]
    pub workspace_id: Option<String>,
    /// Table for the read-back. Default: from the state file.
    #[arg(long)]
    pub table: Option<String>,
    /// Wait until the events are in the table (and through 403s while roles take effect).
    #[arg(long)]
    pub wait: bool,
    /// Time limit for --wait, in seconds. The default, 75 minutes, covers Azure's worst case right after setup: up
    /// to 30 minutes for ingestion and 60 for the query API to honour the new roles, then up to 15 for the first
    /// rows to show.
    #[arg(long, default_value_t = crate::azure::roles::VERIFY_TIMEOUT_SECS)]
    pub timeout: u64,
    /// Post nothing: show the newest event Keeper itself sent (its time and audit_event), read as the signed-in
    /// operator. With --wait, wait for the first one. Exit 6 when there is none.
    #[arg(long)]
    pub keeper: bool,
}

#[derive(Debug, Args, Clone)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub common: Common,
    /// Without a state file: find the deployment by its keeper-azmon tag.
    #[arg(long, env = "KEEPER_AZMON_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// Without a state file: the subscription to search.
    #[arg(long, env = "KEEPER_AZMON_SUBSCRIPTION")]
    pub subscription: Option<String>,
    /// Keep the workspace (and so its data).
    #[arg(long)]
    pub keep_workspace: bool,
    /// Keep the table and the workspace: the data stays queryable.
    #[arg(long)]
    pub keep_data: bool,
    /// Delete the workspace for good (no 14-day recovery).
    #[arg(long)]
    pub force_delete_workspace: bool,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking.
    #[arg(long, short = 'y', env = "KEEPER_AZMON_YES")]
    pub yes: bool,
    /// Also delete the Keeper record, when keeper-azmon created it (--keeper-folder); a record it was given is
    /// the user's and is refused.
    #[arg(long)]
    pub delete_keeper_record: bool,
    #[command(flatten)]
    pub ksm: KsmReadArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
    /// Without a state file: find the deployment by its keeper-azmon tag.
    #[arg(long, env = "KEEPER_AZMON_DEPLOYMENT")]
    pub deployment: Option<String>,
    /// Without a state file: the subscription to search.
    #[arg(long, env = "KEEPER_AZMON_SUBSCRIPTION")]
    pub subscription: Option<String>,
    #[command(flatten)]
    pub keeper: KeeperReadArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RotateArgs {
    #[command(flatten)]
    pub common: Common,
    /// Lifetime of the new secret in days (1-730).
    #[arg(long, env = "KEEPER_AZMON_SECRET_EXPIRY_DAYS", default_value_t = 180)]
    pub secret_expiry_days: i64,
    /// Remove the old secret right away (pipelines: after updating the console automatically).
    #[arg(long)]
    pub remove_old: bool,
    /// Only remove old secrets left by an earlier rotate-secret, once the workspace's sign-in logs
    /// (AADServicePrincipalSignInLogs) show the app signing in with the new one since the rotation.
    #[arg(long)]
    pub finish: bool,
    /// With --finish: remove the old secrets without that proof (you have checked the Admin Console yourself).
    #[arg(long, requires = "finish")]
    pub force: bool,
    /// Print the new secret's value even where it may be captured (JSON, or stdout that is not a terminal).
    #[arg(long)]
    pub show_secret: bool,
    #[command(flatten)]
    pub secret_out: SecretOutArgs,
    /// Print what the rotation would add and remove, and write nothing (no secret, no state, no lock).
    #[arg(long)]
    pub dry_run: bool,
    /// Rotate without asking (on a terminal, rotate-secret asks before it adds a secret; elsewhere it does not).
    #[arg(long, short = 'y', env = "KEEPER_AZMON_YES")]
    pub yes: bool,
    #[command(flatten)]
    pub keeper: KeeperArgs,
}

/// Where setup and rotate-secret write a new secret's value: `--secret-out`. Reading a value (verify, send,
/// import-classic) is `--secret-file`; until issue 27 the writing side was spelled `--secret-file` too, which
/// still works there, hidden, with a warning.
#[derive(Debug, Args, Clone, Default)]
pub struct SecretOutArgs {
    /// Write the new secret's value to this file (mode 0600; never through a symbolic link) instead of printing it.
    #[arg(long, env = "KEEPER_AZMON_SECRET_OUT", value_name = "FILE")]
    pub secret_out: Option<PathBuf>,
    /// The old spelling of --secret-out (deprecated: it reads a file in verify, send and import-classic).
    #[arg(
        long = "secret-file",
        env = "KEEPER_AZMON_SECRET_FILE",
        hide = true,
        hide_env = true,
        conflicts_with = "secret_out",
        value_name = "FILE"
    )]
    pub deprecated_secret_file: Option<PathBuf>,
}

impl SecretOutArgs {
    /// The file to write the new secret to, from either spelling; the old one says once, on stderr, that it is
    /// deprecated.
    pub fn resolve(self) -> Option<PathBuf> {
        if self.deprecated_secret_file.is_some() {
            crate::printer::note(format_args!(
                "warning: --secret-file (KEEPER_AZMON_SECRET_FILE) is deprecated for writing a new secret: use --secret-out (KEEPER_AZMON_SECRET_OUT); --secret-file reads a secret in verify, send and import-classic"
            ));
        }
        self.secret_out.or(self.deprecated_secret_file)
    }
}

/// `send --format`: the shape of the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Commander's when the first event has `audit_event_type` and no `audit_event`, else plain.
    Auto,
    /// The table's columns, as in Keeper's guide: sent as they are.
    Plain,
    /// Keeper Commander's `audit-log --target json` or `audit-report --format json`: mapped to the table's columns.
    Commander,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnError {
    /// Report a malformed event with its line number and go on.
    Skip,
    /// Stop at the first malformed event.
    Fail,
}

#[derive(Debug, Args, Clone)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Input files (JSON array or JSON lines); none or `-` reads stdin.
    pub inputs: Vec<PathBuf>,
    /// What a malformed event does.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_error: OnError,
    /// Write events the API refused here (JSON lines), to send again later.
    #[arg(long)]
    pub failed_file: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Shape of the events.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: InputFormat,
    /// Commander events: the value of the enterprise_id column (Commander's exports do not carry it).
    #[arg(long, env = "KEEPER_AZMON_ENTERPRISE_ID")]
    pub enterprise_id: Option<i64>,
    /// Commander events: Keeper's category of every event type, from Commander's
    /// `audit-report --report-type dim --columns audit_event_type --format json --output FILE`.
    #[arg(long)]
    pub event_types: Option<PathBuf>,
    /// Commander events: send only those before this time (RFC 3339 or YYYY-MM-DD, UTC). Default: the first
    /// event already in the deployment's table (where Keeper's live streaming began; one query, which needs read
    /// access to the workspace), so a backfill never duplicates what Keeper sent; the rest are counted as already
    /// streamed. Plain events are sent as they are, with no query.
    #[arg(long)]
    pub until: Option<String>,
    /// Read the inputs and print what would be sent (events, size, time range, the DCE host and stream); post
    /// nothing. The app still signs in when Commander events need the live-streaming cutoff looked up.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ImportClassicArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The classic table (made by the HTTP Data Collector API; Commander's `audit-log --target azure-la` made Keeper_CL):
    /// a letter, then letters, digits or '_', ending in _CL.
    #[arg(long, default_value = "Keeper_CL")]
    pub from_table: String,
    /// Workspace (customer) id holding the classic table. Default: the deployment's workspace.
    #[arg(long)]
    pub from_workspace_id: Option<String>,
    /// Workspace (customer) id of the deployment's table. Default: from the state file.
    #[arg(long)]
    pub workspace_id: Option<String>,
    /// The deployment's table, to find where live streaming began. Default: from the state file.
    #[arg(long)]
    pub table: Option<String>,
    /// Import events from this time on (RFC 3339 or YYYY-MM-DD, UTC). Default: the classic table's first event.
    #[arg(long)]
    pub since: Option<String>,
    /// Import events before this time. Default: the first event already in the deployment's table (where
    /// Keeper's live streaming began), so nothing arrives twice; now when that table is empty.
    #[arg(long)]
    pub until: Option<String>,
    /// Forget the progress of an earlier import of this table and start again.
    #[arg(long)]
    pub restart: bool,
    /// The value of the enterprise_id column (the classic rows do not carry it).
    #[arg(long, env = "KEEPER_AZMON_ENTERPRISE_ID")]
    pub enterprise_id: Option<i64>,
    /// Keeper's category of every event type, from Commander's
    /// `audit-report --report-type dim --columns audit_event_type --format json --output FILE`.
    #[arg(long)]
    pub event_types: Option<PathBuf>,
    /// Ingestion requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Print the range an import would cover and how many classic rows are in it (read-only queries as the app);
    /// send nothing, save nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Most rows one query may read (the query API answers at most 500,000 rows and ~64 MB).
    #[arg(long, default_value_t = 25_000, hide = true)]
    pub slice_rows: u64,
}

/// Defaults of `setup`: the guide's names.
pub mod defaults {
    pub const WORKSPACE: &str = "KeeperLogsWorkspace";
    pub const APP_NAME: &str = "KeeperLogging";
    pub const SECRET_DESCRIPTION: &str = crate::steps::secret::DEFAULT_DESCRIPTION;
    pub const SECRET_EXPIRY_DAYS: i64 = 180;
    pub const TABLE: &str = "KeeperLogs";
    pub const DCE_NAME: &str = "KeeperLogsEndpoint";
    pub const DCR_NAME: &str = "KeeperDCR";
}
