//! Streams Keeper events from a JSON array or JSON lines, one event at a time, with the line each started on.

use std::collections::VecDeque;
use std::io::BufRead;

use time::OffsetDateTime;

pub use crate::commander::Unsent;
use crate::commander::{looks_like_commander, Mapping};

/// The longest text read as one event: what one Logs Ingestion request may carry (1 MB). A longer line or array
/// element is malformed, and is skipped over rather than read whole into memory.
pub const MAX_TEXT: usize = crate::ingest::MAX_BATCH_BYTES;

fn too_long() -> String {
    format!("over {MAX_TEXT} bytes, the most one Logs Ingestion request carries (1 MB): not an event that can be sent, and not read whole")
}

/// How many texts [`EventReader::detect_shape`] reads ahead at most for one that tells the shape.
const DETECT_AHEAD: usize = 64;

/// How the events are shaped, and so what is done to each before it is sent.
#[derive(Debug, Clone)]
pub enum Shape {
    /// Decided on the first event: Commander's when it has `audit_event_type` and no `audit_event`.
    Auto(Mapping),
    /// The table's own columns (the guide's events): sent as they are, `TimeGenerated` from `timestamp`.
    Plain,
    /// Keeper Commander's exports: mapped to the table's columns by [`crate::commander`].
    Commander(Mapping),
}

/// Where the array scanner stands between buffer refills.
#[derive(Debug, Default)]
struct Scan {
    depth: i32,
    in_str: bool,
    esc: bool,
}

/// Reads events from a JSON array (`[ {...}, {...} ]`) or from JSON lines, detected by the first byte,
/// without holding more than one event in memory.
pub struct EventReader<R: BufRead> {
    input: R,
    line: usize,
    mode: Mode,
    done: bool,
    scan: Scan,
    shape: Shape,
    /// Texts [`EventReader::detect_shape`] read ahead, with their lines, handed out before any other.
    pending: VecDeque<(usize, Result<Vec<u8>, String>)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Mode {
    Unknown,
    Array,
    Lines,
}

impl<R: BufRead> EventReader<R> {
    pub fn with_shape(input: R, shape: Shape) -> Self {
        EventReader {
            input,
            line: 1,
            mode: Mode::Unknown,
            done: false,
            scan: Scan::default(),
            shape,
            pending: VecDeque::new(),
        }
    }

    /// Decides an [`Shape::Auto`] input's shape before its first event is handed out, reading ahead to the first
    /// text that is a JSON object (at most [`DETECT_AHEAD`]; then the input is taken as plain). Nothing is lost:
    /// what is read ahead comes out of [`EventReader::next_into`] first.
    pub fn detect_shape(&mut self) -> std::io::Result<()> {
        while matches!(self.shape, Shape::Auto(_)) {
            if self.pending.len() >= DETECT_AHEAD {
                self.shape = Shape::Plain;
                break;
            }
            let mut text = Vec::new();
            let Some((line, read)) = self.next_raw(&mut text)? else {
                break;
            };
            if read.is_ok() {
                self.decide(&text);
            }
            self.pending.push_back((line, read.map(|()| text)));
        }
        Ok(())
    }

    /// Leaves out the Commander events at or after `until` (see [`Mapping::with_until`]).
    pub fn set_until(&mut self, until: Option<OffsetDateTime>) {
        self.shape = self.shape.clone().with_until(until);
    }

    /// Whether the events are taken for Commander's (once the first one is read, with [`Shape::Auto`]).
    pub fn is_commander(&self) -> bool {
        matches!(self.shape, Shape::Commander(_))
    }

    /// With [`Shape::Auto`], takes the shape of `text` when it is a JSON object.
    fn decide(&mut self, text: &[u8]) {
        if let Shape::Auto(m) = &self.shape {
            if let Some(commander) = looks_like_commander(text) {
                self.shape = if commander {
                    Shape::Commander(m.clone())
                } else {
                    Shape::Plain
                };
            }
        }
    }

    /// Makes the text at `out[start..]` ready to send in the input's shape (deciding the shape on the first
    /// object when asked to); a text that is not an event is removed.
    fn finish(&mut self, out: &mut Vec<u8>, start: usize) -> Result<(), Unsent> {
        if matches!(self.shape, Shape::Auto(_)) {
            let text = out[start..].to_vec();
            self.decide(&text);
        }
        match &self.shape {
            Shape::Commander(m) => m.finish_event(out, start),
            Shape::Plain | Shape::Auto(_) => finish_event(out, start).map_err(Unsent::Invalid),
        }
    }

    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let b = match self.input.fill_buf()?.first() {
            Some(&b) => b,
            None => return Ok(None),
        };
        self.input.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn peek_nonspace(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            let buf = self.input.fill_buf()?;
            let Some(&b) = buf.first() else {
                return Ok(None);
            };
            if b.is_ascii_whitespace() {
                self.byte()?;
            } else {
                return Ok(Some(b));
            }
        }
    }

