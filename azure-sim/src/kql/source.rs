//! A query's source, its first pipe segment: a table, a function called with or without arguments (a saved
//! search's alias and its `functionParameters`), a parenthesised subquery, or a `union` of these. Functions call
//! functions through the same resolver, to a depth of [`MAX_DEPTH`].

use serde_json::Value;
use time::OffsetDateTime;

use super::expr::{self, eval as eval_expr, Expr, Parser, Row, Scope, Tok};
use super::{pipeline, Table};

/// What a name stands for: a table's rows, or a function's body with its parameter declarations (the text of
/// a saved search's `properties.functionParameters`, e.g. `starttime:datetime=datetime(null), n:int=5`;
/// empty when it has none).
#[derive(Debug, Clone)]
pub enum Source {
    Table(Table),
    Function { query: String, params: String },
}

impl From<Table> for Source {
    fn from(t: Table) -> Source {
        Source::Table(t)
    }
}

/// How deep functions may call functions before the query is refused: Kusto refuses recursion ("User-defined
/// functions", learn.microsoft.com/kusto/query/functions/user-defined-functions: "recursion isn't supported");
/// a bound keeps a function that calls itself from running forever.
const MAX_DEPTH: usize = 16;

/// Why a source failed: a name nothing resolves (which `union isfuzzy=true` may skip), or any other error.
enum Failure {
    Unresolved(String),
    Error(String),
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Error(e)
    }
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Unresolved(name) => {
                format!("'{name}' could not be resolved to a table, function or expression")
            }
            Failure::Error(e) => e,
        }
    }
}

struct Ctx<'a> {
    resolve: &'a dyn Fn(&str) -> Option<Source>,
    depth: usize,
}

/// Runs a whole query at the top level (no parameters).
pub fn run(
    query: &str,
    resolve: &dyn Fn(&str) -> Option<Source>,
    now: OffsetDateTime,
) -> Result<Table, String> {
    query_in(query, &Ctx { resolve, depth: 0 }, &Scope::at(now)).map_err(Failure::message)
}

fn query_in(query: &str, cx: &Ctx, sc: &Scope) -> Result<Table, Failure> {
    let query = strip_comments(query);
    let segments = split_top(&query, '|');
    let t = source(segments[0].trim(), cx, sc)?;
    Ok(pipeline(t, &segments[1..], sc)?)
}

/// `//` to the end of the line, outside quotes, is a comment.
fn strip_comments(q: &str) -> String {
    let (mut out, mut quote, mut chars) = (String::new(), None, q.chars().peekable());
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(_), '\\') => {
                out.push(ch);
                out.extend(chars.next());
                continue;
            }
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '/') if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
                continue;
            }
            _ => {}
        }
        out.push(ch);
    }
    out
}

/// Splits text at each `sep` that is not inside quotes or brackets.
fn split_top(q: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote, mut chars) =
        (vec![], String::new(), 0i32, None, q.chars());
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(_), '\\') => {
                cur.push(ch);
                cur.extend(chars.next());
                continue;
            }
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out
}

