//! Keeper Commander's audit events (and rows of the classic `Keeper_CL` table it filled) mapped to the table's columns.
//!
//! Commander's shapes, from Keeper-Security/Commander:
//! - `audit-log --target json` (keepercommander/commands/aram.py, `AuditLogJsonExport.convert_event` and
//!   `ndjson_to_json_file`): one JSON array of the raw API rows, each without `id` and `created`, with
//!   `timestamp` = `created` (epoch seconds, `datetime.fromtimestamp`) as `%Y-%m-%dT%H:%M:%SZ`.
//! - `audit-log --target azure-la` (`AuditLogAzureLogAnalyticsExport`): the same objects posted to the HTTP Data
//!   Collector API with `Log-Type: Keeper`, so they sit in `Keeper_CL` as `audit_event_type_s`, `timestamp_t`, ...
//! - `audit-report --format json` (aram.py `AuditReportCommand.execute`, raw report; fields from
//!   keepercommander/commands/helpers/audit_report.py `RAW_FIELDS` and `MISC_FIELDS`; written by base.py
//!   `dump_report_data`): `created` as `datetime.isoformat()` (`2025-01-23T01:31:11+00:00`), empty fields left out,
//!   plus `message` or the misc fields and their looked-up titles (`record_title`, `node_title`, ...).
//! - the raw API rows themselves (`get_audit_event_reports`, report type `raw`): `id`, `created` in epoch seconds.
//!
//! [`COLUMNS`] is the one table of what goes where; every other field goes into `data`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A table column that a Commander field fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    AuditEvent,
    RemoteAddress,
    ClientVersion,
    Username,
    Category,
    EnterpriseId,
    /// The event's own time: `TimeGenerated` and `timestamp`.
    Time,
}

/// Commander's field name → the column it fills. Fields not named here go into `data` as they are. Where two
/// fields fill one column, the one listed first wins.
const COLUMNS: &[(&str, Column)] = &[
    ("audit_event_type", Column::AuditEvent),
    ("ip_address", Column::RemoteAddress),
    ("keeper_version", Column::ClientVersion),
    ("username", Column::Username),
    // `created` (raw rows, audit-report) wins over `timestamp` (audit-log) when both are there.
    ("created", Column::Time),
    ("timestamp", Column::Time),
    // Not in Commander's exports, but in Keeper's own stream shape: kept when an event carries them.
    ("category", Column::Category),
    ("enterprise_id", Column::EnterpriseId),
];

/// The row of [`COLUMNS`] that `field` is, if any.
fn column_slot(field: &str) -> Option<usize> {
    COLUMNS.iter().position(|(f, _)| *f == field)
}

/// Keeper's published event type → category, embedded from `templates/keeper-event-categories.json`.
fn built_in_categories() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let v: Value =
            serde_json::from_str(include_str!("../../templates/keeper-event-categories.json"))
                .unwrap_or(Value::Null);
        let mut m = HashMap::new();
        for (category, events) in v["categories"].as_object().into_iter().flatten() {
            for e in events.as_array().into_iter().flatten() {
                if let Some(e) = e.as_str() {
                    m.insert(e.to_string(), category.clone());
                }
            }
        }
        m
    })
}

/// Why an event type list given with `--event-types` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EventTypesError(String);

/// Why a text read is not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsent {
    /// Not an event (malformed JSON, not an object, no event type or time): reported with its line.
    #[error("{0}")]
    Invalid(String),
    /// A Commander event at or after the time Keeper's live streaming began: the table holds it already.
    #[error("already streamed")]
    AlreadyStreamed,
}

/// What a Commander event needs from outside itself: the enterprise id, the event type categories, and where
/// the events already in the table begin.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    enterprise_id: Option<i64>,
    /// Categories given by the user, over the built-in ones.
    categories: Arc<HashMap<String, String>>,
    /// Events at or after this time are not sent ([`Unsent::AlreadyStreamed`]): Keeper streamed them live.
    until: Option<OffsetDateTime>,
    /// The backfill's id, written into each event's `data` as [`crate::marks::BACKFILL_KEY`].
    backfill: Option<Arc<str>>,
}

impl Mapping {
    pub fn new(enterprise_id: Option<i64>) -> Self {
        Mapping {
            enterprise_id,
            ..Mapping::default()
        }
    }

    /// The same mapping, marking each event as part of the backfill `id` (in `data`).
    pub fn with_backfill(mut self, id: &str) -> Self {
        self.backfill = Some(Arc::from(id));
        self
    }

