//! The marks that tell the tool's own rows from Keeper's, and the KQL that leaves them out of every query about
//! Keeper's activity (the history cut-off, the Sentinel function and what reads it).

/// The `audit_event` of verify's test events (and their `data` key, holding the run's marker): not an event
/// Keeper sends, so no rule, workbook or cut-off counts it.
pub const VERIFY_AUDIT_EVENT: &str = "keeper_azmon_verify";

/// A KQL `where` that leaves verify's test events out, over the table's `audit_event` column (or the function's
/// `AuditEvent`).
pub fn without_test_events(audit_event_column: &str) -> String {
    format!("where {audit_event_column} != \"{VERIFY_AUDIT_EVENT}\"")
}

/// The `data` key of a backfilled row (`send` of Commander events, `import-classic`), holding its import's id.
/// Logs Ingestion stamps a `TimeGenerated` older than two days with the time it received the row ("Standard
/// columns in Azure Monitor Logs", TimeGenerated), so a backfilled row's `TimeGenerated` is when it was imported;
/// its own time stays in `timestamp`. Whatever watches Keeper's live stream (the rules, the cut-off) leaves these
/// rows out.
pub const BACKFILL_KEY: &str = "keeper_azmon_backfill";

/// A KQL `where` that keeps only what Keeper itself streamed: neither verify's test events nor backfilled rows.
/// `audit_event_column` and `data_column` are the table's (`audit_event`, `data`) or the function's (`AuditEvent`,
/// `Data`).
pub fn live_only(audit_event_column: &str, data_column: &str) -> String {
    format!(
        "{} and isempty(tostring({data_column}.{BACKFILL_KEY}))",
        without_test_events(audit_event_column)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_name_the_marks() {
        assert_eq!(
            without_test_events("audit_event"),
            "where audit_event != \"keeper_azmon_verify\""
        );
        assert_eq!(
            live_only("AuditEvent", "Data"),
            "where AuditEvent != \"keeper_azmon_verify\" and isempty(tostring(Data.keeper_azmon_backfill))"
        );
    }
}
