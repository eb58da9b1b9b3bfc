//! Tests of `rest`.
use super::*;

#[test]
fn retry_after_is_read_as_seconds_or_as_an_http_date() {
    let now = time::OffsetDateTime::parse(
        "1994-11-06T08:49:07Z",
        &time::format_description::well_known::Rfc3339,
    )
    .expect("now");
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after(" 0 ", now),
        Some(Duration::ZERO),
        "whitespace around the value"
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
        Some(Duration::from_secs(30)),
        "an IMF-fixdate thirty seconds ahead"
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:48:37 GMT", now),
        Some(Duration::ZERO),
        "a date already past asks for no wait"
    );
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
}

#[test]
fn a_retry_after_header_in_date_form_is_honoured() {
    let mut headers = HeaderMap::new();
    let in_a_minute = (time::OffsetDateTime::now_utc() + time::Duration::seconds(60))
        .to_offset(time::UtcOffset::UTC);
    let imf_fixdate = format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        &in_a_minute.weekday().to_string()[..3],
        in_a_minute.day(),
        &in_a_minute.month().to_string()[..3],
        in_a_minute.year(),
        in_a_minute.hour(),
        in_a_minute.minute(),
        in_a_minute.second()
    );
    headers.insert(
        reqwest::header::RETRY_AFTER,
        imf_fixdate.parse().expect("header value"),
    );
    let wait = retry_after(&headers).expect("a wait");
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "{imf_fixdate}: {wait:?}"
    );
}

#[test]
fn a_retry_after_is_waited_at_most_the_policys_maximum() {
    let policy = RetryPolicy::default();
    let asked = |secs: u64| policy.wait(1, Some(Duration::from_secs(secs)));
    assert_eq!(asked(2), Duration::from_secs(2), "a short one as asked");
    assert_eq!(asked(1_000_000_000), policy.max_delay);
    assert_eq!(policy.wait(1, Some(Duration::MAX)), policy.max_delay);
    for attempt in [1, 5, 40, u32::MAX] {
        assert!(
            policy.wait(attempt, None) <= policy.max_delay.mul_f64(1.25),
            "backoff of attempt {attempt}"
        );
    }
}

#[test]
fn a_wait_that_ends_past_the_deadline_is_not_begun() {
    let deadline = now() + Duration::from_secs(60);
    assert!(ends_by(deadline, Duration::ZERO));
    assert!(ends_by(deadline, Duration::from_secs(1)));
    assert!(!ends_by(deadline, Duration::from_secs(3600)));
    assert!(!ends_by(deadline, Duration::MAX), "no overflow");
    assert_eq!(scaled(Duration::MAX), Duration::MAX);
}

#[test]
fn the_tools_clock_counts_each_scaled_wait_at_its_full_length_and_overlapping_waits_once() {
    let ms = Duration::from_millis;
    let nanos = |d: Duration| d.as_nanos() as u64;
    // A 60 s wait that took 60 ms: the clock is 59.94 s ahead of real time.
    let one = skipped_after(0, Duration::from_secs(60), ms(60)).expect("skipped");
    assert_eq!(one, nanos(Duration::from_secs(60) - ms(60)));
    // A second wait begun at the same moment skips the same time, not twice as much.
    assert_eq!(
        skipped_after(0, Duration::from_secs(60), ms(61)).map(|s| s.max(one)),
        Some(one)
    );
    // One begun after the first has ended adds its own.
    assert_eq!(
        skipped_after(one, Duration::from_secs(60), ms(60)),
        Some(2 * one)
    );
    // Unscaled, a wait takes its full length (or more): the clock is real time.
    assert_eq!(skipped_after(0, ms(10), ms(10)), None);
    assert_eq!(skipped_after(0, ms(10), ms(12)), None);
    assert_eq!(
        skipped_after(u64::MAX, Duration::MAX, ms(1)),
        Some(u64::MAX)
    );
}

#[tokio::test]
async fn a_wait_longer_than_a_duration_can_scale_does_not_panic() {
    // `Duration::MAX` in seconds as an f64 rounds past what a Duration holds.
    for huge in [Duration::MAX, Duration::from_secs(u64::MAX)] {
        let waited = tokio::time::timeout(Duration::from_millis(1), pause(huge)).await;
        assert!(waited.is_err(), "{huge:?} is still being waited");
    }
}

use serde_json::json;

#[test]
fn a_page_gives_its_items_and_the_next_link_of_arm_or_graph() {
    let (items, next) =
        split_page(json!({ "value": [1, 2], "nextLink": "https://x/a?$skiptoken=2" }));
    assert_eq!(items, vec![json!(1), json!(2)]);
    assert_eq!(next.as_deref(), Some("https://x/a?$skiptoken=2"));
    let (_, next) = split_page(json!({ "value": [], "@odata.nextLink": "https://g/b" }));
    assert_eq!(next.as_deref(), Some("https://g/b"));
    let (items, next) = split_page(json!({ "value": [3], "nextLink": null }));
    assert_eq!((items.len(), next), (1, None));
    assert_eq!(split_page(Value::Null), (vec![], None));
}