    /// The same mapping, leaving out the events at or after `until` (none with `None`).
    pub fn with_until(mut self, until: Option<OffsetDateTime>) -> Self {
        self.until = until;
        self
    }

    /// Adds Keeper's categories from the output of Commander's
    /// `audit-report --report-type dim --columns audit_event_type --format json` (objects with `id`, `name`,
    /// `category`, `syslog`: aram.py `AuditReportCommand.execute`, report type `dim`).
    pub fn with_event_types(mut self, json: &[u8]) -> Result<Self, EventTypesError> {
        let rows: Vec<Map<String, Value>> = serde_json::from_slice(json).map_err(|e| {
            EventTypesError(format!(
                "not Commander's event type list (a JSON array of objects with name and category): {e}"
            ))
        })?;
        let mut m = HashMap::new();
        for r in rows {
            if let (Some(name), Some(cat)) = (
                r.get("name").and_then(Value::as_str),
                r.get("category").and_then(Value::as_str),
            ) {
                m.insert(name.to_string(), cat.to_string());
            }
        }
        if m.is_empty() {
            return Err(EventTypesError(
                "no event type in it has both a name and a category".into(),
            ));
        }
        self.categories = Arc::new(m);
        Ok(self)
    }

    /// The mapping `--enterprise-id` and `--event-types FILE` describe.
    pub fn load(
        enterprise_id: Option<i64>,
        event_types: Option<&std::path::Path>,
    ) -> crate::error::Result<Self> {
        let m = Mapping::new(enterprise_id);
        let Some(p) = event_types else {
            return Ok(m);
        };
        let text = std::fs::read(p).map_err(|e| {
            crate::error::Error::input(
                format!("cannot read --event-types {}: {e}", p.display()),
                "check the path",
            )
        })?;
        m.with_event_types(&text).map_err(|e| {
            crate::error::Error::input(
                format!("--event-types {}: {e}", p.display()),
                "write it with Commander: audit-report --report-type dim --columns audit_event_type --format json --output FILE",
            )
        })
    }

    fn category(&self, event_type: &str) -> Option<&str> {
        self.categories
            .get(event_type)
            .or_else(|| built_in_categories().get(event_type))
            .map(String::as_str)
    }

    /// Maps the Commander event at `out[start..]` in place; a text that is not one (or an event the table holds
    /// already) is removed and why is returned.
    pub fn finish_event(&self, out: &mut Vec<u8>, start: usize) -> Result<(), Unsent> {
        // The event is read from a copy, borrowing its values, and written back in its place.
        SCRATCH.with(|s| {
            let mut s = s.borrow_mut();
            let Scratch { input, data } = &mut *s;
            input.clear();
            input.extend_from_slice(&out[start..]);
            out.truncate(start);
            self.map_object(input, data, out)
        })
    }

    /// Writes the event whose JSON object is `text` as the table's event at the end of `out`; on an error `out`
    /// is left as it was.
    fn map_object(&self, text: &[u8], data: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), Unsent> {
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(Unsent::Invalid("not a JSON object".into()));
        }
        data.clear();
        let mut fields = Fields {
            slots: [None; COLUMNS.len()],
            data,
        };
        let mut de = serde_json::Deserializer::from_slice(text);
        (&mut fields)
            .deserialize(&mut de)
            .and_then(|()| de.end())
            .map_err(|e| Unsent::Invalid(format!("malformed JSON: {e}")))?;
        let before = out.len();
        let written = fields.write(self, out);
        if written.is_err() {
            out.truncate(before);
        }
        written
    }

    /// Writes a row of a classic table as the table's event: its cells as (column, JSON text), as the query API
    /// answers them, taken as they are (no value is built).
    pub fn write_classic_row<'c>(
        &self,
        cells: impl IntoIterator<Item = (&'c str, &'c str)>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        // Written out as the Commander event it was, then mapped as one.
        let mut text = vec![b'{'];
        for (column, value) in cells {
            if let Some((name, v)) = classic_field(column, value) {
                if text.len() > 1 {
                    text.push(b',');
                }
                write_key(&mut text, name);
                text.extend_from_slice(v.as_bytes());
            }
        }
        text.push(b'}');
        let mut data = Vec::new();
        self.map_object(&text, &mut data, out)
            .map_err(|e| e.to_string())
    }
}