/// The text inside `(…)` when the whole of `text` is one parenthesised group.
fn parenthesised(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    // `(a) | (b)` starts and ends with parentheses without being one group.
    let (mut depth, mut quote) = (0i32, None);
    for ch in inner.chars() {
        match (quote, ch) {
            (Some(qc), c) if c == qc => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(inner)
}

fn source(text: &str, cx: &Ctx, sc: &Scope) -> Result<Table, Failure> {
    if let Some(rest) = text.strip_prefix("union") {
        if rest.starts_with(|c: char| c.is_whitespace() || c == '(') {
            return union(rest, cx, sc);
        }
    }
    if let Some(inner) = parenthesised(text) {
        return query_in(inner, cx, sc);
    }
    call(text, cx, sc)
}

/// `union [isfuzzy=true] [kind=outer] src, …`: the rows of every source; the columns of all of them in the order
/// first seen, a row's missing ones null. Without `isfuzzy`, a source nothing resolves is an error; with it, such
/// sources are left out and only none resolving is one ("union operator", learn.microsoft.com/kusto/query/
/// union-operator: isfuzzy "allows fuzzy resolution of union legs ... the set of union legs is reduced to the
/// set of table references that exist"). A source whose function reads a missing table counts as unresolved.
fn union(text: &str, cx: &Ctx, sc: &Scope) -> Result<Table, Failure> {
    let mut legs = split_top(text, ',');
    let mut fuzzy = false;
    let first = legs[0].trim_start();
    let mut first = first.to_string();
    loop {
        let word: String = first
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = first[word.len()..].trim_start();
        let Some(value) = after.strip_prefix('=') else {
            break;
        };
        let value = value.trim_start();
        let v: String = value
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match (word.as_str(), v.to_ascii_lowercase().as_str()) {
            ("isfuzzy", "true") => fuzzy = true,
            ("isfuzzy", "false") | ("kind", "outer") => {}
            (w, v) => return Err(Failure::Error(format!("union: unsupported option {w}={v}"))),
        }
        first = value[v.len()..].to_string();
    }
    legs[0] = first;
    let mut out = Table::default();
    let mut resolved = 0;
    let mut unresolved = None;
    for leg in &legs {
        let leg = leg.trim();
        if leg.is_empty() {
            return Err(Failure::Error("union: a source is missing".into()));
        }
        let t = match source(leg, cx, sc) {
            Ok(t) => t,
            Err(Failure::Unresolved(name)) if fuzzy => {
                unresolved.get_or_insert(name);
                continue;
            }
            Err(e) => return Err(e),
        };
        resolved += 1;
        for col in t.columns {
            if !out.columns.iter().any(|(c, _)| *c == col.0) {
                out.columns.push(col);
            }
        }
        out.rows.extend(t.rows);
    }
    if resolved == 0 {
        return Err(Failure::Unresolved(unresolved.unwrap_or_default()));
    }
    for r in &mut out.rows {
        for (c, _) in &out.columns {
            if !r.contains_key(c) {
                r.insert(c.clone(), Value::Null);
            }
        }
    }
    Ok(out)
}

/// `Name` or `Name(arg, …, param = arg, …)`: a table, or a function run with its parameters bound.
fn call(text: &str, cx: &Ctx, sc: &Scope) -> Result<Table, Failure> {
    let mut p = Parser::new(text)?;
    let name = p.ident().ok_or_else(|| {
        Failure::Error(format!("expected a table or function name, found '{text}'"))
    })?;
    let args = if p.eat("(") {
        Some(call_args(&mut p, &name)?)
    } else {
        None
    };
    if !p.done() {
        return Err(Failure::Error(format!(
            "unexpected {:?} after '{name}'",
            p.peek()
        )));
    }
    match (cx.resolve)(&name) {
        None => Err(Failure::Unresolved(name)),
        Some(Source::Table(t)) if args.is_none() => Ok(t),
        Some(Source::Table(_)) => Err(Failure::Error(format!(
            "'{name}' is a table, not a function: it takes no arguments"
        ))),
        Some(Source::Function { query, params }) => {
            if cx.depth >= MAX_DEPTH {
                return Err(Failure::Error(format!(
                    "'{name}': recursion: functions call functions deeper than {MAX_DEPTH}"
                )));
            }
            let decls = declarations(&params).map_err(|e| format!("function '{name}': {e}"))?;
            let bound = bind(&name, &decls, args.unwrap_or_default(), sc)?;
            let inner = Ctx {
                resolve: cx.resolve,
                depth: cx.depth + 1,
            };
            let scope = Scope {
                now: sc.now,
                params: bound,
            };
            query_in(&query, &inner, &scope).map_err(|e| match e {
                Failure::Error(e) => Failure::Error(format!("in function '{name}': {e}")),
                unresolved => unresolved,
            })
        }
    }
}

/// A call's arguments after its `(`: positional expressions and `name = expr`, to the closing `)`.
fn call_args(p: &mut Parser, name: &str) -> Result<Vec<(Option<String>, Expr)>, String> {
    let mut args = vec![];
    while !p.eat(")") {
        if p.done() {
            return Err(format!("unclosed call of {name}"));
        }
        let named = matches!(
            (p.toks.get(p.pos), p.toks.get(p.pos + 1)),
            (Some(Tok::Ident(_)), Some(Tok::Op("=")))
        );
        let param = if named {
            let n = p.ident();
            p.pos += 1;
            n
        } else {
            None
        };
        args.push((param, p.expr()?));
        if !p.eat(",") && !matches!(p.peek(), Some(Tok::Op(")"))) {
            return Err(format!("expected ',' or ')' in the call of {name}"));
        }
    }
    Ok(args)
}

/// A declared parameter: its name, type and default value.
struct Param {
    name: String,
    ty: String,
    default: Option<Value>,
}

/// The scalar types a parameter may have ("User-defined functions", learn.microsoft.com/kusto/query/functions/
/// user-defined-functions: `name:type [= default]`; "Scalar data types").
const PARAM_TYPES: [&str; 10] = [
    "datetime", "dynamic", "string", "bool", "int", "long", "real", "double", "timespan", "guid",
];

/// Parses `name:type[=default], …`; spaces around `:` and `=` are optional; a default is a constant
/// expression (`datetime(null)`, `dynamic([])`, `'*'`, `False`).
fn declarations(text: &str) -> Result<Vec<Param>, String> {
    let mut out = vec![];
    for decl in split_top(text, ',') {
        let decl = decl.trim();
        if decl.is_empty() {
            continue;
        }
        let (name, rest) = decl
            .split_once(':')
            .ok_or_else(|| format!("parameter '{decl}' has no type"))?;
        let (ty, default) = match split_top(rest, '=').as_slice() {
            [ty] => (ty.clone(), None),
            [ty, default] => (ty.clone(), Some(default.clone())),
            _ => return Err(format!("parameter '{decl}' is not name:type[=default]")),
        };
        let ty = ty.trim().to_ascii_lowercase();
        if !PARAM_TYPES.contains(&ty.as_str()) {
            return Err(format!(
                "parameter '{}': unsupported type '{ty}'",
                name.trim()
            ));
        }
        let default = match default {
            None => None,
            Some(d) => {
                let mut p = Parser::new(&d)?;
                let e = p.expr()?;
                if !p.done() {
                    return Err(format!("parameter '{}': bad default '{d}'", name.trim()));
                }
                let sc = Scope::at(OffsetDateTime::UNIX_EPOCH);
                Some(eval_expr(&e, &Row::new(), &sc)?)
            }
        };
        out.push(Param {
            name: name.trim().to_string(),
            ty,
            default,
        });
    }
    Ok(out)
}

/// The function's parameters with values: the arguments (evaluated in the caller's scope, so a function passes
/// its own parameters on), positional then named, else the defaults; a parameter with neither is an error.
fn bind(
    function: &str,
    decls: &[Param],
    args: Vec<(Option<String>, Expr)>,
    caller: &Scope,
) -> Result<Row, String> {
    let positional = args.iter().filter(|(name, _)| name.is_none()).count();
    if positional > decls.len() {
        return Err(format!(
            "function '{function}' takes {} arguments, given {positional}",
            decls.len()
        ));
    }
    let mut values: Vec<Option<Value>> = vec![None; decls.len()];
    for (i, (name, e)) in args.into_iter().enumerate() {
        let at = match &name {
            Some(n) => decls
                .iter()
                .position(|d| d.name == *n)
                .ok_or_else(|| format!("function '{function}' has no parameter '{n}'"))?,
            None if i < decls.len() => i,
            None => {
                return Err(format!(
                    "function '{function}' takes {} arguments",
                    decls.len()
                ))
            }
        };
        if values[at].is_some() {
            return Err(format!(
                "function '{function}': parameter '{}' given twice",
                decls[at].name
            ));
        }
        let v = eval_expr(&e, &Row::new(), caller)?;
        values[at] =
            Some(coerce(v, &decls[at]).map_err(|e| format!("function '{function}': {e}"))?);
    }
    let mut row = Row::new();
    for (d, v) in decls.iter().zip(values) {
        let v = v.or_else(|| d.default.clone()).ok_or_else(|| {
            format!(
                "function '{function}': no value for parameter '{}', which has no default",
                d.name
            )
        })?;
        row.insert(d.name.clone(), v);
    }
    Ok(row)
}

/// An argument as its parameter's type; null stays null, and a value that is not of the type is an error.
fn coerce(v: Value, p: &Param) -> Result<Value, String> {
    if v.is_null() {
        return Ok(v);
    }
    let wrong = || format!("parameter '{}' is {}, given {v}", p.name, p.ty);
    Ok(match p.ty.as_str() {
        "string" | "guid" => Value::String(expr::text(&v)),
        "bool" => match v {
            Value::Bool(_) => v,
            _ => return Err(wrong()),
        },
        "int" | "long" => match v.as_f64() {
            Some(n) if n.fract() == 0.0 => expr::num(n),
            _ => return Err(wrong()),
        },
        "real" | "double" | "timespan" => match v.as_f64() {
            Some(_) => v,
            None => return Err(wrong()),
        },
        "datetime" => match expr::datetime(&v) {
            Some(_) => v,
            None => return Err(wrong()),
        },
        _ => v,
    })
}
