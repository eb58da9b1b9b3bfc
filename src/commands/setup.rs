//! `keeper-azmon setup`: resolve and check the inputs, preflight, plan, confirm, run, print the console values.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::auth::{Auth, AuthMode};
use crate::cli::{defaults, SetupArgs};
use crate::cloud::{self, CloudProfile};
use crate::delivery;
use crate::error::{Error, Result};
use crate::names;
use crate::output::{self, Format, Progress, Spinners};
use crate::rest::{self, Rest};
use crate::run;
use crate::state::{DeploymentLock, StateFile};
use crate::steps::Ctx;
use crate::steps::{self, preflight, retention, Inputs, RoleSet, SentinelInputs, WorkspaceChoice};
use crate::wizard;
use std::io::IsTerminal;

fn missing_one(flag: &str, env: &str) -> Error {
    Error::input(
        format!("{flag} is required"),
        format!("pass {flag} or set {env}"),
    )
}

/// Every required input that neither a flag nor its environment variable gave (nor, for the cloud, a signed-in
/// Azure CLI), named in one refusal: without a person to ask, one run says all that is missing, not one a run.
fn refuse_missing(args: &SetupArgs) -> Result<()> {
    let mut missing: Vec<(&str, &str)> = Vec::new();
    if args.common.cloud.is_none() && !cloud::az_cli_signed_in() {
        missing.push(("--cloud", "KEEPER_AZMON_CLOUD"));
    }
    if args.subscription.is_none() {
        missing.push(("--subscription", "KEEPER_AZMON_SUBSCRIPTION"));
    }
    if args.resource_group.is_none() {
        missing.push(("--resource-group", "KEEPER_AZMON_RESOURCE_GROUP"));
    }
    if args.location.is_none() {
        missing.push(("--location", "KEEPER_AZMON_LOCATION"));
    }
    match missing.as_slice() {
        // The cloud alone: resolve_cloud says why and which names it takes.
        [] | [("--cloud", _)] => Ok(()),
        [(flag, env)] => Err(missing_one(flag, env)),
        many => Err(Error::input(
            format!(
                "{} inputs are required and were not given: {}",
                many.len(),
                many.iter()
                    .map(|(f, _)| format!("{f} is required"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "pass {} (or set {})",
                many.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(" "),
                many.iter().map(|(_, e)| *e).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Resolves `--cloud`: the flag, else the Azure CLI's active cloud when it is signed in; never a guess.
pub fn resolve_cloud(arg: Option<&str>, auth: AuthMode) -> Result<CloudProfile> {
    let profile = match arg {
        Some(a) => CloudProfile::load(a)?,
        None => {
            let signed_in = cloud::az_cli_signed_in();
            let active = cloud::az_cli_active_cloud().filter(|_| signed_in);
            match active.as_deref() {
                Some(az) if cloud::az_cli_cloud_choices(az).is_some() => {
                    CloudProfile::load(&choose_among(az)?)?
                }
                Some(az) => match cloud::from_az_cli_cloud_name(az) {
                    Some(name) => CloudProfile::load(name)?,
                    None => return Err(Error::input(
                        format!("--cloud is required: the Azure CLI's cloud {az} is not one this tool knows"),
                        "pass --cloud public|usgov|usgov-dod|china, or the path of a cloud profile file",
                    )),
                },
                None => {
                    return Err(Error::input(
                        "--cloud is required: the Azure CLI is not signed in, so its cloud cannot be used",
                        "pass --cloud public|usgov|usgov-dod|china (or set KEEPER_AZMON_CLOUD)",
                    ))
                }
            }
        }
    };
    if auth == AuthMode::Cli {
        if let (Some(active), Some(wanted)) = (
            cloud::az_cli_active_cloud(),
            cloud::az_cli_cloud_name(&profile.name),
        ) {
            if active != wanted {
                return Err(Error::Auth {
                    what: format!("the Azure CLI is set to cloud {active}, but --cloud is {}", profile.name),
                    hint: format!("run `az cloud set --name {wanted}` and `az login`, or pass --cloud to match the CLI").into(),
                });
            }
        }
    }
    Ok(profile)
}

/// The built-in profile an Azure CLI cloud with more than one meaning stands for: asked on a terminal, refused
/// without one (the DoD and GCC High Graphs differ, and a wrong guess registers the app in the wrong place).
fn choose_among(az: &str) -> Result<String> {
    let choices = cloud::az_cli_cloud_choices(az).unwrap_or_default();
    if wizard::interactive() {
        return wizard::ask_cloud_of(&choices);
    }
    let described: Vec<String> = choices
        .iter()
        .filter_map(|c| cloud::builtin(c))
        .map(|p| format!("--cloud {} (Graph {})", p.name, p.graph_endpoint))
        .collect();
    Err(Error::input(
        format!(
            "--cloud is required: the Azure CLI is set to {az}, which is either {}",
            choices.join(" or ")
        ),
        format!(
            "pass {} (or set KEEPER_AZMON_CLOUD)",
            described.join(" or ")
        ),
    ))
}

/// Checks every input that can be checked without Azure, and fills the defaults.
pub fn validate(args: &SetupArgs, cloud_name: &str) -> Result<Inputs> {
    let subscription = args
        .subscription
        .clone()
        .ok_or_else(|| missing_one("--subscription", "KEEPER_AZMON_SUBSCRIPTION"))?;
    names::guid("--subscription", &subscription)?;
    if let Some(t) = &args.common.tenant {
        names::guid("--tenant", t)?;
    }
    let resource_group = args
        .resource_group
        .clone()
        .ok_or_else(|| missing_one("--resource-group", "KEEPER_AZMON_RESOURCE_GROUP"))?;
    names::resource_group(&resource_group)?;
    let location = args
        .location
        .clone()
        .ok_or_else(|| missing_one("--location", "KEEPER_AZMON_LOCATION"))?
        .to_ascii_lowercase();
    let ws_arg = args
        .workspace
        .clone()
        .unwrap_or_else(|| defaults::WORKSPACE.into());
    let app_name = args
        .app_name
        .clone()
        .unwrap_or_else(|| defaults::APP_NAME.into());
    let secret_description = args
        .secret_description
        .clone()
        .unwrap_or_else(|| defaults::SECRET_DESCRIPTION.into());
    let secret_days = args
        .secret_expiry_days
        .unwrap_or(defaults::SECRET_EXPIRY_DAYS);
    let table_arg = args.table.clone().unwrap_or_else(|| defaults::TABLE.into());
    let dce_name = args
        .dce_name
        .clone()
        .unwrap_or_else(|| defaults::DCE_NAME.into());
    let dcr_name = args
        .dcr_name
        .clone()
        .unwrap_or_else(|| defaults::DCR_NAME.into());
    let workspace = if ws_arg.starts_with("/subscriptions/") {
        let id = names::workspace_resource_id("--workspace", &ws_arg)?;
        if !id.subscription.eq_ignore_ascii_case(&subscription) {
            return Err(Error::input(
                format!(
                    "--workspace is in subscription {}, not in --subscription {subscription}",
                    id.subscription
                ),
                "reuse a workspace of the same subscription, or pass a name to create one",
            ));
        }
        id.check_names("--workspace")?;
        WorkspaceChoice::Existing(ws_arg.clone())
    } else {
        names::workspace(&ws_arg)?;
        WorkspaceChoice::Name(ws_arg.clone())
    };
    names::app_display_name(&app_name)?;
    let table = names::table(&table_arg)?;
    names::dce(&dce_name)?;
    names::dcr(&dcr_name)?;
    if !(1..=730).contains(&secret_days) {
        return Err(Error::input(
            format!("--secret-expiry-days {secret_days} is out of range"),
            "choose 1 to 730 days (Microsoft recommends less than 12 months)",
        ));
    }
    if secret_description.trim().is_empty() || secret_description.len() > 100 {
        return Err(Error::input(
            "--secret-description must be 1-100 characters",
            "choose a short description",
        ));
    }
    let deployment = args
        .deployment
        .clone()
        .unwrap_or_else(|| resource_group.clone());
    names::deployment(&deployment)?;
    let sentinel = match (args.sentinel, args.sentinel_rules) {
        (Some(true), rules) => Some(SentinelInputs { rules }),
        (_, Some(_)) => {
            return Err(Error::input(
                "--sentinel-rules needs --sentinel",
                "add --sentinel (or set KEEPER_AZMON_SENTINEL=true), or drop --sentinel-rules",
            ))
        }
        _ => None,
    };
    let retention = retention::from_args(
        args.retention_days,
        args.total_retention_days,
        args.retention,
    )?;
    let adopt_app = args.adopt_app.clone();
    if let Some(a) = &adopt_app {
        names::guid("--adopt-app", a)?;
    }
    Ok(Inputs {
        cloud: cloud_name.to_string(),
        tenant_id: args.common.tenant.clone().unwrap_or_default(),
        subscription,
        resource_group,
        create_resource_group: args.create_resource_group,
        location,
        workspace,
        app_name,
        secret_description,
        secret_days: secret_days as u32,
        table,
        dce_name,
        dcr_name,
        roles: args.roles.unwrap_or(RoleSet::Guide),
        deployment,
        sentinel,
        retention,
        adopt_app,
        keeper_record: None,
    })
}

/// Hands the new secret to its places (crate::delivery): recorded as delivered once one took it, else removed
/// again, with the error that says so.
#[allow(clippy::too_many_arguments)] // each is one fact of the run the delivery needs; issue 22's SetupRequest gathers them
async fn deliver_new_secret(
    ctx: &Ctx,
    args: &SetupArgs,
    keeper: Option<&steps::keeper::Target>,
    outcome: &run::Outcome,
    new: &crate::azure::graph::NewSecret,
    state_path: &std::path::Path,
    extra: serde_json::Value,
    keeper_before: Option<crate::state::KeeperLink>,
) -> Result<()> {
    let format = args.common.output;
    let to = delivery::Destinations {
        vault: keeper.map(|k| {
            (
                k,
                steps::keeper::values(&outcome.outputs, Some(new), &ctx.inputs.deployment),
            )
        }),
        file: args.secret_file.as_deref(),
        // A person's card shows the value unless it goes to a file or the record; the JSON with --show-secret.
        show: match format {
            Format::Json => args.show_secret,
            Format::Human => args.secret_file.is_none() && (args.show_secret || keeper.is_none()),
        },
    };
    let d = delivery::deliver(new, to, |d, show| {
        output::render_outcome(format, outcome, d.places(show), state_path, extra)
    })
    .await;
    if !d.delivered() {
        let why = delivery::nowhere(&d);
        return Err(steps::secret::withdraw(
            &ctx.rest,
            &outcome.app_object_id,
            &new.key_id,
            &why,
            || {
                ctx.record(|s| {
                    steps::secret::restore_previous(
                        s,
                        &new.key_id,
                        outcome.replaced.as_ref(),
                        keeper_before,
                    )
                })
            },
        )
        .await);
    }
    let recorded = ctx.record(|s| {
        if let Some(sec) = s.secret.as_mut().filter(|sec| sec.key_id == new.key_id) {
            sec.delivered = true;
        }
        if d.in_vault().is_some() {
            if let Some(l) = s.keeper.as_mut() {
                l.key_id = Some(new.key_id.clone());
            }
        }
    });
    if let Err(e) = recorded {
        return Err(Error::Other(format!(
            "the new client secret (key id {}) was delivered ({}), but the state file could not record that: {}\nhint: make the state file writable; until it records the secret, a setup again replaces it with a new one",
            new.key_id,
            d.to.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            e.to_string().replace('\n', " ")
        )));
    }
    match delivery::partly(d) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Refuses a state file that belongs to another deployment, and records this one's identity in a new one.
fn check_state(s: &crate::state::State, path: &std::path::Path, inputs: &Inputs) -> Result<()> {
    if !s.deployment.is_empty()
        && (s.deployment != inputs.deployment
            || !s.subscription_id.eq_ignore_ascii_case(&inputs.subscription))
    {
        return Err(Error::State {
            path: path.display().to_string(),
            what: format!(
                "belongs to deployment '{}' in subscription {}",
                s.deployment, s.subscription_id
            ),
            hint: "pass another --state file for this deployment".into(),
        });
    }
    Ok(())
}

/// Runs `setup`. `auth` overrides the operator credential (the demo passes the simulator's).
pub async fn execute(mut args: SetupArgs, auth: Option<Auth>) -> Result<()> {
    let interrupt = crate::interrupt::Interrupt::install();
    let human = args.common.output == Format::Human;
    let ask = human && !args.dry_run && wizard::interactive();
    if ask && args.common.cloud.is_none() {
        args.common.cloud = Some(wizard::ask_cloud()?);
    }
    if !ask {
        refuse_missing(&args)?;
    }
    let profile = resolve_cloud(args.common.cloud.as_deref(), args.common.auth)?;
    let cloud_label = args
        .common
        .cloud
        .clone()
        .unwrap_or_else(|| profile.name.clone());
    if !ask {
        // Without a person to ask, bad or missing input stops here, before any request.
        validate(&args, &cloud_label)?;
    }
    let http = rest::http_client(&profile)?;
    let auth = match auth {
        Some(a) => a,
        None => Auth::operator(
            args.common.auth,
            args.common.tenant.as_deref(),
            &profile,
            &http,
        )?,
    };
    let rest = Rest::new(http, Arc::new(auth), Arc::new(profile.clone()));
    if ask {
        rest.auth.token(&profile.resource_manager_audience).await?;
        note!("Signed in to {} as {}", profile.name, rest.auth.description);
        wizard::fill(&mut args, &rest).await?;
    }
    let mut inputs = validate(&args, &cloud_label)?;
    // A dry run writes nothing, not even a lock: it plans from the state as it is, unlocked.
    let (mut sf, _deployment_lock) = if args.dry_run {
        (None, None)
    } else {
        let sf = StateFile::open(&args.common.state)?;
        check_state(&sf.state, &sf.path, &inputs)?;
        // One run per deployment, even through two state files.
        let lock = DeploymentLock::acquire(
            &profile.resource_manager_endpoint,
            &inputs.subscription,
            &inputs.deployment,
            &sf.path,
        )?;
        (Some(sf), Some(lock))
    };
    let state = match &sf {
        Some(f) => f.state.clone(),
        None => {
            let s = StateFile::read_or_new(&args.common.state)?;
            check_state(&s, &args.common.state, &inputs)?;
            s
        }
    };
    if human {
        note!(
            "keeper-azmon setup: cloud {}, signed in as {}",
            profile.name,
            rest.auth.description
        );
    }
    // The Keeper record must be writable before anything is written in Azure.
    if ask {
        wizard::ask_keeper_target(&mut args.keeper, state.keeper.is_some())?;
    }
    let mut keeper = steps::keeper::resolve(&args.keeper, &state, &profile, &rest.http)?;
    let mut keeper_note = None;
    if let Some(k) = keeper.as_mut() {
        inputs.keeper_record = Some(k.uid.clone());
        if args.dry_run && k.vault.holds_token() {
            // A dry run writes nothing, and redeeming a token binds a device in Keeper for good.
            keeper_note = Some(format!("the one-time access token in --ksm-config is redeemed by the real run, which then checks {}", k.describe()));
        } else {
            k.preflight().await?;
            if human {
                note!("{}: the KSM application may write it", k.describe());
            }
        }
    }
    preflight::align_cli_tenant(&rest, &inputs).await?;
    // Preflight and the look at what exists are both reads: they go side by side.
    let (pre, observed) = tokio::join!(
        preflight::check(&rest, &inputs),
        steps::observe(&rest, &inputs, &state)
    );
    let pre = pre?;
    inputs.tenant_id = pre.tenant.clone();
    let observed = observed?;
    preflight::judge(&inputs, &observed)?;
    preflight::judge_role_write(&pre, &inputs, &observed)?;
    let the_plan = steps::diff(&inputs, &state, observed);
    preflight::judge_writes(&pre, &inputs, &the_plan)?;
    let makes_secret = the_plan.action(steps::step::SECRET) == Some(steps::Action::Create);

    if args.dry_run {
        let mut pre = pre;
        pre.notes.extend(keeper_note);
        if makes_secret {
            let (show, file) = (args.show_secret, args.secret_file.is_some());
            if let Some(e) = output::no_way_out("setup", args.common.output, show, file) {
                pre.notes.push(format!(
                    "the run itself will be refused: {}",
                    e.to_string().replace('\n', "; ")
                ));
            }
        }
        if human {
            outln!(
                "Plan for deployment '{}' (dry run: nothing was written):",
                inputs.deployment
            )?;
            out!("{}", output::plan_lines(&the_plan))?;
            for n in &pre.notes {
                outln!("  note: {n}")?;
            }
        } else {
            outln!(
                "{}",
                json!({ "dry_run": true, "deployment": inputs.deployment, "plan": output::plan_json(&the_plan), "notes": pre.notes })
            )?;
        }
        return Ok(());
    }
    // Past the dry run: the state file is open and locked.
    let Some(mut sf) = sf.take() else {
        return Err(Error::Other("setup: the state file was not opened".into()));
    };
    if human {
        note!("Plan for deployment '{}':", inputs.deployment);
        note_part!("{}", output::plan_lines(&the_plan));
    }
    // A new secret must have somewhere to go before it exists (the Keeper record is such a place); a re-run
    // that makes none needs nothing.
    if makes_secret && keeper.is_none() {
        output::require_way_out(
            "setup",
            args.common.output,
            args.show_secret,
            args.secret_file.as_deref(),
        )?;
    }
    if !args.yes && !the_plan.is_noop() {
        if !ask {
            return Err(Error::input(
                "setup needs confirmation to apply the plan",
                "pass --yes (or set KEEPER_AZMON_YES=true) to apply without asking",
            ));
        }
        if !wizard::confirm_apply()? {
            return Err(Error::input(
                "cancelled: nothing was changed",
                "re-run and answer y to apply",
            ));
        }
    }
    interrupt.applying();
    if let Some(k) = keeper.as_mut() {
        k.make_record(&inputs.deployment).await?;
    }
    // The Keeper link as it was: put back should the new secret not be delivered.
    let keeper_before;
    {
        let s = &mut sf.state;
        s.deployment = inputs.deployment.clone();
        s.cloud = inputs.cloud.clone();
        s.tenant_id = inputs.tenant_id.clone();
        s.subscription_id = inputs.subscription.clone();
        s.resource_group = inputs.resource_group.clone();
        s.location = inputs.location.clone();
        keeper_before = s.keeper.clone();
        if let Some(k) = &keeper {
            s.keeper = Some(steps::keeper::link(k, s));
        }
    }
    sf.save()?;
    preflight::register_providers(&rest, &inputs, &pre).await?;
    let state_path = sf.path.clone();
    let cancelled = interrupt.cancelled.clone();
    let ctx = Arc::new(Ctx {
        gate: args.sequential.then(|| tokio::sync::Semaphore::new(1)),
        cancelled,
        rest: rest.clone(),
        inputs,
        state: Mutex::new(sf),
        reporter: if human && std::io::stderr().is_terminal() {
            Arc::new(Spinners::new())
        } else {
            Arc::new(Progress { quiet: !human })
        },
        replication_wait: Duration::from_secs(args.replication_wait),
    });
    let outcome = run::run(ctx.clone(), the_plan.clone()).await?;
    let stats = &rest.stats;
    let extra = json!({
        "changed": !the_plan.is_noop(),
        "plan": output::plan_json(&the_plan),
        "requests": stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        "writes": stats.writes.load(std::sync::atomic::Ordering::Relaxed),
    });
    if let (Some(k), None) = (&keeper, &outcome.new_secret) {
        // The record keeps its secret; the other values follow the deployment (a new DCR, a new endpoint).
        let values = steps::keeper::values(&outcome.outputs, None, &ctx.inputs.deployment);
        if k.vault.write(&k.uid, values).await? && human {
            note!(
                "Keeper record {}: the console values were brought up to date",
                k.uid
            );
        }
    }
    match &outcome.new_secret {
        None => {
            let report = output::render_outcome(
                args.common.output,
                &outcome,
                output::SecretPlaces::default(),
                &state_path,
                extra,
            );
            output::write_stdout(&report.text)?;
        }
        Some(new) => {
            deliver_new_secret(
                &ctx,
                &args,
                keeper.as_ref(),
                &outcome,
                new,
                &state_path,
                extra,
                keeper_before,
            )
            .await?
        }
    }
    if human && ctx.inputs.sentinel.is_some() {
        outln!(
            "\nMicrosoft Sentinel on {}: function {}, {} analytics rules, workbook \"{}\".\n  See them in the portal: Microsoft Sentinel > Analytics, Workbooks > My workbooks, and Logs (`{} | take 10`).",
            crate::azure::name_of(&ctx.inputs.workspace_id()),
            steps::sentinel::function_alias(),
            steps::sentinel::RULES.len(),
            steps::sentinel::WORKBOOK_NAME,
            steps::sentinel::function_alias(),
        )?;
    }
    Ok(())
}
