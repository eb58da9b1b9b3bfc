//! Day two's watch on the stream: the DCR's diagnostic setting (always), and with `--alert-email` an action group
//! and two log alerts ("Keeper events stopped", "Keeper posts refused"); what they are, what exists, the plan.

pub mod action_group;
pub mod alerts;
pub mod diagnostic;

use std::collections::HashMap;

use serde_json::Value;

use crate::azure::monitor::{self as api, LogAlert};
use crate::azure::tags;
use crate::error::Result;
use crate::rest::Rest;
use crate::state::State;

use super::key::AlertRule;
use super::{Action, Change, Inputs, Key, PlannedStep};

/// How long Azure gives an address of a new action group to confirm its subscription, through the one-time
/// passcode it mails ("Action groups", Microsoft Learn: the email must be confirmed within 30 minutes).
pub const CONFIRM_WITHIN_MINUTES: u32 = 30;
/// `--alert-silence-hours`' range: a log alert's query scans at most two days (windowSize × periods ≤ 2 days,
/// day-two-facts.md).
pub const SILENCE_HOURS: std::ops::RangeInclusive<u32> = 1..=48;
pub const DEFAULT_SILENCE_HOURS: u32 = 24;
/// The table diagnostic settings send a DCR's `LogErrors` to.
pub const DCR_ERRORS_TABLE: &str = "DCRLogErrors";

/// What exists of the deployment's monitoring.
#[derive(Debug, Clone, Default)]
pub struct MonitorObserved {
    pub diagnostic: Option<Value>,
    /// Without the tool's own: another diagnostic setting of the DCR that already sends `LogErrors` to the
    /// workspace. Azure refuses a second one (409 Conflict, "Data sink … is already used in diagnostic setting …
    /// for category …": a sink takes a category of a resource from one setting only), so that one is used.
    pub diagnostic_elsewhere: Option<String>,
    pub action_group: Option<Value>,
    /// By rule; absent = not found.
    pub alerts: HashMap<AlertRule, Value>,
}

/// The names, each derived from the deployment: a re-run finds what it made.
pub fn diagnostic_name(deployment: &str) -> String {
    format!("keeper-azmon-{deployment}")
}

pub fn action_group_name(deployment: &str) -> String {
    format!("keeper-azmon-{deployment}")
}

pub fn alert_name(rule: AlertRule, deployment: &str) -> String {
    format!("keeper-{}-{deployment}", rule.key())
}

pub fn diagnostic_id(inputs: &Inputs) -> String {
    api::diagnostic_setting_id(&inputs.dcr_id(), &diagnostic_name(&inputs.deployment))
}

pub fn action_group_id(inputs: &Inputs) -> String {
    api::action_group_id(
        &inputs.subscription,
        &inputs.resource_group,
        &action_group_name(&inputs.deployment),
    )
}

pub fn alert_id(inputs: &Inputs, rule: AlertRule) -> String {
    api::alert_rule_id(
        &inputs.subscription,
        &inputs.resource_group,
        &alert_name(rule, &inputs.deployment),
    )
}

/// The smallest window Azure takes that covers `hours`: log alert windows run PT5M-PT6H, then P1D and P2D only
/// (Terraform azurerm's `window_duration` list, day-two-facts.md). The query narrows a larger window to `hours`
/// itself, with `ago()`.
pub fn window_for(hours: u32) -> String {
    match hours {
        0..=6 => format!("PT{}H", hours.max(1)),
        7..=24 => "P1D".into(),
        _ => "P2D".into(),
    }
}

/// "Keeper events stopped": the table's rows from Keeper itself (neither verify's test events nor backfilled
/// history, `crate::marks::live_only`) within the silence window, counted by the rule: it fires on a Count < 1.
/// Not `… | count`: that always answers one row, so a rule built on it never fires.
pub fn stopped_query(table: &str, hours: u32) -> String {
    format!(
        "{table}\n| where TimeGenerated > ago({hours}h)\n| {}",
        crate::marks::live_only("audit_event", "data")
    )
}

/// "Keeper posts refused": the DCR's ingestion errors (bad payloads, limits, throttling; "Monitor and
/// troubleshoot DCR data collection in Azure Monitor"), by the standard column `_ResourceId`.
pub fn refused_query(dcr_id: &str) -> String {
    format!("{DCR_ERRORS_TABLE}\n| where _ResourceId =~ \"{dcr_id}\"")
}

