//! Subscriptions, locations, resource provider registration and resource groups: what preflight checks.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use serde::Deserialize;

use super::{arm_get, arm_get_as, arm_put, Tracked};
use crate::error::{Error, Result};
use crate::rest::{Api, Rest};

const SUBSCRIPTIONS_API: &str = "2022-12-01";
const RESOURCES_API: &str = "2021-04-01";

/// The resource providers the integration needs registered.
pub const REQUIRED: [&str; 2] = ["Microsoft.Insights", "Microsoft.OperationalInsights"];
/// The provider `--sentinel` needs besides (onboarding states and analytics rules).
pub const SENTINEL: &str = "Microsoft.SecurityInsights";

/// A subscription as the tool reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(default)]
    pub tenant_id: Option<String>,
}

pub async fn subscription(rest: &Rest, id: &str) -> Result<Option<Subscription>> {
    arm_get_as(rest, &format!("/subscriptions/{id}"), SUBSCRIPTIONS_API).await
}

/// A subscription the signed-in identity sees, as a person picks it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionEntry {
    pub subscription_id: String,
    pub display_name: String,
}

/// Every subscription the signed-in identity sees.
pub async fn list_subscriptions(rest: &Rest) -> Result<Vec<SubscriptionEntry>> {
    let url = rest
        .profile
        .arm_url(&format!("/subscriptions?api-version={SUBSCRIPTIONS_API}"));
    list_lenient(rest, &url).await
}

