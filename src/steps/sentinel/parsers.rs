//! `--sentinel`: the six ASIM parser functions (`ASim<Schema>KeeperEnterprise`, `vim<Schema>KeeperEnterprise`),
//! built from `templates/sentinel/asim/`.

use futures::future::BoxFuture;

use crate::azure::sentinel as api;
use crate::error::{Error, Result};
use crate::state::State;
use crate::steps::kind::{
    self, Arm, Checked, Deleted, Deleting, Fate, Item, Keeping, KindId, Look,
};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

use super::asim;

pub struct Parsers;

/// The body a parser key stands for.
pub fn body_of(key: &Key) -> Result<serde_json::Value> {
    let Key::AsimParser(alias) = key else {
        return Err(Error::Other(format!("{key} is not an ASIM parser")));
    };
    let p = asim::parsers()?
        .into_iter()
        .find(|p| p.alias == *alias)
        .ok_or_else(|| Error::Other(format!("no ASIM parser {alias}")))?;
    Ok(asim::parser_body(&p))
}

impl kind::Resource for Parsers {
    fn kind(&self) -> KindId {
        KindId::AsimParser
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.sentinel.is_none() {
            return vec![];
        }
        asim::parsers()
            .map(|ps| ps.into_iter().map(|p| Key::AsimParser(p.alias)).collect())
            .unwrap_or_default()
    }

    /// They read the function `KeeperSecurityEvents`.
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::SentinelFunction]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::SAVED_SEARCH_TYPE,
            api_version: api::SAVED_SEARCHES_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let id = super::content_id(inputs, key);
        super::plan_saved_search(key, &id, body_of(key).unwrap_or_default(), o)
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let action = plan.action(key).unwrap_or(Action::Create);
        Box::pin(async move {
            let Key::AsimParser(alias) = key else {
                return Err(Error::Other(format!("{key} is not an ASIM parser")));
            };
            let id = super::content_id(&ctx.inputs, key);
            super::ensure_content(ctx, key, &id, alias, &body_of(key)?, action).await
        })
    }

    /// Drifted when it differs from what the templates build.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let want = body_of(&item.key)?;
            super::saved_search_health(look, item, &want).await
        })
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
