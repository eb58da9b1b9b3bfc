//! A small subset of KQL for the Log Analytics query API: `Table | where … | order by c asc | project a, b |
//! take N | count | summarize min(c)`, where a condition is `c == "v"`, `c contains "v"`, `c has "v"`, or
//! `c >= datetime(…)` (`>`, `<`, `<=`), joined by `and`.

use std::cmp::Ordering;

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::reply::Reply;

fn bad(message: String) -> Reply {
    Reply::json(
        400,
        json!({ "error": { "code": "BadArgumentError", "message": "The request had some invalid properties", "innererror": { "code": "SemanticError", "message": message } } }),
    )
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(s)
        .to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).ok()
}

/// Orders two cell values: as date-times when both are, numbers when both are, else as text; null first.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        _ => match (datetime(&text(a)), datetime(&text(b))) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => text(a).cmp(&text(b)),
        },
    }
}

/// One condition of a `where`.
enum Cond {
    Eq(String, String),
    Contains(String, String),
    /// Column, ordering wanted (`Less`/`Greater`), whether equal passes too, and the date-time.
    Time(String, Ordering, bool, OffsetDateTime),
}

fn parse_cond(c: &str) -> Result<Cond, String> {
    if let Some((col, v)) = c.split_once("==") {
        return Ok(Cond::Eq(col.trim().into(), unquote(v)));
    }
    if let Some((col, v)) = c.split_once(" contains ").or_else(|| c.split_once(" has ")) {
        return Ok(Cond::Contains(col.trim().into(), unquote(v)));
    }
    for (op, ord, eq) in [
        (">=", Ordering::Greater, true),
        ("<=", Ordering::Less, true),
        (">", Ordering::Greater, false),
        ("<", Ordering::Less, false),
    ] {
        if let Some((col, v)) = c.split_once(op) {
            let v = v.trim();
            let inner = v
                .strip_prefix("datetime(")
                .and_then(|x| x.strip_suffix(')'))
                .ok_or_else(|| format!("only datetime(...) is compared with {op}: {v}"))?;
            let t = datetime(&unquote(inner)).ok_or_else(|| format!("not a datetime: {inner}"))?;
            return Ok(Cond::Time(col.trim().into(), ord, eq, t));
        }
    }
    Err(format!("unsupported where clause: {c}"))
}

fn holds(cond: &Cond, row: &Value) -> bool {
    let cell = |c: &str| row.get(c).cloned().unwrap_or(Value::Null);
    match cond {
        Cond::Eq(c, want) => row.get(c).map(text).unwrap_or_default() == *want,
        Cond::Contains(c, want) => text(&cell(c)).to_lowercase().contains(&want.to_lowercase()),
        Cond::Time(c, ord, eq, t) => match datetime(&text(&cell(c))) {
            Some(v) => v.cmp(t) == *ord || (*eq && v == *t),
            None => false,
        },
    }
}

