//! Thin typed wrappers of the Azure REST calls, one module per kind of thing Azure owns.

pub mod dce;
pub mod dcr;
pub mod graph;
pub mod monitor;
pub mod permissions;
pub mod providers;
#[cfg(test)]
mod recorded;
pub mod roles;
pub mod sentinel;
pub mod workspace;

use std::collections::BTreeMap;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
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

/// `GET {id}?api-version=...` read into the fields we use, `None` when the resource does not exist.
pub async fn arm_get_as<T: DeserializeOwned>(
    rest: &Rest,
    id: &str,
    api_version: &str,
) -> Result<Option<T>> {
    arm_get(rest, id, api_version)
        .await?
        .map(|v| parse(v, id))
        .transpose()
}

/// `GET {collection}?api-version=...`, every page, each item read into the fields we use; empty when the
/// collection's parent does not exist (404).
pub async fn arm_list_as<T: DeserializeOwned>(
    rest: &Rest,
    collection: &str,
    api_version: &str,
) -> Result<Vec<T>> {
    let url = rest
        .profile
        .arm_url(&format!("{collection}?api-version={api_version}"));
    match rest.get_all(Api::Arm, &url).await {
        Ok(items) => items.into_iter().map(|v| parse(v, collection)).collect(),
        Err(Error::Azure(e)) if e.status == 404 => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// Reads an ARM answer into the fields we use; an answer that lacks them is an error naming the resource.
pub fn parse<T: DeserializeOwned>(body: Value, resource: &str) -> Result<T> {
    serde_json::from_value(body)
        .map_err(|e| Error::Other(format!("unexpected ARM answer for {resource}: {e}")))
}

/// The fields every tracked ARM resource has that the tool reads: where it is, its tags, its properties.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(bound(deserialize = "P: Default + Deserialize<'de>"))]
pub struct Tracked<P> {
    #[serde(default)]
    pub location: String,
    /// ARM answers `"tags": null` for a resource without tags.
    #[serde(default, deserialize_with = "null_default")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub properties: P,
}

impl<P> Tracked<P> {
    /// Whether it carries our tag with this deployment name.
    pub fn has_tag(&self, deployment: &str) -> bool {
        self.tags.get(TAG).map(String::as_str) == Some(deployment)
    }
}

/// Reads `null` as the type's default (ARM sends `null` for empty tags and properties).
pub fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
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

/// The tags object `{ "keeper-azmon": deployment }`.
pub fn tags(deployment: &str) -> Value {
    serde_json::json!({ TAG: deployment })
}

/// A resource's name: an ARM id's as [`ResourceId`](crate::resource_id::ResourceId) reads it, else the last
/// segment of a path (a Graph object's `/applications/{id}`).
pub fn name_of(id: &str) -> &str {
    match crate::resource_id::ResourceId::parse(id) {
        Some(id) => id.name(),
        None => id.rsplit('/').next().unwrap_or(id),
    }
}
