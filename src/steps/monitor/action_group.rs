//! `--alert-email`: the action group that mails the addresses when a Keeper alert fires.

use futures::future::BoxFuture;

use crate::azure::monitor as api;
use crate::error::Result;
use crate::state::State;
use crate::steps::kind::{self, Arm, Checked, Discovery, Item, KindId, Look};
use crate::steps::{Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct ActionGroup;

impl kind::Resource for ActionGroup {
    fn kind(&self) -> KindId {
        KindId::ActionGroup
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.alerts.is_some() {
            vec![Key::ActionGroup]
        } else {
            vec![]
        }
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::ResourceGroup]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::ACTION_GROUP_TYPE,
            api_version: api::ACTION_GROUP_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        super::plan_step(
            key,
            o.monitor.action_group.as_ref(),
            &super::action_group_body(inputs),
            super::action_group_id(inputs),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let i = &ctx.inputs;
        let write = super::Write {
            key,
            id: super::action_group_id(i),
            name: super::action_group_name(&i.deployment),
            found: plan.observed.monitor.action_group.as_ref(),
            api_version: api::ACTION_GROUP_API,
        };
        Box::pin(super::ensure_tagged(ctx, plan, write, || {
            super::action_group_body(i)
        }))
    }

    /// Drifted when it mails no one, or an address unsubscribed.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(super::health(look, item, api::ACTION_GROUP_API))
    }

    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(kind::discover_tagged(
            d,
            Key::ActionGroup,
            api::ACTION_GROUP_TYPE,
        ))
    }
}
