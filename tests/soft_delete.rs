//! End-to-end tests of soft-deleted workspaces against azure-sim: a workspace deleted without force is kept for
//! 14 days; teardown says until when, a setup with the same name, resource group and region recovers it with its
//! data (one the tool did not make comes back as theirs), another region is refused before any write, and
//! `--force-delete-workspace` purges it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const FOURTEEN_DAYS: time::Duration = time::Duration::days(14);

/// Setup, then the guide's sample events posted by `verify`: the workspace (its id and customer id) holds 3 rows.
async fn set_up_with_rows(w: &World) -> (String, String) {
    let (o, secret_file) = w.setup_json().await;
    assert_ok(&o);
    w.settle();
    let sf = secret_file.display().to_string();
    assert_ok(
        &w.run(&w.command_args("verify", &["--secret-file", &sf]))
            .await,
    );
    let ws = w.state()["resources"]["workspace"]["id"]
        .as_str()
        .expect("the workspace's id")
        .to_string();
    assert_eq!(rows(w, &ws), 3, "verify posted the sample events");
    let customer = customer_id(w, &ws);
    (ws, customer)
}

fn rows(w: &World, ws: &str) -> usize {
    w.sim.snapshot().table_rows(ws, "KeeperLogs_CL").len()
}

fn customer_id(w: &World, ws: &str) -> String {
    w.sim.snapshot().resource(ws).expect("the workspace")["properties"]["customerId"]
        .as_str()
        .expect("customerId")
        .to_string()
}

/// Setup again after a teardown, its new secret written to another file.
async fn set_up_again(w: &World, extra: &[&str]) -> std::process::Output {
    let file = w.dir.path().join("secret-again.txt");
    let _ = std::fs::remove_file(&file);
    let mut a = vec!["--secret-file", file.to_str().expect("utf-8 path")];
    a.extend_from_slice(extra);
    w.run(&bare(w, &a)).await
}

