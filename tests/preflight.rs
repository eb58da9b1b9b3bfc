//! Refusals that come before any write: what exists in Azure but cannot be used is named, with a hint and exit 2;
//! and the DCR's refusals, shown with every reason Azure gives.

mod common;

use std::time::Duration;

use azure_sim::{SimConfig, SimRole};
use common::*;
use serde_json::json;

/// Runs setup with `extra` and checks it is refused with exit 2, a hint, and no write.
async fn refused_before_any_write(w: &World, extra: &[&str], expect: &str) {
    let writes_before = w.sim.write_count();
    let o = w.setup(extra).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "exit 2 expected:\n{err}");
    assert!(
        err.contains(expect),
        "the message should say {expect:?}:\n{err}"
    );
    assert!(err.contains("hint:"), "no next step:\n{err}");
    assert_eq!(
        w.sim.write_count(),
        writes_before,
        "the refusal came after a write:\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_workspace_in_another_region_is_refused_naming_both_regions() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/rg-logs");
    assert!(
        arm_put(&w, &rg, "2021-04-01", json!({ "location": "westus2" }))
            .await
            .is_success()
    );
    let ws = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/central-ws");
    let put = arm_put(
        &w,
        &ws,
        "2022-10-01",
        json!({ "location": "westus2", "properties": { "sku": { "name": "PerGB2018" } } }),
    )
    .await;
    assert!(put.is_success(), "{put}");
    refused_before_any_write(
        &w,
        &["--workspace", &ws],
        "is in region westus2, but --location is eastus",
    )
    .await;
    let o = w.setup(&["--workspace", &ws]).await;
    assert!(stderr(&o).contains("--location westus2"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_who_may_not_assign_roles_is_refused_naming_the_permission_and_the_roles() {
    let w = World::start(SimConfig {
        operator_roles: vec![SimRole::Contributor],
        ..sim_config()
    })
    .await;
    refused_before_any_write(
        &w,
        &[],
        "lacks Microsoft.Authorization/roleAssignments/write",
    )
    .await;
    let o = w.setup(&[]).await;
    let err = stderr(&o);
    for role in [
        "Owner",
        "User Access Administrator",
        "Role Based Access Control Administrator",
    ] {
        assert!(err.contains(role), "the hint names {role}:\n{err}");
    }
    // The same refusal when the resource group exists: the group is the scope asked about.
    let rg = existing_group(&w, "rg-keeper", "eastus").await;
    refused_before_any_write(&w, &[], &format!("may not assign roles at {rg}")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contributor_who_is_also_user_access_administrator_completes_setup() {
    let w = World::start(SimConfig {
        operator_roles: vec![SimRole::Contributor, SimRole::UserAccessAdministrator],
        ..sim_config()
    })
    .await;
    assert_ok(&w.setup(&[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_classic_table_of_the_same_name_is_refused_pointing_at_migrate_and_table() {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "KeeperLogsWorkspace", "eastus").await;
    assert!(w.sim.add_classic_table(&ws, "KeeperLogs_CL"));
    refused_before_any_write(&w, &[], "already holds a classic table KeeperLogs_CL").await;
    let err = stderr(&w.setup(&[]).await);
    assert!(
        err.contains("--table") && err.contains("migrate"),
        "the hint points at --table and the migrate API:\n{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_not_yet_usable_by_the_dcr_is_waited_for() {
    // Shorter than the tool's bounded wait at the tests' time scale (120 s x 0.01).
    let w = World::start(SimConfig {
        table_output_delay: Duration::from_millis(300),
        ..sim_config()
    })
    .await;
    assert_ok(&w.setup(&[]).await);
    let dcr_puts: Vec<u16> = w
        .sim
        .request_log()
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path.contains("/dataCollectionRules/")
                && !r.path.contains("/roleAssignments/")
        })
        .map(|r| r.status)
        .collect();
    assert!(
        dcr_puts.first() == Some(&400) && dcr_puts.last() == Some(&200),
        "the first DCR PUT is refused (InvalidOutputTable), a later one succeeds: {dcr_puts:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dcr_refused_for_good_shows_every_reason_azure_gives() {
    let w = World::start(SimConfig {
        table_output_delay: Duration::from_secs(3600),
        ..sim_config()
    })
    .await;
    // The tool waits for the table a bounded while: at this time scale, a fraction of a second.
    let o = run_env(
        &w,
        &w.setup_args(&[]),
        &[("KEEPER_AZMON_TIME_SCALE", "0.002")],
    )
    .await;
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("InvalidPayload: Data collection rule is invalid"),
        "{err}"
    );
    assert!(
        err.contains(
            "- InvalidOutputTable: Table for output stream 'Custom-KeeperLogs_CL' is not available"
        ),
        "the detail's code and message are shown:\n{err}"
    );
    assert!(err.contains("(at properties.dataFlows[0])"), "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_by_an_operator_who_may_not_assign_roles_is_not_refused_when_every_role_exists() {
    let w = World::public().await;
    assert_ok(&w.setup(&[]).await);
    // The operator becomes a Contributor: Owner is swapped for Contributor on the subscription.
    let op = w.sim.operator();
    let sub = format!("/subscriptions/{}", op.subscription_id);
    let contributor = format!(
        "{sub}/providers/Microsoft.Authorization/roleAssignments/{}",
        uuid::Uuid::new_v4()
    );
    let put = arm_put(
        &w,
        &contributor,
        "2022-04-01",
        json!({ "properties": {
            "roleDefinitionId": format!("{sub}/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"),
            "principalId": op.object_id, "principalType": "ServicePrincipal" } }),
    )
    .await;
    assert!(put.is_success(), "{put}");
    let tok = operator_token(&w, "resource_manager_audience").await;
    let mut url = url::Url::parse(&format!(
        "{}{sub}/providers/Microsoft.Authorization/roleAssignments",
        w.sim.base_url()
    ))
    .expect("url");
    url.query_pairs_mut()
        .append_pair("api-version", "2022-04-01")
        .append_pair("$filter", &format!("principalId eq '{}'", op.object_id));
    let list: serde_json::Value = http(&w.sim)
        .get(url.as_str())
        .bearer_auth(&tok)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let owner = list["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|a| {
            a["properties"]["roleDefinitionId"]
                .as_str()
                .is_some_and(|r| r.ends_with("8e3af657-a8ff-443c-a75c-2fe8c4bcb635"))
        })
        .and_then(|a| a["id"].as_str())
        .expect("the operator's Owner assignment")
        .to_string();
    let del = http(&w.sim)
        .delete(format!(
            "{}{owner}?api-version=2022-04-01",
            w.sim.base_url()
        ))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("delete");
    assert_eq!(del.status(), 200);
    // Nothing to assign: the re-run passes preflight and writes nothing.
    let before = w.sim.write_count();
    assert_ok(&w.setup(&[]).await);
    assert_eq!(w.sim.write_count(), before, "a re-run makes no write");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_who_may_assign_roles_but_make_nothing_is_refused_naming_each_action() {
    let w = World::start(SimConfig {
        operator_roles: vec![SimRole::UserAccessAdministrator],
        ..sim_config()
    })
    .await;
    refused_before_any_write(
        &w,
        &[],
        "lacks Microsoft.Resources/subscriptions/resourceGroups/write",
    )
    .await;
    let err = stderr(&w.setup(&[]).await);
    for action in [
        "Microsoft.OperationalInsights/workspaces/write",
        "Microsoft.OperationalInsights/workspaces/tables/write",
        "Microsoft.Insights/dataCollectionEndpoints/write",
        "Microsoft.Insights/dataCollectionRules/write",
    ] {
        assert!(err.contains(action), "names {action}:\n{err}");
    }
    assert!(
        err.contains("Contributor"),
        "the hint names the role:\n{err}"
    );
    // With Contributor as well, setup completes.
    w.sim
        .set_operator_roles(&[SimRole::UserAccessAdministrator, SimRole::Contributor]);
    assert_ok(&w.setup(&[]).await);
}
