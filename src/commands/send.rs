//! `keeper-azmon send`: streams exported Keeper events to the DCR stream as the app, in 1 MB gzip batches, several at once.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{InputFormat, OnError, SendArgs};
use crate::commands::verify::console_values;
use crate::error::{Error, Result};
use crate::events::{EventReader, Shape};
use crate::ingest::{Batch, BatchError, Sender, MAX_BATCH_BYTES};
use crate::output::Format;
use crate::private_file::PrivateFile;

/// Counters shared by the reader, the senders and the progress line.
#[derive(Default)]
struct Counts {
    read: AtomicU64,
    sent: AtomicU64,
    skipped: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
}

/// Reads every input and hands full batches to the senders; runs on a blocking thread.
fn read_inputs(
    inputs: Vec<std::path::PathBuf>,
    shape: Shape,
    on_error: OnError,
    tx: mpsc::Sender<Batch>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    failed_out: Arc<Mutex<Option<PrivateFile>>>,
) -> Result<()> {
    let new_batch = || Batch::with_capacity(MAX_BATCH_BYTES + 64 * 1024);
    let mut batch = new_batch();
    let sources: Vec<Option<std::path::PathBuf>> = if inputs.is_empty() {
        vec![None]
    } else {
        inputs
            .into_iter()
            .map(|p| (p.as_os_str() != "-").then_some(p))
            .collect()
    };
    for src in sources {
        let name = src
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "stdin".into());
        let reader: Box<dyn std::io::BufRead> = match &src {
            Some(p) => Box::new(BufReader::with_capacity(
                256 * 1024,
                File::open(p).map_err(|e| {
                    Error::input(format!("cannot open {name}: {e}"), "check the path")
                })?,
            )),
            None => Box::new(BufReader::with_capacity(256 * 1024, std::io::stdin())),
        };
        let auto = matches!(shape, Shape::Auto(_));
        let mut events = EventReader::with_shape(reader, shape.clone());
        loop {
            if stop.load(Ordering::Relaxed) {
                // Read but not sent: handed on, so they reach --failed-file with the others.
                if !batch.is_empty() {
                    let _ = tx.blocking_send(batch);
                }
                return Ok(());
            }
            // The event is read straight into the batch; a bad one leaves the batch as it was.
            let mut line = 0;
            let read = batch.push_with(|out| match events.next_into(out) {
                Ok(Some((l, Ok(())))) => {
                    line = l;
                    Ok(true)
                }
                Ok(Some((l, Err(why)))) => {
                    line = l;
                    Err(Ok(why))
                }
                Ok(None) => Ok(false),
                Err(e) => Err(Err(e)),
            });
            let why = match read {
                Ok(true) => None,
                Ok(false) => break,
                Err(Ok(why)) => Some(why),
                Err(Err(e)) => return Err(Error::Other(format!("reading {name}: {e}"))),
            };
            counts.read.fetch_add(1, Ordering::Relaxed);
            if let Some(why) = why {
                if on_error == OnError::Fail {
                    return Err(Error::input(
                        format!("{name} line {line}: {why}"),
                        "fix the line, or pass --on-error skip",
                    ));
                }
                eprintln!("warning: {name} line {line}: {why}; skipped");
                counts.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if batch.json_len() <= MAX_BATCH_BYTES {
                continue;
            }
            // Over the limit: the last event opens the next batch, unless it is too big for any.
            let Some(last) = batch.pop() else { continue };
            if last.len() + 2 > MAX_BATCH_BYTES {
                eprintln!("warning: {name} line {line}: event of {} bytes is over the 1 MB request limit; not sent", last.len());
                counts.failed.fetch_add(1, Ordering::Relaxed);
                write_failed(&failed_out, std::iter::once(last.as_slice()));
                continue;
            }
            if !batch.is_empty()
                && tx
                    .blocking_send(std::mem::replace(&mut batch, new_batch()))
                    .is_err()
            {
                return Ok(());
            }
            batch.push(&last);
        }
        if auto && events.is_commander() {
            eprintln!("{name}: read as Keeper Commander events (--format commander)");
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

/// Peak resident memory of this process in MB (Linux `VmHWM`), for the summary.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn write_failed<'a>(out: &Mutex<Option<PrivateFile>>, events: impl Iterator<Item = &'a [u8]>) {
    if let Ok(mut g) = out.lock() {
        if let Some(w) = g.as_mut() {
            for e in events {
                let _ = w.write_all(e);
                let _ = w.write_all(b"\n");
            }
        }
    }
}

/// The shape `--format` names, with what Commander events need (`--enterprise-id`, `--event-types`).
fn input_shape(args: &SendArgs) -> Result<Shape> {
    let mapping = crate::commander::Mapping::load(args.enterprise_id, args.event_types.as_deref())?;
    Ok(match args.format {
        InputFormat::Auto => Shape::Auto(mapping),
        InputFormat::Plain => Shape::Plain,
        InputFormat::Commander => Shape::Commander(mapping),
    })
}

pub async fn execute(args: SendArgs) -> Result<()> {
    let shape = input_shape(&args)?;
    let (values, secret, profile) = console_values(&args.target).await?;
    let http = crate::rest::http_client(&profile)?;
    let auth = crate::auth::Auth::client_secret(
        &values.tenant_id,
        &values.client_id,
        secret,
        &profile,
        &http,
    )?;
    let sender = Arc::new(Sender {
        http,
        endpoint_url: values.endpoint_url.clone(),
        auth: Arc::new(auth),
        audience: profile.monitor_audience.clone(),
        max_attempts: 8,
        requests: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    });
    // Checked (no symlink, not another user's, mode 0600) before the first event is sent; renamed into place at
    // the end.
    let failed_out = Arc::new(Mutex::new(match &args.failed_file {
        Some(p) => Some(PrivateFile::create(p, "--failed-file")?),
        None => None,
    }));
    let concurrency = args.concurrency.max(1);
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Batch>(concurrency);
    let reader = {
        let (inputs, on_error, counts, stop, failed_out) = (
            args.inputs.clone(),
            args.on_error,
            counts.clone(),
            stop.clone(),
            failed_out.clone(),
        );
        tokio::task::spawn_blocking(move || {
            read_inputs(inputs, shape, on_error, tx, counts, stop, failed_out)
        })
    };
    let human = args.target.common.output == Format::Human;
    let started = Instant::now();
    let ticker = (human && std::io::stderr().is_terminal()).then(|| {
        let counts = counts.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let sent = counts.sent.load(Ordering::Relaxed);
                let mb = counts.bytes.load(Ordering::Relaxed) as f64 / 1e6;
                let secs = started.elapsed().as_secs_f64().max(0.001);
                eprint!(
                    "\r  {sent} events, {mb:.1} MB, {:.0} events/s   ",
                    sent as f64 / secs
                );
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
                    write_failed(&failed_out, batch.events());
                    return;
                }
                let n = batch.len() as u64;
                let bytes = batch.event_bytes() as u64;
                match sender.send(batch).await {
                    Ok(()) => {
                        counts.sent.fetch_add(n, Ordering::Relaxed);
                        counts.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                    Err(BatchError::Forbidden(e, unsent)) => {
                        stop.store(true, Ordering::Relaxed);
                        if let Ok(mut f) = forbidden.lock() {
                            f.get_or_insert(e);
                        }
                        // In flight when the 403 came: kept with the rest, nothing read is lost.
                        counts.failed.fetch_add(n, Ordering::Relaxed);
                        write_failed(&failed_out, unsent.events());
                    }
                    Err(BatchError::Rejected(e, events)) => {
                        eprintln!("warning: {} events refused: {e}", events.len());
                        counts
                            .failed
                            .fetch_add(events.len() as u64, Ordering::Relaxed);
                        write_failed(&failed_out, events.events());
                    }
                }
            }
        })
        .await;
    if let Some(t) = ticker {
        t.abort();
        eprintln!();
    }
    let read_result = reader
        .await
        .map_err(|e| Error::Other(format!("reader thread: {e}")))?;
    let failed_file = failed_out.lock().ok().and_then(|mut g| g.take());
    if let Some(f) = failed_file {
        f.commit()?;
    }
    let secs = started.elapsed().as_secs_f64();
    let (sent, skipped, failed) = (
        counts.sent.load(Ordering::Relaxed),
        counts.skipped.load(Ordering::Relaxed),
        counts.failed.load(Ordering::Relaxed),
    );
    let mb = counts.bytes.load(Ordering::Relaxed) as f64 / 1e6;
    let requests = sender.requests.load(Ordering::Relaxed);
    if human {
        eprintln!(
            "send: {sent} sent, {skipped} skipped, {failed} failed; {mb:.1} MB in {requests} requests, {secs:.1}s ({:.0} events/s)",
            sent as f64 / secs.max(0.001)
        );
    } else {
        println!(
            "{}",
            json!({ "sent": sent, "skipped": skipped, "failed": failed, "megabytes": mb, "requests": requests, "retries": sender.retries.load(Ordering::Relaxed), "seconds": secs, "events_per_second": sent as f64 / secs.max(0.001), "peak_rss_mb": peak_rss_mb() })
        );
    }
    read_result?;
    if let Some(e) = forbidden.lock().ok().and_then(|mut f| f.take()) {
        return Err(Error::Other(format!(
            "ingestion refused the app: {e}\nhint: the app needs Monitoring Metrics Publisher on the DCR; a new role assignment can take several minutes to take effect"
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
    Ok(())
}
