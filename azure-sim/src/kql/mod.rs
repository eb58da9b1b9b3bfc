//! A subset of KQL for the Log Analytics query API and Sentinel's checks: a source (a table, a function — a saved
//! search's alias, with its parameters — or a `union` of them, in [`source`]), then `where`, `project`,
//! `project-rename`, `project-away`, `extend`, `summarize … by`, `distinct`, `order by` / `sort by`, `top N by`,
//! `take` / `limit` and `count`. Scalar expressions are in [`expr`].

mod expr;
mod functions;
mod source;

use std::collections::HashMap;

use serde_json::{json, Value};
use time::OffsetDateTime;

use expr::{compare, eval as eval_expr, text, Expr, Parser, Scope, Tok};
pub use expr::{Row, INGESTION_TIME};
pub use source::Source;

use crate::reply::Reply;

/// A query's input or result: typed columns and rows keyed by column name.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Row>,
}

impl Table {
    /// A stored table: the columns its resource body declares, and its rows.
    pub fn stored(body: &Value, rows: &[Value]) -> Table {
        // The table's own columns, then Azure's standard ones (TimeGenerated, TenantId, ... of a classic table).
        // A built-in table (DCRLogErrors, AADServicePrincipalSignInLogs) lists its columns as the schema's
        // `standardColumns` only, as the Tables API shows Azure's own tables.
        let mut columns: Vec<(String, String)> = [
            "/properties/schema/columns",
            "/properties/standardColumns",
            "/properties/schema/standardColumns",
        ]
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
        let mut seen = std::collections::HashSet::new();
        columns.retain(|(c, _)| seen.insert(c.clone()));
        // A column the row was sent without is there, empty: Kusto reads it as null, never as a name it cannot
        // resolve (a table's columns are its schema's, whatever each row carried).
        let rows = rows
            .iter()
            .filter_map(|r| r.as_object().cloned())
            .map(|mut r| {
                for (c, _) in &columns {
                    if !r.contains_key(c) {
                        r.insert(c.clone(), Value::Null);
                    }
                }
                r
            })
            .collect();
        Table { columns, rows }
    }

    /// The Log Analytics query API's answer for this table. More than `row_limit` rows are cut there, with a
    /// partial error: "Maximum number of records returned by a single query: 500,000" (Azure Monitor service
    /// limits, Log Analytics query API: https://learn.microsoft.com/azure/azure-monitor/service-limits); past it
    /// the API answers what fits with a partial error rather than failing.
    pub fn to_reply(&self, row_limit: usize) -> Reply {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .take(row_limit)
            .map(|r| {
                Value::Array(
                    self.columns
                        .iter()
                        .map(|(c, _)| r.get(c).cloned().unwrap_or(Value::Null))
                        .collect(),
                )
            })
            .collect();
        let cols: Vec<Value> = self
            .columns
            .iter()
            .map(|(c, t)| json!({ "name": c, "type": t }))
            .collect();
        let mut answer =
            json!({ "tables": [ { "name": "PrimaryResult", "columns": cols, "rows": rows } ] });
        if self.rows.len() > row_limit {
            answer["error"] = json!({
                "code": "PartialError", "message": "There were some errors when processing your query.",
                "details": [ { "code": "EngineError", "message": format!("Query result set has exceeded the internal record count limit {row_limit} (E_QUERY_RESULT_SET_TOO_LARGE; see the Log Analytics query API's limits)."), "innererror": { "code": "-2133196797", "message": "E_QUERY_RESULT_SET_TOO_LARGE" } } ],
            });
        }
        Reply::json(200, answer)
    }
}

fn bad(message: String) -> Reply {
    Reply::json(
        400,
        json!({ "error": { "code": "BadArgumentError", "message": "The request had some invalid properties", "innererror": { "code": "SemanticError", "message": message } } }),
    )
}

/// The query API's answer to a query's outcome: the result, or 400 `BadArgumentError` with the reason.
pub fn answer(outcome: Result<Table, String>, row_limit: usize) -> Reply {
    match outcome {
        Ok(t) => t.to_reply(row_limit),
        Err(e) => bad(e),
    }
}

/// Evaluates a query; `resolve` gives a table, or a function's body and parameters, by name.
pub fn eval(
    query: &str,
    resolve: &dyn Fn(&str) -> Option<Source>,
    now: OffsetDateTime,
) -> Result<Table, String> {
    source::run(query, resolve, now)
}

