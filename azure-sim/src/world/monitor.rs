//! Azure Monitor around the tool's data: action groups (`Microsoft.Insights/actionGroups`, in the resource store),
//! diagnostic settings (`{resource}/providers/Microsoft.Insights/diagnosticSettings/{name}`, kept apart because
//! they outlive their resource) and the error log a DCR's setting fills (`DCRLogErrors`).

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use super::{lc, Req, Res, World};
use crate::reply::{arm_err, Reply};
use crate::schema;

/// What Azure Monitor keeps beside the resource store.
#[derive(Debug, Default)]
pub struct MonitorState {
    /// Diagnostic settings by lower-case id (`{resource id}/providers/microsoft.insights/diagnosticsettings/{name}`).
    /// Not in the resource store: "If you need to delete a resource, rename, or move a resource, or migrate it
    /// across resource groups or subscriptions, first delete its diagnostic settings. Otherwise, if you recreate
    /// this resource, the diagnostic settings for the deleted resource could be included with the new resource"
    /// (Microsoft Learn, "Diagnostic settings in Azure Monitor", the warning under its first section,
    /// learn.microsoft.com/azure/azure-monitor/essentials/diagnostic-settings). So no delete of a resource, of
    /// its resource group or behind the tool's back touches them, and a resource made again with the same id has
    /// them (and logs through them) again.
    settings: BTreeMap<String, Value>,
    /// The clock hour (hours since the Unix epoch) in which an error of (DCR, error code) was last logged: the
    /// rest of that hour, the same error is muted.
    muted: HashMap<(String, String), i64>,
}

/// The path part that names a diagnostic setting under its resource (lower case).
const SETTINGS: &str = "/providers/microsoft.insights/diagnosticsettings";

/// At most five diagnostic settings per resource: "Each resource can have up to five diagnostic settings"
/// ("Diagnostic settings in Azure Monitor", above).
const MAX_SETTINGS: usize = 5;

/// The log categories and category groups of a resource type that has diagnostic settings here.
/// Data collection rules: `LogErrors` (table DCRLogErrors) and `LogTroubleshooting` ("Supported logs for
/// Microsoft.Insights/datacollectionrules", learn.microsoft.com/azure/azure-monitor/reference/supported-logs/
/// microsoft-insights-datacollectionrules-logs); workspaces: `Audit` (MicrosoftDocs/azure-docs#62950: `Audit`
/// is the category, not `LAQueryLogs`). The group `allLogs` stands for all of a type's categories ("category
/// groups", the same Learn page as above).
fn log_categories(
    resource_type: &str,
) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match resource_type {
        "microsoft.insights/datacollectionrules" => {
            Some((&["LogErrors", "LogTroubleshooting"], &["allLogs"]))
        }
        "microsoft.operationalinsights/workspaces" => Some((&["Audit"], &["allLogs", "audit"])),
        _ => None,
    }
}

/// The columns of DCRLogErrors ("DCRLogErrors", Azure Monitor table reference,
/// learn.microsoft.com/azure/azure-monitor/reference/tables/dcrlogerrors), `_BilledSize` and `_IsBillable` left out.
const DCR_LOG_ERRORS_COLUMNS: &[(&str, &str)] = &[
    ("TimeGenerated", "datetime"),
    ("InputStreamId", "string"),
    ("OperationName", "string"),
    ("Message", "string"),
    ("ClientRequestId", "string"),
    ("CorrelationId", "string"),
    ("_ResourceId", "string"),
    ("_SubscriptionId", "string"),
    ("SourceSystem", "string"),
    ("TenantId", "string"),
    ("Type", "string"),
];

impl MonitorState {
    /// A diagnostic setting by id.
    pub(super) fn diagnostic_setting(&self, id: &str) -> Option<Value> {
        self.settings.get(&lc(id)).cloned()
    }

    /// Removes the diagnostic setting `id` (nothing when `id` names anything else).
    pub(super) fn remove_diagnostic_setting(&mut self, id: &str) {
        self.settings.remove(&lc(id));
    }

