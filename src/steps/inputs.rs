//! What a deployment asks for: every input of `setup`, validated, and the resource ids they name.

use serde::Serialize;
use serde_json::Value;

use crate::azure::roles::Role;
use crate::azure::{dce, dcr, providers, workspace};

/// The columns of the Keeper table (the guide's sample event), shared by the table and the DCR stream.
pub const TABLE_COLUMNS: &str = include_str!("../../templates/table-columns.json");

/// Where a role is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Workspace,
    Dcr,
    Dce,
}

impl Scope {
    pub fn key(self) -> &'static str {
        match self {
            Scope::Workspace => "workspace",
            Scope::Dcr => "dcr",
            Scope::Dce => "dce",
        }
    }

    /// The scope a [`Scope::key`] names.
    pub fn from_key(key: &str) -> Option<Scope> {
        [Scope::Workspace, Scope::Dcr, Scope::Dce]
            .into_iter()
            .find(|s| s.key() == key)
    }
}

/// `--sentinel-rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RulesState {
    /// The rules run at once.
    Enabled,
    /// The rules are installed switched off, for an analyst to review and enable.
    Disabled,
}

/// `--roles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleSet {
    /// The guide's six assignments (steps 4, 7 and 8).
    Guide,
    /// Monitoring Metrics Publisher on the DCR alone: all that ingestion needs.
    Minimal,
}

impl RoleSet {
    pub fn assignments(self) -> Vec<(Scope, Role)> {
        match self {
            RoleSet::Guide => vec![
                (Scope::Workspace, Role::LogAnalyticsContributor),
                (Scope::Dcr, Role::MonitoringMetricsPublisher),
                (Scope::Dcr, Role::MonitoringContributor),
                (Scope::Dcr, Role::MonitoringReader),
                (Scope::Dce, Role::MonitoringMetricsPublisher),
                (Scope::Dce, Role::MonitoringContributor),
            ],
            RoleSet::Minimal => vec![(Scope::Dcr, Role::MonitoringMetricsPublisher)],
        }
    }
}

/// The workspace: one to create (or adopt) by name, or an existing one to reuse by resource id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceChoice {
    Name(String),
    Existing(String),
}

/// `--sentinel` and what goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentinelInputs {
    /// `--sentinel-rules`; without it new rules are enabled and existing ones keep their state.
    pub rules: Option<RulesState>,
}

/// `--alert-email` and what goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertInputs {
    /// The addresses the action group mails, each checked.
    pub emails: Vec<String>,
    /// `--alert-silence-hours` (1-48): how long without an event from Keeper before "Keeper events stopped".
    pub silence_hours: u32,
}

/// Every input of `setup`, validated.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub cloud: String,
    pub tenant_id: String,
    pub subscription: String,
    pub resource_group: String,
    pub create_resource_group: bool,
    pub location: String,
    pub workspace: WorkspaceChoice,
    pub app_name: String,
    pub secret_description: String,
    pub secret_days: u32,
    /// Full table name, with `_CL`.
    pub table: String,
    pub dce_name: String,
    pub dcr_name: String,
    pub roles: RoleSet,
    pub deployment: String,
    /// With `--sentinel`: onboard Sentinel and install the content of `templates/sentinel/`.
    pub sentinel: Option<SentinelInputs>,
    /// `--retention-days` / `--total-retention-days` / `--retention`, checked against Azure's allowed values.
    pub retention: Option<super::retention::Retention>,
    /// `--adopt-app`: the application (client) id of an existing app registration to use, knowingly, although
    /// the signed-in identity does not own it or no state file names it.
    pub adopt_app: Option<String>,
    /// `--keeper-record`: the UID of the Keeper record that receives the secret.
    pub keeper_record: Option<String>,
    /// With `--alert-email`: the action group and the two log alerts.
    pub alerts: Option<AlertInputs>,
}

impl Inputs {
    /// The tag of this deployment's app registration and service principal.
    pub fn app_tag(&self) -> String {
        crate::azure::graph::app_tag(&self.subscription, &self.deployment)
    }
    pub fn workspace_id(&self) -> String {
        match &self.workspace {
            WorkspaceChoice::Existing(id) => id.clone(),
            WorkspaceChoice::Name(n) => {
                workspace::workspace_id(&self.subscription, &self.resource_group, n)
            }
        }
    }
    pub fn reuses_workspace(&self) -> bool {
        matches!(self.workspace, WorkspaceChoice::Existing(_))
    }
    pub fn table_id(&self) -> String {
        workspace::table_id(&self.workspace_id(), &self.table)
    }
    pub fn dce_id(&self) -> String {
        dce::dce_id(&self.subscription, &self.resource_group, &self.dce_name)
    }
    pub fn dcr_id(&self) -> String {
        dcr::dcr_id(&self.subscription, &self.resource_group, &self.dcr_name)
    }
    pub fn rg_id(&self) -> String {
        providers::resource_group_id(&self.subscription, &self.resource_group)
    }
    pub fn scope_id(&self, s: Scope) -> String {
        match s {
            Scope::Workspace => self.workspace_id(),
            Scope::Dcr => self.dcr_id(),
            Scope::Dce => self.dce_id(),
        }
    }
    pub fn stream(&self) -> String {
        dcr::stream_name(&self.table)
    }
    pub fn columns(&self) -> Value {
        table_columns()
    }
}

/// The table template's columns as JSON (an array of `{name, type}`).
pub fn table_columns() -> Value {
    serde_json::from_str(TABLE_COLUMNS).unwrap_or(Value::Array(vec![]))
}
