//! One chaos round, shared by tests/chaos.rs and the soak benchmark: setup under random faults until it completes,
//! checked exactly, then teardown until nothing the tool made is left.

use super::*;

/// What one chaos round came to.
#[derive(Debug, Default, Clone)]
pub struct ChaosRound {
    /// Setup runs until it completed (1 = the first run did).
    pub setup_runs: usize,
    /// Failed steps named by the failed runs.
    pub failed_steps: Vec<String>,
    pub teardown_runs: usize,
}

/// Setup under chaos until it completes (each failure must name its step or give a hint), the result checked
/// exactly; then teardown until it completes, and nothing the tool made may remain.
pub async fn chaos_round(w: &World, scale: &str) -> ChaosRound {
    let env = [
        ("KEEPER_AZMON_TIME_SCALE", scale),
        ("KEEPER_AZMON_HTTP_TIMEOUT", "2"),
    ];
    let mut round = ChaosRound::default();
    let out = loop {
        round.setup_runs += 1;
        assert!(
            round.setup_runs <= 5,
            "setup did not complete in 5 runs: {round:?}"
        );
        let o = run_env(
            w,
            &w.setup_args(&["--output", "json", "--show-secret"]),
            &env,
        )
        .await;
        if o.status.success() {
            break json_out(&o);
        }
        let err = stderr(&o);
        assert!(
            err.contains("hint:"),
            "a failure without a next step:\n{err}"
        );
        let step = err
            .split("step '")
            .nth(1)
            .and_then(|s| s.split('\'').next())
            .unwrap_or("preflight")
            .to_string();
        eprintln!(
            "setup run {} failed: {}",
            round.setup_runs,
            err.lines()
                .filter(|l| l.starts_with("error"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
        round.failed_steps.push(step);
    };
    let secret = out["client_secret"]
        .as_str()
        .expect("a new secret")
        .to_string();
    // The guide's sample events go through ingestion, which chaos leaves alone.
    assert_complete(w, &out, &secret).await;
    let args: Vec<String> = [
        "teardown",
        "--yes",
        "--auth",
        "env",
        "--cloud",
        &w.profile.display().to_string(),
        "--state",
        &w.state_path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    loop {
        round.teardown_runs += 1;
        assert!(
            round.teardown_runs <= 5,
            "teardown did not complete in 5 runs"
        );
        let o = run_env(w, &args, &env).await;
        if o.status.success() {
            break;
        }
        assert!(stderr(&o).contains("hint:"), "{}", stderr(&o));
    }
    let snap = w.sim.snapshot();
    assert!(
        snap.applications()
            .iter()
            .all(|a| a["displayName"] != "KeeperLogging"),
        "an app is left"
    );
    assert_eq!(
        snap.service_principals().len(),
        1,
        "a service principal is left"
    );
    for ty in [
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Insights/dataCollectionEndpoints",
        "Microsoft.Insights/dataCollectionRules",
        "Microsoft.Resources/resourceGroups",
    ] {
        assert!(snap.resources_of_type(ty).is_empty(), "{ty} left");
    }
    assert_eq!(snap.role_assignments().len(), 1, "role assignments left");
    round
}

// ---------- helpers of the safety and ownership tests ----------
