//! Microsoft Sentinel on a workspace and its content: onboarding state and analytics rules
//! (Microsoft.SecurityInsights), saved searches that are KQL functions (Microsoft.OperationalInsights) and
//! workbooks (Microsoft.Insights); and, read only, what else uses Sentinel there (automation rules, watchlists,
//! incidents, data connectors, installed solutions, bookmarks). Only generally available api-versions: US
//! Government clouds offer no preview.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{arm_delete, arm_get, arm_get_as, arm_list_as, arm_put, null_default};
use crate::error::{Error, Result};
use crate::rest::Rest;

/// SecurityInsights, stable (AlertRules.json and OnboardingStates.json, 2025-12-01).
pub const SECURITY_INSIGHTS_API: &str = "2025-12-01";
/// Workspace saved searches (SavedSearches.json, 2020-08-01).
pub const SAVED_SEARCHES_API: &str = "2020-08-01";
/// Workbooks (workbooks_API.json, 2023-06-01).
pub const WORKBOOKS_API: &str = "2023-06-01";
/// The ARM types of Sentinel's onboarding, its analytics rules, a workspace's saved searches and workbooks.
pub const ONBOARDING_TYPE: &str = "Microsoft.SecurityInsights/onboardingStates";
pub const RULE_TYPE: &str = "Microsoft.SecurityInsights/alertRules";
pub const SAVED_SEARCH_TYPE: &str = "Microsoft.OperationalInsights/workspaces/savedSearches";
pub const WORKBOOK_TYPE: &str = "Microsoft.Insights/workbooks";

/// The onboarding state's resource id: there is one per workspace, named `default`.
pub fn onboarding_id(workspace_id: &str) -> String {
    format!("{workspace_id}/providers/{ONBOARDING_TYPE}/default")
}

/// An analytics rule's resource id.
pub fn rule_id(workspace_id: &str, rule: &str) -> String {
    format!("{workspace_id}/providers/{RULE_TYPE}/{rule}")
}

/// A saved search's resource id.
pub fn saved_search_id(workspace_id: &str, name: &str) -> String {
    format!("{workspace_id}/savedSearches/{name}")
}

/// A workbook's resource id (a workbook lives in a resource group, beside the workspace it reads).
pub fn workbook_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{WORKBOOK_TYPE}/{name}")
}

/// An ARM child resource as the tool reads it: its kind (alert rules) and properties.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Child {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub properties: Value,
}

impl Child {
    /// Whether every property of `want` has the same value here. Azure adds read-only properties
    /// (lastModifiedUtc, timeModified, revision) and may fill in defaults inside objects we send: neither is drift.
    pub fn has_properties(&self, want: &Value) -> bool {
        contains(&self.properties, want)
    }
}

/// Whether `got` holds everything `want` says: objects key by key (extra keys allowed), arrays item by item,
/// JSON text (a workbook's serializedData) by its parsed value, everything else equal.
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| g.get(k).is_some_and(|gv| contains(gv, v))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| contains(a, b))
        }
        (Value::String(g), Value::String(w)) if g != w => {
            match (
                serde_json::from_str::<Value>(g),
                serde_json::from_str::<Value>(w),
            ) {
                (Ok(a @ Value::Object(_)), Ok(b @ Value::Object(_))) => a == b,
                _ => false,
            }
        }
        (g, w) => g == w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_azure_adds_are_not_drift_but_changed_values_are() {
        let got = Child {
            kind: Some("Scheduled".into()),
            properties: json!({ "query": "T", "lastModifiedUtc": "x",
                "incidentConfiguration": { "createIncident": true, "groupingConfiguration": { "enabled": false, "groupByEntities": [] } },
                "serializedData": "{\"a\": 1}" }),
        };
        assert!(got.has_properties(&json!({ "query": "T",
            "incidentConfiguration": { "createIncident": true, "groupingConfiguration": { "enabled": false } },
            "serializedData": "{\"a\":1}" })));
        assert!(!got.has_properties(&json!({ "query": "U" })));
        assert!(!got.has_properties(&json!({ "serializedData": "{\"a\":2}" })));
    }
}

/// Whether Sentinel is onboarded on the workspace.
pub async fn onboarded(rest: &Rest, workspace_id: &str) -> Result<bool> {
    Ok(
        arm_get(rest, &onboarding_id(workspace_id), SECURITY_INSIGHTS_API)
            .await?
            .is_some(),
    )
}

