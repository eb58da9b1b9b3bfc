//! Log Analytics workspaces (soft-deleted, recovered, purged) and their tables, and the long-running operations
//! their writes start.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::faults::FaultAction;
use super::{lc, Req, Res, World};
use crate::reply::{arm_err, now_iso, Reply};
use crate::schema;

/// What the workspaces hold beside their ARM resources: the rows of their tables, what deleted tables and
/// soft-deleted workspaces keep, which workspaces have had data, and the long-running operations of their writes.
#[derive(Debug, Default)]
pub struct WorkspacesState {
    /// The rows of each table, by lower-case table id.
    pub rows: HashMap<String, Vec<Value>>,
    /// Custom tables deleted from a live workspace (lower-case id): their rows and columns, back when a table of
    /// that name and those columns is made again.
    deleted_tables: HashMap<String, DeletedTable>,
    /// Workspaces deleted without `force` (lower-case id), recoverable for 14 days with what they held.
    soft_deleted: BTreeMap<String, SoftDeleted>,
    /// Workspaces (ids, lower case) that have received a row: from then on their queries never answer 204 ("No
    /// data in workspace"), even once a table is deleted.
    had_data: HashSet<String>,
    /// Long-running operations by id (`operationStatuses`).
    operations: HashMap<String, Operation>,
}

#[derive(Debug, Clone)]
struct Operation {
    resource: String,
    done_at: Instant,
    fail: bool,
}

/// What ingestion, the Data Collector API, the query API and ARM's deletes do with the workspaces' data.
impl WorkspacesState {
    /// The workspace (lower-case id) has received a row.
    pub(super) fn mark_had_data(&mut self, ws_key: String) {
        self.had_data.insert(ws_key);
    }

    /// Whether the workspace (lower-case id) has ever received a row.
    pub(super) fn had_data(&self, ws_key: &str) -> bool {
        self.had_data.contains(ws_key)
    }

    /// Adds rows to a table (lower-case id).
    pub(super) fn append_rows(&mut self, table_key: String, rows: impl IntoIterator<Item = Value>) {
        self.rows.entry(table_key).or_default().extend(rows);
    }

