//! Validates ARM request bodies against the official Azure OpenAPI specs (vendored in specs/), and refuses undeclared properties.

use std::collections::HashMap;

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// Spec files by their path under specs/.
const FILES: &[(&str, &str)] = &[
    ("common-types/resource-management/v2/types.json", include_str!("../specs/common-types/resource-management/v2/types.json")),
    ("common-types/resource-management/v3/managedidentity.json", include_str!("../specs/common-types/resource-management/v3/managedidentity.json")),
    ("common-types/resource-management/v5/managedidentity.json", include_str!("../specs/common-types/resource-management/v5/managedidentity.json")),
    ("operationalinsights/resource-manager/common/v1/types.json", include_str!("../specs/operationalinsights/resource-manager/common/v1/types.json")),
    (WORKSPACES, include_str!("../specs/operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2022-10-01/Workspaces.json")),
    (TABLES, include_str!("../specs/operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2022-10-01/Tables.json")),
    (DCE, include_str!("../specs/monitor/resource-manager/Microsoft.Insights/stable/2022-06-01/dataCollectionEndpoints_API.json")),
    (DCR, include_str!("../specs/monitor/resource-manager/Microsoft.Insights/stable/2022-06-01/dataCollectionRules_API.json")),
    (ROLES, include_str!("../specs/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json")),
    ("authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/common-types.json", include_str!("../specs/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/common-types.json")),
    // Microsoft Sentinel and its content (shared/azure-specs/SENTINEL-SPECS.md lists each file's commit).
    ("common-types/resource-management/v1/types.json", include_str!("../specs/common-types/resource-management/v1/types.json")),
    ("common-types/resource-management/v3/types.json", include_str!("../specs/common-types/resource-management/v3/types.json")),
    ("common-types/resource-management/v5/types.json", include_str!("../specs/common-types/resource-management/v5/types.json")),
    ("securityinsights/resource-manager/common/2.0/types.json", include_str!("../specs/securityinsights/resource-manager/common/2.0/types.json")),
    ("securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/common/AlertTypes.json", include_str!("../specs/securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/common/AlertTypes.json")),
    (ONBOARDING, include_str!("../specs/securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/OnboardingStates.json")),
    (ALERT_RULES, include_str!("../specs/securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/AlertRules.json")),
    (SAVED_SEARCHES, include_str!("../specs/operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2020-08-01/SavedSearches.json")),
    (WORKBOOKS, include_str!("../specs/applicationinsights/resource-manager/Microsoft.Insights/stable/2023-06-01/workbooks_API.json")),
    // Alerting and DCR monitoring (shared/azure-specs/README.md lists each file's commit).
    (SCHEDULED_QUERY_RULES, include_str!("../specs/monitor/resource-manager/Microsoft.Insights/stable/2023-12-01/scheduledQueryRule_API.json")),
    (ACTION_GROUPS, include_str!("../specs/monitor/resource-manager/Microsoft.Insights/stable/2023-01-01/actionGroups_API.json")),
    (DIAGNOSTIC_SETTINGS, include_str!("../specs/monitor/resource-manager/Microsoft.Insights/preview/2021-05-01-preview/diagnosticsSettings_API.json")),
];

/// Files a vendored spec `$ref`s that are not to be had, each stood in for by a stub that is *not* Microsoft's file.
///
/// `actionGroups_API.json` (2023-01-01) points at `../../../../common-types/v2/commonMonitoringTypes.json` (from
/// where it sits: `monitor/common-types/v2/commonMonitoringTypes.json`) for `AzureAppPushReceiver` (the items of
/// `azureAppPushReceivers`) and `ActionGroupPatchBody` (PATCH); neither the project's copies nor the code index hold
/// that file (shared/azure-specs/README.md). The validator resolves every `$ref` when it is built, so without a
/// stand-in no action group body could be validated at all. The stub defines both names as objects and nothing
/// more: an `ActionGroupResource` with email (or any other) receivers is validated against the real spec, and only
/// the content of `azureAppPushReceivers` would go unchecked, which `monitor.rs` refuses outright rather than accept
/// unvalidated (PATCH is not modelled).
const STUBS: &[(&str, &str)] = &[(
    "monitor/common-types/v2/commonMonitoringTypes.json",
    r#"{ "definitions": {
        "AzureAppPushReceiver": { "type": "object", "description": "azure-sim stub: commonMonitoringTypes.json is not vendored" },
        "ActionGroupPatchBody": { "type": "object", "description": "azure-sim stub: commonMonitoringTypes.json is not vendored" }
    } }"#,
)];

pub const WORKSPACES: &str = "operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2022-10-01/Workspaces.json";
pub const TABLES: &str = "operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2022-10-01/Tables.json";
pub const DCE: &str = "monitor/resource-manager/Microsoft.Insights/stable/2022-06-01/dataCollectionEndpoints_API.json";
pub const DCR: &str =
    "monitor/resource-manager/Microsoft.Insights/stable/2022-06-01/dataCollectionRules_API.json";
