//! `--sentinel`: the Scheduled analytics rules, one instance per template in `templates/sentinel/rules/`.

use futures::future::BoxFuture;

use crate::azure::sentinel as api;
use crate::error::Result;
use crate::state::State;
use crate::steps::kind::{
    self, Arm, Checked, Deleted, Deleting, Fate, Item, Keeping, KindId, Look,
};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct Rules;

impl kind::Resource for Rules {
    fn kind(&self) -> KindId {
        KindId::SentinelRule
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.sentinel.is_some() {
            super::rule_keys()
        } else {
            vec![]
        }
    }

    /// Azure refuses a rule before onboarding, and one whose function does not exist yet.
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::SentinelOnboarding, KindId::SentinelFunction]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::RULE_TYPE,
            api_version: api::SECURITY_INSIGHTS_API,
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
        Box::pin(async move {
            let Key::SentinelRule(t) = key else {
                return Err(crate::error::Error::Other(format!("{key} is not a rule")));
            };
            let found = plan.observed.sentinel.as_ref().and_then(|s| s.rules.get(t));
            super::ensure_rule(ctx, t, action, found).await
        })
    }

    /// Drifted when it differs from its template (its `enabled` left out: an analyst may switch a rule off or on).
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
