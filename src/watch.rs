//! What the workspace says of Keeper's stream, read through the Log Analytics query API: Keeper's newest event, its
//! events of the last hours, the DCR's ingestion errors and the app's sign-ins (status, verify --keeper, rotate).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::Auth;
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// The table Entra's diagnostic setting `ServicePrincipalSignInLogs` fills.
pub const SIGN_IN_TABLE: &str = "AADServicePrincipalSignInLogs";
/// The table a DCR's diagnostic setting sends its `LogErrors` to.
pub const DCR_ERRORS_TABLE: &str = crate::steps::monitor::DCR_ERRORS_TABLE;

/// The newest event Keeper itself sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastEvent {
    /// RFC 3339.
    pub at: String,
    pub audit_event: String,
}

/// A sign-in of the app with a client secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignIn {
    /// RFC 3339.
    pub at: String,
    /// `ServicePrincipalCredentialKeyId`: taken to be the Graph `passwordCredentials[].keyId` of the secret used.
    /// Microsoft does not say so outright; the column is "key id of the service principal that initiated the
    /// sign-in" (AADServicePrincipalSignInLogs reference) and Graph's `keyId` is "the unique identifier for the
    /// password" (passwordCredential resource type), and no other key id exists for a secret.
    pub key_id: String,
}

/// What the sign-in logs say of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIns {
    /// The workspace has no `AADServicePrincipalSignInLogs`: Entra's diagnostic setting does not send them here.
    NoLogs,
    /// The logs are there; the app's newest successful sign-in with a secret, if any.
    Last(Option<SignIn>),
}

/// A reader of one workspace, signed in for the query API.
pub struct Reader<'a> {
    http: &'a reqwest::Client,
    profile: &'a CloudProfile,
    token: SecretString,
    customer_id: String,
}

/// Whether `e` is the query API's refusal of a table that does not exist in the workspace (a built-in table
/// such as `DCRLogErrors` appears with its first row): 400 `BadArgumentError`, its SemanticError saying it
/// "failed to resolve" or "could not be resolved" the name.
pub fn is_unknown_table(e: &Error, table: &str) -> bool {
    let Error::Azure(a) = e else {
        return false;
    };
    let text = format!("{} {:?}", a.message, a.details).to_ascii_lowercase();
    a.status == 400 && text.contains("resolve") && text.contains(&table.to_ascii_lowercase())
}

/// Whether `e` says the signed-in identity may not read the workspace.
pub fn is_forbidden(e: &Error) -> bool {
    matches!(e, Error::Azure(a) if a.status == 403)
}

