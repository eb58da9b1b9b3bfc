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

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

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

/// Commander's field name → the column it fills. Fields not named here go into `data` as they are.
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

fn column_of(field: &str) -> Option<Column> {
    COLUMNS.iter().find(|(f, _)| *f == field).map(|(_, c)| *c)
}

/// Keeper's published event type → category, embedded from `templates/keeper-event-categories.json`.
fn built_in_categories() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let v: Value =
            serde_json::from_str(include_str!("../templates/keeper-event-categories.json"))
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

/// What a Commander event needs from outside itself: the enterprise id and the event type categories.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    enterprise_id: Option<i64>,
    /// Categories given by the user, over the built-in ones.
    categories: Arc<HashMap<String, String>>,
}

impl Mapping {
    pub fn new(enterprise_id: Option<i64>) -> Self {
        Mapping {
            enterprise_id,
            categories: Arc::default(),
        }
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

    /// Maps the Commander event at `out[start..]` in place; a text that is not one is removed and why is returned.
    pub fn finish_event(&self, out: &mut Vec<u8>, start: usize) -> Result<(), String> {
        let fields: Map<String, Value> = match serde_json::from_slice(&out[start..]) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                out.truncate(start);
                return Err("not a JSON object".into());
            }
            Err(e) => {
                out.truncate(start);
                return Err(format!("malformed JSON: {e}"));
            }
        };
        out.truncate(start);
        let mut row = Row::default();
        for (k, v) in fields {
            row.put(&k, v);
        }
        row.write(self, out)
    }
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
fn classic_field(column: &str, v: Value) -> Option<(&str, Value)> {
    if CLASSIC_AZURE_COLUMNS.contains(&column) {
        return None;
    }
    let Some((name, suffix)) = column
        .rsplit_once('_')
        .filter(|(n, s)| !n.is_empty() && matches!(*s, "s" | "b" | "d" | "t" | "g"))
    else {
        return Some((column, v));
    };
    let v = match (suffix, &v) {
        ("d", Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                Value::from(f as i64)
            }
            _ => v,
        },
        _ => v,
    };
    Some((name, v))
}