pub const ROLES: &str = "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json";
pub const ONBOARDING: &str = "securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/OnboardingStates.json";
pub const ALERT_RULES: &str =
    "securityinsights/resource-manager/Microsoft.SecurityInsights/stable/2025-12-01/AlertRules.json";
pub const SAVED_SEARCHES: &str = "operationalinsights/resource-manager/Microsoft.OperationalInsights/stable/2020-08-01/SavedSearches.json";
pub const WORKBOOKS: &str =
    "applicationinsights/resource-manager/Microsoft.Insights/stable/2023-06-01/workbooks_API.json";
pub const SCHEDULED_QUERY_RULES: &str =
    "monitor/resource-manager/Microsoft.Insights/stable/2023-12-01/scheduledQueryRule_API.json";
pub const ACTION_GROUPS: &str =
    "monitor/resource-manager/Microsoft.Insights/stable/2023-01-01/actionGroups_API.json";
pub const DIAGNOSTIC_SETTINGS: &str = "monitor/resource-manager/Microsoft.Insights/preview/2021-05-01-preview/diagnosticsSettings_API.json";

/// The bodies the simulator validates: (spec file, definition).
pub const BODIES: &[(&str, &str)] = &[
    (WORKSPACES, "Workspace"),
    (TABLES, "Table"),
    (DCE, "DataCollectionEndpointResource"),
    (DCR, "DataCollectionRuleResource"),
    (ROLES, "RoleAssignmentCreateParameters"),
    (ONBOARDING, "SentinelOnboardingState"),
    // Alert rules are polymorphic: a body is validated against the definition its `kind` names.
    (ALERT_RULES, "ScheduledAlertRule"),
    (ALERT_RULES, "FusionAlertRule"),
    (ALERT_RULES, "MicrosoftSecurityIncidentCreationAlertRule"),
    (SAVED_SEARCHES, "SavedSearch"),
    (WORKBOOKS, "Workbook"),
    (SCHEDULED_QUERY_RULES, "ScheduledQueryRuleResource"),
    (ACTION_GROUPS, "ActionGroupResource"),
    (DIAGNOSTIC_SETTINGS, "DiagnosticSettingsResource"),
];

const BASE: &str = "file:///specs/";

/// Loaded specs and one compiled validator per body definition.
pub struct Specs {
    files: HashMap<String, Value>,
    validators: HashMap<(String, String), Validator>,
}

