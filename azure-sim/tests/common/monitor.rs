//! The harness of the alerting and monitoring tests (`alerts.rs`, `monitor.rs`): resource group, workspace, table,
//! DCE and DCR made through the API, ingestion and queries as the operator, and the bodies the tool sends.

use std::time::Duration;

use azure_sim::{Sim, SimConfig};
use reqwest::Method;
use serde_json::{json, Value};

/// Monitoring Metrics Publisher ("Azure built-in roles").
pub const METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";

pub struct T {
    pub sim: Sim,
    pub http: reqwest::Client,
}

impl T {
    pub async fn new(cfg: SimConfig) -> T {
        let sim = Sim::start(cfg).await.expect("start");
        let http = super::client(&sim);
        T { sim, http }
    }

    /// The operator's token for `aud`, new for each call: the tests move the clock past a token's hour.
    pub async fn token(&self, aud: &str) -> String {
        let op = self.sim.operator();
        super::token_with(&self.sim, &self.http, &op.client_id, &op.client_secret, aud)
            .await
            .expect("operator token")
    }

    /// An ARM call (a Graph one for a `/v1.0/` path) as the operator.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let token = if path.starts_with("/v1.0/") {
            self.token("https://graph.microsoft.com").await
        } else {
            super::operator_arm_token(&self.sim, &self.http).await
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn put(&self, id: &str, api: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, &format!("{id}?api-version={api}"), Some(body))
            .await
    }

    pub async fn get(&self, id: &str, api: &str) -> (u16, Value) {
        self.call(Method::GET, &format!("{id}?api-version={api}"), None)
            .await
    }

    pub async fn delete(&self, id: &str, api: &str) -> u16 {
        self.call(Method::DELETE, &format!("{id}?api-version={api}"), None)
            .await
            .0
    }

    pub fn rg(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/rg",
            self.sim.operator().subscription_id
        )
    }
    pub fn ws(&self) -> String {
        format!(
            "{}/providers/Microsoft.OperationalInsights/workspaces/ws-test",
            self.rg()
        )
    }
    pub fn dcr(&self) -> String {
        format!(
            "{}/providers/Microsoft.Insights/dataCollectionRules/dcr-test",
            self.rg()
        )
    }
    pub fn group(&self) -> String {
        format!(
            "{}/providers/Microsoft.Insights/actionGroups/keeper-ag",
            self.rg()
        )
    }
    pub fn rule(&self, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Insights/scheduledQueryRules/{name}",
            self.rg()
        )
    }
    pub fn setting(&self, name: &str) -> String {
        format!(
            "{}/providers/Microsoft.Insights/diagnosticSettings/{name}",
            self.dcr()
        )
    }

    /// Resource group, workspace, the table KeeperLogs_CL (ready), DCE and DCR, and the operator allowed to
    /// ingest through the DCR.
    pub async fn base(&self) {
        assert_eq!(
            self.put(&self.rg(), "2021-04-01", json!({ "location": "eastus" }))
                .await
                .0,
            201
        );
        assert_eq!(
            self.put(&self.ws(), "2022-10-01", json!({ "location": "eastus" }))
                .await
                .0,
            201
        );
        let table =
            json!({ "properties": { "schema": { "name": "KeeperLogs_CL", "columns": cols() } } });
        let tid = format!("{}/tables/KeeperLogs_CL", self.ws());
        assert_eq!(self.put(&tid, "2022-10-01", table).await.0, 202);
        self.sim.advance_clock(Duration::from_secs(5));
        let dce = format!(
            "{}/providers/Microsoft.Insights/dataCollectionEndpoints/dce-test",
            self.rg()
        );
        assert_eq!(
            self.put(&dce, "2022-06-01", json!({ "location": "eastus" }))
                .await
                .0,
            200
        );
        let (st, b) = self
            .put(&self.dcr(), "2022-06-01", self.dcr_body(&dce))
            .await;
        assert_eq!(st, 200, "{b}");
        self.allow_ingestion().await;
    }

    pub fn dcr_body(&self, dce: &str) -> Value {
        json!({ "location": "eastus", "properties": {
            "dataCollectionEndpointId": dce,
            "streamDeclarations": { "Custom-KeeperLogs_CL": { "columns": cols() } },
            "destinations": { "logAnalytics": [ { "workspaceResourceId": self.ws(), "name": "d" } ] },
            "dataFlows": [ { "streams": ["Custom-KeeperLogs_CL"], "destinations": ["d"], "transformKql": "source", "outputStream": "Custom-KeeperLogs_CL" } ] } })
    }

    pub async fn allow_ingestion(&self) {
        let op = self.sim.operator();
        let ra = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            self.dcr(),
            uuid::Uuid::new_v4()
        );
        let role = json!({ "properties": { "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{METRICS_PUBLISHER}", op.subscription_id), "principalId": op.object_id, "principalType": "ServicePrincipal" } });
        assert_eq!(self.put(&ra, "2022-04-01", role).await.0, 201);
    }

    /// Sends `body` to the DCR's stream as the operator: the status.
    pub async fn ingest(&self, body: &str, request_id: &str) -> u16 {
        let op = self.sim.operator();
        let tok = super::token_with(
            &self.sim,
            &self.http,
            &op.client_id,
            &op.client_secret,
            "https://monitor.azure.com",
        )
        .await
        .expect("monitor token");
        let imm = self.sim.snapshot().resource(&self.dcr()).expect("dcr")["properties"]
            ["immutableId"]
            .as_str()
            .expect("immutableId")
            .to_string();
        self.http
            .post(format!(
                "{}/dataCollectionRules/{imm}/streams/Custom-KeeperLogs_CL?api-version=2023-01-01",
                self.sim.base_url()
            ))
            .bearer_auth(tok)
            .header("content-type", "application/json")
            .header("x-ms-client-request-id", request_id)
            .body(body.to_string())
            .send()
            .await
            .expect("post")
            .status()
            .as_u16()
    }

    /// The Log Analytics query API's status and body for `q` on the workspace.
    pub async fn query(&self, q: &str) -> (u16, Value) {
        let op = self.sim.operator();
        let tok = super::token_with(
            &self.sim,
            &self.http,
            &op.client_id,
            &op.client_secret,
            "https://api.loganalytics.io",
        )
        .await
        .expect("la token");
        let cid = self.sim.snapshot().resource(&self.ws()).expect("ws")["properties"]["customerId"]
            .as_str()
            .expect("customerId")
            .to_string();
        let r = self
            .http
            .post(format!("{}/v1/workspaces/{cid}/query", self.sim.base_url()))
            .bearer_auth(tok)
            .json(&json!({ "query": q }))
            .send()
            .await
            .expect("query");
        let st = r.status().as_u16();
        (st, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put_group(&self) {
        let (st, b) = self
            .put(&self.group(), "2023-01-01", group_body("keeper"))
            .await;
        assert_eq!(st, 201, "{b}");
    }

    /// A "no data" rule on the workspace: Count of the query's rows LessThan 1 over the last hour.
    pub fn rule_body(&self, query: &str) -> Value {
        json!({ "location": "eastus", "kind": "LogAlert", "tags": { "keeper-azmon": "managed" }, "properties": {
            "displayName": "Keeper: no events", "severity": 2, "enabled": true, "scopes": [self.ws()],
            "evaluationFrequency": "PT15M", "windowSize": "PT1H", "autoMitigate": false,
            "criteria": { "allOf": [ { "query": query, "timeAggregation": "Count", "operator": "LessThan", "threshold": 1,
                "failingPeriods": { "numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1 } } ] },
            "actions": { "actionGroups": [self.group()] } } })
    }
}

pub fn cols() -> Value {
    json!([{ "name": "TimeGenerated", "type": "datetime" }, { "name": "audit_event", "type": "string" }, { "name": "data", "type": "dynamic" }])
}

pub fn group_body(short: &str) -> Value {
    json!({ "location": "Global", "tags": { "keeper-azmon": "managed" }, "properties": {
        "groupShortName": short, "enabled": true,
        "emailReceivers": [ { "name": "ops", "emailAddress": "ops@example.com", "useCommonAlertSchema": true } ] } })
}

pub const NO_DATA: &str = r#"KeeperLogs_CL | where not(tostring(data) has "keeper_azmon_verify") and not(tostring(data) has "keeper_azmon_backfill")"#;

pub fn assert_refused(st: u16, b: &Value, status: u16, code: &str, text: &str) {
    assert_eq!(st, status, "{b}");
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(text),
        "{text} not in {b}"
    );
}
