//! Tests of `events`.
use super::*;

fn read(s: &str) -> Vec<(usize, Result<serde_json::Value, String>)> {
    let mut r = EventReader::with_shape(std::io::Cursor::new(s.as_bytes().to_vec()), Shape::Plain);
    let mut got = Vec::new();
    loop {
        let mut out = Vec::new();
        let Some((line, parsed)) = r.next_into(&mut out).expect("io") else {
            return got;
        };
        got.push((
            line,
            parsed
                .map_err(|e| e.to_string())
                .map(|()| serde_json::from_slice(&out).expect("what is sent is JSON")),
        ));
    }
}

#[test]
fn reads_an_array_with_nested_values_and_strings_holding_brackets() {
    let got = read(
        "[\n {\"category\": \"x,]}\", \"data\": {\"k\": [1,2]}},\n {\"enterprise_id\": 2}\n]\n",
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, 2);
    assert_eq!(
        got[0].1.as_ref().ok().and_then(|v| v["category"].as_str()),
        Some("x,]}")
    );
    assert_eq!(got[1].0, 3);
}

#[test]
fn reads_json_lines_and_reports_the_malformed_line() {
    let got = read("{\"enterprise_id\":1}\n\n{oops}\n{\"enterprise_id\":3}\n");
    assert_eq!(got.len(), 3);
    assert_eq!(got[1].0, 3);
    assert!(got[1].1.is_err());
    assert_eq!(got[2].0, 4);
}

#[test]
fn the_time_generated_key_is_told_from_a_value_or_a_nested_key() {
    let got = read("{\"category\": \"TimeGenerated\", \"timestamp\": \"2025-01-01T00:00:00Z\"}\n{\"TimeGenerated\": 1, \"x\": [}\n{\"data\": {\"TimeGenerated\": 1}, \"timestamp\": \"2025-01-02T00:00:00Z\"}\n{\"category\": \"a\", \"TimeGenerated\": \"2025-01-03T00:00:00Z\", \"timestamp\": null}\n");
    assert_eq!(
        got[0].1.as_ref().expect("event")["TimeGenerated"],
        "2025-01-01T00:00:00Z",
        "a value is not the key"
    );
    assert!(got[1].1.is_err(), "malformed JSON is refused");
    assert_eq!(
        got[2].1.as_ref().expect("event")["TimeGenerated"],
        "2025-01-02T00:00:00Z",
        "a nested key is not the event's"
    );
    assert_eq!(
        got[3].1.as_ref().expect("event")["TimeGenerated"],
        "2025-01-03T00:00:00Z"
    );
}

#[test]
fn a_field_azure_would_drop_or_leave_empty_is_refused_with_why() {
    let got = read(concat!(
        "{\"audit_event\": \"login\", \"note\": 1}\n",
        "{\"audit_event\": 7}\n",
        "{\"enterprise_id\": \"1234\"}\n",
        "{\"timestamp\": \"yesterday\"}\n",
        "{\"enterprise_id\": 1.5}\n",
        "{\"audit_event\": \"login\", \"enterprise_id\": 1234, \"data\": [1], \"username\": null, \"timestamp\": \"2025-01-01T00:00:00Z\"}\n",
    ));
    let why = |i: usize| got[i].1.as_ref().expect_err("refused").clone();
    assert!(
        why(0).contains("'note'") && why(0).contains("drop"),
        "{}",
        why(0)
    );
    assert!(
        why(1).contains("'audit_event' is a number") && why(1).contains("string"),
        "{}",
        why(1)
    );
    assert!(
        why(2).contains("'enterprise_id' is a string") && why(2).contains("int"),
        "{}",
        why(2)
    );
    assert!(
        why(3).contains("'timestamp'") && why(3).contains("datetime"),
        "{}",
        why(3)
    );
    assert!(why(4).contains("'enterprise_id'"), "{}", why(4));
    assert!(
        got[5].1.is_ok(),
        "every column of its type (null fits any): {:?}",
        got[5].1
    );
    assert_eq!(got.len(), 6);
}

#[test]
fn a_line_is_malformed_from_one_byte_over_the_request_limit_whatever_its_ending() {
    let line = |len: usize| {
        let head = "{\"category\":\"";
        let tail = "\"}";
        format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()))
    };
    for ending in ["\n", "\r\n", ""] {
        for (len, ok) in [
            (MAX_TEXT - 1, true),
            (MAX_TEXT, true),
            (MAX_TEXT + 1, false),
            (MAX_TEXT + 2, false),
        ] {
            let got = read(&format!("{}{ending}", line(len)));
            assert_eq!(got.len(), 1, "{len} {ending:?}");
            assert_eq!(
                got[0].1.is_ok(),
                ok,
                "a line of {len} bytes ending {ending:?}: {:?}",
                got[0].1.as_ref().err()
            );
        }
    }
}

