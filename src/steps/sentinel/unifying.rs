//! `--sentinel`: Keeper's line in each custom unifying parser (`Im_<Schema>Custom`, `ASim_<Schema>Custom`), so that
//! the built-in `_Im_*` / `_ASim_*` parsers include Keeper: made when there is none, added to the admin's own when
//! that is safe, else left unchanged with the line to add printed. Teardown takes out only Keeper's line.

use futures::future::BoxFuture;
use serde_json::Value;

use crate::azure::sentinel as api;
use crate::error::{Error, Result};
use crate::state::State;
use crate::steps::kind::{
    self, Arm, Checked, Deleted, Deleting, Fate, Health, Item, Keeping, KindId, Look,
};
use crate::steps::{Action, Change, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

use super::asim::{self, Unifying};

pub struct UnifyingParsers;

fn unifying_of(key: &Key) -> Result<Unifying> {
    let Key::AsimUnifying(alias) = key else {
        return Err(Error::Other(format!(
            "{key} is not a custom unifying parser"
        )));
    };
    asim::unifying()?
        .into_iter()
        .find(|u| u.alias == *alias)
        .ok_or_else(|| Error::Other(format!("no custom unifying parser {alias}")))
}

/// The query of a saved search's properties.
fn query_of(props: &Value) -> &str {
    props["query"].as_str().unwrap_or_default()
}

/// What setup does with one custom unifying parser, from the workspace's saved searches.
enum Found {
    /// None of that alias: the tool makes it at its own id.
    None,
    /// It calls Keeper's parser already.
    Has(String),
    /// The admin's: the line can be added.
    Addable(String),
    /// The admin's, and not a plain union: left unchanged.
    Unsafe(String),
}

fn found(u: &Unifying, o: &Observed) -> Found {
    let Some((id, props)) = o
        .sentinel
        .as_ref()
        .and_then(|s| super::search_by_alias(s, &u.alias))
    else {
        return Found::None;
    };
    let q = query_of(&props);
    if super::reads(q, &u.parser) {
        Found::Has(id)
    } else if asim::add_line(
        q,
        props["functionParameters"].as_str().unwrap_or(""),
        &u.line,
    )
    .is_some()
    {
        Found::Addable(id)
    } else {
        Found::Unsafe(id)
    }
}

/// The body the tool makes a custom unifying parser with.
fn new_body(u: &Unifying) -> Value {
    asim::function_body(
        asim::UNIFYING_CATEGORY,
        &format!(
            "ASIM custom unifying parser {} (Keeper added by keeper-azmon)",
            u.alias
        ),
        &u.alias,
        &u.parameters,
        &asim::new_unifying_query(&u.line),
    )
}

/// A saved search's properties with another query, everything else as it was.
fn with_query(props: &Value, query: String) -> Value {
    let mut p = props.clone();
    if let Some(o) = p.as_object_mut() {
        // Read-only or service-set fields are not sent back.
        o.remove("etag");
        o.insert("query".into(), Value::String(query));
    }
    serde_json::json!({ "properties": p })
}

impl kind::Resource for UnifyingParsers {
    fn kind(&self) -> KindId {
        KindId::AsimUnifying
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.sentinel.is_none() {
            return vec![];
        }
        asim::unifying()
            .map(|us| us.into_iter().map(|u| Key::AsimUnifying(u.alias)).collect())
            .unwrap_or_default()
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::AsimParser]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::SAVED_SEARCH_TYPE,
            api_version: api::SAVED_SEARCHES_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let Ok(u) = unifying_of(key) else {
            return PlannedStep::new(key.clone(), Action::Reuse, String::new());
        };
        match found(&u, o) {
            Found::None => {
                PlannedStep::new(key.clone(), Action::Create, super::content_id(inputs, key))
            }
            Found::Has(id) => PlannedStep::new(key.clone(), Action::Reuse, id),
            Found::Addable(id) => {
                let mut s = PlannedStep::new(key.clone(), Action::Update, id);
                s.delta = vec![Change::new(
                    "query",
                    "(the admin's sources)",
                    format!("+ {}", u.line),
                )];
                s
            }
            Found::Unsafe(id) => {
                let mut s = PlannedStep::new(key.clone(), Action::Reuse, id);
                s.detail = Some(format!(
                    "left unchanged (not a plain union of parsers); to include Keeper in ASIM, add this line to {}: {}",
                    u.alias, u.line
                ));
                s
            }
        }
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let u = unifying_of(key)?;
            match found(&u, &plan.observed) {
                Found::None => {
                    let id = super::content_id(&ctx.inputs, key);
                    ctx.record_resource(key, &id, &u.alias, true)?;
                    api::put(&ctx.rest, &id, &new_body(&u)).await?;
                    ctx.record_resource(key, &id, &u.alias, true)?;
                    Ok(id)
                }
                Found::Has(id) => {
                    ctx.record_resource(key, &id, &u.alias, false)?;
                    Ok(id)
                }
                Found::Addable(id) => {
                    // Added to what is there now, not to what the plan saw.
                    let now = api::get(&ctx.rest, &id).await?.ok_or_else(|| {
                        Error::Other(format!("{} ({id}) was deleted during setup", u.alias))
                    })?;
                    let q = query_of(&now.properties);
                    let params = now.properties["functionParameters"].as_str().unwrap_or("");
                    let added = asim::add_line(q, params, &u.line).ok_or_else(|| {
                        Error::Other(format!(
                            "{} changed during setup; run setup again, or add this line yourself: {}",
                            u.alias, u.line
                        ))
                    })?;
                    ctx.record_resource(key, &id, &u.alias, false)?;
                    api::put(&ctx.rest, &id, &with_query(&now.properties, added)).await?;
                    Ok(id)
                }
                // Nothing recorded: nothing of the tool's is in it.
                Found::Unsafe(id) => Ok(id),
            }
        })
    }

    /// Healthy while it still calls Keeper's parser.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let u = unifying_of(&item.key)?;
            Ok(match api::get(look.rest, &item.id).await? {
                None => Checked::new(Health::Missing, item.id.clone()),
                Some(c) if super::reads(query_of(&c.properties), &u.parser) => {
                    Checked::new(Health::Ok, item.id.clone())
                }
                Some(_) => Checked::new(
                    Health::Drifted,
                    format!("{}: Keeper's line is gone; add: {}", item.id, u.line),
                ),
            })
        })
    }

    /// Teardown takes Keeper's line out of it, whoever made it (deleting it only when nothing else is left).
    fn fate(&self, _item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        Fate::Delete
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move {
            let u = unifying_of(&item.key)?;
            let Some(now) = api::get(cx.rest, &item.id).await? else {
                return Ok(Deleted::existed(false));
            };
            let (rest, any_left) =
                match asim::remove_line(query_of(&now.properties), &u.parser, &u.line) {
                    asim::Removal::Done(rest, any_left) => (rest, any_left),
                    asim::Removal::Absent => {
                        return Ok(Deleted {
                            existed: false,
                            how: Some("Keeper's line was already gone".into()),
                            ..Deleted::default()
                        })
                    }
                    // Their query, edited around Keeper's call: not the tool's to rewrite.
                    asim::Removal::Unsafe => {
                        return Ok(Deleted {
                            existed: true,
                            how: Some("left unchanged: it is not a plain union of parsers".into()),
                            closing: Some(format!(
                                "{} ({}) still calls {}, which teardown deletes: take it out of that function yourself",
                                u.alias, item.id, u.parser
                            )),
                            ..Deleted::default()
                        })
                    }
                };
            if !any_left {
                return Ok(Deleted::existed(api::delete(cx.rest, &item.id).await?));
            }
            api::put(cx.rest, &item.id, &with_query(&now.properties, rest)).await?;
            Ok(Deleted {
                existed: true,
                how: Some("took out Keeper's line, kept the rest".into()),
                ..Deleted::default()
            })
        })
    }
}
