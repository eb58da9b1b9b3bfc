//! Soak: setup then teardown against azure-sim with 10% 429, 5% 500, 3% connection resets and 0-30 s of
//! replication delay (simulated: the tool and the simulator run at 1/100 of real time), over 200 seeds.
//! Every round must end with setup complete and exact (one app, one valid secret, every resource and role
//! assignment once) and nothing left after teardown; failed runs must name their step.
//!
//! `cargo bench --bench soak` (SOAK_SEEDS, default 200).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use azure_sim::{Chaos, SimConfig};
use common::chaos::chaos_round;
use common::*;

#[tokio::main]
async fn main() {
    let seeds = std::env::var("SOAK_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200u64);
    let scale = 0.01;
    let started = std::time::Instant::now();
    let (mut first_try, mut setup_runs, mut teardown_runs, mut violations) = (0, 0, 0, vec![]);
    let mut failed_steps: BTreeMap<String, usize> = BTreeMap::new();
    let mut faults: BTreeMap<&'static str, usize> = BTreeMap::new();
    for seed in 1..=seeds {
        let w = World::start(SimConfig {
            seed,
            chaos: Some(Chaos::standard(scale)),
            ..SimConfig::default()
        })
        .await;
        let w = std::sync::Arc::new(w);
        let wc = w.clone();
        let round = tokio::spawn(async move { chaos_round(&wc, &scale.to_string()).await }).await;
        for (k, v) in w.sim.chaos_counts() {
            *faults.entry(k).or_default() += v;
        }
        match round {
            Ok(r) => {
                first_try += usize::from(r.setup_runs == 1);
                setup_runs += r.setup_runs;
                teardown_runs += r.teardown_runs;
                for s in r.failed_steps {
                    *failed_steps.entry(s).or_default() += 1;
                }
            }
            Err(e) => violations.push(format!("seed {seed}: {e}")),
        }
    }
    let report = serde_json::json!({
        "seeds": seeds,
        "setup_complete_on_first_run": first_try,
        "setup_runs": setup_runs,
        "failed_runs_by_step": failed_steps,
        "teardown_runs": teardown_runs,
        "faults_injected": faults,
        "violations": violations,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    let _ = std::fs::write(
        concat!(env!("CARGO_TARGET_TMPDIR"), "/soak-report.json"),
        report.to_string(),
    );
    if !report["violations"].as_array().is_some_and(Vec::is_empty) {
        std::process::exit(1);
    }
}
