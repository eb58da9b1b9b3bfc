//! `keeper-azmon send`: streams exported Keeper events to the DCR stream as the app, in 1 MB gzip batches, several at once.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::azure::roles::{INGESTION_PROPAGATION, PROPAGATES_WITHIN};
use crate::cli::{InputFormat, SendArgs};
use crate::clock::span;
use crate::commands::verify::console_values;
use crate::error::{Error, Result};
use crate::events::Shape;
use crate::history::{live_stream_began, parse_time, rfc3339, Reader};
use crate::ingest::{Batch, BatchError, RoleWait, Sender};
use crate::printer::Format;
use crate::private_file::PrivateFile;

use super::send_inputs::*;

/// Where Commander events stop being sent: `--until`, else where Keeper's live streaming into the table began
/// (one query), when there are Commander events at all. With whether it was found by the query.
async fn cutoff(
    args: &SendArgs,
    commander: bool,
    values: &crate::state::Outputs,
    reader: &mut Reader,
) -> Result<(Option<time::OffsetDateTime>, bool)> {
    if let Some(s) = &args.until {
        return Ok((Some(until_arg(s)?), false));
    }
    if !commander {
        return Ok((None, false));
    }
    if values.workspace_customer_id.is_empty() || values.table.is_empty() {
        return Err(Error::input(
            "Commander events are sent only up to where Keeper's live streaming began, and the deployment's workspace and table to find it in are not known",
            "pass --until TIME (the first event Keeper streamed), or --state",
        ));
    }
    let began = live_stream_began(reader, &values.workspace_customer_id, &values.table).await?;
    Ok((began, began.is_some()))
}

fn until_arg(s: &str) -> Result<time::OffsetDateTime> {
    parse_time(s).ok_or_else(|| {
        Error::input(
            format!("--until '{s}' is not a time"),
            "give an RFC 3339 time (2025-01-31T00:00:00Z) or a date (2025-01-31), in UTC",
        )
    })
}

/// How old the app's Monitoring Metrics Publisher role on the DCR is, which decides whether a 403 is waited
/// through: Azure may refuse a new role for up to 30 minutes (`INGESTION_PROPAGATION`).
enum RoleAge {
    /// Assigned at this time, less than an hour ago (`PROPAGATES_WITHIN`): a 403 may be the role propagating,
    /// and is waited through for `left`, until the role is an hour old.
    New {
        at: time::OffsetDateTime,
        left: Duration,
    },
    /// Assigned at this time, an hour ago or more: a 403 is not propagation.
    Old(time::OffsetDateTime),
    /// Not recorded: no state file, a state file from before it was kept, an assignment setup found made, or an
    /// Endpoint URL other than the state file's.
    Unknown,
}

impl RoleAge {
    fn of(args: &SendArgs, endpoint_url: &str) -> RoleAge {
        let path = &args.target.common.state;
        let Some(state) = path
            .exists()
            .then(|| crate::state::StateFile::read(path).ok())
            .flatten()
        else {
            return RoleAge::Unknown;
        };
        let same_endpoint = state
            .outputs
            .as_ref()
            .is_some_and(|o| o.endpoint_url == endpoint_url);
        let Some(at) = state.ingestion_role_assigned_at().filter(|_| same_endpoint) else {
            return RoleAge::Unknown;
        };
        let age = time::OffsetDateTime::now_utc() - at;
        match PROPAGATES_WITHIN.checked_sub(age.try_into().unwrap_or(Duration::ZERO)) {
            // A time ahead of this clock counts as now.
            Some(left) if !left.is_zero() => RoleAge::New { at, left },
            _ => RoleAge::Old(at),
        }
    }

    /// The wait through 403s, for a role still new: until it is an hour old, on the tool's clock.
    fn wait(&self) -> Option<RoleWait> {
        let RoleAge::New { at, left } = self else {
            return None;
        };
        let now = crate::rest::now();
        Some(RoleWait::new(
            now.checked_add(*left).unwrap_or(now),
            Some(format!(
                "send: ingestion answers 403: the app's Monitoring Metrics Publisher role on the DCR, assigned at {} ({} ago), may not have taken effect yet; Azure may take up to {} minutes. Retrying until it is an hour old (for at most {})",
                rfc3339(*at),
                span(PROPAGATES_WITHIN.saturating_sub(*left)),
                INGESTION_PROPAGATION.as_secs() / 60,
                span(*left)
            )),
        ))
    }

