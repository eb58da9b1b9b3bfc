//! Shared helpers for the end-to-end tests: a simulator per test and the real binary run against it.
#![allow(dead_code)]

pub mod chaos;
pub mod keeper;

use std::path::{Path, PathBuf};
use std::process::Output;

use std::time::Duration;

use azure_sim::{LoggedRequest, Sim, SimCloud, SimConfig};
use serde_json::{json, Value};

/// The tool's waits in the tests (`KEEPER_AZMON_TIME_SCALE`): backoffs, polls and Retry-After at 1/100 of real
/// time, so no test sits through a wait Azure would impose. A test may pass its own scale in `run_env`.
pub const TOOL_TIME_SCALE: &str = "0.01";

/// The simulator the tests start from: Azure's behaviour, with long-running operations and provider registrations
/// that finish in 20 ms (still after the first poll, so every poll path runs). Delays a test needs longer (a
/// principal replicating, a role taking effect) are passed in simulated time with `Sim::advance_clock`.
pub fn sim_config() -> SimConfig {
    SimConfig {
        lro_duration: Duration::from_millis(20),
        provider_registration_delay: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

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
            ..sim_config()
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
        // Without a terminal, a new secret needs somewhere to go: the tests take it on stdout unless they say
        // otherwise.
        if !extra
            .iter()
            .any(|e| *e == "--show-secret" || *e == "--secret-out" || *e == "--secret-file")
        {
            a.push("--show-secret".into());
        }
        a
    }

    /// `cmd` on this world's state file as the operator (`--auth env`), naming the cloud profile again (a custom
    /// profile in a state file is not followed silently), plus `extra`.
    pub fn command_args(&self, cmd: &str, extra: &[&str]) -> Vec<String> {
        let mut a = vec![
            cmd.to_string(),
            "--state".into(),
            self.state_path().display().to_string(),
            "--auth".into(),
            "env".into(),
        ];
        a.extend(self.cloud_arg());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// The state file as JSON.
    pub fn state(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.state_path()).expect("state file"))
            .expect("state is JSON")
    }

    /// Setup (JSON output, the secret in a file), then the simulator's clock moved on by `wait` (events are sent
    /// later than setup, when the token endpoint takes the new secret); the secret file and the workspace's id.
    pub async fn set_up_then(&self, wait: Duration) -> (String, String) {
        let (o, secret_file) = self.setup_json().await;
        assert_ok(&o);
        self.sim.advance_clock(wait);
        let ws = self.state()["resources"]["workspace"]["id"]
            .as_str()
            .expect("the workspace's id")
            .to_string();
        (secret_file.display().to_string(), ws)
    }

    /// Lets the simulator's clock pass Azure's short delays after a run (a new secret or service principal not yet
    /// usable, Graph not yet showing new objects), as they have passed by the time Keeper uses the values.
    pub fn settle(&self) {
        self.sim.advance_clock(Duration::from_secs(60));
    }

    /// The profile path as `--cloud` takes it (commands after setup name it again: a custom profile in a state
    /// file is not followed silently).
    pub fn cloud_arg(&self) -> [String; 2] {
        ["--cloud".into(), self.profile.display().to_string()]
    }

    /// Runs the keeper-azmon binary with the operator's credentials in its environment.
    pub async fn run(&self, args: &[String]) -> Output {
        run_tool(self.dir.path(), &self.sim, args).await
    }

    pub async fn setup(&self, extra: &[&str]) -> Output {
        self.run(&self.setup_args(extra)).await
    }

    /// Runs setup with `--output json` and the secret written to `secret.txt`; returns the run and that file.
    pub async fn setup_json(&self) -> (Output, PathBuf) {
        let secret_file = self.dir.path().join("secret.txt");
        let o = self
            .setup(&[
                "--output",
                "json",
                "--secret-out",
                &secret_file.display().to_string(),
            ])
            .await;
        (o, secret_file)
    }
}

/// The binary, with a clean environment holding only PATH, HOME and the simulator's operator credentials.
pub fn tool_command(home: &Path, sim: &Sim, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
    cmd.args(args);
    with_tool_env(cmd, home, sim)
}

/// The binary started by `/bin/sh` after `shell` (say `ulimit -f 16`), with the same environment as
/// [`tool_command`].
pub fn tool_command_after_shell(
    home: &Path,
    sim: &Sim,
    shell: &str,
    args: &[String],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{shell}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(args);
    with_tool_env(cmd, home, sim)
}

