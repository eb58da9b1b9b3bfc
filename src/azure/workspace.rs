//! Log Analytics workspaces and their custom tables (Microsoft.OperationalInsights, api-version 2022-10-01).

use reqwest::Method;
use serde_json::{json, Value};

use super::{arm_get, arm_put, provisioning_state};
use crate::error::Result;
use crate::rest::{describe, Api, Rest};

pub const API_VERSION: &str = "2022-10-01";

/// Resource id of a workspace.
pub fn workspace_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.OperationalInsights/workspaces/{name}")
}

/// Resource id of a table in a workspace.
pub fn table_id(workspace_id: &str, table: &str) -> String {
    format!("{workspace_id}/tables/{table}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Value>> {
    arm_get(rest, id, API_VERSION).await
}

/// The PUT body of a new workspace (Workspaces.json `Workspace`).
pub fn body(location: &str, tags: Value) -> Value {
    json!({
        "location": location,
        "tags": tags,
        "properties": { "sku": { "name": "PerGB2018" }, "retentionInDays": 30 }
    })
}

/// Creates or updates a workspace and waits until it says `Succeeded`: the end of the operation alone is not proof.
pub async fn put_and_wait(rest: &Rest, id: &str, body: &Value) -> Result<Value> {
    let r = arm_put(rest, id, API_VERSION, body).await?;
    let url = rest
        .profile
        .arm_url(&format!("{id}?api-version={API_VERSION}"));
    rest.wait_lro(Api::Arm, &describe(&Method::PUT, &url), &r)
        .await?;
    wait_ready(rest, id).await
}

/// Polls a workspace until it says `Succeeded` (an error if it says `Failed` or `Canceled`).
pub async fn wait_ready(rest: &Rest, id: &str) -> Result<Value> {
    let url = rest
        .profile
        .arm_url(&format!("{id}?api-version={API_VERSION}"));
    rest.poll_resource(Api::Arm, &url, |b| match provisioning_state(b) {
        Some("Succeeded") => Some(Ok(())),
        Some(s @ ("Failed" | "Canceled")) => Some(Err(s.to_string())),
        _ => None,
    })
    .await
}

/// The workspace's customer id (the id the query API takes).
pub fn customer_id(body: &Value) -> Option<&str> {
    body.pointer("/properties/customerId")
        .and_then(Value::as_str)
}

pub async fn get_table(rest: &Rest, id: &str) -> Result<Option<Value>> {
    arm_get(rest, id, API_VERSION).await
}

/// The PUT body of a custom table (Tables.json `Table`) with these columns.
pub fn table_body(table_name: &str, columns: &Value) -> Value {
    json!({ "properties": { "schema": { "name": table_name, "columns": columns } } })
}

/// Creates or updates a table: a long-running operation (202 + Azure-AsyncOperation).
pub async fn put_table(rest: &Rest, id: &str, body: &Value) -> Result<()> {
    let r = arm_put(rest, id, API_VERSION, body).await?;
    rest.wait_lro(Api::Arm, &format!("PUT {id}"), &r).await
}

/// The table's columns as (name, lower-case type) pairs, for comparing with the template.
pub fn table_columns(body: &Value) -> Vec<(String, String)> {
    columns_of(body.pointer("/properties/schema/columns"))
}

/// (name, lower-case type) pairs of a column array.
pub fn columns_of(columns: Option<&Value>) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = columns
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    Some((
                        c.get("name")?.as_str()?.to_string(),
                        c.get("type")?.as_str()?.to_ascii_lowercase(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
