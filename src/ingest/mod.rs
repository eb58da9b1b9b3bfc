//! Logs Ingestion client: posts events to a DCR stream as the app (gzip, 1 MB batches), and reads rows back.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use flate2::write::GzEncoder;
use flate2::Compression;
use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::auth::Auth;
use crate::cloud::CloudProfile;
use crate::error::{AzureError, Result};
use crate::rest::{azure_error, describe, Backoff, RetryPolicy, Schedule};
use crate::secret::SecretString;

/// The Logs Ingestion API version the Endpoint URL names.
pub const API_VERSION: &str = "2023-01-01";

/// The guide's sample events.
pub const SAMPLE_EVENTS: &str = include_str!("../../templates/sample-events.json");

/// The most JSON one request may carry, before compression (the API's limit).
pub const MAX_BATCH_BYTES: usize = 1_048_576;

/// A refused post: Azure's error and how long it asked to wait.
#[derive(Debug, Clone)]
pub struct PostError {
    pub error: AzureError,
    pub retry_after: Option<Duration>,
}

/// A post that failed on this side (no answer from the service, or gzip): the code, and where to look.
fn local_failure(endpoint_url: &str, code: &str, message: String) -> PostError {
    PostError {
        error: AzureError {
            details: Vec::new(),
            status: 0,
            code: code.into(),
            message,
            resource: describe(&reqwest::Method::POST, endpoint_url),
            hint: "check the Endpoint URL's host (the DCE logs ingestion endpoint) and the network"
                .into(),
        },
        retry_after: None,
    }
}

/// Gzip at the fastest level: batches are small and the link is rarely the bottleneck.
fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::with_capacity(json.len() / 4 + 64), Compression::fast());
    gz.write_all(json)?;
    gz.finish()
}

/// Posts a gzip-compressed JSON array to the Endpoint URL, once.
async fn post_gzipped(
    http: &reqwest::Client,
    endpoint_url: &str,
    token: &SecretString,
    body: bytes::Bytes,
) -> Result<(), PostError> {
    let fail = |code: &str, message: String| local_failure(endpoint_url, code, message);
    let resp = http
        .post(endpoint_url)
        .bearer_auth(token.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::CONTENT_ENCODING, "gzip")
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if let Some(kind) = crate::net::unfixable(&e) {
                let mut f = fail(
                    kind.code(),
                    format!(
                        "{}: {}",
                        crate::net::host_of(endpoint_url),
                        crate::net::root_cause(&e)
                    ),
                );
                f.error.hint = kind.hint().into();
                return f;
            }
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
    let retry_after = crate::rest::retry_after(resp.headers());
    let text = resp.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Err(PostError {
        error: azure_error(
            status,
            &body,
            describe(&reqwest::Method::POST, endpoint_url),
        ),
        retry_after,
    })
}

/// Events laid out as the JSON array a request carries (`[e1,e2,…`; the closing `]` is added when sent), with
/// where each event starts, so that a batch can be split or written out event by event without reparsing.
/// Events are appended in place: the reader reads straight into the batch, and nothing is copied to send it.
#[derive(Debug, Clone)]
pub struct Batch {
    json: Vec<u8>,
    starts: Vec<usize>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch::with_capacity(0)
    }
}