/// Drops `enum` where `x-ms-enum` says `modelAsString: true`: Azure accepts other values there.
fn open_extensible_enums(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let extensible = o
                .get("x-ms-enum")
                .and_then(|e| e.get("modelAsString"))
                .and_then(Value::as_bool)
                == Some(true);
            if extensible {
                o.remove("enum");
            }
            for (_, c) in o.iter_mut() {
                open_extensible_enums(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(open_extensible_enums),
        _ => {}
    }
}

/// Joins a relative file reference to the directory of `from`.
fn join(from: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in rel.split('/') {
        match seg {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

impl Specs {
    pub fn load() -> Result<Specs, String> {
        let mut files = HashMap::new();
        for (path, text) in FILES.iter().chain(STUBS) {
            let mut v: Value = serde_json::from_str(text).map_err(|e| format!("{path}: {e}"))?;
            open_extensible_enums(&mut v);
            files.insert(path.to_string(), v);
        }
        let mut validators = HashMap::new();
        for (file, def) in BODIES {
            let mut opts = jsonschema::options()
                .with_draft(Draft::Draft4)
                .should_validate_formats(false);
            for (p, v) in &files {
                opts = opts.with_resource(
                    format!("{BASE}{p}"),
                    Draft::Draft4.create_resource(v.clone()),
                );
            }
            let schema = serde_json::json!({ "$ref": format!("{BASE}{file}#/definitions/{def}") });
            let validator = opts
                .build(&schema)
                .map_err(|e| format!("{file}#{def}: {e}"))?;
            validators.insert((file.to_string(), def.to_string()), validator);
        }
        Ok(Specs { files, validators })
    }

    /// Validates `body` as `def` of `file`: the JSON schema, then no undeclared property.
    pub fn validate(&self, file: &str, def: &str, body: &Value) -> Result<(), String> {
        let v = self
            .validators
            .get(&(file.to_string(), def.to_string()))
            .ok_or_else(|| format!("no validator for {def}"))?;
        if let Some(e) = v.iter_errors(body).next() {
            let at = e.instance_path.to_string();
            return Err(format!(
                "{}: {e}",
                if at.is_empty() {
                    "(body)".to_string()
                } else {
                    at
                }
            ));
        }
        let schema = serde_json::json!({ "$ref": format!("#/definitions/{def}") });
        self.undeclared(file, &schema, body, "")
    }

    fn resolve<'a>(&'a self, file: &str, r: &str) -> Option<(String, &'a Value)> {
        let (path, pointer) = r.split_once('#').unwrap_or((r, ""));
        let target = if path.is_empty() {
            file.to_string()
        } else {
            join(file, path)
        };
        let doc = self.files.get(&target)?;
        let v = if pointer.is_empty() {
            doc
        } else {
            doc.pointer(pointer)?
        };
        Some((target, v))
    }

    /// Follows `$ref`s until a schema that is not one.
    fn deref<'a>(&'a self, file: &str, schema: &'a Value) -> (String, &'a Value) {
        let mut cur = (file.to_string(), schema);
        for _ in 0..16 {
            match cur.1.get("$ref").and_then(Value::as_str) {
                Some(r) => match self.resolve(&cur.0, r) {
                    Some(next) => cur = next,
                    None => break,
                },
                None => break,
            }
        }
        cur
    }

    /// Declared properties of an object schema, through allOf; and its additionalProperties.
    fn members<'a>(
        &'a self,
        file: &str,
        schema: &'a Value,
        props: &mut HashMap<String, (String, &'a Value)>,
        extra: &mut Option<(String, &'a Value)>,
        depth: u32,
    ) {
        if depth > 16 {
            return;
        }
        let (file, schema) = self.deref(file, schema);
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                props.insert(k.clone(), (file.clone(), v));
            }
        }
        if let Some(a) = schema.get("additionalProperties") {
            *extra = Some((file.clone(), a));
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.members(&file, s, props, extra, depth + 1);
            }
        }
    }

    fn undeclared(
        &self,
        file: &str,
        schema: &Value,
        body: &Value,
        path: &str,
    ) -> Result<(), String> {
        let (file, schema) = self.deref(file, schema);
        match body {
            Value::Object(o) => {
                let mut props = HashMap::new();
                let mut extra = None;
                self.members(&file, schema, &mut props, &mut extra, 0);
                if props.is_empty() && extra.is_none() {
                    return Ok(()); // a free-form object (e.g. `type: object` alone)
                }
                for (k, v) in o {
                    let here = format!("{path}/{k}");
                    match (props.get(k), &extra) {
                        (Some((f, s)), _) => self.undeclared(f, s, v, &here)?,
                        (None, Some((f, s))) if s.is_object() => self.undeclared(f, s, v, &here)?,
                        (None, Some((_, Value::Bool(true)))) => {}
                        _ => {
                            return Err(format!(
                                "{here}: the property '{k}' is not declared by the API"
                            ))
                        }
                    }
                }
                Ok(())
            }
            Value::Array(items) => match schema.get("items") {
                Some(s) => {
                    for (i, item) in items.iter().enumerate() {
                        self.undeclared(&file, s, item, &format!("{path}/{i}"))?;
                    }
                    Ok(())
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_a_valid_dce_and_refuses_unknown_or_mistyped_properties() {
        let s = Specs::load().expect("specs load");
        let ok = json!({ "location": "eastus", "tags": { "a": "b" }, "properties": { "networkAcls": { "publicNetworkAccess": "Enabled" } } });
        s.validate(DCE, "DataCollectionEndpointResource", &ok)
            .expect("valid");
        let unknown = json!({ "location": "eastus", "properties": { "networkAcl": {} } });
        assert!(s
            .validate(DCE, "DataCollectionEndpointResource", &unknown)
            .is_err());
        let typed = json!({ "location": 5 });
        assert!(s
            .validate(DCE, "DataCollectionEndpointResource", &typed)
            .is_err());
        let missing = json!({ "properties": {} });
        assert!(
            s.validate(DCE, "DataCollectionEndpointResource", &missing)
                .is_err(),
            "location is required"
        );
    }

    #[test]
    fn extensible_enums_take_other_values() {
        let s = Specs::load().expect("specs load");
        let table = json!({ "properties": { "schema": { "name": "T_CL", "columns": [ { "name": "TimeGenerated", "type": "datetime" } ] } } });
        s.validate(TABLES, "Table", &table)
            .expect("datetime is accepted although the enum lists dateTime");
        let dcr = json!({ "location": "eastus", "properties": { "streamDeclarations": { "Custom-T_CL": { "columns": [ { "name": "a", "type": "string" } ] } }, "dataFlows": [ { "streams": ["Custom-T_CL"], "destinations": ["d"], "outputStream": "Custom-T_CL", "transformKql": "source" } ] } });
        s.validate(DCR, "DataCollectionRuleResource", &dcr)
            .expect("custom stream names are accepted");
    }

    /// Every rule template of the tool, as the `properties` of a Scheduled rule, validates against the stable spec.
    #[test]
    fn the_tools_sentinel_templates_validate() {
        let s = Specs::load().expect("specs load");
        let rules = [
            include_str!("../../templates/sentinel/rules/keeper-master-password-changed.json"),
            include_str!("../../templates/sentinel/rules/keeper-two-factor-changed.json"),
            include_str!("../../templates/sentinel/rules/keeper-failed-login-burst.json"),
            include_str!("../../templates/sentinel/rules/keeper-admin-role-policy-changed.json"),
            include_str!(
                "../../templates/sentinel/rules/keeper-account-transferred-or-deleted.json"
            ),
            include_str!("../../templates/sentinel/rules/keeper-audit-alerting-disabled.json"),
            include_str!("../../templates/sentinel/rules/keeper-two-factor-disabled-by-admin.json"),
        ];
        for r in rules {
            let props: Value = serde_json::from_str(r).expect("rule json");
            let body = json!({ "kind": "Scheduled", "properties": props });
            s.validate(ALERT_RULES, "ScheduledAlertRule", &body)
                .unwrap_or_else(|e| panic!("{}: {e}", props["displayName"]));
        }
        let mut bad = json!({ "kind": "Scheduled", "properties": serde_json::from_str::<Value>(rules[0]).expect("json") });
        bad["properties"]["queryFrequncy"] = json!("PT1H");
        assert!(
            s.validate(ALERT_RULES, "ScheduledAlertRule", &bad).is_err(),
            "a misspelt property is refused"
        );
        let wb = json!({ "location": "eastus", "kind": "shared", "properties": { "displayName": "Keeper Security Dashboard", "category": "sentinel", "serializedData": include_str!("../../templates/sentinel/workbook.json"), "sourceId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w", "version": "Notebook/1.0" } });
        s.validate(WORKBOOKS, "Workbook", &wb).expect("workbook");
        let f = json!({ "properties": { "category": "Microsoft Sentinel Parser", "displayName": "Keeper", "query": "T", "functionAlias": "KeeperSecurityEvents", "version": 2 } });
        s.validate(SAVED_SEARCHES, "SavedSearch", &f)
            .expect("saved search");
        s.validate(
            ONBOARDING,
            "SentinelOnboardingState",
            &json!({ "properties": { "customerManagedKey": false } }),
        )
        .expect("onboarding");
    }

    /// The alerting specs load (the action groups one through its stub) and take the bodies the tool sends.
    #[test]
    fn alert_rules_action_groups_and_diagnostic_settings_validate() {
        let s = Specs::load().expect("specs load");
        let group = json!({ "location": "Global", "tags": { "a": "b" }, "properties": {
            "groupShortName": "keeper", "enabled": true,
            "emailReceivers": [ { "name": "ops", "emailAddress": "ops@example.com", "useCommonAlertSchema": true } ] } });
        s.validate(ACTION_GROUPS, "ActionGroupResource", &group)
            .expect("an action group with email receivers");
        let mut no_enabled = group.clone();
        no_enabled["properties"]
            .as_object_mut()
            .expect("object")
            .remove("enabled");
        assert!(s
            .validate(ACTION_GROUPS, "ActionGroupResource", &no_enabled)
            .is_err());
        let rule = json!({ "location": "eastus", "kind": "LogAlert", "properties": {
            "severity": 2, "enabled": true, "scopes": ["/subscriptions/x"], "evaluationFrequency": "PT15M", "windowSize": "PT1H",
            "criteria": { "allOf": [ { "query": "T", "timeAggregation": "Count", "operator": "LessThan", "threshold": 1,
                "failingPeriods": { "numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1 } } ] },
            "actions": { "actionGroups": ["/subscriptions/x/resourceGroups/rg/providers/Microsoft.Insights/actionGroups/g"] },
            "autoMitigate": false, "skipQueryValidation": true } });
        s.validate(SCHEDULED_QUERY_RULES, "ScheduledQueryRuleResource", &rule)
            .expect("a log alert rule");
        let mut misspelt = rule.clone();
        misspelt["properties"]["windowSizes"] = json!("PT1H");
        assert!(s
            .validate(
                SCHEDULED_QUERY_RULES,
                "ScheduledQueryRuleResource",
                &misspelt
            )
            .is_err());
        let setting = json!({ "properties": { "workspaceId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w",
            "logs": [ { "category": "LogErrors", "enabled": true } ] } });
        s.validate(DIAGNOSTIC_SETTINGS, "DiagnosticSettingsResource", &setting)
            .expect("a diagnostic setting");
        let mut located = setting.clone();
        located["location"] = json!("eastus");
        assert!(
            s.validate(DIAGNOSTIC_SETTINGS, "DiagnosticSettingsResource", &located)
                .is_err(),
            "a proxy resource has no location"
        );
    }
}
