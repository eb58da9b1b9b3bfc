//! The wall clock as the tool writes it down: RFC 3339, UTC.

/// Now, as RFC 3339 UTC (`2026-11-26T08:00:00Z`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Now to the second, as RFC 3339 UTC (`2026-11-26T08:00:00Z`): a time a person reads back in a message.
pub fn now_rfc3339_seconds() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
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
    fn a_span_reads_in_seconds_then_minutes() {
        assert_eq!(span(Duration::from_secs(45)), "45 s");
        assert_eq!(span(Duration::from_secs(120)), "2 min");
        assert_eq!(span(Duration::from_secs(4500)), "75 min");
        assert_eq!(span(Duration::from_secs(3599)), "60 min");
    }
}