/// The id of the subscription whose display name is `name` (any case), among those the signed-in identity sees
/// (ARM's subscription list, as `az account list` shows it): a name that matches none, or several, is refused
/// with the candidates.
pub async fn subscription_by_name(rest: &Rest, name: &str) -> Result<String> {
    let all = list_subscriptions(rest).await?;
    let named: Vec<&SubscriptionEntry> = all
        .iter()
        .filter(|s| s.display_name.eq_ignore_ascii_case(name.trim()))
        .collect();
    let listed = |subs: &[&SubscriptionEntry]| {
        subs.iter()
            .map(|s| format!("{} ({})", s.display_name, s.subscription_id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match named.as_slice() {
        [one] => Ok(one.subscription_id.clone()),
        [] => Err(Error::input(
            format!("--subscription '{name}' is neither a subscription id nor the name of a subscription you can see"),
            if all.is_empty() {
                "the signed-in identity sees no subscription: check the tenant (--tenant) and its role assignments".to_string()
            } else {
                format!("pass one of: {}", listed(&all.iter().collect::<Vec<_>>()))
            },
        )),
        many => Err(Error::input(
            format!("--subscription '{name}' names {} subscriptions", many.len()),
            format!("pass the id of the one you mean: {}", listed(many)),
        )),
    }
}

/// A resource group of a subscription: its name and where it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourceGroupEntry {
    pub name: String,
    pub location: String,
}

/// Every resource group of a subscription.
pub async fn list_resource_groups(
    rest: &Rest,
    subscription: &str,
) -> Result<Vec<ResourceGroupEntry>> {
    let url = rest.profile.arm_url(&format!(
        "/subscriptions/{subscription}/resourcegroups?api-version={RESOURCES_API}"
    ));
    list_lenient(rest, &url).await
}

/// Every item of an ARM collection (all pages), each read into what a prompt shows: a field it lacks is empty.
pub(super) async fn list_lenient<T: serde::de::DeserializeOwned + Default>(
    rest: &Rest,
    url: &str,
) -> Result<Vec<T>> {
    Ok(rest
        .get_all(Api::Arm, url)
        .await?
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap_or_default())
        .collect())
}

/// The names of the locations a subscription can use (`eastus`, `usgovvirginia`, ...).
pub async fn location_names(rest: &Rest, subscription: &str) -> Result<Vec<String>> {
    let url = rest.profile.arm_url(&format!(
        "/subscriptions/{subscription}/locations?api-version={SUBSCRIPTIONS_API}"
    ));
    let list = rest.get_all(Api::Arm, &url).await?;
    Ok(list
        .iter()
        .filter_map(|l| l.get("name")?.as_str().map(str::to_string))
        .collect())
}

/// The registration state of a provider namespace.
pub async fn registration_state(
    rest: &Rest,
    subscription: &str,
    namespace: &str,
) -> Result<String> {
    let body = arm_get(
        rest,
        &format!("/subscriptions/{subscription}/providers/{namespace}"),
        RESOURCES_API,
    )
    .await?
    .unwrap_or(Value::Null);
    Ok(body
        .get("registrationState")
        .and_then(Value::as_str)
        .unwrap_or("NotRegistered")
        .to_string())
}

/// Registers a provider and waits (up to `timeout`) until it says `Registered`. Register is idempotent.
pub async fn register_and_wait(
    rest: &Rest,
    subscription: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<()> {
    let url = rest.profile.arm_url(&format!(
        "/subscriptions/{subscription}/providers/{namespace}/register?api-version={RESOURCES_API}"
    ));
    rest.send_with(Api::Arm, Method::POST, &url, None, true)
        .await?;
    let registered = crate::rest::poll_until(
        crate::rest::Schedule::every(Duration::from_millis(500)).within(timeout),
        || {},
        || async {
            Ok(
                (registration_state(rest, subscription, namespace).await? == "Registered")
                    .then_some(()),
            )
        },
    )
    .await?;
    registered.ok_or_else(|| {
        Error::input(
            format!(
                "resource provider {namespace} is still registering after {}s",
                timeout.as_secs()
            ),
            format!(
                "wait a few minutes and re-run; `az provider show -n {namespace}` shows its state"
            ),
        )
    })
}

/// The resource group's ARM type, and the api-version the tool reads and writes groups with.
pub const RESOURCE_GROUP_TYPE: &str = "Microsoft.Resources/subscriptions/resourceGroups";
pub const RESOURCE_GROUPS_API: &str = RESOURCES_API;

pub fn resource_group_id(subscription: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{name}")
}

/// A resource group as the tool reads it.
pub type ResourceGroup = Tracked<serde::de::IgnoredAny>;

pub async fn resource_group(
    rest: &Rest,
    subscription: &str,
    name: &str,
) -> Result<Option<ResourceGroup>> {
    arm_get_as(rest, &resource_group_id(subscription, name), RESOURCES_API).await
}

pub async fn create_resource_group(
    rest: &Rest,
    subscription: &str,
    name: &str,
    location: &str,
    tags: Value,
) -> Result<Value> {
    let body = json!({ "location": location, "tags": tags });
    Ok(arm_put(
        rest,
        &resource_group_id(subscription, name),
        RESOURCES_API,
        &body,
    )
    .await?
    .body)
}

/// Resources (or, with `groups`, resource groups) of a subscription that carry `tag` = `value`.
pub async fn tagged(
    rest: &Rest,
    subscription: &str,
    tag: &str,
    value: &str,
    groups: bool,
) -> Result<Vec<Value>> {
    let what = if groups {
        "resourcegroups"
    } else {
        "resources"
    };
    let mut url = url::Url::parse(
        &rest
            .profile
            .arm_url(&format!("/subscriptions/{subscription}/{what}")),
    )
    .map_err(|e| Error::Other(format!("bad subscription id: {e}")))?;
    url.query_pairs_mut()
        .append_pair("api-version", RESOURCES_API)
        .append_pair(
            "$filter",
            &format!("tagName eq '{tag}' and tagValue eq '{value}'"),
        );
    rest.get_all(Api::Arm, url.as_str()).await
}

/// Names of the resources left in a resource group.
pub async fn resources_in_group(
    rest: &Rest,
    subscription: &str,
    name: &str,
) -> Result<Vec<String>> {
    let url = rest.profile.arm_url(&format!(
        "{}/resources?api-version={RESOURCES_API}",
        resource_group_id(subscription, name)
    ));
    let list = rest.get_all(Api::Arm, &url).await?;
    Ok(list
        .iter()
        .filter_map(|r| r.get("id")?.as_str().map(str::to_string))
        .collect())
}

pub async fn delete_resource_group(rest: &Rest, subscription: &str, name: &str) -> Result<bool> {
    super::arm_delete(
        rest,
        &resource_group_id(subscription, name),
        RESOURCES_API,
        "",
    )
    .await
}
