//! The Commander mapping's tests: each export shape, the classic rows, the cutoff, escapes.

use super::*;
use serde_json::json;

fn map(m: &Mapping, text: &str) -> Result<Value, String> {
    let mut out = b"[".to_vec();
    out.extend_from_slice(text.as_bytes());
    m.finish_event(&mut out, 1).map_err(|e| e.to_string())?;
    Ok(serde_json::from_slice(&out[1..]).expect("what is written is JSON"))
}

/// Each fixture's events, as the tests/fixtures/commander/*.json files hold them.
fn fixture(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/fixtures/commander/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

#[test]
fn audit_log_json_fills_every_column_and_keeps_the_rest_in_data() {
    let m = Mapping::new(Some(1234));
    let events = fixture("audit-log.json");
    let row = map(&m, &events[0].to_string()).expect("mapped");
    assert_eq!(row["TimeGenerated"], "2025-01-23T01:31:11Z");
    assert_eq!(row["timestamp"], "2025-01-23T01:31:11Z");
    assert_eq!(row["audit_event"], "change_master_password");
    assert_eq!(row["remote_address"], "203.0.113.7");
    assert_eq!(row["client_version"], "Web Vault 17.2.1");
    assert_eq!(row["username"], "alice@example.com");
    assert_eq!(row["enterprise_id"], 1234);
    assert_eq!(
        row["category"], "account",
        "from Keeper's published categories"
    );
    assert_eq!(row["data"]["geo_location"], "Dublin, Leinster, IE");
    assert!(
        row["data"].get("timestamp").is_none(),
        "the time is a column, not data"
    );
    let share = map(&m, &events[2].to_string()).expect("mapped");
    for f in ["to_username", "record_uid", "shared_folder_uid", "node"] {
        assert!(share["data"].get(f).is_some(), "{f} kept in data: {share}");
    }
    assert_eq!(
        share["category"],
        Value::Null,
        "no published category for `folder_add_user`: left empty"
    );
}

#[test]
fn audit_report_json_has_created_with_an_offset_and_titles() {
    let m = Mapping::new(Some(1234));
    let events = fixture("audit-report.json");
    let row = map(&m, &events[0].to_string()).expect("mapped");
    assert_eq!(
        row["TimeGenerated"], "2025-01-23T01:33:10Z",
        "+00:00 written as Z"
    );
    assert_eq!(row["audit_event"], "login_failure");
    assert_eq!(row["data"]["channel"], "Web Vault");
    assert_eq!(row["data"]["status"], "auth_failed");
    let rec = map(&m, &events[1].to_string()).expect("mapped");
    assert_eq!(rec["data"]["record_title"], "Payroll DB");
    assert_eq!(rec["data"]["node_title"], "Finance");
}

#[test]
fn raw_api_rows_carry_epoch_seconds_and_an_id() {
    let m = Mapping::new(None);
    let row = map(
        &m,
        r#"{"id": "7f3a", "created": 1737595871, "audit_event_type": "login", "username": "bob@example.com", "keeper_version": 1042}"#,
    )
    .expect("mapped");
    assert_eq!(row["TimeGenerated"], "2025-01-23T01:31:11Z");
    assert_eq!(
        row["client_version"], "1042",
        "a numeric version is written out"
    );
    assert_eq!(row["data"]["id"], "7f3a", "the event id is kept");
    assert!(
        row.get("enterprise_id").is_none(),
        "no --enterprise-id: left out"
    );
    let ms = map(
        &m,
        r#"{"created": 1737595871123, "audit_event_type": "login"}"#,
    )
    .expect("mapped");
    assert_eq!(ms["TimeGenerated"], "2025-01-23T01:31:11.123Z");
}

#[test]
fn the_events_own_category_and_a_commander_event_type_list_win() {
    let m = Mapping::new(Some(1))
        .with_event_types(br#"[{"id": 1, "name": "login", "category": "security", "syslog": "User ${username} logged in"}, {"id": 2, "name": "account_recovery", "category": "policy"}]"#)
        .expect("list");
    let row = map(
        &m,
        r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "login"}"#,
    )
    .expect("mapped");
    assert_eq!(row["category"], "security");
    let over = map(
        &m,
        r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "account_recovery"}"#,
    )
    .expect("mapped");
    assert_eq!(
        over["category"], "policy",
        "the list is over the built-in one"
    );
    let own = map(
        &m,
        r#"{"timestamp": "2025-01-23T01:31:11Z", "audit_event_type": "login", "category": "mine"}"#,
    )
    .expect("mapped");
    assert_eq!(own["category"], "mine");
    assert!(Mapping::new(None)
        .with_event_types(b"[{\"id\": 1}]")
        .is_err());
    assert!(Mapping::new(None).with_event_types(b"{").is_err());
}

