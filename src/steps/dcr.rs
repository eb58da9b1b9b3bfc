//! Guide step 6 (second half): the data collection rule that declares the stream and sends it to the table.

use std::time::Duration;

use serde_json::Value;

use crate::azure::dcr::{self, Dcr};
use crate::azure::tags;
use crate::error::{Error, Result};
use crate::rest::{self, Rest};

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Dcr>> {
    dcr::get(rest, &inputs.dcr_id()).await
}

/// The DCR body this deployment wants.
pub fn desired_body(inputs: &Inputs) -> Value {
    dcr::body(
        &inputs.location,
        tags(&inputs.deployment),
        &inputs.dce_id(),
        &inputs.workspace_id(),
        &inputs.stream(),
        &inputs.columns(),
    )
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    let desired = dcr::read(&desired_body(inputs));
    let action = match &o.dcr {
        None => Action::Create,
        Some(d) if !d.matches(&desired) => Action::Update,
        Some(_) => Action::Reuse,
    };
    PlannedStep::new(step::DCR, action, inputs.dcr_id())
}

/// Creates or updates the rule unless the plan reuses it; either way it must have an immutable id.
pub async fn ensure(ctx: &Ctx, found: Option<Dcr>, action: Action) -> Result<(Dcr, String)> {
    let i = &ctx.inputs;
    let id = i.dcr_id();
    let (rule, created) = match (found, action) {
        (Some(d), Action::Reuse) => {
            let ours = d.has_tag(&i.deployment) || ctx.was_created(step::DCR);
            (d, ours)
        }
        (found, _) => {
            let ours = found
                .as_ref()
                .is_none_or(|d| d.has_tag(&i.deployment) || ctx.was_created(step::DCR));
            let mut body = desired_body(i);
            if let (Some(d), false) = (&found, ours) {
                // Never tag what the tool did not make: an adopted rule keeps its own tags, so that discovery by
                // tag (teardown without a state file) can never take it for the tool's.
                body["tags"] = serde_json::json!(d.tags);
            }
            (put_when_table_usable(ctx, &id, &body).await?, ours)
        }
    };
    if rule.immutable_id().is_none() {
        return Err(Error::Other(format!(
            "DCR {id} has no immutableId in its answer"
        )));
    }
    ctx.record_resource(step::DCR, &id, &i.dcr_name, created)?;
    Ok((rule, id))
}

/// How long a rule waits for its new table to become usable as an output before giving up.
const TABLE_USABLE_WAIT: Duration = Duration::from_secs(120);

/// PUTs the rule, retrying `InvalidOutputTable` for a while: a table whose operation has just ended is not yet
/// known to the DCR service for a few seconds (hashicorp/terraform-provider-azurerm#21897). Bounded by
/// [`TABLE_USABLE_WAIT`]; every other refusal comes back at once, with its `details[]`.
async fn put_when_table_usable(ctx: &Ctx, id: &str, body: &Value) -> Result<Dcr> {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match dcr::put(&ctx.rest, id, body).await {
            Err(Error::Azure(e))
                if e.has_code("InvalidOutputTable")
                    && started.elapsed() < TABLE_USABLE_WAIT.mul_f64(rest::time_scale()) =>
            {
                ctx.reporter.waiting(
                    step::DCR,
                    "the new table to become usable by data collection rules",
                );
                tracing::info!(%id, "table not yet usable as a DCR output; retrying");
                rest::pause(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}
