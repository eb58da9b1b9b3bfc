//! The DCR's diagnostic setting: its `LogErrors` to the workspace, so that `DCRLogErrors` says why Keeper's posts
//! fail. Made by every setup.

use futures::future::BoxFuture;

use crate::azure::monitor as api;
use crate::error::Result;
use crate::state::State;
use crate::steps::kind::{self, Arm, Checked, Discovery, Fate, Item, Keeping, KindId, Look};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct DiagnosticSetting;

impl kind::Resource for DiagnosticSetting {
    fn kind(&self) -> KindId {
        KindId::DiagnosticSetting
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::DiagnosticSetting]
    }

    /// It sits on the DCR and sends to the workspace.
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::Dcr, KindId::Workspace]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::DIAGNOSTIC_SETTING_TYPE,
            api_version: api::DIAGNOSTIC_SETTING_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        if let Some(other) = &o.monitor.diagnostic_elsewhere {
            let mut step = PlannedStep::new(key.clone(), Action::Reuse, other.clone());
            step.detail = Some(format!(
                "another diagnostic setting of the DCR already sends {} to the workspace: Azure takes one only",
                api::DCR_LOG_CATEGORY
            ));
            return step;
        }
        super::plan_step(
            key,
            o.monitor.diagnostic.as_ref(),
            &super::diagnostic_body(&inputs.workspace_id()),
            super::diagnostic_id(inputs),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let i = &ctx.inputs;
            if let Some(other) = &plan.observed.monitor.diagnostic_elsewhere {
                // Someone else's: used, not owned; teardown leaves it.
                ctx.record_resource(key, other, crate::azure::name_of(other), false)?;
                return Ok(other.clone());
            }
            let id = super::diagnostic_id(i);
            let name = super::diagnostic_name(&i.deployment);
            if plan.action(key) != Some(Action::Reuse) {
                // Its name is derived from the deployment: whatever sits there is the tool's. A diagnostic setting
                // has no tags (a proxy resource), so the name is how it is known. Recorded first: a run cut off
                // after the PUT still knows it is ours.
                ctx.record_resource(key, &id, &name, true)?;
                api::put(
                    &ctx.rest,
                    &id,
                    api::DIAGNOSTIC_SETTING_API,
                    &super::diagnostic_body(&i.workspace_id()),
                )
                .await?;
            }
            ctx.record_resource(key, &id, &name, true)?;
            Ok(id)
        })
    }

    /// Drifted when it no longer sends `LogErrors` to the deployment's workspace.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(super::health(look, item, api::DIAGNOSTIC_SETTING_API))
    }

    /// Its id is derived from the deployment: what the state records is the tool's. Deleted before the DCR:
    /// Azure keeps a resource's diagnostic settings when the resource itself is deleted, and gives them back to
    /// a new resource of the same id ("Diagnostic settings in Azure Monitor").
    fn fate(&self, item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        if item.created {
            Fate::Delete
        } else {
            Fate::Keep(format!(
                "{} {} (another diagnostic setting, not ours)",
                item.key, item.id
            ))
        }
    }

    /// Found on the DCR discovery found, by its name.
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(dcr) = d.id_of(&Key::Dcr) else {
                return Ok(());
            };
            let name = super::diagnostic_name(d.deployment);
            let id = api::diagnostic_setting_id(&dcr, &name);
            if api::get(d.rest, &id, api::DIAGNOSTIC_SETTING_API)
                .await?
                .is_some()
            {
                d.record(&Key::DiagnosticSetting, &id, &name, true);
            }
            Ok(())
        })
    }
}
