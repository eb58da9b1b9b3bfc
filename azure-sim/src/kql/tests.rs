//! The KQL subset against the tool's own templates: the function, each rule and the workbook's queries.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::*;

const FUNCTION: &str = include_str!("../../../templates/sentinel/function.kql");
const TABLE_COLUMNS: &str = include_str!("../../../templates/table-columns.json");
const WORKBOOK: &str = include_str!("../../../templates/sentinel/workbook.json");

/// A stored row of the table, ingested a minute ago (its event time is older: Keeper's own).
fn event(audit_event: &str, user: &str, ip: &str) -> Value {
    let ingested = now() - time::Duration::minutes(1);
    json!({
        "TimeGenerated": "2026-01-05T10:15:00Z", "audit_event": audit_event, "remote_address": ip,
        "category": "security", "client_version": "EMConsole.17.0.0", "enterprise_id": 1234, "username": user,
        "timestamp": "2026-01-05T10:15:00Z", "data": {},
        INGESTION_TIME: ingested.format(&time::format_description::well_known::Rfc3339).expect("time")
    })
}

/// The table KeeperLogs_CL with `rows`, and the function KeeperSecurityEvents over it.
fn resolver(rows: Vec<Value>) -> impl Fn(&str) -> Option<Source> {
    let body = json!({ "properties": { "schema": { "columns": serde_json::from_str::<Value>(TABLE_COLUMNS).expect("columns") } } });
    move |name: &str| match name {
        "KeeperSecurityEvents" => Some(Source::Function {
            query: FUNCTION.replace("{{TABLE}}", "KeeperLogs_CL"),
            params: String::new(),
        }),
        "KeeperLogs_CL" => Some(Source::Table(Table::stored(&body, &rows))),
        _ => None,
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn rule_query(text: &str) -> String {
    serde_json::from_str::<Value>(text).expect("rule")["query"]
        .as_str()
        .expect("query")
        .to_string()
}

#[test]
fn the_function_renames_the_columns_to_keepers_solution_schema() {
    let r = resolver(vec![event("login", "a@x.com", "10.0.0.1")]);
    let t = eval("KeeperSecurityEvents", &r, now()).expect("function runs");
    let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "TimeGenerated",
            "AuditEvent",
            "RemoteAddress",
            "Category",
            "ClientVersion",
            "EnterpriseId",
            "Username",
            "Timestamp",
            "Data",
            "IngestionTime"
        ],
        "Keeper's solution's columns in its order, then when the row was ingested"
    );
    assert_eq!(t.columns[5].1, "int");
    assert_eq!(t.columns[9].1, "datetime");
    assert_eq!(t.rows[0]["Username"], "a@x.com");
    assert!(t.rows[0]["IngestionTime"].is_string(), "{:?}", t.rows[0]);
}

#[test]
fn a_rule_sees_an_event_that_arrived_late_once_and_an_old_ingestion_not_again() {
    let rule = rule_query(include_str!(
        "../../../templates/sentinel/rules/keeper-master-password-changed.json"
    ));
    let at = |minutes_ago: i64| {
        let mut e = event("change_master_password", "a@x.com", "10.0.0.1");
        let t = |m: i64| {
            (now() - time::Duration::minutes(m))
                .format(&time::format_description::well_known::Rfc3339)
                .expect("time")
        };
        // The event happened 90 minutes ago, outside an hour's window on TimeGenerated.
        e["TimeGenerated"] = json!(t(90));
        e[INGESTION_TIME] = json!(t(minutes_ago));
        e
    };
    let late = eval(&rule, &resolver(vec![at(10)]), now()).expect("runs");
    assert_eq!(
        late.rows.len(),
        1,
        "ingested within the last run's hour: seen"
    );
    let seen_before = eval(&rule, &resolver(vec![at(70)]), now()).expect("runs");
    assert!(
        seen_before.rows.is_empty(),
        "ingested before this hour: the previous run saw it"
    );
}

