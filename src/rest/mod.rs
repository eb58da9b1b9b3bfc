//! The one HTTP client for ARM and Graph: bearer tokens, retries with Retry-After, paging, long-running
//! operations, typed errors.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::auth::Auth;
use crate::cloud::CloudProfile;
use crate::error::{hint_for, AzureError, Error, ErrorDetail, Hint, Result};
use crate::net;

mod retry;
pub use retry::{poll_until, retry_while, Backoff, RetryPolicy, Schedule};

/// Which API a request goes to: decides the token audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Arm,
    Graph,
}

/// An answer from Azure that was not an error.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Request counters, for `--output json` and the benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    pub writes: AtomicUsize,
    pub polls: AtomicUsize,
    pub retries: AtomicUsize,
}

/// The REST client. Cheap to clone.
#[derive(Clone)]
pub struct Rest {
    pub http: reqwest::Client,
    pub auth: Arc<Auth>,
    pub profile: Arc<CloudProfile>,
    pub stats: Arc<Stats>,
    pub retry: RetryPolicy,
}

/// How much faster than real time the tool waits (`KEEPER_AZMON_TIME_SCALE`, default 1): simulators and
/// benchmarks that run Azure's minutes in seconds scale the tool's backoffs, polls and Retry-After waits with it.
pub fn time_scale() -> f64 {
    static SCALE: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *SCALE.get_or_init(|| {
        std::env::var("KEEPER_AZMON_TIME_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 1.0)
            .unwrap_or(1.0)
    })
}

/// `d` times the time scale: how long a wait of `d` really takes. Saturates instead of overflowing.
pub fn scaled(d: Duration) -> Duration {
    Duration::try_from_secs_f64(d.as_secs_f64() * time_scale()).unwrap_or(Duration::MAX)
}

/// Nanoseconds the time scale has taken off the tool's waits so far: how far [`now`] runs ahead of real time.
static SKIPPED_NANOS: AtomicU64 = AtomicU64::new(0);

/// The tool's clock, for deadlines that Azure's delays are measured against (`verify --wait --timeout`, how long
/// `send` waits for a new role): real time, plus what the time scale has taken off its waits. At the default
/// scale it is real time. Under a simulator's time scale every wait counts at its full length, as it would in
/// Azure, and the tool's own work at its real one: a deadline of an hour is an hour of Azure's delays, met in
/// seconds.
pub fn now() -> std::time::Instant {
    let skipped = Duration::from_nanos(SKIPPED_NANOS.load(Ordering::Relaxed));
    let real = std::time::Instant::now();
    real.checked_add(skipped).unwrap_or(real)
}

/// Waits `d`, times the time scale. Every wait of the tool goes through here.
pub async fn pause(d: Duration) {
    let skipped_before = SKIPPED_NANOS.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    // tokio takes a deadline past its clock's range for "never"; the callers cap their waits before that.
    tokio::time::sleep(scaled(d)).await;
    if let Some(skipped) = skipped_after(skipped_before, d, started.elapsed()) {
        SKIPPED_NANOS.fetch_max(skipped, Ordering::Relaxed);
    }
}

/// Where [`now`]'s lead stands after a wait of `asked` that really took `took` and began with the lead at
/// `before` (nanoseconds); `None` when the wait took its full length (the default scale). Waits that overlap
/// skip the same time once: each sets the lead from where it stood when it began, and the furthest wins.
fn skipped_after(before: u64, asked: Duration, took: Duration) -> Option<u64> {
    let skipped = asked.checked_sub(took).filter(|s| !s.is_zero())?;
    Some(before.saturating_add(u64::try_from(skipped.as_nanos()).unwrap_or(u64::MAX)))
}

/// Whether a wait of `d` ends by `deadline` (on the tool's clock, [`now`]): a wait that would end after the
/// run's deadline is not begun, so the run stops at its deadline rather than past it.
pub fn ends_by(deadline: std::time::Instant, d: Duration) -> bool {
    now().checked_add(d).is_some_and(|end| end <= deadline)
}

/// The time limit of one HTTP request (`KEEPER_AZMON_HTTP_TIMEOUT` seconds, default 120).
fn request_timeout() -> Duration {
    std::env::var("KEEPER_AZMON_HTTP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(120))
}

/// Builds the reqwest client every call uses: timeouts, and the profile's extra CA certificate.
pub fn http_client(profile: &CloudProfile) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(request_timeout().min(Duration::from_secs(15)))
        .timeout(request_timeout())
        .user_agent(concat!("keeper-azmon/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &profile.ca_certificate {
        let pem = std::fs::read(ca).map_err(|e| {
            Error::input(
                format!("cannot read ca_certificate {}: {e}", ca.display()),
                "fix the path in the cloud profile",
            )
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            Error::input(
                format!(
                    "ca_certificate {} is not a PEM certificate: {e}",
                    ca.display()
                ),
                "fix the file",
            )
        })?;
        b = b.tls_certs_merge([cert]);
    }
    b.build()
        .map_err(|e| Error::Other(format!("cannot build the HTTP client: {e}")))
}

/// How long a Retry-After header asks to wait.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, time::OffsetDateTime::now_utc())
}

/// A Retry-After value, in either form HTTP allows (RFC 9110 §10.2.3, was RFC 7231 §7.1.3): delta-seconds
/// (`120`, what Azure sends), or an HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`, the IMF-fixdate senders must
/// use), which asks for the time left until then: none once it has passed.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate is RFC 5322's date-time with the obsolete zone `GMT`, which the RFC 2822 parser takes.
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `METHOD /path` without the query: the resource named in errors.
pub fn describe(method: &Method, url: &str) -> String {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| url.to_string());
    format!("{method} {path}")
}

