//! Microsoft Graph v1.0: the app registration, its owners, its service principal and its client secrets.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::rest::{Api, Rest, Schedule};
use crate::secret::SecretString;

/// An application object (app registration).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// The object id (used in Graph paths).
    pub id: String,
    /// The application (client) id.
    pub app_id: String,
    pub display_name: String,
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    /// Certificates (only counted, to name an app's credentials).
    #[serde(default)]
    pub key_credentials: Vec<Value>,
}

/// A client secret's metadata as Graph returns it later (never its value).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    pub key_id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub end_date_time: Option<String>,
    #[serde(default)]
    pub start_date_time: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
}

/// A client secret just created: the only moment its value exists.
#[derive(Debug)]
pub struct NewSecret {
    pub key_id: String,
    pub end_date_time: String,
    pub value: SecretString,
}

/// How long the tool waits for an object this run created to show in Graph (times the time scale). Graph is
/// eventually consistent: "A newly created object to return a 'Not Found'" is normal during replication, which
/// takes seconds, rarely minutes (Microsoft Entra blog, "Designing for Eventual Consistency for Microsoft Entra",
/// https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/).
pub const REPLICATION_WAIT: Duration = Duration::from_secs(120);

/// Whether `e` is Graph's read-after-create lag: 404 `Request_ResourceNotFound`, or the 400 of a service
/// principal whose application has not replicated yet ("The appId '…' of the service principal does not reference
/// a valid application object", detail `NoBackingApplicationObject`).
pub fn is_replication_lag(e: &Error) -> bool {
    match e {
        Error::Azure(a) => {
            (a.status == 404 && a.code == "Request_ResourceNotFound")
                || (a.status == 400
                    && a.message
                        .contains("does not reference a valid application object"))
        }
        _ => false,
    }
}

/// How Graph's replication is waited out: from 250 ms, doubling, at most 5 s between looks.
pub const REPLICATING: Schedule = Schedule::new(Duration::from_millis(250), Duration::from_secs(5));

/// Runs `op` again while it fails with Graph's replication lag, for at most [`REPLICATION_WAIT`]; `on_wait` is
/// called before the first wait. Only for objects this run created (or that an interrupted run may have created):
/// for anything else a 404 means the object is gone.
pub async fn while_replicating<T, F, Fut>(on_wait: impl Fn(), op: F) -> Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    crate::rest::retry_while(
        REPLICATING.within(REPLICATION_WAIT),
        is_replication_lag,
        |_| on_wait(),
        op,
    )
    .await
}

/// Until when, on the tool's clock ([`crate::rest::now`]), Graph objects of a deployment whose state was last
/// written at `written` (RFC 3339) may still be replicating: [`REPLICATION_WAIT`] after it. Now, when the time
/// cannot be read. The time since `written` is real time, and counts times the time scale's inverse.
pub fn replicating_until(written: &str) -> Instant {
    let window = REPLICATION_WAIT.mul_f64(crate::rest::time_scale());
    let left = time::OffsetDateTime::parse(written, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|w| Duration::try_from(w + window - OffsetDateTime::now_utc()).ok())
        .unwrap_or(Duration::ZERO);
    crate::rest::now() + left.div_f64(crate::rest::time_scale())
}

/// Runs a Graph delete (or a secret's removal) that answers false for "not found": while `until` has not passed,
/// a not-found is tried again, since Graph answers it also for an object made moments ago that has not replicated
/// (and taking that for "already gone" would leave an app and its secret behind).
/// `on_wait` is called once, before the first wait.
pub async fn gone_while_replicating<F, Fut>(
    until: Instant,
    on_wait: impl FnOnce(),
    op: F,
) -> Result<bool>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    if op().await? {
        return Ok(true);
    }
    if crate::rest::now() >= until {
        return Ok(false);
    }
    on_wait();
    let found = get_while_replicating(until, || async { Ok(op().await?.then_some(())) }).await?;
    Ok(found.is_some())
}

/// Reads a Graph object with `get`; while it is missing and `until` has not passed, reads again: an object made
/// moments ago may not show yet, and must not be reported missing for that.
pub async fn get_while_replicating<T, F, Fut>(until: Instant, get: F) -> Result<Option<T>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    crate::rest::poll_until(
        REPLICATING.until(until),
        || tracing::info!("a Graph object of a deployment written moments ago is not found yet; looking again"),
        get,
    )
    .await
}

/// The tag string the app registration carries: `keeper-azmon:<subscription>/<deployment>`. App registrations
/// live in the tenant, not in a subscription: the subscription in the tag keeps two subscriptions' deployments
/// of the same name apart.
pub fn app_tag(subscription: &str, deployment: &str) -> String {
    format!(
        "{}:{}/{deployment}",
        super::TAG,
        subscription.to_ascii_lowercase()
    )
}

/// The tag of earlier versions, `keeper-azmon:<deployment>`: an app carrying it is this deployment's only when a
/// state file names it.
pub fn legacy_app_tag(deployment: &str) -> String {
    format!("{}:{deployment}", super::TAG)
}

