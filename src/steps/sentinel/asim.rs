//! `--sentinel`: Keeper in ASIM, as data: the three schemas' mappings (`templates/sentinel/asim/*.json`), the
//! parsers' KQL built from them, the hunting queries, and the one line each custom unifying parser gets.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// The vendor and product the parsers name (Keeper is not yet on Microsoft's list: asim/SOURCES.md).
pub const EVENT_VENDOR: &str = "Keeper Security";
pub const EVENT_PRODUCT: &str = "Keeper Enterprise";
/// The saved-search category of the parsers (as Microsoft's workspace-deployed ASIM parsers) and of the hunting
/// queries (the category Sentinel's Hunting page lists).
pub const PARSER_CATEGORY: &str = "ASIM";
pub const HUNTING_CATEGORY: &str = "Hunting Queries";
/// The category Microsoft's empty custom unifying parsers carry.
pub const UNIFYING_CATEGORY: &str = "Security";
/// The parameters of a parameter-less parser, and of an `ASim_<Schema>Custom` (Microsoft's empty ones).
pub const PARAMETERLESS_PARAMETERS: &str = "disabled:bool=false";
pub const PARAMETERLESS_CUSTOM_PARAMETERS: &str = "disabled:bool=false, pack:bool=false";
/// A mapped field that is the parser's own, not the schema's: whose username the event is about.
const TARGET_FIELD: &str = "Target";

const SCHEMAS: &[(&str, &str)] = &[
    (
        "authentication",
        include_str!("../../../templates/sentinel/asim/authentication.json"),
    ),
    (
        "audit-event",
        include_str!("../../../templates/sentinel/asim/audit-event.json"),
    ),
    (
        "user-management",
        include_str!("../../../templates/sentinel/asim/user-management.json"),
    ),
];