/// Turns an error answer into an [`AzureError`], whatever the API's error shape.
pub fn azure_error(status: u16, body: &Value, resource: String) -> AzureError {
    let err = body.get("error");
    let (code, message) = match err {
        Some(Value::Object(o)) => (
            o.get("code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            o.get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        // The token endpoint: {"error": "invalid_client", "error_description": "..."}
        Some(Value::String(code)) => (
            code.clone(),
            body.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ),
        _ => (
            String::new(),
            match body {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        ),
    };
    // An answer that names no code (or an empty one) is named by its status, so every error has a code to act on.
    let code = match code.trim() {
        "" => format!("Http{status}"),
        _ => code,
    };
    // ARM's `details[]`: a refused DCR gives its reasons only there (hashicorp/terraform-provider-azurerm#28709).
    let detail = |d: &Value| {
        Some(ErrorDetail {
            code: d.get("code")?.as_str()?.to_string(),
            message: d
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            target: d.get("target").and_then(Value::as_str).map(str::to_string),
        })
    };
    let mut details: Vec<ErrorDetail> = err
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(detail)
        .collect();
    // The Log Analytics query API says why only in nested `innererror`s: `BadArgumentError` > `SemanticError` >
    // `SEM0100` "'where' operator: Failed to resolve table or column expression named 'X'" (Azure Monitor Log
    // Analytics API errors). Each one is a detail.
    let mut inner = err.and_then(|e| e.get("innererror"));
    while let Some(i) = inner.filter(|_| details.len() < 16) {
        details.extend(detail(i));
        inner = i.get("innererror");
    }
    // A generic code (`InvalidPayload`) takes the next step its first detail calls for.
    let hint = details
        .iter()
        .map(|d| hint_for(&d.code, status))
        .find(|h| *h != Hint::RerunAfterFix)
        .unwrap_or_else(|| hint_for(&code, status));
    AzureError {
        details,
        status,
        code,
        message,
        resource,
        hint,
    }
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl Rest {
    pub fn new(http: reqwest::Client, auth: Arc<Auth>, profile: Arc<CloudProfile>) -> Rest {
        Rest {
            http,
            auth,
            profile,
            stats: Arc::new(Stats::default()),
            retry: RetryPolicy::default(),
        }
    }

    fn audience(&self, api: Api) -> &str {
        match api {
            Api::Arm => &self.profile.resource_manager_audience,
            Api::Graph => &self.profile.graph_audience,
        }
    }

    /// Sends one request with retries. `safe_to_repeat` says whether a request that may have reached Azure
    /// (a 5xx or a dropped connection) can be sent again blindly: true for GET/PUT/DELETE/PATCH, false for a
    /// POST that creates something (the caller reads back instead). 429 is always retried: Azure refused it.
    pub async fn send(
        &self,
        api: Api,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Response> {
        let safe = method != Method::POST;
        self.send_with(api, method, url, body, safe).await
    }

    /// As [`Rest::send`], with the repeat-safety given explicitly (a POST that is idempotent, like provider register).
    pub async fn send_with(
        &self,
        api: Api,
        method: Method,
        url: &str,
        body: Option<&Value>,
        safe_to_repeat: bool,
    ) -> Result<Response> {
        let resource = describe(&method, url);
        let is_write = method != Method::GET && method != Method::HEAD;
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.auth.token(self.audience(api)).await?;
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose());
            if let Some(b) = body {
                req = req.json(b);
            } else if is_write {
                req = req.header(reqwest::header::CONTENT_LENGTH, "0");
            }
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            if is_write {
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(%resource, attempt, "request");
            let outcome = req.send().await;
            let (retry, asked, err) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let text = resp.text().await.unwrap_or_default();
                    let body: Value = if text.trim().is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    };
                    tracing::debug!(%resource, status, "response");
                    if status < 400 {
                        return Ok(Response {
                            status,
                            headers,
                            body,
                        });
                    }
                    let err = azure_error(status, &body, resource.clone());
                    if status == 401 && !refreshed {
                        // Turned down before anything was done (an expired or revoked token): any request,
                        // a POST too, can be sent again once with a new token.
                        refreshed = true;
                        self.auth.invalidate(self.audience(api), &token).await;
                        tracing::info!(%resource, code = %err.code, "token refused; fetching a new one");
                        attempt -= 1;
                        continue;
                    }
                    let retry = is_retryable_status(status) && (safe_to_repeat || status == 429);
                    (retry, retry_after(&headers), err)
                }
                Err(e) => {
                    if let Some(kind) = net::unfixable(&e) {
                        // The same on every attempt: one error now, not minutes of retries.
                        return Err(net::unfixable_error(kind, url, net::root_cause(&e)));
                    }
                    let err = AzureError {
                        details: Vec::new(),
                        status: 0,
                        code: if e.is_timeout() { "Timeout".into() } else { "ConnectionError".into() },
                        message: net::error_chain(&e),
                        resource: resource.clone(),
                        hint: "check the network path to Azure; re-run the same command, it resumes from the state file".into(),
                    };
                    // A request that never connected cannot have reached Azure.
                    (safe_to_repeat || e.is_connect(), None, err)
                }
            };
            if !retry || attempt >= self.retry.max_attempts {
                return Err(err.into());
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = self.retry.wait(attempt, asked);
            tracing::info!(%resource, code = %err.code, ?wait, "retrying");
            pause(wait).await;
        }
    }

    /// Every item of a list: `value` of each page, following the next link (`nextLink` in ARM,
    /// `@odata.nextLink` in Graph) until a page has none. Azure pages lists on the server and decides the page
    /// size, so a caller that reads only the first page misses what is on the others
    /// (https://learn.microsoft.com/graph/paging; ARM list operations declare `x-ms-pageable`).
    pub async fn get_all(&self, api: Api, url: &str) -> Result<Vec<Value>> {
        let mut items = vec![];
        let mut next = Some(url.to_string());
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::Other(format!(
                    "{} answered more than {MAX_PAGES} pages",
                    describe(&Method::GET, &url)
                )));
            }
            let body = self.send(api, Method::GET, &url, None).await?.body;
            let (page, link) = split_page(body);
            items.extend(page);
            // A link back to the page just read would loop for ever.
            next = link.filter(|l| *l != url);
        }
        Ok(items)
    }

    /// GET that maps 404 to `None`.
    pub async fn get_opt(&self, api: Api, url: &str) -> Result<Option<Value>> {
        match self.send(api, Method::GET, url, None).await {
            Ok(r) => Ok(Some(r.body)),
            Err(Error::Azure(e)) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Waits for a long-running operation started by `resp`: through Azure-AsyncOperation if given, else Location.
    /// Without either header the operation finished with the answer itself.
    pub async fn wait_lro(&self, api: Api, resource: &str, resp: &Response) -> Result<()> {
        let async_op = header(&resp.headers, "azure-asyncoperation");
        let location = header(&resp.headers, "location");
        let mut wait = retry_after(&resp.headers);
        let started = tokio::time::Instant::now();
        let mut polls = 0u32;
        let (url, by_status) = match (async_op, location) {
            (Some(u), _) => (u, true),
            (None, Some(u)) => (u, false),
            (None, None) => return Ok(()),
        };
        let limit = scaled(self.retry.lro_timeout);
        loop {
            polls += 1;
            // Azure's Retry-After, capped by the policy and by the time the operation has left.
            let asked = wait.map_or_else(|| poll_interval(polls), |d| self.retry.honour(d));
            let left = limit.saturating_sub(started.elapsed());
            pause(asked.min(left.div_f64(time_scale()))).await;
            if started.elapsed() >= limit {
                return Err(AzureError {
                    details: Vec::new(),
                    status: 0,
                    code: "OperationTimedOut".into(),
                    message: format!("still running after {:?}", self.retry.lro_timeout),
                    resource: resource.to_string(),
                    hint: "re-run the same command later; it resumes where this one stopped".into(),
                }
                .into());
            }
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            let r = self.send(api, Method::GET, &url, None).await?;
            wait = retry_after(&r.headers);
            if by_status {
                match r
                    .body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("InProgress")
                {
                    "Succeeded" => return Ok(()),
                    s @ ("Failed" | "Canceled" | "Cancelled") => {
                        let e = r.body.get("error");
                        return Err(AzureError {
                            details: Vec::new(),
                            status: r.status,
                            code: e
                                .and_then(|e| e.get("code"))
                                .and_then(Value::as_str)
                                .unwrap_or(s)
                                .to_string(),
                            message: e
                                .and_then(|e| e.get("message"))
                                .and_then(Value::as_str)
                                .unwrap_or("the long-running operation did not succeed")
                                .to_string(),
                            resource: resource.to_string(),
                            hint: hint_for("LroFailed", 500),
                        }
                        .into());
                    }
                    _ => {}
                }
            } else if r.status != 202 {
                return Ok(());
            }
        }
    }

    /// Polls a resource with GET until `done` says its state is terminal; `failed` turns a terminal failure into an error.
    pub async fn poll_resource(
        &self,
        api: Api,
        url: &str,
        done: impl Fn(&Value) -> Option<std::result::Result<(), String>>,
    ) -> Result<Value> {
        let started = tokio::time::Instant::now();
        let mut polls = 0u32;
        loop {
            let body = self.send(api, Method::GET, url, None).await?.body;
            match done(&body) {
                Some(Ok(())) => return Ok(body),
                Some(Err(state)) => {
                    return Err(AzureError {
                        details: Vec::new(),
                        status: 0,
                        code: "ProvisioningFailed".into(),
                        message: format!("provisioningState is {state}"),
                        resource: describe(&Method::GET, url),
                        hint: "look at the resource in the portal; delete it and re-run if it stays failed".into(),
                    }
                    .into())
                }
                None => {}
            }
            if started.elapsed() > scaled(self.retry.lro_timeout) {
                return Err(Error::Other(format!(
                    "{url} did not finish provisioning in time"
                )));
            }
            polls += 1;
            self.stats.polls.fetch_add(1, Ordering::Relaxed);
            pause(poll_interval(polls)).await;
        }
    }
}

/// At most this many pages of one list (at Azure's page sizes, far more than any list the tool reads).
const MAX_PAGES: usize = 1000;

/// A list page's items and its next link, if any.
fn split_page(body: Value) -> (Vec<Value>, Option<String>) {
    let Value::Object(mut o) = body else {
        return (vec![], None);
    };
    let items = match o.remove("value") {
        Some(Value::Array(a)) => a,
        _ => vec![],
    };
    let next = ["nextLink", "@odata.nextLink"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .filter(|l| !l.is_empty())
        .map(str::to_string);
    (items, next)
}

/// Poll interval when Azure gives no Retry-After: quick at first, then every few seconds.
fn poll_interval(poll: u32) -> Duration {
    // Table and workspace operations take seconds to a minute: a poll a second keeps the overshoot under a
    // second without flooding ARM; after half a minute, every five seconds.
    match poll {
        0..=1 => Duration::from_millis(250),
        2 => Duration::from_millis(500),
        3..=32 => Duration::from_secs(1),
        _ => Duration::from_secs(5),
    }
}

#[cfg(test)]
mod tests;
