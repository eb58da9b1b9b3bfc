//! End-to-end tests of teardown's choices against azure-sim: keep the workspace, keep the data, delete for good.

mod common;

use common::*;
use serde_json::Value;

/// Setup, then the guide's sample events posted by `verify`, so the table holds rows.
async fn set_up_with_data(w: &World) -> (String, String) {
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    w.settle();
    let sf = secret_file.display().to_string();
    assert_ok(
        &w.run(&w.command_args("verify", &["--secret-file", &sf]))
            .await,
    );
    let state = w.state();
    let id = |kind: &str| {
        state["resources"][kind]["id"]
            .as_str()
            .expect("resource id")
            .to_string()
    };
    let ws = id("workspace");
    assert_eq!(
        w.sim.snapshot().table_rows(&ws, "KeeperLogs_CL").len(),
        3,
        "verify posted the sample events"
    );
    (ws, id("resource_group"))
}

/// Asserts that nothing the tool made is left in the simulator, except one each of the resource types in `kept`.
fn assert_only_left(w: &World, kept: &[&str]) {
    let snap = w.sim.snapshot();
    assert!(
        snap.applications()
            .iter()
            .all(|a| a["displayName"] != "KeeperLogging"),
        "the app is gone"
    );
    assert_eq!(
        snap.service_principals().len(),
        1,
        "only the operator's service principal is left"
    );
    assert_eq!(
        snap.role_assignments().len(),
        1,
        "only the operator's Owner assignment is left"
    );
    for ty in [
        "Microsoft.Insights/dataCollectionRules",
        "Microsoft.Insights/dataCollectionEndpoints",
    ] {
        assert!(snap.resources_of_type(ty).is_empty(), "{ty} is gone");
    }
    for ty in [
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Resources/resourceGroups",
    ] {
        assert_eq!(
            snap.resources_of_type(ty).len(),
            usize::from(kept.contains(&ty)),
            "{ty}"
        );
    }
}

