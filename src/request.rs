//! One `SetupRequest`: everything `setup` is asked to do, gathered once (the flags and their environment
//! variables, then, on a person's terminal, the wizard for what they left out) and validated once, before
//! anything is written.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{Auth, AuthMode};
use crate::cli::{defaults, KeeperArgs, SetupArgs};
use crate::cloud::{self, CloudProfile};
use crate::error::{Error, Result};
use crate::names::{
    self, AppDisplayName, DceName, DcrName, DeploymentName, Guid, ResourceGroupName, TableName,
    WorkspaceName,
};
use crate::printer::Format;
use crate::rest::{self, Rest};
use crate::steps::monitor::{DEFAULT_SILENCE_HOURS, SILENCE_HOURS};
use crate::steps::retention::{self, Retention};
use crate::steps::{AlertInputs, Inputs, RoleSet, SentinelInputs, WorkspaceChoice};
use crate::wizard;

/// The workspace asked for: one to create (or adopt) by name, or an existing one to reuse by its resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workspace {
    Name(WorkspaceName),
    /// A resource id, checked: its shape, its subscription (the request's) and the names in it.
    Existing(String),
}

/// How the run goes, besides what it sets up.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub output: Format,
    /// `--state`.
    pub state: PathBuf,
    pub auth: AuthMode,
    /// A person answers prompts: human output on a terminal, and not a dry run.
    pub ask: bool,
    pub dry_run: bool,
    pub yes: bool,
    pub show_secret: bool,
    pub secret_file: Option<PathBuf>,
    /// The Keeper record or folder for the Admin Console values (the wizard may still fill it, once the state
    /// file says whether it names one).
    pub keeper: KeeperArgs,
    pub sequential: bool,
    pub replication_wait: Duration,
}

impl RunOptions {
    pub fn human(&self) -> bool {
        self.output == Format::Human
    }
}

/// Every input of `setup`, validated: names keep the type their rule gave them.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    /// `--cloud` as given (a built-in name or a profile file's path), else the resolved profile's name.
    pub cloud: String,
    pub tenant: Option<Guid>,
    pub subscription: Guid,
    pub resource_group: ResourceGroupName,
    pub create_resource_group: bool,
    /// Lowercase, as ARM names locations.
    pub location: String,
    pub workspace: Workspace,
    pub app_name: AppDisplayName,
    pub secret_description: String,
    pub secret_days: u32,
    pub table: TableName,
    pub dce_name: DceName,
    pub dcr_name: DcrName,
    pub roles: RoleSet,
    pub deployment: DeploymentName,
    pub sentinel: Option<SentinelInputs>,
    pub retention: Option<Retention>,
    pub adopt_app: Option<Guid>,
    pub alerts: Option<AlertInputs>,
    pub run: RunOptions,
}

