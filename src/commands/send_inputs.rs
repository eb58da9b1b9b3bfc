//! `send`'s inputs: files or stdin, native rows or Commander's export, read into batches on a blocking thread;
//! the events that could not be sent kept in a private file.

use std::fs::File;
use std::io::BufReader;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::cli::{InputFormat, OnError, SendArgs};
use crate::error::{Error, Result};
use crate::events::{EventReader, Shape, Unsent};
use crate::ingest::{Batch, MAX_BATCH_BYTES};
use crate::private_file::PrivateFile;

/// Counters shared by the reader, the senders and the progress line.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) read: AtomicU64,
    pub(super) sent: AtomicU64,
    pub(super) skipped: AtomicU64,
    /// Commander events at or after the cutoff: in the table already, not sent.
    pub(super) already_streamed: AtomicU64,
    pub(super) failed: AtomicU64,
    /// Texts that are not events (skipped, or the one that stopped the run).
    pub(super) malformed: AtomicU64,
    pub(super) bytes: AtomicU64,
}

/// An input: a file, or stdin (`None`).
pub(super) type Source = Option<std::path::PathBuf>;

/// The inputs `send` was given: none or `-` is stdin.
pub(super) fn sources(inputs: Vec<std::path::PathBuf>) -> Vec<Source> {
    if inputs.is_empty() {
        return vec![None];
    }
    inputs
        .into_iter()
        .map(|p| (p.as_os_str() != "-").then_some(p))
        .collect()
}

/// Every input file that cannot be opened, named in one refusal before the Admin Console values are read or
/// anyone signs in: a typo in a path costs no secret fetched and no token.
pub(super) fn check_inputs(inputs: &[std::path::PathBuf]) -> Result<()> {
    let unreadable: Vec<String> = inputs
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| {
            let why = match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => "is a directory".to_string(),
                Ok(_) => match File::open(p) {
                    Ok(_) => return None,
                    Err(e) => e.to_string(),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => "does not exist".into(),
                Err(e) => e.to_string(),
            };
            Some(format!("{}: {why}", p.display()))
        })
        .collect();
    if unreadable.is_empty() {
        return Ok(());
    }
    Err(Error::input(
        format!("send cannot read its input: {}", unreadable.join("; ")),
        "check the paths (`-` or no path reads stdin)",
    ))
}

pub(super) fn source_name(src: &Source) -> String {
    src.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "stdin".into())
}

/// A reader of one input, buffered by `capacity` bytes.
pub(super) type Input = EventReader<Box<dyn std::io::BufRead + Send>>;

pub(super) fn open(src: &Source, shape: Shape, capacity: usize) -> Result<Input> {
    let reader: Box<dyn std::io::BufRead + Send> = match src {
        Some(p) => Box::new(BufReader::with_capacity(
            capacity,
            File::open(p).map_err(|e| {
                Error::input(
                    format!("cannot open {}: {e}", p.display()),
                    "check the path",
                )
            })?,
        )),
        None => Box::new(BufReader::with_capacity(capacity, std::io::stdin())),
    };
    Ok(EventReader::with_shape(reader, shape))
}

/// Whether any input holds Commander events, from the first event of each (auto-detection); stdin, which cannot
/// be read twice, comes back as its reader with what it read ahead.
pub(super) fn detect_commander(sources: &[Source], shape: &Shape) -> Result<(bool, Option<Input>)> {
    let (mut any, mut stdin) = (false, None);
    for src in sources {
        let keep = src.is_none() && stdin.is_none();
        let mut events = open(src, shape.clone(), if keep { 256 * 1024 } else { 8 * 1024 })?;
        events
            .detect_shape()
            .map_err(|e| Error::Other(format!("reading {}: {e}", source_name(src))))?;
        any |= events.is_commander();
        if keep {
            stdin = Some(events);
        }
    }
    Ok((any, stdin))
}

