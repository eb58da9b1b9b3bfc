//! Property tests of every parser of outside input (issue 21): event lines and arrays, Commander events and
//! classic rows, names, locations, Retry-After, Azure's error bodies, Endpoint URLs and cloud profiles, the KSM
//! config and the state file. None may panic, and each refusal says what is wrong.
//!
//! The crate is a binary, so the properties live here, beside the code they reach through its public items.
//! 256 cases each (fewer where a case touches the file system), so the suite stays fast.

use std::io::Cursor;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::commander::Mapping;
use crate::error::Error;
use crate::events::{EventReader, Shape, Unsent};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failure is shrunk to its smallest input, within reason.
        max_shrink_iters: 2048,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, up to three levels deep: what a file, an Azure answer or a config may hold.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// An object key: one the parsers look for, or anything.
fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "audit_event_type",
            "audit_event",
            "created",
            "timestamp",
            "TimeGenerated",
            "username",
            "ip_address",
            "keeper_version",
            "category",
            "enterprise_id",
            "record_uid",
            "data",
            "error",
            "code",
            "message",
            "details",
            "target",
            "error_description",
        ])
        .prop_map(str::to_string),
        ".{0,10}",
    ]
}

/// Text of a JSON number as a file may carry it, in or far out of any range: `1e400`, thirty digits, `-0.5`.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "-?[0-9]{1,30}(\\.[0-9]{1,12})?([eE][+-]?[0-9]{1,4})?",
    ]
}

/// A field of the stream's (templates/table-columns.json) with a value of its column's type: what an event of a
/// valid file holds (a field Logs Ingestion would drop or leave empty is refused, src/events.rs).
fn column_field() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        (
            prop::sample::select(vec![
                "audit_event",
                "remote_address",
                "category",
                "client_version",
                "username",
            ]),
            ".{0,12}",
        )
            .prop_map(|(k, v)| (k.to_string(), Value::String(v))),
        any::<i32>().prop_map(|i| ("enterprise_id".to_string(), Value::from(i))),
        json_value().prop_map(|v| ("data".to_string(), v)),
        Just(("timestamp".to_string(), Value::from("2025-01-01T00:00:00Z"))),
    ]
}

/// Text of a JSON number within what an event time can be: epoch seconds or milliseconds of years 1 to 9999
/// and beyond (the `..._far_out_of_range` properties below take any number).
fn number_text_in_range() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1_000_000_000_000_000i64..1_000_000_000_000_000).prop_map(|i| i.to_string()),
        (-1e15f64..1e15).prop_map(|f| f.to_string()),
        "-?[0-9]{1,15}(\\.[0-9]{1,12})?([eE][+-]?[0-9])?",
    ]
}

/// A Commander event with `fields`, `created` as given and maybe an event type, checked as `send` reads it.
fn check_commander_event(
    fields: &[(String, Value)],
    created: &str,
    event_type: Option<&str>,
) -> Result<(), TestCaseError> {
    let mut text = String::from("{");
    if let Some(t) = event_type {
        text.push_str(&format!("\"audit_event_type\":{},", Value::from(t)));
    }
    text.push_str(&format!("\"created\":{created}"));
    for (k, v) in fields {
        text.push_str(&format!(",{}:{v}", Value::from(k.as_str())));
    }
    text.push('}');
    let got = read_all(text.as_bytes(), Shape::Commander(Mapping::new(Some(1234))));
    check_reading(text.as_bytes(), &got)?;
    for (_, sent) in &got {
        if let Ok(event) = sent {
            let o: Map<String, Value> =
                serde_json::from_slice(event).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(
                o.get("TimeGenerated").is_some_and(Value::is_string),
                "{o:?}"
            );
            prop_assert!(o.contains_key("audit_event"), "{o:?}");
        }
    }
    Ok(())
}

/// A classic table's row of `cells` (column, JSON text), checked as `import-classic` maps it.
fn check_classic_row(cells: &[(String, String)]) -> Result<(), TestCaseError> {
    let mut out = Vec::new();
    let mapped = Mapping::new(Some(1234)).write_classic_row(
        cells.iter().map(|(c, v)| (c.as_str(), v.as_str())),
        &mut out,
    );
    match mapped {
        Ok(()) => {
            let parsed: Result<Map<String, Value>, _> = serde_json::from_slice(&out);
            prop_assert!(
                parsed.is_ok(),
                "not a JSON object: {}",
                String::from_utf8_lossy(&out)
            );
        }
        Err(why) => {
            prop_assert!(!why.trim().is_empty());
            prop_assert!(out.is_empty(), "a refused row leaves nothing behind");
        }
    }
    Ok(())
}

