//! Data collection rules (`Microsoft.Insights/dataCollectionRules`): streams, destinations, regions and data flows
//! checked, every refusal in the `InvalidPayload` + `details[]` shape.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{lc, World};
use crate::reply::{arm_err_details, Reply};
use crate::schema;

/// Every reason a rule is refused comes as 400 `InvalidPayload` "Data collection rule is invalid", the reason in
/// `details[]` as `{code, message, target}` (hashicorp/terraform-provider-azurerm#28709).
fn invalid(code: &str, message: impl Into<String>, target: &str) -> Reply {
    arm_err_details(
        400,
        "InvalidPayload",
        "Data collection rule is invalid",
        vec![json!({ "code": code, "message": message.into(), "target": target })],
    )
}

/// A region as ARM compares them: `East US` and `eastus` are one region.
fn region(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

impl World {
    /// How long after a table is ready a rule still may not name it: the latency model's figure, or the config's.
    fn table_output_delay(&self) -> std::time::Duration {
        match &self.cfg.latency {
            Some(l) => l.scaled(l.table_output),
            None => self.cfg.table_output_delay,
        }
    }

    pub(super) fn put_dcr(
        &mut self,
        id: &str,
        name: &str,
        body: &Value,
        existing: Option<Value>,
    ) -> Reply {
        if let Err(r) = self.validate(
            schema::DCR,
            "DataCollectionRuleResource",
            body,
            "InvalidPayload",
        ) {
            let message = r
                .body
                .as_ref()
                .and_then(|b| b.pointer("/error/message"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            return invalid("InvalidProperty", message, "properties");
        }
        let p = body.get("properties").cloned().unwrap_or(json!({}));
        let region = |v: &Value| region(v["location"].as_str().unwrap_or_default());
        let rule_region = region(body);
        if let Some(dce) = p["dataCollectionEndpointId"].as_str() {
            let Some(found) = self.resources.get(&lc(dce)) else {
                return invalid(
                    "InvalidDataCollectionEndpoint",
                    format!("Data collection endpoint '{dce}' does not exist."),
                    "properties.dataCollectionEndpointId",
                );
            };
            // The DCE must be in the rule's region ("Data collection endpoints in Azure Monitor", components and
            // regionality: https://learn.microsoft.com/azure/azure-monitor/essentials/data-collection-endpoint-overview;
            // the portal offers only endpoints "in the same region as the data collection rule"). The detail code
            // and wording are the simulator's: no recorded Azure answer for this case was found.
            let dce_region = region(&found.body);
            if dce_region != rule_region {
                return invalid(
                    "InvalidDataCollectionEndpoint",
                    format!("Data collection endpoint '{dce}' is in region '{dce_region}', but the data collection rule is in '{rule_region}'. They must be in the same region."),
                    "properties.dataCollectionEndpointId",
                );
            }
        }
        let streams: Map<String, Value> = p["streamDeclarations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (s, d) in &streams {
            let target = format!("properties.streamDeclarations.{s}");
            if !s.starts_with("Custom-") {
                return invalid(
                    "InvalidStreamDeclaration",
                    format!("Stream declaration '{s}' must start with 'Custom-'."),
                    &target,
                );
            }
            for c in d["columns"].as_array().into_iter().flatten() {
                let t = c["type"].as_str().unwrap_or_default().to_ascii_lowercase();
                if ![
                    "string", "int", "long", "real", "boolean", "datetime", "dynamic",
                ]
                .contains(&t.as_str())
                {
                    return invalid(
                        "InvalidStreamDeclaration",
                        format!(
                            "Column '{}' of stream '{s}' has an invalid type '{t}'.",
                            c["name"]
                        ),
                        &target,
                    );
                }
            }
        }
        let mut dests: HashMap<String, String> = HashMap::new();
        for (i, d) in p
            .pointer("/destinations/logAnalytics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let target = format!("properties.destinations.logAnalytics[{i}]");
            let ws = d["workspaceResourceId"].as_str().unwrap_or_default();
            let Some(found) = self.resources.get(&lc(ws)) else {
                return invalid(
                    "InvalidDestination",
                    format!("Log Analytics workspace '{ws}' does not exist."),
                    &target,
                );
            };
            // A rule sends only to a workspace in its own region (the logs ingestion endpoint is "in the same region
            // as the destination Log Analytics workspace", data-collection-endpoint-overview above). Code and wording
            // are the simulator's.
            let ws_region = region(&found.body);
            if ws_region != rule_region {
                return invalid(
                    "InvalidDestination",
                    format!("Log Analytics workspace '{ws}' is in region '{ws_region}', but the data collection rule is in '{rule_region}'. The destination workspace must be in the rule's region."),
                    &target,
                );
            }
            dests.insert(
                d["name"].as_str().unwrap_or_default().to_string(),
                ws.to_string(),
            );
        }
        let now = self.now();
        let output_delay = self.table_output_delay();
        for (i, f) in p["dataFlows"].as_array().into_iter().flatten().enumerate() {
            let target = format!("properties.dataFlows[{i}]");
            for s in f["streams"].as_array().into_iter().flatten() {
                let s = s.as_str().unwrap_or_default();
                if !streams.contains_key(s) && !s.starts_with("Microsoft-") {
                    return invalid(
                        "InvalidStream",
                        format!("Data flow stream '{s}' is not declared in streamDeclarations."),
                        &target,
                    );
                }
            }
            for d in f["destinations"].as_array().into_iter().flatten() {
                let d = d.as_str().unwrap_or_default();
                let Some(ws) = dests.get(d) else {
                    return invalid(
                        "InvalidDataFlow",
                        format!("Data flow destination '{d}' is not declared in destinations."),
                        &target,
                    );
                };
                if let Some(out) = f["outputStream"].as_str() {
                    // The table must exist, have finished its operation, and be known to the DCR service, which
                    // takes a few seconds more (SimConfig::table_output_delay). Message as Azure words it
                    // (Azure/Azure-Sentinel#12145; code and target: MicrosoftDocs/azure-docs#113557).
                    let table = out.strip_prefix("Custom-").unwrap_or(out);
                    let usable = self
                        .resources
                        .get(&lc(&format!("{ws}/tables/{table}")))
                        .is_some_and(|t| {
                            !t.fail
                                && t.body.pointer("/properties/provisioningState")
                                    != Some(&json!("InProgress"))
                                && now >= t.ready_at + output_delay
                        });
                    if !usable {
                        return invalid(
                            "InvalidOutputTable",
                            format!("Table for output stream '{out}' is not available for destination '{d}'. Please ensure that the table exists in Log Analytics Workspace before creating or updating the rule."),
                            &target,
                        );
                    }
                }
            }
        }
        let imm = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/immutableId").cloned())
            .unwrap_or_else(|| json!(format!("dcr-{}", self.hex(32))));
        let mut props = p;
        props["immutableId"] = imm;
        props["provisioningState"] = json!("Succeeded");
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.Insights/dataCollectionRules", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        self.store_ready(id, rb.clone());
        Reply::json(200, rb)
    }
}