    /// The next element of a top-level array: bytes up to the ',' or ']' at depth 0, strings respected.
    /// Scans the reader's buffer a chunk at a time: this is the hot loop of `send`.
    fn next_array_element(
        &mut self,
        out: &mut Vec<u8>,
    ) -> std::io::Result<Option<(usize, Result<(), String>)>> {
        let start_line = match self.peek_nonspace()? {
            None => return Ok(None),
            Some(b']') => {
                self.done = true;
                return Ok(None);
            }
            Some(_) => self.line,
        };
        let start = out.len();
        let mut over = false;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                self.done = true;
                out.truncate(start);
                return Ok(Some((start_line, Err("the array is not closed".into()))));
            }
            let mut end = None;
            for (i, &b) in buf.iter().enumerate() {
                if self.scan.in_str {
                    if self.scan.esc {
                        self.scan.esc = false;
                    } else if b == b'\\' {
                        self.scan.esc = true;
                    } else if b == b'"' {
                        self.scan.in_str = false;
                    }
                    continue;
                }
                match b {
                    b'\n' => self.line += 1,
                    b'"' => self.scan.in_str = true,
                    b'{' | b'[' => self.scan.depth += 1,
                    b'}' | b']' if self.scan.depth > 0 => self.scan.depth -= 1,
                    b']' => {
                        end = Some((i, true));
                        break;
                    }
                    b',' if self.scan.depth == 0 => {
                        end = Some((i, false));
                        break;
                    }
                    _ => {}
                }
            }
            let take = end.map_or(buf.len(), |(i, _)| i);
            // Scanned to its end, but kept only while it is not over MAX_TEXT.
            if !over && out.len() - start + take > MAX_TEXT {
                over = true;
                out.truncate(start);
            }
            if !over {
                out.extend_from_slice(&buf[..take]);
            }
            match end {
                Some((i, closed)) => {
                    self.input.consume(i + 1);
                    self.done = closed;
                    break;
                }
                None => self.input.consume(take),
            }
        }
        if over {
            return Ok(Some((start_line, Err(too_long()))));
        }
        Ok(Some((start_line, Ok(()))))
    }

    fn next_line(
        &mut self,
        out: &mut Vec<u8>,
    ) -> std::io::Result<Option<(usize, Result<(), String>)>> {
        let start = out.len();
        loop {
            // The line is read straight into `out` (no copy of its own), and never more than MAX_TEXT of it.
            let line = self.line;
            let (mut any, mut over) = (false, false);
            loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                any = true;
                let (n, ends) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                if !over {
                    if out.len() - start + n > MAX_TEXT + 2 {
                        over = true;
                        out.truncate(start);
                    } else {
                        out.extend_from_slice(&buf[..n]);
                    }
                }
                self.input.consume(n);
                if ends {
                    break;
                }
            }
            if !any {
                return Ok(None);
            }
            self.line += 1;
            if over {
                return Ok(Some((line, Err(too_long()))));
            }
            let end = out[start..]
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(start, |i| start + i + 1);
            out.truncate(end);
            if end == start {
                continue;
            }
            // Judged on the line without its line ending (read up to MAX_TEXT + 2 bytes for a CRLF).
            if end - start > MAX_TEXT {
                out.truncate(start);
                return Ok(Some((line, Err(too_long()))));
            }
            return Ok(Some((line, Ok(()))));
        }
    }

    /// Appends the next text of the input to `out` as it is, and returns the line it started on; an array left
    /// open is said so. `None` at the end of the input.
    fn next_raw(
        &mut self,
        out: &mut Vec<u8>,
    ) -> std::io::Result<Option<(usize, Result<(), String>)>> {
        if self.done {
            return Ok(None);
        }
        if self.mode == Mode::Unknown {
            match self.peek_nonspace()? {
                Some(b'[') => {
                    self.byte()?;
                    self.mode = Mode::Array;
                }
                Some(_) => self.mode = Mode::Lines,
                None => return Ok(None),
            }
        }
        if self.mode == Mode::Array {
            self.next_array_element(out)
        } else {
            self.next_line(out)
        }
    }

    /// Appends the next event to `out`, ready to send, and returns the line it started on; when the text is not
    /// sent, returns why and leaves `out` as it was. `None` at the end of the input.
    pub fn next_into(
        &mut self,
        out: &mut Vec<u8>,
    ) -> std::io::Result<Option<(usize, Result<(), Unsent>)>> {
        let start = out.len();
        let (line, read) = match self.pending.pop_front() {
            Some((line, read)) => (line, read.map(|text| out.extend_from_slice(&text))),
            None => match self.next_raw(out)? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        Ok(Some((
            line,
            match read {
                Ok(()) => self.finish(out, start),
                Err(why) => {
                    out.truncate(start);
                    Err(Unsent::Invalid(why))
                }
            },
        )))
    }
}

impl Shape {
    /// The same shape, its Commander mapping leaving out the events at or after `until`.
    pub fn with_until(self, until: Option<OffsetDateTime>) -> Shape {
        match self {
            Shape::Auto(m) => Shape::Auto(m.with_until(until)),
            Shape::Commander(m) => Shape::Commander(m.with_until(until)),
            Shape::Plain => Shape::Plain,
        }
    }
}

