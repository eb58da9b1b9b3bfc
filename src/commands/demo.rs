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
    // The demo's point is to run without questions, also on a terminal: every input is given, and setup's wizard
    // must not start.
    crate::console::forbid_prompts();
    let mut tmp = None;
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
            let d = tempfile_dir()?;
            tmp = Some(TempDir(d.clone()));
            d
        }
    };
    // Kept with --keep-running, whose commands use it.
    if args.keep_running {
        if let Some(t) = tmp.take() {
            t.keep();
        }
    }
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
    crate::printer::note(format_args!(
        "(These values are the simulator's: they work against this azure-sim only, not in a real Keeper Admin Console.)"
    ));

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
    if args.keep_running {
        keep_running(&sim, &dir, &profile_path, &state, &secret_file).await?;
    } else if tmp.is_none() {
        crate::printer::note(format_args!("\nThe demo's files are in {}", dir.display()));
    }
    sim.shutdown().await;
    drop(tmp);
    Ok(())
}

/// The demo's temporary directory (with the new secret's file in it), removed when the demo ends, however it
/// ends, unless kept.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `demo --keep-running`: the environment that points the tool at the running simulator (on stdout, ready for
/// `eval`), the commands to try, then waits for Ctrl-C.
async fn keep_running(
    sim: &Sim,
    dir: &std::path::Path,
    profile: &std::path::Path,
    state: &std::path::Path,
    secret_file: &std::path::Path,
) -> Result<()> {
    let op = sim.operator();
    let quote = |p: &std::path::Path| shell_quote(&p.display().to_string());
    let exports = [
        ("KEEPER_AZMON_CLOUD", quote(profile)),
        ("KEEPER_AZMON_STATE", quote(state)),
        ("KEEPER_AZMON_AUTH", "env".to_string()),
        ("AZURE_TENANT_ID", shell_quote(&op.tenant_id)),
        ("AZURE_CLIENT_ID", shell_quote(&op.client_id)),
        ("AZURE_CLIENT_SECRET", shell_quote(&op.client_secret)),
    ];
    let mut out = String::from(
        "\n# The simulator keeps running. In another shell (the operator is the simulator's):\n",
    );
    for (k, v) in exports {
        out.push_str(&format!("export {k}={v}\n"));
    }
    let secret = quote(secret_file);
    let events = quote(&dir.join("events.json"));
    out.push_str(&format!(
        "# then try:\n\
         #   keeper-azmon status\n\
         #   echo '[{{\"audit_event\":\"login\",\"username\":\"a@example.com\"}}]' > {events}; keeper-azmon send --secret-file {secret} {events}\n\
         #   keeper-azmon rotate-secret --secret-out {secret}\n\
         #   keeper-azmon teardown --yes\n\
         # Ctrl-C stops the simulator. The files stay in {}\n",
        dir.display()
    ));
    crate::console::write_stdout(&out)?;
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::Other(format!("cannot wait for Ctrl-C: {e}")))?;
    crate::printer::note(format_args!("\nCtrl-C: the simulator stops"));
    Ok(())
}

/// `v` quoted for a POSIX shell when it needs it.
fn shell_quote(v: &str) -> String {
    if !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@=+".contains(&b))
    {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
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
