//! Data collection endpoints (Microsoft.Insights, api-version 2022-06-01): the logs ingestion URL lives here.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{arm_get_as, arm_put, null_default, parse, Tracked};
use crate::error::Result;
use crate::rest::Rest;

pub const API_VERSION: &str = "2022-06-01";
/// The DCE's ARM type.
pub const TYPE: &str = "Microsoft.Insights/dataCollectionEndpoints";

/// A DCE as the tool reads it (`DataCollectionEndpointResource`).
pub type Dce = Tracked<DceProperties>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DceProperties {
    #[serde(default, deserialize_with = "null_default")]
    pub logs_ingestion: Endpoint,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Endpoint {
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl Dce {
    /// `properties.logsIngestion.endpoint`: `https://<name>-<xxxx>.<region>-1.ingest.monitor.azure.com`.
    pub fn logs_ingestion_endpoint(&self) -> Option<&str> {
        self.properties.logs_ingestion.endpoint.as_deref()
    }
}

pub fn dce_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{TYPE}/{name}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Dce>> {
    arm_get_as(rest, id, API_VERSION).await
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
pub async fn put(rest: &Rest, id: &str, body: &Value) -> Result<Dce> {
    parse(arm_put(rest, id, API_VERSION, body).await?.body, id)
}
