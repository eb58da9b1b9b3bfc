//! Log alert rules (`Microsoft.Insights/scheduledQueryRules`, api-version 2023-12-01): what ARM refuses when a rule
//! is saved, and how a rule is evaluated over its workspace (`Sim::evaluate_log_alert`).
//!
//! Sources, cited below by these names:
//! - **the spec**: scheduledQueryRule_API.json 2023-12-01 (vendored; `ScheduledQueryRuleResource`);
//! - **day-two facts**: shared/reference/day-two-facts.md, "Log alerts", gathered from Microsoft Learn's "Create or
//!   edit a log search alert rule" (learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule) and
//!   the spec;
//! - **recorded answers**: Azure/azure-rest-api-specs#21258 (a windowSize of P3D answered "Supported granularities
//!   are: 5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880"), Azure/azure-cli#26581
//!   (`InvalidRequestContent`, "The request content was invalid and could not be deserialized: 'EvaluationFrequency
//!   cannot be greater than MuteActionsDuration'"), CDCgov/prime-reportstream#11773 (a query on a table the
//!   workspace lacks: 400 `BadRequest` whose message is the query service's error, "'where' operator: Failed to
//!   resolve table or column expression named 'AzureDiagnostics'"; recorded through the older rules API).
//!
//! Wording not among the recorded answers is the simulator's.

use serde_json::{json, Value};

use super::{lc, World};
use crate::api::AlertEvaluation;
use crate::reply::{arm_err, Reply};
use crate::schema;

/// The window sizes (minutes) the service takes (recorded answers, Azure/azure-rest-api-specs#21258).
const WINDOW_MINUTES: [i64; 13] = [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880];

/// The query time ranges (minutes) an `overrideQueryTimeRange` may take: the window sizes and 720, as a later
/// answer listed them ("OverrideQueryTimeRange of 75 minutes is not supported. Supported granularities are: 5, 10,
/// 15, 30, 45, 60, 120, 180, 240, 300, 360, 720, 1440, 2880", an answer quoted in a third-party project's notes that
/// the code index holds without naming its repository).
const RANGE_MINUTES: [i64; 14] = [
    5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 720, 1440, 2880,
];

/// The longest range a rule's query scans: two days (day-two facts: "at most 2 days; an `ago(7d)` in the query
/// still scans 48 h").
const MAX_RANGE_SECONDS: i64 = 2 * 24 * 3600;

/// At most five action groups per alert rule (day-two facts, "Limits").
const MAX_ACTION_GROUPS: usize = 5;

/// A refusal of the rule's content, in the shape ARM gives one (recorded answers, Azure/azure-cli#26581).
fn invalid(reason: impl std::fmt::Display) -> Reply {
    arm_err(
        400,
        "InvalidRequestContent",
        format!("The request content was invalid and could not be deserialized: '{reason}'"),
    )
}

