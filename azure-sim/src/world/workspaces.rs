//! Log Analytics workspaces and their tables, and the long-running operations their writes start.

use std::time::Duration;

use serde_json::{json, Value};

use super::faults::FaultAction;
use super::{lc, Operation, Req, Res, World};
use crate::reply::{arm_err, now_iso, Reply};
use crate::schema;

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
        let now = self.now();
        let created = existing.is_none();
        let customer = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/customerId").cloned())
            .unwrap_or_else(|| json!(self.uuid()));
        let mut props = body.get("properties").cloned().unwrap_or(json!({}));
        if props.get("sku").is_none() {
            props["sku"] = json!({ "name": "PerGB2018" });
        }
        if props.get("retentionInDays").is_none() {
            props["retentionInDays"] = json!(30);
        }
        props["customerId"] = customer;
        props["provisioningState"] = json!(if created { "Creating" } else { "Succeeded" });
        props["createdDate"] = json!(now_iso());
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
                if self.resources.remove(&key).is_none() {
                    return Reply::empty(204);
                }
                self.rows.remove(&key);
                self.start_operation(&key, false)
            }
            "PUT" | "PATCH" => {
                if let Err(r) = self.provider_registered("microsoft.operationalinsights") {
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
        self.operations.insert(
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
        let Some(o) = self.operations.get(op).cloned() else {
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