fn kept(o: &std::process::Output) -> Vec<String> {
    json_out(o)["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_workspace_keeps_it_and_its_group_and_a_forced_teardown_then_deletes_them() {
    let w = World::public().await;
    let (ws, rg) = set_up_with_data(&w).await;
    let o = w
        .run(&w.command_args(
            "teardown",
            &["--yes", "--keep-workspace", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    let kept = kept(&o);
    assert!(kept.iter().any(|k| k.starts_with("workspace ")), "{kept:?}");
    assert!(
        kept.iter().any(|k| k.starts_with("resource_group ")),
        "{kept:?}"
    );
    assert!(w.sim.snapshot().resource(&ws).is_some(), "workspace kept");
    assert!(w.sim.snapshot().resource(&rg).is_some(), "its group kept");
    assert!(
        w.sim
            .snapshot()
            .resource(&format!("{ws}/tables/KeeperLogs_CL"))
            .is_none(),
        "--keep-workspace keeps the workspace, not the table"
    );
    assert_only_left(
        &w,
        &[
            "Microsoft.OperationalInsights/workspaces",
            "Microsoft.Resources/resourceGroups",
        ],
    );

    // What was kept is still the deployment's: a later teardown removes it, here for good: the DELETE carries
    // `force=true`, and Azure keeps nothing to recover.
    let o = w
        .run(&w.command_args("teardown", &["--yes", "--force-delete-workspace"]))
        .await;
    assert_ok(&o);
    let err = stderr(&o);
    assert!(err.contains("delete  workspace"), "{err}");
    assert!(
        !err.contains("recoverable for 14 days") && err.contains("purged"),
        "a forced delete is not announced as recoverable: {err}"
    );
    let forced = w.sim.request_log().into_iter().any(|r| {
        r.method == "DELETE"
            && r.path.eq_ignore_ascii_case(&ws)
            && r.query.get("force").map(String::as_str) == Some("true")
    });
    assert!(forced, "the workspace DELETE carries force=true");
    assert!(w.sim.snapshot().soft_deleted_workspaces().is_empty());
    assert_only_left(&w, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn keep_data_keeps_the_table_with_its_rows_and_its_workspace() {
    let w = World::public().await;
    let (ws, rg) = set_up_with_data(&w).await;
    let o = w
        .run(&w.command_args("teardown", &["--yes", "--keep-data", "--output", "json"]))
        .await;
    assert_ok(&o);
    let kept = kept(&o);
    for kind in ["table ", "workspace ", "resource_group "] {
        assert!(kept.iter().any(|k| k.starts_with(kind)), "{kind}: {kept:?}");
    }
    let snap = w.sim.snapshot();
    assert!(snap
        .resource(&format!("{ws}/tables/KeeperLogs_CL"))
        .is_some());
    assert_eq!(
        snap.table_rows(&ws, "KeeperLogs_CL").len(),
        3,
        "the rows are still there"
    );
    assert!(snap.resource(&rg).is_some());
    assert_only_left(
        &w,
        &[
            "Microsoft.OperationalInsights/workspaces",
            "Microsoft.Resources/resourceGroups",
        ],
    );

    // Without --force-delete-workspace, the plan says a deleted workspace can be recovered, and Azure keeps it so.
    let o = w.run(&w.command_args("teardown", &["--yes"])).await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("recoverable for 14 days"),
        "{}",
        stderr(&o)
    );
    assert_only_left(&w, &[]);
    assert_eq!(w.sim.snapshot().soft_deleted_workspaces().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_who_may_not_delete_role_assignments_is_refused_before_the_first_deletion() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    // Setup ran as Owner; teardown runs as someone who is only Contributor (who may not delete role assignments).
    w.sim.set_operator_roles(&[azure_sim::SimRole::Contributor]);
    let writes = w.sim.write_count();
    let o = w.run(&w.command_args("teardown", &["--yes"])).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Microsoft.Authorization/roleAssignments/delete")
            && err.contains("nothing was deleted")
            && err.contains("hint:")
            && err.contains("User Access Administrator"),
        "{err}"
    );
    assert_eq!(
        w.sim.write_count(),
        writes,
        "a deletion came before the refusal"
    );
    // The dry run shows the same refusal.
    let o = w.run(&w.command_args("teardown", &["--dry-run"])).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // With the right to remove role assignments back, teardown completes from where it was.
    w.sim.set_operator_roles(&[
        azure_sim::SimRole::Contributor,
        azure_sim::SimRole::UserAccessAdministrator,
    ]);
    assert_ok(&w.run(&w.command_args("teardown", &["--yes"])).await);
    let snap = w.sim.snapshot();
    assert_eq!(
        snap.resources_of_type("Microsoft.Insights/dataCollectionRules")
            .len(),
        0
    );
    assert_eq!(
        snap.role_assignments().len(),
        2,
        "only the operator's two roles are left"
    );
}

/// Every file under `dir` with its contents, by path: what a run wrote anywhere in the tool's home (the state file,
/// its lock, the deployment locks under `.cache`).
fn files_under(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                out.insert(p.clone(), vec![]);
                todo.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_writes_nothing_anywhere_with_a_state_file_or_by_tag() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let sub = w.sim.operator().subscription_id;
    let none = w.dir.path().join("none.json");
    let by_tag = after_at(
        &w,
        &none,
        "teardown",
        &[
            "--dry-run",
            "--deployment",
            "rg-keeper",
            "--subscription",
            &sub,
        ],
    );
    let mut by_tag_json = by_tag.clone();
    by_tag_json.extend(["--output".to_string(), "json".to_string()]);
    for args in [
        w.command_args("teardown", &["--dry-run"]),
        w.command_args("teardown", &["--dry-run", "--output", "json"]),
        by_tag,
        by_tag_json,
    ] {
        let (files, writes) = (files_under(w.dir.path()), w.sim.write_count());
        let o = w.run(&args).await;
        assert_ok(&o);
        let plan = format!("{}{}", stdout(&o), stderr(&o));
        assert!(
            plan.contains("KeeperDCR"),
            "the dry run shows the plan ({args:?}): {plan}"
        );
        assert_eq!(w.sim.write_count(), writes, "no write to Azure: {args:?}");
        let after = files_under(w.dir.path());
        let changed: Vec<_> = after
            .iter()
            .filter(|(p, c)| files.get(*p) != Some(c))
            .map(|(p, _)| p.display().to_string())
            .chain(
                files
                    .keys()
                    .filter(|p| !after.contains_key(*p))
                    .map(|p| p.display().to_string()),
            )
            .collect();
        assert!(changed.is_empty(), "a dry run wrote {changed:?} ({args:?})");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn several_resource_groups_with_the_deployment_tag_are_refused_and_named_before_any_write() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let sub = w.sim.operator().subscription_id;
    let other = format!("/subscriptions/{sub}/resourceGroups/rg-other");
    let put = arm_put(
        &w,
        &other,
        "2021-04-01",
        serde_json::json!({ "location": "eastus", "tags": { "keeper-azmon": "rg-keeper" } }),
    )
    .await;
    assert!(put.is_success(), "{put}");
    let writes = w.sim.write_count();
    let none = w.dir.path().join("none.json");
    for extra in [&["--yes"][..], &["--dry-run"][..]] {
        let mut args = vec!["--deployment", "rg-keeper", "--subscription", &sub];
        args.extend(extra);
        let o = w.run(&after_at(&w, &none, "teardown", &args)).await;
        assert_refused(&o, &["rg-keeper", "rg-other", "--state"]);
        assert_eq!(w.sim.write_count(), writes, "nothing was written");
        assert!(!none.exists(), "no state file was written");
    }
    let snap = w.sim.snapshot();
    assert!(snap.resource(&other).is_some());
    assert!(snap
        .resource(&format!("/subscriptions/{sub}/resourceGroups/rg-keeper"))
        .is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_of_an_adopted_app_removes_every_secret_the_tool_added_and_none_of_the_owners() {
    let w = World::public().await;
    let foreign = w.sim.create_foreign_app("Their Keeper app", &[]);
    // The owner's own secrets: one of its own, and one named like the tool's, made just before the tool runs.
    let owners_own = graph_as_operator(
        &w,
        reqwest::Method::POST,
        &format!("/applications/{}/addPassword", foreign.object_id),
        serde_json::json!({ "passwordCredential": { "displayName": "Keeper Azure Monitor Logs" } }),
    )
    .await;
    let owners_own = owners_own["keyId"].as_str().expect("keyId").to_string();
    let theirs = key_ids(&app_named(&w, &foreign.app_id));
    assert_eq!(theirs.len(), 2);

    assert_ok(
        &w.setup(&["--adopt-app", &foreign.app_id, "--output", "json"])
            .await,
    );
    // Rotated once (the old secret waits for --finish), then a rotation whose addPassword answer is lost: its
    // secret exists, and nobody ever saw its value.
    let rotate = w.command_args("rotate-secret", &["--show-secret", "--output", "json"]);
    assert_ok(&w.run(&rotate).await);
    w.sim.inject(azure_sim::Fault {
        method: Some("POST".into()),
        path_contains: Some("addPassword".into()),
        skip: 0,
        times: 1,
        writes_only: false,
        kind: azure_sim::FaultKind::ApplyThenStatus { status: 500 },
    });
    assert!(!w.run(&rotate).await.status.success());
    let on_app = key_ids(&app_named(&w, &foreign.app_id));
    assert_eq!(
        on_app.len(),
        5,
        "theirs, the current, the retired, the orphan"
    );

    let o = w.run(&w.command_args("teardown", &["--yes"])).await;
    assert_ok(&o);
    assert_eq!(
        stderr(&o).matches("delete  secret ").count(),
        3,
        "{}",
        stderr(&o)
    );
    let state = w.state();
    assert!(state["secret"].is_null(), "{state}");
    assert_eq!(state["retired_secrets"], serde_json::json!([]));
    assert!(state["secret_pending_since"].is_null(), "{state}");
    let mut left = key_ids(&app_named(&w, &foreign.app_id));
    left.sort();
    let mut want = theirs.clone();
    want.sort();
    assert_eq!(left, want, "only the owner's secrets are left");
    assert!(left.contains(&owners_own));
}
