//! `--alert-email`: the log alerts "Keeper events stopped" and "Keeper posts refused", scoped to the workspace.

use futures::future::BoxFuture;

use crate::azure::monitor as api;
use crate::error::{Error, Result};
use crate::state::State;
use crate::steps::key::AlertRule;
use crate::steps::kind::{self, Arm, Checked, Discovery, Item, KindId, Look};
use crate::steps::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct LogAlerts;

/// The region of the workspace the rule reads: the one found, else the one setup creates it in.
fn location(inputs: &Inputs, o: &Observed) -> String {
    o.workspace
        .as_ref()
        .map(|w| w.location.clone())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| inputs.location.clone())
}

impl kind::Resource for LogAlerts {
    fn kind(&self) -> KindId {
        KindId::LogAlert
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        if inputs.alerts.is_some() {
            AlertRule::ALL.into_iter().map(Key::LogAlert).collect()
        } else {
            vec![]
        }
    }

    /// A rule names its action group and reads the workspace (the silence rule its table, which ARM checks the
    /// query against; the refusal rule the DCR's errors).
    fn depends_on(&self, key: &Key) -> Vec<KindId> {
        match key {
            Key::LogAlert(AlertRule::PostsRefused) => {
                vec![KindId::ActionGroup, KindId::Workspace, KindId::Dcr]
            }
            _ => vec![KindId::ActionGroup, KindId::Workspace, KindId::Table],
        }
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: api::ALERT_RULE_TYPE,
            api_version: api::ALERT_RULE_API,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let Key::LogAlert(rule) = key else {
            return PlannedStep::new(key.clone(), Action::Create, String::new());
        };
        super::plan_step(
            key,
            o.monitor.alerts.get(rule),
            &super::alert_body(*rule, inputs, &location(inputs, o)),
            super::alert_id(inputs, *rule),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let Key::LogAlert(rule) = key else {
                return Err(Error::Other(format!("{key} is not a log alert")));
            };
            let i = &ctx.inputs;
            let write = super::Write {
                key,
                id: super::alert_id(i, *rule),
                name: super::alert_name(*rule, &i.deployment),
                found: plan.observed.monitor.alerts.get(rule),
                api_version: api::ALERT_RULE_API,
            };
            super::ensure_tagged(ctx, plan, write, || {
                super::alert_body(*rule, i, &location(i, &plan.observed))
            })
            .await
        })
    }

    /// Drifted when disabled, no longer mailing the action group, scoped elsewhere, or its query changed.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(super::health(look, item, api::ALERT_RULE_API))
    }

    /// The rules that carry the deployment's tag, told apart by their names.
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let found: Vec<(String, String)> = d
                .tagged()
                .await?
                .iter()
                .filter(|r| {
                    r["type"]
                        .as_str()
                        .is_some_and(|t| t.eq_ignore_ascii_case(api::ALERT_RULE_TYPE))
                })
                .filter_map(|r| {
                    Some((
                        r["id"].as_str()?.to_string(),
                        r["name"].as_str()?.to_string(),
                    ))
                })
                .collect();
            for rule in AlertRule::ALL {
                let want = super::alert_name(rule, d.deployment);
                if let Some((id, name)) = found.iter().find(|(_, n)| n.eq_ignore_ascii_case(&want))
                {
                    d.record(&Key::LogAlert(rule), id, name, true);
                }
            }
            Ok(())
        })
    }
}
