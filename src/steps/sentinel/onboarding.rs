//! `--sentinel`, first: Microsoft Sentinel on the workspace (its `onboardingStates/default`); ours only when setup
//! turned it on, and kept by teardown while anything else uses it.

use futures::future::BoxFuture;

use crate::azure::sentinel as api;
use crate::error::Result;
use crate::rest::Rest;
use crate::state::State;
use crate::steps::kind::{
    self, Arm, Checked, Deleted, Deleting, Discovery, Fate, Item, Keeping, KindId, Look,
};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct Onboarding;

impl kind::Resource for Onboarding {
    fn kind(&self) -> KindId {
        KindId::SentinelOnboarding
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.sentinel.is_some() {
            vec![Key::SentinelOnboarding]
        } else {
            vec![]
        }
    }

    /// Once the table exists (the content reads it).
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::Table]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::ONBOARDING_TYPE,
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
        Box::pin(super::ensure_onboarding(ctx, action))
    }

    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let ws = super::workspace_of(look.state);
            let on = api::onboarded(look.rest, &ws).await?;
            Ok(Checked::of(item, on.then_some(None)))
        })
    }

    fn fate(&self, item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        if item.created {
            Fate::Delete
        } else {
            Fate::Keep(format!(
                "{} {} (Sentinel was on before setup)",
                item.key, item.id
            ))
        }
    }

    /// Keeps Sentinel on while anything else uses it on the workspace: analytics rules of any kind this tool did
    /// not make (Sentinel's own Fusion rule aside), automation rules, watchlists, incidents, data connectors,
    /// installed solutions or bookmarks (off-boarding would take that work with it); and the function while one of
    /// those rules reads it (deleting it would break the rule without a word); each kept with its reason. Nothing
    /// to check when the workspace itself goes.
    fn review<'a>(
        &'a self,
        rest: &'a Rest,
        state: &'a State,
        doomed: &'a mut Vec<Item>,
        kept: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let offboard = doomed.iter().any(|d| d.key == Key::SentinelOnboarding);
            let function = doomed.iter().any(|d| d.key == Key::SentinelFunction);
            if !(offboard || function) || doomed.iter().any(|d| d.key == Key::Workspace) {
                return Ok(());
            }
            let Some(workspace) = state.resources.get(&Key::Workspace.to_string()) else {
                return Ok(());
            };
            let ours: Vec<&str> = state
                .resources
                .iter()
                .filter(|(k, _)| Key::parse(k).is_some_and(|k| super::is_content(&k)))
                .map(|(_, r)| r.id.as_str())
                .collect();
            let other_uses = async {
                if offboard {
                    super::other_uses(rest, &workspace.id).await
                } else {
                    Ok(vec![])
                }
            };
            let (theirs, other_uses) =
                tokio::try_join!(super::foreign_rules(rest, &workspace.id, &ours), other_uses)?;
            let alias = super::function_alias();
            let readers: Vec<String> = theirs
                .iter()
                .filter(|r| {
                    r.properties
                        .query
                        .as_deref()
                        .is_some_and(|q| super::reads(q, &alias))
                })
                .map(super::rule_name)
                .collect();
            let mut uses = other_uses;
            if !theirs.is_empty() {
                let names: Vec<String> = theirs.iter().map(super::rule_name).collect();
                uses.insert(
                    0,
                    format!(
                        "{} analytics rule(s) this tool did not make: {}",
                        names.len(),
                        names.join(", ")
                    ),
                );
            }
            doomed.retain(|d| {
                if d.key == Key::SentinelOnboarding && !uses.is_empty() {
                    kept.push(format!(
                        "{} {} (Sentinel on this workspace is in use beyond this tool: {}; off-board it yourself once nothing needs it)",
                        d.key,
                        d.shown,
                        uses.join("; ")
                    ));
                    false
                } else if d.key == Key::SentinelFunction && !readers.is_empty() {
                    kept.push(format!(
                        "{} {alias} (read by rules this tool did not make: {}; delete it by hand when they no longer need it)",
                        d.key,
                        readers.join(", ")
                    ));
                    false
                } else {
                    true
                }
            });
            Ok(())
        })
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move { Ok(Deleted::existed(api::delete(cx.rest, &item.id).await?)) })
    }

    /// The content this deployment made, found at its deterministic ids in the deployment's workspace. The
    /// onboarding itself is not claimed: nothing says who turned Sentinel on.
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(ws) = d.content_workspace.clone() else {
                return Ok(());
            };
            if d.state.resource_group.is_empty() {
                return Ok(());
            }
            super::discover(d.rest, &mut d.state, &ws).await
        })
    }
}
