//! Azure Monitor's alerting and diagnostics (Microsoft.Insights): action groups (2023-01-01), log alert rules
//! (scheduledQueryRules 2023-12-01) and a resource's diagnostic settings (2021-05-01-preview), their ids and bodies.
//!
//! Bodies follow the specs in `shared/azure-specs` (actionGroups_API.json `ActionGroupResource`,
//! scheduledQueryRule_API.json `ScheduledQueryRuleResource`, diagnosticsSettings_API.json
//! `DiagnosticSettingsResource`).

use serde_json::{json, Value};

use super::{arm_get, arm_list_as, arm_put};
use crate::error::Result;
use crate::rest::Rest;

pub const ACTION_GROUP_TYPE: &str = "Microsoft.Insights/actionGroups";
/// The newest stable version (actionGroups_API.json).
pub const ACTION_GROUP_API: &str = "2023-01-01";
pub const ALERT_RULE_TYPE: &str = "Microsoft.Insights/scheduledQueryRules";
/// The newest stable version; newer ones are previews (scheduledQueryRule_API.json).
pub const ALERT_RULE_API: &str = "2023-12-01";
pub const DIAGNOSTIC_SETTING_TYPE: &str = "Microsoft.Insights/diagnosticSettings";
/// There is no stable version of diagnostic settings; this is the newest (diagnosticsSettings_API.json).
pub const DIAGNOSTIC_SETTING_API: &str = "2021-05-01-preview";
/// An action group's location: `Global` in every example of Microsoft's, and no Government region is listed for
/// regional processing (day-two-facts.md).
pub const ACTION_GROUP_LOCATION: &str = "Global";
/// The short name shown in the mails and SMS Azure sends: at most 12 characters (`groupShortName`).
pub const GROUP_SHORT_NAME: &str = "keeper-azmon";
/// The one log category a data collection rule has: ingestion and transformation errors, sent to the table
/// `DCRLogErrors` ("Monitor and troubleshoot DCR data collection in Azure Monitor").
pub const DCR_LOG_CATEGORY: &str = "LogErrors";

pub fn action_group_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{ACTION_GROUP_TYPE}/{name}")
}

pub fn alert_rule_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{ALERT_RULE_TYPE}/{name}")
}

/// A diagnostic setting is an extension resource: it lives under the resource it watches.
pub fn diagnostic_setting_id(resource: &str, name: &str) -> String {
    format!("{resource}/providers/{DIAGNOSTIC_SETTING_TYPE}/{name}")
}

/// The action group's PUT body: one email receiver per address.
pub fn action_group_body(emails: &[String], tags: Value) -> Value {
    let receivers: Vec<Value> = emails
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({
                "name": format!("email-{}", i + 1),
                "emailAddress": e,
                "useCommonAlertSchema": true,
            })
        })
        .collect();
    json!({
        "location": ACTION_GROUP_LOCATION,
        "tags": tags,
        "properties": {
            "groupShortName": GROUP_SHORT_NAME,
            "enabled": true,
            "emailReceivers": receivers,
        }
    })
}

/// What a log alert fires on: rows counted against a threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAlert {
    pub display_name: String,
    pub description: String,
    /// 0 (critical) to 4 (verbose).
    pub severity: u8,
    /// The workspace it queries.
    pub scope: String,
    pub query: String,
    /// `LessThan`, `GreaterThan`, ...
    pub operator: &'static str,
    pub threshold: f64,
    /// ISO 8601.
    pub evaluation_frequency: String,
    /// ISO 8601: the time range the query scans.
    pub window_size: String,
    /// Create without checking that the query's tables resolve (a table that appears with its first row).
    pub skip_query_validation: bool,
    pub action_group: String,
}

