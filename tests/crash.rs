//! Crash and resume: the binary is killed (SIGKILL) just after each write of setup and of teardown reaches
//! azure-sim, then run again; the end state is exact. And two runs on one deployment never both create.

mod common;

use std::time::{Duration, Instant};

use azure_sim::{Fault, FaultKind};
use common::*;

fn hang_at(n: usize) -> Fault {
    Fault {
        method: None,
        path_contains: None,
        skip: n,
        times: 1,
        writes_only: true,
        kind: FaultKind::ApplyThenHang,
    }
}

/// Starts the tool, waits until the simulator holds the chosen write, and kills the process there.
async fn run_and_kill(w: &World, args: &[String]) -> bool {
    let mut child = tool_command(w.dir.path(), &w.sim, args)
        .stdout(std::process::Stdio::piped()) // a secret shown on /dev/null is refused
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.hanging() == 0 {
        if let Ok(Some(_)) = child.try_wait() {
            return false; // finished before reaching that write
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the write was never reached"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.expect("wait");
    assert!(!status.success());
    true
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_killed_after_any_write_resumes_to_exactly_one_of_everything() {
    each_concurrently(0..15, setup_killed_at_write).await;
}

async fn setup_killed_at_write(n: usize) {
    let w = World::public().await;
    w.sim.inject(hang_at(n));
    assert!(
        run_and_kill(&w, &w.setup_args(&[])).await,
        "setup makes at least {} writes",
        n + 1
    );
    w.sim.clear_faults();
    let o = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&o);
    let out = json_out(&o);
    let secret = out["client_secret"]
        .as_str()
        .unwrap_or_else(|| panic!("killed at write {n}: no new secret although none was shown"))
        .to_string();
    assert_complete(&w, &out, &secret).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn teardown_killed_after_any_write_finishes_on_the_next_run() {
    // six role assignments, DCR, table, DCE, workspace, secret, service principal, app, resource group
    each_concurrently(0..14, teardown_killed_at_write).await;
}

async fn teardown_killed_at_write(n: usize) {
    let w = World::public().await;
    assert_ok(&w.setup(&[]).await);
    w.sim.inject(hang_at(n));
    let args = w.command_args("teardown", &["--yes"]);
    assert!(
        run_and_kill(&w, &args).await,
        "teardown makes at least {} writes",
        n + 1
    );
    w.sim.clear_faults();
    assert_ok(&w.run(&args).await);
    let snap = w.sim.snapshot();
    assert!(
        snap.applications()
            .iter()
            .all(|a| a["displayName"] != "KeeperLogging"),
        "killed at teardown write {n}: app left"
    );
    assert!(
        snap.service_principals().len() == 1,
        "killed at teardown write {n}: service principal left"
    );
    for ty in [
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Insights/dataCollectionEndpoints",
        "Microsoft.Insights/dataCollectionRules",
        "Microsoft.Resources/resourceGroups",
    ] {
        assert!(
            snap.resources_of_type(ty).is_empty(),
            "killed at teardown write {n}: {ty} left"
        );
    }
    assert_eq!(
        snap.role_assignments().len(),
        1,
        "killed at teardown write {n}: role assignments left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_deployment_is_refused_while_the_first_holds_the_state() {
    let w = World::public().await;
    // The resource group is made before anything else starts: while it hangs, the first run writes nothing more.
    w.sim.inject(hang_at(0));
    let mut first = tool_command(w.dir.path(), &w.sim, &w.setup_args(&[]))
        .stdout(std::process::Stdio::piped()) // a secret shown on /dev/null is refused
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.hanging() == 0 {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let writes = w.sim.write_count();
    let second = w.setup(&[]).await;
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let pid = first.id().expect("pid");
    assert!(
        stderr(&second).contains(&format!("pid {pid}")),
        "names the holder: {}",
        stderr(&second)
    );
    assert_eq!(w.sim.write_count(), writes, "the second run wrote nothing");
    first.start_kill().expect("kill");
    let _ = first.wait().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_run_stops_after_the_steps_in_flight_and_the_next_run_resumes() {
    // Azure-like latencies at 1/20 of real time, so the run is still going when Ctrl-C comes.
    let w = World::start(azure_sim::SimConfig {
        latency: Some(azure_sim::Latency::azure(0.05)),
        ..sim_config()
    })
    .await;
    let child = tool_command(w.dir.path(), &w.sim, &w.setup_args(&[]))
        .env("KEEPER_AZMON_TIME_SCALE", "0.05")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while w.sim.write_count() < 3 {
        assert!(started.elapsed() < Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = child.id().expect("pid").to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill")
        .success());
    let o = child.wait_with_output().await.expect("wait");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted") && err.contains("re-run"),
        "{err}"
    );
    let apps = w
        .sim
        .snapshot()
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .count();
    assert!(apps <= 1);
    assert!(
        w.sim
            .snapshot()
            .applications()
            .iter()
            .all(|a| a["passwordCredentials"]
                .as_array()
                .is_none_or(Vec::is_empty)),
        "no secret was made: it comes last"
    );
    // The re-run need not be slow: Azure's latencies are only there so Ctrl-C lands mid-run.
    w.sim.set_latency(None);
    let again = w.setup(&["--output", "json", "--show-secret"]).await;
    assert_ok(&again);
    let out = json_out(&again);
    assert_complete(&w, &out, out["client_secret"].as_str().expect("secret")).await;
}
