//! The Logs Ingestion API: a DCR's stream, checked against its declaration, lands in the tables its data flows name.

use std::collections::HashMap;

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::rbac::MONITORING_METRICS_PUBLISHER;
use super::{lc, Aud, Req, World};
use crate::reply::{arm_err, Reply};

/// What the Logs Ingestion API has accepted.
#[derive(Debug, Default)]
pub struct IngestState {
    /// Rows accepted into an existing table, stored or not.
    pub ingested: u64,
}

impl World {
    /// Logs Ingestion: the body (a JSON array of events) checked against the stream's declaration, its rows kept
    /// when the simulator stores rows.
    pub fn ingest(&mut self, req: &Req, immutable: &str, stream: &str) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::Monitor) {
            Ok(p) => p,
            Err(r) => return r,
        };
        if req.query.get("api-version").map(String::as_str) != Some("2023-01-01") {
            return arm_err(
                400,
                "InvalidApiVersion",
                "api-version 2023-01-01 is required.",
            );
        }
        let Some(dcr) = self
            .resources
            .values()
            .find(|r| {
                r.body
                    .pointer("/properties/immutableId")
                    .and_then(Value::as_str)
                    == Some(immutable)
            })
            .map(|r| r.body.clone())
        else {
            return arm_err(
                404,
                "NotFound",
                format!("Data collection rule with immutable Id '{immutable}' not found."),
            );
        };
        let Some(decl) = dcr
            .pointer(&format!("/properties/streamDeclarations/{stream}"))
            .cloned()
        else {
            return arm_err(
                400,
                "InvalidStream",
                format!(
                    "Stream '{stream}' is not declared in the data collection rule '{immutable}'."
                ),
            );
        };
        let dcr_id = dcr["id"].as_str().unwrap_or_default().to_string();
        // "Error code 403 … You might also need to wait up to 30 minutes for permissions to propagate" (Sample code
        // to send data to Azure Monitor using Logs ingestion API, Troubleshooting,
        // learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-code#troubleshooting).
        if !self.has_role(
            &principal,
            &dcr_id,
            &[MONITORING_METRICS_PUBLISHER],
            self.ingestion_role_lag(),
        ) {
            return arm_err(403, "OperationFailed", format!("The authentication token provided does not have access to ingest data for the data collection rule with immutable Id '{immutable}'."));
        }
        if req.body.len() > self.cfg.ingest_limit_bytes {
            return arm_err(
                413,
                "ContentLengthLimitExceeded",
                "Maximum request body size is 1MB.",
            );
        }
        // Azure's own parser is not ours to copy; the text only has to be a JSON array of objects. Each event is
        // read as its top-level fields with their JSON text (borrowed, nothing built), so the simulator's cost per
        // event does not depend on how serde_json builds values (features another crate in the build turns on).
        let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(&req.body) else {
            return arm_err(
                400,
                "InvalidPayload",
                "The request body must be a JSON array of objects.",
            );
        };
        let cols: HashMap<String, String> = decl["columns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_string(),
                    c["type"].as_str()?.to_ascii_lowercase(),
                ))
            })
            .collect();
        let keep = self.cfg.store_rows;
        let received = self.wall_now();
        let ingested_at = received
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let mut rows = Vec::with_capacity(if keep { items.len() } else { 0 });
        for (i, item) in items.iter().enumerate() {
            let Ok(Fields(fields)) = serde_json::from_str::<Fields>(item.get()) else {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Item {i} is not a JSON object."),
                );
            };
            let mut row = Map::new();
            for (k, v) in &fields {
                let Some(t) = cols.get(k.as_ref()) else {
                    continue;
                };
                // A value not of its column's type is accepted and the column left empty; the reason is logged
                // only in the DCR's error log, DCRLogErrors (issue 26 §5, the second fidelity audit; the error
                // log's columns and contents: shared/reference/day-two-facts.md).
                if keep {
                    let value = if of_type(v.get(), t) {
                        serde_json::from_str(v.get()).unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    };
                    row.insert(k.to_string(), value);
                }
            }
            if keep {
                // "The TimeGenerated value cannot be older than 2 days before received time or more than a day in
                // the future. If in some situation, the value is older than 2 days or more than a day in the future,
                // it would be replaced with the actual received time." (Standard columns in Azure Monitor Logs,
                // learn.microsoft.com/azure/azure-monitor/logs/log-standard-columns, TimeGenerated.)
                let generated = row
                    .get("TimeGenerated")
                    .and_then(Value::as_str)
                    .and_then(|t| {
                        time::OffsetDateTime::parse(
                            t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .ok()
                    });
                let in_window = generated.is_some_and(|t| {
                    t >= received - time::Duration::days(2)
                        && t <= received + time::Duration::days(1)
                });
                if !in_window {
                    row.insert("TimeGenerated".into(), json!(ingested_at));
                }
                row.insert(crate::kql::INGESTION_TIME.into(), json!(ingested_at));
                rows.push(Value::Object(row));
            }
        }
        let accepted = items.len() as u64;
        for f in dcr
            .pointer("/properties/dataFlows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !f["streams"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == stream))
            {
                continue;
            }
            let out = f["outputStream"].as_str().unwrap_or(stream);
            let table = out.strip_prefix("Custom-").unwrap_or(out);
            for d in f["destinations"].as_array().into_iter().flatten() {
                let ws = dcr
                    .pointer("/properties/destinations/logAnalytics")
                    .and_then(Value::as_array)
                    .and_then(|l| l.iter().find(|x| x["name"] == *d))
                    .and_then(|x| x["workspaceResourceId"].as_str())
                    .unwrap_or_default();
                let key = lc(&format!("{ws}/tables/{table}"));
                // Like Azure, rows for a table that is gone are accepted and dropped.
                if self.resources.contains_key(&key) {
                    self.ingest.ingested += accepted;
                    if accepted > 0 {
                        self.workspaces.mark_had_data(lc(ws));
                    }
                    if keep {
                        self.workspaces.append_rows(key, rows.iter().cloned());
                    }
                }
            }
        }
        Reply::empty(204)
    }
}

