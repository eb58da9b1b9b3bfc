//! Role definitions the guide names and role assignments (Microsoft.Authorization, api-version 2022-04-01).

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::rest::{Api, Rest, Schedule};

pub const API_VERSION: &str = "2022-04-01";
/// A role assignment's ARM type.
pub const ASSIGNMENT_TYPE: &str = "Microsoft.Authorization/roleAssignments";

/// How long Logs Ingestion may answer 403 after the role assignment it relies on: "Error code 403 … You might
/// also need to wait up to 30 minutes for permissions to propagate" (Sample code to send data to Azure Monitor
/// using Logs ingestion API, Troubleshooting,
/// https://learn.microsoft.com/azure/azure-monitor/logs/tutorial-logs-ingestion-code#troubleshooting).
pub const INGESTION_PROPAGATION: Duration = Duration::from_secs(30 * 60);

/// How long the Log Analytics query API may take to recognise a new role: "it might take up to 60 minutes for
/// the … REST API to recognize new role-based access control permissions. While permissions are propagating,
/// REST API calls might fail with error code 403" (Azure Monitor Log Analytics API errors, "Insufficient
/// permissions", https://learn.microsoft.com/azure/azure-monitor/logs/api/errors).
pub const QUERY_PROPAGATION: Duration = Duration::from_secs(60 * 60);

/// How long after a role assignment a 403 may still be Azure propagating it rather than a role missing: the query
/// API's hour, which is also ingestion's half hour with as much again for margin.
pub const PROPAGATES_WITHIN: Duration = QUERY_PROPAGATION;

/// How long the first rows may take to show in a new table: "It shouldn't take longer than 15 minutes" (Sample
/// code to send data to Azure Monitor using Logs ingestion API, Troubleshooting, "No data").
pub const FIRST_ROWS: Duration = Duration::from_secs(15 * 60);

/// `verify --timeout`'s default, in seconds: Azure's worst case right after setup, the query API's hour to
/// recognise the app's new role on the workspace (ingestion's half hour runs within it), and the first rows' 15
/// minutes after.
pub const VERIFY_TIMEOUT_SECS: u64 = QUERY_PROPAGATION.as_secs() + FIRST_ROWS.as_secs();

/// A built-in Azure role the guide assigns.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Role {
    LogAnalyticsContributor,
    MonitoringMetricsPublisher,
    MonitoringContributor,
    MonitoringReader,
}

impl Role {
    /// The built-in role definition GUID: the same in every Azure cloud.
    pub fn guid(self) -> &'static str {
        match self {
            Role::LogAnalyticsContributor => "92aaf0da-9dab-42b6-94a3-d43ce8d16293",
            Role::MonitoringMetricsPublisher => "3913510d-42f4-4e42-8a64-420c390055eb",
            Role::MonitoringContributor => "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
            Role::MonitoringReader => "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
        }
    }

    /// The role's display name, as the portal shows it.
    pub fn display_name(self) -> &'static str {
        match self {
            Role::LogAnalyticsContributor => "Log Analytics Contributor",
            Role::MonitoringMetricsPublisher => "Monitoring Metrics Publisher",
            Role::MonitoringContributor => "Monitoring Contributor",
            Role::MonitoringReader => "Monitoring Reader",
        }
    }

    /// The role with this display name.
    pub fn from_display_name(name: &str) -> Option<Role> {
        [
            Role::LogAnalyticsContributor,
            Role::MonitoringMetricsPublisher,
            Role::MonitoringContributor,
            Role::MonitoringReader,
        ]
        .into_iter()
        .find(|r| r.display_name() == name)
    }

    /// The role with this definition GUID (or a definition id ending in it), if it is one the guide assigns.
    pub fn from_definition(id: &str) -> Option<Role> {
        let id = id.to_ascii_lowercase();
        [
            Role::LogAnalyticsContributor,
            Role::MonitoringMetricsPublisher,
            Role::MonitoringContributor,
            Role::MonitoringReader,
        ]
        .into_iter()
        .find(|r| id.ends_with(r.guid()))
    }

    /// The full role definition id for a subscription.
    pub fn definition_id(self, subscription: &str) -> String {
        format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
            self.guid()
        )
    }
}

/// A stable assignment name for scope + role + principal (a UUID v5 of the three, lower-cased): a re-run that
/// lost its state file PUTs the same name instead of a duplicate.
pub fn assignment_name(scope: &str, role: Role, principal_id: &str) -> String {
    let key = format!(
        "{}|{}|{}",
        scope.to_ascii_lowercase(),
        role.guid(),
        principal_id.to_ascii_lowercase()
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, key.as_bytes()).to_string()
}