impl Mapping {
    /// Writes a row of a classic table (column → value, as the query API answers it) as the table's event.
    pub fn write_classic_row(
        &self,
        row: Map<String, Value>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let mut r = Row::default();
        for (k, v) in row {
            if let Some((name, v)) = classic_field(&k, v) {
                r.put(name, v);
            }
        }
        r.write(self, out)
    }
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

/// One event on its way to the table.
#[derive(Default)]
struct Row {
    audit_event: Option<String>,
    remote_address: Option<String>,
    client_version: Option<String>,
    username: Option<String>,
    category: Option<String>,
    enterprise_id: Option<i64>,
    time: Option<String>,
    /// The first time value that could not be read, for the error.
    bad_time: Option<String>,
    data: Map<String, Value>,
}

/// A column's text: strings as they are, numbers written out; nothing for null or "".
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An event time as RFC 3339 UTC: epoch seconds (Commander's `created`), or a date-time string with any offset.
fn event_time(v: &Value) -> Option<String> {
    let t = match v {
        Value::Number(n) => {
            // Commander reads `created` as seconds (`datetime.fromtimestamp(event['created'])`); a whole number
            // past the year 5000 in seconds is taken for milliseconds rather than refused.
            let nanos: i128 = match n.as_i64() {
                Some(i) if i.abs() > 100_000_000_000 => i as i128 * 1_000_000,
                Some(i) => i as i128 * 1_000_000_000,
                // Fractional seconds, to the microsecond.
                None => (n.as_f64()? * 1e6).round() as i128 * 1_000,
            };
            OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?
        }
        Value::String(s) => OffsetDateTime::parse(s, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
            .ok()?,
        _ => return None,
    };
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()
}

impl Row {
    fn put(&mut self, field: &str, v: Value) {
        if v.is_null() {
            return;
        }
        let slot = match column_of(field) {
            None => {
                self.data.insert(field.to_string(), v);
                return;
            }
            Some(Column::Time) => {
                if self.time.is_none() {
                    match event_time(&v) {
                        Some(t) => self.time = Some(t),
                        None => {
                            self.bad_time.get_or_insert_with(|| v.to_string());
                        }
                    }
                }
                return;
            }
            Some(Column::EnterpriseId) => {
                self.enterprise_id = self.enterprise_id.or(v.as_i64());
                return;
            }
            Some(Column::AuditEvent) => &mut self.audit_event,
            Some(Column::RemoteAddress) => &mut self.remote_address,
            Some(Column::ClientVersion) => &mut self.client_version,
            Some(Column::Username) => &mut self.username,
            Some(Column::Category) => &mut self.category,
        };
        if slot.is_none() {
            *slot = text(&v);
        }
    }

    /// Writes the row as the table's JSON object.
    fn write(self, mapping: &Mapping, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(audit_event) = self.audit_event else {
            return Err("not a Commander event: no audit_event_type".into());
        };
        let Some(time) = self.time else {
            return Err(match self.bad_time {
                Some(v) => format!("event time {v} is neither epoch seconds nor an RFC 3339 date"),
                None => "no event time (created or timestamp)".into(),
            });
        };
        let category = self
            .category
            .or_else(|| mapping.category(&audit_event).map(str::to_string));
        let mut o = Map::new();
        o.insert("TimeGenerated".into(), Value::String(time.clone()));
        o.insert("audit_event".into(), Value::String(audit_event));
        let strings = [
            ("remote_address", self.remote_address),
            ("category", category),
            ("client_version", self.client_version),
            ("username", self.username),
        ];
        for (k, v) in strings {
            if let Some(v) = v {
                o.insert(k.into(), Value::String(v));
            }
        }
        if let Some(id) = mapping.enterprise_id.or(self.enterprise_id) {
            o.insert("enterprise_id".into(), Value::from(id));
        }
        o.insert("timestamp".into(), Value::String(time));
        o.insert("data".into(), Value::Object(self.data));
        serde_json::to_writer(&mut *out, &o).map_err(|e| format!("cannot write the event: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(m: &Mapping, text: &str) -> Result<Value, String> {
        let mut out = b"[".to_vec();
        out.extend_from_slice(text.as_bytes());
        m.finish_event(&mut out, 1)?;
        Ok(serde_json::from_slice(&out[1..]).expect("what is written is JSON"))
    }

    /// Each fixture's events, as the tests/fixtures/commander/*.json files hold them.
    fn fixture(name: &str) -> Vec<Value> {
        let path = format!(
            "{}/tests/fixtures/commander/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    #[test]
    fn audit_log_json_fills_every_column_and_keeps_the_rest_in_data() {
        let m = Mapping::new(Some(1234));
        let events = fixture("audit-log.json");
        let row = map(&m, &events[0].to_string()).expect("mapped");
        assert_eq!(row["TimeGenerated"], "2025-01-23T01:31:11Z");
        assert_eq!(row["timestamp"], "2025-01-23T01:31:11Z");
        assert_eq!(row["audit_event"], "change_master_password");
        assert_eq!(row["remote_address"], "203.0.113.7");
        assert_eq!(row["client_version"], "Web Vault 17.2.1");
        assert_eq!(row["username"], "alice@example.com");
        assert_eq!(row["enterprise_id"], 1234);
        assert_eq!(
            row["category"], "account",
            "from Keeper's published categories"
        );
        assert_eq!(row["data"]["geo_location"], "Dublin, Leinster, IE");
        assert!(
            row["data"].get("timestamp").is_none(),
            "the time is a column, not data"
        );
        let share = map(&m, &events[2].to_string()).expect("mapped");
        for f in ["to_username", "record_uid", "shared_folder_uid", "node"] {
            assert!(share["data"].get(f).is_some(), "{f} kept in data: {share}");
        }
        assert_eq!(
            share["category"],
            Value::Null,
            "no published category for `folder_add_user`: left empty"
        );
    }

    #[test]
    fn audit_report_json_has_created_with_an_offset_and_titles() {
        let m = Mapping::new(Some(1234));
        let events = fixture("audit-report.json");
        let row = map(&m, &events[0].to_string()).expect("mapped");
        assert_eq!(
            row["TimeGenerated"], "2025-01-23T01:33:10Z",
            "+00:00 written as Z"
        );
        assert_eq!(row["audit_event"], "login_failure");
        assert_eq!(row["data"]["channel"], "Web Vault");
        assert_eq!(row["data"]["status"], "auth_failed");
        let rec = map(&m, &events[1].to_string()).expect("mapped");
        assert_eq!(rec["data"]["record_title"], "Payroll DB");
        assert_eq!(rec["data"]["node_title"], "Finance");
    }

    #[test]
    fn raw_api_rows_carry_epoch_seconds_and_an_id() {
        let m = Mapping::new(None);
        let row = map(
            &m,
            r#"{"id": "7f3a", "created": 1737595871, "audit_event_type": "login", "username": "bob@example.com", "keeper_version": 1042}"#,
        )
        .expect("mapped");
        assert_eq!(row["TimeGenerated"], "2025-01-23T01:31:11Z");
        assert_eq!(
            row["client_version"], "1042",
            "a numeric version is written out"
        );
        assert_eq!(row["data"]["id"], "7f3a", "the event id is kept");
        assert!(
            row.get("enterprise_id").is_none(),
            "no --enterprise-id: left out"
        );
        let ms = map(
            &m,
            r#"{"created": 1737595871123, "audit_event_type": "login"}"#,
        )
        .expect("mapped");
        assert_eq!(ms["TimeGenerated"], "2025-01-23T01:31:11.123Z");
    }

    #[test]
    fn the_events_own_category_and_a_commander_event_type_list_win() {
        let m = Mapping::new(Some(1))
            .with_event_types(br#"[{"id": 1, "name": "login", "category": "security", "syslog": "User ${username} logged in"}, {"id": 2, "name": "account_recovery", "category": "policy"}]"#)
            .expect("list");
        let row = map(
            &m,
            r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "login"}"#,
        )
        .expect("mapped");
        assert_eq!(row["category"], "security");
        let over = map(
            &m,
            r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "account_recovery"}"#,
        )
        .expect("mapped");
        assert_eq!(
            over["category"], "policy",
            "the list is over the built-in one"
        );
        let own = map(&m, r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "login", "category": "mine"}"#)
            .expect("mapped");
        assert_eq!(own["category"], "mine");
        assert!(Mapping::new(None)
            .with_event_types(b"[{\"id\": 1}]")
            .is_err());
        assert!(Mapping::new(None).with_event_types(b"{").is_err());
    }

    #[test]
    fn what_is_not_a_commander_event_is_refused_and_removed() {
        let m = Mapping::new(None);
        let mut out = b"[{\"a\":1}".to_vec();
        let start = out.len();
        out.extend_from_slice(br#"{"audit_event_type": "login"}"#);
        let why = m.finish_event(&mut out, start).expect_err("no time");
        assert!(why.contains("no event time"), "{why}");
        assert_eq!(out, b"[{\"a\":1}", "the bad event is gone from the buffer");
        assert!(
            map(&m, r#"{"timestamp": "yesterday", "audit_event_type": "x"}"#)
                .expect_err("bad time")
                .contains("yesterday")
        );
        assert!(map(&m, r#"{"timestamp": "2025-01-23T01:31:11Z"}"#).is_err());
        assert!(map(&m, "[1]").is_err());
        assert!(map(&m, "{oops").is_err());
    }

    #[test]
    fn a_classic_row_maps_like_the_event_commander_posted() {
        let m = Mapping::new(Some(1234));
        let row = json!({
            "TenantId": "6b3c…", "SourceSystem": "RestAPI", "TimeGenerated": "2026-03-01T10:00:00Z", "Type": "Keeper_CL",
            "audit_event_type_s": "folder_add_user", "username_s": "alice@example.com", "ip_address_s": "203.0.113.7",
            "keeper_version_s": "Commander 17.0.4", "geo_location_s": "Dublin, Leinster, IE",
            "to_username_s": "carol@example.com", "node_d": 5299989643266.0, "timestamp_t": "2025-01-23T01:35:05Z",
            "odd_d": 0.5, "flag_b": true, "plain": "kept"
        });
        let Value::Object(row) = row else {
            unreachable!()
        };
        let mut out = Vec::new();
        m.write_classic_row(row, &mut out).expect("mapped");
        let v: Value = serde_json::from_slice(&out).expect("json");
        let from_export = map(&m, &fixture("audit-log.json")[2].to_string()).expect("mapped");
        for col in [
            "TimeGenerated",
            "audit_event",
            "remote_address",
            "client_version",
            "username",
            "enterprise_id",
            "timestamp",
        ] {
            assert_eq!(
                v[col], from_export[col],
                "{col}: the classic row lands as the export does"
            );
        }
        assert_eq!(
            v["TimeGenerated"], "2025-01-23T01:35:05Z",
            "the event's time, not the ingestion's"
        );
        assert_eq!(
            v["data"]["node"], 5299989643266u64,
            "a whole double is an id again"
        );
        assert_eq!(v["data"]["to_username"], "carol@example.com");
        assert_eq!(v["data"]["odd"], 0.5);
        assert_eq!(v["data"]["flag"], true);
        assert_eq!(v["data"]["plain"], "kept");
        assert!(v["data"].get("TenantId").is_none() && v["data"].get("Type").is_none());
    }

    #[test]
    fn commander_events_are_told_from_the_guides_shape() {
        assert_eq!(
            looks_like_commander(br#"{"audit_event_type": "login"}"#),
            Some(true)
        );
        assert_eq!(
            looks_like_commander(br#"{"audit_event": "login", "audit_event_type": "x"}"#),
            Some(false)
        );
        assert_eq!(
            looks_like_commander(br#"{"data": {"audit_event_type": "login"}}"#),
            Some(false),
            "only top-level keys count"
        );
        assert_eq!(looks_like_commander(b"{oops"), None);
    }

    #[test]
    fn every_built_in_category_names_distinct_event_types() {
        let v: Value =
            serde_json::from_str(include_str!("../templates/keeper-event-categories.json"))
                .expect("template is JSON");
        let listed: usize = v["categories"]
            .as_object()
            .expect("categories")
            .values()
            .map(|e| e.as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(listed, built_in_categories().len(), "no event type twice");
        assert!(listed > 0);
    }
}