impl SetupRequest {
    /// Gathers the request and the operator's connection to Azure (`auth` overrides the operator credential: the
    /// demo passes the simulator's). On a person's terminal the wizard asks, through that connection, for what
    /// the flags left out; without one, missing or bad input is refused before any request is sent.
    pub async fn gather(mut args: SetupArgs, auth: Option<Auth>) -> Result<(SetupRequest, Rest)> {
        let ask = args.common.output == Format::Human && !args.dry_run && wizard::interactive();
        if ask && args.common.cloud.is_none() {
            args.common.cloud = Some(wizard::ask_cloud()?);
        }
        if !ask {
            refuse_missing(&args)?;
        }
        let profile = cloud::resolve(
            args.common.cloud.as_deref(),
            args.common.auth == AuthMode::Cli,
            wizard::cloud_chooser(),
        )?;
        let cloud = args
            .common
            .cloud
            .clone()
            .unwrap_or_else(|| profile.name.clone());
        let by_name = args
            .subscription
            .clone()
            .filter(|s| names::guid("--subscription", s).is_err());
        if let (false, Some(name)) = (ask, &by_name) {
            // What needs no sign-in is checked first, the subscription's id standing in until it is looked up.
            let mut probe = args.clone();
            probe.subscription = Some(stand_in_subscription(&args));
            Self::validate(probe, cloud.clone(), ask)?;
            let tenant = args.common.tenant.clone();
            let rest = connect(profile, args.common.auth, tenant.as_deref(), auth)?;
            args.subscription = Some(subscription_id(&rest, name).await?);
            return Ok((Self::validate(args, cloud, ask)?, rest));
        }
        if !ask {
            let request = Self::validate(args, cloud, ask)?;
            let tenant = request.tenant.as_ref().map(Guid::as_str);
            let rest = connect(profile, request.run.auth, tenant, auth)?;
            return Ok((request, rest));
        }
        let rest = connect(
            profile,
            args.common.auth,
            args.common.tenant.as_deref(),
            auth,
        )?;
        rest.auth
            .token(&rest.profile.resource_manager_audience)
            .await?;
        crate::printer::note(format_args!(
            "Signed in to {} as {}",
            rest.profile.name, rest.auth.description
        ));
        if let Some(name) = &by_name {
            args.subscription = Some(subscription_id(&rest, name).await?);
        }
        wizard::fill(&mut args, &rest).await?;
        Ok((Self::validate(args, cloud, ask)?, rest))
    }

    /// Checks every input that can be checked without Azure, and fills the defaults.
    fn validate(args: SetupArgs, cloud: String, ask: bool) -> Result<SetupRequest> {
        let subscription = args
            .subscription
            .as_deref()
            .ok_or_else(|| missing_one("--subscription", "KEEPER_AZMON_SUBSCRIPTION"))?;
        let subscription = Guid::parse("--subscription", subscription)?;
        let tenant = match &args.common.tenant {
            Some(t) => Some(Guid::parse("--tenant", t)?),
            None => None,
        };
        let resource_group = args
            .resource_group
            .as_deref()
            .ok_or_else(|| missing_one("--resource-group", "KEEPER_AZMON_RESOURCE_GROUP"))?;
        let resource_group = ResourceGroupName::parse(resource_group)?;
        let location = args
            .location
            .as_deref()
            .ok_or_else(|| missing_one("--location", "KEEPER_AZMON_LOCATION"))?;
        // A display name (`East US`) is a common slip: refused before sign-in, with ARM's name for it.
        if let Some(canonical) = names::canonical_location(location) {
            return Err(Error::input(
                format!("--location '{location}' is not a location name as ARM writes them"),
                format!("did you mean --location {canonical}? (`az account list-locations -o table` lists the Name column)"),
            ));
        }
        let location = location.to_ascii_lowercase();
        let ws_arg = args.workspace.as_deref().unwrap_or(defaults::WORKSPACE);
        let app_name = args.app_name.as_deref().unwrap_or(defaults::APP_NAME);
        let secret_description = args
            .secret_description
            .clone()
            .unwrap_or_else(|| defaults::SECRET_DESCRIPTION.into());
        let secret_days = args
            .secret_expiry_days
            .unwrap_or(defaults::SECRET_EXPIRY_DAYS);
        let table = args.table.as_deref().unwrap_or(defaults::TABLE);
        let dce_name = args.dce_name.as_deref().unwrap_or(defaults::DCE_NAME);
        let dcr_name = args.dcr_name.as_deref().unwrap_or(defaults::DCR_NAME);
        let workspace = if names::is_resource_id(ws_arg) {
            let id = names::workspace_resource_id("--workspace", ws_arg)?;
            if !id.subscription.eq_ignore_ascii_case(subscription.as_str()) {
                return Err(Error::input(
                    format!(
                        "--workspace is in subscription {}, not in --subscription {subscription}",
                        id.subscription
                    ),
                    "reuse a workspace of the same subscription, or pass a name to create one",
                ));
            }
            id.check_names("--workspace")?;
            Workspace::Existing(ws_arg.to_string())
        } else {
            Workspace::Name(WorkspaceName::parse(ws_arg)?)
        };
        let app_name = AppDisplayName::parse(app_name)?;
        let table = TableName::parse(table)?;
        let dce_name = DceName::parse(dce_name)?;
        let dcr_name = DcrName::parse(dcr_name)?;
        if !(1..=730).contains(&secret_days) {
            return Err(Error::input(
                format!("--secret-expiry-days {secret_days} is out of range"),
                "choose 1 to 730 days (Microsoft recommends less than 12 months)",
            ));
        }
        if secret_description.trim().is_empty() || secret_description.len() > 100 {
            return Err(Error::input(
                "--secret-description must be 1-100 characters",
                "choose a short description",
            ));
        }
        let deployment = DeploymentName::parse(
            args.deployment
                .as_deref()
                .unwrap_or(resource_group.as_str()),
        )?;
        let sentinel =
            match (args.sentinel, args.sentinel_rules) {
                (Some(true), rules) => Some(SentinelInputs { rules }),
                (_, Some(_)) => return Err(Error::input(
                    "--sentinel-rules needs --sentinel",
                    "add --sentinel (or set KEEPER_AZMON_SENTINEL=true), or drop --sentinel-rules",
                )),
                _ => None,
            };
        let retention = retention::from_args(
            args.retention_days,
            args.total_retention_days,
            args.retention,
        )?;
        let alerts = alert_inputs(&args.alert_email, args.alert_silence_hours)?;
        let adopt_app = match &args.adopt_app {
            Some(a) => Some(Guid::parse("--adopt-app", a)?),
            None => None,
        };
        Ok(SetupRequest {
            cloud,
            tenant,
            subscription,
            resource_group,
            create_resource_group: args.create_resource_group,
            location,
            workspace,
            app_name,
            secret_description,
            secret_days: secret_days as u32,
            table,
            dce_name,
            dcr_name,
            roles: args.roles.unwrap_or(RoleSet::Guide),
            deployment,
            sentinel,
            retention,
            adopt_app,
            alerts,
            run: RunOptions {
                output: args.common.output,
                state: args.common.state,
                auth: args.common.auth,
                ask,
                dry_run: args.dry_run,
                yes: args.yes,
                show_secret: args.show_secret,
                secret_file: args.secret_out.resolve(),
                keeper: args.keeper,
                sequential: args.sequential,
                replication_wait: Duration::from_secs(args.replication_wait),
            },
        })
    }

