//! The desired state of a deployment and its diff against what exists: create / reuse / update for every step.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::azure::graph::{self, Application, ServicePrincipal};
use crate::azure::roles::{self, Role};
use crate::azure::{dce, dcr, providers, workspace};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

/// The columns of the Keeper table (the guide's sample event), shared by the table and the DCR stream.
pub const TABLE_COLUMNS: &str = include_str!("../templates/table-columns.json");

/// Where a role is assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
}

impl Inputs {
    pub fn workspace_id(&self) -> String {
        match &self.workspace {
            WorkspaceChoice::Existing(id) => id.clone(),
            WorkspaceChoice::Name(n) => {
                workspace::workspace_id(&self.subscription, &self.resource_group, n)
            }
        }
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
        serde_json::from_str(TABLE_COLUMNS).unwrap_or(Value::Array(vec![]))
    }
}

/// What one step will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Reuse,
    Update,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Reuse => "reuse",
            Action::Update => "update",
        })
    }
}

/// A step of the plan, as shown by `--dry-run` and the review screen.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub step: String,
    pub action: Action,
    pub resource: String,
}

/// What exists now, read once by [`observe`] and used both to show the plan and to run it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub resource_group: Option<Value>,
    pub app: Option<Application>,
    pub sp: Option<ServicePrincipal>,
    pub workspace: Option<Value>,
    pub table: Option<Value>,
    pub dce: Option<Value>,
    pub dcr: Option<Value>,
    /// Existing assignment ids by (scope, role); absent key = not found.
    pub roles: HashMap<(Scope, Role), String>,
}

/// The plan: observed state and one step per resource.
#[derive(Debug, Clone)]
pub struct Plan {
    pub observed: Observed,
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    pub fn action(&self, step: &str) -> Option<Action> {
        self.steps.iter().find(|s| s.step == step).map(|s| s.action)
    }
    /// True when running the plan would change nothing.
    pub fn is_noop(&self) -> bool {
        self.steps.iter().all(|s| s.action == Action::Reuse)
    }
}

/// Step names (stable: they appear in JSON output and the state).
pub mod step {
    pub const RESOURCE_GROUP: &str = "resource_group";
    pub const APP: &str = "application";
    pub const SP: &str = "service_principal";
    pub const SECRET: &str = "secret";
    pub const WORKSPACE: &str = "workspace";
    pub const TABLE: &str = "table";
    pub const DCE: &str = "dce";
    pub const DCR: &str = "dcr";
}

/// The step name of a role assignment: `role:<scope>:<role guid>`.
pub fn role_step(scope: Scope, role: Role) -> String {
    format!("role:{}:{}", scope.key(), role.display_name())
}

/// Finds the app: by the id in the state, else by name and our tag.
pub async fn find_app(rest: &Rest, inputs: &Inputs, state: &State) -> Result<Option<Application>> {
    if let Some(r) = state.resources.get(step::APP) {
        if let Some(app) = graph::get_application(rest, &r.id).await? {
            return Ok(Some(app));
        }
    }
    let mut found =
        graph::find_tagged_applications(rest, &inputs.app_name, &inputs.deployment).await?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(Error::input(
            format!(
                "{n} app registrations named '{}' carry the tag of deployment '{}'",
                inputs.app_name, inputs.deployment
            ),
            "delete the extra ones in Entra ID > App registrations, or choose another --deployment",
        )),
    }
}