/// The log alert as setup wants it.
pub fn wanted_alert(rule: AlertRule, inputs: &Inputs) -> LogAlert {
    let hours = inputs
        .alerts
        .as_ref()
        .map_or(DEFAULT_SILENCE_HOURS, |a| a.silence_hours);
    let ws = inputs.workspace_id();
    match rule {
        AlertRule::EventsStopped => LogAlert {
            display_name: "Keeper events stopped".into(),
            description: format!(
                "No event from Keeper Security reached {} in {hours} h (test events and backfilled history left out). Check the Azure Monitor Logs settings in Keeper's Admin Console, and the app's client secret (keeper-azmon status).",
                inputs.table
            ),
            severity: 1,
            scope: ws,
            query: stopped_query(&inputs.table, hours),
            operator: "LessThan",
            threshold: 1.0,
            evaluation_frequency: if hours <= 2 { "PT15M" } else { "PT1H" }.into(),
            window_size: window_for(hours),
            skip_query_validation: false,
            action_group: action_group_id(inputs),
        },
        AlertRule::PostsRefused => LogAlert {
            display_name: "Keeper posts refused".into(),
            description: format!(
                "The Logs Ingestion API refused events posted to the data collection rule {} in the last hour; DCRLogErrors says why (payload, limits, throttling).",
                inputs.dcr_name
            ),
            severity: 2,
            scope: ws,
            query: refused_query(&inputs.dcr_id()),
            operator: "GreaterThan",
            threshold: 0.0,
            evaluation_frequency: "PT15M".into(),
            window_size: "PT1H".into(),
            // DCRLogErrors appears in a workspace with the first error it receives, and ARM refuses a rule whose
            // query names a table it cannot resolve ("Create or edit a log search alert rule": skipQueryValidation).
            // Right after setup the table does not exist yet, so this rule is created without that check.
            skip_query_validation: true,
            action_group: action_group_id(inputs),
        },
    }
}

/// The alert rule's PUT body, in the workspace's region.
pub fn alert_body(rule: AlertRule, inputs: &Inputs, location: &str) -> Value {
    api::alert_rule_body(
        &wanted_alert(rule, inputs),
        location,
        tags(&inputs.deployment),
    )
}

pub fn action_group_body(inputs: &Inputs) -> Value {
    let emails = inputs
        .alerts
        .as_ref()
        .map(|a| a.emails.clone())
        .unwrap_or_default();
    api::action_group_body(&emails, tags(&inputs.deployment))
}

pub fn diagnostic_body(workspace: &str) -> Value {
    api::diagnostic_setting_body(workspace, api::DCR_LOG_CATEGORY)
}

/// Reads the diagnostic setting, and with `--alert-email` the action group and the rules, at once.
pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<MonitorObserved> {
    let (diag_id, group_id) = (diagnostic_id(inputs), action_group_id(inputs));
    let (stopped_id, refused_id) = (
        alert_id(inputs, AlertRule::EventsStopped),
        alert_id(inputs, AlertRule::PostsRefused),
    );
    let dcr = inputs.dcr_id();
    let diag = api::diagnostic_settings(rest, &dcr);
    let Some(_) = &inputs.alerts else {
        let (diagnostic, diagnostic_elsewhere) = ours_or_elsewhere(diag.await?, &diag_id, inputs);
        return Ok(MonitorObserved {
            diagnostic,
            diagnostic_elsewhere,
            ..MonitorObserved::default()
        });
    };
    let (settings, action_group, stopped, refused) = tokio::try_join!(
        diag,
        api::get(rest, &group_id, api::ACTION_GROUP_API),
        api::get(rest, &stopped_id, api::ALERT_RULE_API),
        api::get(rest, &refused_id, api::ALERT_RULE_API),
    )?;
    let mut alerts = HashMap::new();
    for (rule, found) in [
        (AlertRule::EventsStopped, stopped),
        (AlertRule::PostsRefused, refused),
    ] {
        if let Some(f) = found {
            alerts.insert(rule, f);
        }
    }
    let (diagnostic, diagnostic_elsewhere) = ours_or_elsewhere(settings, &diag_id, inputs);
    Ok(MonitorObserved {
        diagnostic,
        diagnostic_elsewhere,
        action_group,
        alerts,
    })
}

/// The tool's diagnostic setting among the DCR's, else the id of another that already sends `LogErrors` to the
/// workspace.
fn ours_or_elsewhere(
    settings: Vec<Value>,
    ours: &str,
    inputs: &Inputs,
) -> (Option<Value>, Option<String>) {
    let id_of = |s: &Value| s["id"].as_str().unwrap_or_default().to_string();
    if let Some(s) = settings
        .iter()
        .find(|s| id_of(s).eq_ignore_ascii_case(ours))
    {
        return (Some(s.clone()), None);
    }
    let ws = inputs.workspace_id();
    let other = settings
        .iter()
        .find(|s| api::sends_to(s, api::DCR_LOG_CATEGORY, &ws))
        .map(id_of);
    (None, other)
}

/// Create, reuse, or update with what would change.
pub fn plan_step(key: &Key, found: Option<&Value>, want: &Value, id: String) -> PlannedStep {
    let Some(found) = found else {
        return PlannedStep::new(key.clone(), Action::Create, id);
    };
    let delta: Vec<Change> = api::property_delta(found, want)
        .into_iter()
        .map(|(f, old, new)| Change::new(&f, old, new))
        .collect();
    let mut step = PlannedStep::new(
        key.clone(),
        if delta.is_empty() {
            Action::Reuse
        } else {
            Action::Update
        },
        id,
    );
    step.delta = delta;
    step
}

