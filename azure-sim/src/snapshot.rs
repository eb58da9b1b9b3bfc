//! `Snapshot`: what the tests read of the simulated world, and the changes they make behind the tool's back.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::lock;
use crate::world::World;

/// A view of the simulated world.
pub struct Snapshot {
    pub(crate) world: Arc<Mutex<World>>,
}

impl Snapshot {
    /// Graph application objects (secret values are never in them).
    pub fn applications(&self) -> Vec<Value> {
        lock(&self.world).graph.apps.clone()
    }
    pub fn service_principals(&self) -> Vec<Value> {
        lock(&self.world).graph.sps.clone()
    }
    /// (scope, role definition GUID, principal object id) of every role assignment.
    pub fn role_assignments(&self) -> Vec<(String, String, String)> {
        lock(&self.world)
            .rbac
            .assignments
            .iter()
            .map(|a| (a.scope.clone(), a.role.clone(), a.principal.clone()))
            .collect()
    }
    /// The owners (directory object ids) of an application, by its object id.
    pub fn app_owners(&self, app_object_id: &str) -> Vec<String> {
        lock(&self.world)
            .graph
            .owners
            .get(app_object_id)
            .cloned()
            .unwrap_or_default()
    }
    /// An ARM resource's body by id (case-insensitive); a diagnostic setting's too.
    pub fn resource(&self, id: &str) -> Option<Value> {
        lock(&self.world).resource_body(id)
    }
    /// Every resource of a type such as `Microsoft.Insights/dataCollectionRules`.
    pub fn resources_of_type(&self, ty: &str) -> Vec<Value> {
        lock(&self.world).resources_of_type(ty)
    }
    /// The rows ingested into a table of a workspace.
    pub fn table_rows(&self, workspace_id: &str, table: &str) -> Vec<Value> {
        lock(&self.world)
            .workspaces
            .rows
            .get(&format!("{workspace_id}/tables/{table}").to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }
    /// Rows the Logs Ingestion API accepted into an existing table (counted even when not stored).
    pub fn ingested_rows(&self) -> u64 {
        lock(&self.world).ingest.ingested
    }
    /// Ingestion requests that came gzip-compressed.
    pub fn ingestion_gzip_requests(&self) -> usize {
        lock(&self.world)
            .log
            .iter()
            .filter(|r| r.gzip && r.path.contains("/streams/"))
            .count()
    }
    /// The workspaces deleted without `force` and still recoverable (soft-deleted), each the body it had with
    /// `properties.modifiedDate` the time of its deletion.
    pub fn soft_deleted_workspaces(&self) -> Vec<Value> {
        lock(&self.world).soft_deleted_workspaces()
    }
    /// Deletes a resource behind the tool's back (with what is under it).
    pub fn delete_resource(&self, id: &str) {
        lock(&self.world).delete_resource(id);
    }
    /// Merges `patch` into a resource's body behind the tool's back.
    pub fn patch_resource(&self, id: &str, patch: Value) {
        lock(&self.world).patch_resource(id, &patch);
    }
}
