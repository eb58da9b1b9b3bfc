//! Before guide step 1: the resource group, made only with `--create-resource-group`.

use crate::azure::providers::{self, ResourceGroup};
use crate::azure::tags;
use crate::error::Result;
use crate::rest::Rest;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<ResourceGroup>> {
    providers::resource_group(rest, &inputs.subscription, &inputs.resource_group).await
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    PlannedStep::new(
        step::RESOURCE_GROUP,
        Action::create_or_reuse(o.resource_group.is_some()),
        inputs.rg_id(),
    )
}

/// Creates the group when the plan says so; a group is ours when we made it or it carries our tag.
pub async fn ensure(
    ctx: &Ctx,
    action: Action,
    found: Option<&ResourceGroup>,
) -> Result<((), String)> {
    let i = &ctx.inputs;
    if action == Action::Create {
        providers::create_resource_group(
            &ctx.rest,
            &i.subscription,
            &i.resource_group,
            &i.location,
            tags(&i.deployment),
        )
        .await?;
    }
    let ours = action == Action::Create || found.is_some_and(|g| g.has_tag(&i.deployment));
    ctx.record_resource(step::RESOURCE_GROUP, &i.rg_id(), &i.resource_group, ours)?;
    Ok(((), i.rg_id()))
}
