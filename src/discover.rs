//! Finds a deployment by its keeper-azmon tag when no state file is at hand: what teardown and status work from then.

use serde_json::Value;

use crate::azure::graph;
use crate::azure::roles::{self, Role};
use crate::azure::{dcr, providers, workspace, TAG};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{Resource, RoleRecord, State, FORMAT};
use crate::steps::step;

fn one<'a>(found: &'a [Value], ty: &str, deployment: &str) -> Result<Option<&'a Value>> {
    let of: Vec<&Value> = found
        .iter()
        .filter(|r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(ty))
        })
        .collect();
    if of.len() > 1 {
        return Err(Error::input(
            format!(
                "{} resources of type {ty} carry the tag {TAG}={deployment}",
                of.len()
            ),
            "remove the tag from the ones that are not this deployment's, or pass --state",
        ));
    }
    Ok(of.first().copied())
}

fn record(state: &mut State, kind: &str, id: &str) {
    let name = crate::azure::name_of(id).to_string();
    state.resources.insert(
        kind.to_string(),
        Resource {
            id: id.to_string(),
            name,
            created: true,
        },
    );
}

/// Everything tagged for `deployment` in `subscription`, as a state in which all of it was created by the tool
/// (the tag is only ever set by the tool on what it creates).
pub async fn by_tag(
    rest: &Rest,
    subscription: &str,
    deployment: &str,
    cloud: &str,
) -> Result<State> {
    let sub = providers::subscription(rest, subscription)
        .await?
        .ok_or_else(|| {
            Error::input(
                format!("subscription {subscription} was not found"),
                "check --subscription",
            )
        })?;
    let mut s = State {
        format: FORMAT.into(),
        deployment: deployment.to_string(),
        cloud: cloud.to_string(),
        tenant_id: sub.tenant_id.unwrap_or_default(),
        subscription_id: subscription.to_string(),
        ..State::default()
    };
    let groups = providers::tagged(rest, subscription, TAG, deployment, true).await?;
    if groups.len() > 1 {
        // Taking one would tear down a deployment chosen by the order ARM lists them in.
        let names: Vec<&str> = groups
            .iter()
            .map(|g| crate::azure::name_of(g["id"].as_str().unwrap_or_default()))
            .collect();
        return Err(Error::input(
            format!(
                "{} resource groups carry the tag {TAG}={deployment}: {}",
                groups.len(),
                names.join(", ")
            ),
            "pass --state with the state file of the deployment you mean, or remove the tag from the groups that are not this deployment's",
        ));
    }
    if let Some(g) = groups.first() {
        let id = g["id"].as_str().unwrap_or_default();
        record(&mut s, step::RESOURCE_GROUP, id);
        s.resource_group = crate::azure::name_of(id).to_string();
    }
    let found = providers::tagged(rest, subscription, TAG, deployment, false).await?;
    for (ty, kind) in [
        ("Microsoft.OperationalInsights/workspaces", step::WORKSPACE),
        ("Microsoft.Insights/dataCollectionEndpoints", step::DCE),
        ("Microsoft.Insights/dataCollectionRules", step::DCR),
    ] {
        if let Some(r) = one(&found, ty, deployment)? {
            record(&mut s, kind, r["id"].as_str().unwrap_or_default());
            if s.location.is_empty() {
                s.location = r["location"].as_str().unwrap_or_default().to_string();
            }
            if s.resource_group.is_empty() {
                s.resource_group = r["id"]
                    .as_str()
                    .unwrap_or_default()
                    .split('/')
                    .nth(4)
                    .unwrap_or_default()
                    .to_string();
            }
        }
    }
    // The table has no tags: it is the one our rule writes to. It counts as ours only inside a workspace the
    // tool made; in a reused workspace the table may be the admin's.
    let mut content_ws = s.resources.get(step::WORKSPACE).map(|w| w.id.clone());
    if let Some(rule) = s.resources.get(step::DCR).map(|r| r.id.clone()) {
        if let Some(rule) = dcr::get(rest, &rule).await? {
            let out = rule.output_stream().unwrap_or_default();
            let ws = rule.workspace_id().unwrap_or_default();
            if content_ws.is_none() && !ws.is_empty() {
                content_ws = Some(ws.to_string());
            }
            let table = out.strip_prefix("Custom-").unwrap_or(out);
            s.outputs = Some(crate::state::Outputs {
                stream: out.to_string(),
                table: table.to_string(),
                dcr_immutable_id: rule.immutable_id().unwrap_or_default().to_string(),
                ..Default::default()
            });
            let ws_ours = s
                .resources
                .get(step::WORKSPACE)
                .is_some_and(|w| w.id.eq_ignore_ascii_case(ws));
            if ws_ours && !table.is_empty() {
                let id = workspace::table_id(ws, table);
                if workspace::get_table(rest, &id).await?.is_some() {
                    record(&mut s, step::TABLE, &id);
                }
            }
        }
    }
    // `setup --sentinel` content sits at ids derived from the deployment and the workspace.
    if let Some(ws) = content_ws.filter(|_| !s.resource_group.is_empty()) {
        crate::steps::sentinel::discover(rest, &mut s, &ws).await?;
    }
    // Only this subscription's deployment: the tag names both. An app found by its tag alone counts as ours
    // only when the signed-in identity owns it (anyone may tag an app); otherwise teardown leaves it.
    let apps =
        graph::find_applications_by_tag(rest, &graph::app_tag(subscription, deployment)).await?;
    if apps.len() > 1 {
        return Err(Error::input(
            format!(
                "{} app registrations carry the tag of deployment '{deployment}'",
                apps.len()
            ),
            "pass --state",
        ));
    }
    if let Some(app) = apps.first() {
        let me = rest.auth.object_id(&rest.profile.graph_audience).await?;
        let owned = graph::list_owners(rest, &app.id)
            .await?
            .iter()
            .any(|o| o.id == me);
        s.resources.insert(
            step::APP.into(),
            Resource {
                id: app.id.clone(),
                name: app.display_name.clone(),
                created: owned,
            },
        );
        if let Some(sp) = graph::find_service_principal(rest, &app.app_id).await? {
            s.resources.insert(
                step::SP.into(),
                Resource {
                    id: sp.id.clone(),
                    name: app.display_name.clone(),
                    created: owned,
                },
            );
            for a in roles::list_for_principal(rest, subscription, &sp.id).await? {
                let Some(role) = Role::from_definition(&a.role_definition_id) else {
                    continue;
                };
                let (id, scope) = (a.id.as_str(), a.scope.as_str());
                let on = [step::WORKSPACE, step::DCR, step::DCE]
                    .into_iter()
                    .find(|k| {
                        s.resources
                            .get(*k)
                            .is_some_and(|r| r.id.eq_ignore_ascii_case(scope))
                    })
                    .unwrap_or("other");
                // Only the assignments the tool makes (on the deployment's workspace, DCR or DCE) are its own.
                s.role_assignments.push(RoleRecord {
                    id: id.to_string(),
                    role,
                    on: on.to_string(),
                    created: owned && on != "other",
                    // Found, not made: its age is not known.
                    assigned_at: None,
                });
            }
        }
    }
    if s.resources.is_empty() {
        return Err(Error::input(
            format!("nothing in subscription {subscription} carries the tag {TAG}={deployment}"),
            "check --deployment (it defaults to the resource group name at setup) and --subscription",
        ));
    }
    Ok(s)
}