pub fn assignment_id(scope: &str, name: &str) -> String {
    format!("{scope}/providers/{ASSIGNMENT_TYPE}/{name}")
}

/// A role assignment as the tool reads it (`RoleAssignment`, flattened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: String,
    pub scope: String,
    pub role_definition_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentProperties {
    scope: String,
    role_definition_id: String,
    principal_id: String,
}

#[derive(Deserialize)]
struct AssignmentBody {
    id: String,
    properties: AssignmentProperties,
}

impl Assignment {
    /// Whether this is `role` exactly at `scope`.
    pub fn is(&self, scope: &str, role: Role) -> bool {
        self.scope.eq_ignore_ascii_case(scope)
            && self
                .role_definition_id
                .to_ascii_lowercase()
                .ends_with(role.guid())
    }
}

/// A principal's assignments at, above and below `scope`.
pub async fn list(rest: &Rest, scope: &str, principal_id: &str) -> Result<Vec<Assignment>> {
    let mut url = url::Url::parse(&rest.profile.arm_url(&format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments"
    )))
    .map_err(|e| Error::Other(format!("bad scope {scope}: {e}")))?;
    url.query_pairs_mut()
        .append_pair("api-version", API_VERSION)
        .append_pair("$filter", &format!("principalId eq '{principal_id}'"));
    let list = rest.get_all(Api::Arm, url.as_str()).await?;
    // An entry we cannot read (another kind of principal, a field missing) is not ours to judge: skipped.
    Ok(list
        .into_iter()
        .filter_map(read)
        .filter(|(_, principal)| principal == principal_id)
        .map(|(a, _)| a)
        .collect())
}

/// Reads one role assignment as ARM answers it, with its principal id; `None` when a field we need is missing.
pub fn read(v: Value) -> Option<(Assignment, String)> {
    let a = serde_json::from_value::<AssignmentBody>(v).ok()?;
    Some((
        Assignment {
            id: a.id,
            scope: a.properties.scope,
            role_definition_id: a.properties.role_definition_id,
        },
        a.properties.principal_id,
    ))
}

/// Every assignment of a principal in a subscription: one request.
pub async fn list_for_principal(
    rest: &Rest,
    subscription: &str,
    principal_id: &str,
) -> Result<Vec<Assignment>> {
    list(
        rest,
        &format!("/subscriptions/{subscription}"),
        principal_id,
    )
    .await
}

/// The id of an existing assignment of `role` to `principal_id` exactly at `scope`, if there is one.
pub async fn find(
    rest: &Rest,
    scope: &str,
    role: Role,
    principal_id: &str,
) -> Result<Option<String>> {
    Ok(list(rest, scope, principal_id)
        .await?
        .into_iter()
        .find(|a| a.is(scope, role))
        .map(|a| a.id))
}

/// Assigns `role` at `scope` to a service principal, retrying `PrincipalNotFound` while a new principal
/// replicates (up to `replication_wait`). Returns the assignment id; `RoleAssignmentExists` counts as done.
pub async fn create(
    rest: &Rest,
    subscription: &str,
    scope: &str,
    role: Role,
    principal_id: &str,
    replication_wait: Duration,
    mut on_waiting: impl FnMut(),
) -> Result<String> {
    let name = assignment_name(scope, role, principal_id);
    let id = assignment_id(scope, &name);
    let body = json!({
        "properties": {
            "roleDefinitionId": role.definition_id(subscription),
            "principalId": principal_id,
            // Tells ARM not to look the principal up in a replica that may not have it yet.
            "principalType": "ServicePrincipal"
        }
    });
    let put = crate::rest::retry_while(
        REPLICATING.within(replication_wait),
        |e| matches!(e, Error::Azure(a) if a.code == "PrincipalNotFound"),
        |_| {
            on_waiting();
            tracing::info!(
                principal_id,
                "waiting for the new service principal to replicate"
            );
        },
        || super::arm_put(rest, &id, API_VERSION, &body),
    )
    .await;
    match put {
        Ok(_) => Ok(id),
        Err(Error::Azure(e)) if e.code == "RoleAssignmentExists" => {
            Ok(find(rest, scope, role, principal_id).await?.unwrap_or(id))
        }
        Err(e) => Err(e),
    }
}

/// How a new principal's replication to ARM is waited out: from 500 ms, doubling, at most 10 s between tries.
const REPLICATING: Schedule = Schedule::new(Duration::from_millis(500), Duration::from_secs(10));

/// Deletes an assignment; false when it was already gone.
pub async fn delete(rest: &Rest, id: &str) -> Result<bool> {
    super::arm_delete(rest, id, API_VERSION, "").await
}
