//! `--sentinel`: the KQL function `KeeperSecurityEvents` over the Keeper table (a saved search of the workspace), which every rule and
//! workbook query reads.

use futures::future::BoxFuture;

use crate::azure::sentinel as api;
use crate::error::Result;
use crate::state::State;
use crate::steps::kind::{
    self, Arm, Checked, Deleted, Deleting, Fate, Item, Keeping, KindId, Look,
};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct Function;

impl kind::Resource for Function {
    fn kind(&self) -> KindId {
        KindId::SentinelFunction
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.sentinel.is_some() {
            vec![Key::SentinelFunction]
        } else {
            vec![]
        }
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::Table]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::SAVED_SEARCH_TYPE,
            api_version: api::SAVED_SEARCHES_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        super::plan(key, inputs, o)
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let action = plan.action(key).unwrap_or(Action::Create);
        Box::pin(super::ensure_function(ctx, action))
    }

    /// Drifted when it differs from its template.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(super::content_health(look, item))
    }

    fn fate(&self, item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        super::own_fate(item)
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        super::delete_content(cx, item)
    }
}
