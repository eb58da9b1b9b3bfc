//! azure-sim's action groups and log alert rules as Azure shows them: what ARM refuses when they are saved, how a
//! rule is evaluated (a "no data" rule, and the `| count` pitfall), and the RBAC actions monitoring writes need.

mod common;

use std::time::Duration;

use azure_sim::{SimConfig, SimRole};
use common::monitor::{assert_refused, group_body, NO_DATA, T};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn log_alert_rules_are_refused_as_azure_refuses_them() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    t.put_group().await;
    let good = t.rule_body(NO_DATA);
    let change = |pointer: &str, v: Value| {
        let mut b = good.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
        match b.pointer_mut(parent).and_then(Value::as_object_mut) {
            Some(o) => o.insert(key.to_string(), v),
            None => panic!("{pointer}"),
        };
        b
    };
    let without = |parent: &str, key: &str| {
        let mut b = good.clone();
        if let Some(o) = b.pointer_mut(parent).and_then(Value::as_object_mut) {
            o.remove(key);
        }
        b
    };
    let group_missing = format!("{}-gone", t.group());
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            without("", "location"),
            400,
            "InvalidRequestContent",
            "location",
        ),
        (
            without("/properties", "enabled"),
            400,
            "InvalidRequestContent",
            "'enabled'",
        ),
        (
            without("/properties", "criteria"),
            400,
            "InvalidRequestContent",
            "'criteria'",
        ),
        (
            without("/properties", "scopes"),
            400,
            "InvalidRequestContent",
            "'scopes'",
        ),
        (
            without("/properties", "severity"),
            400,
            "InvalidRequestContent",
            "Severity",
        ),
        (
            without("/properties", "evaluationFrequency"),
            400,
            "InvalidRequestContent",
            "EvaluationFrequency",
        ),
        (
            without("/properties", "windowSize"),
            400,
            "InvalidRequestContent",
            "WindowSize",
        ),
        (
            change("/properties/windowSize", json!("P3D")),
            400,
            "InvalidRequestContent",
            "WindowSize of 4320 minutes is not supported. Supported granularities are: 5, 10",
        ),
        (
            change("/properties/windowSize", json!("PT7M")),
            400,
            "InvalidRequestContent",
            "WindowSize of 7 minutes",
        ),
        (
            change("/properties/evaluationFrequency", json!("PT30S")),
            400,
            "InvalidRequestContent",
            "EvaluationFrequency",
        ),
        (
            change("/properties/evaluationFrequency", json!("P2D")),
            400,
            "InvalidRequestContent",
            "EvaluationFrequency of 2880 minutes",
        ),
        (
            change(
                "/properties/criteria/allOf/0/metricMeasureColumn",
                json!("n"),
            ),
            400,
            "InvalidRequestContent",
            "MetricMeasureColumn must not be set",
        ),
        (
            change(
                "/properties/criteria/allOf/0/timeAggregation",
                json!("Average"),
            ),
            400,
            "InvalidRequestContent",
            "MetricMeasureColumn is required",
        ),
        (change("/properties/autoMitigate", json!(true)), 200, "", ""),
        (
            change("/properties/scopes", json!([format!("{}-gone", t.ws())])),
            400,
            "BadRequest",
            "does not exist",
        ),
        (
            change("/properties/actions/actionGroups", json!([group_missing])),
            400,
            "BadRequest",
            "does not exist",
        ),
        (
            change(
                "/properties/criteria/allOf/0/query",
                json!("Nope_CL | where true"),
            ),
            400,
            "BadRequest",
            "'where' operator: Failed to resolve table or column expression named 'Nope_CL'",
        ),
        (
            change("/properties/criteria/allOf/0/query", json!("DCRLogErrors")),
            400,
            "BadRequest",
            "named 'DCRLogErrors'",
        ),
    ];
    for (i, (body, status, code, text)) in cases.into_iter().enumerate() {
        let (st, b) = t.put(&t.rule(&format!("r{i}")), "2023-12-01", body).await;
        if status == 200 {
            assert_eq!(st, 201, "case {i}: {b}");
            continue;
        }
        assert_refused(st, &b, status, code, text);
        assert!(t
            .sim
            .snapshot()
            .resource(&t.rule(&format!("r{i}")))
            .is_none());
    }
    // autoMitigate is refused above a 12-hour frequency only.
    let mut daily = change("/properties/autoMitigate", json!(true));
    daily["properties"]["evaluationFrequency"] = json!("P1D");
    daily["properties"]["windowSize"] = json!("P1D");
    let (st, b) = t.put(&t.rule("daily"), "2023-12-01", daily.clone()).await;
    assert_refused(st, &b, 400, "InvalidRequestContent", "AutoMitigate");
    daily["properties"]["autoMitigate"] = json!(false);
    assert_eq!(t.put(&t.rule("daily"), "2023-12-01", daily).await.0, 201);
    // A table that is not there yet needs skipQueryValidation.
    let mut errors = change("/properties/criteria/allOf/0/query", json!("DCRLogErrors"));
    errors["properties"]["skipQueryValidation"] = json!(true);
    assert_eq!(t.put(&t.rule("errors"), "2023-12-01", errors).await.0, 201);
    let (st, b) = t.put(&t.rule("no-data"), "2023-12-01", good.clone()).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["type"], "microsoft.insights/scheduledqueryrules");
    assert_eq!(b["properties"]["createdWithApiVersion"], "2023-12-01");
    assert_eq!(t.put(&t.rule("no-data"), "2021-08-01", good).await.0, 200);
    assert_eq!(t.get(&t.rule("no-data"), "2022-06-15").await.0, 200);
    assert_eq!(t.delete(&t.rule("no-data"), "2023-12-01").await, 200);
    assert_eq!(t.delete(&t.rule("no-data"), "2023-12-01").await, 204);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_no_data_rule_fires_on_an_empty_table_and_on_test_events_only() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    t.put_group().await;
    let contains = r#"KeeperLogs_CL | where tostring(data) !contains "keeper_azmon_verify" and tostring(data) !has "keeper_azmon_backfill""#;
    for (name, q) in [("no-data", NO_DATA), ("no-data-2", contains)] {
        assert_eq!(
            t.put(&t.rule(name), "2023-12-01", t.rule_body(q)).await.0,
            201
        );
    }
    let counted = format!("{NO_DATA} | count");
    assert_eq!(
        t.put(&t.rule("pitfall"), "2023-12-01", t.rule_body(&counted))
            .await
            .0,
        201
    );
    // The workspace has never had a row: the query API answers 204, but the rule counts 0 rows and fires.
    assert_eq!(t.query("KeeperLogs_CL").await.0, 204);
    for name in ["no-data", "no-data-2"] {
        let e = t.sim.evaluate_log_alert(&t.rule(name)).expect("evaluates");
        assert!(e.fired && e.rows == 0 && e.value == 0.0, "{name}: {e:?}");
    }
    // `| count` always gives one row: under LessThan 1 it never fires, the pitfall of "no data" rules.
    let e = t
        .sim
        .evaluate_log_alert(&t.rule("pitfall"))
        .expect("evaluates");
    assert!(!e.fired && e.rows == 1, "{e:?}");
    // Only the tool's own test events: still no data.
    let verify = r#"[{"audit_event": "verify", "data": {"marker": "keeper_azmon_verify"}}, {"audit_event": "backfill", "data": {"marker": "keeper_azmon_backfill"}}]"#;
    assert_eq!(t.ingest(verify, "r1").await, 204);
    for name in ["no-data", "no-data-2"] {
        assert!(
            t.sim
                .evaluate_log_alert(&t.rule(name))
                .expect("evaluates")
                .fired,
            "{name}"
        );
    }
    // One real event: the rule stops firing; an hour and more later it is out of the window, and fires again.
    assert_eq!(
        t.ingest(r#"[{"audit_event": "login", "data": {}}]"#, "r2")
            .await,
        204
    );
    for name in ["no-data", "no-data-2"] {
        let e = t.sim.evaluate_log_alert(&t.rule(name)).expect("evaluates");
        assert!(!e.fired && e.value == 1.0, "{name}: {e:?}");
    }
    t.sim.advance_clock(Duration::from_secs(3700));
    assert!(
        t.sim
            .evaluate_log_alert(&t.rule("no-data"))
            .expect("evaluates")
            .fired
    );
    // A disabled rule never fires.
    let mut off = t.rule_body(NO_DATA);
    off["properties"]["enabled"] = json!(false);
    assert_eq!(t.put(&t.rule("no-data"), "2023-12-01", off).await.0, 200);
    assert!(
        !t.sim
            .evaluate_log_alert(&t.rule("no-data"))
            .expect("evaluates")
            .fired
    );
    // A rule on a table that does not exist fails its evaluation rather than fire.
    let mut errors = t.rule_body("DCRLogErrors");
    errors["properties"]["skipQueryValidation"] = json!(true);
    assert_eq!(t.put(&t.rule("errors"), "2023-12-01", errors).await.0, 201);
    assert!(t.sim.evaluate_log_alert(&t.rule("errors")).is_err());
    assert!(t.sim.evaluate_log_alert(&t.rule("nothing")).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn monitoring_writes_need_their_resource_types_actions() {
    let t = T::new(SimConfig {
        operator_roles: vec![SimRole::UserAccessAdministrator],
        ..SimConfig::default()
    })
    .await;
    let rule = t.rule("r");
    let setting = t.setting("s");
    for (method, id, api, action) in [
        (
            Method::PUT,
            t.group(),
            "2023-01-01",
            "Microsoft.Insights/actionGroups/write",
        ),
        (
            Method::DELETE,
            t.group(),
            "2023-01-01",
            "Microsoft.Insights/actionGroups/delete",
        ),
        (
            Method::PUT,
            rule.clone(),
            "2023-12-01",
            "Microsoft.Insights/scheduledQueryRules/write",
        ),
        (
            Method::DELETE,
            rule,
            "2023-12-01",
            "Microsoft.Insights/scheduledQueryRules/delete",
        ),
        (
            Method::PUT,
            setting.clone(),
            "2021-05-01-preview",
            "Microsoft.Insights/diagnosticSettings/write",
        ),
        (
            Method::DELETE,
            setting,
            "2021-05-01-preview",
            "Microsoft.Insights/diagnosticSettings/delete",
        ),
    ] {
        let (st, b) = t
            .call(method, &format!("{id}?api-version={api}"), Some(json!({})))
            .await;
        assert_refused(st, &b, 403, "AuthorizationFailed", &format!("'{action}'"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn action_groups_are_global_with_a_short_name_and_found_by_tag() {
    let t = T::new(SimConfig::default()).await;
    t.base().await;
    let (st, b) = t.put(&t.group(), "2023-01-01", group_body("keeper")).await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["type"], "Microsoft.Insights/ActionGroups");
    assert_eq!(b["properties"]["emailReceivers"][0]["status"], "Enabled");
    assert_eq!(b["properties"]["smsReceivers"], json!([]));
    assert_eq!(
        t.put(&t.group(), "2022-06-01", group_body("keeper"))
            .await
            .0,
        200
    );
    let (st, b) = t.put(&t.group(), "2019-06-01", group_body("keeper")).await;
    assert_refused(st, &b, 400, "InvalidApiVersionParameter", "2019-06-01");
    let (st, b) = t
        .put(&t.group(), "2023-01-01", group_body("keeper-azmon-ag"))
        .await;
    assert_refused(
        st,
        &b,
        400,
        "GroupShortNameIsTooLong",
        "'12' or less characters",
    );
    let mut no_enabled = group_body("keeper");
    no_enabled["properties"]
        .as_object_mut()
        .expect("object")
        .remove("enabled");
    assert_eq!(t.put(&t.group(), "2023-01-01", no_enabled).await.0, 400);
    let mut elsewhere = group_body("keeper");
    elsewhere["location"] = json!("atlantis");
    let (st, b) = t.put(&t.group(), "2023-01-01", elsewhere).await;
    assert_refused(
        st,
        &b,
        400,
        "LocationNotAvailableForResourceType",
        "atlantis",
    );
    let sub = t.sim.operator().subscription_id;
    let (st, list) = t
        .call(
            Method::GET,
            &format!("/subscriptions/{sub}/resources?api-version=2021-04-01&$filter=tagName eq 'keeper-azmon'"),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(
        list["value"]
            .as_array()
            .expect("value")
            .iter()
            .any(|r| r["id"] == t.group().as_str()),
        "{list}"
    );
    assert_eq!(t.get(&t.group(), "2023-01-01").await.0, 200);
    assert_eq!(t.delete(&t.group(), "2023-01-01").await, 200);
    assert_eq!(t.delete(&t.group(), "2023-01-01").await, 204);
    assert_eq!(t.get(&t.group(), "2023-01-01").await.0, 404);
}