/// Applies the operators after the source, one pipe segment each.
fn pipeline(mut t: Table, segments: &[String], sc: &Scope) -> Result<Table, String> {
    for seg in segments {
        let seg = seg.trim();
        let op: String = seg
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
            .collect();
        let rest = &seg[op.len()..];
        t = apply(&op, rest, t, sc).map_err(|e| format!("'{op}' operator: {e}"))?;
    }
    Ok(t)
}

/// Parses `[Name =] expr, …` up to the end or the keyword `by`.
fn items(p: &mut Parser) -> Result<Vec<(String, Expr)>, String> {
    let mut out = vec![];
    loop {
        if p.done() || matches!(p.peek(), Some(Tok::Ident(s)) if s == "by") {
            return Ok(out);
        }
        let named = matches!(
            (p.toks.get(p.pos), p.toks.get(p.pos + 1)),
            (Some(Tok::Ident(_)), Some(Tok::Op("=")))
        );
        let name = if named {
            let n = p.ident();
            p.pos += 1;
            n
        } else {
            None
        };
        let e = p.expr()?;
        let name = name.unwrap_or_else(|| default_name(&e, out.len()));
        out.push((name, e));
        if !p.eat(",") {
            return Ok(out);
        }
    }
}

/// The column name KQL gives an unnamed expression.
fn default_name(e: &Expr, i: usize) -> String {
    match e {
        Expr::Col(c) => c.clone(),
        Expr::Call(f, args) if f == "bin" => match args.first() {
            Some(Expr::Col(c)) => c.clone(),
            _ => format!("Column{}", i + 1),
        },
        Expr::Call(f, args) => match args.first() {
            Some(Expr::Col(c)) => format!("{f}_{c}"),
            _ => format!("{f}_"),
        },
        _ => format!("Column{}", i + 1),
    }
}

/// A column's type: the source column's when the expression is one, else inferred from the values.
fn type_of(e: &Expr, before: &[(String, String)], rows: &[Row], name: &str) -> String {
    if let Expr::Col(c) = e {
        if let Some((_, t)) = before.iter().find(|(n, _)| n == c) {
            return t.clone();
        }
    }
    if matches!(e, Expr::Call(f, _) if ["ingestion_time", "now", "ago"].contains(&f.as_str())) {
        return "datetime".into();
    }
    let v = rows
        .iter()
        .map(|r| r.get(name))
        .find(|v| v.is_some_and(|v| !v.is_null()));
    match v.flatten() {
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(n)) if n.is_i64() => "long",
        Some(Value::Number(_)) => "real",
        Some(Value::Array(_) | Value::Object(_)) => "dynamic",
        Some(s) if expr::datetime(s).is_some() => "datetime",
        _ => "string",
    }
    .to_string()
}

/// A count: a number, or an expression of the function's parameters (`take limit`).
fn number(p: &mut Parser, sc: &Scope) -> Result<usize, String> {
    let e = p.expr()?;
    match eval_expr(&e, &Row::new(), sc)?.as_f64() {
        Some(n) if n >= 0.0 => Ok(n as usize),
        other => Err(format!("expected a count, found {other:?}")),
    }
}

/// `expr [asc|desc], …` (descending by default, as in Kusto).
fn sort_keys(p: &mut Parser) -> Result<Vec<(Expr, bool)>, String> {
    let mut keys = vec![];
    loop {
        let e = p.expr()?;
        let asc = p.eat_kw("asc");
        if !asc {
            p.eat_kw("desc");
        }
        keys.push((e, asc));
        if !p.eat(",") {
            return Ok(keys);
        }
    }
}

fn sort(t: &mut Table, keys: &[(Expr, bool)], sc: &Scope) -> Result<(), String> {
    let mut keyed = t
        .rows
        .drain(..)
        .map(|r| {
            let k = keys
                .iter()
                .map(|(e, _)| eval_expr(e, &r, sc))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((k, r))
        })
        .collect::<Result<Vec<_>, String>>()?;
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, (_, asc)) in keys.iter().enumerate() {
            let o = compare(&a[i], &b[i]);
            let o = if *asc { o } else { o.reverse() };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    t.rows = keyed.into_iter().map(|(_, r)| r).collect();
    Ok(())
}

