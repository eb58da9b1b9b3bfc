//! Logs Ingestion client: posts events to a DCR stream as the app (gzip, 1 MB batches), and reads rows back.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::cloud::CloudProfile;
use crate::error::{AzureError, Result};
use crate::rest::{azure_error, describe};
use crate::secret::SecretString;

/// The Logs Ingestion API version the Endpoint URL names.
pub const API_VERSION: &str = "2023-01-01";

/// The guide's sample events.
pub const SAMPLE_EVENTS: &str = include_str!("../templates/sample-events.json");

/// The most JSON one request may carry, before compression (the API's limit).
pub const MAX_BATCH_BYTES: usize = 1_048_576;

/// A refused post: Azure's error and how long it asked to wait.
#[derive(Debug, Clone)]
pub struct PostError {
    pub error: AzureError,
    pub retry_after: Option<Duration>,
}

/// Posts one batch (a JSON array already serialized) gzip-compressed to the Endpoint URL, once.
pub async fn post_once(
    http: &reqwest::Client,
    endpoint_url: &str,
    token: &SecretString,
    json_array: &[u8],
) -> Result<(), PostError> {
    let resource = describe(&reqwest::Method::POST, endpoint_url);
    let fail = |code: &str, message: String| PostError {
        error: AzureError {
            status: 0,
            code: code.into(),
            message,
            resource: resource.clone(),
            hint: "check the Endpoint URL's host (the DCE logs ingestion endpoint) and the network"
                .into(),
        },
        retry_after: None,
    };
    let mut gz = GzEncoder::new(
        Vec::with_capacity(json_array.len() / 4 + 64),
        Compression::fast(),
    );
    gz.write_all(json_array)
        .map_err(|e| fail("Gzip", e.to_string()))?;
    let body = gz.finish().map_err(|e| fail("Gzip", e.to_string()))?;
    let resp = http
        .post(endpoint_url)
        .bearer_auth(token.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            fail(
                if e.is_timeout() {
                    "Timeout"
                } else {
                    "ConnectionError"
                },
                e.to_string(),
            )
        })?;
    let status = resp.status().as_u16();
    if status < 300 {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Err(PostError {
        error: azure_error(status, &body, resource),
        retry_after,
    })
}

/// Posts one batch, as [`post_once`], with an error for the caller.
pub async fn post_batch(
    http: &reqwest::Client,
    endpoint_url: &str,
    token: &SecretString,
    json_array: &[u8],
) -> Result<()> {
    post_once(http, endpoint_url, token, json_array)
        .await
        .map_err(|e| e.error.into())
}

/// Joins serialized events into one JSON array.
pub fn join_array(events: &[Vec<u8>]) -> Vec<u8> {
    let len = events.iter().map(Vec::len).sum::<usize>() + events.len() + 2;
    let mut out = Vec::with_capacity(len);
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(e);
    }
    out.push(b']');
    out
}

/// What happened to a batch in the end.
#[derive(Debug)]
pub enum BatchError {
    /// Ingestion refused the app (403): nothing more will get through.
    Forbidden(AzureError),
    /// These events were refused for good (a 4xx other than 403/413/429, or retries ran out).
    Rejected(AzureError, Vec<Vec<u8>>),
}

/// Sends batches as the app: retries 429/5xx honouring Retry-After, splits a batch on 413, stops on 403.
pub struct Sender {
    pub http: reqwest::Client,
    pub endpoint_url: String,
    pub auth: Arc<Auth>,
    pub audience: String,
    pub max_attempts: u32,
    pub requests: AtomicUsize,
    pub retries: AtomicUsize,
}

impl Sender {
    /// Sends `events` (each a serialized JSON object), in as many requests as the API forces.
    pub fn send<'a>(&'a self, events: Vec<Vec<u8>>) -> BoxFuture<'a, Result<(), BatchError>> {
        async move {
            let body = join_array(&events);
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let token = match self.auth.token(&self.audience).await {
                    Ok(t) => t,
                    Err(e) => {
                        let err = AzureError {
                            status: 0,
                            code: "TokenFailed".into(),
                            message: e.to_string(),
                            resource: "token".into(),
                            hint: String::new(),
                        };
                        return Err(BatchError::Forbidden(err));
                    }
                };
                self.requests.fetch_add(1, Ordering::Relaxed);
                let e = match post_once(&self.http, &self.endpoint_url, &token, &body).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                };
                match e.error.status {
                    403 | 401 => return Err(BatchError::Forbidden(e.error)),
                    413 if events.len() > 1 => {
                        let mut first = events;
                        let second = first.split_off(first.len() / 2);
                        self.send(first).await?;
                        return self.send(second).await;
                    }
                    0 | 408 | 429 | 500..=599 if attempt < self.max_attempts => {
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        let backoff = Duration::from_millis(250u64 << attempt.min(7));
                        crate::rest::pause(e.retry_after.unwrap_or(backoff)).await;
                    }
                    _ => return Err(BatchError::Rejected(e.error, events)),
                }
            }
        }
        .boxed()
    }
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
        .map_err(|e| AzureError {
            status: 0,
            code: "ConnectionError".into(),
            message: e.to_string(),
            resource: resource.clone(),
            hint: String::new(),
        })?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status >= 300 {
        return Err(azure_error(status, &body, resource).into());
    }
    let table = body.pointer("/tables/0").cloned().unwrap_or(Value::Null);
    let cols: Vec<String> = table
        .get("columns")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter_map(|c| c.get("name")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let rows = table
        .get("rows")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let vals = r.as_array().cloned().unwrap_or_default();
            Value::Object(cols.iter().cloned().zip(vals).collect())
        })
        .collect())
}
