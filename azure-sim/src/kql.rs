//! A tiny subset of KQL for the Log Analytics query API: `Table | where c == "v" | where c contains "v" | project a, b | take N | count`.

use serde_json::{json, Value};

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

/// Runs `query`; `table` gives a table's resource body and rows, or `None` when it does not exist.
pub fn run(query: &str, table: impl Fn(&str) -> Option<(Value, Vec<Value>)>) -> Reply {
    let mut parts = query.split('|').map(str::trim);
    let name = parts.next().unwrap_or_default();
    let Some((body, mut rows)) = table(name) else {
        return bad(format!(
            "'{name}' could not be resolved to a table, function or expression"
        ));
    };
    let mut columns: Vec<(String, String)> = body
        .pointer("/properties/schema/columns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["name"].as_str()?.to_string(),
                c["type"].as_str()?.to_ascii_lowercase(),
            ))
        })
        .collect();
    for op in parts {
        if let Some(cond) = op.strip_prefix("where ") {
            let (col, want, contains) = if let Some((c, v)) = cond.split_once("==") {
                (c.trim().to_string(), unquote(v), false)
            } else if let Some((c, v)) = cond
                .split_once(" contains ")
                .or_else(|| cond.split_once(" has "))
            {
                (c.trim().to_string(), unquote(v), true)
            } else {
                return bad(format!("unsupported where clause: {cond}"));
            };
            rows.retain(|r| {
                let v = r.get(&col).map(text).unwrap_or_default();
                if contains {
                    v.to_lowercase().contains(&want.to_lowercase())
                } else {
                    v == want
                }
            });
        } else if op == "count" {
            return Reply::json(
                200,
                json!({ "tables": [ { "name": "PrimaryResult", "columns": [ { "name": "Count", "type": "long" } ], "rows": [ [ rows.len() ] ] } ] }),
            );
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
    Reply::json(
        200,
        json!({ "tables": [ { "name": "PrimaryResult", "columns": out_cols, "rows": out_rows } ] }),
    )
}