fn apply(op: &str, rest: &str, mut t: Table, sc: &Scope) -> Result<Table, String> {
    let mut p = Parser::new(rest)?;
    let truthy = |v: Value| v.as_bool().unwrap_or(false);
    match op {
        "where" | "filter" => {
            let e = p.expr()?;
            let mut kept = vec![];
            for r in t.rows {
                if truthy(eval_expr(&e, &r, sc)?) {
                    kept.push(r);
                }
            }
            t.rows = kept;
        }
        "project" | "extend" | "project-rename" => {
            let its = items(&mut p)?;
            let mut rows = vec![];
            for r in &t.rows {
                let mut out = if op == "project" {
                    Row::new()
                } else {
                    r.clone()
                };
                for (name, e) in &its {
                    let v = eval_expr(e, r, sc)?;
                    if op == "project-rename" {
                        if let Expr::Col(old) = e {
                            out.remove(old);
                        }
                    }
                    out.insert(name.clone(), v);
                }
                rows.push(out);
            }
            let before = t.columns.clone();
            let mut columns = match op {
                "project" => vec![],
                "project-rename" => before
                    .iter()
                    .filter(|(c, _)| !its.iter().any(|(_, e)| matches!(e, Expr::Col(o) if o == c)))
                    .cloned()
                    .collect(),
                _ => before.clone(),
            };
            for (name, e) in &its {
                let ty = type_of(e, &before, &rows, name);
                match columns.iter_mut().find(|(c, _)| c == name) {
                    Some(col) => col.1 = ty,
                    None => columns.push((name.clone(), ty)),
                }
            }
            t = Table { columns, rows };
        }
        "summarize" => return summarize(&mut p, t, sc),
        // The distinct combinations of the named columns or expressions (`distinct *`: of whole rows)
        // ("distinct operator", learn.microsoft.com/kusto/query/distinct-operator).
        "distinct" => return distinct(&mut p, t, sc),
        // Every column but those named, where a name may end in `*` ("project-away operator",
        // learn.microsoft.com/kusto/query/project-away-operator).
        "project-away" => return Ok(project_away(rest, t)),
        "order" | "sort" => {
            if !p.eat_kw("by") {
                return Err("expected 'by'".into());
            }
            let keys = sort_keys(&mut p)?;
            sort(&mut t, &keys, sc)?;
        }
        "top" => {
            let n = number(&mut p, sc)?;
            if !p.eat_kw("by") {
                return Err("expected 'by'".into());
            }
            let keys = sort_keys(&mut p)?;
            sort(&mut t, &keys, sc)?;
            t.rows.truncate(n);
        }
        "take" | "limit" => {
            let n = number(&mut p, sc)?;
            t.rows.truncate(n);
        }
        "count" => {
            let n = t.rows.len();
            let mut r = Row::new();
            r.insert("Count".into(), json!(n));
            return Ok(Table {
                columns: vec![("Count".into(), "long".into())],
                rows: vec![r],
            });
        }
        other => return Err(format!("unsupported operator '{other}'")),
    }
    if !p.done() {
        return Err(format!("unexpected {:?}", p.peek()));
    }
    Ok(t)
}

/// `distinct col, …` or `distinct *`.
fn distinct(p: &mut Parser, t: Table, sc: &Scope) -> Result<Table, String> {
    let its = if p.eat("*") {
        t.columns
            .iter()
            .map(|(c, _)| (c.clone(), Expr::Col(c.clone())))
            .collect()
    } else {
        items(p)?
    };
    if its.is_empty() || !p.done() {
        return Err(format!("expected columns, found {:?}", p.peek()));
    }
    let mut seen = std::collections::HashSet::new();
    let mut rows = vec![];
    for r in &t.rows {
        let mut out = Row::new();
        for (name, e) in &its {
            out.insert(name.clone(), eval_expr(e, r, sc)?);
        }
        if seen.insert(serde_json::to_string(&out).unwrap_or_default()) {
            rows.push(out);
        }
    }
    let columns = its
        .iter()
        .map(|(name, e)| (name.clone(), type_of(e, &t.columns, &rows, name)))
        .collect();
    Ok(Table { columns, rows })
}

fn project_away(rest: &str, mut t: Table) -> Table {
    let patterns: Vec<&str> = rest
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let gone = |c: &str| {
        patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => c.starts_with(prefix),
            None => c == *p,
        })
    };
    t.columns.retain(|(c, _)| !gone(c));
    for r in &mut t.rows {
        r.retain(|c, _| c == INGESTION_TIME || !gone(c));
    }
    t
}

