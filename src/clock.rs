//! The wall clock as the tool writes it down: RFC 3339, UTC; and as a person reads it.

use time::OffsetDateTime;

/// Now, as RFC 3339 UTC (`2026-11-26T08:00:00.123456789Z`).
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A time as RFC 3339 UTC (`2026-11-26T08:00:00Z`), to the second.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A time Azure wrote (Graph's `endDateTime`, `2027-06-05T12:00:00.1234567Z`) as a person reads it back: RFC 3339
/// UTC to the second. Text that is not RFC 3339 is shown as it came.
pub fn to_the_second(azure_time: &str) -> String {
    OffsetDateTime::parse(azure_time, &time::format_description::well_known::Rfc3339)
        .map(rfc3339)
        .unwrap_or_else(|_| azure_time.to_string())
}

/// Now to the second, as RFC 3339 UTC (`2026-11-26T08:00:00Z`): a time a person reads back in a message.
pub fn now_rfc3339_seconds() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// A time as a person reads it: `2026-11-26 08:00 UTC`.
pub fn human(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

/// A span of time as a person reads it in a message: "45 s", "2 min", "75 min" (minutes rounded up).
pub fn span(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_time_is_written_to_the_second_in_utc_and_read_to_the_minute() {
        let t = OffsetDateTime::parse(
            "2026-11-26T09:30:15.25+01:00",
            &time::format_description::well_known::Rfc3339,
        )
        .expect("time");
        assert_eq!(rfc3339(t), "2026-11-26T08:30:15Z");
        assert_eq!(human(t), "2026-11-26 08:30 UTC");
    }

    #[test]
    fn a_span_reads_in_seconds_then_minutes() {
        assert_eq!(span(Duration::from_secs(45)), "45 s");
        assert_eq!(span(Duration::from_secs(120)), "2 min");
        assert_eq!(span(Duration::from_secs(4500)), "75 min");
        assert_eq!(span(Duration::from_secs(3599)), "60 min");
    }
}
