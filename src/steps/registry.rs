//! The registry of kinds, and what the drivers compute from it: the plan (every kind's wanted instances) and the
//! order of creation (teardown deletes in its reverse).

use super::kind::{Key, KindId, Resource};
use super::{Inputs, Observed, Plan};
use crate::state::State;

/// Every kind, in the order of the guide (the plan's order; ties in the dependency graph go by it).
pub static REGISTRY: &[&dyn Resource] = &[
    &super::resource_group::ResourceGroup,
    &super::app::App,
    &super::service_principal::ServicePrincipal,
    &super::workspace::LogWorkspace,
    &super::table::KeeperTable,
    &super::dce::Endpoint,
    &super::dcr::Rule,
    &super::roles::Assignments,
    &super::sentinel::onboarding::Onboarding,
    &super::sentinel::function::Function,
    &super::sentinel::rules::Rules,
    &super::sentinel::workbook::Workbook,
    &super::sentinel::parsers::Parsers,
    &super::sentinel::unifying::UnifyingParsers,
    &super::sentinel::hunting::HuntingQueries,
    &super::monitor::diagnostic::DiagnosticSetting,
    &super::monitor::action_group::ActionGroup,
    &super::monitor::alerts::LogAlerts,
    &super::secret::ClientSecret,
    &super::keeper::Record,
];

/// The diff of desired against observed: every kind's wanted instances, in the registry's (the guide's) order.
pub fn diff(inputs: &Inputs, state: &State, observed: Observed) -> Plan {
    let steps = REGISTRY
        .iter()
        .flat_map(|k| {
            k.wanted(inputs)
                .into_iter()
                .map(|key| k.plan(&key, inputs, state, &observed))
                .collect::<Vec<_>>()
        })
        .collect();
    Plan { observed, steps }
}

/// The kind of a key.
pub fn of(kind: KindId) -> &'static dyn Resource {
    REGISTRY
        .iter()
        .copied()
        .find(|r| r.kind() == kind)
        .unwrap_or(REGISTRY[0])
}

/// The registry's place of a kind (ties in the dependency graph go by it).
pub fn rank(kind: KindId) -> usize {
    REGISTRY
        .iter()
        .position(|r| r.kind() == kind)
        .unwrap_or(usize::MAX)
}

/// `keys` in an order where each comes after everything it depends on (ties by the registry's order, then by
/// key): the order of creation; teardown deletes in its reverse.
pub fn creation_order(keys: &[Key]) -> Vec<Key> {
    let mut left: Vec<Key> = keys.to_vec();
    left.sort_by_key(|k| (rank(k.kind()), k.clone()));
    let mut out = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|k| {
                let needs = of(k.kind()).depends_on(k);
                !left
                    .iter()
                    .any(|other| other != k && needs.contains(&other.kind()))
            })
            // A cycle would be a bug in some kind's depends_on; take them in the registry's order rather than
            // stop.
            .unwrap_or(0);
        out.push(left.remove(ready));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::roles::Role;
    use crate::steps::Scope;

    #[test]
    fn every_key_reads_back_from_its_text() {
        let keys = [
            Key::KeeperRecord,
            Key::ResourceGroup,
            Key::Application,
            Key::ServicePrincipal,
            Key::Workspace,
            Key::Table,
            Key::Dce,
            Key::Dcr,
            Key::Role(Scope::Dcr, Role::MonitoringMetricsPublisher),
            Key::Role(Scope::Workspace, Role::LogAnalyticsContributor),
            Key::SentinelOnboarding,
            Key::SentinelFunction,
            Key::SentinelRule("keeper-failed-login-burst".into()),
            Key::SentinelWorkbook,
            Key::AsimParser("vimAuthenticationKeeperEnterprise".into()),
            Key::AsimUnifying("Im_AuthenticationCustom".into()),
            Key::HuntingQuery("keeper-hunt-account-transfers".into()),
            Key::DiagnosticSetting,
            Key::ActionGroup,
            Key::LogAlert(crate::steps::key::AlertRule::EventsStopped),
            Key::LogAlert(crate::steps::key::AlertRule::PostsRefused),
            Key::Secret,
        ];
        for k in keys {
            assert_eq!(Key::parse(&k.to_string()), Some(k.clone()), "{k}");
        }
        assert_eq!(Key::parse("role:dcr:Owner"), None);
        assert_eq!(Key::parse("something_new"), None);
    }

    #[test]
    fn every_kind_is_in_the_registry_once() {
        let mut seen = std::collections::HashSet::new();
        for r in REGISTRY {
            assert!(seen.insert(r.kind()), "{:?} twice", r.kind());
        }
        assert_eq!(seen.len(), KindId::ALL.len());
    }

    #[test]
    fn creation_puts_dependencies_first_and_the_secret_last() {
        let keys = vec![
            Key::Secret,
            Key::SentinelRule("a".into()),
            Key::Dcr,
            Key::Role(Scope::Dcr, Role::MonitoringMetricsPublisher),
            Key::Table,
            Key::ServicePrincipal,
            Key::Workspace,
            Key::SentinelFunction,
            Key::Application,
            Key::Dce,
            Key::SentinelOnboarding,
            Key::ResourceGroup,
        ];
        let order = creation_order(&keys);
        let at = |k: &Key| order.iter().position(|o| o == k).unwrap();
        for k in &keys {
            for dep in of(k.kind()).depends_on(k) {
                for d in keys.iter().filter(|d| d.kind() == dep) {
                    assert!(at(d) < at(k), "{d} must come before {k}: {order:?}");
                }
            }
        }
        assert_eq!(order.last(), Some(&Key::Secret));
        assert_eq!(order.first(), Some(&Key::ResourceGroup));
    }
}