/// The hunting query templates: (stable id = file name, JSON).
pub const HUNTING: &[(&str, &str)] = &[
    (
        "keeper-hunt-new-country",
        include_str!("../../../templates/sentinel/hunting/keeper-hunt-new-country.json"),
    ),
    (
        "keeper-hunt-export-share-burst",
        include_str!("../../../templates/sentinel/hunting/keeper-hunt-export-share-burst.json"),
    ),
    (
        "keeper-hunt-admin-changes-off-hours",
        include_str!(
            "../../../templates/sentinel/hunting/keeper-hunt-admin-changes-off-hours.json"
        ),
    ),
    (
        "keeper-hunt-two-factor-off-several-users",
        include_str!(
            "../../../templates/sentinel/hunting/keeper-hunt-two-factor-off-several-users.json"
        ),
    ),
    (
        "keeper-hunt-account-transfers",
        include_str!("../../../templates/sentinel/hunting/keeper-hunt-account-transfers.json"),
    ),
    (
        "keeper-hunt-failures-then-success",
        include_str!("../../../templates/sentinel/hunting/keeper-hunt-failures-then-success.json"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
pub struct Names {
    pub parameterless: String,
    pub filtering: String,
}

/// One schema's mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    pub schema: String,
    pub version: String,
    pub parsers: Names,
    pub unifying: Names,
    pub filter_parameters: String,
    pub filters: Vec<String>,
    /// Schema fields computed over the function's columns: (name, KQL), in order (a later one may read an earlier
    /// one, so a list, not a map).
    pub columns: Vec<(String, String)>,
    /// The allowed values of the schema's enumerated fields, as its page lists them (checked by the tests; the
    /// file's `mandatory` list is tests/asim.rs's).
    #[cfg_attr(not(test), allow(dead_code))]
    pub allowed: Map<String, Value>,
    /// Keeper event type -> the fields it sets (and its `source`).
    pub events: Map<String, Value>,
}

/// The three schemas.
pub fn schemas() -> Result<Vec<Schema>> {
    SCHEMAS
        .iter()
        .map(|(f, text)| {
            serde_json::from_str(text)
                .map_err(|e| Error::Other(format!("templates/sentinel/asim/{f}.json: {e}")))
        })
        .collect()
}

/// One parser function: its alias, its parameters and its query.
#[derive(Debug, Clone, PartialEq)]
pub struct Parser {
    pub alias: String,
    pub display_name: String,
    pub parameters: String,
    pub query: String,
}

impl Schema {
    /// The fields the events set (without their `source`), in a stable order.
    fn mapped_fields(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .events
            .values()
            .filter_map(Value::as_object)
            .flat_map(|o| o.keys().cloned())
            .filter(|k| k != "source")
            .collect();
        f.push("EventSeverity".into());
        f.sort();
        f.dedup();
        f
    }

    /// The events as the query's lookup: each without its source, with a severity.
    fn lookup(&self) -> Value {
        let mut m = Map::new();
        for (event, fields) in &self.events {
            let mut o = fields.as_object().cloned().unwrap_or_default();
            o.remove("source");
            o.entry("EventSeverity")
                .or_insert_with(|| json!("Informational"));
            m.insert(event.clone(), Value::Object(o));
        }
        Value::Object(m)
    }

    /// The parser's KQL: the Keeper function's rows of a mapped event type, with the schema's fields.
    fn query(&self, filtering: bool) -> String {
        let mut q = vec![super::function_alias(), "| where not(disabled)".to_string()];
        if filtering {
            q.push("| where (isnull(starttime) or TimeGenerated >= starttime) and (isnull(endtime) or TimeGenerated <= endtime)".into());
        }
        q.push(format!(
            "| extend KeeperMapped_ = dynamic({})[AuditEvent]",
            self.lookup()
        ));
        q.push("| where isnotnull(KeeperMapped_)".into());
        let mapped = self.mapped_fields();
        for f in &mapped {
            q.push(format!("| extend {f} = tostring(KeeperMapped_.{f})"));
        }
        let common = [
            ("EventCount", "int(1)".to_string()),
            (
                "EventStartTime",
                "coalesce(Timestamp, TimeGenerated)".into(),
            ),
            ("EventEndTime", "coalesce(Timestamp, TimeGenerated)".into()),
            ("EventVendor", format!("'{EVENT_VENDOR}'")),
            ("EventProduct", format!("'{EVENT_PRODUCT}'")),
            ("EventSchema", format!("'{}'", self.schema)),
            ("EventSchemaVersion", format!("'{}'", self.version)),
            ("Dvc", format!("'{EVENT_PRODUCT}'")),
            ("EventOriginalType", "AuditEvent".into()),
            (
                "EventUid",
                "tostring(column_ifexists('_ItemId', ''))".into(),
            ),
            ("AdditionalFields", "Data".into()),
        ];
        let mut out: Vec<String> = vec!["TimeGenerated".into()];
        for (name, e) in &common {
            q.push(format!("| extend {name} = {e}"));
            out.push(name.to_string());
        }
        out.extend(mapped.iter().filter(|f| *f != TARGET_FIELD).cloned());
        for (name, e) in &self.columns {
            q.push(format!("| extend {name} = {e}"));
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        if filtering {
            let all: Vec<String> = self.filters.iter().map(|f| format!("({f})")).collect();
            q.push(format!("| where {}", all.join(" and ")));
        }
        q.push(format!("| project {}", out.join(", ")));
        q.join("\n")
    }

    pub fn parameterless(&self) -> Parser {
        Parser {
            alias: self.parsers.parameterless.clone(),
            display_name: format!("{} ASIM parser for {EVENT_PRODUCT}", self.schema),
            parameters: PARAMETERLESS_PARAMETERS.into(),
            query: self.query(false),
        }
    }

    pub fn filtering(&self) -> Parser {
        Parser {
            alias: self.parsers.filtering.clone(),
            display_name: format!("{} ASIM filtering parser for {EVENT_PRODUCT}", self.schema),
            parameters: self.filter_parameters.clone(),
            query: self.query(true),
        }
    }

    /// The line Microsoft's "Manage ASIM parsers" gives for the filtering custom unifying parser: named arguments,
    /// each of its parameters passed on, `disabled=false`.
    pub fn filtering_line(&self) -> String {
        let args: Vec<String> = parameter_names(&self.filter_parameters)
            .into_iter()
            .map(|n| {
                if n == "disabled" {
                    "disabled=false".to_string()
                } else {
                    format!("{n}={n}")
                }
            })
            .collect();
        format!("{}({})", self.parsers.filtering, args.join(", "))
    }

    pub fn parameterless_line(&self) -> String {
        format!("{}(disabled=false)", self.parsers.parameterless)
    }
}

/// Every parser of every schema.
pub fn parsers() -> Result<Vec<Parser>> {
    Ok(schemas()?
        .iter()
        .flat_map(|s| [s.parameterless(), s.filtering()])
        .collect())
}

/// One custom unifying parser and what Keeper adds to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unifying {
    pub alias: String,
    /// Its parameters when the tool makes it (Microsoft's empty one's).
    pub parameters: String,
    /// The parser it must call.
    pub parser: String,
    pub line: String,
}

pub fn unifying() -> Result<Vec<Unifying>> {
    Ok(schemas()?
        .iter()
        .flat_map(|s| {
            [
                Unifying {
                    alias: s.unifying.parameterless.clone(),
                    parameters: PARAMETERLESS_CUSTOM_PARAMETERS.into(),
                    parser: s.parsers.parameterless.clone(),
                    line: s.parameterless_line(),
                },
                Unifying {
                    alias: s.unifying.filtering.clone(),
                    parameters: s.filter_parameters.clone(),
                    parser: s.parsers.filtering.clone(),
                    line: s.filtering_line(),
                },
            ]
        })
        .collect())
}

/// The names a `functionParameters` text declares (`a:type=default, b:type`).
pub fn parameter_names(params: &str) -> Vec<String> {
    split_top(params, ',')
        .into_iter()
        .filter_map(|p| {
            let name = p.split(':').next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// Splits at `sep` outside quotes and brackets.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quote) = (vec![], String::new(), 0i32, None);
    for ch in s.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
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

/// Whether `s` holds `c` outside quotes and brackets.
fn has_top(s: &str, c: char) -> bool {
    split_top(s, c).len() > 1
}

/// A custom unifying parser the tool makes: a union of Keeper's line alone.
pub fn new_unifying_query(line: &str) -> String {
    format!("union isfuzzy=true\n    {line}")
}

/// The separator the tool puts before its line in someone else's union.
const JOIN: &str = ",\n    ";

/// The query with Keeper's line added, when that is safe: the query is one `union` of sources (no pipe, no `let`,
/// no statement separator), as Microsoft's empty and edited custom parsers are, and its parameters declare every
/// name the line passes on. None when it is not safe: the admin adds the line (Microsoft's "Manage ASIM parsers":
/// "insert a line ... make sure you add a comma at the end of the previous line").
pub fn add_line(query: &str, parameters: &str, line: &str) -> Option<String> {
    let body = query.trim_end();
    if !plain_union(body) {
        return None;
    }
    let declared = parameter_names(parameters);
    let open = line.find('(')?;
    let args = &line[open + 1..line.len().checked_sub(1)?];
    let passes_on_declared = split_top(args, ',').iter().all(|a| {
        let value = a.split_once('=').map(|(_, v)| v.trim()).unwrap_or("");
        value == "false" || value == "true" || declared.iter().any(|d| d == value)
    });
    if !passes_on_declared {
        return None;
    }
    Some(format!("{body}{JOIN}{line}"))
}

/// Whether a custom unifying parser's query is one the tool edits: a single `union` of sources, with no pipe, no
/// `let` or statement separator and no comment (anything else is the admin's to edit).
fn plain_union(body: &str) -> bool {
    let head = body.trim_start();
    head.strip_prefix("union")
        .is_some_and(|rest| rest.starts_with(char::is_whitespace))
        && !has_top(body, '|')
        && !has_top(body, ';')
        && !body.contains("//")
}

/// What taking Keeper's line out of a custom unifying parser comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// It does not call Keeper's parser.
    Absent,
    /// The query without the line; whether any source is left.
    Done(String, bool),
    /// It calls Keeper's parser, but not as a plain union source the tool can take out safely: the admin does.
    Unsafe,
}

/// The query without Keeper's `line` (which calls `parser`): the text the tool added is taken out exactly as it was
/// added; else, in a plain union, the source that calls `parser` is dropped. Anything else is left to the admin.
pub fn remove_line(query: &str, parser: &str, line: &str) -> Removal {
    if !super::reads(query, parser) {
        return Removal::Absent;
    }
    let body = query.trim_end();
    if !plain_union(body) {
        return Removal::Unsafe;
    }
    let Some((head, sources)) = union_parts(body) else {
        return Removal::Unsafe;
    };
    let kept: Vec<&str> = sources
        .iter()
        .map(|s| s.trim())
        .filter(|s| !calls(s, parser))
        .collect();
    if kept.len() == sources.len() {
        return Removal::Unsafe;
    }
    let any_left = !kept.is_empty();
    // The exact text the tool added, when it is there: everything else stays byte for byte.
    let ours = format!("{JOIN}{line}");
    if let Some(at) = body.find(&ours) {
        let mut out = body.to_string();
        out.replace_range(at..at + ours.len(), "");
        return Removal::Done(out, any_left);
    }
    Removal::Done(format!("{head}\n    {}", kept.join(JOIN)), any_left)
}

/// Whether one union source calls `parser`.
fn calls(source: &str, parser: &str) -> bool {
    let s = source.trim();
    s == parser
        || s.strip_prefix(parser)
            .is_some_and(|rest| rest.trim_start().starts_with('('))
}

/// `union [isfuzzy=true]` and its sources.
fn union_parts(body: &str) -> Option<(String, Vec<String>)> {
    let t = body.trim_start();
    let rest = t.strip_prefix("union")?;
    let mut head = "union".to_string();
    let mut rest = rest.trim_start();
    if let Some(r) = rest.strip_prefix("isfuzzy=true") {
        head.push_str(" isfuzzy=true");
        rest = r;
    }
    Some((head, split_top(rest, ',')))
}

/// A hunting query template.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hunting {
    pub display_name: String,
    pub description: String,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub query: String,
}

pub fn hunting(id: &str) -> Result<Hunting> {
    let (_, text) = HUNTING
        .iter()
        .find(|(t, _)| *t == id)
        .ok_or_else(|| Error::Other(format!("no hunting query template {id}")))?;
    serde_json::from_str(text)
        .map_err(|e| Error::Other(format!("templates/sentinel/hunting/{id}.json: {e}")))
}

/// A hunting query's saved-search body: the tags Sentinel's Hunting page reads (hunting/SOURCES.md).
pub fn hunting_body(h: &Hunting) -> Value {
    json!({ "properties": {
        "category": HUNTING_CATEGORY,
        "displayName": h.display_name,
        "query": h.query,
        "version": 2,
        "tags": [
            { "name": "description", "value": h.description },
            { "name": "tactics", "value": h.tactics.join(",") },
            { "name": "techniques", "value": h.techniques.join(",") },
        ],
    } })
}

/// A function's saved-search body.
pub fn function_body(
    category: &str,
    display_name: &str,
    alias: &str,
    parameters: &str,
    query: &str,
) -> Value {
    json!({ "properties": {
        "category": category,
        "displayName": display_name,
        "functionAlias": alias,
        "functionParameters": parameters,
        "query": query,
        "version": 2,
    } })
}

/// A parser's body.
pub fn parser_body(p: &Parser) -> Value {
    function_body(
        PARSER_CATEGORY,
        &p.display_name,
        &p.alias,
        &p.parameters,
        &p.query,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_loads_and_its_events_use_allowed_values() {
        let s = schemas().expect("schemas");
        assert_eq!(s.len(), 3);
        for schema in &s {
            assert!(schema.events.len() >= 10, "{}", schema.schema);
            for (event, fields) in &schema.events {
                let o = fields.as_object().expect("fields");
                assert!(
                    o.get("source")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.contains(&format!("\"{event}\""))),
                    "{event}: its source quotes Commander's line"
                );
                for (field, allowed) in &schema.allowed {
                    if let Some(v) = o.get(field).and_then(Value::as_str) {
                        let ok = allowed.as_array().expect("list").iter().any(|a| a == v);
                        assert!(ok, "{event}: {field} = {v} is not allowed");
                    }
                }
            }
            let f = schema.filtering();
            assert!(f.alias.starts_with(&format!("vim{}", schema.schema)));
            assert!(schema
                .parameterless()
                .alias
                .starts_with(&format!("ASim{}", schema.schema)));
            assert!(f.query.starts_with("KeeperSecurityEvents\n"));
        }
    }

    #[test]
    fn the_filtering_line_is_microsofts() {
        let s = schemas().expect("schemas");
        let auth = s
            .iter()
            .find(|s| s.schema == "Authentication")
            .expect("auth");
        assert_eq!(
            auth.filtering_line(),
            "vimAuthenticationKeeperEnterprise(starttime=starttime, endtime=endtime, \
             username_has_any=username_has_any, targetappname_has_any=targetappname_has_any, \
             srcipaddr_has_any_prefix=srcipaddr_has_any_prefix, srchostname_has_any=srchostname_has_any, \
             eventtype_in=eventtype_in, eventresultdetails_in=eventresultdetails_in, eventresult=eventresult, \
             disabled=false, pack=pack)"
        );
    }

    #[test]
    fn a_line_goes_into_a_plain_union_and_comes_out_leaving_the_admins_text() {
        let params = "disabled:bool=False,pack:bool=false";
        let theirs = "union isfuzzy=true\n  MyParser(disabled=disabled),\n  Other";
        let line = "ASimAuthenticationKeeperEnterprise(disabled=false)";
        let added = add_line(theirs, params, line).expect("safe");
        assert!(added.starts_with(theirs));
        assert!(added.ends_with(line));
        let Removal::Done(back, left) =
            remove_line(&added, "ASimAuthenticationKeeperEnterprise", line)
        else {
            panic!("removed")
        };
        assert_eq!(back, theirs);
        assert!(left);
        // A pipe or a comment the admin added after Keeper's line: theirs to edit, nothing is taken out.
        for edited in [
            format!("{added}\n| where EventResult == 'Failure'"),
            format!("{added} // keep"),
            "union A, (ASimAuthenticationKeeperEnterprise(disabled=false) | where x)".to_string(),
        ] {
            assert_eq!(
                remove_line(&edited, "ASimAuthenticationKeeperEnterprise", line),
                Removal::Unsafe,
                "{edited}"
            );
        }
        // The admin's sources before and after the tool's in a union the tool made: only Keeper's goes.
        let mixed =
            format!("union isfuzzy=true\n    Mine(disabled=false),\n    {line},\n    Yours");
        assert_eq!(
            remove_line(&mixed, "ASimAuthenticationKeeperEnterprise", line),
            Removal::Done(
                "union isfuzzy=true\n    Mine(disabled=false),\n    Yours".to_string(),
                true
            )
        );
        // Microsoft's empty custom parser.
        let empty = add_line("union ASimEmptyView\n", params, line).expect("safe");
        assert_eq!(empty, format!("union ASimEmptyView,\n    {line}"));
        // Ours alone: nothing left.
        assert!(matches!(
            remove_line(
                &new_unifying_query(line),
                "ASimAuthenticationKeeperEnterprise",
                line
            ),
            Removal::Done(_, false)
        ));
    }

    #[test]
    fn an_unusual_unifying_parser_is_left_alone() {
        let line = "vimX(starttime=starttime, disabled=false)";
        let p = "starttime:datetime=datetime(null)";
        assert!(add_line("union A | where x == 1", p, line).is_none());
        assert!(add_line("let a = 1; union A", p, line).is_none());
        assert!(add_line("A", p, line).is_none());
        assert!(add_line("union A // mine", p, line).is_none());
        // A parameter the admin's function does not declare.
        assert!(add_line("union A", "endtime:datetime=datetime(null)", line).is_none());
        assert!(add_line("union A", p, line).is_some());
        assert_eq!(remove_line("union A, B", "vimX", line), Removal::Absent);
    }

    #[test]
    fn every_hunting_query_loads_with_tactics_and_reads_keepers_parsers() {
        let aliases: Vec<String> = parsers()
            .expect("parsers")
            .into_iter()
            .map(|p| p.alias)
            .collect();
        assert!(HUNTING.len() >= 5);
        for (id, _) in HUNTING {
            let h = hunting(id).expect("hunting");
            assert!(!h.tactics.is_empty() && !h.techniques.is_empty(), "{id}");
            let source = h
                .query
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            assert!(
                aliases.contains(&source) || source == super::super::function_alias(),
                "{id} reads {source}"
            );
            let body = hunting_body(&h);
            assert_eq!(body["properties"]["category"], "Hunting Queries");
        }
    }

    /// Every Keeper event a hunting query quotes is a mapped event of a schema or cited in hunting/SOURCES.md.
    #[test]
    fn every_event_a_hunting_query_quotes_is_mapped_or_cited() {
        let sources = include_str!("../../../templates/sentinel/hunting/SOURCES.md");
        let mapped: Vec<String> = schemas()
            .expect("schemas")
            .iter()
            .flat_map(|s| s.events.keys().cloned().collect::<Vec<_>>())
            .collect();
        for (id, _) in HUNTING {
            let h = hunting(id).expect("hunting");
            for (i, quoted) in h.query.split('\'').enumerate() {
                let is_event = i % 2 == 1
                    && quoted.contains('_')
                    && quoted
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if is_event || (i % 2 == 1 && quoted == "share") {
                    assert!(
                        mapped.iter().any(|m| m == quoted)
                            || sources.contains(&format!("`{quoted}`")),
                        "{id}: `{quoted}` is neither mapped nor cited"
                    );
                }
            }
        }
    }
}
