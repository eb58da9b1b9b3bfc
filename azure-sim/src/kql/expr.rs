//! KQL scalar expressions: tokens, a recursive-descent parser and evaluation over one row, with the scalar
//! functions the tool's rules and workbook use. Semantics follow the Kusto reference
//! (learn.microsoft.com/kusto/query/scalar-functions), simplified where noted.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::functions::{arith, call};

pub type Row = Map<String, Value>;

/// Where a stored row keeps the time it was ingested (not a column: only `ingestion_time()` reads it).
pub const INGESTION_TIME: &str = "$IngestionTime";

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    /// A timespan literal (`1h`, `5m`, `7d`), in seconds.
    Span(f64),
    Op(&'static str),
    /// A literal whose text is not an expression: `dynamic([...])`, `datetime(null)`, `int(null)`.
    Lit(Value),
}

const OPS2: [&str; 6] = ["==", "!=", "<=", ">=", "=~", "!~"];
const OPS1: [&str; 15] = [
    "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", ".", "[", "]", "=", "!",
];

/// Splits expression text into tokens; `//` starts a comment.
pub fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut out) = (0, vec![]);
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() || ch == '~' && matches!(out.last(), Some(Tok::Ident(s)) if s == "in")
        {
            if ch == '~' {
                if let Some(Tok::Ident(s)) = out.last_mut() {
                    s.push('~');
                }
            }
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '"' || ch == '\'' {
            let mut s = String::new();
            i += 1;
            while i < c.len() && c[i] != ch {
                if c[i] == '\\' && i + 1 < c.len() {
                    i += 1;
                }
                s.push(c[i]);
                i += 1;
            }
            if i >= c.len() {
                return Err("unterminated string literal".into());
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                i += 1;
            }
            let n: f64 = c[start..i]
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| "bad number".to_string())?;
            let us = i;
            while i < c.len() && c[i].is_ascii_alphabetic() {
                i += 1;
            }
            let unit: String = c[us..i].iter().collect();
            let secs = match unit.as_str() {
                "" => None,
                "d" => Some(86400.0),
                "h" => Some(3600.0),
                "m" => Some(60.0),
                "s" => Some(1.0),
                "ms" => Some(0.001),
                u => return Err(format!("unknown timespan unit '{u}'")),
            };
            out.push(match secs {
                Some(s) => Tok::Span(n * s),
                None => Tok::Num(n),
            });
        } else if ch.is_ascii_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let ident: String = c[start..i].iter().collect();
            let null_literal = c.get(i) == Some(&'(')
                && TYPED_NULLS.contains(&ident.as_str())
                && c[i..].iter().position(|x| *x == ')').is_some_and(|close| {
                    c[i + 1..i + close].iter().collect::<String>().trim() == "null"
                });
            if null_literal {
                // `datetime(null)`, `int(null)`, ...: the typed null ("Null values",
                // learn.microsoft.com/kusto/query/scalar-data-types/null-values).
                let close = c[i..].iter().position(|x| *x == ')').unwrap_or(0);
                out.push(Tok::Lit(Value::Null));
                i += close + 1;
            } else if ident == "dynamic" && c.get(i) == Some(&'(') {
                // `dynamic(<JSON>)`: an array, a property bag, null or a scalar ("The dynamic data type",
                // learn.microsoft.com/kusto/query/scalar-data-types/dynamic).
                let close = balanced_close(&c, i).ok_or("unterminated dynamic literal")?;
                let inner: String = c[i + 1..close].iter().collect();
                out.push(Tok::Lit(dynamic_literal(&inner)?));
                i = close + 1;
            } else if ident == "datetime" && c.get(i) == Some(&'(') {
                // A datetime literal, `datetime(2025-01-02T00:00:00Z)`: its text is not an expression.
                let close = c[i..]
                    .iter()
                    .position(|x| *x == ')')
                    .ok_or("unterminated datetime literal")?;
                let inner: String = c[i + 1..i + close].iter().collect();
                out.push(Tok::Str(inner.trim().trim_matches(['"', '\'']).to_string()));
                i += close + 1;
            } else {
                out.push(Tok::Ident(ident));
            }
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if let Some(op) = OPS2.iter().find(|o| **o == two) {
                out.push(Tok::Op(op));
                i += 2;
            } else if let Some(op) = OPS1.iter().find(|o| o.starts_with(ch)) {
                out.push(Tok::Op(op));
                i += 1;
            } else {
                return Err(format!("unexpected character '{ch}'"));
            }
        }
    }
    Ok(out)
}

