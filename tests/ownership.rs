//! Who owns what: an app registration is adopted only when the signed-in identity owns it (or through
//! `--adopt-app`), the apps the tool creates list the operator as owner, two subscriptions keep their own apps,
//! what the tool did not create keeps its tags and survives teardown by tag, and a deployment's state and lock
//! (a custom cloud named in a state file, two runs through two state files).

mod common;

use std::time::{Duration, Instant};

use azure_sim::{Fault, FaultKind};
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn an_app_someone_else_registered_with_our_name_and_tag_is_not_adopted() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let foreign = w
        .sim
        .create_foreign_app("KeeperLogging", &[&format!("keeper-azmon:{sub}/rg-keeper")]);
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_refused(
        &o,
        &[
            &foreign.app_id,
            &foreign.owner_upn,
            "their secret",
            &format!("--adopt-app {}", foreign.app_id),
        ],
    );
    assert_eq!(w.sim.write_count(), 0, "nothing was written");

    // Taken knowingly: it gets a secret and roles, keeps its own tags, shows its owners, and teardown leaves it.
    let o = w
        .setup(&[
            "--output",
            "json",
            "--show-secret",
            "--adopt-app",
            &foreign.app_id,
        ])
        .await;
    assert_ok(&o);
    let out = json_out(&o);
    assert_eq!(out["client_id"], foreign.app_id.as_str());
    let plan = out["plan"].to_string();
    assert!(
        plan.contains(&foreign.owner_upn),
        "the plan shows the owners: {plan}"
    );
    let app = app_named(&w, &foreign.app_id);
    assert_eq!(
        app["tags"],
        json!([format!("keeper-azmon:{sub}/rg-keeper")])
    );
    assert_eq!(key_ids(&app).len(), 2, "theirs and ours");
    assert_ok(&w.run(&after(&w, "teardown", &["--yes"])).await);
    let app = app_named(&w, &foreign.app_id);
    assert_eq!(key_ids(&app).len(), 1, "our secret went, theirs stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_tagged_the_old_way_is_adopted_only_through_a_state_file() {
    let w = World::public().await;
    let foreign = w
        .sim
        .create_foreign_app("KeeperLogging", &["keeper-azmon:rg-keeper"]);
    let o = w.setup(&[]).await;
    assert_refused(&o, &[&foreign.app_id, "older keeper-azmon", "--adopt-app"]);
    assert_eq!(w.sim.write_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_the_tool_creates_list_the_operator_as_owner() {
    for graph_adds_the_creator in [true, false] {
        let w = World::public().await;
        w.sim.set_creator_becomes_owner(graph_adds_the_creator);
        let o = w.setup(&["--output", "json", "--show-secret"]).await;
        assert_ok(&o);
        let app = app_named(&w, json_out(&o)["client_id"].as_str().expect("client"));
        let owners = w.sim.snapshot().app_owners(app["id"].as_str().expect("id"));
        assert_eq!(
            owners,
            [w.sim.operator().object_id],
            "creator owner by Graph: {graph_adds_the_creator}"
        );
        // And so a re-run without a state file adopts it.
        std::fs::remove_file(w.state_path()).expect("rm state");
        let again = w.setup(&["--output", "json", "--show-secret"]).await;
        assert_ok(&again);
        assert_eq!(json_out(&again)["client_id"], app["appId"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_subscriptions_with_the_same_deployment_name_keep_their_own_apps() {
    let w = World::public().await;
    let sub2 = "22222222-2222-2222-2222-222222222222";
    w.sim.add_operator_subscription(sub2, "Second");
    let first = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&first);
    let mut args = w.setup_args(&["--output", "json", "--show-secret"]);
    let p = args
        .iter()
        .position(|a| a == "--subscription")
        .expect("sub");
    args[p + 1] = sub2.into();
    let p = args.iter().position(|a| a == "--state").expect("state");
    args[p + 1] = w.dir.path().join("second.json").display().to_string();
    let second = w.run(&args).await;
    assert_ok(&second);
    let (c1, c2) = (
        json_out(&first)["client_id"].clone(),
        json_out(&second)["client_id"].clone(),
    );
    assert_ne!(c1, c2, "each subscription has its own app");

    // Teardown of the second, found by its tag alone: the first subscription's app stays.
    let none = w.dir.path().join("none.json");
    let o = w
        .run(&after_at(
            &w,
            &none,
            "teardown",
            &["--yes", "--deployment", "rg-keeper", "--subscription", sub2],
        ))
        .await;
    assert_ok(&o);
    let apps: Vec<Value> = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .collect();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0]["appId"], c1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_adopted_rule_keeps_its_tags_and_teardown_by_tag_leaves_it() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let rg = existing_group(&w, "rg-keeper", "eastus").await;
    let dcr = format!("{rg}/providers/Microsoft.Insights/dataCollectionRules/KeeperDCR");
    let status = arm_put(
        &w,
        &dcr,
        "2022-06-01",
        json!({"location": "eastus", "tags": {"team": "secops"}, "properties": {"description": "theirs"}}),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&o);
    let rule = w.sim.snapshot().resource(&dcr).expect("rule");
    assert_eq!(
        rule["tags"],
        json!({"team": "secops"}),
        "the adopted rule keeps its own tags"
    );
    assert!(
        rule["properties"]["streamDeclarations"]["Custom-KeeperLogs_CL"].is_object(),
        "and was updated"
    );

    let none = w.dir.path().join("none.json");
    let o = w
        .run(&after_at(
            &w,
            &none,
            "teardown",
            &["--yes", "--deployment", "rg-keeper", "--subscription", &sub],
        ))
        .await;
    assert_ok(&o);
    assert!(
        w.sim.snapshot().resource(&dcr).is_some(),
        "a rule the tool did not make is never deleted"
    );
    assert!(
        w.sim.snapshot().resource(&rg).is_some(),
        "nor a group it did not make"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_cloud_named_in_the_state_file_is_not_followed_without_cloud() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let seen = w.sim.request_log().len();
    let args: Vec<String> = [
        "status",
        "--auth",
        "env",
        "--state",
        &w.state_path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = w.run(&args).await;
    assert_refused(&o, &["--cloud", &w.profile.display().to_string()]);
    assert_eq!(w.sim.request_log().len(), seen, "no request was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_deployment_cannot_run_twice_at_once_through_two_state_files() {
    let w = World::public().await;
    w.sim.inject(Fault {
        method: None,
        path_contains: None,
        skip: 0,
        times: 1,
        writes_only: true,
        kind: FaultKind::ApplyThenHang,
    });
    let mut first = tool_command(w.dir.path(), &w.sim, &w.setup_args(&[]))
        .stdout(std::process::Stdio::piped()) // a secret shown on /dev/null is refused
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.hanging() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first run never wrote"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut args = w.setup_args(&[]);
    let p = args.iter().position(|a| a == "--state").expect("state");
    args[p + 1] = w.dir.path().join("other.json").display().to_string();
    let writes = w.sim.write_count();
    let o = w.run(&args).await;
    assert_refused(&o, &["another keeper-azmon run"]);
    assert_eq!(w.sim.write_count(), writes);
    first.start_kill().expect("kill");
    let _ = first.wait().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_app_not_yet_in_every_graph_replica_still_gets_its_owner() {
    let w = World::public().await;
    w.sim.set_creator_becomes_owner(false);
    w.sim.inject(Fault::status(
        "GET",
        "/owners",
        2,
        404,
        "Request_ResourceNotFound",
    ));
    let args = w.setup_args(&["--output", "json", "--show-secret"]);
    let o = run_env(&w, &args, &[("KEEPER_AZMON_TIME_SCALE", "0.01")]).await;
    assert_ok(&o);
    let app = app_named(&w, json_out(&o)["client_id"].as_str().expect("client"));
    let owners = w.sim.snapshot().app_owners(app["id"].as_str().expect("id"));
    assert_eq!(owners, [w.sim.operator().object_id]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_was_lost_never_adopts_an_app_someone_else_registered_meanwhile() {
    let w = World::public().await;
    let sub = w.sim.operator().subscription_id;
    let tag = format!("keeper-azmon:{sub}/rg-keeper");
    // Another member registers an app with our name and tag as setup starts: Graph lists it only a while later,
    // so setup's first look finds no app and it creates one.
    let replicating = Duration::from_secs(600);
    let foreign = w
        .sim
        .create_foreign_app_replicating("KeeperLogging", &[&tag], replicating);
    // The create is answered 500 without being made; by the time the tool looks for what it may have made, Graph
    // lists the other member's app.
    w.sim.inject(Fault::status(
        "POST",
        "/applications",
        1,
        500,
        "ServiceUnavailable",
    ));
    let lost_create = |log: &[azure_sim::LoggedRequest]| {
        log.iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/applications") && r.status == 500)
    };
    let args = w.setup_args(&["--output", "json", "--show-secret"]);
    let o = run_advancing(&w, &args, lost_create, replicating + Duration::from_secs(1)).await;
    assert_ok(&o);
    assert_ne!(
        json_out(&o)["client_id"],
        foreign.app_id.as_str(),
        "the other member's app was adopted"
    );
    let theirs = app_named(&w, &foreign.app_id);
    assert_eq!(
        key_ids(&theirs).len(),
        1,
        "no secret was added to their app"
    );
    assert_eq!(theirs["tags"], json!([tag]), "their app keeps its tags");
    assert_eq!(
        w.sim.snapshot().app_owners(&foreign.object_id),
        std::slice::from_ref(&foreign.owner_id),
        "the operator did not make itself an owner of their app"
    );
}
