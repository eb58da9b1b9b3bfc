//! azure-sim's diagnostic settings and the logs they fill, as Azure shows them: a DCR's setting (its categories, its
//! workspace, the data sink conflict), outliving its DCR; ingestion errors in DCRLogErrors, muted for the rest of
//! the hour; and the service principal sign-in log.

mod common;

use std::time::Duration;

use azure_sim::{Fault, SimConfig};
use common::monitor::{assert_refused, T};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn a_dcrs_diagnostic_setting_takes_its_categories_and_a_workspace() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    let api = "2021-05-01-preview";
    let body = |logs: Value| json!({ "properties": { "workspaceId": t.ws(), "logs": logs } });
    let (st, b) = t
        .put(
            &t.setting("errors"),
            api,
            body(json!([{ "category": "Nope", "enabled": true }])),
        )
        .await;
    assert_refused(
        st,
        &b,
        400,
        "BadRequest",
        "Category 'Nope' is not supported.",
    );
    let (st, b) = t
        .put(
            &t.setting("errors"),
            api,
            body(json!([{ "categoryGroup": "audit", "enabled": true }])),
        )
        .await;
    assert_refused(
        st,
        &b,
        400,
        "BadRequest",
        "CategoryGroup: 'audit' is not supported",
    );
    let mut located = body(json!([{ "category": "LogErrors", "enabled": true }]));
    located["location"] = json!("eastus");
    assert_eq!(t.put(&t.setting("errors"), api, located).await.0, 400);
    let mut nowhere = body(json!([{ "category": "LogErrors", "enabled": true }]));
    nowhere["properties"]["workspaceId"] = json!(format!("{}-gone", t.ws()));
    let (st, b) = t.put(&t.setting("errors"), api, nowhere).await;
    assert_refused(st, &b, 404, "ResourceNotFound", "-gone");
    let orphan = format!(
        "{}-gone/providers/Microsoft.Insights/diagnosticSettings/x",
        t.dcr()
    );
    let (st, b) = t.put(&orphan, api, body(json!([]))).await;
    assert_refused(st, &b, 404, "ResourceNotFound", "dcr-test-gone");
    let (st, b) = t
        .put(
            &t.setting("errors"),
            api,
            body(json!([{ "category": "LogErrors", "enabled": true }])),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        t.put(&t.setting("errors"), "2017-05-01-preview", b.clone())
            .await
            .0,
        200
    );
    // The same category to the same workspace from a second setting is a data sink conflict; allLogs includes it.
    for logs in [
        json!([{ "category": "LogErrors", "enabled": true }]),
        json!([{ "categoryGroup": "allLogs", "enabled": true }]),
    ] {
        let (st, b) = t.put(&t.setting("second"), api, body(logs)).await;
        assert_refused(st, &b, 409, "Conflict", "Data sinks can't be reused in different settings on the same category for the same resource.");
    }
    let (st, list) = t
        .get(
            &format!(
                "{}/providers/Microsoft.Insights/diagnosticSettings",
                t.dcr()
            ),
            api,
        )
        .await;
    assert_eq!(
        (st, list["value"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{list}"
    );
    // A proxy resource: not in the subscription's resource list.
    let sub = t.sim.operator().subscription_id;
    let (_, all) = t
        .call(
            Method::GET,
            &format!("/subscriptions/{sub}/resources?api-version=2021-04-01"),
            None,
        )
        .await;
    assert!(
        !all.to_string()
            .to_lowercase()
            .contains("diagnosticsettings"),
        "{all}"
    );
    assert_eq!(t.delete(&t.setting("errors"), api).await, 200);
    assert_eq!(t.delete(&t.setting("errors"), api).await, 204);
    assert_eq!(t.get(&t.setting("errors"), api).await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn ingestion_errors_land_in_dcrlogerrors_once_an_hour() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    let api = "2021-05-01-preview";
    let setting = json!({ "properties": { "workspaceId": t.ws(), "logs": [ { "categoryGroup": "allLogs", "enabled": true } ] } });
    assert_eq!(t.put(&t.setting("errors"), api, setting).await.0, 200);
    assert_eq!(t.query("DCRLogErrors").await.0, 204, "no data yet");
    let rows = || t.sim.snapshot().table_rows(&t.ws(), "DCRLogErrors");
    assert_eq!(t.ingest("not json", "req-1").await, 400);
    let r = rows();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["InputStreamId"], "Custom-KeeperLogs_CL");
    assert_eq!(r[0]["OperationName"], "Ingestion");
    assert_eq!(r[0]["ClientRequestId"], "req-1");
    assert_eq!(r[0]["_ResourceId"], t.dcr().as_str());
    assert!(
        r[0]["Message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("InvalidPayload"),
        "{r:?}"
    );
    assert!(r[0]["CorrelationId"].is_string() && r[0]["TimeGenerated"].is_string());
    // The same error again within the hour is muted; another error is not.
    assert_eq!(t.ingest("not json either", "req-2").await, 400);
    assert_eq!(rows().len(), 1);
    let big = format!(r#"[{{"audit_event": "{}"}}]"#, "x".repeat(1_100_000));
    assert_eq!(t.ingest(&big, "req-3").await, 413);
    t.sim
        .inject(Fault::status("POST", "/streams/", 1, 429, "TooManyRequests").retry_after(5));
    assert_eq!(t.ingest("[]", "req-4").await, 429);
    assert_eq!(rows().len(), 3);
    assert_eq!(rows()[2]["ClientRequestId"], "req-4");
    // A 404 (an unknown DCR) cannot be associated with a DCR: not logged.
    let op = t.sim.operator();
    let tok = common::token_with(
        &t.sim,
        &t.http,
        &op.client_id,
        &op.client_secret,
        "https://monitor.azure.com",
    )
    .await
    .expect("token");
    let st = t
        .http
        .post(format!("{}/dataCollectionRules/dcr-00000000000000000000000000000000/streams/Custom-KeeperLogs_CL?api-version=2023-01-01", t.sim.base_url()))
        .bearer_auth(tok)
        .body("[]")
        .send()
        .await
        .expect("post")
        .status()
        .as_u16();
    assert_eq!(st, 404);
    assert_eq!(rows().len(), 3);
    // Next hour, the first error is logged again; the workspace now has data.
    t.sim.advance_clock(Duration::from_secs(3600));
    assert_eq!(t.ingest("still not json", "req-5").await, 400);
    assert_eq!(rows().len(), 4);
    let (st, b) = t
        .query("DCRLogErrors | where OperationName == 'Ingestion' | count")
        .await;
    assert_eq!((st, &b["tables"][0]["rows"][0][0]), (200, &json!(4)), "{b}");
    // The table exists now: a rule on it passes query validation, and fires on the errors of its window.
    t.put_group().await;
    let mut rule = t.rule_body("DCRLogErrors");
    rule["properties"]["criteria"]["allOf"][0]["operator"] = json!("GreaterThan");
    rule["properties"]["criteria"]["allOf"][0]["threshold"] = json!(0);
    assert_eq!(t.put(&t.rule("errors"), "2023-12-01", rule).await.0, 201);
    let e = t
        .sim
        .evaluate_log_alert(&t.rule("errors"))
        .expect("evaluates");
    assert!(
        e.fired && e.rows == 1,
        "only the last hour's error is in the window: {e:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diagnostic_setting_outlives_its_dcr_and_comes_back_with_it() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    let api = "2021-05-01-preview";
    let setting = json!({ "properties": { "workspaceId": t.ws(), "logs": [ { "category": "LogErrors", "enabled": true } ] } });
    assert_eq!(t.put(&t.setting("errors"), api, setting).await.0, 200);
    let dce = format!(
        "{}/providers/Microsoft.Insights/dataCollectionEndpoints/dce-test",
        t.rg()
    );
    assert_eq!(t.delete(&t.dcr(), "2022-06-01").await, 200);
    assert_eq!(
        t.get(&t.setting("errors"), api).await.0,
        404,
        "its resource is gone"
    );
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body(&dce)).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        t.get(&t.setting("errors"), api).await.0,
        200,
        "back with a DCR of the same id"
    );
    // The role went with the old DCR: a 403, which the error log records too ("any HTTP response other than
    // 200/202").
    assert_eq!(t.ingest("[]", "no-role").await, 403);
    t.allow_ingestion().await;
    assert_eq!(t.ingest("not json", "again").await, 400);
    let rows = t.sim.snapshot().table_rows(&t.ws(), "DCRLogErrors");
    assert_eq!(rows.len(), 2, "and it logs again: {rows:?}");
    assert!(rows[0]["Message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("OperationFailed"));
    // Deleting the resource group (or the DCR behind the tool's back) leaves it too.
    t.sim.snapshot().delete_resource(&t.dcr());
    assert!(t.sim.snapshot().resource(&t.setting("errors")).is_some());
    assert_eq!(t.delete(&t.rg(), "2021-04-01").await, 200);
    assert!(t.sim.snapshot().resource(&t.setting("errors")).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_are_logged_with_the_key_id_of_the_secret_used() {
    let t = T::new(SimConfig {
        graph_replication_delay: Duration::ZERO,
        credential_activation_delay: Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    t.base().await;
    t.sim.export_sign_in_logs(&t.ws());
    let (st, app) = t
        .call(
            Method::POST,
            "/v1.0/applications",
            Some(json!({ "displayName": "keeper-azmon" })),
        )
        .await;
    assert_eq!(st, 201, "{app}");
    let app_id = app["appId"].as_str().expect("appId").to_string();
    let (st, sp) = t
        .call(
            Method::POST,
            "/v1.0/servicePrincipals",
            Some(json!({ "appId": app_id })),
        )
        .await;
    assert_eq!(st, 201, "{sp}");
    let (_, pw) = t
        .call(
            Method::POST,
            &format!(
                "/v1.0/applications/{}/addPassword",
                app["id"].as_str().expect("id")
            ),
            Some(json!({ "passwordCredential": { "displayName": "s" } })),
        )
        .await;
    let secret = pw["secretText"].as_str().expect("secretText");
    let arm = "https://management.core.windows.net/";
    common::token_with(&t.sim, &t.http, &app_id, secret, arm)
        .await
        .expect("token");
    common::token_with(&t.sim, &t.http, &app_id, "wrong", arm)
        .await
        .expect_err("wrong secret");
    let rows: Vec<Value> = t
        .sim
        .snapshot()
        .table_rows(&t.ws(), "AADServicePrincipalSignInLogs")
        .into_iter()
        .filter(|r| r["AppId"] == app_id.as_str())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["ResultType"], "0");
    assert_eq!(rows[0]["ServicePrincipalCredentialKeyId"], pw["keyId"]);
    assert_eq!(rows[0]["ServicePrincipalId"], sp["id"]);
    assert_eq!(rows[0]["ServicePrincipalCredentialThumbprint"], "");
    assert_eq!(
        rows[0]["ResourceIdentity"],
        "797f4846-ba00-4fd7-ba43-dac1f8f63013"
    );
    assert_eq!(rows[0]["IPAddress"], "127.0.0.1");
    assert_eq!(rows[1]["ResultType"], "7000215");
    assert_eq!(rows[1]["ServicePrincipalCredentialKeyId"], "");
    let q = format!("AADServicePrincipalSignInLogs | where AppId == '{app_id}' and ResultType == '0' and TimeGenerated > ago(5m) | count");
    let (st, b) = t.query(&q).await;
    assert_eq!((st, &b["tables"][0]["rows"][0][0]), (200, &json!(1)), "{b}");
    // The tenant's Entra diagnostic setting, at the ARM host.
    let path = "/providers/microsoft.aadiam/diagnosticSettings/keeper";
    let body = json!({ "properties": { "workspaceId": t.ws(), "logs": [ { "category": "ServicePrincipalSignInLogs", "enabled": true } ] } });
    let (st, b) = t.put(path, "2017-04-01", body.clone()).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(t.put(path, "2021-05-01-preview", body).await.0, 400);
    assert_eq!(t.get(path, "2017-04-01").await.0, 200);
    assert_eq!(t.delete(path, "2017-04-01").await, 200);
    assert_eq!(t.delete(path, "2017-04-01").await, 204);
}
