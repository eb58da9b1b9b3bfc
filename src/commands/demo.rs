//! `keeper-azmon demo`: starts azure-sim in-process, runs setup against it, then posts the guide's sample events as the new app.

use std::sync::Arc;

use azure_sim::{Sim, SimCloud, SimConfig};
use serde_json::Value;

use crate::auth::Auth;
use crate::cli::{Common, DemoArgs, SetupArgs};
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::plan::RoleSet;
use crate::secret::SecretString;

pub async fn execute(args: DemoArgs) -> Result<()> {
    let sim_cloud = match args.cloud.as_str() {
        "public" => SimCloud::Public,
        "usgov" => SimCloud::UsGov,
        other => {
            return Err(Error::input(
                format!("demo --cloud '{other}'"),
                "the simulator plays public or usgov",
            ))
        }
    };
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
                Error::input(
                    format!("cannot create {}: {e}", d.display()),
                    "choose another --dir",
                )
            })?;
            d.clone()
        }
        None => {
            tmp = tempfile_dir()?;
            tmp.clone()
        }
    };
    let sim = Sim::start(SimConfig {
        cloud: sim_cloud,
        ..SimConfig::default()
    })
    .await
    .map_err(|e| Error::Other(format!("cannot start azure-sim: {e}")))?;
    let profile_path = sim
        .write_profile(&dir)
        .map_err(|e| Error::Other(format!("cannot write the sim profile: {e}")))?;
    let op = sim.operator();
    eprintln!(
        "azure-sim ({}) listening on {}; profile {}",
        args.cloud,
        sim.base_url(),
        profile_path.display()
    );

    let profile = CloudProfile::load(&profile_path.display().to_string())?;
    let http = crate::rest::http_client(&profile)?;
    let operator = Auth::client_secret(
        &op.tenant_id,
        &op.client_id,
        SecretString::new(op.client_secret.clone()),
        &profile,
        &http,
    )?;
    let state = dir.join("keeper-azmon.state.json");
    let secret_file = dir.join("client-secret.txt");
    let setup = SetupArgs {
        common: Common {
            cloud: Some(profile_path.display().to_string()),
            auth: crate::auth::AuthMode::Env,
            output: Format::Human,
            state: state.clone(),
        },
        tenant: None,
        subscription: Some(op.subscription_id.clone()),
        resource_group: Some("keeper-demo".into()),
        create_resource_group: true,
        location: Some(if args.cloud == "usgov" {
            "usgovvirginia".into()
        } else {
            "eastus".into()
        }),
        workspace: None,
        app_name: None,
        secret_description: None,
        secret_expiry_days: None,
        table: None,
        dce_name: None,
        dcr_name: None,
        roles: Some(RoleSet::Guide),
        deployment: None,
        dry_run: false,
        yes: true,
        show_secret: false,
        secret_file: Some(secret_file.clone()),
        replication_wait: 300,
        sequential: false,
    };
    crate::commands::setup::execute(setup, Some(operator)).await?;

    // Keeper's side: a token as the new app, the guide's sample events posted to the Endpoint URL, read back.
    let state_text = std::fs::read_to_string(&state)
        .map_err(|e| Error::Other(format!("cannot read {}: {e}", state.display())))?;
    let st: crate::state::State =
        serde_json::from_str(&state_text).map_err(|e| Error::Other(e.to_string()))?;
    let out = st
        .outputs
        .ok_or_else(|| Error::Other("setup left no outputs".into()))?;
    let secret = SecretString::new(
        std::fs::read_to_string(&secret_file)
            .map_err(|e| Error::Other(format!("cannot read the secret file: {e}")))?,
    );
    let app = Auth::client_secret(&out.tenant_id, &out.client_id, secret, &profile, &http)?;
    let token = app.token(&profile.monitor_audience).await?;
    crate::ingest::post_batch(
        &http,
        &out.endpoint_url,
        &token,
        crate::ingest::SAMPLE_EVENTS.as_bytes(),
    )
    .await?;
    eprintln!("\nPosted the guide's 3 sample events to the Endpoint URL as the new app.");
    let op_auth = Arc::new(Auth::client_secret(
        &op.tenant_id,
        &op.client_id,
        SecretString::new(op.client_secret),
        &profile,
        &http,
    )?);
    let la = op_auth.token(&profile.log_analytics_audience).await?;
    let rows = crate::ingest::query(
        &http,
        &profile,
        &la,
        &out.workspace_customer_id,
        &format!("{} | project audit_event, category", out.table),
    )
    .await?;
    eprintln!(
        "Log Analytics query `{} | project audit_event, category` returns {} rows:",
        out.table,
        rows.len()
    );
    for r in rows {
        eprintln!(
            "  {}  {}",
            r.get("audit_event").and_then(Value::as_str).unwrap_or(""),
            r.get("category").and_then(Value::as_str).unwrap_or("")
        );
    }
    eprintln!("\nThe demo's files are in {}", dir.display());
    sim.shutdown().await;
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "keeper-azmon-demo-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d)
        .map_err(|e| Error::Other(format!("cannot create {}: {e}", d.display())))?;
    Ok(d)
}