impl Batch {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut json = Vec::with_capacity(bytes.max(1));
        json.push(b'[');
        Batch {
            json,
            starts: Vec::new(),
        }
    }

    /// A batch of these serialized events.
    pub fn of<T: AsRef<[u8]>>(events: &[T]) -> Self {
        let mut b =
            Batch::with_capacity(events.iter().map(|e| e.as_ref().len() + 1).sum::<usize>() + 2);
        for e in events {
            b.push(e.as_ref());
        }
        b
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes of the JSON array as sent (with its closing `]`).
    pub fn json_len(&self) -> usize {
        self.json.len() + 1
    }

    /// Bytes of the events and the separators between them (the array without its brackets).
    pub fn event_bytes(&self) -> usize {
        self.json.len() - 1
    }

    pub fn push(&mut self, event: &[u8]) {
        let _ = self.push_with(|out| {
            out.extend_from_slice(event);
            Ok::<(), ()>(())
        });
    }

    /// Appends one event that `write` adds to the end of the buffer it is given; if `write` fails, the batch is
    /// left as it was.
    /// (`write` adding nothing adds no event.)
    pub fn push_with<T, E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<T, E>,
    ) -> Result<T, E> {
        let before = self.json.len();
        if !self.starts.is_empty() {
            self.json.push(b',');
        }
        let start = self.json.len();
        match write(&mut self.json) {
            Ok(t) => {
                if self.json.len() > start {
                    self.starts.push(start);
                } else {
                    self.json.truncate(before);
                }
                Ok(t)
            }
            Err(e) => {
                self.json.truncate(before);
                Err(e)
            }
        }
    }

    /// Takes the last event out (its bytes).
    pub fn pop(&mut self) -> Option<Vec<u8>> {
        let start = self.starts.pop()?;
        let event = self.json[start..].to_vec();
        // The separator before it goes too (the first event has none; '[' stays).
        self.json
            .truncate(if self.starts.is_empty() { 1 } else { start - 1 });
        Some(event)
    }

    /// Appends every event of `other`.
    pub fn extend(&mut self, other: &Batch) {
        for e in other.events() {
            self.push(e);
        }
    }

    /// The events, one slice each.
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.starts.iter().enumerate().map(|(i, &start)| {
            let end = self
                .starts
                .get(i + 1)
                .map_or(self.json.len(), |&next| next - 1);
            &self.json[start..end]
        })
    }

    /// Splits the batch into two halves by event count.
    pub fn halves(self) -> (Batch, Batch) {
        let mid = self.len() / 2;
        let (mut a, mut b) = (
            Batch::with_capacity(self.json.len() / 2 + 2),
            Batch::with_capacity(self.json.len() / 2 + 2),
        );
        for (i, e) in self.events().enumerate() {
            if i < mid {
                a.push(e)
            } else {
                b.push(e)
            }
        }
        (a, b)
    }

    /// Runs `f` on the complete JSON array (closed with `]`), without copying it.
    fn with_array<T>(&mut self, f: impl FnOnce(&[u8]) -> T) -> T {
        self.json.push(b']');
        let out = f(&self.json);
        self.json.pop();
        out
    }
}

/// What happened to a batch in the end.
#[derive(Debug)]
pub enum BatchError {
    /// Ingestion refused the app (403, past any [`RoleWait`]): nothing more will get through. The events of the
    /// batch come back, so that nothing read is lost.
    Forbidden(AzureError, Batch),
    /// These events were refused for good (a 4xx other than 403/413/429, or retries ran out).
    Rejected(AzureError, Batch),
}

/// A refusal the run stops on because the retry it calls for would end after the run's deadline.
fn past_deadline(mut error: AzureError, asked: Option<Duration>, wait: Duration) -> AzureError {
    error.hint = match asked {
        Some(asked) => format!(
            "Azure asked to retry after {}s (Retry-After), and even the {}s waited at most would end past the run's deadline; run again later, or with a longer --timeout",
            asked.as_secs(),
            wait.as_secs()
        ),
        None => format!(
            "the next retry, in {:.1}s, would end past the run's deadline; run again later, or with a longer --timeout",
            wait.as_secs_f64()
        ),
    }
    .into();
    error
}

/// How long a 403 from ingestion is waited through: while the role assignment it needs may still be propagating
/// (up to 30 minutes, `azure::roles::INGESTION_PROPAGATION`).
pub struct RoleWait {
    /// Until when, on the tool's clock ([`crate::rest::now`]); past it a 403 stops the batch.
    pub until: std::time::Instant,
    /// Said once, at the first 403 waited through; `None` waits quietly.
    pub note: Option<String>,
    said: AtomicBool,
    /// 403s waited through, over every batch.
    pub waited: AtomicUsize,
}

impl RoleWait {
    /// The first retry after a 403 comes 5 s after it; each next one twice as long, at most a minute later.
    const SCHEDULE: Schedule = Schedule::new(Duration::from_secs(5), Duration::from_secs(60));

    pub fn new(until: std::time::Instant, note: Option<String>) -> RoleWait {
        RoleWait {
            until,
            note,
            said: AtomicBool::new(false),
            waited: AtomicUsize::new(0),
        }
    }

    /// One batch's waits: they stop at `until`, where the last try is made.
    fn backoff(&self) -> Backoff {
        Self::SCHEDULE.until(self.until)
    }

    /// How long to wait before trying again after a 403, on this batch's `backoff`; `None` once the time is up.
    fn next(&self, backoff: &mut Backoff) -> Option<Duration> {
        let wait = backoff.next_wait()?;
        if let Some(note) = &self.note {
            if !self.said.swap(true, Ordering::Relaxed) {
                crate::console::note(format_args!("{note}"));
            }
        }
        self.waited.fetch_add(1, Ordering::Relaxed);
        Some(wait)
    }
}

/// Sends batches as the app: retries 429/5xx honouring Retry-After, splits a batch on 413, stops on 403 (or,
/// with a [`RoleWait`], waits through it while a new role may still be propagating).
pub struct Sender {
    pub http: reqwest::Client,
    pub endpoint_url: String,
    pub auth: Arc<Auth>,
    pub audience: String,
    pub max_attempts: u32,
    /// The run's deadline (`verify --wait --timeout`), if it has one: a retry whose wait would end after it is
    /// not waited for, and the batch is refused instead.
    pub deadline: Option<std::time::Instant>,
    /// Whether, and how long, a 403 is waited through.
    pub role_wait: Option<RoleWait>,
    pub requests: AtomicUsize,
    pub retries: AtomicUsize,
}

