//! The guide's steps, one module each: what exists, what to do (create / reuse / update), and doing it.
//!
//! | guide step | what it makes | module |
//! |---|---|---|
//! | before 1 | checks before any write; the resource group (`--create-resource-group`) | [`preflight`], [`resource_group`] |
//! | 1 | app registration `KeeperLogging`, its Application ID URI and service principal | [`app`] |
//! | 2 | the client secret (made last, so its value is shown the moment it exists) | [`secret`] |
//! | 2 (`--keeper-record`) | the secret and the Admin Console values into a Keeper record | [`keeper`], [`crate::vault`] |
//! | 3 | the Log Analytics workspace (or reuse of one) | [`workspace`] |
//! | 4 | Log Analytics Contributor on the workspace | [`roles`] |
//! | 5 | the data collection endpoint | [`dce`] |
//! | 6 | the custom table `KeeperLogs_CL`, then the data collection rule | [`table`], [`dcr`] |
//! | 7 | Monitoring Metrics Publisher, Contributor, Reader on the DCR | [`roles`] |
//! | 8 | Monitoring Metrics Publisher, Contributor on the DCE | [`roles`] |
//! | after 8 (`--sentinel`) | Sentinel onboarding, the KQL function `KeeperSecurityEvents`, analytics rules, the workbook | [`sentinel`] |
//! | day two | the DCR's diagnostic setting (`LogErrors`); with `--alert-email` an action group and two log alerts | [`monitor`] |
//! | with 6 (`--retention*`) | the table's interactive and total retention | [`table`], [`retention`] |
//!
//! Each step module has a `plan` (from what [`observe`] read, the action and resource to show) and an `ensure`
//! (do it, record it in the state). [`crate::run`] runs the ensures as a dependency graph.

pub mod app;
pub mod dce;
pub mod dcr;
pub mod inputs;
pub mod keeper;
pub mod key;
pub mod kind;
pub mod monitor;
pub mod preflight;
pub mod registry;
pub mod resource_group;
pub mod retention;
pub mod roles;
pub mod secret;
pub mod sentinel;
pub mod service_principal;
pub mod table;
pub mod workspace;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::azure::dce::Dce;
use crate::azure::dcr::Dcr;
use crate::azure::graph::ServicePrincipal;
use crate::azure::providers::ResourceGroup;
use crate::azure::roles::Role;
use crate::azure::workspace::{DeletedWorkspace, Table, Workspace};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{Resource, State, StateFile};

pub use inputs::{AlertInputs, Inputs, RoleSet, Scope, SentinelInputs, WorkspaceChoice};
pub use key::Key;

/// What one step will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Reuse,
    Update,
    /// A create that brings back a soft-deleted workspace, with its data.
    Recover,
}

impl Action {
    /// Create when nothing was found, else reuse.
    pub fn create_or_reuse(found: bool) -> Action {
        if found {
            Action::Reuse
        } else {
            Action::Create
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Create => "create",
            Action::Reuse => "reuse",
            Action::Update => "update",
            Action::Recover => "recover",
        })
    }
}

/// A step of the plan, as shown by `--dry-run` and the review screen.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    #[serde(skip)]
    pub key: Key,
    /// The key's text.
    pub step: String,
    pub action: Action,
    pub resource: String,
    /// What a person should know about the action (a recovery: when the workspace was deleted, and that its
    /// data comes back); shown after the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A recovery: when Azure says the workspace was deleted (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_on: Option<String>,
    /// An update: what it changes, field by field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delta: Vec<Change>,
}

/// One field an update changes: its value now and the value it will have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub old: String,
    pub new: String,
}

impl Change {
    pub fn new(field: &str, old: impl std::fmt::Display, new: impl std::fmt::Display) -> Change {
        Change {
            field: field.to_string(),
            old: old.to_string(),
            new: new.to_string(),
        }
    }
}

impl PlannedStep {
    pub fn new(key: Key, action: Action, resource: String) -> PlannedStep {
        PlannedStep {
            step: key.to_string(),
            key,
            action,
            resource,
            detail: None,
            deleted_on: None,
            delta: vec![],
        }
    }
}

/// What exists now, read once by [`observe`] and used both to show the plan and to run it.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub resource_group: Option<ResourceGroup>,
    pub app: Option<app::FoundApp>,
    pub sp: Option<ServicePrincipal>,
    pub workspace: Option<Workspace>,
    /// A soft-deleted workspace of the name setup would create (none when one of that name exists, or when the
    /// workspace is reused by id).
    pub deleted_workspace: Option<DeletedWorkspace>,
    pub table: Option<Table>,
    pub dce: Option<Dce>,
    pub dcr: Option<Dcr>,
    /// Existing assignment ids by (scope, role); absent key = not found.
    pub roles: HashMap<(Scope, Role), String>,
    /// With `--sentinel`: what exists of the Sentinel content.
    pub sentinel: Option<sentinel::SentinelObserved>,
    /// The DCR's diagnostic setting, and with `--alert-email` the action group and the log alerts.
    pub monitor: monitor::MonitorObserved,
}

