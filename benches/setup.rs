//! Setup speed against azure-sim's latency model: the tool's wall time beside the critical-path bound of the
//! same model, the guide's order run one step after another (`--sequential`), requests and polls, a re-run,
//! cold start and binary size. `cargo bench --bench setup` (BENCH_SCALE, default 0.2: a modelled minute is 12 s).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use azure_sim::{Latency, LoggedRequest, Sim, SimConfig};

fn tool(home: &Path, sim: &Sim, args: &[&str], scale: f64) -> (std::process::Output, f64) {
    let op = sim.operator();
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AZURE_TENANT_ID", &op.tenant_id)
        .env("AZURE_CLIENT_ID", &op.client_id)
        .env("AZURE_CLIENT_SECRET", &op.client_secret)
        .env("KEEPER_AZMON_TIME_SCALE", scale.to_string())
        .output()
        .expect("run keeper-azmon");
    (o, started.elapsed().as_secs_f64())
}

/// The longest chain of operations that must wait for each other, in modelled seconds.
fn critical_path(l: &Latency) -> (f64, Vec<(&'static str, f64)>) {
    let s = |d: Duration| d.as_secs_f64();
    // Round trips before any write: tokens (ARM and Graph side by side), then every read side by side.
    let start = s(l.token) + s(l.arm_read.max(l.graph_read));
    let rg = s(l.arm_write);
    // App POST, Graph's read-after-create lag, identifier URI PATCH, service principal POST, then replication
    // (halved by principalType).
    let app = 3.0 * s(l.graph_write) + s(l.graph_replication) + s(l.sp_replication) / 2.0;
    // Workspace PUT and creation, table PUT and creation, the table becoming usable as a DCR output, DCR PUT.
    let ws = s(l.arm_write)
        + s(l.workspace_create)
        + s(l.arm_write)
        + s(l.table_create)
        + s(l.table_output)
        + s(l.arm_write);
    let dce = s(l.arm_write);
    let role = s(l.role_write);
    // The secret last: read the app, addPassword, read it again.
    let secret = 2.0 * s(l.graph_read) + s(l.graph_write);
    let chains = vec![
        ("application -> service principal -> roles", app + role),
        ("workspace -> table -> DCR -> roles", ws + role),
        ("DCE -> roles", dce + role),
    ];
    let longest = chains.iter().map(|c| c.1).fold(0.0, f64::max);
    (start + rg + longest + secret, chains)
}

fn fresh(scale: f64) -> SimConfig {
    SimConfig {
        latency: Some(Latency::azure(scale)),
        // Pages as large as Azure's (Graph's default page is 100 objects, https://learn.microsoft.com/graph/paging);
        // the tests' two-item pages would time the paging, not setup.
        page_size: Some(100),
        ..SimConfig::default()
    }
}

#[tokio::main]
async fn main() {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.2);
    let model = Latency::azure(scale);
    let (bound, chains) = critical_path(&model);
    let mut report = serde_json::json!({ "time_scale": scale, "critical_path_model_seconds": bound, "chains": chains });

    for (label, extra) in [("tool", vec![]), ("sequential", vec!["--sequential"])] {
        let sim = Sim::start(fresh(scale)).await.expect("sim");
        let dir = tempfile::tempdir().expect("tmp");
        let profile = sim
            .write_profile(dir.path())
            .expect("profile")
            .display()
            .to_string();
        let state = dir.path().join("state.json").display().to_string();
        let secret = dir.path().join("secret.txt").display().to_string();
        let sub = sim.operator().subscription_id;
        let mut args = vec![
            "setup",
            "--cloud",
            &profile,
            "--auth",
            "env",
            "--subscription",
            &sub,
            "--resource-group",
            "rg-bench",
            "--create-resource-group",
            "--location",
            "eastus",
            "--state",
            &state,
            "--yes",
            "--output",
            "json",
            "--secret-file",
            &secret,
        ];
        args.extend(extra.iter().copied());
        let (o, secs) = tool(dir.path(), &sim, &args, scale);
        assert!(
            o.status.success(),
            "{label}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let log: Vec<LoggedRequest> = sim.request_log();
        let polls = log
            .iter()
            .filter(|r| {
                r.path.contains("/operationstatuses/")
                    || (r.method == "GET" && r.path.ends_with("/workspaces/KeeperLogsWorkspace"))
            })
            .count();
        let modelled = secs / scale;
        eprintln!("{label}: {secs:.2}s real = {modelled:.1} modelled s ({:.0}% of the critical path), {} requests, {polls} polls", 100.0 * modelled / bound, log.len());
        report[label] = serde_json::json!({ "real_seconds": secs, "modelled_seconds": modelled, "of_critical_path": modelled / bound, "requests": log.len(), "polls": polls });
        if label == "tool" {
            // The re-run is timed in real time (scale 1): its fixed costs (process start, TLS handshakes) are
            // real, and a time scale would multiply them.
            sim.set_latency(Some(Latency::azure(1.0)));
            let writes = sim.write_count();
            let before = log.len();
            let (o, secs) = tool(dir.path(), &sim, &args, 1.0);
            assert!(o.status.success());
            let round_trip = (model.arm_read.max(model.graph_read)).as_secs_f64();
            let modelled = secs;
            let requests = sim.request_log().len() - before;
            eprintln!("re-run: {modelled:.2} modelled s ({:.1} round trips), {} writes, {requests} requests", modelled / round_trip, sim.write_count() - writes);
            report["rerun"] = serde_json::json!({ "modelled_seconds": modelled, "round_trips": modelled / round_trip, "writes": sim.write_count() - writes, "requests": requests });
        }
    }
    // Cold start and size.
    let mut times = vec![];
    for _ in 0..21 {
        let t = Instant::now();
        let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
            .arg("--help")
            .output()
            .expect("help");
        assert!(o.status.success());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let size = std::fs::metadata(env!("CARGO_BIN_EXE_keeper-azmon"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "cold start (--help, median of 21): {:.1} ms; binary {:.1} MB",
        times[10],
        size as f64 / 1e6
    );
    report["help_median_ms"] = serde_json::json!(times[10]);
    report["binary_bytes"] = serde_json::json!(size);
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
}