/// The types whose literal may be `null`: `datetime(null)`, `int(null)`, ...
const TYPED_NULLS: [&str; 8] = [
    "datetime", "int", "long", "real", "bool", "string", "timespan", "guid",
];

/// The index of the `)` that closes the `(` at `open`, skipping quoted text.
fn balanced_close(c: &[char], open: usize) -> Option<usize> {
    let (mut depth, mut quote, mut i) = (0i32, None, open);
    while i < c.len() {
        match (quote, c[i]) {
            (Some(_), '\\') => i += 1,
            (Some(q), ch) if ch == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c[i]),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The value of a `dynamic(...)` literal's text: JSON, where Kusto also accepts single-quoted strings
/// (`dynamic(['a','b'])`).
pub fn dynamic_literal(text: &str) -> Result<Value, String> {
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let mut json = String::new();
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                json.push('"');
                while let Some(x) = chars.next() {
                    json.push(x);
                    if x == '\\' {
                        json.extend(chars.next());
                    } else if x == '"' {
                        break;
                    }
                }
            }
            '\'' => {
                json.push('"');
                while let Some(x) = chars.next() {
                    match x {
                        '\'' => break,
                        '\\' => match chars.next() {
                            Some('\'') => json.push('\''),
                            Some(e) => {
                                json.push('\\');
                                json.push(e);
                            }
                            None => {}
                        },
                        '"' => json.push_str("\\\""),
                        x => json.push(x),
                    }
                }
                json.push('"');
            }
            x => json.push(x),
        }
    }
    serde_json::from_str(&json).map_err(|e| format!("dynamic({text}): not a literal ({e})"))
}

