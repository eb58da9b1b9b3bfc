//! azure-sim against a real HTTPS client: tokens and audiences, spec validation, long-running operations,
//! replication and propagation delays, ingestion limits and injected faults. (Graph's read-after-create lag,
//! new credentials refused for a while and paged lists: `consistency.rs`.)

mod common;

use std::io::Write;
use std::time::Duration;

use azure_sim::{Fault, FaultKind, Sim, SimCloud, SimConfig};
use serde_json::{json, Value};

struct T {
    sim: Sim,
    http: reqwest::Client,
    arm: String,
}

impl T {
    async fn new(cfg: SimConfig) -> T {
        let sim = Sim::start(cfg).await.expect("start");
        let http = common::client(&sim);
        let arm = common::operator_arm_token(&sim, &http).await;
        T { sim, http, arm }
    }

    fn sub(&self) -> String {
        self.sim.operator().subscription_id
    }

    async fn arm(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.arm);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("text");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let aud = self.sim.profile("")["graph_audience"]
            .as_str()
            .expect("aud")
            .to_string();
        let op = self.sim.operator();
        let tok = common::token_with(
            &self.sim,
            &self.http,
            &op.client_id,
            &op.client_secret,
            &aud,
        )
        .await
        .expect("graph token");
        let mut req = self
            .http
            .request(method, format!("{}/v1.0{path}", self.sim.base_url()))
            .bearer_auth(tok);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    fn rg(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/rg", self.sub())
    }

