//! Guide step 5: the data collection endpoint, whose logs ingestion URL starts the Endpoint URL.

use futures::future::BoxFuture;

use crate::azure::dce::{self, Dce};
use crate::azure::tags;
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

use super::kind::{self, Arm, Checked, Discovery, Item, KindId, Look};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct Endpoint;

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Dce>> {
    dce::get(rest, &inputs.dce_id()).await
}

/// Creates the DCE unless it exists; either way it must have a logs ingestion endpoint.
async fn ensure(ctx: &Ctx, found: Option<Dce>) -> Result<String> {
    let i = &ctx.inputs;
    let id = i.dce_id();
    let (dce, created) = match found {
        Some(d) => {
            let ours = d.has_tag(&i.deployment) || ctx.was_created(&Key::Dce);
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
    ctx.record_resource(&Key::Dce, &id, &i.dce_name, created)?;
    ctx.made.put(dce);
    Ok(id)
}

impl kind::Resource for Endpoint {
    fn kind(&self) -> KindId {
        KindId::Dce
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Dce]
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::ResourceGroup]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: dce::TYPE,
            api_version: dce::API_VERSION,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        PlannedStep::new(
            key.clone(),
            Action::create_or_reuse(o.dce.is_some()),
            inputs.dce_id(),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        _key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(ensure(ctx, plan.observed.dce.clone()))
    }

    /// Drifted when its logs ingestion endpoint is no longer the one the Admin Console was given.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = dce::get(look.rest, &item.id).await?.map(|d| {
                let o = look.state.outputs.clone().unwrap_or_default();
                let now = d.logs_ingestion_endpoint().unwrap_or_default();
                (!o.logs_ingestion_endpoint.is_empty() && now != o.logs_ingestion_endpoint)
                    .then(|| format!("logs ingestion endpoint is now {now}"))
            });
            Ok(Checked::of(item, found))
        })
    }

    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(kind::discover_tagged(d, Key::Dce, dce::TYPE))
    }
}
