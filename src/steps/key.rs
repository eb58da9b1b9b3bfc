//! The typed names of a deployment's parts: each kind, each instance's key (its stable text keys the state file and
//! names the step in every output), an ARM type with its api-version, and what finished steps hand on.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::azure::roles::Role;
use crate::error::{Error, Result};

use super::inputs::Scope;

/// The kinds, as the registry lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KindId {
    KeeperRecord,
    ResourceGroup,
    Application,
    ServicePrincipal,
    Workspace,
    Table,
    Dce,
    Dcr,
    Role,
    SentinelOnboarding,
    SentinelFunction,
    SentinelRule,
    SentinelWorkbook,
    AsimParser,
    AsimUnifying,
    HuntingQuery,
    DiagnosticSetting,
    ActionGroup,
    LogAlert,
    Secret,
}

/// One of the log alerts of `--alert-email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertRule {
    /// No event from Keeper within `--alert-silence-hours`.
    EventsStopped,
    /// Rows in `DCRLogErrors` for the deployment's DCR.
    PostsRefused,
}

impl AlertRule {
    pub const ALL: [AlertRule; 2] = [AlertRule::EventsStopped, AlertRule::PostsRefused];

    /// Its part of the key's text and of its resource name.
    pub fn key(self) -> &'static str {
        match self {
            AlertRule::EventsStopped => "events-stopped",
            AlertRule::PostsRefused => "posts-refused",
        }
    }

    pub fn from_key(key: &str) -> Option<AlertRule> {
        AlertRule::ALL.into_iter().find(|a| a.key() == key)
    }
}

/// One thing of a deployment, typed. Its text (`dcr`, `role:dcr:Monitoring Metrics Publisher`,
/// `sentinel_rule:<template>`) is stable: it keys the state file and names the step in the output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// The Keeper record that holds the Admin Console values (not an Azure resource; issue 14).
    KeeperRecord,
    ResourceGroup,
    Application,
    ServicePrincipal,
    Workspace,
    Table,
    Dce,
    Dcr,
    Role(Scope, Role),
    SentinelOnboarding,
    SentinelFunction,
    /// One analytics rule, by its template id.
    SentinelRule(String),
    SentinelWorkbook,
    /// `--sentinel`: one ASIM parser function, by its alias.
    AsimParser(String),
    /// `--sentinel`: Keeper's line in one custom unifying parser, by the parser's alias.
    AsimUnifying(String),
    /// `--sentinel`: one hunting query, by its template id.
    HuntingQuery(String),
    /// The DCR's diagnostic setting: its `LogErrors` to the workspace.
    DiagnosticSetting,
    /// `--alert-email`: the action group that mails the addresses.
    ActionGroup,
    /// `--alert-email`: a log alert.
    LogAlert(AlertRule),
    Secret,
}

impl Key {
    pub fn kind(&self) -> KindId {
        match self {
            Key::KeeperRecord => KindId::KeeperRecord,
            Key::ResourceGroup => KindId::ResourceGroup,
            Key::Application => KindId::Application,
            Key::ServicePrincipal => KindId::ServicePrincipal,
            Key::Workspace => KindId::Workspace,
            Key::Table => KindId::Table,
            Key::Dce => KindId::Dce,
            Key::Dcr => KindId::Dcr,
            Key::Role(..) => KindId::Role,
            Key::SentinelOnboarding => KindId::SentinelOnboarding,
            Key::SentinelFunction => KindId::SentinelFunction,
            Key::SentinelRule(_) => KindId::SentinelRule,
            Key::SentinelWorkbook => KindId::SentinelWorkbook,
            Key::AsimParser(_) => KindId::AsimParser,
            Key::AsimUnifying(_) => KindId::AsimUnifying,
            Key::HuntingQuery(_) => KindId::HuntingQuery,
            Key::DiagnosticSetting => KindId::DiagnosticSetting,
            Key::ActionGroup => KindId::ActionGroup,
            Key::LogAlert(_) => KindId::LogAlert,
            Key::Secret => KindId::Secret,
        }
    }

    /// The key a state file's text names; None for a text this version does not know.
    pub fn parse(text: &str) -> Option<Key> {
        Some(match text {
            "keeper_record" => Key::KeeperRecord,
            "resource_group" => Key::ResourceGroup,
            "application" => Key::Application,
            "service_principal" => Key::ServicePrincipal,
            "workspace" => Key::Workspace,
            "table" => Key::Table,
            "dce" => Key::Dce,
            "dcr" => Key::Dcr,
            "sentinel_onboarding" => Key::SentinelOnboarding,
            "sentinel_function" => Key::SentinelFunction,
            "sentinel_workbook" => Key::SentinelWorkbook,
            "secret" => Key::Secret,
            "diagnostic_setting" => Key::DiagnosticSetting,
            "action_group" => Key::ActionGroup,
            t => {
                if let Some(alert) = t.strip_prefix("log_alert:") {
                    return AlertRule::from_key(alert).map(Key::LogAlert);
                }
                if let Some(a) = t.strip_prefix("asim_parser:") {
                    return Some(Key::AsimParser(a.to_string()));
                }
                if let Some(a) = t.strip_prefix("asim_unifying:") {
                    return Some(Key::AsimUnifying(a.to_string()));
                }
                if let Some(h) = t.strip_prefix("hunting_query:") {
                    return Some(Key::HuntingQuery(h.to_string()));
                }
                if let Some(rule) = t.strip_prefix("sentinel_rule:") {
                    return Some(Key::SentinelRule(rule.to_string()));
                }
                let rest = t.strip_prefix("role:")?;
                let (scope, role) = rest.split_once(':')?;
                let scope = Scope::from_key(scope)?;
                let role = Role::from_display_name(role)?;
                Key::Role(scope, role)
            }
        })
    }

