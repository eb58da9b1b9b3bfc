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

/// A time as a person reads it: `2026-11-26 08:00 UTC`.
pub fn human(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
