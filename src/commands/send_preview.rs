//! `send --dry-run`: what a send would post (how many events, how many bytes and requests, their time range) and
//! where (the Endpoint URL's host and stream), read from the inputs as `send` reads them; nothing is posted.

use time::OffsetDateTime;

use crate::history::rfc3339;
use crate::ingest::{Batch, MAX_BATCH_BYTES};

/// The tally of the batches `send` would post.
#[derive(Debug, Default, serde::Serialize)]
pub struct Preview {
    pub dry_run: bool,
    pub events: u64,
    /// Bytes of JSON the events make, before gzip.
    pub bytes: u64,
    /// Requests of at most 1 MB of JSON each.
    pub requests: u64,
    /// The earliest and latest event time (`TimeGenerated`, else `timestamp`), RFC 3339.
    pub first: Option<String>,
    pub last: Option<String>,
    pub malformed: u64,
    /// Commander events at or after where Keeper's live streaming began: left out.
    pub already_streamed: u64,
    /// The Endpoint URL's host (the DCE's logs ingestion host) and stream.
    pub endpoint_host: String,
    pub stream: String,
    #[serde(skip)]
    times: Option<(OffsetDateTime, OffsetDateTime)>,
}

impl Preview {
    pub fn new(endpoint_url: &str) -> Preview {
        let url = reqwest::Url::parse(endpoint_url).ok();
        let host = url
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let stream = url
            .as_ref()
            .and_then(|u| {
                let segs: Vec<&str> = u.path_segments()?.collect();
                let at = segs.iter().position(|s| *s == "streams")?;
                segs.get(at + 1).map(|s| s.to_string())
            })
            .unwrap_or_default();
        Preview {
            dry_run: true,
            endpoint_host: host,
            stream,
            ..Preview::default()
        }
    }

    /// Counts a batch as `send` would post it.
    pub fn add(&mut self, batch: &Batch) {
        if batch.is_empty() {
            return;
        }
        self.events += batch.len() as u64;
        self.bytes += batch.json_len() as u64;
        self.requests += (batch.json_len() as u64)
            .div_ceil(MAX_BATCH_BYTES as u64)
            .max(1);
        for e in batch.events() {
            if let Some(t) = event_time(e) {
                self.times = Some(match self.times {
                    Some((a, b)) => (a.min(t), b.max(t)),
                    None => (t, t),
                });
            }
        }
        self.first = self.times.map(|(a, _)| rfc3339(a));
        self.last = self.times.map(|(_, b)| rfc3339(b));
    }
}

/// An event's time: `TimeGenerated`, else `timestamp` (RFC 3339); none when neither parses.
fn event_time(event: &[u8]) -> Option<OffsetDateTime> {
    let v: serde_json::Value = serde_json::from_slice(event).ok()?;
    ["TimeGenerated", "timestamp"].iter().find_map(|k| {
        OffsetDateTime::parse(
            v.get(*k)?.as_str()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
    })
}

impl crate::printer::Report for Preview {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(
            w,
            "send --dry-run (nothing sent): {} events, {:.1} MB of JSON in {} request(s), to {} stream {}",
            self.events,
            self.bytes as f64 / 1e6,
            self.requests,
            self.endpoint_host,
            self.stream
        )?;
        if let (Some(a), Some(b)) = (&self.first, &self.last) {
            writeln!(w, "  events from {a} to {b}")?;
        }
        if self.malformed > 0 {
            writeln!(w, "  {} malformed (not sent)", self.malformed)?;
        }
        if self.already_streamed > 0 {
            writeln!(
                w,
                "  {} Commander events after where live streaming began (not sent)",
                self.already_streamed
            )?;
        }
        Ok(())
    }
}
