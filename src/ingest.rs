//! Logs Ingestion client: posts events to a DCR stream as the app (gzip, 1 MB batches), and reads rows back.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::cloud::CloudProfile;
use crate::error::{AzureError, Result};
use crate::rest::{azure_error, describe};
use crate::secret::SecretString;

/// The Logs Ingestion API version the Endpoint URL names.
pub const API_VERSION: &str = "2023-01-01";

/// The guide's sample events.
pub const SAMPLE_EVENTS: &str = include_str!("../templates/sample-events.json");

/// Posts one batch (a JSON array already serialized) gzip-compressed to the Endpoint URL.
pub async fn post_batch(http: &reqwest::Client, endpoint_url: &str, token: &SecretString, json_array: &[u8]) -> Result<()> {
    let mut gz = GzEncoder::new(Vec::with_capacity(json_array.len() / 4), Compression::fast());
    gz.write_all(json_array).and_then(|_| Ok(()))
        .map_err(|e| crate::error::Error::Other(format!("gzip: {e}")))?;
    let body = gz.finish().map_err(|e| crate::error::Error::Other(format!("gzip: {e}")))?;
    let resource = describe(&reqwest::Method::POST, endpoint_url);
    let resp = http
        .post(endpoint_url)
        .bearer_auth(token.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| AzureError {
            status: 0,
            code: "ConnectionError".into(),
            message: e.to_string(),
            resource: resource.clone(),
            hint: "check the Endpoint URL's host (the DCE logs ingestion endpoint)".into(),
        })?;
    let status = resp.status().as_u16();
    if status < 300 {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Err(azure_error(status, &body, resource).into())
}

/// Runs a Log Analytics query and returns the rows of the first table as objects.
pub async fn query(
    http: &reqwest::Client,
    profile: &CloudProfile,
    token: &SecretString,
    workspace_customer_id: &str,
    kql: &str,
) -> Result<Vec<Value>> {
    let url = profile.query_url(workspace_customer_id);
    let resource = describe(&reqwest::Method::POST, &url);
    let resp = http
        .post(&url)
        .bearer_auth(token.expose())
        .json(&json!({ "query": kql }))
        .send()
        .await
        .map_err(|e| AzureError { status: 0, code: "ConnectionError".into(), message: e.to_string(), resource: resource.clone(), hint: String::new() })?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status >= 300 {
        return Err(azure_error(status, &body, resource).into());
    }
    let table = body.pointer("/tables/0").cloned().unwrap_or(Value::Null);
    let cols: Vec<String> = table
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| c.get("name")?.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let rows = table.get("rows").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let vals = r.as_array().cloned().unwrap_or_default();
            Value::Object(cols.iter().cloned().zip(vals).collect())
        })
        .collect())
}
