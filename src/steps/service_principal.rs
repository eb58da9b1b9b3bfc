//! Guide step 1 (second half): the app's service principal, made once Graph shows the new app, and ours when this
//! run made it or the app is ours.

use futures::future::BoxFuture;

use crate::azure::graph::{self, Application, ServicePrincipal as Sp};
use crate::error::{Error, Result};
use crate::state::State;

use super::app::{create_reconciled, find_until, graph_delete, plan, APP_REPLICATING};
use super::kind::{self, Checked, Deleted, Deleting, Discovery, Item, KindId, Look};
use super::{Ctx, Inputs, Key, Observed, Plan, PlannedStep};

/// The app's service principal.
pub struct ServicePrincipal;

/// Ensures the app's service principal: found or created. It is ours when this run made it or the app is ours.
/// While a new app has not replicated, Graph refuses the service principal (400 "does not reference a valid
/// application object"): retried, bounded. A create whose answer was lost, or that an interrupted run made,
/// conflicts (409) while Graph does not list it yet: looked for again until it shows.
async fn ensure_sp(ctx: &Ctx, found: Option<Sp>) -> Result<String> {
    let app = &ctx.made.get::<Application>()?;
    let step = &Key::ServicePrincipal.to_string();
    let made = found.is_none();
    let sp = match found {
        Some(sp) => sp,
        None => {
            let tag = ctx.inputs.app_tag();
            let find = || graph::find_service_principal(&ctx.rest, &app.app_id);
            let created = graph::while_replicating(
                || ctx.reporter.waiting(step, APP_REPLICATING),
                || {
                    create_reconciled(
                        ctx,
                        step,
                        || graph::create_service_principal(&ctx.rest, &app.app_id, &tag),
                        find,
                    )
                },
            )
            .await;
            match created {
                Err(Error::Azure(e)) if e.status == 409 => {
                    let deadline = crate::rest::now() + graph::REPLICATION_WAIT;
                    find_until(
                        ctx,
                        step,
                        "waiting for the existing service principal to show in Microsoft Graph",
                        deadline,
                        find,
                    )
                    .await?
                    .ok_or(Error::Azure(e))?
                }
                other => other?,
            }
        }
    };
    let ours = made || ctx.was_created(&Key::Application);
    ctx.record_resource(&Key::ServicePrincipal, &sp.id, &app.display_name, ours)?;
    let id = sp.id.clone();
    ctx.made.put(sp);
    Ok(id)
}

impl kind::Resource for ServicePrincipal {
    fn kind(&self) -> KindId {
        KindId::ServicePrincipal
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::ServicePrincipal]
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::Application]
    }

    fn plan(&self, _key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let [_, sp] = plan(inputs, o);
        sp
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        _key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(ensure_sp(ctx, plan.observed.sp.clone()))
    }

    fn recorded(&self, state: &State) -> Vec<Item> {
        super::resource_group::named(self, state)
    }

    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = graph::get_while_replicating(look.graph_until, || {
                graph::get_service_principal(look.rest, &item.id)
            })
            .await?;
            Ok(Checked::of(item, found.map(|_| None)))
        })
    }

    fn fate(&self, item: &Item, _keeping: &kind::Keeping, _state: &State) -> kind::Fate {
        if item.created {
            kind::Fate::Delete
        } else {
            kind::Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.name))
        }
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        graph_delete(cx, item, move || {
            graph::delete_service_principal(cx.rest, &item.id)
        })
    }

    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(app) = d.found_app.clone() else {
                return Ok(());
            };
            let owned = d
                .state
                .resources
                .get(&Key::Application.to_string())
                .is_some_and(|a| a.created);
            if let Some(sp) = graph::find_service_principal(d.rest, &app.app_id).await? {
                d.record(&Key::ServicePrincipal, &sp.id, &app.display_name, owned);
            }
            Ok(())
        })
    }
}