    /// The inputs the steps plan and run with: the request's names as the strings ARM takes. The tenant is the
    /// flag's until preflight finds the one the subscription is in; the Keeper record is set once it is known.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            cloud: self.cloud.clone(),
            tenant_id: self
                .tenant
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            subscription: self.subscription.to_string(),
            resource_group: self.resource_group.as_str().to_owned(),
            create_resource_group: self.create_resource_group,
            location: self.location.clone(),
            workspace: match &self.workspace {
                Workspace::Name(n) => WorkspaceChoice::Name(n.as_str().to_owned()),
                Workspace::Existing(id) => WorkspaceChoice::Existing(id.clone()),
            },
            app_name: self.app_name.as_str().to_owned(),
            secret_description: self.secret_description.clone(),
            secret_days: self.secret_days,
            table: self.table.as_str().to_owned(),
            dce_name: self.dce_name.as_str().to_owned(),
            dcr_name: self.dcr_name.as_str().to_owned(),
            roles: self.roles,
            deployment: self.deployment.as_str().to_owned(),
            sentinel: self.sentinel,
            retention: self.retention,
            adopt_app: self.adopt_app.as_ref().map(ToString::to_string),
            keeper_record: None,
            alerts: self.alerts.clone(),
        }
    }
}

/// `--alert-email` (each address checked, duplicates dropped) and `--alert-silence-hours` (1-48, only with an
/// address: it is the window of the alert the addresses get).
fn alert_inputs(emails: &[String], silence: Option<i64>) -> Result<Option<AlertInputs>> {
    let mut checked: Vec<String> = Vec::new();
    for e in emails.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        names::email("--alert-email", e)?;
        if !checked.iter().any(|c| c.eq_ignore_ascii_case(e)) {
            checked.push(e.to_string());
        }
    }
    if checked.is_empty() {
        return match silence {
            Some(_) => Err(Error::input(
                "--alert-silence-hours needs --alert-email",
                "add --alert-email ADDR (or set KEEPER_AZMON_ALERT_EMAIL), or drop --alert-silence-hours",
            )),
            None => Ok(None),
        };
    }
    let hours = silence.unwrap_or(DEFAULT_SILENCE_HOURS as i64);
    if !SILENCE_HOURS.contains(&u32::try_from(hours).unwrap_or(0)) {
        return Err(Error::input(
            format!("--alert-silence-hours {hours} is out of range"),
            "choose 1 to 48 hours: a log alert's query scans at most two days",
        ));
    }
    Ok(Some(AlertInputs {
        emails: checked,
        silence_hours: hours as u32,
    }))
}