/// The plan step of `step` in a `setup --dry-run --output json`.
fn planned(o: &std::process::Output, step: &str) -> Value {
    json_out(o)["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .find(|s| s["step"] == step)
        .cloned()
        .unwrap_or_else(|| panic!("no step {step} in {}", stdout(o)))
}

fn parse(t: &str) -> OffsetDateTime {
    OffsetDateTime::parse(t, &Rfc3339).unwrap_or_else(|e| panic!("{t} is RFC 3339: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_names_the_date_until_which_the_deleted_workspace_can_be_recovered() {
    let w = World::public().await;
    let (ws, _) = set_up_with_rows(&w).await;

    // Human, before anything is deleted: the date, and how to recover it or purge it instead.
    let o = w.run(&w.command_args("teardown", &["--dry-run"])).await;
    assert_ok(&o);
    let today_plus_14 = (OffsetDateTime::now_utc() + FOURTEEN_DAYS)
        .date()
        .to_string();
    let err = stderr(&o);
    assert!(
        err.contains("soft-deleted") && err.contains(&format!("until {today_plus_14}")),
        "the plan names the recovery date ({today_plus_14}): {err}"
    );
    assert!(err.contains("--force-delete-workspace"), "{err}");

    // JSON, the deletion itself: the workspace entry carries the date, 14 days after the deletion.
    let before = OffsetDateTime::now_utc();
    let o = w
        .run(&w.command_args("teardown", &["--yes", "--output", "json"]))
        .await;
    assert_ok(&o);
    let after = OffsetDateTime::now_utc();
    let out = json_out(&o);
    let entry = out["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .find(|d| d["step"] == "workspace")
        .cloned()
        .expect("the workspace was deleted");
    assert_eq!(entry["purged"], false, "{entry}");
    let until = parse(
        entry["recoverable_until"]
            .as_str()
            .expect("recoverable_until"),
    );
    assert!(
        until >= (before + FOURTEEN_DAYS).replace_nanosecond(0).expect("ns")
            && until <= after + FOURTEEN_DAYS,
        "recoverable until 14 days after the deletion: {until}"
    );

    // Azure keeps it soft-deleted: not there to a GET, listed among the deleted workspaces.
    let snap = w.sim.snapshot();
    assert!(snap.resource(&ws).is_none());
    let deleted = snap.soft_deleted_workspaces();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(deleted[0]["id"]
        .as_str()
        .is_some_and(|id| id.eq_ignore_ascii_case(&ws)));
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_after_teardown_recovers_the_workspace_with_its_rows_and_the_plan_says_so() {
    let w = World::public().await;
    let (ws, customer) = set_up_with_rows(&w).await;
    let o = w.run(&w.command_args("teardown", &["--yes"])).await;
    assert_ok(&o);
    assert!(
        format!("{}{}", stdout(&o), stderr(&o)).contains("recoverable until"),
        "{}",
        stderr(&o)
    );
    assert_eq!(rows(&w, &ws), 0, "the rows went with the workspace");

    // The plan says recover, with the deletion date and that the data comes back, in both renderings.
    let o = w.run(&bare(&w, &["--dry-run"])).await;
    assert_ok(&o);
    // A plan line past 100 columns continues on the next, indented (issue 27): read as one.
    let plan = stdout(&o).replace("\n      ", " ");
    let line = plan
        .lines()
        .find(|l| l.contains(" workspace "))
        .map(str::to_string)
        .unwrap_or_default();
    let today = OffsetDateTime::now_utc().date().to_string();
    assert!(
        line.trim_start().starts_with("recover")
            && line.contains(&format!("deleted on {today}"))
            && line.contains("its data comes back"),
        "{}",
        stdout(&o)
    );
    let o = w.run(&bare(&w, &["--dry-run", "--output", "json"])).await;
    assert_ok(&o);
    let step = planned(&o, "workspace");
    assert_eq!(step["action"], "recover", "{step}");
    assert!(
        step["deleted_on"]
            .as_str()
            .is_some_and(|d| d.starts_with(&today)),
        "{step}"
    );

    // The run recovers it: the same workspace (customer id), its rows back, and still the deployment's.
    let o = set_up_again(&w, &["--output", "json"]).await;
    assert_ok(&o);
    assert_eq!(planned(&o, "workspace")["action"], "recover");
    assert!(w.sim.snapshot().soft_deleted_workspaces().is_empty());
    assert_eq!(customer_id(&w, &ws), customer, "the same workspace");
    assert_eq!(rows(&w, &ws), 3, "its rows came back");
    assert_eq!(w.state()["resources"]["workspace"]["created"], true);

    // Recovered, it is like any other: a re-run reuses it, and the next teardown soft-deletes it again.
    let before = w.sim.write_count();
    let o = set_up_again(&w, &["--output", "json"]).await;
    assert_ok(&o);
    assert_eq!(planned(&o, "workspace")["action"], "reuse");
    assert_eq!(w.sim.write_count(), before, "a re-run writes nothing");
    assert_ok(&w.run(&w.command_args("teardown", &["--yes"])).await);
    assert_eq!(w.sim.snapshot().soft_deleted_workspaces().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_in_another_region_than_the_soft_deleted_workspace_is_refused_before_any_write() {
    let w = World::public().await;
    set_up_with_rows(&w).await;
    assert_ok(&w.run(&w.command_args("teardown", &["--yes"])).await);

    let before = w.sim.write_count();
    let file = w.dir.path().join("secret-again.txt");
    let mut args = bare(&w, &["--secret-file", file.to_str().expect("utf-8 path")]);
    let at = args
        .iter()
        .position(|a| a == "--location")
        .expect("--location")
        + 1;
    args[at] = "westus2".into();
    let o = w.run(&args).await;
    assert_refused(
        &o,
        &[
            "KeeperLogsWorkspace",
            "rg-keeper",
            "soft-deleted",
            "eastus",
            "westus2",
            "--location eastus",
            "--workspace",
            "--force",
        ],
    );
    assert_eq!(w.sim.write_count(), before, "nothing was written");
    assert_eq!(w.sim.snapshot().soft_deleted_workspaces().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_force_delete_workspace_purges_it_and_a_later_setup_makes_a_new_empty_one() {
    let w = World::public().await;
    let (ws, customer) = set_up_with_rows(&w).await;
    let o = w
        .run(&w.command_args(
            "teardown",
            &["--yes", "--force-delete-workspace", "--output", "json"],
        ))
        .await;
    assert_ok(&o);
    let out = json_out(&o);
    let entry = out["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .find(|d| d["step"] == "workspace")
        .cloned()
        .expect("the workspace was deleted");
    assert_eq!(entry["purged"], true, "{entry}");
    assert!(entry["recoverable_until"].is_null(), "{entry}");
    let deletes: Vec<_> = w
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path.eq_ignore_ascii_case(&ws))
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(
        deletes[0].query.get("force").map(String::as_str),
        Some("true"),
        "the DELETE carries force=true"
    );
    assert!(w.sim.snapshot().soft_deleted_workspaces().is_empty());

    // Nothing to recover: setup plans and makes a new workspace, empty.
    let o = w.run(&bare(&w, &["--dry-run", "--output", "json"])).await;
    assert_ok(&o);
    assert_eq!(planned(&o, "workspace")["action"], "create");
    assert_ok(&set_up_again(&w, &[]).await);
    assert_ne!(customer_id(&w, &ws), customer, "a new workspace");
    assert_eq!(rows(&w, &ws), 0, "with no rows");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_deleted_workspace_past_its_14_days_is_gone_and_setup_creates_it_anew() {
    let w = World::public().await;
    let (ws, customer) = set_up_with_rows(&w).await;
    assert_ok(&w.run(&w.command_args("teardown", &["--yes"])).await);
    w.sim
        .advance_clock(Duration::from_secs(14 * 24 * 3600 + 60));
    let o = w.run(&bare(&w, &["--dry-run", "--output", "json"])).await;
    assert_ok(&o);
    assert_eq!(planned(&o, "workspace")["action"], "create");
    assert_ok(&set_up_again(&w, &[]).await);
    assert_ne!(customer_id(&w, &ws), customer, "a new workspace");
    assert_eq!(rows(&w, &ws), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_soft_deleted_workspace_the_tool_did_not_make_is_recovered_as_theirs_and_teardown_leaves_it(
) {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "KeeperLogsWorkspace", "eastus").await;
    let t = operator_token(&w, "resource_manager_audience").await;
    let st = http(&w.sim)
        .delete(format!("{}{ws}?api-version=2022-10-01", w.sim.base_url()))
        .bearer_auth(t)
        .send()
        .await
        .expect("delete")
        .status();
    assert!(st.is_success(), "{st}");

    let o = w.run(&bare(&w, &["--dry-run", "--output", "json"])).await;
    assert_ok(&o);
    let step = planned(&o, "workspace");
    assert_eq!(step["action"], "recover", "{step}");
    assert!(
        step["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not this deployment's")),
        "{step}"
    );
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let body = w.sim.snapshot().resource(&ws).expect("recovered");
    assert!(
        body["tags"].get("keeper-azmon").is_none(),
        "not tagged as ours: {body}"
    );
    assert_eq!(w.state()["resources"]["workspace"]["created"], false);
    let o = w
        .run(&w.command_args("teardown", &["--yes", "--output", "json"]))
        .await;
    assert_ok(&o);
    assert!(w.sim.snapshot().resource(&ws).is_some(), "teardown left it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovered_workspaces_table_keeps_its_own_retention_and_is_not_put_anew() {
    let w = World::public().await;
    let secret_file = w.dir.path().join("secret.txt");
    assert_ok(
        &w.setup(&[
            "--output",
            "json",
            "--secret-file",
            &secret_file.display().to_string(),
            "--retention-days",
            "90",
        ])
        .await,
    );
    let ws = w.state()["resources"]["workspace"]["id"]
        .as_str()
        .expect("ws")
        .to_string();
    let table = format!("{ws}/tables/KeeperLogs_CL");
    assert_eq!(
        w.sim.snapshot().resource(&table).expect("table")["properties"]["retentionInDays"],
        90
    );
    // The workspace alone deleted (in the portal, say), its table inside it: soft-deleted together.
    let token = operator_token(&w, "resource_manager_audience").await;
    let r = http(&w.sim)
        .delete(format!("{}{ws}?api-version=2022-10-01", w.sim.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("delete");
    assert!(r.status().is_success(), "{}", r.status());
    // Recovered without --retention-days: the table came back with its 90 days, and they stay.
    let o = set_up_again(&w, &["--output", "json"]).await;
    assert_ok(&o);
    assert_eq!(planned(&o, "workspace")["action"], "recover");
    let t = w.sim.snapshot().resource(&table).expect("table");
    assert_eq!(t["properties"]["retentionInDays"], 90, "{t}");
    assert_eq!(
        w.state()["resources"]["table"]["created"],
        true,
        "ours, as the workspace is"
    );
}