#[test]
fn what_is_not_a_commander_event_is_refused_and_removed() {
    let m = Mapping::new(None);
    let mut out = b"[{\"a\":1}".to_vec();
    let start = out.len();
    out.extend_from_slice(br#"{"audit_event_type": "login"}"#);
    let why = m.finish_event(&mut out, start).expect_err("no time");
    assert!(why.to_string().contains("no event time"), "{why}");
    assert_eq!(out, b"[{\"a\":1}", "the bad event is gone from the buffer");
    assert!(
        map(&m, r#"{"timestamp": "yesterday", "audit_event_type": "x"}"#)
            .expect_err("bad time")
            .contains("yesterday")
    );
    assert!(map(&m, r#"{"timestamp": "2025-01-23T01:31:11Z"}"#).is_err());
    assert!(map(&m, "[1]").is_err());
    assert!(map(&m, "{oops").is_err());
}

#[test]
fn a_classic_row_maps_like_the_event_commander_posted() {
    let m = Mapping::new(Some(1234));
    let row = json!({
        "TenantId": "6b3c…", "SourceSystem": "RestAPI", "TimeGenerated": "2026-03-01T10:00:00Z", "Type": "Keeper_CL",
        "audit_event_type_s": "folder_add_user", "username_s": "alice@example.com", "ip_address_s": "203.0.113.7",
        "keeper_version_s": "Commander 17.0.4", "geo_location_s": "Dublin, Leinster, IE",
        "to_username_s": "carol@example.com", "node_d": 5299989643266.0, "timestamp_t": "2025-01-23T01:35:05Z",
        "odd_d": 0.5, "flag_b": true, "plain": "kept"
    });
    let Value::Object(row) = row else {
        unreachable!()
    };
    let cells: Vec<(String, String)> = row
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    let mut out = Vec::new();
    m.write_classic_row(
        cells.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &mut out,
    )
    .expect("mapped");
    let v: Value = serde_json::from_slice(&out).expect("json");
    let from_export = map(&m, &fixture("audit-log.json")[2].to_string()).expect("mapped");
    for col in [
        "TimeGenerated",
        "audit_event",
        "remote_address",
        "client_version",
        "username",
        "enterprise_id",
        "timestamp",
    ] {
        assert_eq!(
            v[col], from_export[col],
            "{col}: the classic row lands as the export does"
        );
    }
    assert_eq!(
        v["TimeGenerated"], "2025-01-23T01:35:05Z",
        "the event's time, not the ingestion's"
    );
    assert_eq!(
        v["data"]["node"], 5299989643266u64,
        "a whole double is an id again"
    );
    assert_eq!(v["data"]["to_username"], "carol@example.com");
    assert_eq!(v["data"]["odd"], 0.5);
    assert_eq!(v["data"]["flag"], true);
    assert_eq!(v["data"]["plain"], "kept");
    assert!(v["data"].get("TenantId").is_none() && v["data"].get("Type").is_none());
}

#[test]
fn events_at_or_after_the_cutoff_are_already_streamed_and_leave_the_buffer_as_it_was() {
    let until = OffsetDateTime::parse("2025-01-23T01:33:10Z", &Rfc3339).expect("time");
    let m = Mapping::new(None).with_until(Some(until));
    let mut out = b"[".to_vec();
    for (t, expected) in [
        ("\"2025-01-23T01:33:09.999Z\"", Ok(())),
        ("\"2025-01-23T01:33:10Z\"", Err(Unsent::AlreadyStreamed)),
        (
            "\"2025-01-23T03:33:10+02:00\"",
            Err(Unsent::AlreadyStreamed),
        ),
        ("1737596000", Err(Unsent::AlreadyStreamed)),
    ] {
        let before = out.clone();
        let start = out.len();
        out.extend_from_slice(
            format!(r#"{{"audit_event_type": "login", "created": {t}}}"#).as_bytes(),
        );
        assert_eq!(m.finish_event(&mut out, start), expected, "{t}");
        if expected.is_err() {
            assert_eq!(out, before, "{t}: not left in the batch");
        }
    }
    let v: Value = serde_json::from_slice(&out[1..]).expect("json");
    assert_eq!(v["TimeGenerated"], "2025-01-23T01:33:09.999Z");
}

#[test]
fn keys_and_values_with_escapes_are_kept_as_json() {
    let m = Mapping::new(None);
    let row = map(
        &m,
        r#"{"audit_event_type": "log\u0069n", "timestamp": "2025-01-23T01:31:11Z", "we\"ird": "a\nb", "nested": {"x": [1, 2.50]}, "username": ""}"#,
    )
    .expect("mapped");
    assert_eq!(row["audit_event"], "login");
    assert!(
        row.get("category").is_none(),
        "no published category for login"
    );
    assert_eq!(row["data"]["we\"ird"], "a\nb");
    assert_eq!(
        row["data"]["nested"]["x"][1].to_string(),
        "2.50",
        "numbers pass as written"
    );
    assert!(
        row.get("username").is_none(),
        "an empty string fills nothing"
    );
}

#[test]
fn commander_events_are_told_from_the_guides_shape() {
    assert_eq!(
        looks_like_commander(br#"{"audit_event_type": "login"}"#),
        Some(true)
    );
    assert_eq!(
        looks_like_commander(br#"{"audit_event": "login", "audit_event_type": "x"}"#),
        Some(false)
    );
    assert_eq!(
        looks_like_commander(br#"{"data": {"audit_event_type": "login"}}"#),
        Some(false),
        "only top-level keys count"
    );
    assert_eq!(looks_like_commander(b"{oops"), None);
}

#[test]
fn every_built_in_category_names_distinct_event_types() {
    let v: Value =
        serde_json::from_str(include_str!("../../templates/keeper-event-categories.json"))
            .expect("template is JSON");
    let listed: usize = v["categories"]
        .as_object()
        .expect("categories")
        .values()
        .map(|e| e.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(listed, built_in_categories().len(), "no event type twice");
    assert!(listed > 0);
}

#[test]
fn a_created_beyond_any_date_is_malformed_not_a_panic_nor_1969() {
    let m = Mapping::new(None);
    for created in [
        "1e400",
        "-1e400",
        "1e30",
        "-9223372036854775808",
        "9223372036854775807",
        "1.7976931348623157e308",
    ] {
        let text = format!(r#"{{"audit_event_type": "login", "created": {created}}}"#);
        let why = map(&m, &text).expect_err(created);
        assert!(why.contains(created), "{created}: {why}");
    }
    let ok = map(
        &m,
        r#"{"audit_event_type": "login", "created": 1737595871.5}"#,
    )
    .expect("a time");
    assert_eq!(ok["timestamp"], "2025-01-23T01:31:11.5Z");
}