/// An owner of an application: a user or a service principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    pub id: String,
    #[serde(rename = "@odata.type", default)]
    pub kind: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind.rsplit('.').next().unwrap_or("directoryObject");
        let name = self
            .user_principal_name
            .as_deref()
            .or(self.display_name.as_deref())
            .unwrap_or("?");
        write!(f, "{kind} {name} ({})", self.id)
    }
}

/// The owners of an application (`GET /applications/{id}/owners`).
pub async fn list_owners(rest: &Rest, app_object_id: &str) -> Result<Vec<Owner>> {
    let url = rest
        .profile
        .graph_url(&format!("/applications/{app_object_id}/owners"));
    list(rest, &url, "owners").await
}

/// Adds a directory object (user or service principal) as owner of an application
/// (`POST /applications/{id}/owners/$ref`; https://learn.microsoft.com/graph/api/application-post-owners).
/// An owner already there is not an error.
pub async fn add_owner(rest: &Rest, app_object_id: &str, owner_id: &str) -> Result<()> {
    let url = rest
        .profile
        .graph_url(&format!("/applications/{app_object_id}/owners/$ref"));
    let body =
        json!({ "@odata.id": rest.profile.graph_url(&format!("/directoryObjects/{owner_id}")) });
    match rest.send(Api::Graph, Method::POST, &url, Some(&body)).await {
        Ok(_) => Ok(()),
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("already exist") => Ok(()),
        Err(e) => Err(e),
    }
}

/// The application with this application (client) id, if any.
pub async fn find_application_by_app_id(rest: &Rest, app_id: &str) -> Result<Option<Application>> {
    let url = filter_url(
        rest,
        "applications",
        &format!("appId eq '{}'", odata(app_id)),
    )?;
    Ok(list::<Application>(rest, &url, "applications")
        .await?
        .into_iter()
        .next())
}

fn parse<T: for<'de> Deserialize<'de>>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v)
        .map_err(|e| Error::Other(format!("unexpected Graph answer for {what}: {e}")))
}

fn filter_url(rest: &Rest, collection: &str, filter: &str) -> Result<String> {
    let mut url = url::Url::parse(&rest.profile.graph_url(&format!("/{collection}")))
        .map_err(|e| Error::Other(format!("bad graph endpoint: {e}")))?;
    url.query_pairs_mut().append_pair("$filter", filter);
    Ok(url.to_string())
}

/// Every object a `$filter` list answers, all its pages read.
async fn list<T: for<'de> Deserialize<'de>>(rest: &Rest, url: &str, what: &str) -> Result<Vec<T>> {
    rest.get_all(Api::Graph, url)
        .await?
        .into_iter()
        .map(|v| parse(v, what))
        .collect()
}

/// OData string literal: single quotes doubled.
fn odata(s: &str) -> String {
    s.replace('\'', "''")
}

pub async fn get_application(rest: &Rest, object_id: &str) -> Result<Option<Application>> {
    match rest
        .get_opt(
            Api::Graph,
            &rest
                .profile
                .graph_url(&format!("/applications/{object_id}")),
        )
        .await?
    {
        Some(v) => Ok(Some(parse(v, "application")?)),
        None => Ok(None),
    }
}

/// Applications with this display name that carry one of `tags`.
pub async fn find_tagged_applications(
    rest: &Rest,
    display_name: &str,
    tags: &[String],
) -> Result<Vec<Application>> {
    let url = filter_url(
        rest,
        "applications",
        &format!("displayName eq '{}'", odata(display_name)),
    )?;
    Ok(list::<Application>(rest, &url, "applications")
        .await?
        .into_iter()
        .filter(|a| a.tags.iter().any(|t| tags.contains(t)))
        .collect())
}

/// Applications that carry `tag`, whatever their name (teardown and status without a state file).
pub async fn find_applications_by_tag(rest: &Rest, tag: &str) -> Result<Vec<Application>> {
    let url = filter_url(
        rest,
        "applications",
        &format!("tags/any(t:t eq '{}')", odata(tag)),
    )?;
    list(rest, &url, "applications").await
}

/// Creates a single-tenant app registration with our tag. Not repeated blindly: when the answer is lost,
/// the caller looks the app up by name and tag before trying again.
pub async fn create_application(rest: &Rest, display_name: &str, tag: &str) -> Result<Application> {
    let body = json!({
        "displayName": display_name,
        "signInAudience": "AzureADMyOrg",
        "tags": [tag],
    });
    let r = rest
        .send(
            Api::Graph,
            Method::POST,
            &rest.profile.graph_url("/applications"),
            Some(&body),
        )
        .await?;
    parse(r.body, "application")
}

/// The Application ID URI the guide asks for: `api://<client-id>`.
pub fn identifier_uri(app_id: &str) -> String {
    format!("api://{app_id}")
}

