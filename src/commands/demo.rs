//! `keeper-azmon demo`: starts azure-sim in-process, runs setup against it, then verify --wait as Keeper would use the values.

use azure_sim::{Sim, SimCloud, SimConfig};

use crate::auth::Auth;
use crate::cli::{Common, DemoArgs, SetupArgs, TargetArgs, VerifyArgs};
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::printer::Format;
use crate::secret::SecretString;
use crate::steps::RoleSet;

pub async fn execute(args: DemoArgs) -> Result<()> {
    let Some(sim_cloud) = SimCloud::from_name(&args.cloud) else {
        return Err(Error::input(
            format!("demo --cloud '{}'", args.cloud),
            "the simulator plays public, usgov, usgov-dod or china",
        ));
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
    crate::printer::note(format_args!(
        "azure-sim ({}) listening on {}; profile {}",
        args.cloud,
        sim.base_url(),
        profile_path.display()
    ));

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
    // Both commands read the same profile and state file, as a person running them one after the other would.
    let common = Common {
        cloud: Some(profile_path.display().to_string()),
        auth: crate::auth::AuthMode::Env,
        output: Format::Human,
        state: state.clone(),
        tenant: None,
    };
    let setup = SetupArgs {
        common: common.clone(),
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
        sentinel: Some(true),
        sentinel_rules: None,
        retention_days: None,
        total_retention_days: None,
        retention: None,
        adopt_app: None,
        // The day-two alerts, mailed to an address of the simulator's tenant.
        alert_email: vec!["soc@example.com".into()],
        alert_silence_hours: None,
        dry_run: false,
        yes: true,
        show_secret: false,
        secret_out: crate::cli::SecretOutArgs {
            secret_out: Some(secret_file.clone()),
            deprecated_secret_file: None,
        },
        replication_wait: 300,
        sequential: false,
        keeper: Default::default(),
    };
    crate::commands::setup::execute(setup, Some(operator)).await?;

    // Keeper's side, as `keeper-azmon verify --wait` proves it: a token as the new app, the guide's sample
    // events posted to the Endpoint URL with a marker, and the rows read back from the table.
    crate::printer::note(format_args!("\n$ keeper-azmon verify --wait"));
    crate::commands::verify::execute(VerifyArgs {
        target: TargetArgs {
            common,
            client_id: None,
            endpoint_url: None,
            allow_foreign_endpoint: false,
            secret_file: Some(secret_file.clone()),
            secret: None,
            ksm: Default::default(),
        },
        workspace_id: None,
        table: None,
        wait: true,
        timeout: 300,
        keeper: false,
    })
    .await?;
    crate::printer::note(format_args!("\nThe demo's files are in {}", dir.display()));
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
