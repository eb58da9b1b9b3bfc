//! Before any write (resource-provider registration included): what Azure must say about the subscription, the
//! tenant, the location, the providers, the operator's right to assign roles and a reused workspace; and before
//! teardown's first deletion, the operator's right to delete what it would delete.

use std::time::Duration;

use crate::azure::{name_of, permissions, providers};
use crate::error::{Error, Result};
use crate::rest::Rest;

use super::kind::KindId;
use super::{Action, Inputs, Key, Observed, Plan, WorkspaceChoice};

/// What the preflight reads found: the tenant, notes for the plan, and the providers to register.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub tenant: String,
    pub notes: Vec<String>,
    unregistered: Vec<&'static str>,
    /// What the operator may do (the permissions API) at the resource group, or at the subscription while the
    /// group is yet to be made, and which of the two that is; `None` when Azure could not say.
    held: Option<(String, Vec<permissions::Permission>)>,
}

/// Checks what Azure must say before any write: subscription, tenant, location, providers. Reads only.
pub async fn check(rest: &Rest, inputs: &Inputs) -> Result<Preflight> {
    // Every read at once; their answers are judged in the order a person would, subscription first.
    let mut required: Vec<&'static str> = providers::REQUIRED.to_vec();
    if inputs.sentinel.is_some() {
        required.push(providers::SENTINEL);
    }
    let (sub, locations, states, held) = tokio::join!(
        providers::subscription(rest, &inputs.subscription),
        providers::location_names(rest, &inputs.subscription),
        futures::future::join_all(required.iter().map(|ns| providers::registration_state(
            rest,
            &inputs.subscription,
            ns
        ))),
        held(rest, inputs),
    );
    let sub = sub?.ok_or_else(|| {
        Error::input(
            format!(
                "subscription {} was not found, or the signed-in identity cannot see it",
                inputs.subscription
            ),
            "check --subscription; `az account list -o table` lists the ones you can use",
        )
    })?;
    let sub_tenant = sub.tenant_id.unwrap_or_default();
    let tenant = if inputs.tenant_id.is_empty() {
        sub_tenant
    } else if !sub_tenant.is_empty() && !sub_tenant.eq_ignore_ascii_case(&inputs.tenant_id) {
        return Err(Error::input(
            format!(
                "subscription {} belongs to tenant {sub_tenant}, not --tenant {}",
                inputs.subscription, inputs.tenant_id
            ),
            "drop --tenant or pass the subscription's tenant",
        ));
    } else {
        inputs.tenant_id.clone()
    };
    if tenant.is_empty() {
        return Err(Error::input("the tenant id is unknown", "pass --tenant"));
    }
    let locations = locations?;
    if !locations
        .iter()
        .any(|l| l.eq_ignore_ascii_case(&inputs.location))
    {
        let why = if crate::names::is_location_name(&inputs.location) {
            String::new()
        } else {
            " (Azure's location names are ASCII letters and digits, such as eastus)".into()
        };
        return Err(Error::input(
            format!(
                "location '{}' is not available to subscription {}{why}",
                inputs.location, inputs.subscription
            ),
            format!(
                "choose one of: {}",
                crate::names::near_locations(&inputs.location, &locations).join(", ")
            ),
        ));
    }
    let mut notes = vec![];
    let mut unregistered = vec![];
    for (ns, st) in required.iter().zip(states) {
        let st = st?;
        if st != "Registered" {
            notes.push(format!(
                "resource provider {ns} is {st}; setup will register it"
            ));
            unregistered.push(*ns);
        }
    }
    let held = held?;
    if held.is_none() {
        notes.push(format!(
            "could not read the signed-in identity's permissions; role assignments need {}",
            permissions::ROLE_ASSIGNMENT_WRITE
        ));
    }
    Ok(Preflight {
        tenant,
        notes,
        unregistered,
        held,
    })
}