/// Whether a field's JSON text fits the declared column type (`null` fits every type). Integers must fit 64 bits,
/// as `is_i64() || is_u64()` on a parsed value did.
fn of_type(text: &str, ty: &str) -> bool {
    if text == "null" {
        return true;
    }
    let number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    match ty {
        "string" => text.starts_with('"'),
        "int" | "long" => number && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()),
        "real" => number,
        "boolean" => text == "true" || text == "false",
        // ISO 8601 dates and date-times, as Kusto reads them into a datetime column ("The datetime data type",
        // supported formats: learn.microsoft.com/kusto/query/scalar-data-types/datetime); RFC 822 forms are not
        // modelled.
        "datetime" => serde_json::from_str::<Cow<str>>(text).is_ok_and(|s| {
            let b = s.as_bytes();
            let d = |r: std::ops::Range<usize>| {
                b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit))
            };
            d(0..4)
                && b.get(4) == Some(&b'-')
                && d(5..7)
                && b.get(7) == Some(&b'-')
                && d(8..10)
                && (b.len() == 10 || (matches!(b[10], b'T' | b't' | b' ') && d(11..13)))
        }),
        _ => true,
    }
}

/// One event's top-level fields in the order they came, each with its value's JSON text; a non-object fails.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(m.size_hint().unwrap_or(12));
                while let Some(k) = m.next_key::<Cow<'de, str>>()? {
                    fields.push((k, m.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_fits_its_column_type_by_its_json_text() {
        for (text, ty, fits) in [
            ("\"x\"", "string", true),
            ("1", "string", false),
            ("null", "long", true),
            ("-12", "long", true),
            ("18446744073709551615", "long", true),
            ("18446744073709551616", "long", false),
            ("1.5", "int", false),
            ("1e3", "real", true),
            ("\"1\"", "real", false),
            ("true", "boolean", true),
            ("\"true\"", "boolean", false),
            ("\"2025-01-23T01:31:11.123Z\"", "datetime", true),
            // ISO 8601 as Kusto reads it: a date alone, a space for the T; not a word.
            ("\"2025-01-23\"", "datetime", true),
            ("\"2025-01-23 01:31:11\"", "datetime", true),
            ("\"yesterday\"", "datetime", false),
            ("1737595871", "datetime", false),
            ("{\"a\":1}", "dynamic", true),
        ] {
            assert_eq!(of_type(text, ty), fits, "{text} as {ty}");
        }
    }

    #[test]
    fn an_event_is_read_as_its_fields_in_order_and_a_non_object_is_refused() {
        let Fields(f) =
            serde_json::from_str(r#"{"b":1,"a\u0041":{"x":[1,2]},"c":"s"}"#).expect("object");
        let got: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
        assert_eq!(got, [("b", "1"), ("aA", r#"{"x":[1,2]}"#), ("c", "\"s\"")]);
        assert!(serde_json::from_str::<Fields>("[1]").is_err());
        assert!(serde_json::from_str::<Fields>("\"s\"").is_err());
    }
}
