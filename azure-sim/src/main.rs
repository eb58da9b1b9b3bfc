//! azure-sim binary: serves the simulator until Ctrl-C and prints how to point keeper-azmon at it.

use std::path::PathBuf;
use std::time::Duration;

use azure_sim::{Sim, SimCloud, SimConfig};

fn usage() -> ! {
    eprintln!("usage: azure-sim [--cloud public|usgov|usgov-dod|china] [--port N] [--profile-dir DIR] [--seed N] [--sp-replication-delay-ms N] [--role-propagation-delay-ms N] [--query-propagation-delay-ms N] [--graph-replication-delay-ms N] [--credential-activation-delay-ms N] [--page-size N (0: one page)]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut cfg = SimConfig::default();
    let mut dir = PathBuf::from(".");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| usage());
        match a.as_str() {
            "--cloud" => cfg.cloud = SimCloud::from_name(&val()).unwrap_or_else(|| usage()),
            "--port" => cfg.port = num(val()) as u16,
            "--profile-dir" => dir = PathBuf::from(val()),
            "--seed" => cfg.seed = num(val()),
            "--sp-replication-delay-ms" => {
                cfg.sp_replication_delay = Duration::from_millis(num(val()))
            }
            "--role-propagation-delay-ms" => {
                cfg.role_propagation_delay = Duration::from_millis(num(val()))
            }
            "--query-propagation-delay-ms" => {
                cfg.query_propagation_delay = Duration::from_millis(num(val()))
            }
            "--graph-replication-delay-ms" => {
                cfg.graph_replication_delay = Duration::from_millis(num(val()))
            }
            "--credential-activation-delay-ms" => {
                cfg.credential_activation_delay = Duration::from_millis(num(val()))
            }
            "--page-size" => cfg.page_size = Some(num(val()) as usize).filter(|n| *n > 0),
            _ => usage(),
        }
    }
    let sim = match Sim::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let profile = match sim.write_profile(&dir) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: cannot write the profile: {e}");
            std::process::exit(1);
        }
    };
    let op = sim.operator();
    println!("# azure-sim listening on {}", sim.base_url());
    println!("# cloud profile: {}", profile.display());
    println!("export KEEPER_AZMON_CLOUD={}", profile.display());
    println!("export AZURE_TENANT_ID={}", op.tenant_id);
    println!("export AZURE_CLIENT_ID={}", op.client_id);
    println!("export AZURE_CLIENT_SECRET={}", op.client_secret);
    println!("export KEEPER_AZMON_SUBSCRIPTION={}", op.subscription_id);
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
}