/// The Graph tenant is the subscription's: an Azure CLI sign-in is pointed at it (`--tenant`, else the
/// subscription's `tenantId`) before any Graph call, so the app is registered in the directory that holds the
/// subscription rather than in the CLI's default tenant. One read, and only for `--auth cli`.
pub async fn align_cli_tenant(rest: &Rest, inputs: &Inputs) -> Result<()> {
    if !rest.auth.is_cli() {
        return Ok(());
    }
    let tenant = if inputs.tenant_id.is_empty() {
        providers::subscription(rest, &inputs.subscription)
            .await?
            .and_then(|s| s.tenant_id)
            .unwrap_or_default()
    } else {
        inputs.tenant_id.clone()
    };
    if !tenant.is_empty() {
        rest.auth.use_tenant(&tenant);
    }
    Ok(())
}

/// What the operator may do where setup writes: at the resource group (everything setup makes is in it), or at
/// the subscription when the group is yet to be made. Asked through the permissions API; `None` when Azure does
/// not answer it there.
async fn held(
    rest: &Rest,
    inputs: &Inputs,
) -> Result<Option<(String, Vec<permissions::Permission>)>> {
    let sub = format!("/subscriptions/{}", inputs.subscription);
    let rg = format!("{sub}/resourceGroups/{}", inputs.resource_group);
    for scope in [rg, sub] {
        match held_at(rest, &scope).await? {
            Held::Some(p) => return Ok(Some((scope, p))),
            Held::NoScope => continue,
            Held::Unknown => return Ok(None),
        }
    }
    Ok(None)
}

/// The roles that grant role assignments beside Owner, for hints that pair one with Contributor.
fn role_writers_besides_owner() -> String {
    permissions::ROLE_WRITERS
        .iter()
        .filter(|r| **r != "Owner")
        .copied()
        .collect::<Vec<_>>()
        .join(" or ")
}

/// What the permissions API says of a scope.
enum Held {
    Some(Vec<permissions::Permission>),
    /// The scope does not exist (404).
    NoScope,
    /// Azure does not answer this API there: unknown, never a refusal.
    Unknown,
}

async fn held_at(rest: &Rest, scope: &str) -> Result<Held> {
    match permissions::list(rest, scope).await {
        Ok(Some(p)) => Ok(Held::Some(p)),
        Ok(None) => Ok(Held::NoScope),
        // Not every scope answers this API (the spec lists groups and resources).
        Err(Error::Azure(e)) if (400..500).contains(&e.status) && e.status != 429 => {
            tracing::info!(%scope, code = %e.code, "permissions not readable here");
            Ok(Held::Unknown)
        }
        Err(e) => Err(e),
    }
}

/// The actions among `needed` (step, action) that `held` does not allow: the actions, once each, and the steps.
fn lacking<'a>(
    held: &[permissions::Permission],
    needed: impl IntoIterator<Item = (&'a str, String)>,
) -> (Vec<String>, Vec<&'a str>) {
    let (mut actions, mut steps) = (Vec::<String>::new(), vec![]);
    for (kind, action) in needed {
        if !permissions::allows(held, &action) {
            steps.push(kind);
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
    }
    (actions, steps)
}

/// Refuses, before any write, an operator who may not write role assignments when the plan makes some.
pub fn judge_role_write(pre: &Preflight, inputs: &Inputs, o: &Observed) -> Result<()> {
    let Some((scope, held)) = &pre.held else {
        return Ok(());
    };
    if permissions::allows(held, permissions::ROLE_ASSIGNMENT_WRITE) {
        return Ok(());
    }
    let missing = inputs
        .roles
        .assignments()
        .into_iter()
        .any(|k| !o.roles.contains_key(&k));
    if !missing {
        return Ok(());
    }
    Err(Error::input(
        format!(
            "the signed-in identity may not assign roles at {scope}: it lacks {}, and setup assigns roles on the workspace, the DCE and the DCR",
            permissions::ROLE_ASSIGNMENT_WRITE
        ),
        format!(
            "have one of {} granted on resource group '{}' (or the subscription), or run setup as someone who has one; Contributor alone is not enough",
            permissions::ROLE_WRITERS.join(", "),
            inputs.resource_group
        ),
    ))
}

/// Refuses, before any write, an operator who may not make or change the ARM resources the plan makes or
/// changes (each type's `write` action: an operator who may assign roles but make nothing, say). Role
/// assignments are [`judge_role_write`]'s; the Graph objects' rights are Entra roles this API does not show.
pub fn judge_writes(pre: &Preflight, inputs: &Inputs, plan: &Plan) -> Result<()> {
    let Some((scope, held)) = &pre.held else {
        return Ok(());
    };
    let needed = plan
        .steps
        .iter()
        .filter(|s| s.action != Action::Reuse && s.key.kind() != KindId::Role)
        .filter_map(|s| action(&s.key, "write").map(|a| (s.step.as_str(), a)));
    let (actions, steps) = lacking(held, needed);
    if actions.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        format!(
            "the signed-in identity may not make what setup would make at {scope}: it lacks {} (for {})",
            actions.join(", "),
            steps.join(", ")
        ),
        format!(
            "run setup as someone with Owner, or Contributor and one of {}, on resource group '{}' (or the subscription, for a group setup makes)",
            role_writers_besides_owner(),
            inputs.resource_group
        ),
    ))
}

