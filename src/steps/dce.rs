//! Guide step 5: the data collection endpoint, whose logs ingestion URL starts the Endpoint URL.

use crate::azure::dce::{self, Dce};
use crate::azure::tags;
use crate::error::{Error, Result};
use crate::rest::Rest;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Dce>> {
    dce::get(rest, &inputs.dce_id()).await
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    PlannedStep::new(
        step::DCE,
        Action::create_or_reuse(o.dce.is_some()),
        inputs.dce_id(),
    )
}

/// Creates the DCE unless it exists; either way it must have a logs ingestion endpoint.
pub async fn ensure(ctx: &Ctx, found: Option<Dce>) -> Result<(Dce, String)> {
    let i = &ctx.inputs;
    let id = i.dce_id();
    let (dce, created) = match found {
        Some(d) => {
            let ours = d.has_tag(&i.deployment) || ctx.was_created(step::DCE);
            (d, ours)
        }
        None => (
            dce::put(&ctx.rest, &id, &dce::body(&i.location, tags(&i.deployment))).await?,
            true,
        ),
    };
    if dce.logs_ingestion_endpoint().is_none() {
        return Err(Error::Other(format!(
            "DCE {id} has no logsIngestion endpoint in its answer"
        )));
    }
    ctx.record_resource(step::DCE, &id, &i.dce_name, created)?;
    Ok((dce, id))
}