/// The log alert's PUT body (kind LogAlert). `timeAggregation` is `Count`, which counts the query's rows and
/// takes no `metricMeasureColumn` (scheduledQueryRule_API.json, `Condition`).
pub fn alert_rule_body(rule: &LogAlert, location: &str, tags: Value) -> Value {
    let mut properties = json!({
        "displayName": rule.display_name,
        "description": rule.description,
        "severity": rule.severity,
        "enabled": true,
        "scopes": [rule.scope],
        "evaluationFrequency": rule.evaluation_frequency,
        "windowSize": rule.window_size,
        "criteria": { "allOf": [{
            "query": rule.query,
            "timeAggregation": "Count",
            "operator": rule.operator,
            "threshold": rule.threshold,
            "failingPeriods": { "numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1 },
        }]},
        // Resolved by Azure once the condition no longer holds; supported up to a 12 h frequency.
        "autoMitigate": true,
        "actions": { "actionGroups": [rule.action_group] },
    });
    if rule.skip_query_validation {
        properties["skipQueryValidation"] = Value::Bool(true);
    }
    json!({ "location": location, "tags": tags, "kind": "LogAlert", "properties": properties })
}

/// The diagnostic setting's PUT body: `category` of the resource's logs, to the workspace. A diagnostic setting
/// is a proxy resource: it has neither tags nor a location (DiagnosticSettingsResource).
pub fn diagnostic_setting_body(workspace: &str, category: &str) -> Value {
    json!({
        "properties": {
            "workspaceId": workspace,
            "logs": [{ "category": category, "enabled": true }],
        }
    })
}

pub async fn get(rest: &Rest, id: &str, api_version: &str) -> Result<Option<Value>> {
    arm_get(rest, id, api_version).await
}

/// Creates or updates: every one of the three answers synchronously (200 or 201, with the resource).
pub async fn put(rest: &Rest, id: &str, api_version: &str, body: &Value) -> Result<Value> {
    Ok(arm_put(rest, id, api_version, body).await?.body)
}

/// The diagnostic settings of a resource (none when the resource does not exist).
pub async fn diagnostic_settings(rest: &Rest, resource: &str) -> Result<Vec<Value>> {
    arm_list_as(
        rest,
        &format!("{resource}/providers/{DIAGNOSTIC_SETTING_TYPE}"),
        DIAGNOSTIC_SETTING_API,
    )
    .await
}

/// Whether a diagnostic setting (as Azure answers it) sends `category` of its resource to `workspace`.
pub fn sends_to(setting: &Value, category: &str, workspace: &str) -> bool {
    let p = &setting["properties"];
    p["workspaceId"]
        .as_str()
        .is_some_and(|w| w.eq_ignore_ascii_case(workspace))
        && p["logs"].as_array().is_some_and(|l| {
            l.iter().any(|c| {
                (c["category"] == category || c["categoryGroup"] == "allLogs")
                    && c["enabled"] == Value::Bool(true)
            })
        })
}

/// Whether `found` (what Azure answers) has every value `want` (a PUT body) sets: Azure adds read-only fields
/// (an email receiver's `status`, `createdWithApiVersion`), so only what the tool sends is compared. Numbers are
/// compared as numbers (a threshold of `1` comes back as `1.0`) and object keys without regard to case (ARM
/// may answer `workspaceId` as `workspaceID`).
pub fn has_values(found: &Value, want: &Value) -> bool {
    match (found, want) {
        (Value::Object(f), Value::Object(w)) => w.iter().all(|(k, wv)| {
            f.iter()
                .find(|(fk, _)| fk.eq_ignore_ascii_case(k))
                .is_some_and(|(_, fv)| has_values(fv, wv))
        }),
        (Value::Array(f), Value::Array(w)) => {
            f.len() == w.len() && f.iter().zip(w).all(|(a, b)| has_values(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        // Resource ids and locations: ARM is free with their case.
        (Value::String(a), Value::String(b)) => {
            a == b
                || ((a.starts_with('/') || b == ACTION_GROUP_LOCATION) && a.eq_ignore_ascii_case(b))
        }
        (a, b) => a == b,
    }
}

/// The fields of `want`'s properties that `found` does not have as `want` says: (field, now, wanted), for a
/// plan's delta.
pub fn property_delta(found: &Value, want: &Value) -> Vec<(String, String, String)> {
    let Some(w) = want.get("properties").and_then(Value::as_object) else {
        return vec![];
    };
    let f = found.get("properties").cloned().unwrap_or(Value::Null);
    let mut out: Vec<(String, String, String)> = w
        .iter()
        .filter(|(k, wv)| !f.get(k.as_str()).is_some_and(|fv| has_values(fv, wv)))
        .map(|(k, wv)| {
            let now = f
                .get(k.as_str())
                .map_or("(none)".to_string(), Value::to_string);
            (k.clone(), now, wv.to_string())
        })
        .collect();
    if let Some(t) = want.get("tags") {
        if !found.get("tags").is_some_and(|ft| has_values(ft, t)) {
            let now = found
                .get("tags")
                .map_or("(none)".to_string(), Value::to_string);
            out.push(("tags".into(), now, t.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_name_fits_azures_twelve_characters() {
        assert!(GROUP_SHORT_NAME.len() <= 12);
    }

    #[test]
    fn an_action_group_has_one_email_receiver_per_address() {
        let b = action_group_body(
            &["a@x.com".into(), "b@x.com".into()],
            json!({"keeper-azmon": "d"}),
        );
        assert_eq!(b["location"], "Global");
        let r = b["properties"]["emailReceivers"]
            .as_array()
            .expect("receivers");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1]["emailAddress"], "b@x.com");
        assert_ne!(r[0]["name"], r[1]["name"]);
    }

    #[test]
    fn what_azure_adds_is_not_drift_but_a_changed_value_is() {
        let want = json!({"properties": {"threshold": 1, "scopes": ["/subscriptions/S/x"], "emailReceivers": [{"emailAddress": "a@x.com"}]}});
        let found = json!({"properties": {"threshold": 1.0, "scopes": ["/subscriptions/s/X"], "createdWithApiVersion": "2023-12-01",
            "emailReceivers": [{"emailAddress": "a@x.com", "status": "Enabled"}]}});
        assert!(has_values(&found, &want));
        assert!(property_delta(&found, &want).is_empty());
        let changed = json!({"properties": {"threshold": 5, "scopes": ["/subscriptions/S/x"], "emailReceivers": []}});
        let delta = property_delta(&changed, &want);
        let mut fields: Vec<&str> = delta.iter().map(|(f, _, _)| f.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["emailReceivers", "threshold"]);
    }

    #[test]
    fn a_rule_on_a_table_not_yet_there_skips_query_validation_and_others_do_not() {
        let mut rule = LogAlert {
            display_name: "x".into(),
            description: "y".into(),
            severity: 2,
            scope: "/ws".into(),
            query: "T".into(),
            operator: "LessThan",
            threshold: 1.0,
            evaluation_frequency: "PT1H".into(),
            window_size: "P1D".into(),
            skip_query_validation: false,
            action_group: "/ag".into(),
        };
        let b = alert_rule_body(&rule, "eastus", json!({}));
        assert!(b["properties"].get("skipQueryValidation").is_none());
        assert!(b["properties"]["criteria"]["allOf"][0]
            .get("metricMeasureColumn")
            .is_none());
        rule.skip_query_validation = true;
        assert_eq!(
            alert_rule_body(&rule, "eastus", json!({}))["properties"]["skipQueryValidation"],
            true
        );
    }
}