impl Sender {
    /// Sends `events` (each a serialized JSON object), in as many requests as the API forces.
    pub fn send<'a>(&'a self, mut events: Batch) -> BoxFuture<'a, Result<(), BatchError>> {
        async move {
            let body = events.with_array(gzip);
            let body = match body {
                Ok(b) => bytes::Bytes::from(b),
                Err(e) => {
                    let err = AzureError {
                        details: Vec::new(),
                        status: 0,
                        code: "Gzip".into(),
                        message: e.to_string(),
                        resource: describe(&reqwest::Method::POST, &self.endpoint_url),
                        hint: crate::error::Hint::None,
                    };
                    return Err(BatchError::Rejected(err, events));
                }
            };
            // Attempts for 429/5xx (a wait for a role is not one of them).
            let mut attempt = 1u32;
            let mut refreshed = false;
            let mut role_backoff = self.role_wait.as_ref().map(RoleWait::backoff);
            loop {
                let token = match self.auth.token(&self.audience).await {
                    Ok(t) => t,
                    // The token endpoint unreachable for good (an untrusted certificate, an unknown host): no
                    // amount of waiting for a role helps, so not `Forbidden`, which `verify --wait` waits through.
                    Err(crate::error::Error::Network {
                        code,
                        host,
                        what,
                        hint,
                    }) => {
                        let err = AzureError {
                            details: Vec::new(),
                            status: 0,
                            code: code.into(),
                            message: what,
                            resource: host,
                            hint,
                        };
                        return Err(BatchError::Rejected(err, events));
                    }
                    Err(e) => {
                        let err = AzureError {
                            details: Vec::new(),
                            status: 0,
                            code: "TokenFailed".into(),
                            message: e.to_string(),
                            resource: "token".into(),
                            hint: crate::error::Hint::None,
                        };
                        return Err(BatchError::Forbidden(err, events));
                    }
                };
                self.requests.fetch_add(1, Ordering::Relaxed);
                let e = match post_gzipped(&self.http, &self.endpoint_url, &token, body.clone())
                    .await
                {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                };
                match e.error.status {
                    // A token turned down before its time (a run that outlived it): a new one, once.
                    401 if !refreshed => {
                        refreshed = true;
                        self.auth.invalidate(&self.audience, &token).await;
                    }
                    403 => match self.role_wait.as_ref().zip(role_backoff.as_mut()).and_then(|(w, b)| w.next(b)) {
                        Some(wait) => {
                            tracing::info!("ingestion answered 403; the role may be propagating: retrying in {wait:?}");
                            crate::rest::pause(wait).await;
                        }
                        None => return Err(BatchError::Forbidden(e.error, events)),
                    },
                    401 => return Err(BatchError::Forbidden(e.error, events)),
                    413 if events.len() > 1 => {
                        let (first, second) = events.halves();
                        return match self.send(first).await {
                            Ok(()) => self.send(second).await,
                            // Stopped: the second half is not sent, and comes back with the first.
                            Err(BatchError::Forbidden(e, mut unsent)) => {
                                unsent.extend(&second);
                                Err(BatchError::Forbidden(e, unsent))
                            }
                            // The first half was refused for good; the second still goes.
                            Err(BatchError::Rejected(e, mut refused)) => {
                                match self.send(second).await {
                                    Ok(()) => Err(BatchError::Rejected(e, refused)),
                                    Err(BatchError::Rejected(_, more)) => {
                                        refused.extend(&more);
                                        Err(BatchError::Rejected(e, refused))
                                    }
                                    Err(BatchError::Forbidden(f, more)) => {
                                        refused.extend(&more);
                                        Err(BatchError::Forbidden(f, refused))
                                    }
                                }
                            }
                        };
                    }
                    // An untrusted certificate or an unknown host: the same on every attempt.
                    0 if crate::net::Unfixable::is_code(&e.error.code) => {
                        return Err(BatchError::Rejected(e.error, events))
                    }
                    0 | 408 | 429 | 500..=599 if attempt < self.max_attempts => {
                        // The client's own policy: Retry-After where Azure sends one, else backoff from 500 ms.
                        let wait = RetryPolicy::default().wait(attempt, e.retry_after);
                        if let Some(deadline) = self.deadline {
                            if !crate::rest::ends_by(deadline, wait) {
                                return Err(BatchError::Rejected(
                                    past_deadline(e.error, e.retry_after, wait),
                                    events,
                                ));
                            }
                        }
                        self.retries.fetch_add(1, Ordering::Relaxed);
                        attempt += 1;
                        crate::rest::pause(wait).await;
                    }
                    _ => return Err(BatchError::Rejected(e.error, events)),
                }
            }
        }
        .boxed()
    }
}

