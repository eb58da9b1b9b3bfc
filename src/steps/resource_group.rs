//! Before guide step 1: the resource group, made only with `--create-resource-group`.

use futures::future::BoxFuture;

use crate::azure::providers::{self, ResourceGroup as Group};
use crate::azure::tags;
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

use super::kind::{self, Arm, Checked, Deleted, Deleting, Discovery, Fate, Item, Keeping, KindId};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct ResourceGroup;

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Group>> {
    providers::resource_group(rest, &inputs.subscription, &inputs.resource_group).await
}

/// Creates the group when the plan says so; a group is ours when we made it or it carries our tag.
async fn ensure(ctx: &Ctx, action: Action, found: Option<&Group>) -> Result<String> {
    let i = &ctx.inputs;
    if action == Action::Create {
        providers::create_resource_group(
            &ctx.rest,
            &i.subscription,
            &i.resource_group,
            &i.location,
            tags(&i.deployment),
        )
        .await?;
    }
    let ours = action == Action::Create || found.is_some_and(|g| g.has_tag(&i.deployment));
    ctx.record_resource(&Key::ResourceGroup, &i.rg_id(), &i.resource_group, ours)?;
    Ok(i.rg_id())
}

impl kind::Resource for ResourceGroup {
    fn kind(&self) -> KindId {
        KindId::ResourceGroup
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.create_resource_group {
            vec![Key::ResourceGroup]
        } else {
            vec![]
        }
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: providers::RESOURCE_GROUP_TYPE,
            api_version: providers::RESOURCE_GROUPS_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        PlannedStep::new(
            key.clone(),
            Action::create_or_reuse(o.resource_group.is_some()),
            inputs.rg_id(),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let action = plan.action(key).unwrap_or(Action::Create);
        Box::pin(ensure(ctx, action, plan.observed.resource_group.as_ref()))
    }

    fn health<'a>(
        &'a self,
        look: &'a kind::Look<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let s = look.state;
            let found =
                providers::resource_group(look.rest, &s.subscription_id, &s.resource_group).await?;
            Ok(Checked::of(item, found.map(|_| None)))
        })
    }

    fn fate(&self, item: &Item, keeping: &Keeping, state: &State) -> Fate {
        let holds_kept = keeping.workspace
            && state
                .resources
                .get(&Key::Workspace.to_string())
                .is_some_and(|w| w.created);
        if holds_kept {
            Fate::Keep(format!(
                "{} {} (holds the kept workspace)",
                item.key, item.name
            ))
        } else if item.created {
            Fate::Delete
        } else {
            Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.name))
        }
    }

    fn recorded(&self, state: &State) -> Vec<Item> {
        named(self, state)
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        _item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move {
            let s = cx.state;
            // Ours, but something else may have moved in since: never delete a group that is not empty.
            let left =
                providers::resources_in_group(cx.rest, &s.subscription_id, &s.resource_group)
                    .await?;
            if !left.is_empty() {
                return Err(Error::input(
                    format!(
                        "resource group {} still holds {} resource(s) this tool did not create: {}",
                        s.resource_group,
                        left.len(),
                        left.join(", ")
                    ),
                    "move or delete them, then re-run teardown; everything else is already gone",
                ));
            }
            let existed =
                providers::delete_resource_group(cx.rest, &s.subscription_id, &s.resource_group)
                    .await?;
            Ok(Deleted::existed(existed))
        })
    }

    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let groups = providers::tagged(
                d.rest,
                d.subscription,
                crate::azure::TAG,
                d.deployment,
                true,
            )
            .await?;
            if groups.len() > 1 {
                // Taking one would tear down a deployment chosen by the order ARM lists them in.
                let names: Vec<&str> = groups
                    .iter()
                    .map(|g| crate::azure::name_of(g["id"].as_str().unwrap_or_default()))
                    .collect();
                return Err(Error::input(
                    format!(
                        "{} resource groups carry the tag {}={}: {}",
                        groups.len(),
                        crate::azure::TAG,
                        d.deployment,
                        names.join(", ")
                    ),
                    "pass --state with the state file of the deployment you mean, or remove the tag from the groups that are not this deployment's",
                ));
            }
            if let Some(g) = groups.first() {
                let id = g["id"].as_str().unwrap_or_default();
                let name = crate::azure::name_of(id).to_string();
                d.record(&Key::ResourceGroup, id, &name, true);
                d.state.resource_group = name;
            }
            Ok(())
        })
    }
}

/// The state's items of `kind`, which teardown names by name and id.
pub fn named(kind: &dyn kind::Resource, state: &State) -> Vec<Item> {
    state
        .resources
        .iter()
        .filter_map(|(k, r)| {
            let key = Key::parse(k).filter(|key| key.kind() == kind.kind())?;
            let mut item = Item::from_record(key, r);
            item.shown = format!("{} ({})", r.name, r.id);
            Some(item)
        })
        .collect()
}
