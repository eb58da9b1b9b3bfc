//! Before any write (resource-provider registration included): what Azure must say about the subscription, the
//! tenant, the location, the providers and a reused workspace.

use std::time::Duration;

use crate::azure::{name_of, providers};
use crate::error::{Error, Result};
use crate::rest::Rest;

use super::{Inputs, Observed, WorkspaceChoice};

/// What the preflight reads found: the tenant, notes for the plan, and the providers to register.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub tenant: String,
    pub notes: Vec<String>,
    unregistered: Vec<&'static str>,
}

/// Checks what Azure must say before any write: subscription, tenant, location, providers. Reads only.
pub async fn check(rest: &Rest, inputs: &Inputs) -> Result<Preflight> {
    // Every read at once; their answers are judged in the order a person would, subscription first.
    let mut required: Vec<&'static str> = providers::REQUIRED.to_vec();
    if inputs.sentinel.is_some() {
        required.push(providers::SENTINEL);
    }
    let (sub, locations, states) = tokio::join!(
        providers::subscription(rest, &inputs.subscription),
        providers::location_names(rest, &inputs.subscription),
        futures::future::join_all(required.iter().map(|ns| providers::registration_state(
            rest,
            &inputs.subscription,
            ns
        ))),
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
        let mut near: Vec<&String> = locations
            .iter()
            .filter(|l| l.starts_with(&inputs.location[..inputs.location.len().min(4)]))
            .collect();
        if near.is_empty() {
            near = locations.iter().take(8).collect();
        }
        return Err(Error::input(
            format!(
                "location '{}' is not available to subscription {}",
                inputs.location, inputs.subscription
            ),
            format!(
                "choose one of: {}",
                near.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
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
    Ok(Preflight {
        tenant,
        notes,
        unregistered,
    })
}

/// Refuses, before any write, what exists and cannot be used: a missing resource group (without
/// `--create-resource-group`), a reused workspace that is missing or in another region than `--location`, and a
/// classic table of the same name.
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
        if !ws.location.is_empty() && region(&ws.location) != region(&inputs.location) {
            return Err(Error::input(
                format!(
                    "workspace {} is in region {}, but --location is {}: the data collection endpoint and rule must be in the workspace's region",
                    name_of(id),
                    region(&ws.location),
                    inputs.location
                ),
                format!("pass --location {}", region(&ws.location)),
            ));
        }
    }
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

/// A region name as ARM compares them: `East US` and `eastus` are one region.
fn region(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Registers the providers preflight found unregistered and waits for them: the first write of a run.
pub async fn register_providers(rest: &Rest, inputs: &Inputs, p: &Preflight) -> Result<()> {
    for ns in &p.unregistered {
        providers::register_and_wait(rest, &inputs.subscription, ns, Duration::from_secs(600))
            .await?;
    }
    Ok(())
}