/// The operator's REST client for `profile`: signed in with `auth` when given, else as `mode` says.
fn connect(
    profile: CloudProfile,
    mode: AuthMode,
    tenant: Option<&str>,
    auth: Option<Auth>,
) -> Result<Rest> {
    let http = rest::http_client(&profile)?;
    let auth = match auth {
        Some(a) => a,
        None => Auth::operator(mode, tenant, &profile, &http)?,
    };
    Ok(Rest::new(http, Arc::new(auth), Arc::new(profile)))
}

/// A subscription id for checking the other inputs before a `--subscription` name is looked up: the reused
/// workspace's, when `--workspace` is a resource id (it must be the subscription's), else any GUID.
fn stand_in_subscription(args: &SetupArgs) -> String {
    args.workspace
        .as_deref()
        .filter(|w| names::is_resource_id(w))
        .and_then(|w| names::workspace_resource_id("--workspace", w).ok())
        .map(|id| id.subscription.to_string())
        .unwrap_or_else(|| uuid::Uuid::nil().to_string())
}

/// The id of the subscription `--subscription` names, said once on stderr.
async fn subscription_id(rest: &Rest, name: &str) -> Result<String> {
    let id = crate::azure::providers::subscription_by_name(rest, name).await?;
    crate::printer::note(format_args!("--subscription '{name}' is {id}"));
    Ok(id)
}

fn missing_one(flag: &str, env: &str) -> Error {
    Error::input(
        format!("{flag} is required"),
        format!("pass {flag} or set {env}"),
    )
}

/// Every required input that neither a flag nor its environment variable gave (nor, for the cloud, a signed-in
/// Azure CLI), named in one refusal: without a person to ask, one run says all that is missing, not one a run.
fn refuse_missing(args: &SetupArgs) -> Result<()> {
    let mut missing: Vec<(&str, &str)> = Vec::new();
    if args.common.cloud.is_none() && !cloud::az_cli_signed_in() {
        missing.push(("--cloud", "KEEPER_AZMON_CLOUD"));
    }
    if args.subscription.is_none() {
        missing.push(("--subscription", "KEEPER_AZMON_SUBSCRIPTION"));
    }
    if args.resource_group.is_none() {
        missing.push(("--resource-group", "KEEPER_AZMON_RESOURCE_GROUP"));
    }
    if args.location.is_none() {
        missing.push(("--location", "KEEPER_AZMON_LOCATION"));
    }
    match missing.as_slice() {
        // The cloud alone: cloud::resolve says why and which names it takes.
        [] | [("--cloud", _)] => Ok(()),
        [(flag, env)] => Err(missing_one(flag, env)),
        many => Err(Error::input(
            format!(
                "{} inputs are required and were not given: {}",
                many.len(),
                many.iter()
                    .map(|(f, _)| format!("{f} is required"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "pass {} (or set {})",
                many.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(" "),
                many.iter().map(|(_, e)| *e).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}
