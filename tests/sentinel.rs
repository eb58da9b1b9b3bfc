//! End-to-end tests of `setup --sentinel` against azure-sim: Sentinel onboarded, the function, the rules and the
//! workbook installed once; a re-run writes nothing; teardown leaves the admin's own Sentinel as it was.

mod common;

use common::*;
use serde_json::{json, Value};

const FUNCTION: &str = "KeeperSecurityEvents";

fn args(w: &World, cmd: &str, extra: &[&str]) -> Vec<String> {
    w.command_args(cmd, extra)
}

fn ws_id(w: &World, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/{name}",
        w.sim.operator().subscription_id
    )
}

/// The Sentinel content in the simulator under a workspace: (onboarded, functions, rules, workbooks).
fn sentinel_of(w: &World, ws: &str) -> (bool, Vec<Value>, Vec<Value>, Vec<Value>) {
    let snap = w.sim.snapshot();
    let under = |ty: &str| -> Vec<Value> {
        snap.resources_of_type(ty)
            .into_iter()
            .filter(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|id| id.to_lowercase().starts_with(&ws.to_lowercase()))
            })
            .collect()
    };
    let onboarded = !under("Microsoft.SecurityInsights/onboardingStates").is_empty();
    let workbooks = snap
        .resources_of_type("microsoft.insights/workbooks")
        .into_iter()
        .filter(|b| b["properties"]["sourceId"] == json!(ws))
        .collect();
    // The Fusion rule Sentinel turns on by itself when onboarded is nobody's content.
    let rules = under("Microsoft.SecurityInsights/alertRules")
        .into_iter()
        .filter(|r| r["name"] != "BuiltInFusion")
        .collect();
    // The Keeper function; the ASIM parsers and hunting queries are tests/asim.rs's.
    let functions = under("Microsoft.OperationalInsights/savedSearches")
        .into_iter()
        .filter(|s| {
            s["properties"]["category"] != "ASIM"
                && s["properties"]["category"] != "Hunting Queries"
                && !s["properties"]["functionAlias"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("Im_") || a.starts_with("ASim_"))
        })
        .collect();
    (onboarded, functions, rules, workbooks)
}