/// An analytics rule as the workspace lists it: its id, name, kind and (for the kinds that have one) its query.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuleSummary {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub properties: RuleSummaryProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSummaryProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub query: Option<String>,
}

/// Every analytics rule of the workspace, each page (AlertRules.json `AlertRules_List`, `x-ms-pageable`); none
/// when Sentinel is not on it. The stable api-version does not list NRT rules.
pub async fn alert_rules(rest: &Rest, workspace_id: &str) -> Result<Vec<RuleSummary>> {
    let rules = format!("{workspace_id}/providers/Microsoft.SecurityInsights/alertRules");
    unless_not_onboarded(arm_list_as(rest, &rules, SECURITY_INSIGHTS_API).await)
}

/// A Sentinel list on a workspace that is not onboarded answers 400 "Workspace '…' is not onboarded to Microsoft
/// Sentinel.": for us the list is empty.
fn unless_not_onboarded<T>(listed: Result<Vec<T>>) -> Result<Vec<T>> {
    match listed {
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("not onboarded") => {
            Ok(vec![])
        }
        other => other,
    }
}

/// Sentinel content other than analytics rules, each a collection under
/// `{workspace}/providers/Microsoft.SecurityInsights/`, paged (`x-ms-pageable`), in the stable specs: its path
/// segment and what a person calls one. AutomationRules.json `AutomationRules_List`, Watchlists.json
/// `Watchlists_List`, DataConnectors.json `DataConnectors_List`, ContentPackages.json `ContentPackages_List`
/// ("Gets all installed packages"), Bookmarks.json `Bookmarks_List` (all 2025-12-01). Incidents are read apart,
/// [`an_incident`]: a workspace may hold very many.
pub const CONTENT: &[(&str, &str)] = &[
    ("automationRules", "automation rule"),
    ("watchlists", "watchlist"),
    ("dataConnectors", "data connector"),
    ("contentPackages", "installed solution"),
    ("bookmarks", "hunting bookmark"),
];

/// A piece of Sentinel content as a list shows it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContentSummary {
    #[serde(default)]
    pub name: String,
    /// A data connector's kind (`AzureActiveDirectory`, …): it has no display name.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub properties: ContentSummaryProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentSummaryProperties {
    #[serde(default)]
    pub display_name: Option<String>,
    /// An incident's name.
    #[serde(default)]
    pub title: Option<String>,
}

impl ContentSummary {
    /// The name a person knows it by: its display name or title, a data connector's kind, else its resource name.
    pub fn label(&self) -> String {
        let p = &self.properties;
        p.display_name
            .clone()
            .or_else(|| p.title.clone())
            .or_else(|| self.kind.clone())
            .unwrap_or_else(|| self.name.clone())
    }
}

/// The workspace's content of one [`CONTENT`] collection, every page; none when Sentinel is not on it.
pub async fn content(
    rest: &Rest,
    workspace_id: &str,
    collection: &str,
) -> Result<Vec<ContentSummary>> {
    let list = format!("{workspace_id}/providers/Microsoft.SecurityInsights/{collection}");
    unless_not_onboarded(arm_list_as(rest, &list, SECURITY_INSIGHTS_API).await)
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ContentPage {
    #[serde(default)]
    value: Vec<ContentSummary>,
}

/// An incident of the workspace, if it holds any: the first page of one (Incidents.json `Incidents_List`, `$top`
/// of at most 1000); none when Sentinel is not on it.
pub async fn an_incident(rest: &Rest, workspace_id: &str) -> Result<Option<ContentSummary>> {
    let list = format!("{workspace_id}/providers/Microsoft.SecurityInsights/incidents");
    match arm_get_as::<ContentPage>(rest, &list, &format!("{SECURITY_INSIGHTS_API}&$top=1")).await {
        Ok(page) => Ok(page.and_then(|p| p.value.into_iter().next())),
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("not onboarded") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A workspace saved search as listed: its id and, when it is a function, its alias.
/// The workspace's saved searches with their properties (query, functionAlias, functionParameters, ...):
/// (id, properties).
pub async fn saved_searches_with_properties(
    rest: &Rest,
    workspace_id: &str,
) -> Result<Vec<(String, Value)>> {
    let all: Vec<Value> = arm_list_as(
        rest,
        &format!("{workspace_id}/savedSearches"),
        SAVED_SEARCHES_API,
    )
    .await?;
    Ok(all
        .into_iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_string(),
                s["properties"].clone(),
            )
        })
        .collect())
}