#[test]
fn a_datetime_is_told_by_its_iso_shape() {
    for ok in [
        "2025-01-23T01:31:11.123Z\"",
        "2025-01-23 01:31:11\"",
        "2025-01-23\"",
        "2025-01-23T01:31:11+01:00\"",
    ] {
        assert!(iso_datetime(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "yesterday\"",
        "2025-13-01\"",
        "2025-01-00T00:00Z\"",
        "2025-1-23\"",
        "2025-01-23X\"",
        "\"",
        "2025\"",
    ] {
        assert!(!iso_datetime(bad.as_bytes()), "{bad}");
    }
}

#[test]
fn the_columns_checked_are_the_streams() {
    let cols = crate::steps::inputs::table_columns();
    let cols = cols.as_array().expect("columns");
    assert_eq!(cols.len(), 9);
    for c in cols {
        let name = c["name"].as_str().expect("name");
        assert_eq!(column_type(name), c["type"].as_str(), "{name}");
    }
    assert_eq!(column_type("TenantId"), None);
}

#[test]
fn next_into_appends_events_and_leaves_the_buffer_as_it_was_on_a_bad_one() {
    let mut r = EventReader::with_shape(
        std::io::Cursor::new(
            b"{\"enterprise_id\":1}  \n{bad}\n\n{\"timestamp\":\"2025-01-01T00:00:00Z\"}\n"
                .to_vec(),
        ),
        Shape::Plain,
    );
    let mut out = b"[".to_vec();
    assert_eq!(r.next_into(&mut out).expect("io"), Some((1, Ok(()))));
    assert_eq!(out, b"[{\"enterprise_id\":1}");
    let (line, bad) = r.next_into(&mut out).expect("io").expect("an event");
    assert_eq!(line, 2);
    assert!(bad.is_err());
    assert_eq!(
        out, b"[{\"enterprise_id\":1}",
        "the bad line is gone from the buffer"
    );
    assert_eq!(r.next_into(&mut out).expect("io"), Some((4, Ok(()))));
    assert_eq!(
        out,
        b"[{\"enterprise_id\":1}{\"TimeGenerated\":\"2025-01-01T00:00:00Z\",\"timestamp\":\"2025-01-01T00:00:00Z\"}"
    );
    assert_eq!(r.next_into(&mut out).expect("io"), None);
}

#[test]
fn auto_takes_the_shape_of_the_first_event() {
    let read_as = |text: &str| {
        let mut r = EventReader::with_shape(
            std::io::Cursor::new(text.as_bytes().to_vec()),
            Shape::Auto(Mapping::new(Some(7))),
        );
        let mut out = Vec::new();
        let first = r.next_into(&mut out).expect("io").expect("an event").1;
        (r.is_commander(), first, out)
    };
    let (commander, ok, out) =
        read_as("{\"audit_event_type\": \"login\", \"timestamp\": \"2025-01-23T01:31:11Z\"}\n");
    assert!(commander && ok.is_ok());
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(v["audit_event"], "login");
    assert_eq!(v["enterprise_id"], 7);
    let (commander, _, out) =
        read_as("{\"audit_event\": \"login\", \"timestamp\": \"2025-01-23T01:31:11Z\"}\n");
    assert!(!commander, "the guide's shape is sent as it is");
    assert!(out.starts_with(b"{\"TimeGenerated\""));
}

#[test]
fn the_shape_is_detected_ahead_and_what_was_read_ahead_comes_out_first() {
    let mut r = EventReader::with_shape(
        std::io::Cursor::new(
            b"{oops\n{\"audit_event_type\": \"login\", \"timestamp\": \"2025-01-23T01:31:11Z\"}\n{\"audit_event_type\": \"login\", \"timestamp\": \"2025-01-24T00:00:00Z\"}\n".to_vec(),
        ),
        Shape::Auto(Mapping::new(None)),
    );
    r.detect_shape().expect("io");
    assert!(r.is_commander(), "decided past the malformed first line");
    r.set_until(crate::history::parse_time("2025-01-24"));
    let mut out = Vec::new();
    let (line, bad) = r.next_into(&mut out).expect("io").expect("a text");
    assert_eq!(line, 1);
    assert!(matches!(bad, Err(Unsent::Invalid(_))));
    assert_eq!(r.next_into(&mut out).expect("io"), Some((2, Ok(()))));
    assert_eq!(
        r.next_into(&mut out).expect("io"),
        Some((3, Err(Unsent::AlreadyStreamed)))
    );
    assert_eq!(r.next_into(&mut out).expect("io"), None);
    let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
    assert_eq!(v["audit_event"], "login");
}

#[test]
fn time_generated_comes_from_timestamp_when_missing_and_is_kept_when_present() {
    let got = read("{\"timestamp\": \"2025-01-23T01:31:11.123Z\", \"enterprise_id\": 1}\n{\"TimeGenerated\": \"2025-01-02T00:00:00Z\", \"timestamp\": \"2025-01-03T00:00:00Z\"}\n{\"timestamp\": 5}\n[1, 2]\n");
    let first = got[0].1.as_ref().expect("event");
    assert_eq!(first["TimeGenerated"], "2025-01-23T01:31:11.123Z");
    assert_eq!(first["enterprise_id"], 1);
    assert_eq!(
        got[1].1.as_ref().expect("event")["TimeGenerated"],
        "2025-01-02T00:00:00Z"
    );
    assert!(got[2].1.is_err(), "a timestamp that is no date is refused");
    assert!(got[3].1.is_err(), "an array is not an event");
}