/// Checks the event at `out[start..]`, fixing `TimeGenerated` in place; a text that is not an event is removed.
fn finish_event(out: &mut Vec<u8>, start: usize) -> Result<(), String> {
    match check_event(&out[start..]) {
        Ok(None) => Ok(()),
        Ok(Some(fixed)) => {
            out.truncate(start);
            out.extend_from_slice(&fixed);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// The type of the stream's column `name` (`templates/table-columns.json`, which setup declares in the DCR's
/// stream), or none for a field the stream does not declare.
fn column_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "TimeGenerated" | "timestamp" => "datetime",
        "audit_event" | "remote_address" | "category" | "client_version" | "username" => "string",
        "enterprise_id" => "int",
        "data" => "dynamic",
        _ => return None,
    })
}

/// Whether a field's JSON text fits its column's type as Logs Ingestion reads it (`null` fits every type); one that
/// does not is accepted with 204 and its column left empty, so it is refused here instead.
fn fits(text: &str, ty: &str) -> bool {
    if text == "null" {
        return true;
    }
    match ty {
        "string" => text.starts_with('"'),
        "int" => text.parse::<i64>().is_ok(),
        "datetime" => text.starts_with('"') && iso_datetime(&text.as_bytes()[1..]),
        _ => true,
    }
}

/// Whether a JSON string's text (after its opening quote) starts as an ISO 8601 date or date-time does:
/// `YYYY-MM-DD`, then its end or `T`/space and an hour. Kusto reads these into a `datetime` column ("The datetime
/// data type", supported formats: learn.microsoft.com/kusto/query/scalar-data-types/datetime); checked by shape,
/// cheaply, since `send` checks two per event. (Kusto's RFC 822 forms are not accepted here.)
pub fn iso_datetime(s: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| s.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let two = |i: usize| (s[i] - b'0') * 10 + (s[i + 1] - b'0');
    if !(digits(0..4)
        && s.get(4) == Some(&b'-')
        && digits(5..7)
        && s.get(7) == Some(&b'-')
        && digits(8..10))
    {
        return false;
    }
    if !(1..=12).contains(&two(5)) || !(1..=31).contains(&two(8)) {
        return false;
    }
    match s.get(10) {
        Some(b'"') => true,
        Some(b'T' | b't' | b' ') => digits(11..13),
        _ => false,
    }
}

/// The JSON type of a field's text, for a message.
fn json_kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        _ => "a number",
    }
}

/// What `send` needs to know of an event, read in one pass without building it: whether it has `TimeGenerated`,
/// its `timestamp`, and the first field Logs Ingestion would silently drop (not a column of the stream) or store
/// empty (not of its column's type).
struct Probe<'a> {
    time_generated: bool,
    timestamp: Option<&'a serde_json::value::RawValue>,
    problem: Option<String>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Probe<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Probe<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Probe<'a>, A::Error> {
                let mut p = Probe {
                    time_generated: false,
                    timestamp: None,
                    problem: None,
                };
                // Keys borrowed from the input (serde's `Cow<str>` would copy each: the hot loop of `send`).
                while let Some(crate::commander::Key(key)) =
                    m.next_key::<crate::commander::Key<'de>>()?
                {
                    let value: &'de serde_json::value::RawValue = m.next_value()?;
                    match key.as_ref() {
                        "TimeGenerated" => p.time_generated = true,
                        "timestamp" => p.timestamp = Some(value),
                        _ => {}
                    }
                    if p.problem.is_some() {
                        continue;
                    }
                    match column_type(&key) {
                        None => {
                            p.problem = Some(format!(
                                "field '{key}' is not a column of the stream: Logs Ingestion would drop it without a word (put it in `data`)"
                            ))
                        }
                        Some(ty) if !fits(value.get(), ty) => {
                            p.problem = Some(format!(
                                "field '{key}' is {}, and its column is {ty}: Logs Ingestion would accept the event and leave the column empty",
                                json_kind(value.get())
                            ))
                        }
                        Some(_) => {}
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Checks that `text` is one JSON object ready to send, whose every field is a column of the stream with a value
/// of its type. `Ok(None)`: send it as it is; `Ok(Some(..))`: send this instead, the same object with
/// `TimeGenerated` set from `timestamp` where it is missing (the table requires it). The event is never rebuilt,
/// only spliced.
fn check_event(text: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.map(|i| text[i]) != Some(b'{') {
        return Err("not a JSON object".into());
    }
    let probe: Probe = serde_json::from_slice(text).map_err(|e| format!("malformed JSON: {e}"))?;
    if let Some(why) = probe.problem {
        return Err(why);
    }
    match (probe.time_generated, probe.timestamp) {
        (false, Some(ts)) => {
            let open = start.unwrap_or(0);
            let rest = &text[open + 1..];
            let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            let mut out = Vec::with_capacity(text.len() + ts.get().len() + 20);
            out.extend_from_slice(b"{\"TimeGenerated\":");
            out.extend_from_slice(ts.get().as_bytes());
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(rest);
            Ok(Some(out))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests;