    /// The rows of a table (lower-case id).
    pub(super) fn rows_of(&self, table_key: &str) -> &[Value] {
        self.rows.get(table_key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Drops the rows of the tables under a resource being deleted (`prefix`: its lower-case id and `/`).
    pub(super) fn drop_rows_under(&mut self, prefix: &str) {
        self.rows.retain(|k, _| !k.starts_with(prefix));
    }

    /// Forgets the rows, kept or of deleted tables, at `key` or under it (`prefix`: `key` and `/`).
    pub(super) fn forget_table_data(&mut self, key: &str, prefix: &str) {
        self.rows.retain(|k, _| *k != key && !k.starts_with(prefix));
        self.deleted_tables
            .retain(|k, _| *k != key && !k.starts_with(prefix));
    }
}

impl World {
    /// How long a workspace (or else table) operation runs: the latency model's figure, or `lro_duration`.
    fn lro(&self, workspace: bool) -> Duration {
        match &self.cfg.latency {
            Some(l) if workspace => l.scaled(l.workspace_create),
            Some(l) => l.scaled(l.table_create),
            None => self.cfg.lro_duration,
        }
    }

    pub(super) fn put_workspace(
        &mut self,
        id: &str,
        name: &str,
        body: &Value,
        existing: Option<Value>,
        fault: &FaultAction,
    ) -> Reply {
        if let Err(r) = self.validate(
            schema::WORKSPACES,
            "Workspace",
            body,
            "InvalidRequestContent",
        ) {
            return r;
        }
        let ok = name.len() >= 4
            && name.len() <= 63
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return arm_err(400, "InvalidWorkspaceName", format!("The workspace name '{name}' is invalid. It must be 4-63 alphanumerics or hyphens, starting and ending with an alphanumeric."));
        }
        // A create of a soft-deleted workspace's name in its resource group is its recovery, in its region only.
        let recovered = match existing {
            Some(_) => None,
            None => match self.recover_workspace(&lc(id), name, body) {
                Ok(r) => r,
                Err(refused) => return refused,
            },
        };
        let now = self.now();
        let created = existing.is_none();
        let prior = existing.as_ref().or(recovered.as_ref());
        let customer = prior
            .and_then(|e| e.pointer("/properties/customerId").cloned())
            .unwrap_or_else(|| json!(self.uuid()));
        let created_date = prior
            .and_then(|e| e.pointer("/properties/createdDate").cloned())
            .unwrap_or_else(|| json!(now_iso()));
        let mut props = body.get("properties").cloned().unwrap_or(json!({}));
        if props.get("sku").is_none() {
            props["sku"] = json!({ "name": "PerGB2018" });
        }
        if props.get("retentionInDays").is_none() {
            props["retentionInDays"] = json!(30);
        }
        props["customerId"] = customer;
        props["provisioningState"] = json!(if created { "Creating" } else { "Succeeded" });
        props["createdDate"] = created_date;
        props["modifiedDate"] = json!(self.wall_iso());
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.OperationalInsights/workspaces", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        let fail = matches!(fault, FaultAction::FailLro);
        let ready = if created { now + self.lro(true) } else { now };
        self.resources.insert(
            lc(id),
            Res {
                body: rb.clone(),
                ready_at: ready,
                fail,
            },
        );
        let loc = format!("{}{id}?api-version=2022-10-01", self.base_url);
        Reply::json(if created { 201 } else { 200 }, rb).header("Location", loc)
    }

    /// Deletes a workspace (DELETE 200, 204 when there is none, a soft-deleted one included). Without `force` it
    /// is soft-deleted: gone from GET and every list, kept with its data for 14 days. With `force=true` it is
    /// purged. "Delete and recover an Azure Log Analytics workspace"
    /// (learn.microsoft.com/azure/azure-monitor/logs/delete-workspace): "a soft-delete operation is performed to
    /// allow the recovery of the workspace, including its data and connected agents, within 14 days"; the `force`
    /// query parameter "Deletes the workspace without the recovery option" (Workspaces.json 2022-10-01,
    /// Workspaces_Delete). A soft-deleted workspace is not purged by another DELETE: "If the workspace is in
    /// soft-delete state, you must recover the workspace first and permanently delete it then" (same page), and a
    /// DELETE of what is not there answers 204 ("I'm receiving 204 response code with 'Resource not found'").
    pub(super) fn delete_workspace(&mut self, key: &str, force: bool) -> Reply {
        let Some(gone) = self.take_workspace(key) else {
            return Reply::empty(204);
        };
        if !force {
            self.workspaces.soft_deleted.insert(key.to_string(), gone);
        }
        Reply::empty(200)
    }

    /// Soft-deletes every workspace in a resource group being deleted: "If you deleted your resource group and
    /// your workspace was included, you can see the deleted workspace on the Open recycle bin page" (the page
    /// above, Troubleshooting); its recovery needs the group made again first.
    pub(super) fn soft_delete_workspaces_in(&mut self, group_key: &str) {
        let prefix = format!("{group_key}/providers/microsoft.operationalinsights/workspaces/");
        let keys: Vec<String> = self
            .resources
            .keys()
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect();
        for k in keys {
            let _ = self.delete_workspace(&k, false);
        }
    }

    /// Removes a workspace and everything under it: its resources, rows, deleted tables' rows and the role
    /// assignments at or under it ("any associated users' permission is broken", the page above). Returns what
    /// a soft delete keeps: the workspace as it was (`modifiedDate` the time of deletion), its tables and saved
    /// searches with their rows. Sentinel (Microsoft.SecurityInsights) is not kept: "Installed solutions and
    /// linked services ... are permanently removed from the workspace at deletion time and can't be recovered".
    fn take_workspace(&mut self, key: &str) -> Option<SoftDeleted> {
        let mut ws = self.resources.remove(key)?;
        let prefix = format!("{key}/");
        let under: Vec<String> = self
            .resources
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect();
        let held = under
            .into_iter()
            .filter_map(|k| self.resources.remove(&k).map(|r| (k, r)))
            .filter(|(k, _)| !k.contains("/providers/microsoft.securityinsights/"))
            .collect();
        let rows = take_under(&mut self.workspaces.rows, &prefix);
        let deleted_tables = take_under(&mut self.workspaces.deleted_tables, &prefix);
        let had_data = self.workspaces.had_data.remove(key);
        self.rbac.remove_at_or_under(key);
        ws.body["properties"]["modifiedDate"] = json!(self.wall_iso());
        Some(SoftDeleted {
            body: ws.body,
            deleted_at: self.now(),
            held,
            rows,
            deleted_tables,
            had_data,
        })
    }

    /// A create (PUT) of a workspace that is not there, when a workspace of that name in that resource group is
    /// soft-deleted: in its region, the workspace comes back with what it held (`Ok(Some(its body))`); in another,
    /// 409 `Conflict` "The workspace name '…' is not unique". The page above, "Recover a workspace in a soft-delete
    /// state": recovery "is performed by re-creating the Log Analytics workspace with the details of the deleted
    /// workspace, including: Subscription ID, Resource group name, Workspace name, Region"; "The name of the deleted
    /// workspace is preserved during the soft-delete period and can't be used to create a new workspace", with
    /// the "conflict" error of its Troubleshooting section. The code, message and target are those Azure answered
    /// for such a name (Azure/azure-quickstart-templates#5284, Azure/Industrial-IoT#386), and a create in another
    /// region of a soft-deleted workspace's name answered that Conflict (Azure/azure-cli#11916, the service's
    /// answer: "the workspace is in soft-delete state yet and its name is therefore reserved - this led to the
    /// Conflict").
    fn recover_workspace(
        &mut self,
        key: &str,
        name: &str,
        body: &Value,
    ) -> Result<Option<Value>, Reply> {
        let Some(d) = self.workspaces.soft_deleted.get(key) else {
            return Ok(None);
        };
        let region = |v: &Value| {
            v.as_str()
                .unwrap_or_default()
                .replace(' ', "")
                .to_ascii_lowercase()
        };
        if region(&d.body["location"]) != region(&body["location"]) {
            return Err(Reply::json(
                409,
                json!({ "error": { "code": "Conflict", "message": format!("The workspace name '{name}' is not unique"), "target": "name" } }),
            ));
        }
        let Some(d) = self.workspaces.soft_deleted.remove(key) else {
            return Ok(None);
        };
        self.resources.extend(d.held);
        self.workspaces.rows.extend(d.rows);
        self.workspaces.deleted_tables.extend(d.deleted_tables);
        if d.had_data {
            self.workspaces.had_data.insert(key.to_string());
        }
        Ok(Some(d.body))
    }

    /// Forgets soft-deleted workspaces past their 14 days: "After the soft-delete period, the workspace resource
    /// and its data are non-recoverable ... The workspace name is released" (the page above).
    pub(super) fn expire_soft_deleted(&mut self, now: Instant) {
        self.workspaces
            .soft_deleted
            .retain(|_, d| now < d.deleted_at + SOFT_DELETE_PERIOD);
    }

    /// DeletedWorkspaces_List and DeletedWorkspaces_ListByResourceGroup (Workspaces.json 2022-10-01): the
    /// soft-deleted workspaces under `prefix` (a subscription or a resource group), each the `Workspace` it was,
    /// one page (`nextLinkName: null`). The spec names no field for the time of deletion; here it is the
    /// workspace's `modifiedDate` (its last change was its deletion), which is an assumption.
    pub(super) fn deleted_workspaces_under(&self, prefix: &str) -> Reply {
        let prefix = lc(prefix);
        let v: Vec<Value> = self
            .workspaces
            .soft_deleted
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, d)| d.body.clone())
            .collect();
        Reply::json(200, json!({ "value": v }))
    }

    /// The soft-deleted workspaces' bodies (for `Snapshot`).
    pub fn soft_deleted_workspaces(&self) -> Vec<Value> {
        self.workspaces
            .soft_deleted
            .values()
            .map(|d| d.body.clone())
            .collect()
    }

    pub(super) fn table(&mut self, req: &Req, id: &str, fault: &FaultAction) -> Reply {
        let key = lc(id);
        let ws_key = key
            .rsplit_once("/tables/")
            .map(|(w, _)| w.to_string())
            .unwrap_or_default();
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        if !self.resources.contains_key(&ws_key) {
            return arm_err(
                404,
                "ResourceNotFound",
                format!(
                    "The Resource 'Microsoft.OperationalInsights/workspaces/{}' was not found.",
                    ws_key.rsplit('/').next().unwrap_or_default()
                ),
            );
        }
        match req.method.as_str() {
            "GET" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!("The table '{name}' was not found."),
                ),
            },
            "DELETE" => {
                let Some(gone) = self.resources.remove(&key) else {
                    return Reply::empty(204);
                };
                // A custom table's data outlives the table: "Deleting a table in Analytics or Basic plans doesn't
                // delete data"; to recover it, "Create the table with the same name and schema" ("What happens
                // to data when you delete a table in a Log Analytics workspace?",
                // learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure).
                let rows = self.workspaces.rows.remove(&key).unwrap_or_default();
                let columns = gone
                    .body
                    .pointer("/properties/schema/columns")
                    .cloned()
                    .unwrap_or(json!([]));
                self.workspaces
                    .deleted_tables
                    .insert(key.clone(), DeletedTable { columns, rows });
                self.start_operation(&key, false)
            }
            "PUT" | "PATCH" => {
                if let Err(r) = self
                    .arm
                    .provider_registered("microsoft.operationalinsights")
                {
                    return r;
                }
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if let Err(r) = self.validate(schema::TABLES, "Table", &body, "InvalidParameter") {
                    return r;
                }
                if self.is_classic_table(&key) {
                    // A classic table (made by the retired HTTP Data Collector API) cannot be changed through the
                    // DCR-based tables API. Wording as Azure answers it
                    // (ssc-spc-ccoe-cei/azure-guardrails-solution-accelerator#800).
                    let op = self.uuid().replace('-', "");
                    return arm_err(400, "InvalidParameter", format!("Changing Classic table {name} schema by using DataCollectionRuleBased tables api is forbidden, please migrate the table first or use the appropriate classic table api. Operation Id: '{op}'"));
                }
                if !name.ends_with("_CL") {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        format!("Custom table name '{name}' must end with '_CL'."),
                    );
                }
                let schema_name = body
                    .pointer("/properties/schema/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if schema_name != name {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        format!(
                            "Schema name '{schema_name}' must be equal to the table name '{name}'."
                        ),
                    );
                }
                let cols = body
                    .pointer("/properties/schema/columns")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut has_tg = false;
                for c in &cols {
                    let t = c["type"].as_str().unwrap_or_default().to_ascii_lowercase();
                    if ![
                        "string", "int", "long", "real", "boolean", "datetime", "dynamic", "guid",
                    ]
                    .contains(&t.as_str())
                    {
                        return arm_err(
                            400,
                            "InvalidParameter",
                            format!("Column '{}' has an invalid type '{t}'.", c["name"]),
                        );
                    }
                    if c["name"] == "TimeGenerated" && t == "datetime" {
                        has_tg = true;
                    }
                }
                if !has_tg {
                    return arm_err(
                        400,
                        "InvalidParameter",
                        "A custom table needs a column TimeGenerated of type datetime.",
                    );
                }
                if let Err(r) = check_retention(&body) {
                    return r;
                }
                let mut props = body["properties"].clone();
                props["schema"]["tableType"] = json!("CustomLog");
                props["schema"]["tableSubType"] = json!("DataCollectionRuleBased");
                props["provisioningState"] = json!("InProgress");
                // A PUT without retention values sets the defaults: the workspace's 30 days, and a total equal to
                // it (data-retention-configure: "The PUT API sets retentionInDays and totalRetentionInDays to the
                // default value if you don't set non-null values").
                let days = props
                    .get("retentionInDays")
                    .cloned()
                    .filter(|v| !v.is_null())
                    .unwrap_or(json!(30));
                props["retentionInDays"] = days.clone();
                if props.get("totalRetentionInDays").is_none_or(Value::is_null) {
                    props["totalRetentionInDays"] = days;
                }
                let archive = props["totalRetentionInDays"].as_i64().unwrap_or(0)
                    - props["retentionInDays"].as_i64().unwrap_or(0);
                props["archiveRetentionInDays"] = json!(archive);
                let rb = json!({ "id": id, "name": name, "type": "Microsoft.OperationalInsights/workspaces/tables", "properties": props });
                let fail = matches!(fault, FaultAction::FailLro);
                // Tables_CreateOrUpdate answers 200 as well as 202 (Tables.json 2022-10-01, responses "200" and
                // "202"); Azure does not say when, so here: a PUT that leaves an existing table's columns as they
                // are (a retention change) is done at once, 200 with the table, no operation to poll.
                let same_columns = self.resources.get(&key).is_some_and(|r| {
                    r.body.pointer("/properties/schema/columns")
                        == rb.pointer("/properties/schema/columns")
                        && r.body.pointer("/properties/provisioningState")
                            == Some(&json!("Succeeded"))
                });
                if same_columns && !fail {
                    let mut done = rb;
                    done["properties"]["provisioningState"] = json!("Succeeded");
                    self.resources.insert(
                        key.clone(),
                        Res {
                            body: done.clone(),
                            ready_at: self.now(),
                            fail: false,
                        },
                    );
                    return Reply::json(200, done);
                }
                if !fail && !self.resources.contains_key(&key) {
                    self.bring_back_rows(&key, &rb);
                }
                self.resources.insert(
                    key.clone(),
                    Res {
                        body: rb,
                        ready_at: self.now() + self.lro(false),
                        fail,
                    },
                );
                self.start_operation(&key, fail)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    /// A table made again with the name and columns of one deleted before has that one's rows back (see the
    /// DELETE above); made with other columns, it starts empty and the old rows stay out of sight.
    fn bring_back_rows(&mut self, key: &str, table: &Value) {
        let same = self.workspaces.deleted_tables.get(key).is_some_and(|d| {
            column_pairs(&d.columns) == column_pairs(&table["properties"]["schema"]["columns"])
        });
        if same {
            if let Some(d) = self.workspaces.deleted_tables.remove(key) {
                self.workspaces.rows.insert(key.to_string(), d.rows);
            }
        }
    }

    fn is_classic_table(&self, key: &str) -> bool {
        self.resources.get(key).is_some_and(|r| {
            r.body.pointer("/properties/schema/tableSubType") == Some(&json!("Classic"))
        })
    }

    /// Puts a classic custom table in a workspace, as the retired HTTP Data Collector API left them
    /// (`tableType` `CustomLog`, `tableSubType` `Classic`, typed column suffixes). False when the workspace does
    /// not exist.
    pub fn add_classic_table(&mut self, workspace_id: &str, table: &str) -> bool {
        let ws_key = lc(workspace_id);
        if !self.resources.contains_key(&ws_key) {
            return false;
        }
        let id = format!("{workspace_id}/tables/{table}");
        let body = json!({
            "id": id, "name": table, "type": "Microsoft.OperationalInsights/workspaces/tables",
            "properties": {
                "retentionInDays": 30, "totalRetentionInDays": 30, "plan": "Analytics", "provisioningState": "Succeeded",
                "schema": {
                    "name": table, "tableType": "CustomLog", "tableSubType": "Classic",
                    "columns": [ { "name": "RawData", "type": "string" }, { "name": "audit_event_s", "type": "string" } ],
                    "standardColumns": [ { "name": "TimeGenerated", "type": "datetime" }, { "name": "TenantId", "type": "guid" } ]
                }
            }
        });
        let now = self.now();
        self.resources.insert(
            lc(&id),
            Res {
                body,
                ready_at: now,
                fail: false,
            },
        );
        true
    }

    fn start_operation(&mut self, resource_key: &str, fail: bool) -> Reply {
        let op = self.uuid();
        let sub = World::sub_of(resource_key).unwrap_or_default().to_string();
        self.workspaces.operations.insert(
            op.clone(),
            Operation {
                resource: resource_key.to_string(),
                done_at: self.now() + self.lro(false),
                fail,
            },
        );
        let url = format!("{}/subscriptions/{sub}/providers/Microsoft.OperationalInsights/locations/eastus/operationstatuses/{op}?api-version=2022-10-01", self.base_url);
        Reply::empty(202)
            .header("Azure-AsyncOperation", url.clone())
            .header("Location", url)
    }

    pub(super) fn operation_status(&mut self, op: &str) -> Reply {
        let Some(o) = self.workspaces.operations.get(op).cloned() else {
            return arm_err(
                404,
                "OperationNotFound",
                format!("Operation '{op}' was not found."),
            );
        };
        let now = self.now();
        let status = if now < o.done_at {
            "InProgress"
        } else if o.fail {
            "Failed"
        } else {
            "Succeeded"
        };
        let mut b = json!({ "id": op, "name": op, "status": status, "startTime": now_iso() });
        if status == "Failed" {
            b["error"] = json!({ "code": "InternalServerError", "message": format!("The operation on '{}' failed (azure-sim injected).", o.resource) });
        }
        Reply::json(200, b)
    }
}

