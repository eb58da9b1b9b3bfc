//! What every piece of Sentinel content saved at a deployment-derived id shares: its id, its fate and deletion,
//! finding saved searches, planning one, its health; and the parser-name clash preflight refuses.

use serde_json::Value;

use crate::azure::sentinel::{self as api, Child};
use crate::error::Result;
use crate::steps::{kind, Inputs, Key, Observed, PlannedStep};

use super::{action_for, asim, matches, SentinelObserved};

/// Content at an id derived from the deployment (the function, rules, workbook, parsers, hunting queries): what
/// the state records is the tool's, so teardown deletes it; anything else is left.
pub(super) fn own_fate(item: &kind::Item) -> kind::Fate {
    if item.created {
        kind::Fate::Delete
    } else {
        kind::Fate::Leave
    }
}

/// Deletes a piece of content; whether it existed.
pub(super) fn delete_content<'a>(
    cx: &'a kind::Deleting<'a>,
    item: &'a kind::Item,
) -> futures::future::BoxFuture<'a, Result<kind::Deleted>> {
    Box::pin(async move {
        Ok(kind::Deleted::existed(
            api::delete(cx.rest, &item.id).await?,
        ))
    })
}

/// Whether a key names a piece of Sentinel content (not the onboarding).
pub fn is_content(key: &Key) -> bool {
    matches!(
        key,
        Key::SentinelFunction
            | Key::SentinelWorkbook
            | Key::SentinelRule(_)
            | Key::AsimParser(_)
            | Key::AsimUnifying(_)
            | Key::HuntingQuery(_)
    )
}

/// The id of a saved search the deployment makes for `key` (a parser, a custom unifying parser it makes, a hunting
/// query): derived from the deployment, so a re-run finds it.
pub fn content_id(inputs: &Inputs, key: &Key) -> String {
    content_id_in(&inputs.deployment, &inputs.workspace_id(), key)
}

pub(super) fn content_id_in(deployment: &str, workspace_id: &str, key: &Key) -> String {
    let what = match key {
        Key::AsimParser(a) | Key::AsimUnifying(a) | Key::HuntingQuery(a) => a.as_str(),
        _ => "content",
    };
    api::saved_search_id(
        workspace_id,
        &format!(
            "keeper-azmon-{}-{}",
            deployment.to_ascii_lowercase(),
            what.to_ascii_lowercase()
        ),
    )
}

/// An ASIM parser alias the workspace already has at another id than this deployment's: (alias, that id).
pub fn parser_clash(inputs: &Inputs, s: &SentinelObserved) -> Option<(String, String)> {
    let parsers = asim::parsers().ok()?;
    parsers.into_iter().find_map(|p| {
        let ours = content_id(inputs, &Key::AsimParser(p.alias.clone()));
        let (id, _) = search_by_alias(s, &p.alias)?;
        (!id.eq_ignore_ascii_case(&ours)).then_some((p.alias, id))
    })
}

/// The workspace's saved search of a function alias (KQL names are case-sensitive): its id and properties.
pub fn search_by_alias(s: &SentinelObserved, alias: &str) -> Option<(String, Value)> {
    s.searches
        .iter()
        .find(|(_, p)| p["functionAlias"].as_str() == Some(alias))
        .cloned()
}

/// A saved search at a known id, as a plan step: made, reused, or updated when it differs from `want`.
pub(super) fn plan_saved_search(key: &Key, id: &str, want: Value, o: &Observed) -> PlannedStep {
    let found = o.sentinel.as_ref().and_then(|s| {
        s.searches
            .iter()
            .find(|(i, _)| i.eq_ignore_ascii_case(id))
            .map(|(_, p)| Child {
                kind: None,
                properties: p.clone(),
            })
    });
    PlannedStep::new(
        key.clone(),
        action_for(found.as_ref(), &want),
        id.to_string(),
    )
}

/// A saved search's health: there, and as `want` says.
pub(super) async fn saved_search_health(
    look: &kind::Look<'_>,
    item: &kind::Item,
    want: &Value,
) -> Result<kind::Checked> {
    let found = api::get(look.rest, &item.id).await?.map(|c| {
        (!matches(&c, want)).then(|| {
            format!(
                "{} differs from its template in templates/sentinel/",
                item.id
            )
        })
    });
    Ok(kind::Checked::of(item, found))
}
