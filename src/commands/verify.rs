//! `keeper-azmon verify`: proves the Admin Console values work as Keeper uses them: token as the app, events posted, rows found.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::azure::roles::{INGESTION_PROPAGATION, QUERY_PROPAGATION};
use crate::clock::span;

use serde_json::{json, Value};

use crate::auth::Auth;
use crate::cli::{TargetArgs, VerifyArgs};
use crate::cloud::CloudProfile;
use crate::commands::resolve_cloud;
use crate::error::{Error, Result};
use crate::ingest::{BatchError, RoleWait, Sender};
use crate::printer::Format;
use crate::rest::{Backoff, Schedule};
use crate::secret::SecretString;
use crate::state::{Outputs, StateFile};

pub use crate::marks::VERIFY_AUDIT_EVENT;

/// Whole minutes, as Microsoft's pages give these delays.
fn minutes(d: Duration) -> u64 {
    d.as_secs() / 60
}

/// Which link of the chain broke, in the words an admin can act on.
fn explain(stage: &str, e: &Error) -> Error {
    let code = e.azure_code().unwrap_or_default().to_string();
    if crate::net::Unfixable::is_code(&code) || matches!(e, Error::Network { .. }) {
        // Not a link of the chain: the network path to it. The error names the host and says what to do.
        return e.clone();
    }
    let text = e.to_string();
    let (what, hint) = match stage {
        "token" if text.contains("invalid_client") || text.contains("AADSTS7000215") => {
            ("the client secret is wrong or expired", "copy the secret value again, or make a new one with `keeper-azmon rotate-secret`; a secret made moments ago is refused for a while: re-run with --wait")
        }
        "token" if text.contains("unauthorized_client") || text.contains("AADSTS700016") => {
            ("the client id is not an app in this tenant", "check the tenant id and the Application (client) ID; an app made moments ago is refused for a while: re-run with --wait")
        }
        "token" if text.contains("invalid_resource") || text.contains("invalid_scope") || text.contains("AADSTS500011") => {
            ("the monitor scope does not belong to this cloud", "check --cloud: US Government uses https://monitor.azure.us/.default")
        }
        "token" => ("no token for the app", "check the tenant id, client id and secret"),
        "post" if code == "OperationFailed" || text.contains("HTTP 403") => (
            "the app may not ingest into this DCR: Monitoring Metrics Publisher is missing on the DCR, or was assigned moments ago",
            "a new role assignment can take up to 30 minutes to take effect: re-run with --wait (it waits up to --timeout), or run `keeper-azmon setup` again if the role is missing",
        ),
        "post" if text.contains("HTTP 429") => (
            "ingestion is throttling the app",
            "wait a few minutes and run verify again",
        ),
        "post" if code == "NotFound" => ("the DCR immutable id in the Endpoint URL is unknown", "copy the Endpoint URL again from `keeper-azmon setup`"),
        "post" if code == "InvalidStream" => ("the stream in the Endpoint URL is not declared in the DCR", "the stream is Custom-<table>_CL"),
        "post" => ("the events were refused", "check the Endpoint URL"),
        "function" => ("the function KeeperSecurityEvents could not be queried", "run `keeper-azmon setup --sentinel` again to repair it"),
        "query" if text.contains("could not be resolved") || code == "BadArgumentError" => {
            ("the table was not found in the workspace", "run `keeper-azmon setup` again to create it")
        }
        _ => ("the rows could not be read back", "check the workspace and that the reader has access to it"),
    };
    Error::Other(format!(
        "verify failed at '{stage}': {what}.\n  cause: {text}\nhint: {hint}"
    ))
}

