//! Guide step 3: the Log Analytics workspace, created or reused (`--workspace <resource id>`).

use crate::azure::workspace::{self, Workspace};
use crate::azure::{name_of, tags};
use crate::error::{Error, Result};
use crate::rest::Rest;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Workspace>> {
    workspace::get(rest, &inputs.workspace_id()).await
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    PlannedStep::new(
        step::WORKSPACE,
        Action::create_or_reuse(o.workspace.is_some()),
        inputs.workspace_id(),
    )
}

/// Ensures the workspace is there and `Succeeded`: created, repaired (ours, failed), waited for (still
/// provisioning) or reused. A reused workspace (`--workspace <id>`) is never ours.
pub async fn ensure(ctx: &Ctx, found: Option<Workspace>) -> Result<(Workspace, String)> {
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
        None => {
            // Recorded before the long-running PUT: a run cut off now still knows the workspace is ours.
            ctx.record_resource(step::WORKSPACE, &id, name_of(&id), true)?;
            let body = workspace::body(&i.location, tags(&i.deployment));
            (workspace::put_and_wait(&ctx.rest, &id, &body).await?, true)
        }
    };
    ctx.record_resource(step::WORKSPACE, &id, name_of(&id), created)?;
    Ok((ws, id))
}
