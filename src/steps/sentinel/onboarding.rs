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
                    other_uses(rest, &workspace.id).await
                } else {
                    Ok(vec![])
                }
            };
            let (theirs, other_uses) =
                tokio::try_join!(foreign_rules(rest, &workspace.id, &ours), other_uses)?;
            let alias = super::function_alias();
            let readers: Vec<String> = theirs
                .iter()
                .filter(|r| {
                    r.properties
                        .query
                        .as_deref()
                        .is_some_and(|q| super::reads(q, &alias))
                })
                .map(rule_name)
                .collect();
            let mut uses = other_uses;
            if !theirs.is_empty() {
                let names: Vec<String> = theirs.iter().map(rule_name).collect();
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

/// The analytics rule Sentinel turns on by itself when it is onboarded ("Advanced Multistage Attack Detection",
/// kind Fusion, named `BuiltInFusion`: Fusion "is enabled by default", learn.microsoft.com/azure/sentinel/
/// configure-fusion-rules): it says nothing about anyone using Sentinel.
fn sentinels_own(rule: &api::RuleSummary) -> bool {
    rule.name.eq_ignore_ascii_case("BuiltInFusion")
        && rule
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("Fusion"))
}

/// The workspace's analytics rules, of any kind, other than `ours` and the one Sentinel made itself: someone's
/// work. Teardown keeps Sentinel on for them, and the function for those whose query reads it.
async fn foreign_rules(
    rest: &Rest,
    workspace_id: &str,
    ours: &[&str],
) -> Result<Vec<api::RuleSummary>> {
    let rules = api::alert_rules(rest, workspace_id).await?;
    Ok(rules
        .into_iter()
        .filter(|r| !sentinels_own(r))
        .filter(|r| !ours.iter().any(|o| o.eq_ignore_ascii_case(&r.id)))
        .collect())
}

/// What else uses Sentinel on the workspace besides analytics rules, one line per kind of content that is there
/// ("2 watchlist(s): A, B", "incidents, among them 'C'"): the tool makes none of these, so any of them is someone's.
async fn other_uses(rest: &Rest, workspace_id: &str) -> Result<Vec<String>> {
    let lists = futures::future::try_join_all(
        api::CONTENT
            .iter()
            .map(|(collection, _)| api::content(rest, workspace_id, collection)),
    );
    let (lists, incident) = tokio::try_join!(lists, api::an_incident(rest, workspace_id))?;
    let mut uses: Vec<String> = api::CONTENT
        .iter()
        .zip(lists)
        .filter(|(_, items)| !items.is_empty())
        .map(|((_, what), items)| {
            let names: Vec<String> = items.iter().map(api::ContentSummary::label).collect();
            format!("{} {what}(s): {}", items.len(), names.join(", "))
        })
        .collect();
    if let Some(i) = incident {
        uses.push(format!("incidents, among them '{}'", i.label()));
    }
    Ok(uses)
}

/// A rule's display name, or the last part of its id.
fn rule_name(r: &api::RuleSummary) -> String {
    r.properties
        .display_name
        .clone()
        .unwrap_or_else(|| crate::azure::name_of(&r.id).to_string())
}