#[test]
fn keepers_two_rules_each_return_their_event() {
    let r = resolver(vec![
        event("login", "a@x.com", "10.0.0.1"),
        event("change_master_password", "b@x.com", "10.0.0.2"),
        event("set_two_factor_off", "c@x.com", "10.0.0.3"),
    ]);
    for (rule, user) in [
        (
            include_str!("../../../templates/sentinel/rules/keeper-master-password-changed.json"),
            "b@x.com",
        ),
        (
            include_str!("../../../templates/sentinel/rules/keeper-two-factor-changed.json"),
            "c@x.com",
        ),
    ] {
        let t = eval(&rule_query(rule), &r, now()).expect("rule runs");
        assert_eq!(t.rows.len(), 1, "{}", rule_query(rule));
        assert_eq!(t.rows[0]["Username"], user);
    }
}

#[test]
fn the_failed_login_burst_fires_at_five_failures_for_one_user() {
    let q = rule_query(include_str!(
        "../../../templates/sentinel/rules/keeper-failed-login-burst.json"
    ));
    let mut rows: Vec<Value> = (0..4)
        .map(|i| event("login_failure", "a@x.com", &format!("10.0.0.{i}")))
        .collect();
    rows.push(event("login_failure", "b@x.com", "10.0.0.9"));
    let t = eval(&q, &resolver(rows.clone()), now()).expect("runs");
    assert!(t.rows.is_empty(), "four failures are not a burst");
    rows.push(event("two_factor_code_invalid", "a@x.com", "10.0.0.7"));
    let t = eval(&q, &resolver(rows), now()).expect("runs");
    assert_eq!(t.rows.len(), 1);
    let r = &t.rows[0];
    assert_eq!(
        (
            r["Username"].clone(),
            r["FailedAttempts"].clone(),
            r["DistinctAddresses"].clone()
        ),
        (json!("a@x.com"), json!(5), json!(5))
    );
    assert_eq!(r["RemoteAddress"], "10.0.0.0");
}

#[test]
fn every_rule_and_every_workbook_query_runs() {
    let r = resolver(vec![
        event("login", "a@x.com", "10.0.0.1"),
        event("delete_user", "b@x.com", "10.0.0.2"),
    ]);
    for text in [
        include_str!("../../../templates/sentinel/rules/keeper-admin-role-policy-changed.json"),
        include_str!(
            "../../../templates/sentinel/rules/keeper-account-transferred-or-deleted.json"
        ),
        include_str!("../../../templates/sentinel/rules/keeper-audit-alerting-disabled.json"),
        include_str!("../../../templates/sentinel/rules/keeper-two-factor-disabled-by-admin.json"),
    ] {
        eval(&rule_query(text), &r, now()).unwrap_or_else(|e| panic!("{}: {e}", rule_query(text)));
    }
    fn queries(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => o.iter().for_each(|(k, v)| match (k.as_str(), v) {
                ("query", Value::String(q)) => out.push(q.clone()),
                _ => queries(v, out),
            }),
            Value::Array(a) => a.iter().for_each(|v| queries(v, out)),
            _ => {}
        }
    }
    let mut qs = vec![];
    queries(&serde_json::from_str(WORKBOOK).expect("workbook"), &mut qs);
    assert!(qs.len() >= 10);
    for q in qs {
        // The workbook substitutes its parameters before running a query.
        let q = q
            .replace("{SelectedUsername:escape}", "a@x.com")
            .replace("{TimeRange:start}", "2026-01-01T00:00:00.000Z")
            .replace("{TimeRange:end}", "2026-02-01T00:00:00.000Z");
        let t = eval(&q, &r, now()).unwrap_or_else(|e| panic!("{q}\n{e}"));
        assert!(!t.columns.is_empty(), "{q}");
    }
}