#[tokio::test(flavor = "multi_thread")]
async fn sentinel_setup_installs_everything_once_and_a_rerun_writes_nothing() {
    let w = World::public().await;
    let dry = w.setup(&["--sentinel", "--dry-run"]).await;
    assert_ok(&dry);
    assert_eq!(w.sim.write_count(), 0, "--dry-run wrote");
    for s in [
        "sentinel_onboarding",
        "sentinel_function",
        "sentinel_rule:keeper-master-password-changed",
        "sentinel_workbook",
    ] {
        assert!(
            stdout(&dry).contains(s),
            "the plan shows {s}:\n{}",
            stdout(&dry)
        );
    }

    let first = w.setup(&["--sentinel"]).await;
    assert_ok(&first);
    let ws = ws_id(&w, "KeeperLogsWorkspace");
    let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
    assert!(onboarded, "Sentinel is onboarded");
    assert_eq!(functions.len(), 1);
    let f = &functions[0]["properties"];
    assert_eq!(f["functionAlias"], FUNCTION);
    assert!(f["query"]
        .as_str()
        .expect("query")
        .starts_with("KeeperLogs_CL"));
    assert!(rules.len() >= 5, "{} rules", rules.len());
    for r in &rules {
        assert_eq!(r["kind"], "Scheduled");
        assert_eq!(r["properties"]["enabled"], true);
        assert!(
            r["properties"]["query"]
                .as_str()
                .expect("query")
                .starts_with(FUNCTION),
            "{r}"
        );
        assert!(!r["properties"]["entityMappings"]
            .as_array()
            .expect("entities")
            .is_empty());
    }
    assert_eq!(workbooks.len(), 1);
    let wb = &workbooks[0];
    assert_eq!(wb["kind"], "shared");
    assert_eq!(wb["properties"]["category"], "sentinel");
    let data = wb["properties"]["serializedData"].as_str().expect("data");
    assert!(data.contains(FUNCTION) && !data.contains("KeeperLogs_CL"));

    let after_first = w.sim.write_count();
    let second = w.setup(&["--sentinel", "--output", "json"]).await;
    assert_ok(&second);
    assert_eq!(
        w.sim.write_count(),
        after_first,
        "the second run wrote:\n{}",
        stderr(&second)
    );
    let out = json_out(&second);
    assert_eq!(out["changed"], false);

    // An analyst switches one of our rules off in the portal: a re-run without --sentinel-rules leaves it off.
    let switched = rules[1]["id"].as_str().expect("id").to_string();
    w.sim
        .snapshot()
        .patch_resource(&switched, json!({ "properties": { "enabled": false } }));
    assert_ok(&w.setup(&["--sentinel"]).await);
    assert_eq!(
        w.sim.write_count(),
        after_first,
        "the switched-off rule was rewritten"
    );
    assert_eq!(
        w.sim.snapshot().resource(&switched).expect("rule")["properties"]["enabled"],
        false
    );

    // status: every piece present; a deleted rule is missing, an edited function drifted.
    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_ok(&o);
    let items = json_out(&o)["items"].as_array().expect("items").clone();
    let sentinel_items: Vec<&Value> = items
        .iter()
        .filter(|i| {
            i["item"]
                .as_str()
                .is_some_and(|s| s.starts_with("sentinel_"))
        })
        .collect();
    assert!(sentinel_items.len() >= 8, "{sentinel_items:?}");
    assert!(
        sentinel_items.iter().all(|i| i["health"] == "ok"),
        "{sentinel_items:?}"
    );
    let rule_id = rules[0]["id"].as_str().expect("id").to_string();
    w.sim.snapshot().delete_resource(&rule_id);
    w.sim.snapshot().patch_resource(
        functions[0]["id"].as_str().expect("id"),
        json!({ "properties": { "query": "Other_CL" } }),
    );
    let o = w.run(&args(&w, "status", &["--output", "json"])).await;
    assert_eq!(o.status.code(), Some(4), "unhealthy: {}", stdout(&o));
    let items = json_out(&o)["items"].as_array().expect("items").clone();
    assert!(items
        .iter()
        .any(|i| i["item"] == "sentinel_function" && i["health"] == "drifted"));
    assert!(items.iter().any(
        |i| i["detail"].as_str().is_some_and(|d| d.contains(&rule_id)) && i["health"] == "missing"
    ));

    // A re-run repairs both, and the rules can be installed disabled.
    let third = w
        .setup(&["--sentinel", "--sentinel-rules", "disabled"])
        .await;
    assert_ok(&third);
    let (_, functions, rules, _) = sentinel_of(&w, &ws);
    assert!(functions[0]["properties"]["query"]
        .as_str()
        .expect("q")
        .starts_with("KeeperLogs_CL"));
    assert!(rules.len() >= 5 && rules.iter().all(|r| r["properties"]["enabled"] == false));
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_leaves_the_admins_own_sentinel_as_it_was() {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "soc-workspace", "eastus").await;
    let onboarding = format!("{ws}/providers/Microsoft.SecurityInsights/onboardingStates/default");
    let admin_rule = format!(
        "{ws}/providers/Microsoft.SecurityInsights/alertRules/11111111-2222-4333-8444-555555555555"
    );
    let rule_body = json!({ "kind": "Scheduled", "properties": {
        "displayName": "The SOC's own rule", "enabled": true, "severity": "Medium",
        "query": "Heartbeat | where TimeGenerated > ago(1h)", "queryFrequency": "PT1H", "queryPeriod": "PT1H",
        "triggerOperator": "GreaterThan", "triggerThreshold": 0, "suppressionDuration": "PT1H", "suppressionEnabled": false
    } });
    // Before onboarding Azure refuses a rule.
    assert_eq!(
        arm_put(&w, &admin_rule, "2025-12-01", rule_body.clone())
            .await
            .as_u16(),
        400
    );
    assert!(arm_put(&w, &onboarding, "2025-12-01", json!({}))
        .await
        .is_success());
    assert!(arm_put(&w, &admin_rule, "2025-12-01", rule_body.clone())
        .await
        .is_success());
    let mut nrt = rule_body.clone();
    nrt["kind"] = json!("NRT");
    assert_eq!(
        arm_put(&w, &admin_rule, "2025-12-01", nrt).await.as_u16(),
        400,
        "NRT is refused on a stable api-version"
    );
    let before = w.sim.snapshot();
    let (rule_before, onboarding_before) =
        (before.resource(&admin_rule), before.resource(&onboarding));

    let o = w
        .setup(&["--workspace", &ws, "--sentinel", "--output", "json"])
        .await;
    assert_ok(&o);
    let plan = json_out(&o)["plan"].as_array().expect("plan").clone();
    assert!(
        plan.iter()
            .any(|s| s["step"] == "sentinel_onboarding" && s["action"] == "reuse"),
        "{plan:?}"
    );
    let (_, functions, rules, workbooks) = sentinel_of(&w, &ws);
    assert_eq!((functions.len(), workbooks.len()), (1, 1));
    assert!(rules.len() >= 6, "ours and the admin's");

    let o = w.run(&args(&w, "teardown", &["--yes"])).await;
    assert_ok(&o);
    let after = w.sim.snapshot();
    assert_eq!(
        after.resource(&admin_rule),
        rule_before,
        "the admin's rule is untouched"
    );
    assert_eq!(
        after.resource(&onboarding),
        onboarding_before,
        "the admin's onboarding is untouched"
    );
    assert!(after.resource(&ws).is_some(), "the reused workspace stays");
    let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
    assert!(onboarded);
    assert!(
        functions.is_empty() && workbooks.is_empty(),
        "our function and workbook are gone"
    );
    assert_eq!(rules.len(), 1, "only the admin's rule is left");
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_offboards_sentinel_only_when_setup_onboarded_it() {
    let w = World::public().await;
    assert_ok(&w.setup(&["--sentinel"]).await);
    let ws = ws_id(&w, "KeeperLogsWorkspace");
    let o = w
        .run(&args(&w, "teardown", &["--yes", "--keep-workspace"]))
        .await;
    assert_ok(&o);
    let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
    assert!(w.sim.snapshot().resource(&ws).is_some(), "kept on request");
    assert!(!onboarded, "setup onboarded it, so teardown off-boards it");
    assert!(functions.is_empty() && rules.is_empty() && workbooks.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_is_checked_before_any_write_and_set_on_the_table_once() {
    let w = World::public().await;
    for bad in [
        vec!["--total-retention-days", "913"],
        vec!["--retention-days", "731"],
        vec!["--retention-days", "400", "--total-retention-days", "365"],
    ] {
        let o = w.setup(&bad).await;
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad:?} is refused: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
        assert_eq!(w.sim.write_count(), 0, "{bad:?} wrote");
    }
    let o = w.setup(&["--retention", "m-21-31"]).await;
    assert_ok(&o);
    let table = format!("{}/tables/KeeperLogs_CL", ws_id(&w, "KeeperLogsWorkspace"));
    let t = w.sim.snapshot().resource(&table).expect("table");
    assert_eq!(t["properties"]["retentionInDays"], 366);
    assert_eq!(t["properties"]["totalRetentionInDays"], 1095);
    let writes = w.sim.write_count();
    assert_ok(&w.setup(&["--retention", "m-21-31"]).await);
    assert_eq!(
        w.sim.write_count(),
        writes,
        "the same retention again writes nothing"
    );
    // A later run without --retention keeps it; one with another total changes only that.
    assert_ok(&w.setup(&[]).await);
    assert_eq!(w.sim.write_count(), writes);
    assert_ok(&w.setup(&["--total-retention-days", "2191"]).await);
    // Its columns unchanged, the table PUT is done at once (200, which Tables_CreateOrUpdate may answer as well
    // as 202), and the tool takes that answer as done.
    assert!(
        w.sim.request_log().iter().any(|r| r.method == "PUT"
            && r.path.ends_with("/tables/KeeperLogs_CL")
            && r.status == 200),
        "a synchronous 200 for the table"
    );
    let t = w.sim.snapshot().resource(&table).expect("table");
    assert_eq!(t["properties"]["retentionInDays"], 366);
    assert_eq!(t["properties"]["totalRetentionInDays"], 2191);
}

#[tokio::test(flavor = "multi_thread")]
async fn keepers_two_rules_find_the_events_sent_through_the_function() {
    let w = World::public().await;
    let secret_file = w.dir.path().join("secret.txt");
    let o = w
        .setup(&[
            "--sentinel",
            "--output",
            "json",
            "--secret-file",
            &secret_file.display().to_string(),
        ])
        .await;
    assert_ok(&o);
    w.settle();
    let out = json_out(&o);
    let secret = std::fs::read_to_string(&secret_file).expect("secret");
    let now = "2026-01-05T10:15:00Z";
    let events: Vec<Value> = [("change_master_password", "pat@example.com"), ("set_two_factor_off", "sam@example.com")]
        .iter()
        .map(|(e, u)| json!({ "TimeGenerated": now, "audit_event": e, "remote_address": "203.0.113.7", "category": "security",
            "client_version": "Web.17.0.0", "enterprise_id": 1234, "username": u, "timestamp": now, "data": {} }))
        .collect();
    let input = w.dir.path().join("events.json");
    std::fs::write(&input, serde_json::to_string(&events).expect("json")).expect("write");
    let o = w
        .run(&[
            "send".into(),
            "--state".into(),
            w.state_path().display().to_string(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--secret-file".into(),
            secret_file.display().to_string(),
            input.display().to_string(),
        ])
        .await;
    assert_ok(&o);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    let customer = state["outputs"]["workspace_customer_id"]
        .as_str()
        .expect("customer id");
    let client_id = out["client_id"].as_str().expect("client id");
    for (rule, user) in [
        (
            include_str!("../templates/sentinel/rules/keeper-master-password-changed.json"),
            "pat@example.com",
        ),
        (
            include_str!("../templates/sentinel/rules/keeper-two-factor-changed.json"),
            "sam@example.com",
        ),
    ] {
        let q = serde_json::from_str::<Value>(rule).expect("rule")["query"]
            .as_str()
            .expect("q")
            .to_string();
        let r = query_as_app(&w, client_id, secret.trim(), customer, &q).await;
        let table = &r["tables"][0];
        let rows = table["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{q}: {r}"));
        assert_eq!(rows.len(), 1, "{q}: {r}");
        let col = table["columns"]
            .as_array()
            .expect("cols")
            .iter()
            .position(|c| c["name"] == "Username")
            .expect("Username");
        assert_eq!(rows[0][col], user);
    }

    // verify --wait also asks the function, which leaves its test events out (they are not Keeper's).
    let o = w
        .run(&[
            "verify".into(),
            "--state".into(),
            w.state_path().display().to_string(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--secret-file".into(),
            secret_file.display().to_string(),
            "--wait".into(),
            "--output".into(),
            "json".into(),
        ])
        .await;
    assert_ok(&o);
    let v = json_out(&o);
    assert_eq!(v["through_function"], 0, "{v}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_security_insights_provider_is_registered_before_onboarding() {
    let w = World::start(azure_sim::SimConfig {
        providers_registered: false,
        ..azure_sim::SimConfig::default()
    })
    .await;
    // KEEPER_AZMON_SENTINEL stands for the flag, as every flag's variable does.
    let dry = run_env(
        &w,
        &w.setup_args(&["--dry-run"]),
        &[("KEEPER_AZMON_SENTINEL", "true")],
    )
    .await;
    assert_ok(&dry);
    assert!(
        stdout(&dry).contains("Microsoft.SecurityInsights"),
        "{}",
        stdout(&dry)
    );
    let o = w.setup(&["--sentinel"]).await;
    assert_ok(&o);
    assert!(
        stdout(&o).contains("Microsoft Sentinel > Analytics"),
        "{}",
        stdout(&o)
    );
    let (onboarded, ..) = sentinel_of(&w, &ws_id(&w, "KeeperLogsWorkspace"));
    assert!(onboarded);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_state_file_teardown_finds_the_sentinel_content_by_its_ids() {
    let w = World::public().await;
    assert_ok(&w.setup(&["--sentinel"]).await);
    std::fs::remove_file(w.state_path()).expect("state removed");
    let sub = w.sim.operator().subscription_id;
    let o = w
        .run(&args(
            &w,
            "teardown",
            &[
                "--yes",
                "--keep-workspace",
                "--deployment",
                "rg-keeper",
                "--subscription",
                &sub,
            ],
        ))
        .await;
    assert_ok(&o);
    let snap = w.sim.snapshot();
    for ty in [
        "Microsoft.SecurityInsights/alertRules",
        "Microsoft.OperationalInsights/savedSearches",
        "microsoft.insights/workbooks",
    ] {
        // Sentinel's own Fusion rule, which came with the onboarding, is not the deployment's.
        let left: Vec<Value> = snap
            .resources_of_type(ty)
            .into_iter()
            .filter(|r| r["name"] != "BuiltInFusion")
            .collect();
        assert!(left.is_empty(), "{ty} left:\n{}", stderr(&o));
    }
    assert!(
        snap.resource(&ws_id(&w, "KeeperLogsWorkspace")).is_some(),
        "the workspace is kept: the rules and function were deleted one by one"
    );
}

/// Each Sentinel write refused, or applied with its answer lost: the re-run ends with exactly one of everything,
/// and the run after it writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_interrupted_at_a_sentinel_write_resumes_to_exactly_one_of_everything() {
    use azure_sim::{Fault, FaultKind};
    let cases = [
        ("/providers/Microsoft.SecurityInsights/", 0),
        ("/providers/Microsoft.SecurityInsights/", 3),
        ("/savedSearches/", 0),
        ("/workbooks/", 0),
    ];
    for (path, skip) in cases {
        for apply in [false, true] {
            let w = World::public().await;
            let kind = if apply {
                FaultKind::ApplyThenStatus { status: 400 }
            } else {
                FaultKind::Status {
                    status: 400,
                    code: "SimulatedFailure".into(),
                    retry_after: None,
                }
            };
            w.sim.inject(Fault {
                method: Some("PUT".into()),
                path_contains: Some(path.into()),
                skip,
                times: 1,
                writes_only: true,
                kind,
            });
            let first = w.setup(&["--sentinel"]).await;
            assert!(
                !first.status.success(),
                "{path} #{skip} (apply={apply}) was meant to fail the run"
            );
            w.sim.clear_faults();
            assert_ok(&w.setup(&["--sentinel"]).await);
            let ws = ws_id(&w, "KeeperLogsWorkspace");
            let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
            assert!(onboarded);
            assert_eq!(
                (functions.len(), rules.len(), workbooks.len()),
                (1, 7, 1),
                "{path} #{skip} (apply={apply})"
            );
            let writes = w.sim.write_count();
            assert_ok(&w.setup(&["--sentinel"]).await);
            assert_eq!(
                w.sim.write_count(),
                writes,
                "{path} #{skip} (apply={apply}): the third run wrote"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_workbook_of_the_same_name_is_refused_before_any_write() {
    let w = World::public().await;
    let rg = existing_group(&w, "rg-keeper", "eastus").await;
    let theirs = json!({ "location": "eastus", "kind": "shared", "properties": {
        "displayName": "Keeper Security Dashboard", "category": "sentinel", "serializedData": "{}" } });
    let not_a_guid = format!("{rg}/providers/Microsoft.Insights/workbooks/keeper-dashboard");
    assert_eq!(
        arm_put(&w, &not_a_guid, "2023-06-01", theirs.clone())
            .await
            .as_u16(),
        400,
        "a workbook name must be a GUID"
    );
    let id =
        format!("{rg}/providers/Microsoft.Insights/workbooks/0f8fad5b-d9cb-469f-a165-70867728950e");
    assert!(arm_put(&w, &id, "2023-06-01", theirs).await.is_success());
    let writes = w.sim.write_count();
    let o = w.setup(&["--sentinel"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("Keeper Security Dashboard") && stderr(&o).contains("hint:"));
    assert_eq!(w.sim.write_count(), writes, "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_keeps_sentinel_and_the_function_while_an_analysts_rule_reads_them() {
    let w = World::public().await;
    assert_ok(&w.setup(&["--sentinel"]).await);
    let ws = ws_id(&w, "KeeperLogsWorkspace");
    // An analyst builds a rule of their own on the function setup made.
    let analyst_rule = format!(
        "{ws}/providers/Microsoft.SecurityInsights/alertRules/22222222-3333-4444-8555-666666666666"
    );
    let body = json!({ "kind": "Scheduled", "properties": {
        "displayName": "Keeper admin logins at night", "enabled": true, "severity": "Low",
        "query": format!("{FUNCTION} | where AuditEvent == 'login'"), "queryFrequency": "PT1H", "queryPeriod": "PT1H",
        "triggerOperator": "GreaterThan", "triggerThreshold": 0, "suppressionDuration": "PT1H", "suppressionEnabled": false
    } });
    assert!(arm_put(&w, &analyst_rule, "2025-12-01", body)
        .await
        .is_success());
    let o = w
        .run(&args(
            &w,
            "teardown",
            &["--yes", "--keep-workspace", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    let kept = json_out(&o)["kept"].to_string();
    assert!(
        kept.contains("Keeper admin logins at night") && kept.contains("sentinel_function"),
        "{kept}"
    );
    let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
    assert!(onboarded, "Sentinel stays on for the analyst's rule");
    assert_eq!(functions.len(), 1, "the function the rule reads stays");
    assert_eq!(rules.len(), 1, "only the analyst's rule is left");
    assert!(workbooks.is_empty(), "the workbook is ours and goes");
    // Once the analyst's rule is gone, a re-run finishes the job.
    w.sim.snapshot().delete_resource(&analyst_rule);
    assert_ok(
        &w.run(&args(&w, "teardown", &["--yes", "--keep-workspace"]))
            .await,
    );
    let (onboarded, functions, _, _) = sentinel_of(&w, &ws);
    assert!(!onboarded && functions.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn another_function_of_the_same_name_on_the_workspace_is_refused_before_any_write() {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "KeeperLogsWorkspace", "eastus").await;
    // Someone else's function of the same name, over another table.
    let theirs = format!("{ws}/savedSearches/soc-keeper-parser");
    assert!(arm_put(
        &w,
        &theirs,
        "2020-08-01",
        json!({ "properties": { "category": "SOC", "displayName": "Keeper parser",
            "query": "Keeper_CL | take 10", "functionAlias": FUNCTION, "version": 2 } })
    )
    .await
    .is_success());
    let writes = w.sim.write_count();
    let o = w.setup(&["--sentinel"]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(FUNCTION) && err.contains("soc-keeper-parser") && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(w.sim.write_count(), writes, "nothing was written");
    // Without --sentinel the rest of the setup is not in the way of it.
    assert_ok(&w.setup(&[]).await);
}

/// Something of an analyst's on the workspace that uses Sentinel, besides a rule that reads the function.
#[derive(Debug, Clone, Copy)]
enum AnalystsOwn {
    /// An analytics rule without a query: Microsoft security incident creation.
    RuleWithoutQuery,
    Content(azure_sim::SentinelContent),
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_keeps_sentinel_on_while_anything_else_uses_it_and_says_what() {
    use azure_sim::SentinelContent;
    let cases = std::iter::once(AnalystsOwn::RuleWithoutQuery)
        .chain(SentinelContent::ALL.into_iter().map(AnalystsOwn::Content));
    each_concurrently(cases, |case| async move {
        let w = World::public().await;
        assert_ok(&w.setup(&["--sentinel"]).await);
        let ws = ws_id(&w, "KeeperLogsWorkspace");
        let name = "The SOC's own";
        let ids: Vec<String> = match case {
            AnalystsOwn::RuleWithoutQuery => {
                let id = format!(
                    "{ws}/providers/Microsoft.SecurityInsights/alertRules/33333333-4444-4555-8666-777777777777"
                );
                let body = json!({ "kind": "MicrosoftSecurityIncidentCreation", "properties": {
                    "displayName": name, "enabled": true, "productFilter": "Azure Security Center"
                } });
                assert!(arm_put(&w, &id, "2025-12-01", body).await.is_success());
                vec![id]
            }
            AnalystsOwn::Content(c) => {
                let properties = match c {
                    SentinelContent::Incident => json!({ "title": name, "severity": "Low", "status": "New" }),
                    SentinelContent::DataConnector => json!({ "tenantId": w.sim.operator().tenant_id }),
                    _ => json!({ "displayName": name }),
                };
                let body = match c {
                    SentinelContent::DataConnector => json!({ "kind": "AzureActiveDirectory", "properties": properties }),
                    _ => json!({ "properties": properties }),
                };
                // Three of them: more than a page of the simulator's lists (two items), so all pages are read.
                (1..=3)
                    .map(|n| {
                        let item = format!("44444444-5555-4666-8777-88888888888{n}");
                        w.sim
                            .add_sentinel_content(&ws, c, &item, body.clone())
                            .expect("the workspace is onboarded")
                    })
                    .collect()
            }
        };
        let teardown = args(&w, "teardown", &["--yes", "--keep-workspace", "--output", "json"]);
        let o = w.run(&teardown).await;
        assert_ok(&o);
        let kept = json_out(&o)["kept"].to_string();
        let label = match case {
            AnalystsOwn::Content(SentinelContent::DataConnector) => "AzureActiveDirectory",
            _ => name,
        };
        let count = match case {
            AnalystsOwn::RuleWithoutQuery => "1 analytics rule(s)",
            AnalystsOwn::Content(SentinelContent::Incident) => "incidents",
            AnalystsOwn::Content(_) => "3 ",
        };
        assert!(
            kept.contains("sentinel_onboarding") && kept.contains(label) && kept.contains(count),
            "{case:?}: Sentinel is kept, and the reason named: {kept}"
        );
        let (onboarded, functions, rules, workbooks) = sentinel_of(&w, &ws);
        assert!(onboarded, "{case:?}: Sentinel stays on");
        assert!(
            functions.is_empty() && workbooks.is_empty(),
            "{case:?}: the tool's own content goes"
        );
        let ours = rules
            .iter()
            .filter(|r| !r["id"].as_str().is_some_and(|i| ids.iter().any(|id| i.eq_ignore_ascii_case(id))))
            .count();
        assert_eq!(ours, 0, "{case:?}: the tool's rules go");
        // Once nothing else uses it, a re-run off-boards it.
        for id in &ids {
            w.sim.snapshot().delete_resource(id);
        }
        assert_ok(&w.run(&teardown).await);
        assert!(!sentinel_of(&w, &ws).0, "{case:?}: off-boarded at last");
    })
    .await;
}