    /// The diagnostic settings of the resource (lower-case id), in name order.
    fn of(&self, resource_key: &str) -> Vec<&Value> {
        let prefix = format!("{resource_key}{SETTINGS}/");
        self.settings
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(_, v)| v)
            .collect()
    }
}

/// The enabled log categories of a setting, a category group standing for all of its type's categories, and its
/// enabled metric categories (`AllMetrics`).
fn enabled_categories(setting: &Value, categories: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = setting
        .pointer("/properties/metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m["enabled"] == true)
        .map(|m| m["category"].as_str().unwrap_or("AllMetrics").to_string())
        .collect();
    for l in setting
        .pointer("/properties/logs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|l| l["enabled"] == true)
    {
        if let Some(c) = l["category"].as_str() {
            out.push(c.to_string());
        } else if l["categoryGroup"].is_string() {
            out.extend(categories.iter().map(|c| c.to_string()));
        }
    }
    out.sort();
    out.dedup();
    out
}

impl World {
    /// `…/resourceGroups/{rg}/providers/Microsoft.Insights/{actionGroups|scheduledQueryRules}[/{name}]`: a list of
    /// the group's, or one's GET, PUT (201 new, 200 update) and DELETE (200, 204 when absent), the body of a PUT
    /// made by `alerts.rs` (rules) or below (action groups). Both live in the resource store, so the
    /// subscription's resource list (and its tag `$filter`) and a resource group's deletion see them.
    pub(super) fn insights_resource(
        &mut self,
        req: &Req,
        kind: &str,
        rg_id: &str,
        name: Option<&str>,
    ) -> Reply {
        let ty = if kind == "actiongroups" {
            "Microsoft.Insights/actionGroups"
        } else {
            "Microsoft.Insights/scheduledQueryRules"
        };
        let rg = rg_id.rsplit('/').next().unwrap_or_default().to_string();
        let collection = format!("{rg_id}/providers/{ty}");
        let Some(name) = name else {
            return match req.method.as_str() {
                "GET" => {
                    let prefix = lc(&format!("{collection}/"));
                    let v: Vec<Value> = self
                        .resources
                        .iter()
                        .filter(|(k, _)| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
                        .map(|(_, r)| r.body.clone())
                        .collect();
                    Reply::json(200, json!({ "value": v }))
                }
                _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
            };
        };
        let id = format!("{collection}/{name}");
        let key = lc(&id);
        match req.method.as_str() {
            "GET" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!(
                        "The Resource '{ty}/{name}' under resource group '{rg}' was not found."
                    ),
                ),
            },
            // The specs declare 200 and 204 for both deletes.
            "DELETE" => match self.resources.remove(&key) {
                Some(_) => Reply::empty(200),
                None => Reply::empty(204),
            },
            "PUT" => {
                if let Err(r) = self.arm.provider_registered("microsoft.insights") {
                    return r;
                }
                if !self.resources.contains_key(&lc(rg_id)) {
                    return arm_err(
                        404,
                        "ResourceGroupNotFound",
                        format!("Resource group '{rg}' could not be found."),
                    );
                }
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let existing = self.resources.get(&key).map(|r| r.body.clone());
                let api = req.query.get("api-version").cloned().unwrap_or_default();
                let made = if kind == "actiongroups" {
                    self.action_group_body(&id, name, &body)
                } else {
                    self.scheduled_query_rule_body(&id, name, &body, existing.as_ref(), &api)
                };
                match made {
                    Ok(rb) => {
                        self.store_ready(&id, rb.clone());
                        Reply::json(if existing.is_some() { 200 } else { 201 }, rb)
                    }
                    Err(refused) => refused,
                }
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    /// An action group as ARM stores it, or why it is refused. The body is validated against
    /// `ActionGroupResource` (actionGroups_API.json 2023-01-01: `location`, `groupShortName` and `enabled`
    /// required). The answer has every receiver list (empty when not given) and each email receiver's read-only
    /// `status` `Enabled`, as the spec's example `getActionGroup.json` shows, with `type`
    /// `Microsoft.Insights/ActionGroups` as written there.
    fn action_group_body(&self, id: &str, name: &str, body: &Value) -> Result<Value, Reply> {
        // The short name's limit with Azure's own answer (Azure/AzureMonitorStarterPacks#109, Azure/bellhop#72;
        // Azure/azure-rest-api-specs#2840: the service caps it at 12 whatever the spec of the day said).
        if let Some(short) = body
            .pointer("/properties/groupShortName")
            .and_then(Value::as_str)
        {
            if short.chars().count() > 12 {
                return Err(arm_err(400, "GroupShortNameIsTooLong", format!("The action group short name '{short}' is too long. Please specify a short name with '12' or less characters.")));
            }
        }
        // Action groups are global: every Microsoft example says `Global`; a region name is taken for regional
        // processing. The answer for anything else is ARM's usual one (not recorded for action groups).
        if let Some(loc) = body["location"].as_str() {
            if !loc.eq_ignore_ascii_case("global") && !self.arm.location_known(&lc(loc)) {
                return Err(arm_err(400, "LocationNotAvailableForResourceType", format!("The provided location '{loc}' is not available for resource type 'Microsoft.Insights/actionGroups'.")));
            }
        }
        // commonMonitoringTypes.json, which defines these receivers, is not to be had (schema.rs, STUBS): refused
        // rather than taken unchecked. A limit of the simulator, not Azure's behaviour.
        if body
            .pointer("/properties/azureAppPushReceivers")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return Err(arm_err(400, "BadRequest", "azure-sim cannot validate azureAppPushReceivers: their definition (commonMonitoringTypes.json) is not vendored."));
        }
        if !body["properties"].is_object() {
            return Err(arm_err(
                400,
                "BadRequest",
                "The request content was invalid: properties: groupShortName and enabled are required.",
            ));
        }
        self.validate(
            schema::ACTION_GROUPS,
            "ActionGroupResource",
            body,
            "BadRequest",
        )?;
        let mut props = body["properties"].clone();
        for list in [
            "emailReceivers",
            "smsReceivers",
            "webhookReceivers",
            "itsmReceivers",
            "azureAppPushReceivers",
            "automationRunbookReceivers",
            "voiceReceivers",
            "logicAppReceivers",
            "azureFunctionReceivers",
            "armRoleReceivers",
            "eventHubReceivers",
        ] {
            if !props[list].is_array() {
                props[list] = json!([]);
            }
        }
        // A new address must be confirmed by the one-time passcode Azure mails (shared/reference/day-two-facts.md);
        // the simulator has no mail, and ReceiverStatus knows only NotSpecified, Enabled and Disabled.
        if let Some(list) = props["emailReceivers"].as_array_mut() {
            for r in list {
                r["status"] = json!("Enabled");
            }
        }
        Ok(json!({
            "id": id, "name": name, "type": "Microsoft.Insights/ActionGroups", "location": body["location"],
            "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props,
        }))
    }

    /// `{resource id}/providers/Microsoft.Insights/diagnosticSettings[/{name}]` (2021-05-01-preview): the
    /// resource's settings (`{"value": [...]}`), or one's GET, PUT (200) and DELETE (200, 204 when absent), as
    /// diagnosticsSettings_API.json declares them.
    pub(super) fn diagnostic_settings(
        &mut self,
        req: &Req,
        resource_id: &str,
        name: Option<&str>,
    ) -> Reply {
        let resource_key = lc(resource_id);
        let Some(resource) = self.resources.get(&resource_key).map(|r| r.body.clone()) else {
            let segs: Vec<&str> = resource_id.split('/').collect();
            let tail = segs
                .iter()
                .rev()
                .take(3)
                .rev()
                .copied()
                .collect::<Vec<_>>()
                .join("/");
            let rg = segs.get(4).copied().unwrap_or_default();
            return arm_err(
                404,
                "ResourceNotFound",
                format!("The Resource '{tail}' under resource group '{rg}' was not found."),
            );
        };
        let Some(name) = name else {
            return match req.method.as_str() {
                "GET" => {
                    let v: Vec<Value> = self
                        .monitor
                        .of(&resource_key)
                        .into_iter()
                        .cloned()
                        .collect();
                    Reply::json(200, json!({ "value": v }))
                }
                _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
            };
        };
        let id = format!("{resource_id}/providers/Microsoft.Insights/diagnosticSettings/{name}");
        let key = lc(&id);
        match req.method.as_str() {
            "GET" => match self.monitor.settings.get(&key) {
                Some(s) => Reply::json(200, s.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!("The diagnostic setting '{name}' doesn't exist."),
                ),
            },
            "DELETE" => match self.monitor.settings.remove(&key) {
                Some(_) => Reply::empty(200),
                None => Reply::empty(204),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let ty = lc(resource["type"].as_str().unwrap_or_default());
                match self.diagnostic_setting_body(&id, name, &resource_key, &ty, &body) {
                    Ok(sb) => {
                        self.monitor.settings.insert(key, sb.clone());
                        Reply::json(200, sb)
                    }
                    Err(refused) => refused,
                }
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    /// A diagnostic setting as stored, or why it is refused: the body validated against
    /// `DiagnosticSettingsResource` (a proxy resource: no `location`, no `tags`); its categories the resource
    /// type's; its workspace existing; no other setting of the resource sending one of its categories to the same
    /// workspace; at most five per resource.
    fn diagnostic_setting_body(
        &self,
        id: &str,
        name: &str,
        resource_key: &str,
        ty: &str,
        body: &Value,
    ) -> Result<Value, Reply> {
        self.validate(
            schema::DIAGNOSTIC_SETTINGS,
            "DiagnosticSettingsResource",
            body,
            "BadRequest",
        )?;
        let Some((categories, groups)) = log_categories(ty) else {
            // The answer recorded for a type without diagnostic settings (Azure/azure-powershell#25880).
            return Err(arm_err(
                400,
                "BadRequest",
                format!("The resource type '{ty}' does not support diagnostic settings."),
            ));
        };
        let p = &body["properties"];
        for l in p["logs"].as_array().into_iter().flatten() {
            if let Some(c) = l["category"].as_str() {
                // Azure's answer, as recorded in hashicorp/terraform-provider-azurerm#2985.
                if !categories.contains(&c) {
                    return Err(arm_err(
                        400,
                        "BadRequest",
                        format!("Category '{c}' is not supported."),
                    ));
                }
            }
            if let Some(g) = l["categoryGroup"].as_str() {
                // As recorded in Azure/avdaccelerator#685.
                if !groups.contains(&g) {
                    return Err(arm_err(
                        400,
                        "BadRequest",
                        format!(
                            "CategoryGroup: '{g}' is not supported, supported ones are: '{}'",
                            groups.join(", ")
                        ),
                    ));
                }
            }
        }
        for m in p["metrics"].as_array().into_iter().flatten() {
            // As recorded in TaoYang-Cloud/azurepolicy#19.
            if let Some(c) = m["category"].as_str().filter(|c| *c != "AllMetrics") {
                return Err(arm_err(400, "BadRequest", format!("Metric category '{c}' is not supported, supported categories are: 'AllMetrics'")));
            }
        }
        if let Some(ws) = p["workspaceId"].as_str() {
            // A workspace that is not there: 404 ResourceNotFound, as Azure/azure-cli#4215 and #6647 recorded it
            // (their bodies give only the code; the message is the simulator's).
            let is_workspace = self.resources.get(&lc(ws)).is_some_and(|r| {
                r.body["type"].as_str().is_some_and(|t| {
                    t.eq_ignore_ascii_case("Microsoft.OperationalInsights/workspaces")
                })
            });
            if !is_workspace {
                return Err(arm_err(
                    404,
                    "ResourceNotFound",
                    format!("The Log Analytics workspace '{ws}' was not found."),
                ));
            }
            // Two settings of one resource may not send a category to the same workspace: 409 Conflict with this
            // text, as recorded in Azure/terraform-azurerm-avm-ptn-aiml-landing-zone#19 (for `AllMetrics`) and
            // described in hashicorp/terraform-provider-azurerm#21161 ("an existing diagnostic setting with the
            // same log category"). A category group counts as all its categories.
            let mine = enabled_categories(body, categories);
            for other in self.monitor.of(resource_key) {
                if other["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    || !other
                        .pointer("/properties/workspaceId")
                        .and_then(Value::as_str)
                        .is_some_and(|o| o.eq_ignore_ascii_case(ws))
                {
                    continue;
                }
                let theirs = enabled_categories(other, categories);
                if let Some(c) = mine.iter().find(|c| theirs.contains(c)) {
                    return Err(arm_err(409, "Conflict", format!("Data sink '{ws}' is already used in diagnostic setting '{}' for category '{c}'. Data sinks can't be reused in different settings on the same category for the same resource.", other["name"].as_str().unwrap_or_default())));
                }
            }
        }
        let existing = self.monitor.of(resource_key);
        let known = existing.iter().any(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        });
        if !known && existing.len() >= MAX_SETTINGS {
            // The limit is Microsoft's; the wording of the refusal is the simulator's.
            return Err(arm_err(
                400,
                "BadRequest",
                format!("A resource can have at most {MAX_SETTINGS} diagnostic settings."),
            ));
        }
        Ok(
            json!({ "id": id, "name": name, "type": "Microsoft.Insights/diagnosticSettings", "properties": p }),
        )
    }

    /// After a Logs Ingestion request: a refusal Azure logs becomes a row of `DCRLogErrors` in each workspace a
    /// diagnostic setting of the DCR sends `LogErrors` (or `allLogs`) to. "Monitor and troubleshoot DCR data
    /// collection in Azure Monitor" (learn.microsoft.com/azure/azure-monitor/data-collection/data-collection-monitor),
    /// "DCR Error Logs": Log Ingestion API calls "with any HTTP response other than 200/202", "with payload
    /// containing malformed data", "with payload over any ingestion limits", "throttling due to overage of API call
    /// limits"; not logged, "because they can't be associated with a DCR": "malformed call URI (HTTP response code
    /// 404)" and "Certain internal server errors (HTTP response code 500)" (here: no 5xx at all). 401 and 403 are
    /// logged: the page's "any HTTP response other than 200/202", and its "Monitoring your log ingestion" table
    /// names "Problems with Log Ingestion API setup such as authentication, access to DCR or DCE" as a cause of new
    /// DCRLogErrors entries; no recorded row confirms it. "some errors will be logged only a limited number of times
    /// each hour followed by a summary error message. The error is then muted until the end of the hour": here the
    /// first error of a (DCR, error code) in a clock hour of the simulated clock is logged and the rest of that
    /// hour muted (the number "may vary depending on the region"; the summary message is not modelled).
    /// `RecordsTimeRangeIsMoreThan30Minutes` (Auxiliary tables only) is logged like any other refusal once the
    /// simulator answers it; it does not yet. The Message's wording (`{code}: {message}` of the answer) is the
    /// simulator's.
    pub fn record_ingestion_outcome(&mut self, req: &Req, reply: &Reply) {
        let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        let ["dataCollectionRules", immutable, "streams", stream] = segs.as_slice() else {
            return;
        };
        if req.method != "POST" || reply.status < 400 || reply.status == 404 || reply.status >= 500
        {
            return;
        }
        let Some(dcr_id) = self
            .resources
            .values()
            .find(|r| {
                r.body
                    .pointer("/properties/immutableId")
                    .and_then(Value::as_str)
                    == Some(*immutable)
            })
            .and_then(|r| r.body["id"].as_str().map(str::to_string))
        else {
            return;
        };
        let (categories, _) =
            log_categories("microsoft.insights/datacollectionrules").unwrap_or_default();
        let targets: Vec<String> = self
            .monitor
            .of(&lc(&dcr_id))
            .into_iter()
            .filter(|s| {
                enabled_categories(s, categories)
                    .iter()
                    .any(|c| c == "LogErrors")
            })
            .filter_map(|s| {
                s.pointer("/properties/workspaceId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect();
        if targets.is_empty() {
            return;
        }
        let error = reply.body.as_ref().and_then(|b| b.get("error"));
        let code = error
            .and_then(|e| e["code"].as_str())
            .unwrap_or("Error")
            .to_string();
        let message = error
            .and_then(|e| e["message"].as_str())
            .unwrap_or_default()
            .to_string();
        let hour = self.wall_now().unix_timestamp().div_euclid(3600);
        if self.monitor.muted.insert((lc(&dcr_id), code.clone()), hour) == Some(hour) {
            return;
        }
        let mut row = Map::new();
        row.insert("TimeGenerated".into(), json!(self.wall_iso()));
        row.insert("InputStreamId".into(), json!(stream));
        row.insert("OperationName".into(), json!("Ingestion"));
        row.insert("Message".into(), json!(format!("{code}: {message}")));
        row.insert(
            "ClientRequestId".into(),
            json!(req.client_request_id.clone().unwrap_or_default()),
        );
        row.insert("CorrelationId".into(), json!(self.uuid()));
        row.insert("_ResourceId".into(), json!(dcr_id));
        row.insert(
            "_SubscriptionId".into(),
            json!(World::sub_of(&dcr_id).unwrap_or_default()),
        );
        row.insert("SourceSystem".into(), json!("Azure"));
        for ws in targets {
            self.append_built_in_rows(
                &ws,
                "DCRLogErrors",
                DCR_LOG_ERRORS_COLUMNS,
                vec![row.clone()],
            );
        }
    }

    /// Adds rows to one of Azure's own tables in a workspace, making the table on its first row: a built-in table
    /// such as DCRLogErrors appears in a workspace when its first data arrives, its columns those of the Azure
    /// Monitor table reference (`schema.standardColumns`, `tableType` `Microsoft`). Each row gets `TenantId`
    /// (the workspace's customer id), `Type` (the table's name) and its ingestion time; the workspace then has data
    /// (its queries no longer answer 204). False when the workspace is not there.
    pub(super) fn append_built_in_rows(
        &mut self,
        workspace_id: &str,
        table: &str,
        columns: &[(&str, &str)],
        rows: Vec<Map<String, Value>>,
    ) -> bool {
        let ws_key = lc(workspace_id);
        let Some(ws) = self.resources.get(&ws_key).map(|r| r.body.clone()) else {
            return false;
        };
        let id = format!(
            "{}/tables/{table}",
            ws["id"].as_str().unwrap_or(workspace_id)
        );
        let key = lc(&id);
        if !self.resources.contains_key(&key) {
            let cols: Vec<Value> = columns
                .iter()
                .map(|(n, t)| json!({ "name": n, "type": t }))
                .collect();
            let body = json!({
                "id": id, "name": table, "type": "Microsoft.OperationalInsights/workspaces/tables",
                "properties": {
                    "plan": "Analytics", "retentionInDays": 30, "totalRetentionInDays": 30, "archiveRetentionInDays": 0,
                    "provisioningState": "Succeeded",
                    "schema": { "name": table, "tableType": "Microsoft", "columns": [], "standardColumns": cols },
                },
            });
            let ready_at = self.now();
            self.resources.insert(
                key.clone(),
                Res {
                    body,
                    ready_at,
                    fail: false,
                },
            );
        }
        let now = self.wall_iso();
        let tenant = ws
            .pointer("/properties/customerId")
            .cloned()
            .unwrap_or(Value::Null);
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|mut r| {
                r.insert("TenantId".into(), tenant.clone());
                r.insert("Type".into(), json!(table));
                r.insert(crate::kql::INGESTION_TIME.into(), json!(now));
                Value::Object(r)
            })
            .collect();
        self.workspaces.mark_had_data(ws_key);
        self.workspaces.append_rows(key, rows);
        true
    }
}
