//! Benchmark of `keeper-azmon import-classic` on azure-sim: a classic `Keeper_CL` table of Commander events
//! (filled the Data Collector way) moved into the deployment's table; events/s, peak memory, queries, requests.
//!
//! `cargo bench --bench import` (BENCH_EVENTS, default 200,000; BENCH_CONCURRENCY, default 8).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use azure_sim::{Sim, SimConfig};
use serde_json::{json, Value};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) used so far by process `pid`, from /proc.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Runs the tool with the simulator's operator; returns its output and the CPU seconds it used.
fn tool(home: &Path, sim: &Sim, args: &[&str]) -> (std::process::Output, f64) {
    let op = sim.operator();
    let child = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AZURE_TENANT_ID", &op.tenant_id)
        .env("AZURE_CLIENT_ID", &op.client_id)
        .env("AZURE_CLIENT_SECRET", &op.client_secret)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run keeper-azmon");
    let pid = child.id().to_string();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = 0.0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(s) = cpu_seconds(&pid) {
                    last = s;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last
        })
    };
    let out = child.wait_with_output().expect("wait keeper-azmon");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (out, sampler.join().unwrap_or(0.0))
}

/// Event `i` as Commander's `audit-log --target azure-la` posted it, one a second from 2025-01-01.
fn commander_event(i: usize) -> Value {
    let t = time::OffsetDateTime::from_unix_timestamp(1_735_689_600 + i as i64).expect("time");
    let kind = ["login", "record_update", "folder_share", "policy_change"][i % 4];
    json!({
        "audit_event_type": kind,
        "username": format!("user{}@company.com", i % 5000),
        "ip_address": format!("10.{}.{}.{}", i % 250, (i / 250) % 250, (i / 62500) % 250),
        "keeper_version": "Web Vault 17.2.1",
        "geo_location": "Dublin, Leinster, IE",
        "node": 5_299_989_643_266u64 + (i % 977) as u64,
        "record_uid": format!("R{:010}", i),
        "timestamp": t.format(&time::format_description::well_known::Rfc3339).expect("fmt"),
    })
}

#[tokio::main]
async fn main() {
    let n = env_num("BENCH_EVENTS", 200_000);
    let concurrency = env_num("BENCH_CONCURRENCY", 8).to_string();
    let sim = Sim::start(SimConfig {
        store_rows: false,
        lro_duration: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tmp");
    let profile = sim.write_profile(dir.path()).expect("profile");
    let (p, st, sf) = (
        profile.display().to_string(),
        dir.path().join("state.json").display().to_string(),
        dir.path().join("secret.txt").display().to_string(),
    );
    let sub = sim.operator().subscription_id;
    let (o, _) = tool(
        dir.path(),
        &sim,
        &[
            "setup",
            "--cloud",
            &p,
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
            &st,
            "--yes",
            "--output",
            "json",
            "--secret-file",
            &sf,
        ],
    );
    assert!(
        o.status.success(),
        "setup: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(&st).expect("state")).expect("json");
    let ws = state["resources"]["workspace"]["id"]
        .as_str()
        .expect("ws")
        .to_string();
    let records: Vec<Value> = (0..n).map(commander_event).collect();
    sim.post_data_collector(&ws, "Keeper", &records);
    drop(records);
    eprintln!("{n} Commander events in Keeper_CL; importing with concurrency {concurrency}");

    let before = sim.snapshot().ingested_rows();
    let started = Instant::now();
    let (o, cpu) = tool(
        dir.path(),
        &sim,
        &[
            "import-classic",
            "--cloud",
            &p,
            "--state",
            &st,
            "--secret-file",
            &sf,
            "--output",
            "json",
            "--enterprise-id",
            "1234",
            "--concurrency",
            &concurrency,
        ],
    );
    let wall = started.elapsed().as_secs_f64();
    assert!(
        o.status.success(),
        "import: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        sim.snapshot().ingested_rows() - before,
        n as u64,
        "every event arrived once"
    );
    let eps = n as f64 / s["seconds"].as_f64().unwrap_or(wall);
    eprintln!(
        "keeper-azmon import-classic: {eps:.0} events/s, peak {:.1} MB, {} slices, {} queries, {} requests ({wall:.1}s wall); it used {cpu:.2} CPU s",
        s["peak_rss_mb"].as_f64().unwrap_or(0.0),
        s["slices"],
        s["queries"],
        s["requests"],
    );
    println!(
        "{}",
        json!({ "events": n, "events_per_second": eps, "tool_cpu_seconds": cpu, "wall_seconds": wall, "import": s })
    );
}