#[test]
fn an_unknown_table_and_an_unknown_column_are_semantic_errors() {
    let r = resolver(vec![]);
    assert!(eval("Nope_CL | take 1", &r, now()).is_err());
    assert!(eval(
        "KeeperSecurityEvents | where nope == 1",
        &resolver(vec![event("a", "b", "c")]),
        now()
    )
    .is_err());
    let t = eval(
        "KeeperSecurityEvents | summarize TotalEvents = count()",
        &r,
        now(),
    )
    .expect("runs");
    assert_eq!(
        t.rows[0]["TotalEvents"], 0,
        "count() of nothing is one row of 0"
    );
}

#[test]
fn has_matches_whole_terms_and_contains_any_substring() {
    let r = resolver(vec![
        event("login_failure", "ann@example.com", "10.0.0.1"),
        event("blogin", "bob@example.com", "10.0.0.2"),
    ]);
    let count = |cond: &str| {
        eval(
            &format!("KeeperLogs_CL | where {cond} | summarize n = count()"),
            &r,
            now(),
        )
        .expect("runs")
        .rows[0]["n"]
            .clone()
    };
    assert_eq!(count("audit_event has 'LOGIN'"), 1, "a term, any case");
    assert_eq!(count("audit_event has 'log'"), 0, "not part of a term");
    assert_eq!(count("audit_event contains 'log'"), 2);
    assert_eq!(count("username has 'example.com'"), 2, "a phrase of terms");
    assert_eq!(count("username has 'ample.com'"), 0);
    assert_eq!(count("audit_event !has 'failure'"), 1);
}

#[test]
fn a_column_a_row_was_sent_without_reads_as_null() {
    let body = json!({ "properties": { "schema": { "columns": serde_json::from_str::<Value>(TABLE_COLUMNS).expect("columns") } } });
    let rows = vec![
        json!({"TimeGenerated": "2026-12-01T00:00:00Z", "audit_event": "login", "username": "a@example.com", "timestamp": "2026-12-01T00:00:00Z", INGESTION_TIME: "2026-12-01T00:00:00Z"}),
    ];
    let tables = |n: &str| (n == "KeeperLogs_CL").then(|| Table::stored(&body, &rows).into());
    let t = eval(
        &FUNCTION.replace("{{TABLE}}", "KeeperLogs_CL"),
        &tables,
        now(),
    )
    .expect("the function runs over a row without remote_address or data");
    assert_eq!(t.rows.len(), 1);
    assert_eq!(t.rows[0]["RemoteAddress"], Value::Null);
    assert_eq!(t.rows[0]["Username"], "a@example.com");
}