/// Refuses, before any write, what exists and cannot be used: a missing resource group (without
/// `--create-resource-group`), a reused workspace that is missing or in another region than `--location`, a
/// soft-deleted workspace of the name to create in another region, and a classic table of the same name.
pub fn judge(inputs: &Inputs, o: &Observed) -> Result<()> {
    if !inputs.create_resource_group && o.resource_group.is_none() {
        return Err(Error::input(
            format!(
                "resource group '{}' does not exist in subscription {}",
                inputs.resource_group, inputs.subscription
            ),
            "create it, or pass --create-resource-group",
        ));
    }
    if let WorkspaceChoice::Existing(id) = &inputs.workspace {
        let Some(ws) = &o.workspace else {
            return Err(Error::input(
                format!("workspace {id} does not exist"),
                "pass the resource id of an existing workspace, or a name to create one",
            ));
        };
        // A DCR sends only to a workspace in its own region, and its DCE must be in that region too
        // (learn.microsoft.com/azure/azure-monitor/essentials/data-collection-endpoint-overview, "Regionality").
        if !ws.location.is_empty()
            && crate::names::region(&ws.location) != crate::names::region(&inputs.location)
        {
            return Err(Error::input(
                format!(
                    "workspace {} is in region {}, but --location is {}: the data collection endpoint and rule must be in the workspace's region",
                    name_of(id),
                    crate::names::region(&ws.location),
                    inputs.location
                ),
                format!("pass --location {}", crate::names::region(&ws.location)),
            ));
        }
    }
    super::workspace::judge(inputs, o)?;
    // A second workbook with the same display name in the group is refused by Azure (409 "A workbook with the
    // same name already exists", MicrosoftDocs/azure-docs#52844): say so before writing anything.
    if let Some(other) = o.sentinel.as_ref().and_then(|s| s.workbook_clash.as_ref()) {
        return Err(Error::input(
            format!(
                "resource group '{}' already holds a Sentinel workbook named \"{}\" ({other})",
                inputs.resource_group,
                super::sentinel::WORKBOOK_NAME
            ),
            "rename or delete that workbook (Keeper's own solution installs one of that name, reading its commercial table), or run setup in another --resource-group",
        ));
    }
    if let Some(other) = o.sentinel.as_ref().and_then(|s| s.function_clash.as_ref()) {
        return Err(Error::input(
            format!(
                "workspace {} already has a function named {} ({other}); a second one of that name would leave the rules and the workbook reading one or the other",
                name_of(&inputs.workspace_id()),
                super::sentinel::function_alias()
            ),
            "if another deployment made it, its Sentinel content already watches this workspace: run this one without --sentinel; otherwise rename or delete that function first",
        ));
    }
    if let Some(s) = o.sentinel.as_ref() {
        if let Some((alias, other)) = super::sentinel::parser_clash(inputs, s) {
            return Err(Error::input(
                format!(
                    "workspace {} already has a function named {alias} ({other}); a second one of that name would leave ASIM reading one or the other",
                    name_of(&inputs.workspace_id()),
                ),
                "if another deployment made it, Keeper is already in ASIM on this workspace: run this one without --sentinel; otherwise rename or delete that function first",
            ));
        }
    }
    if let Some(t) = &o.table {
        if t.is_classic() {
            return Err(Error::input(
                format!(
                    "workspace {} already holds a classic table {} (made by the retired HTTP Data Collector API); its schema cannot be changed for a data collection rule",
                    name_of(&inputs.workspace_id()),
                    inputs.table
                ),
                "pass another --table name, or migrate the classic table first (Tables API `migrate`: learn.microsoft.com/azure/azure-monitor/logs/custom-logs-migrate)",
            ));
        }
    }
    Ok(())
}