/// An ISO 8601 duration (`PT5M`, `P1D`, `P1DT12H`, `PT30S`) in seconds; None if it is not one (years and months,
/// whose length varies, are not taken).
pub(super) fn duration_seconds(text: &str) -> Option<i64> {
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0i64;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, i64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let (_, secs) = units.iter().find(|(u, _)| *u == c)?;
                total += num.parse::<i64>().ok()?.checked_mul(*secs)?;
                num.clear();
                any = true;
            }
        }
        num.is_empty().then_some(())
    };
    take(days, &[('W', 7 * 86400), ('D', 86400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        take(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    any.then_some(total)
}

/// A rule property that must be an ISO 8601 duration, in seconds (None when absent).
fn duration_of(p: &Value, name: &str) -> Result<Option<i64>, Reply> {
    match p.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_str().and_then(duration_seconds) {
            Some(s) => Ok(Some(s)),
            None => Err(invalid(format!(
                "The value '{v}' of {name} is not a valid ISO 8601 duration"
            ))),
        },
    }
}

impl World {
    /// A log alert rule as ARM stores it, or why it is refused (400 unless noted), in this order: the body against
    /// the spec's `ScheduledQueryRuleResource` (which requires `location` and `properties`); `enabled`, `criteria`
    /// and `scopes` present (the spec lists them as required beside a `$ref`, where JSON Schema draft 4 ignores
    /// them, so they are checked here); for kind `LogAlert` (the default), `severity` 0-4, `evaluationFrequency`
    /// and `windowSize` present; the window one of the sizes the service takes (so at most P2D); the frequency
    /// from PT1M to P1D; an `overrideQueryTimeRange` one of its ranges; `muteActionsDuration` not shorter than the
    /// frequency; `autoMitigate: true` only with a frequency up to PT12H; each condition's `timeAggregation`
    /// (`Count` without a `metricMeasureColumn`, the others with one), `operator` and `threshold`; each scope and
    /// action group existing (at most five groups); and unless `skipQueryValidation`, the query's first table or
    /// function existing in the scoped workspace.
    pub(super) fn scheduled_query_rule_body(
        &self,
        id: &str,
        name: &str,
        body: &Value,
        existing: Option<&Value>,
        api_version: &str,
    ) -> Result<Value, Reply> {
        self.validate(
            schema::SCHEDULED_QUERY_RULES,
            "ScheduledQueryRuleResource",
            body,
            "InvalidRequestContent",
        )?;
        let p = &body["properties"];
        for required in ["enabled", "criteria", "scopes"] {
            if p.get(required).is_none_or(Value::is_null) {
                return Err(invalid(format!(
                    "Required property '{required}' not found in JSON. Path 'properties'."
                )));
            }
        }
        let log_alert = body["kind"].as_str().is_none_or(|k| k == "LogAlert");
        let frequency = duration_of(p, "evaluationFrequency")?;
        let window = duration_of(p, "windowSize")?;
        if log_alert {
            // "Relevant and required only for rules of the kind LogAlert" (the spec, on each).
            match p["severity"].as_i64() {
                Some(0..=4) => {}
                Some(s) => {
                    return Err(invalid(format!(
                    "Severity {s} is not supported. Severity should be an integer between [0-4]."
                )))
                }
                None => {
                    return Err(invalid(
                        "Severity is required for rules of the kind LogAlert.",
                    ))
                }
            }
            if frequency.is_none() {
                return Err(invalid(
                    "EvaluationFrequency is required for rules of the kind LogAlert.",
                ));
            }
            if window.is_none() {
                return Err(invalid(
                    "WindowSize is required for rules of the kind LogAlert.",
                ));
            }
        }
        if let Some(w) = window {
            if w % 60 != 0 || !WINDOW_MINUTES.contains(&(w / 60)) {
                return Err(invalid(format!(
                    "WindowSize of {} minutes is not supported. Supported granularities are: {}",
                    w / 60,
                    list(&WINDOW_MINUTES)
                )));
            }
        }
        if let Some(f) = frequency {
            // "Frequencies run from 1 minute to 1 day" (day-two facts).
            if !(60..=86400).contains(&f) || f % 60 != 0 {
                return Err(invalid(format!("EvaluationFrequency of {} minutes is not supported. Supported values are 1 minute to 1 day.", f / 60)));
            }
        }
        if let Some(r) = duration_of(p, "overrideQueryTimeRange")? {
            if r % 60 != 0 || !RANGE_MINUTES.contains(&(r / 60)) {
                return Err(invalid(format!("OverrideQueryTimeRange of {} minutes is not supported. Supported granularities are: {}", r / 60, list(&RANGE_MINUTES))));
            }
        }
        if let (Some(f), Some(m)) = (frequency, duration_of(p, "muteActionsDuration")?) {
            if f > m {
                return Err(invalid(
                    "EvaluationFrequency cannot be greater than MuteActionsDuration",
                ));
            }
        }
        // "`autoMitigate` is not supported when the frequency is above 12 h" (day-two facts). Only an explicit
        // `true` is refused: the spec says it defaults to true, and what the service does with the default at such a
        // frequency is not recorded.
        if p["autoMitigate"] == true && frequency.is_some_and(|f| f > 12 * 3600) {
            return Err(invalid("AutoMitigate is not supported for rules with an evaluation frequency greater than 12 hours."));
        }
        let conditions = p
            .pointer("/criteria/allOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if log_alert && conditions.is_empty() {
            return Err(invalid(
                "Criteria must hold at least one condition in allOf.",
            ));
        }
        for c in &conditions {
            self.check_condition(c, log_alert)?;
        }
        let scopes: Vec<&str> = p["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if scopes.is_empty() {
            return Err(invalid("Scopes must hold at least one resource id."));
        }
        for s in &scopes {
            if !self.resources.contains_key(&lc(s)) {
                return Err(arm_err(
                    400,
                    "BadRequest",
                    format!("Scope '{s}' does not exist or is not accessible."),
                ));
            }
        }
        let groups: Vec<&str> = p
            .pointer("/actions/actionGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if groups.len() > MAX_ACTION_GROUPS {
            return Err(arm_err(
                400,
                "BadRequest",
                format!("An alert rule can have at most {MAX_ACTION_GROUPS} action groups."),
            ));
        }
        for g in groups {
            let is_group = self.resources.get(&lc(g)).is_some_and(|r| {
                r.body["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Insights/ActionGroups"))
            });
            if !is_group {
                return Err(arm_err(
                    400,
                    "BadRequest",
                    format!("Action group '{g}' does not exist."),
                ));
            }
        }
        if p["skipQueryValidation"] != true {
            self.check_query_sources(&scopes, &conditions)?;
        }
        let mut props = p.clone();
        props["createdWithApiVersion"] = existing
            .and_then(|e| e.pointer("/properties/createdWithApiVersion").cloned())
            .unwrap_or_else(|| json!(api_version));
        props["isLegacyLogAnalyticsRule"] = json!(false);
        props["isWorkspaceAlertsStorageConfigured"] = json!(false);
        // As the spec's example createOrUpdateScheduledQueryRule.json answers: type in lower case.
        let mut rb = json!({
            "id": id, "name": name, "type": "microsoft.insights/scheduledqueryrules", "location": body["location"],
            "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props,
        });
        if let Some(k) = body.get("kind") {
            rb["kind"] = k.clone();
        }
        Ok(rb)
    }

    /// One condition: for a LogAlert, `query`, `timeAggregation`, `operator` and `threshold` are required, and a
    /// `metricMeasureColumn` goes with every aggregation but `Count` ("Average/Min/Max/Total need a
    /// `metricMeasureColumn`; Count must not have one", day-two facts).
    fn check_condition(&self, c: &Value, log_alert: bool) -> Result<(), Reply> {
        if !log_alert {
            return Ok(());
        }
        for required in ["query", "timeAggregation", "operator", "threshold"] {
            if c.get(required).is_none_or(Value::is_null) {
                return Err(invalid(format!("Required property '{required}' not found in JSON. Path 'properties.criteria.allOf[0]'.")));
            }
        }
        let aggregation = c["timeAggregation"].as_str().unwrap_or_default();
        let measure = c["metricMeasureColumn"]
            .as_str()
            .is_some_and(|m| !m.is_empty());
        match (aggregation, measure) {
            ("Count", true) => Err(invalid(
                "MetricMeasureColumn must not be set when the time aggregation is Count.",
            )),
            ("Average" | "Minimum" | "Maximum" | "Total", false) => Err(invalid(format!(
                "MetricMeasureColumn is required when the time aggregation is {aggregation}."
            ))),
            ("Count" | "Average" | "Minimum" | "Maximum" | "Total", _) => Ok(()),
            (other, _) => Err(invalid(format!(
                "TimeAggregation '{other}' is not supported."
            ))),
        }
    }

    /// ARM runs a rule's query when it is saved (day-two facts: "ARM checks the query when a rule is created. A
    /// table that does not exist yet (such as DCRLogErrors before its first error) needs `skipQueryValidation:
    /// true`"). Here: the first table or function of each condition's query must be a table of a scoped workspace,
    /// one of the few built-in tables the simulator knows, or a saved search's function alias (the simulator does not
    /// check the rest of the query). A built-in table that appears with its first row (DCRLogErrors,
    /// AADServicePrincipalSignInLogs) does not resolve before it. Scopes that are not workspaces are not checked.
    fn check_query_sources(&self, scopes: &[&str], conditions: &[Value]) -> Result<(), Reply> {
        let workspaces: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| {
                self.resources.get(&lc(s)).is_some_and(|r| {
                    r.body["type"].as_str().is_some_and(|t| {
                        t.eq_ignore_ascii_case("Microsoft.OperationalInsights/workspaces")
                    })
                })
            })
            .collect();
        if workspaces.is_empty() {
            return Ok(());
        }
        for c in conditions {
            let q = c["query"].as_str().unwrap_or_default();
            let source = super::sentinel::first_source(q);
            if workspaces.iter().any(|ws| self.source_exists(ws, &source)) {
                continue;
            }
            let after = q
                .split('|')
                .nth(1)
                .map(|s| s.split_whitespace().next().unwrap_or_default().to_string());
            let op = after
                .map(|o| format!("'{o}' operator: "))
                .unwrap_or_default();
            let inner = json!({ "error": {
                "message": "The request had some invalid properties", "code": "BadArgumentError", "correlationId": uuid::Uuid::new_v4().to_string(),
                "innererror": { "code": "SemanticError", "message": "A semantic error occurred.",
                    "innererror": { "code": "SEM0100", "message": format!("{op}Failed to resolve table or column expression named '{source}'") } } } });
            return Err(arm_err(400, "BadRequest", inner.to_string()));
        }
        Ok(())
    }

    /// Evaluates a log alert rule once, now: the first condition's query over the first scope (a workspace), its
    /// tables holding only the rows of the rule's time range, then the aggregation compared with the threshold.
    ///
    /// The time range is `overrideQueryTimeRange`, else `windowSize` × `failingPeriods.numberOfEvaluationPeriods`
    /// (the spec: "default is WindowSize*NumberOfEvaluationPeriods"), at most two days; Azure sets it as the query's
    /// time range, so a row counts when its `TimeGenerated` is within it, whatever the query says. `Count` is the
    /// number of result rows (so `T | where … | count`, always one row, never fires under `LessThan 1`: day-two
    /// facts, "The pitfall"); `Average`, `Minimum`, `Maximum` and `Total` are over `metricMeasureColumn` of the
    /// result rows, and no rows gives nothing to compare (no fire; an assumption). A disabled rule never fires. A
    /// query that fails (its table is not there) is an `Err`: Azure marks that evaluation failed and fires nothing.
    /// Not modelled: `minFailingPeriodsToAlert` across periods, dimensions, `muteActionsDuration`, resolution.
    pub fn evaluate_log_alert(&self, rule_id: &str) -> Result<AlertEvaluation, String> {
        let rule = self
            .resources
            .get(&lc(rule_id))
            .map(|r| r.body.clone())
            .filter(|b| {
                b["type"].as_str().is_some_and(|t| {
                    t.eq_ignore_ascii_case("microsoft.insights/scheduledqueryrules")
                })
            })
            .ok_or_else(|| format!("no log alert rule '{rule_id}'"))?;
        let p = &rule["properties"];
        if p["enabled"] != true {
            return Ok(AlertEvaluation {
                fired: false,
                value: 0.0,
                rows: 0,
            });
        }
        let c = p
            .pointer("/criteria/allOf/0")
            .cloned()
            .ok_or("the rule has no condition")?;
        let scope = p
            .pointer("/scopes/0")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let is_workspace = self.resources.get(&lc(scope)).is_some_and(|r| {
            r.body["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.OperationalInsights/workspaces"))
        });
        if !is_workspace {
            return Err(format!(
                "azure-sim evaluates rules scoped to a workspace only, not '{scope}'"
            ));
        }
        let seconds = |name: &str| p[name].as_str().and_then(duration_seconds);
        let periods = c
            .pointer("/failingPeriods/numberOfEvaluationPeriods")
            .and_then(Value::as_i64)
            .unwrap_or(1)
            .max(1);
        let range = seconds("overrideQueryTimeRange")
            .or_else(|| seconds("windowSize").map(|w| w * periods))
            .ok_or("the rule has no windowSize")?
            .min(MAX_RANGE_SECONDS);
        let now = self.wall_now();
        let from = now - time::Duration::seconds(range);
        let query = c["query"].as_str().unwrap_or_default();
        let result = self
            .workspace_query(scope, query, Some((from, now)))
            .map_err(|e| {
                format!("the rule's query failed, so the evaluation fails and fires nothing: {e}")
            })?;
        let rows = result.rows.len();
        let aggregation = c["timeAggregation"].as_str().unwrap_or("Count");
        let values: Vec<f64> = match c["metricMeasureColumn"].as_str() {
            Some(col) => result
                .rows
                .iter()
                .filter_map(|r| number(r.get(col)))
                .collect(),
            None => vec![],
        };
        let value = match aggregation {
            "Count" => Some(rows as f64),
            _ if values.is_empty() => None,
            "Average" => Some(values.iter().sum::<f64>() / values.len() as f64),
            "Minimum" => values.iter().copied().reduce(f64::min),
            "Maximum" => values.iter().copied().reduce(f64::max),
            _ => Some(values.iter().sum()),
        };
        let Some(value) = value else {
            return Ok(AlertEvaluation {
                fired: false,
                value: 0.0,
                rows,
            });
        };
        let threshold = c["threshold"].as_f64().unwrap_or(0.0);
        let fired = match c["operator"].as_str().unwrap_or_default() {
            "GreaterThan" => value > threshold,
            "GreaterThanOrEqual" => value >= threshold,
            "LessThan" => value < threshold,
            "LessThanOrEqual" => value <= threshold,
            "Equals" => value == threshold,
            other => return Err(format!("unknown operator '{other}'")),
        };
        Ok(AlertEvaluation { fired, value, rows })
    }
}

/// A result cell as a number (a numeric string too).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn list(minutes: &[i64]) -> String {
    minutes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::duration_seconds;

    #[test]
    fn iso_8601_durations_read_as_seconds() {
        for (text, secs) in [
            ("PT1M", Some(60)),
            ("PT5M", Some(300)),
            ("PT1H30M", Some(5400)),
            ("P1D", Some(86400)),
            ("P2D", Some(172800)),
            ("P1DT12H", Some(129600)),
            ("PT30S", Some(30)),
            ("P1W", Some(604800)),
            ("PT", None),
            ("P", None),
            ("5M", None),
            ("PT5X", None),
            ("P1M", None),
        ] {
            assert_eq!(duration_seconds(text), secs, "{text}");
        }
    }
}
