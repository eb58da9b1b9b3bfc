//! Log Analytics workspaces and their custom tables (Microsoft.OperationalInsights, api-version 2022-10-01).

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{arm_get_as, arm_put, null_default, parse, Tracked};
use crate::error::Result;
use crate::rest::{describe, Api, Rest};

pub const API_VERSION: &str = "2022-10-01";
/// The workspace's ARM type, and its tables'.
pub const TYPE: &str = "Microsoft.OperationalInsights/workspaces";
pub const TABLE_TYPE: &str = "Microsoft.OperationalInsights/workspaces/tables";

/// How long a workspace deleted without `force` can be recovered: "a soft-delete operation is performed to allow
/// the recovery of the workspace, including its data and connected agents, within 14 days" ("Delete and recover
/// an Azure Log Analytics workspace", learn.microsoft.com/azure/azure-monitor/logs/delete-workspace).
pub const SOFT_DELETE_DAYS: i64 = 14;

/// A workspace as the tool reads it (Workspaces.json `Workspace`).
pub type Workspace = Tracked<WorkspaceProperties>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceProperties {
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// The id the Log Analytics query API takes.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// When the workspace last changed; for a soft-deleted one, when it was deleted (see [`DeletedWorkspace`]).
    #[serde(default)]
    pub modified_date: Option<String>,
}

impl Workspace {
    pub fn provisioning_state(&self) -> Option<&str> {
        self.properties.provisioning_state.as_deref()
    }
    pub fn customer_id(&self) -> Option<&str> {
        self.properties.customer_id.as_deref()
    }
}

/// A soft-deleted workspace as DeletedWorkspaces_List answers it (Workspaces.json 2022-10-01: a `Workspace`).
/// It is recovered by a create of the same name in the same subscription, resource group and region; a create
/// of that name in another region is refused (409 `Conflict`, "The workspace name '…' is not unique") until it
/// is purged or its 14 days are over. The spec names no field for when it was deleted: its `modifiedDate` (its
/// last change was its deletion) is read as that, and a deletion time Azure does not give is left unknown.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DeletedWorkspace {
    #[serde(default)]
    pub id: String,
    #[serde(flatten)]
    pub workspace: Workspace,
}

impl DeletedWorkspace {
    /// When it was deleted, if Azure says.
    pub fn deleted_on(&self) -> Option<time::OffsetDateTime> {
        let d = self.workspace.properties.modified_date.as_deref()?;
        time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339).ok()
    }
}

/// Until when a workspace deleted (without `force`) at `deleted` can be recovered.
pub fn recoverable_until(deleted: time::OffsetDateTime) -> time::OffsetDateTime {
    // Azure's date may be anything: past the calendar's end it is kept as it is rather than overflow.
    deleted
        .checked_add(time::Duration::days(SOFT_DELETE_DAYS))
        .unwrap_or(deleted)
}

