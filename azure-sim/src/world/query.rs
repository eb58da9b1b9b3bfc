//! The Log Analytics query API: finds the workspace by customer id, checks access, runs the KQL subset over its
//! tables and functions (saved searches with an alias).

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{lc, Aud, Req, World};
use crate::kql::{Source, Table};
use crate::reply::Reply;

impl World {
    pub fn query(&mut self, req: &Req, customer_id: &str) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::LogAnalytics) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(ws) = self
            .resources
            .values()
            .find(|r| {
                r.body
                    .pointer("/properties/customerId")
                    .and_then(Value::as_str)
                    == Some(customer_id)
            })
            .map(|r| r.body.clone())
        else {
            return Reply::json(
                404,
                json!({ "error": { "code": "WorkspaceNotFoundError", "message": format!("The workspace {customer_id} could not be found") } }),
            );
        };
        let ws_id = ws["id"].as_str().unwrap_or_default().to_string();
        // Any role on the workspace or above lets its principal query, once the query API recognises it: "it might
        // take up to 60 minutes for the … REST API to recognize new role-based access control permissions. While
        // permissions are propagating, REST API calls might fail with error code 403" (Azure Monitor Log Analytics
        // API errors, "Insufficient permissions", learn.microsoft.com/azure/azure-monitor/logs/api/errors; the
        // page's note names the Application Insights REST API, on the Log Analytics API's own errors page, under
        // the error below).
        if !self.has_any_role(&principal, &ws_id, self.query_role_lag()) {
            return Reply::json(
                403,
                json!({ "error": { "code": "InsufficientAccessError", "message": "The provided credentials have insufficient access to perform the requested operation" } }),
            );
        }
        let q = if req.method == "GET" {
            req.query.get("query").cloned().unwrap_or_default()
        } else {
            serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|b| b["query"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        // "No data in workspace": a workspace that has never received a row answers 204 No Content with an empty
        // body, whatever the query (Azure Monitor Log Analytics API errors,
        // learn.microsoft.com/azure/azure-monitor/logs/api/errors). Right after setup this is the usual answer.
        if !self.workspaces.had_data(&lc(&ws_id)) {
            return Reply::empty(204);
        }
        let outcome = self.workspace_query(&ws_id, &q, None);
        crate::kql::answer(outcome, self.cfg.query_row_limit)
    }

    /// Runs a query over a workspace's tables and functions at the simulator's now. With `range`, each table
    /// holds only the rows whose `TimeGenerated` is within it, as a query's time range (a log alert's window)
    /// limits them; a row without a readable `TimeGenerated` is then left out.
    pub(super) fn workspace_query(
        &self,
        ws_id: &str,
        q: &str,
        range: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<Table, String> {
        let now = self.wall_now();
        let tables = |name: &str| {
            let key = lc(&format!("{ws_id}/tables/{name}"));
            let rows = self.workspaces.rows_of(&key);
            self.resources.get(&key).map(|r| match range {
                None => Table::stored(&r.body, rows),
                Some((from, to)) => {
                    let kept: Vec<Value> = rows
                        .iter()
                        .filter(|row| {
                            row.get("TimeGenerated")
                                .and_then(Value::as_str)
                                .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                                .is_some_and(|t| from <= t && t <= to)
                        })
                        .cloned()
                        .collect();
                    Table::stored(&r.body, &kept)
                }
            })
        };
        // A saved search with a function alias is called by that name, with its parameters: its body runs in
        // its place, and may call other functions through this same resolver.
        let resolve = |name: &str| {
            tables(name)
                .map(Source::Table)
                .or_else(|| self.function_query(ws_id, name))
        };
        crate::kql::eval(q, &resolve, now)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::api::SimConfig;
    use crate::world::{lc, World};

    /// A workspace's query path end to end: a unifying saved search calls, through `union isfuzzy=true`, a
    /// parser saved search with `functionParameters` by named arguments, beside a source that does not exist.
    #[test]
    fn a_saved_search_calls_a_parameterised_saved_search_through_a_fuzzy_union() {
        let mut w = World::new(SimConfig::default(), "http://sim".into()).expect("world");
        let ws = "/subscriptions/s/resourceGroups/g/providers/Microsoft.OperationalInsights/workspaces/w";
        let columns = json!([{ "name": "TimeGenerated", "type": "datetime" }, { "name": "User", "type": "string" }, { "name": "Result", "type": "string" }]);
        w.store_ready(
            &format!("{ws}/tables/Signins_CL"),
            json!({ "properties": { "schema": { "columns": columns } } }),
        );
        w.workspaces.append_rows(
            lc(&format!("{ws}/tables/Signins_CL")),
            [
                json!({ "TimeGenerated": "2026-01-01T00:00:00Z", "User": "ann", "Result": "Failure" }),
                json!({ "TimeGenerated": "2026-01-02T00:00:00Z", "User": "bob", "Result": "Success" }),
            ],
        );
        let search = |alias: &str, params: &str, query: &str| json!({ "properties": { "category": "ASIM", "displayName": alias, "functionAlias": alias, "functionParameters": params, "query": query } });
        w.store_ready(
            &format!("{ws}/savedSearches/parser"),
            search(
                "vimSigninKeeper",
                "starttime:datetime=datetime(null), eventresult:string='*', disabled:bool=False",
                "Signins_CL | where not(disabled) and (isnull(starttime) or TimeGenerated >= starttime) | where eventresult == '*' or Result == eventresult",
            ),
        );
        w.store_ready(
            &format!("{ws}/savedSearches/unifying"),
            search(
                "imSignin",
                "starttime:datetime=datetime(null), eventresult:string='*'",
                "union isfuzzy=true\n  vimSigninMissing(starttime=starttime),\n  // Keeper's\n  vimSigninKeeper(starttime=starttime, eventresult=eventresult, disabled=false)",
            ),
        );
        let t = w
            .workspace_query(ws, "imSignin(eventresult='Failure') | project User", None)
            .expect("runs");
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0]["User"], "ann");
        let t = w
            .workspace_query(ws, "imSignin | count", None)
            .expect("runs");
        assert_eq!(t.rows[0]["Count"], 2, "all defaults");
        assert!(w.workspace_query(ws, "imSignin(nope=1)", None).is_err());
    }
}
