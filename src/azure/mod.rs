//! Thin typed wrappers of the Azure REST calls, one module per kind of thing Azure owns.

pub mod dce;
pub mod dcr;
pub mod graph;
pub mod providers;
pub mod roles;
pub mod workspace;

use reqwest::Method;
use serde_json::Value;

use crate::error::Result;
use crate::rest::{Api, Response, Rest};

/// The tag every resource the tool creates carries; its value is the deployment name.
pub const TAG: &str = "keeper-azmon";

/// `GET {id}?api-version=...`, `None` when the resource does not exist.
pub async fn arm_get(rest: &Rest, id: &str, api_version: &str) -> Result<Option<Value>> {
    rest.get_opt(
        Api::Arm,
        &rest
            .profile
            .arm_url(&format!("{id}?api-version={api_version}")),
    )
    .await
}

/// `PUT {id}?api-version=...` with a JSON body.
pub async fn arm_put(rest: &Rest, id: &str, api_version: &str, body: &Value) -> Result<Response> {
    rest.send(
        Api::Arm,
        Method::PUT,
        &rest
            .profile
            .arm_url(&format!("{id}?api-version={api_version}")),
        Some(body),
    )
    .await
}

/// `DELETE {id}?api-version=...{extra}`; true if something was deleted, false if it was already gone.
pub async fn arm_delete(
    rest: &Rest,
    id: &str,
    api_version: &str,
    extra_query: &str,
) -> Result<bool> {
    let url = rest
        .profile
        .arm_url(&format!("{id}?api-version={api_version}{extra_query}"));
    match rest.send(Api::Arm, Method::DELETE, &url, None).await {
        Ok(r) if r.status == 204 => Ok(false),
        Ok(r) => {
            rest.wait_lro(Api::Arm, &crate::rest::describe(&Method::DELETE, &url), &r)
                .await?;
            Ok(true)
        }
        Err(crate::error::Error::Azure(e)) if e.status == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// `properties.provisioningState` of an ARM resource body.
pub fn provisioning_state(body: &Value) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

/// The tags object `{ "keeper-azmon": deployment }`.
pub fn tags(deployment: &str) -> Value {
    serde_json::json!({ TAG: deployment })
}

/// Whether an ARM resource carries our tag with this deployment name.
pub fn has_tag(body: &Value, deployment: &str) -> bool {
    body.pointer(&format!("/tags/{TAG}"))
        .and_then(Value::as_str)
        == Some(deployment)
}

/// The last segment of a resource id: its name.
pub fn name_of(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}
