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