/// Runs `query`; `table` gives a table's resource body and rows, or `None` when it does not exist. An answer
/// of more than `row_limit` rows is cut there and carries a partial error, as the query API does.
pub fn run(
    query: &str,
    row_limit: usize,
    table: impl Fn(&str) -> Option<(Value, Vec<Value>)>,
) -> Reply {
    let mut parts = query.split('|').map(str::trim);
    let name = parts.next().unwrap_or_default();
    let Some((body, mut rows)) = table(name) else {
        return bad(format!(
            "'{name}' could not be resolved to a table, function or expression"
        ));
    };
    // The table's own columns, then Azure's standard ones (TimeGenerated, TenantId, ... of a classic table).
    let mut columns: Vec<(String, String)> =
        ["/properties/schema/columns", "/properties/standardColumns"]
            .iter()
            .filter_map(|p| body.pointer(p).and_then(Value::as_array))
            .flatten()
            .filter_map(|c| {
                Some((
                    c["name"].as_str()?.to_string(),
                    c["type"].as_str()?.to_ascii_lowercase(),
                ))
            })
            .collect();
    columns.dedup_by(|a, b| a.0 == b.0);
    for op in parts {
        if let Some(cond) = op.strip_prefix("where ") {
            let conds: Result<Vec<Cond>, String> = cond.split(" and ").map(parse_cond).collect();
            let conds = match conds {
                Ok(c) => c,
                Err(e) => return bad(e),
            };
            rows.retain(|r| conds.iter().all(|c| holds(c, r)));
        } else if op == "count" {
            return Reply::json(
                200,
                json!({ "tables": [ { "name": "PrimaryResult", "columns": [ { "name": "Count", "type": "long" } ], "rows": [ [ rows.len() ] ] } ] }),
            );
        } else if let Some(agg) = op.strip_prefix("summarize ") {
            let agg = agg.trim();
            let (f, col) = match agg.split_once('(') {
                Some((f, rest)) => (f.trim(), rest.trim_end_matches(')').trim()),
                None => return bad(format!("unsupported summarize: {agg}")),
            };
            let ty = columns
                .iter()
                .find(|(c, _)| c == col)
                .map(|(_, t)| t.clone());
            let (value, ty) = match (f, ty) {
                ("count", _) if col.is_empty() => (json!(rows.len()), "long".to_string()),
                ("min" | "max", Some(ty)) => {
                    let cells = rows
                        .iter()
                        .filter_map(|r| r.get(col))
                        .filter(|v| !v.is_null());
                    let v = if f == "min" {
                        cells.min_by(|a, b| compare(a, b))
                    } else {
                        cells.max_by(|a, b| compare(a, b))
                    };
                    (v.cloned().unwrap_or(Value::Null), ty)
                }
                _ => return bad(format!("unsupported summarize: {agg}")),
            };
            let name = if f == "count" {
                "count_".to_string()
            } else {
                format!("{f}_{col}")
            };
            return Reply::json(
                200,
                json!({ "tables": [ { "name": "PrimaryResult", "columns": [ { "name": name, "type": ty } ], "rows": [ [ value ] ] } ] }),
            );
        } else if let Some(spec) = op
            .strip_prefix("order by ")
            .or_else(|| op.strip_prefix("sort by "))
        {
            let mut words = spec.split_whitespace();
            let col = words.next().unwrap_or_default().to_string();
            let desc = words.next() != Some("asc");
            rows.sort_by(|a, b| {
                let o = compare(
                    a.get(&col).unwrap_or(&Value::Null),
                    b.get(&col).unwrap_or(&Value::Null),
                );
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
        } else if let Some(n) = op
            .strip_prefix("take ")
            .or_else(|| op.strip_prefix("limit "))
        {
            rows.truncate(n.trim().parse().unwrap_or(0));
        } else if let Some(list) = op.strip_prefix("project ") {
            let want: Vec<String> = list.split(',').map(|c| c.trim().to_string()).collect();
            columns.retain(|(c, _)| want.contains(c));
            columns.sort_by_key(|(c, _)| want.iter().position(|w| w == c));
        } else {
            return bad(format!("unsupported operator: {op}"));
        }
    }
    // "Maximum number of records returned by a single query: 500,000" (Azure Monitor service limits, Log
    // Analytics workspaces, query API: https://learn.microsoft.com/azure/azure-monitor/service-limits); past it
    // the API answers what fits with a partial error rather than failing.
    let cut = rows.len() > row_limit;
    rows.truncate(row_limit);
    let out_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Array(
                columns
                    .iter()
                    .map(|(c, _)| r.get(c).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    let out_cols: Vec<Value> = columns
        .iter()
        .map(|(c, t)| json!({ "name": c, "type": t }))
        .collect();
    let mut answer =
        json!({ "tables": [ { "name": "PrimaryResult", "columns": out_cols, "rows": out_rows } ] });
    if cut {
        answer["error"] = json!({
            "code": "PartialError", "message": "There were some errors when processing your query.",
            "details": [ { "code": "EngineError", "message": format!("Query result set has exceeded the internal record count limit {row_limit} (E_QUERY_RESULT_SET_TOO_LARGE; see the Log Analytics query API's limits)."), "innererror": { "code": "-2133196797", "message": "E_QUERY_RESULT_SET_TOO_LARGE" } } ],
        });
    }
    Reply::json(200, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> (Value, Vec<Value>) {
        (
            json!({ "properties": { "schema": { "columns": [ { "name": "t_t", "type": "datetime" }, { "name": "e_s", "type": "string" } ] }, "standardColumns": [ { "name": "TimeGenerated", "type": "datetime" } ] } }),
            (0..10)
                .map(|i| json!({ "t_t": format!("2025-01-0{}T00:00:00Z", i % 9 + 1), "e_s": format!("e{i}"), "TimeGenerated": "2026-01-01T00:00:00Z" }))
                .collect(),
        )
    }

    fn answer(q: &str, limit: usize) -> Value {
        run(q, limit, |_| Some(rows())).body.expect("json")
    }

    #[test]
    fn time_ranges_order_and_min_are_answered() {
        let a = answer("T | where t_t >= datetime(2025-01-02T00:00:00Z) and t_t < datetime(2025-01-04T00:00:00Z) | order by t_t asc | project e_s", 100);
        let got: Vec<&str> = a["tables"][0]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r[0].as_str())
            .collect();
        assert_eq!(got, ["e1", "e2"]);
        let a = answer("T | summarize min(t_t)", 100);
        assert_eq!(a["tables"][0]["columns"][0]["name"], "min_t_t");
        assert_eq!(a["tables"][0]["rows"][0][0], "2025-01-01T00:00:00Z");
        let a = answer(
            "T | where TimeGenerated > datetime(2025-12-31T00:00:00Z) | count",
            100,
        );
        assert_eq!(
            a["tables"][0]["rows"][0][0], 10,
            "standard columns are queryable"
        );
    }

    #[test]
    fn an_answer_over_the_row_limit_is_cut_with_a_partial_error() {
        let a = answer("T", 4);
        assert_eq!(a["tables"][0]["rows"].as_array().map(Vec::len), Some(4));
        assert_eq!(a["error"]["code"], "PartialError");
        assert!(answer("T", 10).get("error").is_none());
    }
}