    /// The key of a scope's resource (where a role is assigned).
    pub fn of_scope(scope: Scope) -> Key {
        match scope {
            Scope::Workspace => Key::Workspace,
            Scope::Dcr => Key::Dcr,
            Scope::Dce => Key::Dce,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::KeeperRecord => f.write_str("keeper_record"),
            Key::ResourceGroup => f.write_str("resource_group"),
            Key::Application => f.write_str("application"),
            Key::ServicePrincipal => f.write_str("service_principal"),
            Key::Workspace => f.write_str("workspace"),
            Key::Table => f.write_str("table"),
            Key::Dce => f.write_str("dce"),
            Key::Dcr => f.write_str("dcr"),
            Key::Role(scope, role) => write!(f, "role:{}:{}", scope.key(), role.display_name()),
            Key::SentinelOnboarding => f.write_str("sentinel_onboarding"),
            Key::SentinelFunction => f.write_str("sentinel_function"),
            Key::SentinelRule(t) => write!(f, "sentinel_rule:{t}"),
            Key::SentinelWorkbook => f.write_str("sentinel_workbook"),
            Key::AsimParser(a) => write!(f, "asim_parser:{a}"),
            Key::AsimUnifying(a) => write!(f, "asim_unifying:{a}"),
            Key::HuntingQuery(h) => write!(f, "hunting_query:{h}"),
            Key::DiagnosticSetting => f.write_str("diagnostic_setting"),
            Key::ActionGroup => f.write_str("action_group"),
            Key::LogAlert(a) => write!(f, "log_alert:{}", a.key()),
            Key::Secret => f.write_str("secret"),
        }
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An ARM resource type and the api-version the tool speaks to it: the permissions a write or a deletion needs
/// are `{ty}/write` and `{ty}/delete` ("Azure resource provider operations",
/// https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arm {
    pub ty: &'static str,
    pub api_version: &'static str,
}

impl Arm {
    /// The action `verb` (`write`, `delete`) on this type.
    pub fn action(&self, verb: &str) -> String {
        format!("{}/{verb}", self.ty)
    }
}

/// What a run's finished steps hand to the ones after them (the app to its service principal, the DCE and the
/// DCR to the outputs), by type.
#[derive(Default)]
pub struct Made(Mutex<HashMap<std::any::TypeId, Arc<dyn Any + Send + Sync>>>);

impl Made {
    pub fn put<T: Any + Send + Sync>(&self, v: T) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(std::any::TypeId::of::<T>(), Arc::new(v));
        }
    }

    /// Takes what a finished step made, for the one that uses it up (the new secret, whose value is not copied).
    pub fn take<T: Any + Send + Sync>(&self) -> Option<T> {
        let a = self.0.lock().ok()?.remove(&std::any::TypeId::of::<T>())?;
        Arc::try_unwrap(a.downcast::<T>().ok()?).ok()
    }

    /// What a finished step made; an error when it was not made (a step ran before what it depends on).
    pub fn get<T: Any + Send + Sync + Clone>(&self) -> Result<T> {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&std::any::TypeId::of::<T>()).cloned())
            .and_then(|a| a.downcast_ref::<T>().cloned())
            .ok_or_else(|| {
                Error::Other(format!(
                    "{} was needed before it was made",
                    std::any::type_name::<T>()
                ))
            })
    }
}

impl KindId {
    /// Every kind.
    pub const ALL: [KindId; 20] = [
        KindId::KeeperRecord,
        KindId::ResourceGroup,
        KindId::Application,
        KindId::ServicePrincipal,
        KindId::Workspace,
        KindId::Table,
        KindId::Dce,
        KindId::Dcr,
        KindId::Role,
        KindId::SentinelOnboarding,
        KindId::SentinelFunction,
        KindId::SentinelRule,
        KindId::SentinelWorkbook,
        KindId::AsimParser,
        KindId::AsimUnifying,
        KindId::HuntingQuery,
        KindId::DiagnosticSetting,
        KindId::ActionGroup,
        KindId::LogAlert,
        KindId::Secret,
    ];
}
