//! Setup and teardown against azure-sim with random 429s, 500s, resets and replication delays (seeded, in
//! simulated time): every round ends complete and exact, and teardown leaves nothing. The 200-seed soak is
//! `cargo bench --bench soak`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use azure_sim::{Chaos, SimConfig};
use common::chaos::chaos_round;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn setup_and_teardown_survive_throttling_errors_resets_and_replication_delays() {
    let scale = 0.01;
    let faults = AtomicUsize::new(0);
    each_concurrently(1..=6, |seed| {
        let faults = &faults;
        async move {
            let w = World::start(SimConfig {
                seed,
                chaos: Some(Chaos::standard(scale)),
                ..sim_config()
            })
            .await;
            let round = chaos_round(&w, &scale.to_string()).await;
            faults.fetch_add(
                w.sim.chaos_counts().values().sum::<usize>(),
                Ordering::Relaxed,
            );
            eprintln!("seed {seed}: {round:?} {:?}", w.sim.chaos_counts());
        }
    })
    .await;
    let faults = faults.into_inner();
    assert!(
        faults >= 20,
        "chaos injected too little to prove anything ({faults})"
    );
}
