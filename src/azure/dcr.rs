//! Data collection rules (Microsoft.Insights, api-version 2022-06-01): the stream, its columns and where they land.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::workspace::{column_pairs, Column};
use super::{arm_get_as, arm_put, null_default, parse, Tracked};
use crate::error::Result;
use crate::rest::Rest;

pub const API_VERSION: &str = "2022-06-01";
/// The DCR's ARM type.
pub const TYPE: &str = "Microsoft.Insights/dataCollectionRules";
/// The destination name inside the rule.
const DESTINATION: &str = "keeperWorkspace";

/// A DCR as the tool reads it (`DataCollectionRuleResource`): the fields that decide where events go.
pub type Dcr = Tracked<DcrProperties>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DcrProperties {
    #[serde(default)]
    pub immutable_id: Option<String>,
    #[serde(default)]
    pub data_collection_endpoint_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub stream_declarations: BTreeMap<String, StreamDeclaration>,
    #[serde(default, deserialize_with = "null_default")]
    pub destinations: Destinations,
    #[serde(default, deserialize_with = "null_default")]
    pub data_flows: Vec<DataFlow>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamDeclaration {
    #[serde(default, deserialize_with = "null_default")]
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destinations {
    #[serde(default, deserialize_with = "null_default")]
    pub log_analytics: Vec<LogAnalyticsDestination>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogAnalyticsDestination {
    #[serde(default)]
    pub workspace_resource_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataFlow {
    #[serde(default)]
    pub streams: Vec<String>,
    #[serde(default)]
    pub output_stream: Option<String>,
    #[serde(default)]
    pub transform_kql: Option<String>,
}

impl Dcr {
    pub fn immutable_id(&self) -> Option<&str> {
        self.properties.immutable_id.as_deref()
    }
    /// The workspace the first Log Analytics destination points at.
    pub fn workspace_id(&self) -> Option<&str> {
        self.properties
            .destinations
            .log_analytics
            .first()
            .and_then(|d| d.workspace_resource_id.as_deref())
    }
    /// The output stream of the first data flow (`Custom-<table>` for ours).
    pub fn output_stream(&self) -> Option<&str> {
        self.properties
            .data_flows
            .first()
            .and_then(|f| f.output_stream.as_deref())
    }
    /// Whether this rule already does what `desired` asks (endpoint, stream columns, destination, flow). Resource
    /// ids are compared without case: ARM answers them normalised.
    pub fn matches(&self, desired: &Dcr) -> bool {
        let lower = |s: Option<&str>| s.map(str::to_ascii_lowercase);
        let streams = |d: &Dcr| {
            d.properties
                .stream_declarations
                .iter()
                .map(|(k, s)| (k.clone(), column_pairs(&s.columns)))
                .collect::<Vec<_>>()
        };
        lower(self.properties.data_collection_endpoint_id.as_deref())
            == lower(desired.properties.data_collection_endpoint_id.as_deref())
            && streams(self) == streams(desired)
            && lower(self.workspace_id()) == lower(desired.workspace_id())
            && self.properties.data_flows.first() == desired.properties.data_flows.first()
    }
}

pub fn dcr_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{TYPE}/{name}")
}

/// The stream name for a table: `Custom-<table>_CL`.
pub fn stream_name(table_full_name: &str) -> String {
    format!("Custom-{table_full_name}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Dcr>> {
    arm_get_as(rest, id, API_VERSION).await
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
pub async fn put(rest: &Rest, id: &str, body: &Value) -> Result<Dcr> {
    parse(arm_put(rest, id, API_VERSION, body).await?.body, id)
}

/// Reads a body this tool builds as the typed rule, to compare it with what exists.
pub fn read(body: &Value) -> Dcr {
    serde_json::from_value(body.clone()).unwrap_or_default()
}