/// Buffers [`Mapping::finish_event`] reuses from event to event: the event's text and its `data` object.
#[derive(Default)]
struct Scratch {
    input: Vec<u8>,
    data: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Azure's own columns of a classic table, not Keeper's (its `TimeGenerated` is the time of ingestion; the event's
/// time is `timestamp_t`). Tables API `standardColumns` and the columns every table carries.
const CLASSIC_AZURE_COLUMNS: &[&str] = &[
    "TimeGenerated",
    "TenantId",
    "SourceSystem",
    "Type",
    "MG",
    "ManagementGroupName",
    "Computer",
    "RawData",
    "_ResourceId",
    "_SubscriptionId",
    "_ItemId",
    "_BilledSize",
    "_IsBillable",
];

/// A classic table's column as Commander's field: the Data Collector API's type suffix taken off
/// (string `_s`, boolean `_b`, double `_d`, date-time `_t`, GUID `_g`: "Send log data to Azure Monitor by using
/// the HTTP Data Collector API", "Record type and properties",
/// https://learn.microsoft.com/previous-versions/azure/azure-monitor/logs/data-collector-api), and a double that
/// holds a whole number (node and role ids) made an integer again. `None` for Azure's own columns.
fn classic_field<'c>(column: &'c str, text: &'c str) -> Option<(&'c str, Cow<'c, str>)> {
    if CLASSIC_AZURE_COLUMNS.contains(&column) {
        return None;
    }
    let Some((name, suffix)) = column
        .rsplit_once('_')
        .filter(|(n, s)| !n.is_empty() && matches!(*s, "s" | "b" | "d" | "t" | "g"))
    else {
        return Some((column, Cow::Borrowed(text)));
    };
    // A JSON number's text is one Rust's float parser reads; a string or null is not, and stays as it is.
    let whole = (suffix == "d")
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .filter(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0);
    Some((
        name,
        match whole {
            Some(f) => Cow::Owned((f as i64).to_string()),
            None => Cow::Borrowed(text),
        },
    ))
}

/// Whether the event in `text` is Commander-shaped: `audit_event_type` and no `audit_event` among its top-level
/// keys. `None` when it is not a JSON object.
pub fn looks_like_commander(text: &[u8]) -> Option<bool> {
    #[derive(serde::Deserialize)]
    struct Probe {
        audit_event_type: Option<serde::de::IgnoredAny>,
        audit_event: Option<serde::de::IgnoredAny>,
    }
    let p: Probe = serde_json::from_slice(text).ok()?;
    Some(p.audit_event_type.is_some() && p.audit_event.is_none())
}

/// An object key, borrowed from the input unless it holds escapes (serde's own `Cow<str>` always copies).
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// One Commander event read without building it: the values of [`COLUMNS`]' fields, borrowed from the text, and
/// every other field written out as the members of `data`.
struct Fields<'de, 'b> {
    slots: [Option<&'de RawValue>; COLUMNS.len()],
    data: &'b mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for &mut Fields<'de, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut Fields<'de, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(key) = m.next_key::<Key<'de>>()? {
            let v: &'de RawValue = m.next_value()?;
            if v.get() == "null" {
                continue;
            }
            match column_slot(&key.0) {
                Some(i) => {
                    self.slots[i].get_or_insert(v);
                }
                None => {
                    if !self.data.is_empty() {
                        self.data.push(b',');
                    }
                    write_key(self.data, &key.0);
                    self.data.extend_from_slice(v.get().as_bytes());
                }
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string, escaped as JSON needs.
fn write_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        // Cannot fail: a string into a Vec.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// `"key":`.
fn write_key(out: &mut Vec<u8>, key: &str) {
    write_json_str(out, key);
    out.push(b':');
}

/// A column's text as a JSON string: strings as they are, numbers and booleans written out; nothing for "" or
/// anything else.
fn text_json(v: &RawValue) -> Option<Cow<'_, str>> {
    let s = v.get();
    match s.as_bytes().first()? {
        b'"' if s.len() > 2 => Some(Cow::Borrowed(s)),
        b'-' | b'0'..=b'9' | b't' | b'f' => Some(Cow::Owned(format!("\"{s}\""))),
        _ => None,
    }
}

/// The text of a JSON string or number, unescaped (borrowed when it holds no escapes).
fn plain_text(v: &RawValue) -> Option<Cow<'_, str>> {
    let s = v.get();
    if s.starts_with('"') {
        serde_json::from_str::<Key>(s).ok().map(|k| k.0)
    } else {
        Some(Cow::Borrowed(s))
    }
}

/// An event time: epoch seconds (Commander's `created`), or a date-time string with any offset.
fn event_time(v: &RawValue) -> Option<OffsetDateTime> {
    let s = v.get();
    if s.starts_with('"') {
        let s = plain_text(v)?;
        return OffsetDateTime::parse(&s, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
            .ok();
    }
    // Commander reads `created` as seconds (`datetime.fromtimestamp(event['created'])`); a whole number past the
    // year 5000 in seconds is taken for milliseconds rather than refused.
    // Out of range (past year 9999, or not finite) is no time: the caller reports the line as malformed.
    let nanos: i128 = match s.parse::<i64>() {
        Ok(i) if i.unsigned_abs() > 100_000_000_000 => i128::from(i) * 1_000_000,
        Ok(i) => i128::from(i) * 1_000_000_000,
        // Fractional seconds, to the microsecond; a float too large for any date is refused before it is scaled.
        Err(_) => {
            let f = s.parse::<f64>().ok()?;
            if !f.is_finite() || f.abs() > 1e15 {
                return None;
            }
            (f * 1e6).round() as i128 * 1_000
        }
    };
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

impl Fields<'_, '_> {
    /// The value of the first field of `column` that is there (in [`COLUMNS`]' order).
    fn first(&self, column: Column) -> Option<&RawValue> {
        COLUMNS
            .iter()
            .zip(&self.slots)
            .find(|((_, c), v)| *c == column && v.is_some())
            .and_then(|(_, v)| *v)
    }

    /// The event's time: the first time field that reads as one.
    fn time(&self) -> Result<OffsetDateTime, Unsent> {
        let mut bad = None;
        for ((_, c), v) in COLUMNS.iter().zip(&self.slots) {
            let (Column::Time, Some(v)) = (c, v) else {
                continue;
            };
            match event_time(v) {
                Some(t) => return Ok(t),
                None => {
                    bad.get_or_insert(v.get());
                }
            }
        }
        Err(Unsent::Invalid(match bad {
            Some(v) => format!("event time {v} is neither epoch seconds nor an RFC 3339 date"),
            None => "no event time (created or timestamp)".into(),
        }))
    }

    /// Writes the row as the table's JSON object.
    fn write(&self, mapping: &Mapping, out: &mut Vec<u8>) -> Result<(), Unsent> {
        let Some(audit_event) = self.first(Column::AuditEvent).and_then(text_json) else {
            return Err(Unsent::Invalid(
                "not a Commander event: no audit_event_type".into(),
            ));
        };
        let time = self.time()?.to_offset(time::UtcOffset::UTC);
        if mapping.until.is_some_and(|until| time >= until) {
            return Err(Unsent::AlreadyStreamed);
        }
        out.extend_from_slice(b"{\"TimeGenerated\":\"");
        let time_at = out.len();
        time.format_into(out, &Rfc3339)
            .map_err(|e| Unsent::Invalid(format!("cannot write the event time: {e}")))?;
        let time_end = out.len();
        out.extend_from_slice(b"\",\"audit_event\":");
        out.extend_from_slice(audit_event.as_bytes());
        let field = |out: &mut Vec<u8>, k: &str, v: Option<Cow<'_, str>>| {
            if let Some(v) = v {
                out.push(b',');
                write_key(out, k);
                out.extend_from_slice(v.as_bytes());
            }
        };
        field(
            out,
            "remote_address",
            self.first(Column::RemoteAddress).and_then(text_json),
        );
        match self.first(Column::Category).and_then(text_json) {
            Some(own) => field(out, "category", Some(own)),
            None => {
                let name = self.first(Column::AuditEvent).and_then(plain_text);
                if let Some(c) = name.as_deref().and_then(|n| mapping.category(n)) {
                    out.push(b',');
                    write_key(out, "category");
                    write_json_str(out, c);
                }
            }
        }
        field(
            out,
            "client_version",
            self.first(Column::ClientVersion).and_then(text_json),
        );
        field(
            out,
            "username",
            self.first(Column::Username).and_then(text_json),
        );
        let own_id = self
            .first(Column::EnterpriseId)
            .and_then(|v| v.get().parse::<i64>().ok());
        if let Some(id) = mapping.enterprise_id.or(own_id) {
            // Cannot fail: into a Vec.
            let _ = write!(out, ",\"enterprise_id\":{id}");
        }
        out.extend_from_slice(b",\"timestamp\":\"");
        out.extend_from_within(time_at..time_end);
        out.extend_from_slice(b"\",\"data\":{");
        out.extend_from_slice(self.data);
        if let Some(id) = &mapping.backfill {
            if !self.data.iter().all(u8::is_ascii_whitespace) {
                out.push(b',');
            }
            write_key(out, crate::marks::BACKFILL_KEY);
            write_json_str(out, id);
        }
        out.extend_from_slice(b"}}");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