/// Sets the identifier URI, and our tag when `tag` is given (only on an app of ours); the app's own tags stay.
pub async fn set_identifier_uri(rest: &Rest, app: &Application, tag: Option<&str>) -> Result<()> {
    let mut tags = app.tags.clone();
    if let Some(tag) = tag {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    let body = json!({ "identifierUris": [identifier_uri(&app.app_id)], "tags": tags });
    rest.send(
        Api::Graph,
        Method::PATCH,
        &rest.profile.graph_url(&format!("/applications/{}", app.id)),
        Some(&body),
    )
    .await?;
    Ok(())
}

pub async fn find_service_principal(rest: &Rest, app_id: &str) -> Result<Option<ServicePrincipal>> {
    let url = filter_url(
        rest,
        "servicePrincipals",
        &format!("appId eq '{}'", odata(app_id)),
    )?;
    Ok(list::<ServicePrincipal>(rest, &url, "servicePrincipals")
        .await?
        .into_iter()
        .next())
}

/// A service principal by object id (`None` when it is gone).
pub async fn get_service_principal(
    rest: &Rest,
    object_id: &str,
) -> Result<Option<ServicePrincipal>> {
    match rest
        .get_opt(
            Api::Graph,
            &rest
                .profile
                .graph_url(&format!("/servicePrincipals/{object_id}")),
        )
        .await?
    {
        Some(v) => Ok(Some(parse(v, "servicePrincipal")?)),
        None => Ok(None),
    }
}

pub async fn create_service_principal(
    rest: &Rest,
    app_id: &str,
    tag: &str,
) -> Result<ServicePrincipal> {
    let body = json!({ "appId": app_id, "tags": [tag] });
    let r = rest
        .send(
            Api::Graph,
            Method::POST,
            &rest.profile.graph_url("/servicePrincipals"),
            Some(&body),
        )
        .await?;
    parse(r.body, "servicePrincipal")
}

/// Adds a client secret. Its value is in this answer only.
pub async fn add_password(
    rest: &Rest,
    app_object_id: &str,
    description: &str,
    end: OffsetDateTime,
) -> Result<NewSecret> {
    let end = end
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::Other(format!("cannot format the expiry: {e}")))?;
    let body = json!({ "passwordCredential": { "displayName": description, "endDateTime": end } });
    let url = rest
        .profile
        .graph_url(&format!("/applications/{app_object_id}/addPassword"));
    let r = rest
        .send(Api::Graph, Method::POST, &url, Some(&body))
        .await?;
    let key_id = r
        .body
        .get("keyId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let value = r
        .body
        .get("secretText")
        .and_then(Value::as_str)
        .map(SecretString::new);
    let end_date_time = r
        .body
        .get("endDateTime")
        .and_then(Value::as_str)
        .unwrap_or(&end)
        .to_string();
    match (key_id, value) {
        (Some(key_id), Some(value)) => Ok(NewSecret {
            key_id,
            end_date_time,
            value,
        }),
        _ => Err(Error::Other(
            "addPassword answered without keyId or secretText".into(),
        )),
    }
}

/// Removes a client secret from an app: true when it is not there any more (removed now, or before: Graph's 400
/// "No password credential found"), false when Graph does not find the app (gone, or made moments ago and not
/// replicated yet: see [`gone_while_replicating`]).
pub async fn remove_password(rest: &Rest, app_object_id: &str, key_id: &str) -> Result<bool> {
    let url = rest
        .profile
        .graph_url(&format!("/applications/{app_object_id}/removePassword"));
    match rest
        .send_with(
            Api::Graph,
            Method::POST,
            &url,
            Some(&json!({ "keyId": key_id })),
            true,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(Error::Azure(e)) if e.status == 404 => Ok(false),
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("No password credential") => {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Deletes an app registration (and with it its service principal); false if already gone.
pub async fn delete_application(rest: &Rest, object_id: &str) -> Result<bool> {
    let url = rest
        .profile
        .graph_url(&format!("/applications/{object_id}"));
    match rest.send(Api::Graph, Method::DELETE, &url, None).await {
        Ok(_) => Ok(true),
        Err(Error::Azure(e)) if e.status == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes a service principal; false if already gone.
pub async fn delete_service_principal(rest: &Rest, object_id: &str) -> Result<bool> {
    let url = rest
        .profile
        .graph_url(&format!("/servicePrincipals/{object_id}"));
    match rest.send(Api::Graph, Method::DELETE, &url, None).await {
        Ok(_) => Ok(true),
        Err(Error::Azure(e)) if e.status == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AzureError;

    fn azure(status: u16, code: &str, message: &str) -> Error {
        AzureError {
            details: Vec::new(),
            status,
            code: code.into(),
            message: message.into(),
            resource: "POST /v1.0/servicePrincipals".into(),
            hint: crate::error::Hint::None,
        }
        .into()
    }

    #[test]
    fn the_lag_is_a_not_found_or_a_service_principal_without_its_application_yet() {
        assert!(is_replication_lag(&azure(
            404,
            "Request_ResourceNotFound",
            "Resource 'x' does not exist"
        )));
        assert!(is_replication_lag(&azure(
            400,
            "Request_BadRequest",
            "The appId 'a' of the service principal does not reference a valid application object."
        )));
        assert!(!is_replication_lag(&azure(
            400,
            "Request_BadRequest",
            "Property 'x' does not exist"
        )));
        assert!(!is_replication_lag(&azure(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges"
        )));
    }
}
