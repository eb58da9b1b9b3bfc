//! Shared helpers for the end-to-end tests: a simulator per test and the real binary run against it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use azure_sim::{Sim, SimCloud, SimConfig};
use serde_json::Value;

/// A running simulator with its profile written into a private directory.
pub struct World {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub profile: PathBuf,
}

impl World {
    pub async fn start(config: SimConfig) -> World {
        let sim = Sim::start(config).await.expect("azure-sim starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let profile = sim.write_profile(dir.path()).expect("profile written");
        World { sim, dir, profile }
    }

    pub async fn public() -> World {
        World::start(SimConfig {
            cloud: SimCloud::Public,
            ..SimConfig::default()
        })
        .await
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    /// The standard setup arguments for this world, plus `extra`.
    pub fn setup_args(&self, extra: &[&str]) -> Vec<String> {
        let op = self.sim.operator();
        let mut a: Vec<String> = [
            "setup",
            "--cloud",
            &self.profile.display().to_string(),
            "--auth",
            "env",
            "--subscription",
            &op.subscription_id,
            "--resource-group",
            "rg-keeper",
            "--create-resource-group",
            "--location",
            "eastus",
            "--state",
            &self.state_path().display().to_string(),
            "--yes",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// Runs the keeper-azmon binary with the operator's credentials in its environment.
    pub async fn run(&self, args: &[String]) -> Output {
        run_tool(self.dir.path(), &self.sim, args).await
    }

    pub async fn setup(&self, extra: &[&str]) -> Output {
        self.run(&self.setup_args(extra)).await
    }
}

pub async fn run_tool(home: &Path, sim: &Sim, args: &[String]) -> Output {
    let op = sim.operator();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AZURE_TENANT_ID", &op.tenant_id)
        .env("AZURE_CLIENT_ID", &op.client_id)
        .env("AZURE_CLIENT_SECRET", &op.client_secret)
        .stdin(std::process::Stdio::null());
    cmd.output().await.expect("binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Panics with the tool's output unless it succeeded.
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "keeper-azmon failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

pub fn json_out(o: &Output) -> Value {
    serde_json::from_str(stdout(o).trim())
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", stdout(o)))
}

/// An HTTP client that trusts the simulator's certificate.
pub fn http(sim: &Sim) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).expect("pem");
    reqwest::Client::builder()
        .tls_certs_merge([cert])
        .build()
        .expect("client")
}

/// A token from the simulator's token endpoint by client credentials.
pub async fn token(
    sim: &Sim,
    tenant: &str,
    client_id: &str,
    secret: &str,
    audience: &str,
) -> reqwest::Response {
    let scope = format!("{}/.default", audience.trim_end_matches('/'));
    http(sim)
        .post(format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", &scope),
        ])
        .send()
        .await
        .expect("token request")
}

/// The guide's sample events (the same file the tool embeds).
pub fn sample_events() -> Value {
    serde_json::from_str(include_str!("../templates/sample-events.json")).expect("sample events")
}

/// A PUT to ARM as the operator (to make things exist before the tool runs).
pub async fn arm_put(w: &World, id: &str, api_version: &str, body: Value) -> reqwest::StatusCode {
    let op = w.sim.operator();
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    let t: Value = token(
        &w.sim,
        &op.tenant_id,
        &op.client_id,
        &op.client_secret,
        profile["resource_manager_audience"].as_str().expect("aud"),
    )
    .await
    .json()
    .await
    .expect("token");
    http(&w.sim)
        .put(format!(
            "{}{id}?api-version={api_version}",
            w.sim.base_url()
        ))
        .bearer_auth(t["access_token"].as_str().expect("access_token"))
        .json(&body)
        .send()
        .await
        .expect("put")
        .status()
}
