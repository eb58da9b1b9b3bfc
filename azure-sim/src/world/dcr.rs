//! Data collection rules (`Microsoft.Insights/dataCollectionRules`): streams, destinations and data flows checked.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{lc, Res, World};
use crate::reply::{arm_err, Reply};
use crate::schema;

impl World {
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
            return r;
        }
        let p = body.get("properties").cloned().unwrap_or(json!({}));
        if let Some(dce) = p["dataCollectionEndpointId"].as_str() {
            if !self.resources.contains_key(&lc(dce)) {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Data collection endpoint '{dce}' does not exist."),
                );
            }
        }
        let streams: Map<String, Value> = p["streamDeclarations"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (s, d) in &streams {
            if !s.starts_with("Custom-") {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Stream declaration '{s}' must start with 'Custom-'."),
                );
            }
            for c in d["columns"].as_array().into_iter().flatten() {
                let t = c["type"].as_str().unwrap_or_default().to_ascii_lowercase();
                if ![
                    "string", "int", "long", "real", "boolean", "datetime", "dynamic",
                ]
                .contains(&t.as_str())
                {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!(
                            "Column '{}' of stream '{s}' has an invalid type '{t}'.",
                            c["name"]
                        ),
                    );
                }
            }
        }
        let mut dests: HashMap<String, String> = HashMap::new();
        for d in p
            .pointer("/destinations/logAnalytics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ws = d["workspaceResourceId"].as_str().unwrap_or_default();
            if !self.resources.contains_key(&lc(ws)) {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Log Analytics workspace '{ws}' does not exist."),
                );
            }
            dests.insert(
                d["name"].as_str().unwrap_or_default().to_string(),
                ws.to_string(),
            );
        }
        for f in p["dataFlows"].as_array().into_iter().flatten() {
            for s in f["streams"].as_array().into_iter().flatten() {
                let s = s.as_str().unwrap_or_default();
                if !streams.contains_key(s) && !s.starts_with("Microsoft-") {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Data flow stream '{s}' is not declared in streamDeclarations."),
                    );
                }
            }
            for d in f["destinations"].as_array().into_iter().flatten() {
                let d = d.as_str().unwrap_or_default();
                let Some(ws) = dests.get(d) else {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Data flow destination '{d}' is not declared in destinations."),
                    );
                };
                if let Some(out) = f["outputStream"].as_str() {
                    let table = out.strip_prefix("Custom-").unwrap_or(out);
                    if !self
                        .resources
                        .contains_key(&lc(&format!("{ws}/tables/{table}")))
                    {
                        return arm_err(400, "InvalidOutputTable", format!("Table for output stream '{out}' is not available for destination '{d}'."));
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
        self.resources.insert(
            lc(id),
            Res {
                body: rb.clone(),
                ready_at: self.now(),
                fail: false,
            },
        );
        Reply::json(200, rb)
    }
}