/// Reads every input and hands full batches to the senders; runs on a blocking thread. `stdin` is stdin's reader
/// when [`detect_commander`] read from it already.
#[allow(clippy::too_many_arguments)]
pub(super) fn read_inputs(
    sources: Vec<Source>,
    shape: Shape,
    mut stdin: Option<Input>,
    on_error: OnError,
    tx: mpsc::Sender<Batch>,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    failed_out: Arc<Mutex<FailedOut>>,
) -> Result<()> {
    let new_batch = || Batch::with_capacity(MAX_BATCH_BYTES + 64 * 1024);
    let mut batch = new_batch();
    for src in sources {
        let name = source_name(&src);
        let mut events = match (&src, stdin.take()) {
            (None, Some(read_ahead)) => read_ahead,
            (_, kept) => {
                stdin = kept;
                open(&src, shape.clone(), 256 * 1024)?
            }
        };
        let auto = matches!(shape, Shape::Auto(_));
        loop {
            // After a stop (a 403 past its wait, a --failed-file that cannot be written) the input is still read to
            // its end: the senders no longer send, and keep every event in --failed-file (or count it as lost), so
            // that the file holds all that was not sent, not only what had been read by then.
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
                Err(Err(e)) => {
                    // What was read before the failure still goes (or reaches --failed-file).
                    hand_on(&tx, batch);
                    return Err(Error::Other(format!("reading {name}: {e}")));
                }
            };
            counts.read.fetch_add(1, Ordering::Relaxed);
            let why = match why {
                Some(Unsent::AlreadyStreamed) => {
                    counts.already_streamed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Some(Unsent::Invalid(why)) => Some(why),
                None => None,
            };
            if let Some(why) = why {
                counts.malformed.fetch_add(1, Ordering::Relaxed);
                if on_error == OnError::Fail {
                    // Stopped here: everything read before this line is sent (or kept), nothing after it.
                    hand_on(&tx, batch);
                    return Err(Error::input(
                        format!("{name} line {line}: {why}"),
                        "fix the line, or pass --on-error skip",
                    ));
                }
                crate::printer::note(format_args!("warning: {name} line {line}: {why}; skipped"));
                counts.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if batch.json_len() <= MAX_BATCH_BYTES {
                continue;
            }
            // Over the limit: the last event opens the next batch, unless it is too big for any.
            let Some(last) = batch.pop() else { continue };
            if last.len() + 2 > MAX_BATCH_BYTES {
                crate::printer::note(format_args!("warning: {name} line {line}: event of {} bytes is over the 1 MB request limit; not sent", last.len()));
                counts.failed.fetch_add(1, Ordering::Relaxed);
                write_failed(&failed_out, &stop, std::iter::once(last.as_slice()));
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
            crate::printer::note(format_args!(
                "{name}: read as Keeper Commander events (--format commander)"
            ));
        }
    }
    hand_on(&tx, batch);
    Ok(())
}

/// Hands the last batch to the senders (they count what they cannot send, so nothing read is lost silently).
pub(super) fn hand_on(tx: &mpsc::Sender<Batch>, batch: Batch) {
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
}

/// `--failed-file` as the run writes it: the file, and what went wrong writing it.
#[derive(Default)]
pub(super) struct FailedOut {
    pub(super) file: Option<PrivateFile>,
    /// The first write that failed; from then on the run stops, and refused events are counted as lost.
    pub(super) error: Option<Error>,
    /// Events written to it (buffered: in the file only once it is committed), and those not.
    pub(super) kept: u64,
    pub(super) lost: u64,
}

/// Keeps refused events in `--failed-file`. A write that fails stops the run (`stop`): every event refused from
/// then on would be lost too; those not kept are counted in `lost`.
pub(super) fn write_failed<'a>(
    out: &Mutex<FailedOut>,
    stop: &AtomicBool,
    events: impl Iterator<Item = &'a [u8]>,
) {
    let Ok(mut g) = out.lock() else { return };
    let g = &mut *g;
    let Some(w) = g.file.as_mut() else { return };
    for e in events {
        if g.error.is_some() {
            g.lost += 1;
            continue;
        }
        match w.write_all(e).and_then(|_| w.write_all(b"\n")) {
            Ok(()) => g.kept += 1,
            Err(err) => {
                g.error = Some(err);
                g.lost += 1;
                stop.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The shape `--format` names, with what Commander events need (`--enterprise-id`, `--event-types`).
pub(super) fn input_shape(args: &SendArgs) -> Result<Shape> {
    // Commander's events are history: each run's rows carry its id, so that nothing watching Keeper's live stream
    // takes them for it (their TimeGenerated is when Azure received them, src/marks.rs).
    let mapping = crate::commander::Mapping::load(args.enterprise_id, args.event_types.as_deref())?
        .with_backfill(&format!("send-{}", uuid::Uuid::new_v4()));
    Ok(match args.format {
        InputFormat::Auto => Shape::Auto(mapping),
        InputFormat::Plain => Shape::Plain,
        InputFormat::Commander => Shape::Commander(mapping),
    })
}