/// A KQL string literal of `v`.
fn quoted(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A cell as text: strings as they are, anything else in its JSON form; empty for null.
fn cell(row: &Value, column: &str) -> String {
    match &row[column] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

impl<'a> Reader<'a> {
    /// Signs `auth` in for the query API of `profile`.
    pub async fn open(
        http: &'a reqwest::Client,
        profile: &'a CloudProfile,
        auth: &Auth,
        customer_id: &str,
    ) -> Result<Reader<'a>> {
        let token = auth.token(&profile.log_analytics_audience).await?;
        Ok(Reader {
            http,
            profile,
            token,
            customer_id: customer_id.to_string(),
        })
    }

    async fn rows(&self, kql: &str) -> Result<Vec<Value>> {
        crate::ingest::query(self.http, self.profile, &self.token, &self.customer_id, kql).await
    }

    /// The count a `… | count` query answers.
    async fn count(&self, kql: &str) -> Result<u64> {
        let rows = self.rows(kql).await?;
        Ok(rows
            .first()
            .and_then(|r| {
                r["Count"]
                    .as_u64()
                    .or_else(|| r["Count"].as_f64().map(|f| f as u64))
            })
            .unwrap_or(0))
    }

    /// The newest row Keeper itself sent to `table` (test events and backfilled history left out,
    /// `crate::marks::live_only`); `None` when it never sent one.
    pub async fn last_event(&self, table: &str) -> Result<Option<LastEvent>> {
        let kql = format!(
            "{table} | {} | top 1 by TimeGenerated desc | project TimeGenerated, audit_event",
            crate::marks::live_only("audit_event", "data")
        );
        Ok(self.rows(&kql).await?.first().map(|r| LastEvent {
            at: cell(r, "TimeGenerated"),
            audit_event: cell(r, "audit_event"),
        }))
    }

    /// How many rows Keeper itself sent to `table` in the last `hours`.
    pub async fn events_within(&self, table: &str, hours: u32) -> Result<u64> {
        self.count(&format!(
            "{table} | where TimeGenerated > ago({hours}h) | {} | count",
            crate::marks::live_only("audit_event", "data")
        ))
        .await
    }

    /// How many ingestion errors the DCR `dcr_id` logged in the last `hours`: 0 while `DCRLogErrors` does not
    /// exist, which is until the first error arrives.
    pub async fn errors_within(&self, dcr_id: &str, hours: u32) -> Result<u64> {
        let kql = format!(
            "{DCR_ERRORS_TABLE} | where TimeGenerated > ago({hours}h) | where _ResourceId =~ {} | count",
            quoted(dcr_id)
        );
        match self.count(&kql).await {
            Err(e) if is_unknown_table(&e, DCR_ERRORS_TABLE) => Ok(0),
            other => other,
        }
    }

    /// The app's newest successful sign-in with a client secret, after `after` (RFC 3339) when given.
    pub async fn last_sign_in(&self, app_id: &str, after: Option<&str>) -> Result<SignIns> {
        let after = after
            .map(|a| format!(" | where TimeGenerated > datetime({a})"))
            .unwrap_or_default();
        let kql = format!(
            "{SIGN_IN_TABLE} | where AppId =~ {} and ResultType == \"0\" and isnotempty(ServicePrincipalCredentialKeyId){after} | top 1 by TimeGenerated desc | project TimeGenerated, ServicePrincipalCredentialKeyId",
            quoted(app_id)
        );
        match self.rows(&kql).await {
            Ok(rows) => Ok(SignIns::Last(rows.first().map(|r| SignIn {
                at: cell(r, "TimeGenerated"),
                key_id: cell(r, "ServicePrincipalCredentialKeyId"),
            }))),
            Err(e) if is_unknown_table(&e, SIGN_IN_TABLE) => Ok(SignIns::NoLogs),
            Err(e) => Err(e),
        }
    }
}

/// How long ago `at` (RFC 3339) was, said as a person would: "4 min ago", "3 h ago", "2 days ago".
pub fn ago(at: &str, now: OffsetDateTime) -> String {
    let Ok(t) = OffsetDateTime::parse(at, &Rfc3339) else {
        return at.to_string();
    };
    let secs = (now - t).whole_seconds().max(0);
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=172_799 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// Hours since `at` (RFC 3339); `None` when it cannot be read.
pub fn hours_since(at: &str, now: OffsetDateTime) -> Option<f64> {
    let t = OffsetDateTime::parse(at, &Rfc3339).ok()?;
    Some((now - t).as_seconds_f64() / 3600.0)
}

/// A number with thousands separators: 1,204.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ages_read_as_a_person_says_them() {
        assert_eq!(grouped(1204), "1,204");
        assert_eq!(grouped(12), "12");
        assert_eq!(grouped(1_000_000), "1,000,000");
        let now = OffsetDateTime::parse("2026-12-07T10:00:00Z", &Rfc3339).expect("time");
        assert_eq!(ago("2026-12-07T09:56:00Z", now), "4 min ago");
        assert_eq!(ago("2026-12-07T07:00:00Z", now), "3 h ago");
        assert_eq!(ago("2026-12-04T10:00:00Z", now), "3 days ago");
        assert_eq!(hours_since("2026-12-06T10:00:00Z", now), Some(24.0));
    }

    #[test]
    fn a_missing_table_is_told_from_other_refusals() {
        let e = |status: u16, message: &str| {
            Error::Azure(Box::new(crate::error::AzureError {
                status,
                code: "BadArgumentError".into(),
                message: message.into(),
                details: vec![],
                resource: "query".into(),
                hint: crate::error::Hint::None,
            }))
        };
        assert!(is_unknown_table(
            &e(400, "'where' operator: Failed to resolve table or column expression named 'DCRLogErrors'"),
            "DCRLogErrors"
        ));
        assert!(!is_unknown_table(&e(400, "Syntax error"), "DCRLogErrors"));
        assert!(!is_unknown_table(
            &e(403, "resolve DCRLogErrors"),
            "DCRLogErrors"
        ));
        assert!(is_forbidden(&e(403, "InsufficientAccessError")));
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }
}