/// The answer a query would have given with no rows, for the 204 of a workspace without data.
const NO_ROWS: &str = r#"{"tables":[{"name":"PrimaryResult","columns":[],"rows":[]}]}"#;

/// A query answer's first table, borrowed from the answer's text: its column names and each row's cells as JSON
/// text, so that a large answer (an import's slice) is not built into values cell by cell.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AnswerTable<'a> {
    #[serde(borrow, default)]
    pub columns: Vec<AnswerColumn<'a>>,
    #[serde(borrow, default)]
    pub rows: Vec<Vec<&'a RawValue>>,
}

#[derive(Debug, serde::Deserialize)]
pub struct AnswerColumn<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
}

impl<'a> AnswerTable<'a> {
    /// The first table of a query answer's text (none: no columns, no rows).
    pub fn parse(text: &'a str) -> Result<AnswerTable<'a>> {
        #[derive(serde::Deserialize)]
        struct Answer<'a> {
            #[serde(borrow, default)]
            tables: Vec<AnswerTable<'a>>,
        }
        let a: Answer = serde_json::from_str(text)
            .map_err(|e| crate::error::Error::Other(format!("unexpected query answer: {e}")))?;
        Ok(a.tables.into_iter().next().unwrap_or_default())
    }

    /// Each row's cells with their column names.
    pub fn cells<'r>(
        &'r self,
        row: &'r [&'a RawValue],
    ) -> impl Iterator<Item = (&'r str, &'a str)> + 'r {
        self.columns
            .iter()
            .map(|c| c.name.as_ref())
            .zip(row.iter().map(|v| v.get()))
    }
}

/// Runs a Log Analytics query; the answer's text, once it is known to be whole (an error status, or a 200 that
/// carries a partial error, is an error).
pub async fn query_text(
    http: &reqwest::Client,
    profile: &CloudProfile,
    token: &SecretString,
    workspace_customer_id: &str,
    kql: &str,
) -> Result<String> {
    let url = profile.query_url(workspace_customer_id);
    let resource = describe(&reqwest::Method::POST, &url);
    let resp = http
        .post(&url)
        .bearer_auth(token.expose())
        .json(&json!({ "query": kql }))
        .send()
        .await
        .map_err(|e| match crate::net::unfixable(&e) {
            Some(kind) => crate::net::unfixable_error(kind, &url, crate::net::root_cause(&e)),
            None => AzureError {
                details: Vec::new(),
                status: 0,
                code: "ConnectionError".into(),
                message: e.to_string(),
                resource: resource.clone(),
                hint: crate::error::Hint::None,
            }
            .into(),
        })?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let error = || {
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        azure_error(status, &body, resource.clone()).into()
    };
    if status >= 300 {
        return Err(error());
    }
    // 204 No Content, empty: a workspace that has no data yet ("No data in workspace", Azure Monitor Log Analytics
    // API errors). The normal answer right after setup: no rows, not an error.
    if status == 204 || text.trim().is_empty() {
        return Ok(NO_ROWS.to_string());
    }
    // A 200 can carry a partial error: the answer was cut (more than 500,000 rows or ~64 MB, Azure Monitor
    // service limits, https://learn.microsoft.com/azure/azure-monitor/service-limits). Never taken for whole.
    #[derive(serde::Deserialize)]
    struct Partial<'a> {
        #[serde(borrow, default)]
        error: Option<&'a RawValue>,
    }
    let partial = serde_json::from_str::<Partial>(&text)
        .ok()
        .and_then(|p| p.error)
        .is_some_and(|e| e.get() != "null");
    if partial {
        return Err(error());
    }
    Ok(text)
}

/// Runs a Log Analytics query and returns the rows of the first table as objects.
pub async fn query(
    http: &reqwest::Client,
    profile: &CloudProfile,
    token: &SecretString,
    workspace_customer_id: &str,
    kql: &str,
) -> Result<Vec<Value>> {
    let text = query_text(http, profile, token, workspace_customer_id, kql).await?;
    rows(&text)
}

/// The rows of a query answer's first table as objects (column name to value).
pub fn rows(text: &str) -> Result<Vec<Value>> {
    let table = AnswerTable::parse(text)?;
    Ok(table
        .rows
        .iter()
        .map(|row| {
            Value::Object(
                table
                    .cells(row)
                    .map(|(c, v)| {
                        (
                            c.to_string(),
                            serde_json::from_str(v).unwrap_or(Value::Null),
                        )
                    })
                    .collect(),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests;