    /// Why the 403 that stopped the run was not, or no longer, waited through; and what to do.
    fn stopped(&self, e: &crate::error::AzureError) -> (String, String) {
        let check = "check that the app has Monitoring Metrics Publisher on the DCR (`keeper-azmon status`; `keeper-azmon setup` assigns it again)".to_string();
        match self {
            RoleAge::New { at, .. } => (
                format!(
                    "ingestion still refused the app an hour after its Monitoring Metrics Publisher role on the DCR was assigned (at {}), although Azure documents up to {} minutes for a new role: the role is likely missing or was removed: {e}",
                    rfc3339(*at),
                    INGESTION_PROPAGATION.as_secs() / 60
                ),
                check,
            ),
            RoleAge::Old(at) => (
                format!(
                    "ingestion refused the app: {e}\n  its Monitoring Metrics Publisher role on the DCR was assigned at {}, more than an hour ago (Azure takes up to {} minutes to honour a new one): not a new role still taking effect, so send did not wait",
                    rfc3339(*at),
                    INGESTION_PROPAGATION.as_secs() / 60
                ),
                check,
            ),
            RoleAge::Unknown => (
                format!(
                    "ingestion refused the app: {e}\n  when its Monitoring Metrics Publisher role on the DCR was assigned is not recorded (no state file, one from an earlier version, or another Endpoint URL), so send did not wait for it to take effect"
                ),
                format!(
                    "a role assigned in the last {} minutes may not have taken effect yet: wait, then send again; otherwise {check}",
                    INGESTION_PROPAGATION.as_secs() / 60
                ),
            ),
        }
    }
}

