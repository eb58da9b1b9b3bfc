//! Tests of `ingest`.
use super::*;

#[test]
fn a_403_is_retried_with_backoff_until_the_roles_time_is_up_and_no_later() {
    let secs = Duration::from_secs;
    let wait = RoleWait::new(crate::rest::now() + secs(200), None);
    let mut backoff = wait.backoff();
    let waits: Vec<u64> = (0..6)
        .map(|_| wait.next(&mut backoff).expect("time left").as_secs())
        .collect();
    assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
    assert_eq!(wait.waited.load(Ordering::Relaxed), 6);
    // The last wait ends at the bound, not past it.
    let near = RoleWait::new(crate::rest::now() + secs(3), None);
    let mut backoff = near.backoff();
    assert!(near.next(&mut backoff).expect("time left") <= secs(3));
    let over = RoleWait::new(crate::rest::now(), None);
    assert_eq!(over.next(&mut over.backoff()), None);
}

fn array(b: &mut Batch) -> Value {
    b.with_array(|j| serde_json::from_slice(j).expect("a JSON array"))
}

#[test]
fn a_query_answer_is_read_as_its_first_tables_cells_as_text() {
    let text = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"node_d","type":"real"},{"name":"user_s","type":"string"}],
        "rows":[[5299989643266.0,"a\u0040x"],[null,"b"]]},{"name":"Other","columns":[],"rows":[]}]}"#;
    let t = AnswerTable::parse(text).expect("answer");
    let rows: Vec<Vec<(&str, &str)>> = t.rows.iter().map(|r| t.cells(r).collect()).collect();
    assert_eq!(
        rows,
        [
            vec![("node_d", "5299989643266.0"), ("user_s", r#""a\u0040x""#)],
            vec![("node_d", "null"), ("user_s", r#""b""#)]
        ]
    );
    assert!(AnswerTable::parse(r#"{"tables":[]}"#)
        .expect("empty")
        .rows
        .is_empty());
    assert!(AnswerTable::parse("not json").is_err());
}

#[test]
fn a_batch_is_the_json_array_of_its_events_and_splits_and_pops_by_event() {
    let mut b = Batch::default();
    assert_eq!(array(&mut b), json!([]));
    for i in 0..5 {
        b.push(json!({ "i": i, "s": "a,b]" }).to_string().as_bytes());
    }
    assert_eq!(b.len(), 5);
    assert_eq!(b.json_len(), b.with_array(<[u8]>::len));
    assert_eq!(array(&mut b)[4]["s"], "a,b]");
    let listed: Vec<Value> = b
        .events()
        .map(|e| serde_json::from_slice(e).expect("one event"))
        .collect();
    assert_eq!(Value::Array(listed), array(&mut b));
    let last = b.pop().expect("an event");
    assert_eq!(
        serde_json::from_slice::<Value>(&last).expect("json")["i"],
        4
    );
    assert_eq!(array(&mut b).as_array().map(Vec::len), Some(4));
    let (mut x, mut y) = b.halves();
    assert_eq!(
        array(&mut x),
        json!([{"i":0,"s":"a,b]"},{"i":1,"s":"a,b]"}])
    );
    assert_eq!(array(&mut y)[1]["i"], 3);
    let mut one = Batch::of(&["{\"a\":1}"]);
    assert!(one.pop().is_some());
    assert!(one.is_empty());
    assert_eq!(
        array(&mut one),
        json!([]),
        "popping the only event leaves an empty array"
    );
}

#[test]
fn a_failed_or_empty_write_leaves_the_batch_as_it_was() {
    let mut b = Batch::of(&["{\"a\":1}"]);
    let r: std::result::Result<(), &str> = b.push_with(|out| {
        out.extend_from_slice(b"{\"half");
        Err("bad")
    });
    assert!(r.is_err());
    let r: std::result::Result<(), ()> = b.push_with(|_| Ok(()));
    assert!(r.is_ok());
    assert_eq!(b.len(), 1);
    assert_eq!(array(&mut b), json!([{"a":1}]));
}
