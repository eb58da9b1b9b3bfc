//! Refusals that come before any write: what exists in Azure but cannot be used is named, with a hint and exit 2.

mod common;

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
