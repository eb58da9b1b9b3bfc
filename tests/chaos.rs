//! Setup and teardown against azure-sim with random 429s, 500s, resets and replication delays (seeded, in
//! simulated time): every round ends complete and exact, and teardown leaves nothing. The 200-seed soak is
//! `cargo bench --bench soak`.

mod common;

use azure_sim::{Chaos, SimConfig};
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn setup_and_teardown_survive_throttling_errors_resets_and_replication_delays() {
    let scale = 0.01;
    let mut faults = 0;
    for seed in 1..=6 {
        let w = World::start(SimConfig {
            seed,
            chaos: Some(Chaos::standard(scale)),
            ..SimConfig::default()
        })
        .await;
        let round = chaos_round(&w, &scale.to_string()).await;
        faults += w.sim.chaos_counts().values().sum::<usize>();
        eprintln!("seed {seed}: {round:?} {:?}", w.sim.chaos_counts());
    }
    assert!(
        faults >= 20,
        "chaos injected too little to prove anything ({faults})"
    );
}