/// A classic table's column: one the mapping knows, or anything.
fn classic_column() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "audit_event_type_s",
            "timestamp_t",
            "created_d",
            "node_d",
            "username_s",
            "ip_address_s",
            "TimeGenerated",
            "TenantId",
            "_s",
            "x_d",
        ])
        .prop_map(str::to_string),
        ".{0,12}",
    ]
}

/// Every text an [`EventReader`] gives for `bytes` read in `shape`, with its line and what is sent. Fails the
/// case if the reader does not end: each text takes at least one byte.
fn read_all(bytes: &[u8], shape: Shape) -> Vec<(usize, Result<Vec<u8>, Unsent>)> {
    let mut reader = EventReader::with_shape(Cursor::new(bytes.to_vec()), shape);
    reader.detect_shape().expect("reading memory does not fail");
    let mut got = Vec::new();
    for _ in 0..bytes.len() + 2 {
        let mut out = Vec::new();
        match reader
            .next_into(&mut out)
            .expect("reading memory does not fail")
        {
            None => return got,
            Some((line, sent)) => got.push((line, sent.map(|()| out))),
        }
    }
    panic!("the reader did not end: more texts than bytes");
}

/// What every reading of events must hold: lines in order within the input, a reason for every text not
/// sent, and a JSON object for every text sent.
fn check_reading(
    bytes: &[u8],
    got: &[(usize, Result<Vec<u8>, Unsent>)],
) -> Result<(), TestCaseError> {
    let lines = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    let mut last = 1;
    for (line, sent) in got {
        prop_assert!(*line >= last && *line <= lines, "line {line} of {lines}");
        last = *line;
        match sent {
            Ok(event) => {
                let parsed: Result<Map<String, Value>, _> = serde_json::from_slice(event);
                prop_assert!(
                    parsed.is_ok(),
                    "sent text is not a JSON object: {}",
                    String::from_utf8_lossy(event)
                );
            }
            Err(Unsent::Invalid(why)) => prop_assert!(!why.trim().is_empty()),
            Err(Unsent::AlreadyStreamed) => {}
        }
    }
    Ok(())
}