/// How long a workspace deleted without `force` stays recoverable: 14 days ("Delete and recover an Azure Log
/// Analytics workspace", learn.microsoft.com/azure/azure-monitor/logs/delete-workspace).
pub const SOFT_DELETE_PERIOD: Duration = Duration::from_secs(14 * 24 * 3600);

/// A workspace deleted without `force`, kept as it was with what it held, until `deleted_at` + 14 days.
#[derive(Debug, Clone)]
pub(super) struct SoftDeleted {
    /// The workspace's body, `properties.modifiedDate` the time of its deletion.
    body: Value,
    deleted_at: Instant,
    /// Its tables and saved searches, by lower-case id.
    held: Vec<(String, Res)>,
    /// The rows of its tables, and of its deleted tables, by lower-case table id.
    rows: Vec<(String, Vec<Value>)>,
    deleted_tables: Vec<(String, DeletedTable)>,
    /// Whether it had received a row (its queries answer 200, not 204).
    had_data: bool,
}

/// The rows of a custom table that was deleted, and the columns it had.
#[derive(Debug, Clone)]
pub(super) struct DeletedTable {
    columns: Value,
    rows: Vec<Value>,
}

/// A column list as sorted (name, lower-case type) pairs.
fn column_pairs(columns: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = columns
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["type"].as_str().unwrap_or_default().to_ascii_lowercase(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Takes the entries of `map` whose keys start with `prefix` out of it.
fn take_under<V>(map: &mut HashMap<String, V>, prefix: &str) -> Vec<(String, V)> {
    let keys: Vec<String> = map
        .keys()
        .filter(|k| k.starts_with(prefix))
        .cloned()
        .collect();
    keys.into_iter()
        .filter_map(|k| map.remove(&k).map(|v| (k, v)))
        .collect()
}

/// Retention values the tables API takes. Microsoft Learn, "Manage data retention in a Log Analytics workspace"
/// (learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure): retentionInDays 4-730;
/// totalRetentionInDays 4-730 or whole years 1095 … 4383. The error text is the one quoted in
/// MicrosoftDocs/azure-docs#96177 (from when the limit was seven years); the spec alone would take e.g. 913.
fn check_retention(body: &Value) -> Result<(), Reply> {
    const YEARS: [i64; 10] = [1095, 1460, 1826, 2191, 2556, 2922, 3288, 3653, 4018, 4383];
    let p = &body["properties"];
    if let Some(t) = p.get("totalRetentionInDays").and_then(Value::as_i64) {
        if !((4..=730).contains(&t) || YEARS.contains(&t)) {
            return Err(arm_err(400, "InvalidParameter", "The specified total retention value is invalid. The value beyond two years is restricted to full years. Allowed values are: [4-730], 1095, 1460, 1826, 2191, 2556, 2922, 3288, 3653, 4018, 4383 days."));
        }
        if p.get("retentionInDays")
            .and_then(Value::as_i64)
            .is_some_and(|d| t < d)
        {
            return Err(arm_err(
                400,
                "InvalidParameter",
                "The total retention cannot be shorter than the interactive retention.",
            ));
        }
    }
    Ok(())
}