/// Reads everything the plan depends on, concurrently.
pub async fn observe(rest: &Rest, inputs: &Inputs, state: &State) -> Result<Observed> {
    let (ws_id, table_id, dce_id, dcr_id) = (
        inputs.workspace_id(),
        inputs.table_id(),
        inputs.dce_id(),
        inputs.dcr_id(),
    );
    // The service principal the state names is read alongside everything else: one round trip saved on a re-run.
    // The service principal the state names, and its role assignments, are read alongside everything else:
    // on a re-run the whole look takes one round trip.
    let state_sp = state.resources.get(step::SP).map(|r| r.id.clone());
    let sp_by_state = async {
        match &state_sp {
            Some(id) => graph::get_service_principal(rest, id).await,
            None => Ok(None),
        }
    };
    let roles_by_state = async {
        match &state_sp {
            Some(id) => roles::list_for_principal(rest, &inputs.subscription, id)
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    let (rg, app, ws, table, dce, dcr, sp_by_state, roles_by_state) = tokio::try_join!(
        providers::resource_group(rest, &inputs.subscription, &inputs.resource_group),
        find_app(rest, inputs, state),
        workspace::get(rest, &ws_id),
        workspace::get_table(rest, &table_id),
        dce::get(rest, &dce_id),
        dcr::get(rest, &dcr_id),
        sp_by_state,
        roles_by_state,
    )?;
    let sp = match (&app, sp_by_state) {
        (Some(_), Some(sp)) => Some(sp),
        (Some(a), None) => graph::find_service_principal(rest, &a.app_id).await?,
        (None, _) => None,
    };
    let mut roles = HashMap::new();
    if let Some(sp) = &sp {
        let assigned = match roles_by_state {
            Some(list) if state_sp.as_deref() == Some(sp.id.as_str()) => list,
            _ => roles::list_for_principal(rest, &inputs.subscription, &sp.id).await?,
        };
        for (s, r) in inputs.roles.assignments() {
            let scope = inputs.scope_id(s);
            let found = assigned.iter().find(|(_, at, def)| {
                at.eq_ignore_ascii_case(&scope) && def.to_ascii_lowercase().ends_with(r.guid())
            });
            if let Some((id, _, _)) = found {
                roles.insert((s, r), id.clone());
            }
        }
    }
    Ok(Observed {
        resource_group: rg,
        app,
        sp,
        workspace: ws,
        table,
        dce,
        dcr,
        roles,
    })
}

/// Whether the state's secret is still usable (recorded, delivered, and still on the app).
pub fn secret_is_current(state: &State, app: Option<&Application>) -> bool {
    match (&state.secret, app) {
        (Some(s), Some(app)) => {
            s.delivered
                && app
                    .password_credentials
                    .iter()
                    .any(|p| p.key_id == s.key_id)
        }
        _ => false,
    }
}

/// The diff of desired against observed.
pub fn diff(inputs: &Inputs, state: &State, observed: Observed) -> Plan {
    let mut steps = vec![];
    let mut push = |step: &str, action: Action, resource: String| {
        steps.push(PlannedStep {
            step: step.to_string(),
            action,
            resource,
        })
    };
    let create_or_reuse = |o: bool| if o { Action::Reuse } else { Action::Create };
    if inputs.create_resource_group {
        push(
            step::RESOURCE_GROUP,
            create_or_reuse(observed.resource_group.is_some()),
            inputs.rg_id(),
        );
    }
    let app_action = match &observed.app {
        None => Action::Create,
        Some(a)
            if !a
                .identifier_uris
                .contains(&graph::identifier_uri(&a.app_id)) =>
        {
            Action::Update
        }
        Some(_) => Action::Reuse,
    };
    push(
        step::APP,
        app_action,
        observed
            .app
            .as_ref()
            .map(|a| format!("{} (client id {})", a.display_name, a.app_id))
            .unwrap_or_else(|| inputs.app_name.clone()),
    );
    push(
        step::SP,
        create_or_reuse(observed.sp.is_some()),
        observed
            .sp
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_else(|| format!("for {}", inputs.app_name)),
    );
    push(
        step::WORKSPACE,
        create_or_reuse(observed.workspace.is_some()),
        inputs.workspace_id(),
    );
    let table_action = match &observed.table {
        None => Action::Create,
        Some(t)
            if workspace::table_columns(t) != workspace::columns_of(Some(&inputs.columns())) =>
        {
            Action::Update
        }
        Some(_) => Action::Reuse,
    };
    push(step::TABLE, table_action, inputs.table_id());
    push(
        step::DCE,
        create_or_reuse(observed.dce.is_some()),
        inputs.dce_id(),
    );
    let desired_dcr = desired_dcr_body(inputs);
    let dcr_action = match &observed.dcr {
        None => Action::Create,
        Some(d) if !dcr::matches(d, &desired_dcr) => Action::Update,
        Some(_) => Action::Reuse,
    };
    push(step::DCR, dcr_action, inputs.dcr_id());
    for (s, r) in inputs.roles.assignments() {
        let found = observed.roles.get(&(s, r));
        push(
            &role_step(s, r),
            create_or_reuse(found.is_some()),
            format!(
                "{} on {}",
                r.display_name(),
                crate::azure::name_of(&inputs.scope_id(s))
            ),
        );
    }
    let secret_ok = secret_is_current(state, observed.app.as_ref());
    push(
        step::SECRET,
        create_or_reuse(secret_ok),
        format!("'{}' on {}", inputs.secret_description, inputs.app_name),
    );
    Plan { observed, steps }
}

/// The DCR body this deployment wants.
pub fn desired_dcr_body(inputs: &Inputs) -> Value {
    dcr::body(
        &inputs.location,
        crate::azure::tags(&inputs.deployment),
        &inputs.dce_id(),
        &inputs.workspace_id(),
        &inputs.stream(),
        &inputs.columns(),
    )
}
