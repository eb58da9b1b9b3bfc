//! The wall clock as the tool writes it down: RFC 3339, UTC.

/// Now, as RFC 3339 UTC (`2026-11-26T08:00:00Z`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