/// The plan: observed state and one step per resource.
#[derive(Debug, Clone)]
pub struct Plan {
    pub observed: Observed,
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    pub fn action(&self, key: &Key) -> Option<Action> {
        self.steps.iter().find(|s| s.key == *key).map(|s| s.action)
    }
    /// True when running the plan would change nothing.
    pub fn is_noop(&self) -> bool {
        self.steps.iter().all(|s| s.action == Action::Reuse)
    }
}

/// Reads everything the plan depends on, concurrently: on a re-run the whole look takes one round trip.
pub async fn observe(rest: &Rest, inputs: &Inputs, state: &State) -> Result<Observed> {
    // The service principal the state names, and its role assignments, are read alongside everything else.
    let state_sp = state
        .resources
        .get(&Key::ServicePrincipal.to_string())
        .map(|r| r.id.clone());
    let (
        rg,
        app,
        (ws, deleted_ws),
        table,
        dce,
        dcr,
        (sp_by_state, roles_by_state),
        sentinel,
        monitor,
    ) = tokio::try_join!(
        resource_group::observe(rest, inputs),
        app::find_app(rest, inputs, state),
        workspace::observe(rest, inputs),
        table::observe(rest, inputs),
        dce::observe(rest, inputs),
        dcr::observe(rest, inputs),
        app::observe_state_sp(rest, inputs, state_sp.as_deref(), &state.updated_at),
        sentinel::observe(rest, inputs),
        monitor::observe(rest, inputs),
    )?;
    let sp = app::observe_sp(rest, app.as_ref().map(|f| &f.app), sp_by_state).await?;
    let roles = match &sp {
        Some(sp) => {
            let by_state = roles_by_state.filter(|_| state_sp.as_deref() == Some(sp.id.as_str()));
            roles::observe(rest, inputs, &sp.id, by_state).await?
        }
        None => HashMap::new(),
    };
    Ok(Observed {
        resource_group: rg,
        app,
        sp,
        workspace: ws,
        deleted_workspace: deleted_ws,
        table,
        dce,
        dcr,
        roles,
        sentinel,
        monitor,
    })
}

/// How a run tells the user what happens; the human and JSON outputs implement it.
pub trait Reporter: Send + Sync {
    fn started(&self, step: &str);
    fn waiting(&self, step: &str, why: &str);
    fn finished(&self, step: &str, action: Action, resource: &str, took: Duration);
    fn failed(&self, step: &str, error: &Error);
}

/// Everything the steps share while they run.
pub struct Ctx {
    pub rest: Rest,
    pub inputs: Inputs,
    pub state: Mutex<StateFile>,
    pub reporter: std::sync::Arc<dyn Reporter>,
    /// How long role assignments wait for a new service principal to replicate.
    pub replication_wait: Duration,
    /// With `--sequential`, one permit: the steps run one after another.
    pub gate: Option<tokio::sync::Semaphore>,
    /// Set by Ctrl-C: steps not yet started do not start; the ones in flight finish and are recorded.
    pub cancelled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// What finished steps hand on to the ones that need it.
    pub made: key::Made,
}

impl Ctx {
    /// Changes the state and saves it at once.
    pub fn record(&self, f: impl FnOnce(&mut State)) -> Result<()> {
        let mut s = self.lock_state()?;
        f(&mut s.state);
        s.save()
    }

    /// A copy of the state as it is now.
    pub fn state_now(&self) -> Result<State> {
        Ok(self.lock_state()?.state.clone())
    }

    fn lock_state(&self) -> Result<std::sync::MutexGuard<'_, StateFile>> {
        self.state
            .lock()
            .map_err(|_| Error::Other("state lock poisoned".into()))
    }

    pub fn record_resource(&self, key: &Key, id: &str, name: &str, created: bool) -> Result<()> {
        let kind = key.to_string();
        self.record(|s| {
            // Once created by us, always ours: a re-run that finds it must not forget that.
            let created = created
                || s.resources
                    .get(&kind)
                    .is_some_and(|r| r.created && r.id.eq_ignore_ascii_case(id));
            s.resources.insert(
                kind,
                Resource {
                    id: id.to_string(),
                    name: name.to_string(),
                    created,
                },
            );
        })
    }

    pub fn was_created(&self, key: &Key) -> bool {
        self.state
            .lock()
            .map(|s| s.resource(&key.to_string()).is_some_and(|r| r.created))
            .unwrap_or(false)
    }
}