    /// Resource group, workspace, table, DCE, DCR: the chain ingestion needs.
    async fn build(&self) -> (String, String) {
        let rg = self.rg();
        assert_eq!(
            self.arm(
                reqwest::Method::PUT,
                &format!("{rg}?api-version=2021-04-01"),
                Some(json!({ "location": "eastus" }))
            )
            .await
            .0,
            201
        );
        let ws = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/ws-test");
        assert_eq!(
            self.arm(
                reqwest::Method::PUT,
                &format!("{ws}?api-version=2022-10-01"),
                Some(json!({ "location": "eastus" }))
            )
            .await
            .0,
            201
        );
        let cols = json!([{ "name": "TimeGenerated", "type": "datetime" }, { "name": "msg", "type": "string" }, { "name": "n", "type": "int" }]);
        let (st, _, _) = self
            .arm(
                reqwest::Method::PUT,
                &format!("{ws}/tables/T_CL?api-version=2022-10-01"),
                Some(json!({ "properties": { "schema": { "name": "T_CL", "columns": cols } } })),
            )
            .await;
        assert_eq!(st, 202);
        self.sim.advance_clock(Duration::from_secs(5));
        let dce = format!("{rg}/providers/Microsoft.Insights/dataCollectionEndpoints/dce-test");
        assert_eq!(
            self.arm(
                reqwest::Method::PUT,
                &format!("{dce}?api-version=2022-06-01"),
                Some(json!({ "location": "eastus" }))
            )
            .await
            .0,
            200
        );
        let dcr = format!("{rg}/providers/Microsoft.Insights/dataCollectionRules/dcr-test");
        let body = json!({ "location": "eastus", "properties": {
            "dataCollectionEndpointId": dce,
            "streamDeclarations": { "Custom-T_CL": { "columns": cols } },
            "destinations": { "logAnalytics": [ { "workspaceResourceId": ws, "name": "d" } ] },
            "dataFlows": [ { "streams": ["Custom-T_CL"], "destinations": ["d"], "transformKql": "source", "outputStream": "Custom-T_CL" } ] } });
        let (st, _, b) = self
            .arm(
                reqwest::Method::PUT,
                &format!("{dcr}?api-version=2022-06-01"),
                Some(body),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        (ws, dcr)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_carry_an_audience_and_the_other_cloud_is_refused() {
    let t = T::new(SimConfig {
        cloud: SimCloud::UsGov,
        ..SimConfig::default()
    })
    .await;
    let op = t.sim.operator();
    let err = common::token_with(
        &t.sim,
        &t.http,
        &op.client_id,
        &op.client_secret,
        "https://management.core.windows.net/",
    )
    .await
    .expect_err("public audience in usgov");
    assert_eq!(err["error"], "invalid_resource");
    let err = common::token_with(
        &t.sim,
        &t.http,
        &op.client_id,
        "wrong",
        "https://monitor.azure.us",
    )
    .await
    .expect_err("wrong secret");
    assert_eq!(err["error"], "invalid_client");
    // As Entra answers it: 401, with the ids a support case asks for.
    for key in ["trace_id", "correlation_id", "timestamp"] {
        assert!(
            err[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {err}"
        );
    }
    let status = t
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            t.sim.base_url(),
            op.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", op.client_id.as_str()),
            ("client_secret", "wrong"),
            ("scope", "https://monitor.azure.us/.default"),
        ])
        .send()
        .await
        .expect("token request")
        .status();
    assert_eq!(status, 401, "invalid_client is a 401");
    // An ARM token is refused by Graph.
    let r = t
        .http
        .get(format!("{}/v1.0/applications", t.sim.base_url()))
        .bearer_auth(&t.arm)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_are_validated_against_the_specs() {
    let t = T::new(SimConfig::default()).await;
    let rg = t.rg();
    t.arm(
        reqwest::Method::PUT,
        &format!("{rg}?api-version=2021-04-01"),
        Some(json!({ "location": "eastus" })),
    )
    .await;
    let dce = format!("{rg}/providers/Microsoft.Insights/dataCollectionEndpoints/d1");
    let (st, _, b) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{dce}?api-version=2022-06-01"),
            Some(json!({ "location": "eastus", "properties": { "netwrkAcls": {} } })),
        )
        .await;
    assert_eq!(st, 400);
    assert!(
        b["error"]["message"]
            .as_str()
            .expect("message")
            .contains("netwrkAcls"),
        "{b}"
    );
    let ws = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/ws-1");
    let (st, _, b) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{ws}?api-version=2022-10-01"),
            Some(json!({ "location": "eastus", "properties": { "retentionInDays": "thirty" } })),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    let (st, _, b) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{ws}?api-version=2099-01-01"),
            Some(json!({ "location": "eastus" })),
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    let (st, _, _) = t.arm(reqwest::Method::GET, &ws, None).await;
    assert_eq!(st, 400, "api-version is required");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_put_is_a_long_running_operation() {
    let t = T::new(SimConfig {
        lro_duration: Duration::from_secs(600),
        ..SimConfig::default()
    })
    .await;
    let rg = t.rg();
    t.arm(
        reqwest::Method::PUT,
        &format!("{rg}?api-version=2021-04-01"),
        Some(json!({ "location": "eastus" })),
    )
    .await;
    let ws = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/ws-lro");
    let (st, _, b) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{ws}?api-version=2022-10-01"),
            Some(json!({ "location": "eastus" })),
        )
        .await;
    assert_eq!(
        (st, b["properties"]["provisioningState"].as_str()),
        (201, Some("Creating"))
    );
    let body = json!({ "properties": { "schema": { "name": "K_CL", "columns": [{ "name": "TimeGenerated", "type": "datetime" }] } } });
    let (st, h, b) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{ws}/tables/K_CL?api-version=2022-10-01"),
            Some(body),
        )
        .await;
    assert_eq!(st, 202);
    assert!(b.is_null(), "empty body");
    let op = h
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("Azure-AsyncOperation")
        .to_string();
    let poll = |url: String| {
        let (http, tok) = (t.http.clone(), t.arm.clone());
        async move {
            http.get(url)
                .bearer_auth(tok)
                .send()
                .await
                .expect("poll")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(poll(op.clone()).await["status"], "InProgress");
    t.sim.advance_clock(Duration::from_secs(601));
    assert_eq!(poll(op).await["status"], "Succeeded");
    let (st, _, b) = t
        .arm(
            reqwest::Method::GET,
            &format!("{ws}/tables/K_CL?api-version=2022-10-01"),
            None,
        )
        .await;
    assert_eq!(
        (st, b["properties"]["provisioningState"].as_str()),
        (200, Some("Succeeded"))
    );
    let (_, _, w) = t
        .arm(
            reqwest::Method::GET,
            &format!("{ws}?api-version=2022-10-01"),
            None,
        )
        .await;
    assert_eq!(w["properties"]["provisioningState"], "Succeeded", "{w}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_principal_is_not_found_until_it_replicates_and_roles_take_time_for_ingestion() {
    let t = T::new(SimConfig {
        sp_replication_delay: Duration::from_secs(60),
        role_propagation_delay: Duration::from_secs(120),
        ..SimConfig::default()
    })
    .await;
    let (ws, dcr) = t.build().await;
    let (_, app) = t
        .graph(
            reqwest::Method::POST,
            "/applications",
            Some(json!({ "displayName": "A", "signInAudience": "AzureADMyOrg" })),
        )
        .await;
    let app_id = app["appId"].as_str().expect("appId").to_string();
    t.sim.advance_clock(Duration::from_secs(1)); // past Graph's read-after-create lag
    let (st, sp) = t
        .graph(
            reqwest::Method::POST,
            "/servicePrincipals",
            Some(json!({ "appId": app_id })),
        )
        .await;
    assert_eq!(st, 201);
    let (st, pw) = t
        .graph(
            reqwest::Method::POST,
            &format!(
                "/applications/{}/addPassword",
                app["id"].as_str().expect("id")
            ),
            Some(json!({ "passwordCredential": { "displayName": "s" } })),
        )
        .await;
    assert_eq!(st, 200);
    let secret = pw["secretText"].as_str().expect("secretText").to_string();
    let role = json!({ "properties": { "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/3913510d-42f4-4e42-8a64-420c390055eb", t.sub()), "principalId": sp["id"], "principalType": "ServicePrincipal" } });
    let ra = format!(
        "{dcr}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        uuid::Uuid::new_v4()
    );
    let (st, _, b) = t.arm(reqwest::Method::PUT, &ra, Some(role.clone())).await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (400, Some("PrincipalNotFound"))
    );
    t.sim.advance_clock(Duration::from_secs(31)); // principalType halves the wait
    assert_eq!(t.arm(reqwest::Method::PUT, &ra, Some(role)).await.0, 201);

    let monitor = common::token_with(
        &t.sim,
        &t.http,
        &app_id,
        &secret,
        "https://monitor.azure.com",
    )
    .await
    .expect("app token");
    let imm = t.sim.snapshot().resource(&dcr).expect("dcr")["properties"]["immutableId"]
        .as_str()
        .expect("imm")
        .to_string();
    let url = format!(
        "{}/dataCollectionRules/{imm}/streams/Custom-T_CL?api-version=2023-01-01",
        t.sim.base_url()
    );
    let post = |body: Vec<u8>, gzip: bool| {
        let (http, url, tok) = (t.http.clone(), url.clone(), monitor.clone());
        async move {
            let mut r = http
                .post(url)
                .bearer_auth(tok)
                .header("content-type", "application/json");
            if gzip {
                r = r.header("content-encoding", "gzip");
            }
            r.body(body).send().await.expect("post").status().as_u16()
        }
    };
    let events = serde_json::to_vec(&json!([{ "msg": "hello", "n": 1 }])).expect("json");
    assert_eq!(
        post(events.clone(), false).await,
        403,
        "before the role takes effect"
    );
    t.sim.advance_clock(Duration::from_secs(121));
    assert_eq!(post(events.clone(), false).await, 204);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&events).expect("gzip");
    assert_eq!(
        post(gz.finish().expect("gzip"), true).await,
        204,
        "gzip body"
    );
    // A value not of its column's type is accepted, as Azure does, and its column left empty.
    assert_eq!(
        post(
            serde_json::to_vec(&json!([{ "n": "not a number" }])).expect("json"),
            false
        )
        .await,
        204
    );
    let big = serde_json::to_vec(&json!([{ "msg": "x".repeat(1_100_000) }])).expect("json");
    assert_eq!(post(big, false).await, 413);
    let rows = t.sim.snapshot().table_rows(&ws, "T_CL");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["n"], Value::Null, "stored empty: {:?}", rows[2]);
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_injected_as_configured() {
    let t = T::new(SimConfig::default()).await;
    let rg = t.rg();
    t.sim
        .inject(Fault::status("PUT", "resourceGroups", 1, 429, "TooManyRequests").retry_after(7));
    let (st, h, _) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{rg}?api-version=2021-04-01"),
            Some(json!({ "location": "eastus" })),
        )
        .await;
    assert_eq!(st, 429);
    assert_eq!(
        h.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    t.sim.inject(Fault {
        method: None,
        path_contains: None,
        skip: 0,
        times: 1,
        writes_only: true,
        kind: FaultKind::ApplyThenStatus { status: 500 },
    });
    let (st, _, _) = t
        .arm(
            reqwest::Method::PUT,
            &format!("{rg}?api-version=2021-04-01"),
            Some(json!({ "location": "eastus" })),
        )
        .await;
    assert_eq!(st, 500);
    assert!(
        t.sim.snapshot().resource(&rg).is_some(),
        "applied although it answered 500"
    );
    t.sim.inject(Fault {
        method: Some("GET".into()),
        path_contains: None,
        skip: 0,
        times: 1,
        writes_only: false,
        kind: FaultKind::ResetConnection,
    });
    let r = t
        .http
        .get(format!("{}{rg}?api-version=2021-04-01", t.sim.base_url()))
        .bearer_auth(&t.arm)
        .send()
        .await;
    assert!(r.is_err(), "the connection was reset");
    assert_eq!(t.sim.write_count(), 2);
}

/// A query as `token` in the workspace `ws` (resource id); the status and the error code.
async fn query_as(t: &T, ws: &str, token: &str) -> (u16, Option<String>) {
    let cid = t.sim.snapshot().resource(ws).expect("workspace")["properties"]["customerId"]
        .as_str()
        .expect("customerId")
        .to_string();
    let r = t
        .http
        .post(format!("{}/v1/workspaces/{cid}/query", t.sim.base_url()))
        .bearer_auth(token)
        .json(&json!({ "query": "T_CL | count" }))
        .send()
        .await
        .expect("query");
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["error"]["code"].as_str().map(str::to_string))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_api_recognises_a_new_role_only_once_it_has_propagated() {
    let t = T::new(SimConfig {
        query_propagation_delay: Duration::from_secs(600),
        ..SimConfig::default()
    })
    .await;
    let (ws, _) = t.build().await;
    let op = t.sim.operator();
    let token = common::token_with(
        &t.sim,
        &t.http,
        &op.client_id,
        &op.client_secret,
        "https://api.loganalytics.io",
    )
    .await
    .expect("operator token");
    // The seeded Owner role is older than any propagation: queries are answered (204: no data yet).
    assert_eq!(query_as(&t, &ws, &token).await, (204, None));
    // The same operator with a role assigned just now: 403 until the query API recognises it.
    t.sim.set_operator_roles(&[azure_sim::SimRole::Owner]);
    assert_eq!(
        query_as(&t, &ws, &token).await,
        (403, Some("InsufficientAccessError".into()))
    );
    t.sim.advance_clock(Duration::from_secs(599));
    assert_eq!(query_as(&t, &ws, &token).await.0, 403);
    t.sim.advance_clock(Duration::from_secs(1));
    assert_eq!(query_as(&t, &ws, &token).await, (204, None));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_latency_model_takes_azures_documented_propagation_times() {
    let l = azure_sim::Latency::azure(1.0);
    assert_eq!(l.ingestion_role_propagation, Duration::from_secs(30 * 60));
    assert_eq!(l.query_role_propagation, Duration::from_secs(60 * 60));
    // With the model on, its figures (scaled) replace the configured delays that are not zero.
    let t = T::new(SimConfig {
        query_propagation_delay: Duration::from_millis(1),
        ..SimConfig::default()
    })
    .await;
    let (ws, _) = t.build().await;
    t.sim.set_latency(Some(azure_sim::Latency::azure(0.001)));
    let op = t.sim.operator();
    let token = common::token_with(
        &t.sim,
        &t.http,
        &op.client_id,
        &op.client_secret,
        "https://api.loganalytics.io",
    )
    .await
    .expect("operator token");
    t.sim.set_operator_roles(&[azure_sim::SimRole::Owner]);
    t.sim.advance_clock(Duration::from_millis(3_500)); // 3.5 s of the scaled model's 3.6
    assert_eq!(query_as(&t, &ws, &token).await.0, 403);
    t.sim.advance_clock(Duration::from_millis(200));
    assert_eq!(query_as(&t, &ws, &token).await.0, 204);
}
