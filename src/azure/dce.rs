//! Data collection endpoints (Microsoft.Insights, api-version 2022-06-01): the logs ingestion URL lives here.

use serde_json::{json, Value};

use super::{arm_get, arm_put};
use crate::error::Result;
use crate::rest::Rest;

pub const API_VERSION: &str = "2022-06-01";

pub fn dce_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Insights/dataCollectionEndpoints/{name}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Value>> {
    arm_get(rest, id, API_VERSION).await
}

/// The PUT body (`DataCollectionEndpointResource`).
pub fn body(location: &str, tags: Value) -> Value {
    json!({
        "location": location,
        "tags": tags,
        "properties": { "networkAcls": { "publicNetworkAccess": "Enabled" } }
    })
}

/// Creates or updates the DCE. Synchronous: 200 with the endpoint in the body.
pub async fn put(rest: &Rest, id: &str, body: &Value) -> Result<Value> {
    Ok(arm_put(rest, id, API_VERSION, body).await?.body)
}

/// `properties.logsIngestion.endpoint`: `https://<name>-<xxxx>.<region>-1.ingest.monitor.azure.com`.
pub fn logs_ingestion_endpoint(body: &Value) -> Option<&str> {
    body.pointer("/properties/logsIngestion/endpoint")
        .and_then(Value::as_str)
}
