//! Guide step 3: the Log Analytics workspace, created, recovered (soft-deleted with that name, in that resource
//! group and region) or reused (`--workspace <resource id>`).

use crate::azure::workspace::{self, DeletedWorkspace, Workspace};
use crate::azure::{name_of, tags};
use crate::error::{Error, Result};
use crate::rest::Rest;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep, WorkspaceChoice};
use crate::names::region;

/// The workspace, and when there is none of the name setup would create, a soft-deleted one of that name in the
/// resource group (a create recovers it, or Azure refuses it in another region).
pub async fn observe(
    rest: &Rest,
    inputs: &Inputs,
) -> Result<(Option<Workspace>, Option<DeletedWorkspace>)> {
    let id = inputs.workspace_id();
    let found = workspace::get(rest, &id).await?;
    let deleted = match (&found, &inputs.workspace) {
        (None, WorkspaceChoice::Name(_)) => {
            workspace::find_deleted(rest, &inputs.subscription, &id).await?
        }
        _ => None,
    };
    Ok((found, deleted))
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    let id = inputs.workspace_id();
    match (&o.workspace, &o.deleted_workspace) {
        (None, Some(d)) => {
            let mut s = PlannedStep::new(step::WORKSPACE, Action::Recover, id);
            let deleted_on = d.deleted_on();
            let theirs = if d.workspace.has_tag(&inputs.deployment) {
                ""
            } else {
                "; not this deployment's, so it keeps its tags and teardown leaves it"
            };
            s.detail = Some(format!(
                "{}, its data comes back{theirs}",
                match deleted_on {
                    Some(t) => format!("deleted on {}", crate::clock::human(t)),
                    None => format!("deleted in the last {} days", workspace::SOFT_DELETE_DAYS),
                }
            ));
            s.deleted_on = deleted_on.map(crate::clock::rfc3339);
            s
        }
        (found, _) => PlannedStep::new(
            step::WORKSPACE,
            Action::create_or_reuse(found.is_some()),
            id,
        ),
    }
}

/// Refuses, before any write, a create of the workspace's name while a workspace of that name in the resource
/// group is soft-deleted in another region than `--location`: Azure keeps the name for it and answers such a
/// create 409 `Conflict` ("The workspace name '…' is not unique").
pub fn judge(inputs: &Inputs, o: &Observed) -> Result<()> {
    let Some(d) = &o.deleted_workspace else {
        return Ok(());
    };
    let theirs = region(&d.workspace.location);
    if theirs.is_empty() || theirs == region(&inputs.location) {
        return Ok(());
    }
    let name = name_of(&d.id);
    let when = match d.deleted_on() {
        Some(t) => format!(
            "deleted on {} and recoverable until {}",
            crate::clock::human(t),
            crate::clock::human(workspace::recoverable_until(t))
        ),
        None => format!("deleted in the last {} days", workspace::SOFT_DELETE_DAYS),
    };
    Err(Error::input(
        format!(
            "workspace {name} in resource group '{}' is soft-deleted in region {theirs} ({when}); Azure keeps its name for it, so it cannot be made again in --location {}",
            inputs.resource_group, inputs.location
        ),
        format!(
            "pass --location {theirs} to recover it with its data; or another --workspace name for a new workspace; or purge it (recover it, then delete it with force: `az monitor log-analytics workspace recover -g {rg} -n {name}` and `az monitor log-analytics workspace delete --force -g {rg} -n {name}`, or `keeper-azmon setup --location {theirs}` then `keeper-azmon teardown --force-delete-workspace`)",
            rg = inputs.resource_group
        ),
    ))
}

/// Ensures the workspace is there and `Succeeded`: created, recovered (soft-deleted: a create brings it back),
/// repaired (ours, failed), waited for (still provisioning) or reused. A reused workspace (`--workspace <id>`) is
/// never ours; a recovered one is ours when it was (our tag, or the state says so).
pub async fn ensure(
    ctx: &Ctx,
    found: Option<Workspace>,
    deleted: Option<DeletedWorkspace>,
) -> Result<(Workspace, String)> {
    let i = &ctx.inputs;
    let id = i.workspace_id();
    let reused = i.reuses_workspace();
    let (ws, created) = match found {
        Some(w) if matches!(w.provisioning_state(), Some("Succeeded") | None) => {
            let ours = !reused && (w.has_tag(&i.deployment) || ctx.was_created(step::WORKSPACE));
            (w, ours)
        }
        Some(w) if !reused && matches!(w.provisioning_state(), Some("Failed" | "Canceled")) => {
            // Our workspace whose creation failed: a PUT again is how Azure repairs it.
            let ours = w.has_tag(&i.deployment) || ctx.was_created(step::WORKSPACE);
            // Never tag what the tool did not make: a workspace of that name that is not ours keeps its tags.
            let keep = serde_json::json!(w.tags);
            let body = workspace::body(&i.location, if ours { tags(&i.deployment) } else { keep });
            (workspace::put_and_wait(&ctx.rest, &id, &body).await?, ours)
        }
        Some(w) => {
            // Still provisioning (a previous run was cut off): wait for it instead of writing again.
            let ours = !reused && w.has_tag(&i.deployment);
            (workspace::wait_ready(&ctx.rest, &id).await?, ours)
        }
        None if reused => {
            return Err(Error::input(
                format!("workspace {id} does not exist"),
                "pass the resource id of an existing workspace, or a name to create",
            ))
        }
        None => match deleted {
            Some(d) => {
                // A create recovers it. Ours if it was; else it keeps its own tags, and teardown leaves it.
                let w = &d.workspace;
                let ours = w.has_tag(&i.deployment) || ctx.was_created(step::WORKSPACE);
                if ours {
                    ctx.record_resource(step::WORKSPACE, &id, name_of(&id), true)?;
                }
                let t = if ours {
                    tags(&i.deployment)
                } else {
                    serde_json::json!(w.tags)
                };
                let body = workspace::body(&i.location, t);
                (workspace::put_and_wait(&ctx.rest, &id, &body).await?, ours)
            }
            None => {
                // Recorded before the long-running PUT: a run cut off now still knows the workspace is ours.
                ctx.record_resource(step::WORKSPACE, &id, name_of(&id), true)?;
                let body = workspace::body(&i.location, tags(&i.deployment));
                (workspace::put_and_wait(&ctx.rest, &id, &body).await?, true)
            }
        },
    };
    ctx.record_resource(step::WORKSPACE, &id, name_of(&id), created)?;
    Ok((ws, id))
}