/// The Admin Console values (from the state file, overridden by flags), the secret and the cloud profile.
pub async fn console_values(t: &TargetArgs) -> Result<(Outputs, SecretString, CloudProfile)> {
    let (mut out, state_cloud, state) = if t.common.state.exists() {
        let s = StateFile::read(&t.common.state)?;
        (s.outputs.clone().unwrap_or_default(), s.cloud.clone(), s)
    } else {
        (Outputs::default(), String::new(), Default::default())
    };
    if let Some(v) = &t.common.tenant {
        out.tenant_id = v.clone();
    }
    if let Some(v) = &t.client_id {
        out.client_id = v.clone();
    }
    let recorded_endpoint = (!out.endpoint_url.is_empty()).then(|| out.endpoint_url.clone());
    if let Some(v) = &t.endpoint_url {
        out.endpoint_url = v.clone();
    }
    for (v, flag) in [
        (&out.tenant_id, "--tenant"),
        (&out.client_id, "--client-id"),
        (&out.endpoint_url, "--endpoint-url"),
    ] {
        if v.is_empty() {
            return Err(Error::input(
                format!(
                    "{flag} is required (no state file at {})",
                    t.common.state.display()
                ),
                format!("pass {flag} or --state"),
            ));
        }
    }
    let cloud_arg = crate::cloud::from_state(t.common.cloud.as_deref(), &state_cloud)?;
    let profile = resolve_cloud(cloud_arg.as_deref(), t.common.auth)?;
    // Where the app's token will go, before one is asked for (or the secret fetched).
    let source = match &t.endpoint_url {
        Some(_) => "--endpoint-url",
        None => "the Endpoint URL in the state file",
    };
    if let Some(host) = profile.check_ingestion_endpoint(
        &out.endpoint_url,
        source,
        recorded_endpoint.as_deref(),
        t.allow_foreign_endpoint,
    )? {
        crate::printer::note(format_args!(
            "warning: the app's token goes to {host}, outside cloud '{}''s Logs Ingestion domain, as --allow-foreign-endpoint allows",
            profile.name
        ));
    }
    // `--secret keeper://UID/field/password`, else the state's Keeper record when no other source is given.
    let from_keeper = match t.secret.as_deref().map(crate::vault::notation_uid) {
        Some(Some(uid)) => Some(uid?),
        Some(None) => {
            return Err(Error::input(
                "--secret takes Keeper notation only",
                "use keeper://<record UID>/field/password, or --secret-file FILE for a value",
            ))
        }
        None => None,
    };
    let env_secret = std::env::var("KEEPER_AZMON_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty());
    let from_keeper = from_keeper.or_else(|| {
        (t.secret_file.is_none() && env_secret.is_none())
            .then(|| state.keeper.as_ref().map(|k| k.record_uid.clone()))
            .flatten()
    });
    if let Some(uid) = from_keeper {
        let keeper = crate::cli::KeeperArgs {
            ksm: t.ksm.clone(),
            keeper_record: Some(uid.clone()),
            keeper_folder: None,
        };
        let http = crate::rest::http_client(&profile)?;
        let target = crate::steps::keeper::ready(&keeper, &state, &profile, &http)
            .await?
            .ok_or_else(|| Error::Other("no Keeper record".into()))?;
        let secret = target.vault.password(&target.uid).await?;
        return Ok((out, secret, profile));
    }
    let secret = match (&t.secret_file, env_secret) {
        (Some(f), _) => SecretString::new(
            std::fs::read_to_string(f)
                .map_err(|e| {
                    Error::input(
                        format!("cannot read --secret-file {}: {e}", f.display()),
                        "check the path",
                    )
                })?
                .trim()
                .to_string(),
        ),
        (None, Some(s)) => SecretString::new(s),
        (None, None) => {
            return Err(Error::input(
                "the client secret is required",
                "pass --secret-file FILE, --secret keeper://<record UID>/field/password, or set KEEPER_AZMON_CLIENT_SECRET",
            ))
        }
    };
    Ok((out, secret, profile))
}

/// Whether the state file records the KQL function that `setup --sentinel` installs.
fn has_function(t: &TargetArgs) -> bool {
    t.common.state.exists()
        && StateFile::read(&t.common.state).is_ok_and(|s| {
            s.resources
                .contains_key(&crate::steps::Key::SentinelFunction.to_string())
        })
}

/// Whether the token endpoint's refusal may only mean the credential is new: a client secret (AADSTS7000215)
/// or a service principal (AADSTS700016) is refused for a while after it is made ("I've observed latency from
/// 4-18 seconds", https://github.com/microsoftgraph/microsoft-graph-docs/issues/17966; "AADSTS700016 ... Retry
/// after a few seconds will often work",
/// https://github.com/AzureAD/microsoft-authentication-library-for-dotnet/issues/3706).
fn may_be_new_credential(e: &Error) -> bool {
    let text = e.to_string();
    [
        "AADSTS7000215",
        "AADSTS700016",
        "invalid_client",
        "unauthorized_client",
    ]
    .iter()
    .any(|c| text.contains(c))
}

/// A token as the app; with `--wait`, through the refusals of a credential too new to be usable, until `deadline`
/// (on the tool's clock, `rest::now`).
async fn app_token(
    app: &Auth,
    audience: &str,
    wait: bool,
    deadline: Instant,
    human: bool,
) -> Result<SecretString> {
    crate::rest::retry_while(
        Schedule::new(Duration::from_millis(250), Duration::from_secs(10)).until(deadline),
        |e| wait && may_be_new_credential(e),
        |_| {
            if human {
                crate::printer::note(format_args!("  … the token endpoint does not accept the app's credentials yet: a new client secret or service principal takes a while to be usable; waiting"));
            }
        },
        || app.token(audience),
    )
    .await
}

/// Whether the app can read the rows back itself: the state (when there is one) records its Log Analytics
/// Contributor role on the workspace. With `--roles minimal` it does not.
fn app_may_read(state: &std::path::Path) -> Result<bool> {
    if !state.exists() {
        return Ok(true);
    }
    let s = StateFile::read(state)?;
    Ok(s.role_assignments.is_empty()
        || s.role_assignments.iter().any(|r| {
            r.role == crate::azure::roles::Role::LogAnalyticsContributor && r.on == "workspace"
        }))
}

/// What to do after the query API refused the read-back.
enum QueryRetry {
    /// Once, after a 401: the token was turned down before its time.
    NewToken,
    /// A 403 before the deadline: the reader's role may not be recognised yet; wait this long.
    After(Duration),
    /// A 403 at the deadline.
    TimedOut,
    /// Any other error.
    No,
}

/// The query API's refusals of one read-back: a 401 retried once with a new token, 403s waited through with
/// backoff until the deadline (a role assigned moments ago, `QUERY_PROPAGATION`).
struct QueryRefusals {
    refreshed: bool,
    backoff: Backoff,
    /// Whether the wait has been announced.
    said: bool,
}

impl QueryRefusals {
    /// 403s are looked at again after 5 s, then twice as long each time, at most a minute apart.
    const SCHEDULE: Schedule = Schedule::new(Duration::from_secs(5), Duration::from_secs(60));

    fn until(deadline: Instant) -> QueryRefusals {
        QueryRefusals {
            refreshed: false,
            backoff: Self::SCHEDULE.until(deadline),
            said: false,
        }
    }

    fn next(&mut self, e: &Error) -> QueryRetry {
        let status = match e {
            Error::Azure(a) => a.status,
            _ => 0,
        };
        match status {
            401 if !self.refreshed => {
                self.refreshed = true;
                QueryRetry::NewToken
            }
            403 => match self.backoff.next_wait() {
                Some(wait) => QueryRetry::After(wait),
                None => QueryRetry::TimedOut,
            },
            _ => QueryRetry::No,
        }
    }
}

pub async fn execute(args: VerifyArgs) -> Result<()> {
    if args.keeper {
        return super::verify_keeper::execute(args).await;
    }
    if let Some(w) = &args.workspace_id {
        crate::names::guid("--workspace-id", w)?;
    }
    let (mut out, secret, profile) = console_values(&args.target).await?;
    if let Some(w) = &args.workspace_id {
        out.workspace_customer_id = w.clone();
    } else if args.wait && !out.workspace_customer_id.is_empty() {
        // It goes into the query URL: a state file's value is checked like the flag's.
        crate::names::from_state(
            "workspace_customer_id",
            "--workspace-id",
            &out.workspace_customer_id,
            |w| crate::names::guid("--workspace-id", w),
        )?;
    }
    if let Some(t) = &args.table {
        out.table = crate::names::table(t)?;
    } else if args.wait && !out.table.is_empty() {
        // It goes into KQL.
        out.table = crate::names::from_state("table", "--table", &out.table, crate::names::table)?;
    }
    // What --wait needs is checked before anything is posted: a refusal comes before the first write.
    let app_reads = if args.wait {
        if out.workspace_customer_id.is_empty() || out.table.is_empty() {
            return Err(Error::input(
                "--wait needs the workspace and table",
                "pass --workspace-id and --table, or --state",
            ));
        }
        app_may_read(&args.target.common.state)?
    } else {
        false
    };
    let http = crate::rest::http_client(&profile)?;
    let app = Auth::client_secret(&out.tenant_id, &out.client_id, secret, &profile, &http)?;
    let human = args.target.common.output == Format::Human;
    // On the tool's clock: --timeout is a span of Azure's time, however fast a simulator's time scale runs it.
    let started = crate::rest::now();
    let timeout = Duration::from_secs(args.timeout);
    // A --timeout past what the clock holds waits as good as forever.
    let deadline = started
        .checked_add(timeout)
        .unwrap_or(started + Duration::from_secs(100 * 365 * 24 * 3600));

    app_token(&app, &profile.monitor_audience, args.wait, deadline, human)
        .await
        .map_err(|e| explain("token", &e))?;
    if human {
        crate::printer::note(format_args!(
            "  ✓ token for app {} with scope {}",
            out.client_id,
            crate::cloud::CloudProfile::scope(&profile.monitor_audience)
        ));
    }
    let marker = uuid::Uuid::new_v4().to_string();
    let mut events: Value = serde_json::from_str(crate::ingest::SAMPLE_EVENTS)
        .map_err(|e| Error::Other(e.to_string()))?;
    let now = crate::clock::now_rfc3339();
    if let Some(list) = events.as_array_mut() {
        for e in list.iter_mut() {
            // Every time column is now: a test event with the guide's 2025 sample time would pass for the first
            // event Keeper streamed, and stop every later backfill there.
            e["TimeGenerated"] = json!(now);
            e["timestamp"] = json!(now);
            // A test event, named so: no detection or workbook built on Keeper's audit events counts it.
            e["audit_event"] = json!(VERIFY_AUDIT_EVENT);
            e["data"][VERIFY_AUDIT_EVENT] = json!(marker);
        }
    }
    let batch = crate::ingest::Batch::of(
        &events
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|e| serde_json::to_vec(e).ok())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    );
    let sent = batch.len();
    let app = Arc::new(app);
    let sender = Sender {
        http: http.clone(),
        endpoint_url: out.endpoint_url.clone(),
        auth: app.clone(),
        audience: profile.monitor_audience.clone(),
        max_attempts: 4,
        // The deadline of --wait: a Retry-After that ends past it stops verify at once.
        deadline: args.wait.then_some(deadline),
        // With --wait, a 403 is waited through until the deadline: a role assignment made moments ago.
        role_wait: args.wait.then(|| {
            RoleWait::new(
                deadline,
                human.then(|| format!(
                    "  … ingestion answers 403: the app's Monitoring Metrics Publisher role on the DCR has not taken effect yet; Azure may take up to {} minutes after the assignment. Waiting, for at most {} (--timeout)",
                    minutes(INGESTION_PROPAGATION),
                    span(timeout)
                )),
            )
        }),
        requests: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    };
    match sender.send(batch.clone()).await {
        Ok(()) => {}
        Err(BatchError::Forbidden(e, _)) if args.wait && e.status == 403 => {
            return Err(Error::Other(format!(
                "verify failed at 'post': ingestion still refuses the app after {} of waiting (--timeout): its Monitoring Metrics Publisher role on the DCR has not taken effect, or is missing.\n  cause: {e}\nhint: a new role assignment takes up to {} minutes to take effect; check that it is there (`keeper-azmon status`), or wait longer with a longer --timeout",
                span(timeout),
                minutes(INGESTION_PROPAGATION),
                e = e.without_hint()
            )))
        }
        Err(BatchError::Forbidden(e, _)) | Err(BatchError::Rejected(e, _)) => {
            return Err(explain("post", &e.into()))
        }
    }
    if human {
        crate::printer::note(format_args!(
            "  ✓ posted {sent} sample events (marker {marker})"
        ));
    }
    let mut found = None;
    let mut through_function = None;
    if args.wait {
        // The app reads with its Log Analytics Contributor role; with --roles minimal it has none on the workspace,
        // so the operator reads.
        let operator;
        let reader: &Auth = if app_reads {
            &app
        } else {
            operator = Auth::operator(
                args.target.common.auth,
                Some(out.tenant_id.as_str()),
                &profile,
                &http,
            )?;
            if human {
                crate::printer::note(format_args!(
                    "  … reading the rows back as {} (the app has no role on the workspace)",
                    operator.description
                ));
            }
            &operator
        };
        let who = if app_reads {
            "the app's Log Analytics Contributor role on the workspace".to_string()
        } else {
            format!("the access of {} to the workspace", reader.description)
        };
        let kql = format!("{} | where data contains \"{marker}\" | count", out.table);
        let mut refused = QueryRefusals::until(deadline);
        let la_token = loop {
            // From the cache while it lasts: a wait of an hour outlives a token.
            let la_token = reader
                .token(&profile.log_analytics_audience)
                .await
                .map_err(|e| explain("query", &e))?;
            let rows = match crate::ingest::query(
                &http,
                &profile,
                &la_token,
                &out.workspace_customer_id,
                &kql,
            )
            .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    match refused.next(&e) {
                        QueryRetry::NewToken => {
                            reader
                                .invalidate(&profile.log_analytics_audience, &la_token)
                                .await
                        }
                        QueryRetry::After(wait) => {
                            if human && !refused.said {
                                refused.said = true;
                                crate::printer::note(format_args!(
                                    "  … the query API answers 403: {who} is not recognised yet; the query API may take up to {} minutes to recognise a new role. Waiting, for at most {} (--timeout)",
                                    minutes(QUERY_PROPAGATION),
                                    span(timeout)
                                ));
                            }
                            crate::rest::pause(wait).await;
                        }
                        QueryRetry::TimedOut => {
                            let e = match &e {
                                Error::Azure(a) => a.without_hint().to_string(),
                                e => e.to_string(),
                            };
                            return Err(Error::Other(format!(
                                "verify failed at 'query': the query API still refuses {who} after {} of waiting (--timeout).\n  cause: {e}\nhint: the query API may take up to {} minutes to recognise a new role; check that the role is there (`keeper-azmon status`), or wait longer with a longer --timeout",
                                span(timeout),
                                minutes(QUERY_PROPAGATION)
                            )));
                        }
                        QueryRetry::No => return Err(explain("query", &e)),
                    }
                    continue;
                }
            };
            let n = rows
                .first()
                .and_then(|r| r.get("Count"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if n as usize >= sent {
                found = Some(n);
                break la_token;
            }
            if crate::rest::now() > deadline {
                return Err(Error::Other(format!(
                    "verify failed at 'arrival': {n} of {sent} events are in {} after {}s.\nhint: ingestion can take several minutes; re-run with a longer --timeout",
                    out.table, args.timeout
                )));
            }
            crate::rest::pause(Duration::from_secs(2)).await;
        };
        if human {
            crate::printer::note(format_args!(
                "  ✓ {sent} events arrived in {} ({:.1}s)",
                out.table,
                crate::rest::now().duration_since(started).as_secs_f64()
            ));
        }
        // With `setup --sentinel`, the rules and the workbook read the function: it must answer, and leave the
        // test events out (else a rule or the workbook would count them as Keeper's).
        if has_function(&args.target) {
            let alias = crate::steps::sentinel::function_alias();
            let kql = format!("{alias} | where Data contains \"{marker}\" | count");
            let rows =
                crate::ingest::query(&http, &profile, &la_token, &out.workspace_customer_id, &kql)
                    .await
                    .map_err(|e| explain("function", &e))?;
            let n = rows
                .first()
                .and_then(|r| r.get("Count"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if n > 0 {
                return Err(Error::Other(format!(
                    "verify failed at 'function': {n} of verify's {sent} test events show through {alias}, which would count them as Keeper's.\nhint: run `keeper-azmon setup --sentinel` again to bring the function up to date"
                )));
            }
            through_function = Some(n);
            if human {
                crate::printer::note(format_args!(
                    "  ✓ the function {alias} answers, and leaves the test events out"
                ));
            }
        }
    }
    crate::printer::print(
        args.target.common.output,
        &VerifyReport {
            ok: true,
            posted: sent,
            marker,
            arrived: found,
            through_function,
            seconds: crate::rest::now().duration_since(started).as_secs_f64(),
        },
    )
}

/// `verify`'s report once every link works (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct VerifyReport {
    ok: bool,
    /// Test events posted.
    posted: usize,
    /// The test events' marker.
    marker: String,
    /// How many of them the query found (`--wait`), else null.
    arrived: Option<u64>,
    /// How many of them show through the Sentinel function (none should), else null.
    through_function: Option<u64>,
    seconds: f64,
}

impl crate::printer::Report for VerifyReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "verify: the Admin Console values work.")
    }
}
