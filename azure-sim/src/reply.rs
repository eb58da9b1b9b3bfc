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

pub fn token_err(code: &str, aadsts: u32, description: impl Into<String>) -> Reply {
    Reply::json(
        400,
        json!({ "error": code, "error_description": format!("AADSTS{aadsts}: {}", description.into()), "error_codes": [aadsts] }),
    )
}

pub fn now_iso() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