fn with_tool_env(
    mut cmd: tokio::process::Command,
    home: &Path,
    sim: &Sim,
) -> tokio::process::Command {
    let op = sim.operator();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AZURE_TENANT_ID", &op.tenant_id)
        .env("AZURE_CLIENT_ID", &op.client_id)
        .env("AZURE_CLIENT_SECRET", &op.client_secret)
        .env("KEEPER_AZMON_TIME_SCALE", TOOL_TIME_SCALE)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

pub async fn run_tool(home: &Path, sim: &Sim, args: &[String]) -> Output {
    tool_command(home, sim, args)
        .output()
        .await
        .expect("binary runs")
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

/// An HTTP client that trusts the simulator's certificate, and only it (the system's roots play no part, and
/// reading them costs a debug build tens of milliseconds per client).
pub fn http(sim: &Sim) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).expect("pem");
    reqwest::Client::builder()
        .tls_certs_only([cert])
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
    serde_json::from_str(include_str!("../../templates/sample-events.json")).expect("sample events")
}

/// A token as the operator for the profile's audience named `audience_key` (`resource_manager_audience`,
/// `graph_audience`, ...).
pub async fn operator_token(w: &World, audience_key: &str) -> String {
    let op = w.sim.operator();
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    let t: Value = token(
        &w.sim,
        &op.tenant_id,
        &op.client_id,
        &op.client_secret,
        profile[audience_key].as_str().expect("aud"),
    )
    .await
    .json()
    .await
    .expect("token");
    t["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// A PUT to ARM as the operator (to make things exist before the tool runs).
pub async fn arm_put(w: &World, id: &str, api_version: &str, body: Value) -> reqwest::StatusCode {
    let t = operator_token(w, "resource_manager_audience").await;
    http(&w.sim)
        .put(format!(
            "{}{id}?api-version={api_version}",
            w.sim.base_url()
        ))
        .bearer_auth(t)
        .json(&body)
        .send()
        .await
        .expect("put")
        .status()
}

/// A resource group the operator made before the tool runs, in `location`; its id.
pub async fn existing_group(w: &World, name: &str, location: &str) -> String {
    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/{name}");
    let put = arm_put(
        w,
        &rg,
        "2021-04-01",
        serde_json::json!({ "location": location }),
    )
    .await;
    assert!(put.is_success(), "{rg}: {put}");
    rg
}

/// A workspace (and its group) the operator made before the tool runs; the workspace's id.
pub async fn existing_workspace(w: &World, group: &str, name: &str, location: &str) -> String {
    let rg = existing_group(w, group, location).await;
    let ws = format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}");
    let put = arm_put(
        w,
        &ws,
        "2022-10-01",
        serde_json::json!({ "location": location }),
    )
    .await;
    assert!(put.is_success(), "{ws}: {put}");
    ws
}

/// A Graph call as the operator (to make objects exist before the tool runs); its JSON answer.
pub async fn graph_as_operator(
    w: &World,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let t = operator_token(w, "graph_audience").await;
    http(&w.sim)
        .request(method, format!("{}/v1.0{path}", w.sim.base_url()))
        .bearer_auth(t)
        .json(&body)
        .send()
        .await
        .expect("graph call")
        .json()
        .await
        .expect("json")
}

const ROLE_LAC: &str = "92aaf0da-9dab-42b6-94a3-d43ce8d16293";
const ROLE_MMP: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
const ROLE_MC: &str = "749f88d5-cbae-40b8-bcfc-e573ddc772fa";
const ROLE_MR: &str = "43d0d8ad-25c7-4714-9337-8ba259a9fe05";

/// Checks every resource of a finished setup in the simulator, and that the Endpoint URL takes events as the app.
pub async fn assert_complete(w: &World, out: &Value, secret: &str) {
    let snap = w.sim.snapshot();
    let client_id = out["client_id"].as_str().expect("client_id");
    let apps: Vec<Value> = snap
        .applications()
        .into_iter()
        .filter(|a| a["displayName"] == "KeeperLogging")
        .collect();
    assert_eq!(apps.len(), 1, "exactly one app registration: {apps:?}");
    let app = &apps[0];
    assert_eq!(app["appId"], client_id);
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    assert_eq!(
        app["identifierUris"],
        serde_json::json!([format!("api://{client_id}")])
    );
    assert_eq!(
        app["passwordCredentials"].as_array().map(Vec::len),
        Some(1),
        "exactly one secret: {app}"
    );
    let sps: Vec<Value> = snap
        .service_principals()
        .into_iter()
        .filter(|s| s["appId"] == client_id)
        .collect();
    assert_eq!(sps.len(), 1, "exactly one service principal");
    let sp_id = sps[0]["id"].as_str().expect("sp id").to_string();

    let sub = w.sim.operator().subscription_id;
    let rg = format!("/subscriptions/{sub}/resourceGroups/rg-keeper");
    let ws_id =
        format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/KeeperLogsWorkspace");
    let ws = snap.resource(&ws_id).expect("workspace exists");
    assert_eq!(ws["properties"]["provisioningState"], "Succeeded");
    assert_eq!(ws["tags"]["keeper-azmon"], "rg-keeper");
    let table = snap
        .resource(&format!("{ws_id}/tables/KeeperLogs_CL"))
        .expect("table exists");
    let cols: Vec<&str> = table["properties"]["schema"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for c in [
        "TimeGenerated",
        "audit_event",
        "remote_address",
        "category",
        "client_version",
        "username",
        "enterprise_id",
        "timestamp",
        "data",
    ] {
        assert!(cols.contains(&c), "table has column {c}: {cols:?}");
    }
    let dce_id =
        format!("{rg}/providers/Microsoft.Insights/dataCollectionEndpoints/KeeperLogsEndpoint");
    let dce = snap.resource(&dce_id).expect("DCE exists");
    let dcr_id = format!("{rg}/providers/Microsoft.Insights/dataCollectionRules/KeeperDCR");
    let dcr = snap.resource(&dcr_id).expect("DCR exists");
    assert!(
        dcr["properties"]["streamDeclarations"]["Custom-KeeperLogs_CL"].is_object(),
        "DCR declares the stream: {dcr}"
    );
    assert_eq!(
        dcr["properties"]["dataCollectionEndpointId"]
            .as_str()
            .map(str::to_lowercase),
        Some(dce_id.to_lowercase())
    );

    let mut assignments: Vec<(String, String)> = snap
        .role_assignments()
        .into_iter()
        .filter(|(_, _, p)| *p == sp_id)
        .map(|(scope, role, _)| (scope.to_lowercase(), role.to_lowercase()))
        .collect();
    assignments.sort();
    let mut want = vec![
        (ws_id.to_lowercase(), ROLE_LAC.to_string()),
        (dcr_id.to_lowercase(), ROLE_MMP.to_string()),
        (dcr_id.to_lowercase(), ROLE_MC.to_string()),
        (dcr_id.to_lowercase(), ROLE_MR.to_string()),
        (dce_id.to_lowercase(), ROLE_MMP.to_string()),
        (dce_id.to_lowercase(), ROLE_MC.to_string()),
    ];
    want.sort();
    assert_eq!(
        assignments, want,
        "the guide's six role assignments, once each"
    );

    // The Endpoint URL as the guide assembles it.
    let endpoint = dce["properties"]["logsIngestion"]["endpoint"]
        .as_str()
        .expect("ingestion endpoint")
        .trim_end_matches('/');
    let immutable = dcr["properties"]["immutableId"]
        .as_str()
        .expect("immutableId");
    let url = out["endpoint_url"].as_str().expect("endpoint_url");
    assert_eq!(url, format!("{endpoint}/dataCollectionRules/{immutable}/streams/Custom-KeeperLogs_CL?api-version=2023-01-01"));

    // Keeper's side: a token as the new app with the cloud's monitor scope, the sample events posted, then in the
    // table. The admin pastes the values into the Admin Console after setup: by then the new secret and service
    // principal are usable (the simulator refuses them for a moment after they are made, as Entra does).
    w.sim.advance_clock(std::time::Duration::from_secs(60));
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    let tenant = out["tenant_id"].as_str().expect("tenant");
    let t = token(
        &w.sim,
        tenant,
        client_id,
        secret,
        profile["monitor_audience"].as_str().expect("aud"),
    )
    .await;
    assert_eq!(t.status(), 200, "token as the new app");
    let t: Value = t.json().await.expect("token json");
    let resp = http(&w.sim)
        .post(url)
        .bearer_auth(t["access_token"].as_str().expect("access_token"))
        .json(&sample_events())
        .send()
        .await
        .expect("post");
    assert_eq!(
        resp.status(),
        204,
        "ingestion accepted: {:?}",
        resp.text().await
    );
    let rows = w.sim.snapshot().table_rows(&ws_id, "KeeperLogs_CL");
    let events: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["audit_event"].as_str())
        .collect();
    assert_eq!(events, ["event_one", "event_two", "event_three"]);
}

/// Asserts that Logs Ingestion stamped `row`'s `TimeGenerated` with the time it received it, as Azure does with a
/// `TimeGenerated` older than two days ("Standard columns in Azure Monitor Logs"): within minutes of now (the
/// simulator's clock may have been moved on by a test).
pub fn assert_restamped(row: &Value) {
    let t = time::OffsetDateTime::parse(
        row["TimeGenerated"].as_str().unwrap_or_default(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|e| panic!("TimeGenerated of {row}: {e}"));
    let age = time::OffsetDateTime::now_utc() - t;
    assert!(
        age.abs() < time::Duration::hours(2),
        "TimeGenerated is when Azure received the row: {row}"
    );
}

/// Runs the binary with extra environment variables.
pub async fn run_env(w: &World, args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = tool_command(w.dir.path(), &w.sim, args);
    cmd.envs(env.iter().copied());
    cmd.output().await.expect("binary runs")
}

/// Runs the binary and watches the simulator meanwhile: once `until` holds for the requests it has seen, moves
/// the simulator's clock forward by `by`. The tool meets the wait Azure imposes (a principal replicating, a role
/// taking effect) and sees it end, without the test waiting it out in real time.
pub async fn run_advancing(
    w: &World,
    args: &[String],
    until: impl Fn(&[LoggedRequest]) -> bool,
    by: Duration,
) -> Output {
    let tool = tool_command(w.dir.path(), &w.sim, args).output();
    tokio::pin!(tool);
    let watch = async {
        while !until(&w.sim.request_log()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.sim.advance_clock(by);
    };
    tokio::select! {
        o = &mut tool => return o.expect("binary runs"),
        () = watch => {}
    }
    tool.await.expect("binary runs")
}

/// The tool's time scale under [`run_ticking`]: its waits at 1/1000 of their length.
pub const TICKING_TIME_SCALE: f64 = 0.001;

/// Runs the binary while the simulator's clock runs as fast as the tool's waits do (1000 times real time, at
/// the tool's time scale [`TICKING_TIME_SCALE`]): the tool lives through Azure's minutes-long delays (a role
/// assignment taking effect) in seconds, and its own deadlines, counted on its clock, meet them as they would
/// in Azure. The simulator's clock runs a little ahead of the tool's (the tool's own work is not scaled), never
/// behind it.
pub async fn run_ticking(w: &World, args: &[String]) -> Output {
    let mut cmd = tool_command(w.dir.path(), &w.sim, args);
    cmd.env("KEEPER_AZMON_TIME_SCALE", TICKING_TIME_SCALE.to_string());
    let tool = cmd.output();
    tokio::pin!(tool);
    let mut last = std::time::Instant::now();
    loop {
        tokio::select! {
            o = &mut tool => return o.expect("binary runs"),
            () = tokio::time::sleep(Duration::from_millis(5)) => {
                let now = std::time::Instant::now();
                w.sim.advance_clock((now - last).div_f64(TICKING_TIME_SCALE));
                last = now;
            }
        }
    }
}

/// Writes into the state file when setup assigned the app its Monitoring Metrics Publisher role on the DCR
/// (`ago` before now), or, with `None`, leaves the time out as a state file from before it was recorded does.
pub fn set_ingestion_role_assigned(w: &World, ago: Option<Duration>) {
    let mut state = w.state();
    let records = state["role_assignments"]
        .as_array_mut()
        .expect("role assignments");
    let record = records
        .iter_mut()
        .find(|r| r["role"] == "MonitoringMetricsPublisher" && r["on"] == "dcr")
        .expect("Monitoring Metrics Publisher on the DCR");
    let record = record.as_object_mut().expect("object");
    match ago {
        Some(ago) => {
            let at = time::OffsetDateTime::now_utc() - ago;
            let at = at
                .format(&time::format_description::well_known::Rfc3339)
                .expect("rfc3339");
            record.insert("assigned_at".into(), Value::String(at));
        }
        None => {
            record.remove("assigned_at");
        }
    }
    std::fs::write(
        w.state_path(),
        serde_json::to_string_pretty(&state).expect("json"),
    )
    .expect("state written");
}

/// Runs `case` on each item, three at a time. Each case has a simulator of its own, so they cannot meet; while
/// one waits on its tool, another uses the CPU.
pub async fn each_concurrently<T, F>(items: impl IntoIterator<Item = T>, case: impl FnMut(T) -> F)
where
    F: std::future::Future<Output = ()>,
{
    use futures::StreamExt;
    futures::stream::iter(items)
        .for_each_concurrent(3, case)
        .await
}

/// The standard setup arguments without the `--show-secret` the helpers add.
pub fn bare(w: &World, extra: &[&str]) -> Vec<String> {
    let mut a = w.setup_args(extra);
    if !extra.contains(&"--show-secret") {
        a.retain(|x| x != "--show-secret");
    }
    a
}

/// A command after setup: the state file, the operator's sign-in and the simulator's profile.
pub fn after(w: &World, cmd: &str, extra: &[&str]) -> Vec<String> {
    after_at(w, &w.state_path(), cmd, extra)
}

/// The same with another state file (none there: the deployment is found by its tag).
pub fn after_at(w: &World, state: &Path, cmd: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        cmd.into(),
        "--state".into(),
        state.display().to_string(),
        "--auth".into(),
        "env".into(),
    ];
    a.extend(w.cloud_arg());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

pub fn app_named(w: &World, client_id: &str) -> Value {
    w.sim
        .snapshot()
        .applications()
        .into_iter()
        .find(|a| a["appId"] == client_id)
        .expect("the app")
}

pub fn key_ids(app: &Value) -> Vec<String> {
    app["passwordCredentials"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["keyId"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn assert_refused(o: &std::process::Output, names: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "refused as bad input: {err}");
    assert!(err.contains("hint:"), "a refusal gives a hint: {err}");
    for n in names {
        assert!(err.contains(n), "the refusal names {n}: {err}");
    }
}

/// A stand-in for the Azure CLI: `az account get-access-token -o json --scope S` answers with a token that the
/// simulator issued for scope S (fetched with curl as the operator), in the shape the real CLI prints; each call
/// is logged to `az-calls.log` in `dir`. A POSIX shell script with curl: the tests that use it are unix-only.
pub fn fake_az(dir: &Path, w: &World) -> PathBuf {
    let op = w.sim.operator();
    let bin = dir.join("fake-az-bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let ca = dir.join("fake-az-ca.pem");
    std::fs::write(&ca, w.sim.ca_pem()).expect("ca");
    let log = dir.join("az-calls.log");
    let script = format!(
        r#"#!/bin/sh
echo "$@" >> '{log}'
scope=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--scope" ]; then scope="$2"; fi
  shift
done
body=$(curl -s --cacert '{ca}' --data-urlencode grant_type=client_credentials \
  --data-urlencode client_id='{client}' --data-urlencode client_secret='{secret}' \
  --data-urlencode "scope=$scope" '{base}/{tenant}/oauth2/v2.0/token') || exit 1
token=$(printf '%s' "$body" | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
[ -n "$token" ] || {{ echo "ERROR: no token for $scope" >&2; exit 1; }}
exp=$(( $(date +%s) + 3600 ))
printf '{{"accessToken":"%s","expiresOn":"2099-01-01 00:00:00.000000","expires_on":%s,"subscription":"{sub}","tenant":"{tenant}","tokenType":"Bearer"}}\n' "$token" "$exp"
"#,
        log = log.display(),
        ca = ca.display(),
        client = op.client_id,
        secret = op.client_secret,
        base = w.sim.base_url(),
        tenant = op.tenant_id,
        sub = op.subscription_id,
    );
    let az = bin.join("az");
    std::fs::write(&az, script).expect("az");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

/// Runs a query through the Log Analytics query API as the app, as Sentinel runs a rule's query.
pub async fn query_as_app(
    w: &World,
    client_id: &str,
    secret: &str,
    customer_id: &str,
    kql: &str,
) -> Value {
    let op = w.sim.operator();
    let profile: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    let t: Value = token(
        &w.sim,
        &op.tenant_id,
        client_id,
        secret,
        profile["log_analytics_audience"].as_str().expect("aud"),
    )
    .await
    .json()
    .await
    .expect("token");
    http(&w.sim)
        .post(format!(
            "{}/v1/workspaces/{customer_id}/query",
            w.sim.base_url()
        ))
        .bearer_auth(t["access_token"].as_str().expect("access_token"))
        .json(&json!({ "query": kql }))
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("json")
}

/// A Keeper Commander event (`audit-log --format json`) of type `kind` at `t` epoch seconds.
pub fn commander_event(i: usize, kind: &str, t: i64) -> Value {
    json!({
        "audit_event_type": kind,
        "username": format!("user{i}@example.com"),
        "ip_address": "10.0.0.1",
        "created": t,
        "record_uid": format!("R{i:06}"),
    })
}