/// Registers the providers preflight found unregistered and waits for them: the first write of a run.
pub async fn register_providers(rest: &Rest, inputs: &Inputs, p: &Preflight) -> Result<()> {
    for ns in &p.unregistered {
        providers::register_and_wait(rest, &inputs.subscription, ns, Duration::from_secs(600))
            .await?;
    }
    Ok(())
}

/// The action `verb` (`write`, `delete`) on a step's ARM resource type (its kind's [`kind::Arm`]); `None` for the
/// Graph objects (app, service principal, secret), whose rights are Entra roles that this API does not show, and
/// for the Keeper record.
fn action(key: &Key, verb: &str) -> Option<String> {
    super::registry::of(key.kind())
        .arm()
        .map(|a| a.action(verb))
}

/// Refuses a teardown, before its first deletion, when the operator may not delete some of what it would delete
/// (a Contributor and the role assignments, say), so that it does not stop half-way. Asked once, at the resource
/// group through the permissions API; passes when the group is gone or Azure does not answer there.
pub async fn check_teardown<'a>(
    rest: &Rest,
    subscription: &str,
    resource_group: &str,
    kinds: impl IntoIterator<Item = &'a Key>,
) -> Result<()> {
    let named: Vec<(String, String)> = kinds
        .into_iter()
        .filter_map(|k| action(k, "delete").map(|a| (k.to_string(), a)))
        .collect();
    let needed: Vec<(&str, String)> = named.iter().map(|(k, a)| (k.as_str(), a.clone())).collect();
    if needed.is_empty() || resource_group.is_empty() {
        return Ok(());
    }
    let scope = format!("/subscriptions/{subscription}/resourceGroups/{resource_group}");
    let Held::Some(held) = held_at(rest, &scope).await? else {
        return Ok(());
    };
    let (missing, blocked) = lacking(&held, needed);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        format!(
            "the signed-in identity may not delete everything teardown would delete at {scope}: it lacks {} (for {}); nothing was deleted",
            missing.join(", "),
            blocked.join(", ")
        ),
        if missing.iter().any(|a| a == permissions::ROLE_ASSIGNMENT_DELETE) {
            format!(
                "run teardown as someone with Owner, or Contributor with one of {} (as setup needed), on resource group '{resource_group}'",
                role_writers_besides_owner()
            )
        } else {
            format!("run teardown as someone who may delete these on resource group '{resource_group}' (Owner or Contributor)")
        },
    ))
}

#[cfg(test)]
mod teardown_tests {
    use super::action;
    use crate::azure::permissions;
    use crate::azure::roles::Role;
    use crate::steps::{Key, Scope};

    #[test]
    fn every_arm_step_names_its_actions_and_graph_objects_none() {
        let role = Key::Role(Scope::Dcr, Role::MonitoringMetricsPublisher);
        for kind in [
            Key::ResourceGroup,
            Key::Workspace,
            Key::Table,
            Key::Dce,
            Key::Dcr,
            Key::SentinelOnboarding,
            Key::SentinelFunction,
            Key::SentinelWorkbook,
            Key::SentinelRule("keeper-admin-login-failures".into()),
            role.clone(),
        ] {
            let a = action(&kind, "delete").unwrap_or_default();
            assert!(
                a.ends_with("/delete") && a.starts_with("Microsoft."),
                "{kind}: {a}"
            );
        }
        assert_eq!(
            action(&role, "write").as_deref(),
            Some(permissions::ROLE_ASSIGNMENT_WRITE)
        );
        assert_eq!(
            action(&role, "delete").as_deref(),
            Some(permissions::ROLE_ASSIGNMENT_DELETE)
        );
        for kind in [Key::Application, Key::ServicePrincipal, Key::Secret] {
            assert_eq!(action(&kind, "write"), None, "{kind}");
        }
    }
}
