//! The answer every handler returns, and the error shapes of ARM, Microsoft Graph and the Entra token endpoint.

use serde_json::{json, Value};

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: Some(body),
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: None,
        }
    }
    pub fn header(mut self, k: &str, v: String) -> Reply {
        self.headers.push((k.to_string(), v));
        self
    }
}

/// ARM error shape.
pub fn arm_err(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": code, "message": message.into() } }),
    )
}

/// ARM error shape with `details[]`: each detail a `{code, message, target}`, as the Data Collection Rules API
/// answers a rule it refuses (hashicorp/terraform-provider-azurerm#28709, MicrosoftDocs/azure-docs#113557).
pub fn arm_err_details(
    status: u16,
    code: &str,
    message: impl Into<String>,
    details: Vec<Value>,
) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": code, "message": message.into(), "details": details } }),
    )
}

pub fn graph_err(status: u16, code: &str, message: impl Into<String>) -> Reply {
    Reply::json(
        status,
        json!({ "error": { "code": code, "message": message.into(), "innerError": { "request-id": uuid::Uuid::new_v4().to_string(), "date": now_iso() } } }),
    )
}

/// The token endpoint's error, as Entra answers it: `invalid_client` (a wrong secret, AADSTS7000215) with 401, the
/// rest with 400 (RFC 6749 §5.2 lets an invalid client get 401, and Entra sends it so); the body carries
/// `timestamp`, `trace_id` and `correlation_id` beside the error (Microsoft identity platform, "OAuth 2.0 client
/// credentials flow", error response).
pub fn token_err(code: &str, aadsts: u32, description: impl Into<String>) -> Reply {
    let status = if code == "invalid_client" { 401 } else { 400 };
    let (trace, correlation) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Reply::json(
        status,
        json!({
            "error": code,
            "error_description": format!("AADSTS{aadsts}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}", description.into()),
            "error_codes": [aadsts],
            "timestamp": stamp,
            "trace_id": trace.to_string(),
            "correlation_id": correlation.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={aadsts}"),
        }),
    )
}

pub fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