/// The filters a "no data" log alert puts on the table: the tool's own test events left out with `not(… has …)`,
/// `!has` or `!contains` (case-insensitive), joined with `and` / `or`; `_cs` operators match case.
#[test]
fn a_no_data_alerts_filters_leave_out_the_tools_own_events() {
    let with_data = |marker: &str| {
        let mut e = event("login", "a@example.com", "10.0.0.1");
        e["data"] = json!({ "note": marker });
        e
    };
    let r = resolver(vec![
        with_data("keeper_azmon_verify"),
        with_data("keeper_azmon_backfill"),
        with_data("KEEPER_AZMON_VERIFY"),
        with_data("a real event"),
    ]);
    let count = |cond: &str| {
        eval(&format!("KeeperLogs_CL | where {cond}"), &r, now())
            .unwrap_or_else(|e| panic!("{cond}: {e}"))
            .rows
            .len()
    };
    assert_eq!(
        count(
            r#"not(tostring(data) has "keeper_azmon_verify") and not(tostring(data) has "keeper_azmon_backfill")"#
        ),
        1
    );
    assert_eq!(
        count(
            r#"tostring(data) !has "keeper_azmon_verify" and tostring(data) !has "keeper_azmon_backfill""#
        ),
        1
    );
    assert_eq!(
        count(r#"tostring(data) !contains "keeper_azmon_" or tostring(data) has "real""#),
        1
    );
    assert_eq!(
        count(r#"tostring(data) !contains "keeper_azmon_verify""#),
        2
    );
    assert_eq!(
        count(r#"tostring(data) has_cs "keeper_azmon_verify""#),
        1,
        "case-sensitive"
    );
    assert_eq!(
        count(r#"tostring(data) !contains_cs "KEEPER" and TimeGenerated > ago(3650d)"#),
        3
    );
}

// ---------- functions with parameters, union, and the scalars ASIM parsers use ----------

/// A table of `rows`, its columns those the rows carry (serde_json's maps keep keys sorted).
fn table(rows: Vec<Value>) -> Table {
    let mut columns: Vec<(String, String)> = vec![];
    for r in &rows {
        for k in r.as_object().expect("a row is an object").keys() {
            if !columns.iter().any(|(c, _)| c == k) {
                columns.push((k.clone(), "string".into()));
            }
        }
    }
    let rows = rows
        .into_iter()
        .filter_map(|r| r.as_object().cloned())
        .collect();
    Table { columns, rows }
}

/// Tables by name, and functions as (alias, functionParameters, query).
fn sources(
    tables: Vec<(&'static str, Vec<Value>)>,
    functions: Vec<(&'static str, &'static str, &'static str)>,
) -> impl Fn(&str) -> Option<Source> {
    move |name: &str| {
        if let Some((_, rows)) = tables.iter().find(|(n, _)| *n == name) {
            return Some(Source::Table(table(rows.clone())));
        }
        functions
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, params, query)| Source::Function {
                query: query.to_string(),
                params: params.to_string(),
            })
    }
}

fn signins() -> Vec<Value> {
    vec![
        json!({"TimeGenerated": "2026-01-01T10:00:00Z", "User": "ann", "Result": "Success", "Ip": "10.1.2.3", "N": 1}),
        json!({"TimeGenerated": "2026-01-02T10:00:00Z", "User": "bob", "Result": "Failure", "Ip": "10.10.0.1", "N": 2}),
        json!({"TimeGenerated": "2026-01-03T10:00:00Z", "User": "cat", "Result": "Failure", "Ip": "192.168.0.9", "N": 3}),
    ]
}

/// An ASIM-style parser: every filter a parameter with a default that lets everything through.
const PARSER_PARAMS: &str = "starttime:datetime=datetime(null), endtime : datetime = datetime(null), username_has_any:dynamic=dynamic([]), eventresult:string='*', disabled:bool=False, limit:int";
const PARSER: &str = "SigninLogs
    | where (isnull(starttime) or TimeGenerated >= starttime) and (isnull(endtime) or TimeGenerated <= endtime)
    | where array_length(username_has_any) == 0 or User has_any (username_has_any)
    | where eventresult == '*' or Result == eventresult
    | where not(disabled)
    | take limit";

fn parser_world() -> impl Fn(&str) -> Option<Source> {
    sources(
        vec![("SigninLogs", signins())],
        vec![
            ("vimSignin", PARSER_PARAMS, PARSER),
            (
                "vimSigninFailures",
                "starttime:datetime=datetime(null), disabled:bool=false",
                "vimSignin(starttime=starttime, disabled=disabled, eventresult='Failure', limit=10)",
            ),
            ("Loop", "", "Loop | take 1"),
            ("ReadsMissing", "", "NoSuchTable_CL | take 1"),
            ("Echo", "User:string='nobody', tag:string='t'", "SigninLogs | extend Seen = User, Tag = tag"),
        ],
    )
}

fn users(t: &Table) -> Vec<String> {
    t.rows.iter().map(|r| expr::text(&r["User"])).collect()
}

#[test]
fn a_function_runs_with_its_defaults_and_positional_and_named_arguments() {
    let r = parser_world();
    let run = |q: &str| eval(q, &r, now()).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(users(&run("vimSignin(limit=10)")), ["ann", "bob", "cat"]);
    assert_eq!(
        users(&run("vimSignin(datetime(2026-01-02T00:00:00Z), limit=10)")),
        ["bob", "cat"],
        "positional starttime"
    );
    assert_eq!(
        users(&run(
            "vimSignin(username_has_any=dynamic(['ANN', 'cat']), limit=10)"
        )),
        ["ann", "cat"]
    );
    assert_eq!(
        users(&run("vimSignin(eventresult='Failure', limit=1)")),
        ["bob"]
    );
    assert!(run("vimSignin(disabled=true, limit=10)").rows.is_empty());
    assert_eq!(
        users(&run(
            "vimSignin(limit=10) | where User != 'ann' | project User"
        )),
        ["bob", "cat"],
        "pipes after a call"
    );
}

#[test]
fn a_call_with_a_missing_an_unknown_or_a_mistyped_argument_is_an_error() {
    let r = parser_world();
    let err = |q: &str| eval(q, &r, now()).expect_err(q);
    assert!(err("vimSignin").contains("'limit'"), "{}", err("vimSignin"));
    assert!(err("vimSignin(limit=1, nope=2)").contains("nope"));
    assert!(err("vimSignin(limit='many')").contains("limit"));
    assert!(err("vimSignin(1, 2, 3, 4, 5, 6, 7)").contains("arguments"));
    assert!(err("vimSignin(limit=1, limit=2)").contains("twice"));
    assert!(err("SigninLogs(1)").contains("table"));
}

#[test]
fn a_function_passes_its_own_parameters_on_to_the_function_it_calls() {
    let r = parser_world();
    let t = eval("vimSigninFailures", &r, now()).expect("runs");
    assert_eq!(users(&t), ["bob", "cat"]);
    let t = eval(
        "vimSigninFailures(starttime=datetime(2026-01-03T00:00:00Z))",
        &r,
        now(),
    )
    .expect("runs");
    assert_eq!(users(&t), ["cat"]);
    let t = eval("vimSigninFailures(disabled=true)", &r, now()).expect("runs");
    assert!(t.rows.is_empty());
}

#[test]
fn a_column_named_like_a_parameter_reads_as_the_column() {
    let t = eval("Echo", &parser_world(), now()).expect("runs");
    assert_eq!(t.rows[0]["Seen"], "ann", "the row's column wins");
    assert_eq!(t.rows[0]["Tag"], "t", "no such column: the parameter");
}

#[test]
fn a_function_that_calls_itself_stops_with_a_recursion_error() {
    let e = eval("Loop", &parser_world(), now()).expect_err("recursion");
    assert!(e.contains("recursion"), "{e}");
}

#[test]
fn union_joins_the_columns_in_first_seen_order_and_fills_the_missing_with_null() {
    let r = sources(
        vec![
            ("A", vec![json!({"X": 1, "Y": "a"})]),
            ("B", vec![json!({"Z": true, "X": 2})]),
        ],
        vec![("F", "k:long=3", "A | extend K = k")],
    );
    let t = eval(
        "union A,\n  // the second source\n  B, F(k=4), (A | where X == 1 | project Y) | where isnotnull(X) or isnotnull(Y)",
        &r,
        now(),
    )
    .expect("runs");
    let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["X", "Y", "Z", "K"]);
    assert_eq!(t.rows.len(), 4);
    assert_eq!(t.rows[0]["Z"], Value::Null);
    assert_eq!(t.rows[1]["Y"], Value::Null);
    assert_eq!(t.rows[2]["K"], 4);
    assert_eq!(t.rows[3]["X"], Value::Null);
}

#[test]
fn union_isfuzzy_skips_what_does_not_resolve_and_fails_only_when_nothing_does() {
    let r = parser_world();
    let e = eval("union SigninLogs, Nope_CL", &r, now()).expect_err("not fuzzy");
    assert!(e.contains("Nope_CL"), "{e}");
    let t = eval(
        "union isfuzzy=true SigninLogs, Nope_CL, ReadsMissing, vimSignin(limit=1)",
        &r,
        now(),
    )
    .expect("fuzzy");
    assert_eq!(users(&t), ["ann", "bob", "cat", "ann"]);
    assert!(eval("union isfuzzy=true Nope_CL, ReadsMissing", &r, now()).is_err());
    assert!(
        eval("union isfuzzy=true SigninLogs, vimSignin", &r, now()).is_err(),
        "a leg that resolves but fails is still an error"
    );
}

/// The value of `e` over the first sign-in row.
fn scalar(e: &str) -> Value {
    let r = parser_world();
    let q = format!("SigninLogs | take 1 | extend Out = {e}");
    eval(&q, &r, now())
        .unwrap_or_else(|err| panic!("{e}: {err}"))
        .rows[0]["Out"]
        .clone()
}

#[test]
fn dynamic_literals_and_typed_nulls() {
    assert_eq!(scalar("dynamic(['a', 'b'])"), json!(["a", "b"]));
    assert_eq!(
        scalar(r#"dynamic(["it's", 'say "hi"'])"#),
        json!(["it's", "say \"hi\""])
    );
    assert_eq!(scalar("dynamic([])"), json!([]));
    assert_eq!(scalar("dynamic(null)"), Value::Null);
    assert_eq!(scalar(r#"dynamic({"a": {"b": 2}}).a.b"#), 2);
    assert_eq!(scalar(r#"dynamic({"ann": "x", "bob": "y"})[User]"#), "x");
    assert_eq!(scalar("dynamic([10, 20])[1]"), 20);
    assert_eq!(scalar("datetime(null)"), Value::Null);
    assert_eq!(scalar("int(null)"), Value::Null);
    assert_eq!(
        scalar("datetime(2026-01-01T00:00:00Z)"),
        "2026-01-01T00:00:00Z"
    );
}

#[test]
fn the_conditional_and_conversion_functions() {
    assert_eq!(scalar("case(N == 2, 'two', N == 1, 'one', 'many')"), "one");
    assert_eq!(scalar("case(false, 'x', 'else')"), "else");
    assert_eq!(scalar("iff(N > 0, 'pos', 'neg')"), "pos");
    assert_eq!(scalar("iif(N > 5, 'big', 'small')"), "small");
    assert_eq!(scalar("coalesce(datetime(null), '', 'x', 'y')"), "x");
    assert_eq!(scalar("array_length(dynamic([1, 2, 3]))"), 3);
    assert_eq!(scalar("array_length('abc')"), Value::Null);
    assert_eq!(scalar("column_ifexists('User', 'none')"), "ann");
    assert_eq!(scalar("column_ifexists('Missing', 'none')"), "none");
    assert_eq!(scalar("int(5)"), 5);
    assert_eq!(scalar("long(7)"), 7);
    assert_eq!(scalar("real(1.5)"), 1.5);
    assert_eq!(scalar("bool(true)"), true);
    assert_eq!(scalar("tobool('TRUE')"), true);
    assert_eq!(scalar("tobool('x')"), Value::Null);
    assert_eq!(scalar(r#"todynamic('{"a": [1]}').a[0]"#), 1);
    assert_eq!(scalar("parse_json(dynamic([1]))"), json!([1]));
    assert_eq!(scalar("strlen(User)"), 3);
    assert_eq!(scalar(r#"bag_has_key(dynamic({"k": 1}), 'k')"#), true);
}

#[test]
fn has_any_in_with_arrays_and_ipv4_prefixes() {
    let r = parser_world();
    let who = |cond: &str| {
        users(
            &eval(&format!("vimSignin(limit=10) | where {cond}"), &r, now())
                .unwrap_or_else(|e| panic!("{cond}: {e}")),
        )
    };
    assert_eq!(who("User has_any ('ANN', 'bob')"), ["ann", "bob"]);
    assert_eq!(who("User has_any (dynamic(['cat']))"), ["cat"]);
    assert!(
        who("User has_any (dynamic([]))").is_empty(),
        "no terms: false"
    );
    assert!(who("User has_any ('an')").is_empty(), "whole terms");
    assert_eq!(who("User in (dynamic(['ann', 'cat']))"), ["ann", "cat"]);
    assert_eq!(who("User !in (dynamic(['ann']), 'cat')"), ["bob"]);
    assert_eq!(who("User in~ (dynamic(['BOB']))"), ["bob"]);
    assert_eq!(
        who("has_any_ipv4_prefix(Ip, '10.1')"),
        ["ann"],
        "an octet boundary"
    );
    assert_eq!(who("has_any_ipv4_prefix(Ip, '10.')"), ["ann", "bob"]);
    assert_eq!(
        who("has_any_ipv4_prefix(Ip, dynamic(['192.168.', '10.10.0.1']))"),
        ["bob", "cat"]
    );
}

#[test]
fn conditional_aggregations_distinct_and_project_away() {
    let r = parser_world();
    let t = eval(
        "SigninLogs | summarize First = minif(TimeGenerated, Result == 'Failure'), Last = maxif(N, Result == 'Failure'), Users = dcountif(User, Result == 'Failure'), Set = make_set_if(User, N > 1), None = minif(N, false)",
        &r,
        now(),
    )
    .expect("runs");
    let row = &t.rows[0];
    assert_eq!(row["First"], "2026-01-02T10:00:00Z");
    assert_eq!(row["Last"], 3);
    assert_eq!(row["Users"], 2);
    assert_eq!(row["Set"], json!(["bob", "cat"]));
    assert_eq!(row["None"], Value::Null);
    let t = eval(
        "SigninLogs | distinct Result | order by Result asc",
        &r,
        now(),
    )
    .expect("runs");
    assert_eq!(t.columns.len(), 1);
    assert_eq!(t.rows.len(), 2);
    let t = eval("SigninLogs | project-away Time*, Ip", &r, now()).expect("runs");
    // In any order: the workspace build turns on serde_json's preserve_order (Keeper's SDK), which keeps a row's
    // keys in insertion order rather than sorted.
    let mut names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["N", "Result", "User"]);
    assert!(!t.rows[0].contains_key("Ip"));
}

#[test]
fn malformed_queries_are_errors_not_panics() {
    let r = parser_world();
    for q in [
        "",
        "union",
        "union isfuzzy=",
        "union isfuzzy=true",
        "union A,,B",
        "union withsource=T A",
        "vimSignin(",
        "vimSignin(limit=)",
        "(SigninLogs",
        "SigninLogs | where User has_any (",
        "SigninLogs | extend x = dynamic([1,",
        "SigninLogs | extend x = dynamic({'a': })",
        "SigninLogs | extend x = case(true)",
        "SigninLogs | extend x = iff(true, 1)",
        "SigninLogs | extend x = column_ifexists('a')",
        "SigninLogs | distinct",
        "SigninLogs | summarize minif(N)",
        "Nope(x=1)",
        "F(a=1) extra",
    ] {
        assert!(eval(q, &r, now()).is_err(), "{q:?}");
    }
    for params in ["x", "x:table", "x:int=", "x:int=1 2"] {
        let r = sources(vec![], vec![("F", params, "print 1")]);
        assert!(eval("F(x=1)", &r, now()).is_err(), "{params:?}");
    }
}

/// Every prefix of queries that use the new syntax runs or fails with an error, never a panic (azure-sim has no
/// proptest; truncation reaches each half-written literal, call and union).
#[test]
fn every_prefix_of_a_query_is_an_answer_or_an_error() {
    let r = parser_world();
    let queries = [
        "union isfuzzy=true vimSignin(starttime=datetime(2026-01-02T00:00:00Z), username_has_any=dynamic(['ann', \"bob\"]), limit=5),\n // c\n (SigninLogs | where Ip has_any ('10.1.', 'x')) | distinct User",
        "SigninLogs | extend K = dynamic({\"a\": [1, {'b': 'c'}]})[User], C = case(N == 1, iff(true, int(null), 2), coalesce(datetime(null), 'x')) | project-away K*",
        "SigninLogs | summarize m = minif(N, User !in (dynamic(['ann']))), s = make_set_if(User, has_any_ipv4_prefix(Ip, '10.')) by Result",
    ];
    for q in queries {
        eval(q, &r, now()).unwrap_or_else(|e| panic!("{q}: {e}"));
        for (i, _) in q.char_indices() {
            let _ = eval(&q[..i], &r, now());
        }
    }
}