fn shapes() -> [Shape; 3] {
    [
        Shape::Plain,
        Shape::Commander(Mapping::new(Some(1234))),
        Shape::Auto(Mapping::new(None)),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    // Event lines and arrays (src/events.rs).

    #[test]
    fn any_bytes_are_read_as_events_to_the_end_without_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..512)
    ) {
        for shape in shapes() {
            let got = read_all(&bytes, shape);
            check_reading(&bytes, &got)?;
        }
    }

    #[test]
    fn any_json_lines_or_array_are_read_to_the_end_without_panic(
        texts in prop::collection::vec(
            prop_oneof![
                json_value().prop_map(|v| v.to_string()),
                // Broken texts: cut, unbalanced, stray quotes and escapes.
                "[\\[\\]{}\",:\\\\a-z0-9 ]{0,16}",
            ],
            0..12,
        ),
        as_array in any::<bool>(),
    ) {
        let bytes = if as_array {
            format!("[\n{}\n]", texts.join(",\n"))
        } else {
            texts.join("\n")
        }
        .into_bytes();
        for shape in shapes() {
            let got = read_all(&bytes, shape);
            check_reading(&bytes, &got)?;
        }
    }

    #[test]
    fn every_event_of_a_valid_file_is_read_once_in_order_as_it_was(
        events in prop::collection::vec(
            prop::collection::vec(column_field(), 0..5),
            0..10,
        ),
        as_array in any::<bool>(),
    ) {
        let events: Vec<Value> = events
            .into_iter()
            .map(|fields| {
                let mut o = Map::new();
                o.insert("TimeGenerated".into(), "2025-01-23T00:00:00Z".into());
                for (k, v) in fields {
                    if k != "TimeGenerated" {
                        o.insert(k, v);
                    }
                }
                Value::Object(o)
            })
            .collect();
        let texts: Vec<String> = events.iter().map(Value::to_string).collect();
        let bytes = if as_array {
            format!("[{}]", texts.join(","))
        } else {
            texts.join("\n")
        }
        .into_bytes();
        let got = read_all(&bytes, Shape::Plain);
        prop_assert_eq!(got.len(), events.len());
        for ((_, sent), event) in got.iter().zip(&events) {
            let sent: Value = match sent {
                Ok(bytes) => serde_json::from_slice(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?,
                Err(e) => return Err(TestCaseError::fail(format!("{event} refused: {e}"))),
            };
            prop_assert_eq!(&sent, event);
        }
    }

    // Commander's events and the classic table's rows (src/commander/).

    #[test]
    fn a_commander_event_with_any_fields_and_any_time_maps_or_says_why(
        fields in prop::collection::vec((json_key(), json_value()), 0..8),
        created in number_text_in_range(),
        event_type in prop::option::of(".{0,12}"),
    ) {
        check_commander_event(&fields, &created, event_type.as_deref())?;
    }

    /// Finding 6 of issue 21: a `created` far out of range (`1e300`, `i64::MIN`) overflowed in
    /// `commander::event_time` (`attempt to multiply with overflow`, `attempt to negate with overflow`).
    #[test]
    fn a_commander_event_with_a_time_far_out_of_range_maps_or_says_why(
        fields in prop::collection::vec((json_key(), json_value()), 0..4),
        created in number_text(),
    ) {
        check_commander_event(&fields, &created, Some("login"))?;
    }

    #[test]
    fn a_classic_row_with_any_columns_maps_or_says_why(
        cells in prop::collection::vec(
            (
                classic_column(),
                prop_oneof![json_value().prop_map(|v| v.to_string()), number_text_in_range()],
            ),
            0..8,
        ),
    ) {
        check_classic_row(&cells)?;
    }

    /// Finding 6 again, through a classic row's `timestamp_t` or `created_d`.
    #[test]
    fn a_classic_row_with_a_time_far_out_of_range_maps_or_says_why(
        column in prop::sample::select(vec!["created_d", "timestamp_t"]),
        time in number_text(),
    ) {
        check_classic_row(&[
            ("audit_event_type_s".into(), "\"login\"".into()),
            (column.to_string(), time),
        ])?;
    }

    #[test]
    fn any_event_type_list_is_taken_or_refused_with_a_reason(
        text in prop_oneof![
            json_value().prop_map(|v| v.to_string()),
            prop::collection::vec(json_value(), 0..4).prop_map(|v| Value::Array(v).to_string()),
            ".{0,64}",
        ]
    ) {
        if let Err(e) = Mapping::new(None).with_event_types(text.as_bytes()) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }

    // Names, ids and locations (src/names.rs).

    #[test]
    fn every_name_rule_takes_or_refuses_any_text_with_the_flag_and_a_hint(
        v in prop_oneof![".{0,100}", "[a-zA-Z0-9_.()-]{0,100}", "[a-zA-Z0-9_-]{0,70}(_CL)?"]
    ) {
        use crate::names;
        let refusals = [
            names::resource_group(&v).err().map(|e| ("--resource-group", e)),
            names::workspace(&v).err().map(|e| ("--workspace", e)),
            names::dce(&v).err().map(|e| ("--dce-name", e)),
            names::dcr(&v).err().map(|e| ("--dcr-name", e)),
            names::table(&v).err().map(|e| ("--table", e)),
            names::app_display_name(&v).err().map(|e| ("--app-name", e)),
            names::guid("--tenant", &v).err().map(|e| ("--tenant", e)),
            names::deployment(&v).err().map(|e| ("--deployment", e)),
            names::classic_table("--from-table", &v).err().map(|e| ("--from-table", e)),
            names::workspace_resource_id("--workspace", &v)
                .and_then(|id| id.check_names("--workspace"))
                .err()
                .map(|e| ("--workspace", e)),
        ];
        for (flag, e) in refusals.into_iter().flatten() {
            prop_assert!(matches!(e, Error::Input { .. }), "{flag}: {e}");
            prop_assert_eq!(e.exit_code(), 2);
            let text = e.to_string();
            prop_assert!(text.contains(flag) && text.contains("\nhint: "), "{text}");
        }
        // What a rule takes is what Azure takes.
        if names::workspace(&v).is_ok() {
            prop_assert!((4..=63).contains(&v.len()) && v.is_ascii());
        }
        if let Ok(full) = names::table(&v) {
            prop_assert!(full.ends_with("_CL") && full.len() <= 63);
            prop_assert_eq!(names::table(&full).ok(), Some(full.clone()), "the full name is taken too");
        }
        if names::classic_table("--from-table", &v).is_ok() {
            prop_assert!(v.ends_with("_CL") && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
    }

    #[test]
    fn a_workspace_id_with_any_parts_is_taken_apart_or_refused(
        sub in prop_oneof![Just("00000000-0000-0000-0000-000000000001".to_string()), ".{0,40}"],
        group in ".{0,20}",
        name in ".{0,20}",
    ) {
        let id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.OperationalInsights/workspaces/{name}");
        let checked = crate::names::workspace_resource_id("--workspace", &id)
            .and_then(|parts| parts.check_names("--workspace").map(|()| parts));
        if let Ok(parts) = checked {
            // Nothing that would change an ARM URL gets through.
            for p in [parts.subscription, parts.resource_group, parts.name] {
                prop_assert!(!p.contains(['/', '?', '#', '%', '&']) && p != "..", "{p}");
            }
        }
    }

    #[test]
    fn any_location_is_looked_up_without_panic_and_near_names_are_real_ones(
        v in ".{0,12}",
        available in prop::collection::vec("[a-z0-9]{1,16}", 0..8),
    ) {
        let near = crate::names::near_locations(&v, &available);
        prop_assert!(near.iter().all(|n| available.iter().any(|a| a == n)));
        prop_assert_eq!(near.is_empty(), available.is_empty());
        if crate::names::is_location_name(&v) {
            prop_assert!(v.is_ascii());
        }
    }

    // Retry-After (src/rest.rs).

    #[test]
    fn any_retry_after_is_read_without_panic_and_waited_at_most_the_policys_maximum(
        v in prop_oneof![
            ".{0,40}",
            "[0-9]{1,30}",
            (
                prop::sample::select(vec!["Sun", "Mon", "Xyz", ""]),
                0u32..40,
                prop::sample::select(vec!["Jan", "Feb", "Dec", "Foo"]),
                0i64..100_000,
                0u32..30,
                0u32..70,
                0u32..70,
            )
                .prop_map(|(wd, d, m, y, h, mi, s)| format!("{wd}, {d:02} {m} {y} {h:02}:{mi:02}:{s:02} GMT")),
        ],
        attempt in any::<u32>(),
    ) {
        use crate::rest::{parse_retry_after, RetryPolicy};
        let now = time::OffsetDateTime::now_utc();
        let asked = parse_retry_after(&v, now);
        if let Ok(secs) = v.trim().parse::<u64>() {
            prop_assert_eq!(asked, Some(Duration::from_secs(secs)));
        }
        let policy = RetryPolicy::default();
        let wait = policy.wait(attempt, asked);
        prop_assert!(wait <= policy.max_delay.mul_f64(1.25), "{v:?}: {wait:?}");
        let _ = crate::rest::scaled(wait);
    }

    // Azure's error bodies: ARM, Graph and the token endpoint (src/rest.rs `azure_error`).

    #[test]
    fn any_error_body_becomes_an_error_with_a_code_a_resource_and_a_hint(
        body in prop_oneof![
            json_value(),
            (json_value(), json_value(), prop::collection::vec(json_value(), 0..4)).prop_map(
                |(code, message, details)| serde_json::json!({
                    "error": { "code": code, "message": message, "details": details }
                })
            ),
            (".{0,20}", json_value()).prop_map(|(code, description)| serde_json::json!({
                "error": code, "error_description": description
            })),
        ],
        status in any::<u16>(),
    ) {
        let e = crate::rest::azure_error(status, &body, "GET /subscriptions/s".into());
        prop_assert!(!e.code.is_empty());
        prop_assert!(!e.hint.is_empty());
        prop_assert!(e.to_string().starts_with("GET /subscriptions/s failed"));
    }

    // Endpoint URLs and cloud profiles (src/cloud.rs).

    #[test]
    fn the_apps_token_goes_only_to_https_on_the_clouds_domain_whatever_the_url(
        url in prop_oneof![
            ".{0,60}",
            "(https?|ftp)://[a-z0-9.@:-]{0,40}(/[a-z0-9?#%.-]{0,20})?",
            "https://[a-z0-9-]{1,12}\\.[a-z0-9-]{1,12}-1\\.ingest\\.monitor\\.azure\\.(com|us|cn)(\\.evil)?/x",
        ],
        cloud in prop::sample::select(vec!["public", "usgov", "usgov-dod", "china"]),
        allow_foreign in any::<bool>(),
    ) {
        let profile = crate::cloud::builtin(cloud).expect("a built-in cloud");
        let checked = profile.check_ingestion_endpoint(&url, "--endpoint-url", None, allow_foreign);
        match checked {
            Ok(foreign) => {
                let parsed = url::Url::parse(&url).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(parsed.scheme(), "https");
                let domain = profile.logs_ingestion_domain.clone().unwrap_or_default();
                let host = parsed.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
                prop_assert!(
                    foreign.is_some() || host.ends_with(&format!(".{domain}")) || host == domain,
                    "{url} accepted for {cloud}"
                );
                prop_assert!(foreign.is_none() || allow_foreign);
            }
            Err(e) => {
                prop_assert_eq!(e.exit_code(), 2);
                prop_assert!(e.to_string().contains("--endpoint-url"));
            }
        }
    }

    #[test]
    fn any_cloud_profile_text_is_taken_or_refused_without_panic(
        fields in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "name",
                    "authority_host",
                    "resource_manager_endpoint",
                    "graph_endpoint",
                    "monitor_audience",
                    "log_analytics_endpoint",
                    "logs_ingestion_domain",
                    "ca_certificate",
                    "keeper_endpoint",
                ]),
                prop_oneof![json_value(), "(https?://)?[a-z0-9.:/-]{0,30}".prop_map(Value::String)],
            ),
            0..9,
        ),
    ) {
        let mut p = serde_json::to_value(crate::cloud::builtin("public").expect("public"))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (k, v) in fields {
            p[k] = v;
        }
        if let Ok(profile) = serde_json::from_value::<crate::cloud::CloudProfile>(p) {
            if let Err(e) = profile.validate() {
                prop_assert_eq!(e.exit_code(), 2);
            }
        }
    }

    // Query answers and times (src/ingest.rs, src/history.rs).

    #[test]
    fn any_query_answer_is_read_or_refused_without_panic(
        text in prop_oneof![
            ".{0,80}",
            json_value().prop_map(|v| v.to_string()),
            prop::collection::vec(json_value(), 0..4).prop_map(|rows| serde_json::json!({
                "tables": [{ "columns": [{ "name": "a" }, { "name": "b" }], "rows": rows }]
            }).to_string()),
        ],
        time in ".{0,40}",
    ) {
        let _ = crate::ingest::rows(&text);
        let _ = crate::history::parse_time(&time);
    }

    // The KSM config (src/vault/config.rs).

    #[test]
    fn any_ksm_config_text_is_taken_or_refused_and_never_shown(
        fields in prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(vec![
                        "hostname", "clientId", "privateKey", "appKey", "serverPublicKeyId",
                        "appOwnerPublicKey", "clientKey",
                    ])
                    .prop_map(str::to_string),
                    "[a-zA-Z]{1,10}",
                ],
                prop_oneof![json_value(), "[A-Za-z0-9+/=]{0,40}".prop_map(Value::String)],
            ),
            0..8,
        ),
        private_key in "[A-Za-z0-9+/]{24,64}",
        form in 0u8..4,
    ) {
        // A private key that no message may show, in a config that may be malformed anywhere.
        let secret = format!("PrivateKeyMaterial{private_key}");
        let mut o = Map::new();
        o.insert("privateKey".into(), Value::String(secret.clone()));
        for (k, v) in fields {
            if k != "privateKey" {
                o.insert(k, v);
            }
        }
        let json = Value::Object(o).to_string();
        let text = match form {
            0 => json.clone(),
            1 => keeper_secrets_manager_core::utils::bytes_to_base64(json.as_bytes()),
            2 => format!("'{json}'"),
            _ => format!("{}.", keeper_secrets_manager_core::utils::bytes_to_base64(json.as_bytes())),
        };
        let _ = crate::vault::config::token_host(&text);
        let _ = crate::vault::config::diagnose(&text);
        if let Err(e) = crate::vault::KsmConfig::load(&text) {
            let said = e.to_string();
            prop_assert!(!said.trim().is_empty());
            prop_assert!(!said.contains(&secret[..24]), "the config is shown: {said}");
            prop_assert!(!said.contains(&json), "the config is shown: {said}");
        }
    }

    #[test]
    fn any_ksm_config_argument_is_taken_or_refused_without_panic(arg in ".{0,200}") {
        if let Err(e) = crate::vault::KsmConfig::load(&arg) {
            prop_assert!(!e.to_string().trim().is_empty());
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    // The state file (src/state.rs): read from disk, so fewer cases.

    #[test]
    fn any_state_file_text_is_read_or_refused_as_a_state_error(
        text in prop_oneof![
            ".{0,200}",
            json_value().prop_map(|v| v.to_string()),
            (json_value(), json_value()).prop_map(|(outputs, resources)| serde_json::json!({
                "format": crate::state::FORMAT, "deployment": "d", "cloud": "public", "tenant_id": "",
                "subscription_id": "", "resource_group": "", "location": "",
                "outputs": outputs, "resources": resources,
            }).to_string()),
        ]
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let p = dir.path().join("state.json");
        std::fs::write(&p, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(e) = crate::state::StateFile::read(&p) {
            prop_assert!(matches!(e, Error::State { .. }), "{e}");
        }
    }
}
