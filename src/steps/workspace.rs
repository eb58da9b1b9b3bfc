//! Guide step 3: the Log Analytics workspace, created, recovered (soft-deleted with that name, in that resource
//! group and region) or reused (`--workspace <resource id>`).

use futures::future::BoxFuture;
use serde_json::json;

use crate::azure::workspace::{self, DeletedWorkspace, Workspace};
use crate::azure::{name_of, tags};
use crate::error::{Error, Result};
use crate::names::region;
use crate::rest::Rest;
use crate::state::State;

use super::kind::{
    self, Arm, Checked, Deleted, Deleting, Discovery, Fate, Item, Keeping, KindId, Look, Note,
};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep, WorkspaceChoice};

pub struct LogWorkspace;

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

fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    let id = inputs.workspace_id();
    match (&o.workspace, &o.deleted_workspace) {
        (None, Some(d)) => {
            let mut s = PlannedStep::new(Key::Workspace, Action::Recover, id);
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
        (found, _) => {
            PlannedStep::new(Key::Workspace, Action::create_or_reuse(found.is_some()), id)
        }
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
async fn ensure(
    ctx: &Ctx,
    found: Option<Workspace>,
    deleted: Option<DeletedWorkspace>,
) -> Result<String> {
    let i = &ctx.inputs;
    let id = i.workspace_id();
    let reused = i.reuses_workspace();
    let (ws, created) = match found {
        Some(w) if matches!(w.provisioning_state(), Some("Succeeded") | None) => {
            let ours = !reused && (w.has_tag(&i.deployment) || ctx.was_created(&Key::Workspace));
            (w, ours)
        }
        Some(w) if !reused && matches!(w.provisioning_state(), Some("Failed" | "Canceled")) => {
            // Our workspace whose creation failed: a PUT again is how Azure repairs it.
            let ours = w.has_tag(&i.deployment) || ctx.was_created(&Key::Workspace);
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
                let ours = w.has_tag(&i.deployment) || ctx.was_created(&Key::Workspace);
                if ours {
                    ctx.record_resource(&Key::Workspace, &id, name_of(&id), true)?;
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
                ctx.record_resource(&Key::Workspace, &id, name_of(&id), true)?;
                let body = workspace::body(&i.location, tags(&i.deployment));
                (workspace::put_and_wait(&ctx.rest, &id, &body).await?, true)
            }
        },
    };
    ctx.record_resource(&Key::Workspace, &id, name_of(&id), created)?;
    ctx.made.put(ws);
    Ok(id)
}

/// How a soft-deleted workspace comes back.
pub const RECOVERY: &str = "a setup with the same --workspace, --resource-group and --location recovers it with its data (with --create-resource-group when its resource group is gone too)";

/// What becomes of the workspace, said before the deletion at `now`: purged with `--force-delete-workspace`,
/// else soft-deleted and recoverable for 14 days.
fn fate_said(force: bool, now: time::OffsetDateTime) -> String {
    if force {
        "the workspace is purged (--force-delete-workspace): it and its data cannot be recovered"
            .into()
    } else {
        format!(
            "the workspace is soft-deleted, not purged: recoverable for {} days, until {}; {RECOVERY}. Pass --force-delete-workspace to purge it instead",
            workspace::SOFT_DELETE_DAYS,
            crate::clock::human(workspace::recoverable_until(now))
        )
    }
}

/// The JSON of the workspace's deletion at `at`: whether it is purged, and else until when it can be recovered.
fn fate_fields(
    force: bool,
    at: time::OffsetDateTime,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("purged".into(), json!(force));
    m.insert(
        "recoverable_until".into(),
        if force {
            serde_json::Value::Null
        } else {
            json!(crate::clock::rfc3339(workspace::recoverable_until(at)))
        },
    );
    m
}

impl kind::Resource for LogWorkspace {
    fn kind(&self) -> KindId {
        KindId::Workspace
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Workspace]
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::ResourceGroup]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: workspace::TYPE,
            api_version: workspace::API_VERSION,
        })
    }

    fn plan(&self, _key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        plan(inputs, o)
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        _key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let o = &plan.observed;
        Box::pin(ensure(
            ctx,
            o.workspace.clone(),
            o.deleted_workspace.clone(),
        ))
    }

    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = workspace::get(look.rest, &item.id).await?;
            Ok(Checked::of(item, found.map(|_| None)))
        })
    }

    fn fate(&self, item: &Item, keeping: &Keeping, _state: &State) -> Fate {
        if !item.created {
            Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.id))
        } else if keeping.workspace || keeping.data {
            Fate::Keep(format!("{} {} (kept on request)", item.key, item.id))
        } else {
            Fate::Delete
        }
    }

    fn teardown_note(&self, keeping: &Keeping) -> Option<Note> {
        let now = time::OffsetDateTime::now_utc();
        let force = keeping.force_delete_workspace;
        Some(Note {
            text: fate_said(force, now),
            fields: fate_fields(force, now),
        })
    }

    /// Soft-deleted (recoverable for 14 days) unless `--force-delete-workspace` purges it.
    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move {
            let force = cx.keeping.force_delete_workspace;
            let existed = crate::azure::arm_delete(
                cx.rest,
                &item.id,
                workspace::API_VERSION,
                if force { "&force=true" } else { "" },
            )
            .await?;
            let now = time::OffsetDateTime::now_utc();
            let until = workspace::recoverable_until(now);
            let mut d = Deleted::existed(existed);
            if !existed {
                return Ok(d);
            }
            d.json = fate_fields(force, now);
            if force {
                d.how = Some("purged (cannot be recovered)".into());
            } else {
                d.how = Some(format!(
                    "deleted (soft-deleted: recoverable until {})",
                    crate::clock::human(until)
                ));
                d.closing = Some(format!(
                    "workspace {} is soft-deleted, recoverable until {}: {}",
                    name_of(&item.id),
                    crate::clock::human(until),
                    RECOVERY
                ));
            }
            Ok(d)
        })
    }

    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            kind::discover_tagged(d, Key::Workspace, workspace::TYPE).await?;
            d.content_workspace = d.id_of(&Key::Workspace);
            Ok(())
        })
    }
}
