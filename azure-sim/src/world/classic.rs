//! Classic custom tables, as the retired HTTP Data Collector API filled them (Keeper Commander's `audit-log --target azure-la` wrote `Keeper_CL` so).

use serde_json::{json, Map, Value};

use super::{lc, Res, World};
use crate::reply::now_iso;

/// The column a Data Collector record's property becomes, with its type.
///
/// "Send log data to Azure Monitor by using the HTTP Data Collector API", section "Record type and properties"
/// (https://learn.microsoft.com/previous-versions/azure/azure-monitor/logs/data-collector-api#record-type-and-properties):
/// the property name gets a suffix by its JSON type: string `_s`, boolean `_b`, number (double) `_d`,
/// an ISO 8601 date/time string `_t`, a string that looks like a GUID `_g`. Nested objects are not expanded
/// here: Commander's events are flat.
fn data_collector_column(name: &str, v: &Value) -> Option<(String, &'static str)> {
    let (suffix, ty) = match v {
        Value::Bool(_) => ("_b", "boolean"),
        Value::Number(_) => ("_d", "real"),
        Value::String(s) if is_datetime(s) => ("_t", "datetime"),
        Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => ("_g", "guid"),
        Value::String(_) => ("_s", "string"),
        _ => return None,
    };
    Some((format!("{name}{suffix}"), ty))
}

fn is_datetime(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

impl World {
    /// Posts `records` as the Data Collector API did with `Log-Type: log_type`: into the classic table
    /// `<log_type>_CL` of the workspace (made on first use), each property under its suffixed column, with
    /// `TimeGenerated` the time of ingestion (no `time-generated-field` header: Commander sent none) and the
    /// standard columns `TenantId`, `SourceSystem` (`RestAPI`) and `Type`. Returns the table's name.
    pub fn post_data_collector(
        &mut self,
        workspace_id: &str,
        log_type: &str,
        records: &[Value],
    ) -> String {
        let table = format!("{log_type}_CL");
        let id = format!("{workspace_id}/tables/{table}");
        let key = lc(&id);
        let now = self.now();
        let res = self.resources.entry(key.clone()).or_insert_with(|| Res {
            body: json!({
                "id": id, "name": table, "type": "Microsoft.OperationalInsights/workspaces/tables",
                "properties": {
                    "retentionInDays": 30, "provisioningState": "Succeeded",
                    "schema": { "name": table, "tableType": "CustomLog", "tableSubType": "Classic", "columns": [] },
                    // Azure lists its own columns apart from the table's (`standardColumns`).
                    "standardColumns": [
                        { "name": "TenantId", "type": "guid" }, { "name": "SourceSystem", "type": "string" },
                        { "name": "TimeGenerated", "type": "datetime" }, { "name": "Type", "type": "string" },
                    ],
                },
            }),
            ready_at: now,
            fail: false,
        });
        let mut columns: Vec<Value> = res
            .body
            .pointer("/properties/schema/columns")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ingested = now_iso();
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            let mut row = Map::new();
            for (k, v) in r.as_object().into_iter().flatten() {
                let Some((col, ty)) = data_collector_column(k, v) else {
                    continue;
                };
                if !columns.iter().any(|c| c["name"] == col.as_str()) {
                    columns.push(json!({ "name": col, "type": ty }));
                }
                row.insert(col, v.clone());
            }
            row.insert("TimeGenerated".into(), json!(ingested));
            row.insert("TenantId".into(), json!(self.tenant));
            row.insert("SourceSystem".into(), json!("RestAPI"));
            row.insert("Type".into(), json!(table));
            rows.push(Value::Object(row));
        }
        res.body["properties"]["schema"]["columns"] = Value::Array(columns);
        if !rows.is_empty() {
            if let Some((ws, _)) = key.split_once("/tables/") {
                self.workspaces.mark_had_data(ws.to_string());
            }
        }
        self.workspaces.append_rows(key, rows);
        table
    }
}