#[derive(Debug, Clone)]
pub enum Expr {
    Lit(Value),
    Col(String),
    Call(String, Vec<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    /// A string operator (`has`, `contains`, `startswith`, `endswith`, each also `_cs`), negated with `!`.
    Str(String, bool, Box<Expr>, Box<Expr>),
    /// `in`, `in~`, `!in`: (value, list, negated, case-insensitive).
    In(Box<Expr>, Vec<Expr>, bool, bool),
    /// `has_any`: (value, terms); an item that is an array gives each of its elements.
    HasAny(Box<Expr>, Vec<Expr>),
    Neg(Box<Expr>),
    Field(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

/// The string operators; a `_cs` one is case-sensitive, the others are not ("String operators",
/// learn.microsoft.com/kusto/query/datatypes-string-operators). Each is negated with `!` (`!has`, `!contains_cs`).
const STRING_OPS: [&str; 8] = [
    "has",
    "contains",
    "startswith",
    "endswith",
    "has_cs",
    "contains_cs",
    "startswith_cs",
    "endswith_cs",
];

/// A cursor over tokens.
pub struct Parser {
    pub toks: Vec<Tok>,
    pub pos: usize,
}

impl Parser {
    pub fn new(src: &str) -> Result<Parser, String> {
        Ok(Parser {
            toks: lex(src)?,
            pos: 0,
        })
    }
    pub fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    pub fn done(&self) -> bool {
        self.pos >= self.toks.len()
    }
    /// Takes the operator `op` if it is next.
    pub fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            return true;
        }
        false
    }
    /// Takes the keyword `kw` if it is next.
    pub fn eat_kw(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == kw) {
            self.pos += 1;
            return true;
        }
        false
    }
    fn expect(&mut self, op: &str) -> Result<(), String> {
        if self.eat(op) {
            Ok(())
        } else {
            Err(format!("expected '{op}' at {:?}", self.peek()))
        }
    }
    pub fn ident(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Some(s)
            }
            _ => None,
        }
    }

    pub fn expr(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.eat_kw("or") {
            l = Expr::Bin("or", Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.cmp()?;
        while self.eat_kw("and") {
            l = Expr::Bin("and", Box::new(l), Box::new(self.cmp()?));
        }
        Ok(l)
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let l = self.add()?;
        for op in ["==", "!=", "<=", ">=", "=~", "!~", "<", ">"] {
            if self.eat(op) {
                return Ok(Expr::Bin(op, Box::new(l), Box::new(self.add()?)));
            }
        }
        let save = self.pos;
        let neg = self.eat("!");
        match self.ident() {
            Some(k) if k == "in" || k == "in~" => {
                self.expect("(")?;
                let mut list = vec![];
                while !self.eat(")") {
                    list.push(self.expr()?);
                    self.eat(",");
                    if self.done() {
                        return Err("unclosed in (...)".into());
                    }
                }
                Ok(Expr::In(Box::new(l), list, neg, k == "in~"))
            }
            // `x has_any (t1, t2)` or `x has_any (arrayValue)` ("has_any operator",
            // learn.microsoft.com/kusto/query/has-any-operator).
            Some(k) if k == "has_any" && !neg => {
                let list = if self.eat("(") {
                    let mut list = vec![];
                    while !self.eat(")") {
                        list.push(self.expr()?);
                        self.eat(",");
                        if self.done() {
                            return Err("unclosed has_any (...)".into());
                        }
                    }
                    list
                } else {
                    vec![self.add()?]
                };
                Ok(Expr::HasAny(Box::new(l), list))
            }
            Some(k) if STRING_OPS.contains(&k.as_str()) => {
                Ok(Expr::Str(k, neg, Box::new(l), Box::new(self.add()?)))
            }
            _ => {
                self.pos = save;
                Ok(l)
            }
        }
    }
    fn add(&mut self) -> Result<Expr, String> {
        let mut l = self.mul()?;
        loop {
            let op = if self.eat("+") {
                "+"
            } else if self.eat("-") {
                "-"
            } else {
                return Ok(l);
            };
            l = Expr::Bin(op, Box::new(l), Box::new(self.mul()?));
        }
    }
    fn mul(&mut self) -> Result<Expr, String> {
        let mut l = self.unary()?;
        loop {
            let op = if self.eat("*") {
                "*"
            } else if self.eat("/") {
                "/"
            } else if self.eat("%") {
                "%"
            } else {
                return Ok(l);
            };
            l = Expr::Bin(op, Box::new(l), Box::new(self.unary()?));
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        let mut e = self.primary()?;
        loop {
            if self.eat(".") {
                let f = self.ident().ok_or("expected a field name after '.'")?;
                e = Expr::Field(Box::new(e), f);
            } else if self.eat("[") {
                let i = self.expr()?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(i));
            } else {
                return Ok(e);
            }
        }
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let t = self.peek().cloned().ok_or("unexpected end of expression")?;
        self.pos += 1;
        match t {
            Tok::Str(s) => Ok(Expr::Lit(json!(s))),
            Tok::Num(n) => Ok(Expr::Lit(num(n))),
            Tok::Span(s) => Ok(Expr::Lit(num(s))),
            Tok::Lit(v) => Ok(Expr::Lit(v)),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            // Kusto reads `true`, `True` and `TRUE` alike ("The bool data type",
            // learn.microsoft.com/kusto/query/scalar-data-types/bool).
            Tok::Ident(id) => match id.as_str() {
                "true" | "True" | "TRUE" => Ok(Expr::Lit(json!(true))),
                "false" | "False" | "FALSE" => Ok(Expr::Lit(json!(false))),
                _ if self.eat("(") => {
                    let mut args = vec![];
                    while !self.eat(")") {
                        args.push(self.expr()?);
                        self.eat(",");
                        if self.done() {
                            return Err(format!("unclosed call of {id}"));
                        }
                    }
                    Ok(Expr::Call(id, args))
                }
                _ => Ok(Expr::Col(id)),
            },
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// A JSON number, integral when it is one.
pub fn num(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

pub fn datetime(v: &Value) -> Option<OffsetDateTime> {
    v.as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

pub fn fmt_datetime(t: OffsetDateTime) -> Value {
    json!(t.format(&Rfc3339).unwrap_or_default())
}

/// Orders two values: numbers as numbers, datetimes as datetimes, else as text; null first.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => {
            if let (Value::Number(_), Some(x), Some(y)) = (a, as_f64(a), as_f64(b)) {
                return x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            }
            if let (Some(x), Some(y)) = (datetime(a), datetime(b)) {
                return x.cmp(&y);
            }
            text(a).cmp(&text(b))
        }
    }
}

pub(super) fn truthy(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

pub(super) fn empty(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("")
}

/// Evaluates an expression over one row; `now` is the query's clock.
/// Kusto's `has`: `needle` occurs in `hay` as whole terms, where a term is a maximal run of alphanumeric
/// characters ("String operators", "What is a term?", https://learn.microsoft.com/kusto/query/datatypes-string-operators):
/// each match must start and end on a term boundary, so `"login_failure" has "login"` but not `has "log"`.
fn has_term(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let alnum = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    hay.match_indices(needle).any(|(at, m)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + m.len()..].chars().next();
        (!alnum(needle.chars().next()) || !alnum(before))
            && (!alnum(needle.chars().next_back()) || !alnum(after))
    })
}

/// What an expression sees besides its row: the query's clock and the parameters of the function it runs in.
#[derive(Debug, Clone)]
pub struct Scope {
    pub now: OffsetDateTime,
    pub params: Row,
}

impl Scope {
    /// The top level of a query: no parameters.
    pub fn at(now: OffsetDateTime) -> Scope {
        Scope {
            now,
            params: Row::new(),
        }
    }
}

/// The values of `items`, each array among them giving its elements (`in (dynamicParam)`, `has_any (list)`).
fn flattened(items: &[Expr], row: &Row, sc: &Scope) -> Result<Vec<Value>, String> {
    let mut out = vec![];
    for item in items {
        match eval(item, row, sc)? {
            Value::Array(a) => out.extend(a),
            v => out.push(v),
        }
    }
    Ok(out)
}

/// Evaluates an expression over one row. A name is the row's column, else the function's parameter: the column
/// wins when both exist (a choice of the simulator's: a parser's output column named like its parameter reads as
/// the column, which is what the row says).
pub fn eval(e: &Expr, row: &Row, sc: &Scope) -> Result<Value, String> {
    let now = sc.now;
    let ev = |x: &Expr| eval(x, row, sc);
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Col(c) => match row.get(c).or_else(|| sc.params.get(c)) {
            Some(v) => v.clone(),
            None => return Err(format!("Failed to resolve scalar expression named '{c}'")),
        },
        Expr::Neg(x) => as_f64(&ev(x)?).map(|n| num(-n)).unwrap_or(Value::Null),
        Expr::Field(x, f) => ev(x)?.get(f).cloned().unwrap_or(Value::Null),
        Expr::Index(x, i) => {
            let (v, i) = (ev(x)?, ev(i)?);
            match (&v, as_f64(&i)) {
                (Value::Array(a), Some(n)) if n >= 0.0 => {
                    a.get(n as usize).cloned().unwrap_or(Value::Null)
                }
                _ => v.get(text(&i)).cloned().unwrap_or(Value::Null),
            }
        }
        // An item that is an array stands for its elements ("in and !in operators",
        // learn.microsoft.com/kusto/query/in-operator: "a dynamic array ... is flattened").
        Expr::In(x, list, neg, ci) => {
            let v = text(&ev(x)?);
            let mut hit = false;
            for item in flattened(list, row, sc)? {
                let w = text(&item);
                hit |= if *ci {
                    v.eq_ignore_ascii_case(&w)
                } else {
                    v == w
                };
            }
            json!(hit != *neg)
        }
        // True when the value has any of the terms, as `has` does; no terms, false ("has_any operator",
        // learn.microsoft.com/kusto/query/has-any-operator).
        Expr::HasAny(x, list) => {
            let hay = text(&ev(x)?).to_lowercase();
            let terms = flattened(list, row, sc)?;
            json!(terms
                .iter()
                .any(|t| has_term(&hay, &text(t).to_lowercase())))
        }
        Expr::Str(op, neg, l, r) => {
            let (mut a, mut b) = (text(&ev(l)?), text(&ev(r)?));
            let op = match op.strip_suffix("_cs") {
                Some(sensitive) => sensitive,
                None => {
                    a = a.to_lowercase();
                    b = b.to_lowercase();
                    op.as_str()
                }
            };
            let hit = match op {
                "startswith" => a.starts_with(&b),
                "endswith" => a.ends_with(&b),
                "has" => has_term(&a, &b),
                _ => a.contains(&b),
            };
            json!(hit != *neg)
        }
        Expr::Bin(op, l, r) => {
            let a = ev(l)?;
            match *op {
                "and" => return Ok(json!(truthy(&a) && truthy(&ev(r)?))),
                "or" => return Ok(json!(truthy(&a) || truthy(&ev(r)?))),
                _ => {}
            }
            let b = ev(r)?;
            match *op {
                "==" => json!(!a.is_null() && compare(&a, &b) == Ordering::Equal),
                "!=" => json!(compare(&a, &b) != Ordering::Equal),
                "=~" => json!(text(&a).eq_ignore_ascii_case(&text(&b))),
                "!~" => json!(!text(&a).eq_ignore_ascii_case(&text(&b))),
                "<" => json!(compare(&a, &b) == Ordering::Less),
                "<=" => json!(compare(&a, &b) != Ordering::Greater),
                ">" => json!(compare(&a, &b) == Ordering::Greater),
                ">=" => json!(compare(&a, &b) != Ordering::Less),
                _ => arith(op, &a, &b),
            }
        }
        // The row's own ingestion time, kept beside its columns; gone once `project` leaves the table's rows
        // (Kusto: null outside the context of a table, learn.microsoft.com/kusto/query/ingestion-time-function).
        Expr::Call(f, _) if f == "ingestion_time" => {
            row.get(INGESTION_TIME).cloned().unwrap_or(Value::Null)
        }
        // The row's column if it has one, else the default ("column_ifexists()",
        // learn.microsoft.com/kusto/query/column-ifexists-function).
        Expr::Call(f, args) if f == "column_ifexists" => {
            let [name, default] = args.as_slice() else {
                return Err("column_ifexists() takes a column name and a default".into());
            };
            match row.get(&text(&ev(name)?)) {
                Some(v) => v.clone(),
                None => ev(default)?,
            }
        }
        // `iff(p, then, else)` (`iif` its other name) and `case(p1, v1, ..., else)` evaluate only the branch
        // taken (learn.microsoft.com/kusto/query/iff-function, case-function).
        Expr::Call(f, args) if f == "iff" || f == "iif" => {
            let [p, then, otherwise] = args.as_slice() else {
                return Err(format!("{f}() takes a predicate and two values"));
            };
            if truthy(&ev(p)?) {
                ev(then)?
            } else {
                ev(otherwise)?
            }
        }
        Expr::Call(f, args) if f == "case" => {
            if args.len() < 3 || args.len() % 2 == 0 {
                return Err("case() takes predicate, value pairs and an else value".into());
            }
            for pair in args[..args.len() - 1].chunks(2) {
                if truthy(&ev(&pair[0])?) {
                    return ev(&pair[1]);
                }
            }
            ev(&args[args.len() - 1])?
        }
        Expr::Call(f, args) => {
            let vals = args.iter().map(ev).collect::<Result<Vec<_>, _>>()?;
            call(f, &vals, now)?
        }
    })
}
