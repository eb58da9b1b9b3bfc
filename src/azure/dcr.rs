//! Data collection rules (Microsoft.Insights, api-version 2022-06-01): the stream, its columns and where they land.

use serde_json::{json, Value};

use super::{arm_get, arm_put};
use crate::error::Result;
use crate::rest::Rest;

pub const API_VERSION: &str = "2022-06-01";
/// The destination name inside the rule.
const DESTINATION: &str = "keeperWorkspace";

pub fn dcr_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Insights/dataCollectionRules/{name}")
}

/// The stream name for a table: `Custom-<table>_CL`.
pub fn stream_name(table_full_name: &str) -> String {
    format!("Custom-{table_full_name}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Value>> {
    arm_get(rest, id, API_VERSION).await
}

/// The PUT body (`DataCollectionRuleResource`): one stream declared with the table's columns, sent unchanged
/// (`transformKql: source`) to the table in the workspace.
pub fn body(
    location: &str,
    tags: Value,
    dce_id: &str,
    workspace_id: &str,
    stream: &str,
    columns: &Value,
) -> Value {
    json!({
        "location": location,
        "tags": tags,
        "properties": {
            "dataCollectionEndpointId": dce_id,
            "streamDeclarations": { stream: { "columns": columns } },
            "destinations": { "logAnalytics": [ { "workspaceResourceId": workspace_id, "name": DESTINATION } ] },
            "dataFlows": [ {
                "streams": [stream],
                "destinations": [DESTINATION],
                "transformKql": "source",
                "outputStream": stream
            } ]
        }
    })
}

/// Creates or updates the DCR. Synchronous: 200 with `immutableId` in the body.
pub async fn put(rest: &Rest, id: &str, body: &Value) -> Result<Value> {
    Ok(arm_put(rest, id, API_VERSION, body).await?.body)
}

pub fn immutable_id(body: &Value) -> Option<&str> {
    body.pointer("/properties/immutableId")
        .and_then(Value::as_str)
}

/// Whether an existing rule already does what `desired` asks (endpoint, stream columns, destination, flow).
pub fn matches(existing: &Value, desired: &Value) -> bool {
    let p = |v: &Value, ptr: &str| v.pointer(ptr).cloned().unwrap_or(Value::Null);
    let lower = |v: Value| Value::String(v.as_str().unwrap_or_default().to_ascii_lowercase());
    if lower(p(existing, "/properties/dataCollectionEndpointId"))
        != lower(p(desired, "/properties/dataCollectionEndpointId"))
    {
        return false;
    }
    let streams = |v: &Value| {
        v.pointer("/properties/streamDeclarations")
            .and_then(Value::as_object)
            .map(|o| {
                let mut s: Vec<(String, Vec<(String, String)>)> = o
                    .iter()
                    .map(|(k, d)| (k.clone(), super::workspace::columns_of(d.get("columns"))))
                    .collect();
                s.sort();
                s
            })
            .unwrap_or_default()
    };
    if streams(existing) != streams(desired) {
        return false;
    }
    let ws = |v: &Value| {
        v.pointer("/properties/destinations/logAnalytics/0/workspaceResourceId")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    if ws(existing) != ws(desired) {
        return false;
    }
    let flow = |v: &Value| {
        let f = v
            .pointer("/properties/dataFlows/0")
            .cloned()
            .unwrap_or(Value::Null);
        (
            f.get("streams").cloned(),
            f.get("outputStream").cloned(),
            f.get("transformKql").cloned(),
        )
    };
    flow(existing) == flow(desired)
}
