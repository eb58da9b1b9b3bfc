//! The Logs Ingestion API: a DCR's stream, checked against its declaration, lands in the tables its data flows name.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::rbac::MONITORING_METRICS_PUBLISHER;
use super::{lc, Aud, Req, World};
use crate::reply::{arm_err, now_iso, Reply};

impl World {
    /// Logs Ingestion. `parsed` is the body already parsed as JSON (outside the world's lock), if it parses.
    pub fn ingest(
        &mut self,
        req: &Req,
        immutable: &str,
        stream: &str,
        parsed: Option<Value>,
    ) -> Reply {
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
        if !self.has_role(
            &principal,
            &dcr_id,
            &[MONITORING_METRICS_PUBLISHER],
            self.cfg.role_propagation_delay,
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
        let events: Vec<Value> = match parsed {
            Some(Value::Array(a)) => a,
            _ => {
                return arm_err(
                    400,
                    "InvalidPayload",
                    "The request body must be a JSON array of objects.",
                )
            }
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
        let mut rows = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let Some(o) = e.as_object() else {
                return arm_err(
                    400,
                    "InvalidPayload",
                    format!("Item {i} is not a JSON object."),
                );
            };
            let mut row = Map::new();
            for (k, v) in o {
                let Some(t) = cols.get(k) else { continue };
                let ok = match t.as_str() {
                    "string" => v.is_string(),
                    "int" | "long" => v.is_i64() || v.is_u64(),
                    "real" => v.is_number(),
                    "boolean" => v.is_boolean(),
                    "datetime" => v.as_str().is_some_and(|s| {
                        time::OffsetDateTime::parse(
                            s,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .is_ok()
                    }),
                    _ => true,
                };
                if !ok && !v.is_null() {
                    return arm_err(
                        400,
                        "InvalidPayload",
                        format!("Item {i}: field '{k}' is not of type {t}."),
                    );
                }
                row.insert(k.clone(), v.clone());
            }
            row.entry("TimeGenerated")
                .or_insert_with(|| json!(now_iso()));
            rows.push(Value::Object(row));
        }
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
                    self.ingested += rows.len() as u64;
                    if self.cfg.store_rows {
                        self.rows
                            .entry(key)
                            .or_default()
                            .extend(rows.iter().cloned());
                    }
                }
            }
        }
        Reply::empty(204)
    }
}
