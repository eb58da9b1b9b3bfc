//! Sentinel content without a state file (`status`/`teardown --deployment`): found at its deterministic ids.

use crate::azure::sentinel as api;
use crate::error::Result;
use crate::rest::Rest;
use crate::steps::Key;

use super::{asim, content_id_in, function_alias, reads, Ids, WORKBOOK_NAME};

/// Without a state file (`status`/`teardown --deployment`): the content this deployment made in `workspace_id`,
/// found at its deterministic ids. The onboarding is not claimed: nothing says who turned Sentinel on.
pub async fn discover(
    rest: &Rest,
    state: &mut crate::state::State,
    workspace_id: &str,
) -> Result<()> {
    let ids = Ids::new(
        &state.deployment,
        &state.subscription_id,
        &state.resource_group,
        workspace_id,
    );
    let mut wanted: Vec<(Key, String, String)> = vec![
        (
            Key::SentinelFunction,
            ids.function.clone(),
            function_alias(),
        ),
        (
            Key::SentinelWorkbook,
            ids.workbook.clone(),
            WORKBOOK_NAME.into(),
        ),
    ];
    for (t, id) in &ids.rules {
        wanted.push((Key::SentinelRule(t.to_string()), id.clone(), t.to_string()));
    }
    for p in asim::parsers()? {
        let key = Key::AsimParser(p.alias.clone());
        let id = content_id_in(&state.deployment, workspace_id, &key);
        wanted.push((key, id, p.alias));
    }
    for (h, _) in asim::HUNTING {
        let key = Key::HuntingQuery(h.to_string());
        let id = content_id_in(&state.deployment, workspace_id, &key);
        wanted.push((key, id, h.to_string()));
    }
    // Keeper's line in the custom unifying parsers: the ones the tool made sit at its ids; an admin's own that
    // calls Keeper's parser holds the tool's line (teardown takes out only that).
    let searches = api::saved_searches_with_properties(rest, workspace_id).await?;
    for u in asim::unifying()? {
        let key = Key::AsimUnifying(u.alias.clone());
        let ours = content_id_in(&state.deployment, workspace_id, &key);
        let found = searches.iter().find(|(_, p)| {
            p["functionAlias"].as_str() == Some(u.alias.as_str())
                && reads(p["query"].as_str().unwrap_or_default(), &u.parser)
        });
        if let Some((id, _)) = found {
            state.resources.insert(
                key.to_string(),
                crate::state::Resource {
                    id: id.clone(),
                    name: u.alias.clone(),
                    created: id.eq_ignore_ascii_case(&ours),
                },
            );
        }
    }
    let found =
        futures::future::try_join_all(wanted.iter().map(|(_, id, _)| api::get(rest, id))).await?;
    for ((kind, id, name), f) in wanted.into_iter().zip(found) {
        if f.is_some() {
            state.resources.insert(
                kind.to_string(),
                crate::state::Resource {
                    id,
                    name,
                    created: true,
                },
            );
        }
    }
    Ok(())
}