/// Onboards Sentinel on the workspace (the body is optional; `customerManagedKey: false` says so explicitly).
pub async fn onboard(rest: &Rest, workspace_id: &str) -> Result<()> {
    let body = json!({ "properties": { "customerManagedKey": false } });
    arm_put(
        rest,
        &onboarding_id(workspace_id),
        SECURITY_INSIGHTS_API,
        &body,
    )
    .await
    .map(|_| ())
}

/// A workbook as a list shows it: its id and display name.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkbookSummary {
    pub id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub properties: WorkbookSummaryProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkbookSummaryProperties {
    #[serde(default)]
    pub display_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct WorkbookList {
    #[serde(default)]
    value: Vec<WorkbookSummary>,
}

/// The workbooks of a category in a resource group (the list requires `category`).
pub async fn workbooks(
    rest: &Rest,
    subscription: &str,
    resource_group: &str,
    category: &str,
) -> Result<Vec<WorkbookSummary>> {
    let id = format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.Insights/workbooks"
    );
    let list: Option<WorkbookList> =
        arm_get_as(rest, &id, &format!("{WORKBOOKS_API}&category={category}")).await?;
    Ok(list.map(|l| l.value).unwrap_or_default())
}

/// Reads an analytics rule, a saved search or (with its content) a workbook; `None` when absent.
pub async fn get(rest: &Rest, id: &str) -> Result<Option<Child>> {
    if id.contains("/Microsoft.Insights/workbooks/") {
        // Without canFetchContent=true the answer leaves out serializedData (workbooks_API.json).
        let with_content = format!("{WORKBOOKS_API}&canFetchContent=true");
        return arm_get_as(rest, id, &with_content).await;
    }
    match arm_get_as(rest, id, api_version_of(id)).await {
        // A rule of a workspace that is no longer onboarded: Azure answers 400 "Workspace '…' is not onboarded to
        // Microsoft Sentinel." for every Sentinel read; for us the rule is not there.
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("not onboarded") => Ok(None),
        other => other,
    }
}

/// Creates or updates an analytics rule, saved search or workbook (all synchronous: 200 or 201).
pub async fn put(rest: &Rest, id: &str, body: &Value) -> Result<()> {
    arm_put(rest, id, api_version_of(id), body)
        .await
        .map(|_| ())
}

/// Deletes an analytics rule, saved search, workbook or the onboarding state (off-boards Sentinel); false when it
/// was already gone.
pub async fn delete(rest: &Rest, id: &str) -> Result<bool> {
    match arm_delete(rest, id, api_version_of(id), "").await {
        // Sentinel was removed from the workspace: its rules went with it.
        Err(Error::Azure(e)) if e.status == 400 && e.message.contains("not onboarded") => Ok(false),
        other => other,
    }
}

/// The api-version for a resource id of this module (onboarding states and alert rules: SecurityInsights).
pub fn api_version_of(id: &str) -> &'static str {
    if id.contains("/Microsoft.Insights/workbooks/") {
        WORKBOOKS_API
    } else if id.contains("/savedSearches/") {
        SAVED_SEARCHES_API
    } else {
        SECURITY_INSIGHTS_API
    }
}

/// The body of a Scheduled analytics rule (AlertRules.json `ScheduledAlertRule`).
pub fn scheduled_rule_body(properties: &Value) -> Value {
    json!({ "kind": "Scheduled", "properties": properties })
}

/// The body of a saved search that is a KQL function (SavedSearches.json `SavedSearch`).
pub fn function_body(
    category: &str,
    display_name: &str,
    alias: &str,
    query: &str,
    version: i64,
) -> Value {
    json!({ "properties": {
        "category": category,
        "displayName": display_name,
        "functionAlias": alias,
        "query": query,
        "version": version,
    } })
}

/// The body of a shared workbook shown in Sentinel (workbooks_API.json `Workbook`).
pub fn workbook_body(
    location: &str,
    display_name: &str,
    serialized: &str,
    source_id: &str,
    tags: Value,
) -> Value {
    json!({
        "location": location,
        "kind": "shared",
        "tags": tags,
        "properties": {
            "displayName": display_name,
            "category": "sentinel",
            "serializedData": serialized,
            "sourceId": source_id,
            "version": "Notebook/1.0",
        }
    })
}