pub async fn execute(args: SendArgs) -> Result<()> {
    check_inputs(&args.inputs)?;
    let shape = input_shape(&args)?;
    if args.until.is_some() && args.format == InputFormat::Plain {
        return Err(Error::input(
            "--until applies to Keeper Commander events; plain events are sent as they are",
            "leave out --until, or pass --format commander (or auto) for a Commander export",
        ));
    }
    let (values, secret, profile) = console_values(&args.target).await?;
    let http = crate::rest::http_client(&profile)?;
    let auth = Arc::new(crate::auth::Auth::client_secret(
        &values.tenant_id,
        &values.client_id,
        secret,
        &profile,
        &http,
    )?);
    let human = args.target.common.output == Format::Human;
    // Never twice: before any event is read for sending, where the backfill stops.
    let sources = sources(args.inputs.clone());
    let (commander, stdin) = match &shape {
        Shape::Plain => (false, None),
        Shape::Commander(_) => (true, None),
        Shape::Auto(_) => {
            let (sources, shape) = (sources.clone(), shape.clone());
            tokio::task::spawn_blocking(move || detect_commander(&sources, &shape))
                .await
                .map_err(|e| Error::Other(format!("reader thread: {e}")))??
        }
    };
    let mut query = Reader {
        http: http.clone(),
        profile: profile.clone(),
        auth: auth.clone(),
        queries: 0,
    };
    let (until, live) = cutoff(&args, commander, &values, &mut query).await?;
    let shape = shape.with_until(until);
    let stdin = stdin.map(|mut s| {
        s.set_until(until);
        s
    });
    if human && live {
        if let Some(t) = until {
            crate::printer::note(format_args!(
                "send: Keeper's live streaming into {} began at {}: Commander events from then on are not sent",
                values.table,
                rfc3339(t)
            ));
        }
    }
    if args.dry_run {
        return preview(&args, sources, shape, stdin, &values.endpoint_url).await;
    }
    // Right after setup, a 403 may only mean the role is new: waited through, until the role is an hour old.
    let role_age = RoleAge::of(&args, &values.endpoint_url);
    let sender = Arc::new(Sender {
        http,
        endpoint_url: values.endpoint_url.clone(),
        auth,
        audience: profile.monitor_audience.clone(),
        max_attempts: 8,
        deadline: None,
        role_wait: role_age.wait(),
        requests: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    });
    // Checked (no symlink, not another user's, mode 0600) before the first event is sent; renamed into place at
    // the end.
    let failed_out = Arc::new(Mutex::new(FailedOut {
        file: match &args.failed_file {
            Some(p) => Some(PrivateFile::create(p, "--failed-file")?),
            None => None,
        },
        ..FailedOut::default()
    }));
    let concurrency = args.concurrency.max(1);
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Batch>(concurrency);
    let reader = {
        let (on_error, counts, stop, failed_out) = (
            args.on_error,
            counts.clone(),
            stop.clone(),
            failed_out.clone(),
        );
        tokio::task::spawn_blocking(move || {
            read_inputs(
                sources, shape, stdin, on_error, tx, counts, stop, failed_out,
            )
        })
    };
    let started = Instant::now();
    let ticker = (human && std::io::stderr().is_terminal()).then(|| {
        let counts = counts.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let sent = counts.sent.load(Ordering::Relaxed);
                let mb = counts.bytes.load(Ordering::Relaxed) as f64 / 1e6;
                let secs = started.elapsed().as_secs_f64().max(0.001);
                crate::printer::note_part(format_args!(
                    "\r  {sent} events, {mb:.1} MB, {:.0} events/s   ",
                    sent as f64 / secs
                ));
            }
        })
    });
    let forbidden: Arc<Mutex<Option<crate::error::AzureError>>> = Arc::new(Mutex::new(None));
    let batches =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    batches
        .for_each_concurrent(concurrency, |batch| {
            let (sender, counts, stop, forbidden, failed_out) = (
                sender.clone(),
                counts.clone(),
                stop.clone(),
                forbidden.clone(),
                failed_out.clone(),
            );
            async move {
                if stop.load(Ordering::Relaxed) {
                    counts
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    write_failed(&failed_out, &stop, batch.events());
                    return;
                }
                let n = batch.len() as u64;
                let bytes = batch.event_bytes() as u64;
                // What came back unsent; the rest of the batch went (a 413 splits it, and halves fare apart).
                let unsent = match sender.send(batch).await {
                    Ok(()) => None,
                    Err(BatchError::Forbidden(e, unsent)) => {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = forbidden.lock() {
                            f.get_or_insert(e);
                        }
                        // In flight when the 403 came: kept with the rest, nothing read is lost.
                        Some(unsent)
                    }
                    Err(BatchError::Rejected(e, events)) => {
                        crate::printer::note(format_args!(
                            "warning: {} events refused: {e}",
                            events.len()
                        ));
                        Some(events)
                    }
                };
                let (failed, failed_bytes) = unsent
                    .as_ref()
                    .map_or((0, 0), |u| (u.len() as u64, u.event_bytes() as u64));
                counts.sent.fetch_add(n - failed, Ordering::Relaxed);
                counts
                    .bytes
                    .fetch_add(bytes.saturating_sub(failed_bytes), Ordering::Relaxed);
                if let Some(u) = unsent {
                    counts.failed.fetch_add(failed, Ordering::Relaxed);
                    write_failed(&failed_out, &stop, u.events());
                }
            }
        })
        .await;
    if let Some(t) = ticker {
        t.abort();
        crate::printer::note("");
    }
    let read_result = reader
        .await
        .map_err(|e| Error::Other(format!("reader thread: {e}")))?;
    // --failed-file is put in place now; a write of it that failed (now or during the run) ends the run loudly.
    let (failed_file_error, lost) = {
        let mut g = failed_out
            .lock()
            .map_err(|_| Error::Other("--failed-file: a sender thread panicked".into()))?;
        let mut error = g.error.take();
        let mut lost = g.lost;
        if let Some(f) = g.file.take() {
            if let Err(e) = f.commit() {
                // Not put in place: what was written to it is lost too.
                error.get_or_insert(e);
                lost += g.kept;
            }
        }
        (error, lost)
    };
    let secs = started.elapsed().as_secs_f64();
    let (sent, skipped, failed, streamed) = (
        counts.sent.load(Ordering::Relaxed),
        counts.skipped.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
        counts.already_streamed.load(Ordering::Relaxed),
    );
    let mb = counts.bytes.load(Ordering::Relaxed) as f64 / 1e6;
    let requests = sender.requests.load(Ordering::Relaxed);
    // The summary says what happened; a stdout that cannot take it does not hide the run's own error.
    let report = SendReport {
        sent,
        skipped,
        already_streamed: streamed,
        until: until.map(rfc3339),
        until_live_stream: live,
        failed,
        malformed: counts.malformed.load(Ordering::Relaxed),
        lost,
        megabytes: mb,
        requests,
        retries: sender.retries.load(Ordering::Relaxed),
        forbidden_retries: sender
            .role_wait
            .as_ref()
            .map_or(0, |w| w.waited.load(Ordering::Relaxed)),
        queries: query.queries,
        seconds: secs,
        events_per_second: sent as f64 / secs.max(0.001),
        peak_rss_mb: crate::usage::peak_rss_mb(),
        table: values.table.clone(),
    };
    let printed = crate::printer::print_summary(args.target.common.output, &report);
    if let Some(e) = failed_file_error {
        let path = args
            .failed_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Err(Error::Other(format!(
            "--failed-file {path} could not be written, so the run stopped: {}\n  {failed} events were not sent; {lost} of them are in neither the table nor the file\nhint: free space where --failed-file goes (or pass another); the lost events are only in the input, which also holds the {sent} already sent: sending it again whole puts those in the table twice",
            e.to_string().replace('\n', " ")
        )));
    }
    read_result?;
    if let Some(e) = forbidden.lock().ok().and_then(|mut f| f.take()) {
        let kept = match &args.failed_file {
            Some(p) => format!(
                "they are in {}: send it again once the role works",
                p.display()
            ),
            None => "without --failed-file they are only in the input (send it again whole: what was sent goes twice)".into(),
        };
        if e.status != 403 {
            // No token, or a token turned down (401): the secret or the app, not the role.
            return Err(Error::Other(format!(
                "ingestion refused the app's sign-in: {e}\n  {failed} events were not sent ({sent} were); {kept}\nhint: check the client secret (`keeper-azmon verify` names the broken link; `keeper-azmon rotate-secret` makes a new one)"
            )));
        }
        let (what, hint) = role_age.stopped(&e.without_hint());
        return Err(Error::Other(format!(
            "{what}\n  {failed} events were not sent ({sent} were); {kept}\nhint: {hint}"
        )));
    }
    if failed > 0 {
        return Err(Error::Other(format!(
            "{failed} events were not sent{}",
            args.failed_file
                .as_ref()
                .map(|p| format!("; they are in {}", p.display()))
                .unwrap_or_default()
        )));
    }
    printed
}

