//! KQL's scalar functions and arithmetic over values, as the tool's queries, rules, workbook, ASIM parsers and
//! hunting queries call them (learn.microsoft.com/kusto/query/scalar-functions).

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::expr::{as_f64, datetime, empty, fmt_datetime, num, text, truthy};

/// Kusto's `tobool`: a bool, `"true"`/`"false"` in any case, a number (non-zero is true); else null
/// (learn.microsoft.com/kusto/query/tobool-function).
fn to_bool(v: &Value) -> Value {
    match v {
        Value::Bool(b) => json!(b),
        Value::Number(n) => json!(n.as_f64().is_some_and(|x| x != 0.0)),
        Value::String(s) if s.eq_ignore_ascii_case("true") => json!(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => json!(false),
        _ => Value::Null,
    }
}

/// Whether `ip` starts with `prefix`, a prefix being a whole address or ending on an octet boundary:
/// `10.1.` and `10.1` match 10.1.2.3 but `10.1` does not match 10.10.2.3 ("has_any_ipv4_prefix()",
/// learn.microsoft.com/kusto/query/has-any-ipv4-prefix-function: a prefix is a complete address or ends with
/// a dot).
fn has_ipv4_prefix(ip: &str, prefix: &str) -> bool {
    let (ip, prefix) = (ip.trim(), prefix.trim());
    if prefix.is_empty() || !ip.starts_with(prefix) {
        return false;
    }
    prefix.ends_with('.') || matches!(ip[prefix.len()..].chars().next(), None | Some('.'))
}

pub(super) fn arith(op: &str, a: &Value, b: &Value) -> Value {
    // datetime - timespan (seconds), as `ago()` and bins need.
    if let (Some(t), Some(s)) = (datetime(a), as_f64(b)) {
        let d = time::Duration::seconds_f64(s);
        return match op {
            "-" => fmt_datetime(t - d),
            "+" => fmt_datetime(t + d),
            _ => Value::Null,
        };
    }
    match (as_f64(a), as_f64(b)) {
        (Some(x), Some(y)) => match op {
            "+" => num(x + y),
            "-" => num(x - y),
            "*" => num(x * y),
            "/" if y != 0.0 => json!(x / y),
            "%" if y != 0.0 => num(x % y),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The scalar functions the tool's queries call.
pub(super) fn call(f: &str, a: &[Value], now: OffsetDateTime) -> Result<Value, String> {
    let arg = |i: usize| a.get(i).cloned().unwrap_or(Value::Null);
    Ok(match f {
        // The first value that is not null, nor an empty string
        // (learn.microsoft.com/kusto/query/coalesce-function).
        "coalesce" => a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Null),
        // Null for what is not an array (learn.microsoft.com/kusto/query/array-length-function).
        "array_length" => match arg(0) {
            Value::Array(x) => json!(x.len()),
            _ => Value::Null,
        },
        "strlen" => json!(text(&arg(0)).chars().count()),
        // A string holding JSON gives its value; a value that is not a string passes through; text that is not
        // JSON stays the string it was (learn.microsoft.com/kusto/query/parse-json-function).
        "todynamic" | "parse_json" => match arg(0) {
            Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            v => v,
        },
        "bag_has_key" => json!(arg(0)
            .as_object()
            .is_some_and(|o| o.contains_key(&text(&arg(1))))),
        "tobool" | "toboolean" | "bool" => to_bool(&arg(0)),
        "int" | "long" => as_f64(&arg(0))
            .map(|n| json!(n.trunc() as i64))
            .unwrap_or(Value::Null),
        "real" | "double" => as_f64(&arg(0)).map(|n| json!(n)).unwrap_or(Value::Null),
        "has_any_ipv4_prefix" => {
            let ip = text(&arg(0));
            let prefixes: Vec<Value> = a
                .iter()
                .skip(1)
                .flat_map(|v| match v {
                    Value::Array(x) => x.clone(),
                    v => vec![v.clone()],
                })
                .collect();
            json!(prefixes.iter().any(|p| has_ipv4_prefix(&ip, &text(p))))
        }
        "isnotempty" => json!(!empty(&arg(0))),
        "isempty" => json!(empty(&arg(0))),
        "isnotnull" => json!(!arg(0).is_null()),
        "isnull" => json!(arg(0).is_null()),
        "not" => json!(!truthy(&arg(0))),
        "tostring" => json!(text(&arg(0))),
        "toreal" | "todouble" => as_f64(&arg(0)).map(|n| json!(n)).unwrap_or(Value::Null),
        "toint" | "tolong" => as_f64(&arg(0))
            .map(|n| json!(n.trunc() as i64))
            .unwrap_or(Value::Null),
        "tolower" => json!(text(&arg(0)).to_lowercase()),
        "toupper" => json!(text(&arg(0)).to_uppercase()),
        "strcat" => json!(a.iter().map(text).collect::<String>()),
        "now" => fmt_datetime(now),
        "ago" => fmt_datetime(now - time::Duration::seconds_f64(as_f64(&arg(0)).unwrap_or(0.0))),
        "bin" | "floor" => {
            let size = as_f64(&arg(1))
                .filter(|s| *s > 0.0)
                .ok_or("bin() needs a positive size")?;
            match datetime(&arg(0)) {
                Some(t) => {
                    let secs = t.unix_timestamp() as f64;
                    let floored = (secs / size).floor() * size;
                    OffsetDateTime::from_unix_timestamp(floored as i64)
                        .map(fmt_datetime)
                        .unwrap_or(Value::Null)
                }
                None => as_f64(&arg(0))
                    .map(|x| num((x / size).floor() * size))
                    .unwrap_or(Value::Null),
            }
        }
        "datetime_part" => match datetime(&arg(1)) {
            Some(t) => json!(match text(&arg(0)).to_lowercase().as_str() {
                "year" => i64::from(t.year()),
                "month" => i64::from(u8::from(t.month())),
                "day" => i64::from(t.day()),
                "hour" => i64::from(t.hour()),
                "minute" => i64::from(t.minute()),
                "second" => i64::from(t.second()),
                p => return Err(format!("datetime_part: unsupported part '{p}'")),
            }),
            None => Value::Null,
        },
        // The simulator has no geolocation database: every address is unknown (an empty bag, as Kusto answers for
        // an address it cannot place; learn.microsoft.com/kusto/query/geo-info-from-ip-address-function).
        "geo_info_from_ip_address" => json!({}),
        other => return Err(format!("unknown function '{other}'")),
    })
}