/// `summarize Name = agg(…), … [by key, Name = expr, …]`.
fn summarize(p: &mut Parser, t: Table, sc: &Scope) -> Result<Table, String> {
    let aggs = items(p)?;
    let keys = if p.eat_kw("by") { items(p)? } else { vec![] };
    if !p.done() {
        return Err(format!("unexpected {:?}", p.peek()));
    }
    let mut groups: Vec<(Vec<Value>, Vec<usize>)> = vec![];
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in t.rows.iter().enumerate() {
        let k = keys
            .iter()
            .map(|(_, e)| eval_expr(e, r, sc))
            .collect::<Result<Vec<_>, _>>()?;
        let id = serde_json::to_string(&k).unwrap_or_default();
        let g = *index.entry(id).or_insert_with(|| {
            groups.push((k, vec![]));
            groups.len() - 1
        });
        groups[g].1.push(i);
    }
    // Without `by`, an empty input still gives one row (count() = 0).
    if keys.is_empty() && groups.is_empty() {
        groups.push((vec![], vec![]));
    }
    let mut rows = vec![];
    for (k, members) in &groups {
        let mut out = Row::new();
        for ((name, _), v) in keys.iter().zip(k) {
            out.insert(name.clone(), v.clone());
        }
        let group: Vec<&Row> = members.iter().map(|i| &t.rows[*i]).collect();
        for (name, e) in &aggs {
            out.insert(name.clone(), aggregate(e, &group, sc)?);
        }
        rows.push(out);
    }
    let mut columns = vec![];
    for (name, e) in keys.iter().chain(aggs.iter()) {
        let ty = type_of(e, &t.columns, &rows, name);
        columns.push((name.clone(), ty));
    }
    Ok(Table { columns, rows })
}

/// One aggregation function over a group's rows.
fn aggregate(e: &Expr, rows: &[&Row], sc: &Scope) -> Result<Value, String> {
    let Expr::Call(f, args) = e else {
        return Err("summarize takes aggregation functions".into());
    };
    let values = |i: usize| -> Result<Vec<Value>, String> {
        let a = args
            .get(i)
            .ok_or_else(|| format!("{f}() needs an argument"))?;
        rows.iter().map(|r| eval_expr(a, r, sc)).collect()
    };
    // The `…if` aggregations: the values of argument 0 in the rows where argument 1 holds
    // (learn.microsoft.com/kusto/query/minif-aggregation-function, maxif-, dcountif-, sumif-,
    // make-set-if-aggregation-function).
    let values_if = || -> Result<Vec<Value>, String> {
        let pred = args
            .get(1)
            .ok_or_else(|| format!("{f}() needs an expression and a predicate"))?;
        let mut out = vec![];
        for (v, r) in values(0)?.into_iter().zip(rows) {
            if eval_expr(pred, r, sc)?.as_bool() == Some(true) {
                out.push(v);
            }
        }
        Ok(out)
    };
    let max_if_arg = || match args.get(2) {
        Some(Expr::Lit(v)) => v.as_u64().map(|n| n as usize).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let pick = |vals: Vec<Value>, min: bool| {
        let vals = vals.into_iter().filter(|v| !v.is_null());
        if min {
            vals.min_by(compare)
        } else {
            vals.max_by(compare)
        }
        .unwrap_or(Value::Null)
    };
    let sum = |vals: Vec<Value>| expr::num(vals.iter().filter_map(Value::as_f64).sum());
    let unique = |vals: Vec<Value>, max: usize| {
        let mut seen = std::collections::HashSet::new();
        vals.into_iter()
            .filter(|v| !v.is_null() && seen.insert(serde_json::to_string(v).unwrap_or_default()))
            .take(max)
            .collect::<Vec<_>>()
    };
    let dcount = |vals: Vec<Value>| {
        json!(unique(
            vals.into_iter().filter(|v| !text(v).is_empty()).collect(),
            usize::MAX
        )
        .len())
    };
    let max_arg = || match args.get(1) {
        Some(Expr::Lit(v)) => v.as_u64().map(|n| n as usize).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    Ok(match f.as_str() {
        "count" => json!(rows.len()),
        "countif" => json!(values(0)?
            .iter()
            .filter(|v| v.as_bool() == Some(true))
            .count()),
        "dcount" => dcount(values(0)?),
        "dcountif" => dcount(values_if()?),
        "minif" => pick(values_if()?, true),
        "maxif" => pick(values_if()?, false),
        "sumif" => sum(values_if()?),
        "make_set_if" => Value::Array(unique(values_if()?, max_if_arg())),
        "make_set" => Value::Array(unique(values(0)?, max_arg())),
        "make_list" => Value::Array(values(0)?.into_iter().take(max_arg()).collect()),
        "min" | "max" => pick(values(0)?, f == "min"),
        "sum" | "avg" => {
            let nums: Vec<f64> = values(0)?.iter().filter_map(|v| v.as_f64()).collect();
            let sum: f64 = nums.iter().sum();
            match (f.as_str(), nums.len()) {
                ("avg", 0) => Value::Null,
                ("avg", n) => json!(sum / n as f64),
                _ => expr::num(sum),
            }
        }
        other => return Err(format!("unknown aggregation '{other}'")),
    })
}

#[cfg(test)]
mod tests;