/// `send`'s summary (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct SendReport {
    sent: u64,
    skipped: u64,
    /// Events at or after `until`, left to Keeper's live stream.
    already_streamed: u64,
    /// The cutoff (RFC 3339), when there is one.
    until: Option<String>,
    /// Whether the cutoff is where the live stream began (`--until live-stream`).
    until_live_stream: bool,
    failed: u64,
    malformed: u64,
    /// Failed events in neither the table nor `--failed-file`.
    lost: u64,
    megabytes: f64,
    requests: usize,
    retries: usize,
    /// Retries while ingestion refused the app (403) as its role took effect.
    forbidden_retries: usize,
    queries: usize,
    seconds: f64,
    events_per_second: f64,
    peak_rss_mb: Option<f64>,
    #[serde(skip)]
    table: String,
}

impl crate::printer::Report for SendReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        let streamed_note = match &self.until {
            Some(t) => format!(
                "; already streamed, skipped: {} (at or after {t})",
                self.already_streamed
            ),
            None => String::new(),
        };
        writeln!(
            w,
            "send: {} sent, {} skipped, {} failed{streamed_note}; {:.1} MB in {} requests, {:.1}s ({:.0} events/s)",
            self.sent, self.skipped, self.failed, self.megabytes, self.requests, self.seconds, self.events_per_second
        )?;
        if self.until_live_stream && self.already_streamed > 0 {
            writeln!(w, "hint: the cutoff is the first event in {} that is neither a test event nor marked as backfilled; if it came from a backfill made before keeper-azmon marked backfilled rows, pass --until with the time Keeper's streaming began", self.table)?;
        }
        Ok(())
    }
}

/// `send --dry-run`: the inputs read as a send reads them, the batches tallied instead of posted.
async fn preview(
    args: &SendArgs,
    sources: Vec<Source>,
    shape: Shape,
    stdin: Option<Input>,
    endpoint_url: &str,
) -> Result<()> {
    let counts = Arc::new(Counts::default());
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let reader = {
        let (on_error, counts) = (args.on_error, counts.clone());
        tokio::task::spawn_blocking(move || {
            read_inputs(
                sources,
                shape,
                stdin,
                on_error,
                tx,
                counts,
                Arc::new(AtomicBool::new(false)),
                Arc::new(Mutex::new(FailedOut::default())),
            )
        })
    };
    let mut p = super::send_preview::Preview::new(endpoint_url);
    while let Some(b) = rx.recv().await {
        p.add(&b);
    }
    reader
        .await
        .map_err(|e| Error::Other(format!("reader thread: {e}")))??;
    p.malformed = counts.malformed.load(Ordering::Relaxed);
    p.already_streamed = counts.already_streamed.load(Ordering::Relaxed);
    crate::printer::print(args.target.common.output, &p)
}
