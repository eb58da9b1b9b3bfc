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
fn resolver(rows: Vec<Value>) -> impl Fn(&str) -> Option<Table> {
    let body = json!({ "properties": { "schema": { "columns": serde_json::from_str::<Value>(TABLE_COLUMNS).expect("columns") } } });
    move |name: &str| {
        let tables = |n: &str| (n == "KeeperLogs_CL").then(|| Table::stored(&body, &rows));
        match name {
            "KeeperSecurityEvents" => eval(
                &FUNCTION.replace("{{TABLE}}", "KeeperLogs_CL"),
                &tables,
                now(),
            )
            .ok(),
            n => tables(n),
        }
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
    let t = r("KeeperSecurityEvents").expect("function runs");
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
    let tables = |n: &str| (n == "KeeperLogs_CL").then(|| Table::stored(&body, &rows));
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