/// The soft-deleted workspace with this resource id, if there is one (DeletedWorkspaces_List of its
/// subscription: the resource group may be gone, and with it a list by group). `None` too when Azure does not
/// answer the list (4xx): then a create simply goes ahead, and Azure recovers or refuses it.
pub async fn find_deleted(
    rest: &Rest,
    subscription: &str,
    id: &str,
) -> Result<Option<DeletedWorkspace>> {
    let list = format!(
        "/subscriptions/{subscription}/providers/Microsoft.OperationalInsights/deletedWorkspaces"
    );
    match super::arm_list_as::<DeletedWorkspace>(rest, &list, API_VERSION).await {
        Ok(all) => Ok(all.into_iter().find(|d| d.id.eq_ignore_ascii_case(id))),
        Err(crate::error::Error::Azure(e)) if (400..500).contains(&e.status) && e.status != 429 => {
            tracing::info!(code = %e.code, "the deleted workspaces could not be listed");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A table as the tool reads it (Tables.json `Table`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Table {
    #[serde(default, deserialize_with = "null_default")]
    pub properties: TableProperties,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableProperties {
    #[serde(default, deserialize_with = "null_default")]
    pub schema: TableSchema,
    /// Interactive retention in days (the workspace's when the table sets none).
    #[serde(default)]
    pub retention_in_days: Option<i64>,
    /// Interactive plus long-term retention in days.
    #[serde(default)]
    pub total_retention_in_days: Option<i64>,
}

/// `properties.schema`: the columns we define; Azure lists its own (TimeGenerated, TenantId, ...) apart in
/// `standardColumns`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSchema {
    #[serde(default, deserialize_with = "null_default")]
    pub columns: Vec<Column>,
    /// `Classic` (made by the retired HTTP Data Collector API), `DataCollectionRuleBased` or `Any`.
    #[serde(default)]
    pub table_sub_type: Option<String>,
}

/// A column: name and type (compared case-insensitively: Azure's tools send `datetime`, the spec lists `dateTime`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Table {
    /// A table made by the retired HTTP Data Collector API: the tables API refuses to change its schema.
    pub fn is_classic(&self) -> bool {
        self.properties
            .schema
            .table_sub_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Classic"))
    }
    /// The table's columns as sorted (name, lower-case type) pairs, for comparing with the template.
    pub fn columns(&self) -> Vec<(String, String)> {
        column_pairs(&self.properties.schema.columns)
    }
}

/// Sorted (name, lower-case type) pairs of a column list.
pub fn column_pairs(columns: &[Column]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = columns
        .iter()
        .map(|c| (c.name.clone(), c.kind.to_ascii_lowercase()))
        .collect();
    v.sort();
    v
}

/// Reads a column array (the template, or a stream declaration) as columns.
pub fn columns_from(value: &Value) -> Vec<Column> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// A workspace of a subscription, as a person picks it: its resource id, name and location.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WorkspaceEntry {
    pub id: String,
    pub name: String,
    pub location: String,
}

/// Every Log Analytics workspace of a subscription.
pub async fn list_in_subscription(rest: &Rest, subscription: &str) -> Result<Vec<WorkspaceEntry>> {
    let url = rest.profile.arm_url(&format!(
        "/subscriptions/{subscription}/providers/Microsoft.OperationalInsights/workspaces?api-version={API_VERSION}"
    ));
    super::providers::list_lenient(rest, &url).await
}

/// Resource id of a workspace.
pub fn workspace_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{TYPE}/{name}")
}

/// Resource id of a table in a workspace.
pub fn table_id(workspace_id: &str, table: &str) -> String {
    format!("{workspace_id}/tables/{table}")
}

pub async fn get(rest: &Rest, id: &str) -> Result<Option<Workspace>> {
    arm_get_as(rest, id, API_VERSION).await
}

/// The PUT body of a new workspace (Workspaces.json `Workspace`).
pub fn body(location: &str, tags: Value) -> Value {
    json!({
        "location": location,
        "tags": tags,
        "properties": { "sku": { "name": "PerGB2018" }, "retentionInDays": 30 }
    })
}

/// Creates or updates a workspace and waits until it says `Succeeded`: the end of the operation alone is not proof.
pub async fn put_and_wait(rest: &Rest, id: &str, body: &Value) -> Result<Workspace> {
    let r = arm_put(rest, id, API_VERSION, body).await?;
    let url = rest
        .profile
        .arm_url(&format!("{id}?api-version={API_VERSION}"));
    rest.wait_lro(Api::Arm, &describe(&Method::PUT, &url), &r)
        .await?;
    wait_ready(rest, id).await
}

/// Polls a workspace until it says `Succeeded` (an error if it says `Failed` or `Canceled`).
pub async fn wait_ready(rest: &Rest, id: &str) -> Result<Workspace> {
    let url = rest
        .profile
        .arm_url(&format!("{id}?api-version={API_VERSION}"));
    let body = rest
        .poll_resource(Api::Arm, &url, |b| {
            match b
                .pointer("/properties/provisioningState")
                .and_then(Value::as_str)
            {
                Some("Succeeded") => Some(Ok(())),
                Some(s @ ("Failed" | "Canceled")) => Some(Err(s.to_string())),
                _ => None,
            }
        })
        .await?;
    parse(body, id)
}

pub async fn get_table(rest: &Rest, id: &str) -> Result<Option<Table>> {
    arm_get_as(rest, id, API_VERSION).await
}

/// The PUT body of a custom table (Tables.json `Table`) with these columns and, when given, retention. A PUT
/// without retention values resets them to the defaults ("Manage data retention in a Log Analytics workspace",
/// learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure), so callers pass the table's own when
/// they mean to keep them.
pub fn table_body(
    table_name: &str,
    columns: &Value,
    retention_in_days: Option<i64>,
    total_retention_in_days: Option<i64>,
) -> Value {
    let mut b = json!({ "properties": { "schema": { "name": table_name, "columns": columns } } });
    if let Some(d) = retention_in_days {
        b["properties"]["retentionInDays"] = json!(d);
    }
    if let Some(d) = total_retention_in_days {
        b["properties"]["totalRetentionInDays"] = json!(d);
    }
    b
}

/// Creates or updates a table: a long-running operation (202 + Azure-AsyncOperation).
pub async fn put_table(rest: &Rest, id: &str, body: &Value) -> Result<()> {
    let r = arm_put(rest, id, API_VERSION, body).await?;
    rest.wait_lro(Api::Arm, &format!("PUT {id}"), &r).await
}