/// What a tagged resource's ensure does: writes `body` unless the plan reuses it, recorded first when new (a run
/// cut off after the PUT still knows it is ours); ours when this run makes it, or it carries the deployment's tag
/// (set only by the tool).
pub struct Write<'a> {
    pub key: &'a Key,
    pub id: String,
    pub name: String,
    pub found: Option<&'a Value>,
    pub api_version: &'a str,
}

pub async fn ensure_tagged(
    ctx: &super::Ctx,
    plan: &super::Plan,
    w: Write<'_>,
    body: impl FnOnce() -> Value,
) -> Result<String> {
    let deployment = ctx.inputs.deployment.as_str();
    let ours = w
        .found
        .is_none_or(|f| f["tags"][crate::azure::TAG] == deployment);
    if plan.action(w.key) != Some(Action::Reuse) {
        if w.found.is_none() {
            ctx.record_resource(w.key, &w.id, &w.name, true)?;
        }
        api::put(&ctx.rest, &w.id, w.api_version, &body()).await?;
    }
    ctx.record_resource(w.key, &w.id, &w.name, ours)?;
    Ok(w.id)
}

/// A kind's health: there, and without [`drift`].
pub async fn health(
    look: &super::kind::Look<'_>,
    item: &super::kind::Item,
    api_version: &str,
) -> Result<super::kind::Checked> {
    let found = api::get(look.rest, &item.id, api_version)
        .await?
        .map(|f| drift(&item.key, &f, look.state));
    Ok(super::kind::Checked::of(item, found))
}

/// What the state says: the deployment's workspace and DCR ids.
pub fn recorded_id(state: &State, key: &Key) -> String {
    state
        .resources
        .get(&key.to_string())
        .map(|r| r.id.clone())
        .unwrap_or_default()
}

/// A log alert's or action group's drift, from what the state knows: `None` when it is as setup left it.
pub fn drift(key: &Key, found: &Value, state: &State) -> Option<String> {
    let p = &found["properties"];
    let same = |a: &str, b: &str| !b.is_empty() && a.eq_ignore_ascii_case(b);
    if p["enabled"] == Value::Bool(false) {
        return Some("is disabled".into());
    }
    match key {
        Key::DiagnosticSetting => {
            let ws = recorded_id(state, &Key::Workspace);
            let to = p["workspaceId"].as_str().unwrap_or_default();
            if !ws.is_empty() && !same(to, &ws) {
                return Some(format!("sends to {to}, not the deployment's workspace"));
            }
            (!api::sends_to(found, api::DCR_LOG_CATEGORY, to))
                .then(|| format!("no longer sends {}", api::DCR_LOG_CATEGORY))
        }
        Key::ActionGroup => {
            let receivers = p["emailReceivers"].as_array().cloned().unwrap_or_default();
            if receivers.is_empty() {
                return Some("mails no one".into());
            }
            let off: Vec<&str> = receivers
                .iter()
                .filter(|r| r["status"] == "Disabled")
                .filter_map(|r| r["emailAddress"].as_str())
                .collect();
            (!off.is_empty()).then(|| {
                format!(
                    "{} unsubscribed from its mails: re-run setup to send the confirmation again",
                    off.join(", ")
                )
            })
        }
        Key::LogAlert(rule) => {
            let group = recorded_id(state, &Key::ActionGroup);
            let mails = p["actions"]["actionGroups"].as_array().is_some_and(|g| {
                g.iter()
                    .any(|g| same(g.as_str().unwrap_or_default(), &group))
            });
            if !group.is_empty() && !mails {
                return Some("no longer names the deployment's action group".into());
            }
            let ws = recorded_id(state, &Key::Workspace);
            let scoped = p["scopes"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| same(s.as_str().unwrap_or_default(), &ws)));
            if !ws.is_empty() && !scoped {
                return Some("is no longer scoped to the deployment's workspace".into());
            }
            let query = p["criteria"]["allOf"][0]["query"]
                .as_str()
                .unwrap_or_default();
            let expected = match rule {
                AlertRule::EventsStopped => crate::marks::live_only("audit_event", "data"),
                AlertRule::PostsRefused => recorded_id(state, &Key::Dcr),
            };
            (!query
                .to_ascii_lowercase()
                .contains(&expected.to_ascii_lowercase()))
            .then(|| "its query is no longer the one setup wrote".to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_the_silence_with_a_window_azure_takes() {
        assert_eq!(window_for(1), "PT1H");
        assert_eq!(window_for(6), "PT6H");
        assert_eq!(window_for(7), "P1D");
        assert_eq!(window_for(24), "P1D");
        assert_eq!(window_for(25), "P2D");
        assert_eq!(window_for(48), "P2D");
    }

    #[test]
    fn the_silence_query_counts_rows_and_leaves_out_the_tools_own() {
        let q = stopped_query("KeeperLogs_CL", 10);
        assert!(q.starts_with("KeeperLogs_CL\n"));
        assert!(q.contains("ago(10h)"));
        assert!(q.contains(crate::marks::VERIFY_AUDIT_EVENT));
        assert!(q.contains(crate::marks::BACKFILL_KEY));
        // The pitfall: `| count` answers one row whatever the table holds, and such a rule never fires.
        assert!(!q.contains("count"));
    }
}
