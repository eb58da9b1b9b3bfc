//! `keeper-azmon setup`: gather the request, preflight, plan, confirm, run, deliver the secret, report.

use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::auth::Auth;
use crate::cli::SetupArgs;
use crate::delivery;
use crate::error::{Error, Result};
use crate::printer::{self, Progress, Spinners};
use crate::request::SetupRequest;
use crate::rest::Rest;
use crate::run;
use crate::state::{DeploymentLock, State, StateFile};
use crate::steps::Ctx;
use crate::steps::{self, preflight, Inputs};
use crate::wizard;
use std::io::IsTerminal;

/// Writes the run's report: with a new secret, through its delivery (crate::delivery), recorded as delivered once
/// a place took it, else removed again, with the error that says so.
async fn hand_over(
    ctx: &Ctx,
    request: &SetupRequest,
    keeper: Option<&steps::keeper::Target>,
    outcome: &run::Outcome,
    state_path: &std::path::Path,
    extra: serde_json::Value,
    keeper_before: Option<crate::state::KeeperLink>,
) -> Result<()> {
    let run = &request.run;
    let alerts = alerts_notice(&ctx.inputs);
    let Some(new) = &outcome.new_secret else {
        let report = printer::render_outcome(
            run.output,
            outcome,
            printer::SecretPlaces::default(),
            state_path,
            extra,
            alerts.as_ref(),
        );
        return printer::write_stdout(&report.text);
    };
    let format = run.output;
    let to = delivery::Destinations {
        vault: keeper.map(|k| {
            (
                k,
                steps::keeper::values(&outcome.outputs, Some(new), &ctx.inputs.deployment),
            )
        }),
        file: run.secret_file.as_deref(),
        show: delivery::shows_value(
            run.human(),
            run.show_secret,
            run.secret_file.is_some(),
            keeper.is_some(),
        ),
    };
    let d = delivery::deliver(new, to, |d, show| {
        printer::render_outcome(
            format,
            outcome,
            d.places(show),
            state_path,
            extra,
            alerts.as_ref(),
        )
    })
    .await;
    if !d.delivered() {
        return Err(delivery::withdraw_undelivered(
            &ctx.rest,
            &outcome.app_object_id,
            new,
            &d,
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
    if let Err(e) = ctx.record(|s| delivery::record_delivered(s, &d, &new.key_id)) {
        return Err(delivery::unrecorded(
            &new.key_id,
            &d,
            &e,
            "make the state file writable; until it records the secret, a setup again replaces it with a new one",
        ));
    }
    match delivery::partly(d) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// With `--alert-email`: what the report says of the alerts.
fn alerts_notice(inputs: &Inputs) -> Option<printer::AlertsNotice> {
    use steps::monitor;
    let a = inputs.alerts.as_ref()?;
    Some(printer::AlertsNotice {
        action_group: monitor::action_group_id(inputs),
        emails: a.emails.clone(),
        rules: steps::key::AlertRule::ALL
            .iter()
            .map(|r| monitor::alert_id(inputs, *r))
            .collect(),
        silence_hours: a.silence_hours,
        confirm_within_minutes: monitor::CONFIRM_WITHIN_MINUTES,
    })
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

/// The state file, opened and locked for this deployment (none for a dry run, which writes nothing, not even a
/// lock: it plans from the state as it is, unlocked), and the state to plan from.
fn open_state(
    request: &SetupRequest,
    inputs: &Inputs,
    rest: &Rest,
) -> Result<(Option<StateFile>, Option<DeploymentLock>, State)> {
    let path = &request.run.state;
    if request.run.dry_run {
        let s = StateFile::read_or_new(path)?;
        check_state(&s, path, inputs)?;
        return Ok((None, None, s));
    }
    let sf = StateFile::open(path)?;
    check_state(&sf.state, &sf.path, inputs)?;
    // One run per deployment, even through two state files.
    let lock = DeploymentLock::acquire(
        &rest.profile.resource_manager_endpoint,
        &inputs.subscription,
        &inputs.deployment,
        &sf.path,
    )?;
    let state = sf.state.clone();
    Ok((Some(sf), Some(lock), state))
}

/// The Keeper record for the Admin Console values, checked writable before anything is written in Azure (asked
/// for on a terminal); with it, for a dry run that cannot check it, the note that says why.
async fn keeper_target(
    request: &mut SetupRequest,
    inputs: &mut Inputs,
    state: &State,
    rest: &Rest,
) -> Result<(Option<steps::keeper::Target>, Option<String>)> {
    let human = request.run.human();
    if request.run.ask {
        wizard::ask_keeper_target(&mut request.run.keeper, state.keeper.is_some())?;
    }
    let mut keeper = steps::keeper::resolve(&request.run.keeper, state, &rest.profile, &rest.http)?;
    let mut keeper_note = None;
    if let Some(k) = keeper.as_mut() {
        inputs.keeper_record = Some(k.uid.clone());
        if request.run.dry_run && k.vault.holds_token() {
            // A dry run writes nothing, and redeeming a token binds a device in Keeper for good.
            keeper_note = Some(format!("the one-time access token in --ksm-config is redeemed by the real run, which then checks {}", k.describe()));
        } else {
            k.preflight().await?;
            if human {
                printer::note(format_args!(
                    "{}: the KSM application may write it",
                    k.describe()
                ));
            }
        }
    }
    Ok((keeper, keeper_note))
}

/// Preflight and the plan: what the operator may do, what exists, and what the run would change; refused here
/// when the run could not go through. The tenant found is the one the inputs name from now on.
async fn plan(
    rest: &Rest,
    inputs: &mut Inputs,
    state: &State,
) -> Result<(preflight::Preflight, steps::Plan)> {
    preflight::align_cli_tenant(rest, inputs).await?;
    // Preflight and the look at what exists are both reads: they go side by side.
    let (pre, observed) = tokio::join!(
        preflight::check(rest, inputs),
        steps::observe(rest, inputs, state)
    );
    let pre = pre?;
    inputs.tenant_id = pre.tenant.clone();
    let observed = observed?;
    preflight::judge(inputs, &observed)?;
    preflight::judge_role_write(&pre, inputs, &observed)?;
    let the_plan = steps::registry::diff(inputs, state, observed);
    preflight::judge_writes(&pre, inputs, &the_plan)?;
    Ok((pre, the_plan))
}

/// What a dry run prints: the plan, and the notes on what the real run would meet.
fn print_dry_run(
    request: &SetupRequest,
    inputs: &Inputs,
    mut pre: preflight::Preflight,
    keeper_note: Option<String>,
    the_plan: &steps::Plan,
) -> Result<()> {
    let run = &request.run;
    pre.notes.extend(keeper_note);
    if the_plan.action(&steps::Key::Secret) == Some(steps::Action::Create) {
        let (show, file) = (run.show_secret, run.secret_file.is_some());
        if let Some(e) = printer::no_way_out("setup", run.output, show, file) {
            pre.notes.push(format!(
                "the run itself will be refused: {}",
                e.to_string().replace('\n', "; ")
            ));
        }
    }
    let report = printer::DryRunReport {
        dry_run: true,
        deployment: &inputs.deployment,
        plan: &the_plan.steps,
        notes: &pre.notes,
    };
    printer::print(run.output, &report)
}

/// The plan applied only when it is meant: `--yes`, or a person's answer; without either, refused.
fn confirm(request: &SetupRequest, the_plan: &steps::Plan) -> Result<()> {
    if request.run.yes || the_plan.is_noop() {
        return Ok(());
    }
    if !request.run.ask {
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
    Ok(())
}

/// Records this deployment's identity (and its Keeper record) in the state file before anything is written in
/// Azure; returns the Keeper link as it was, put back should the new secret not be delivered.
fn record_deployment(
    sf: &mut StateFile,
    inputs: &Inputs,
    keeper: Option<&steps::keeper::Target>,
) -> Result<Option<crate::state::KeeperLink>> {
    let s = &mut sf.state;
    s.deployment = inputs.deployment.clone();
    s.cloud = inputs.cloud.clone();
    s.tenant_id = inputs.tenant_id.clone();
    s.subscription_id = inputs.subscription.clone();
    s.resource_group = inputs.resource_group.clone();
    s.location = inputs.location.clone();
    if s.created_at.is_none() {
        s.created_at = Some(crate::clock::now_rfc3339());
    }
    if let Some(a) = &inputs.alerts {
        s.alert_silence_hours = Some(a.silence_hours);
    }
    let keeper_before = s.keeper.clone();
    if let Some(k) = keeper {
        s.keeper = Some(steps::keeper::link(k, s));
    }
    sf.save()?;
    Ok(keeper_before)
}

/// Runs `setup`. `auth` overrides the operator credential (the demo passes the simulator's).
pub async fn execute(args: SetupArgs, auth: Option<Auth>) -> Result<()> {
    let interrupt = crate::interrupt::Interrupt::install();
    let (mut request, rest) = SetupRequest::gather(args, auth).await?;
    let human = request.run.human();
    let mut inputs = request.inputs();
    let (sf, _deployment_lock, state) = open_state(&request, &inputs, &rest)?;
    let (mut keeper, keeper_note) = keeper_target(&mut request, &mut inputs, &state, &rest).await?;
    let (pre, the_plan) = plan(&rest, &mut inputs, &state).await?;
    // Said once it is true: the preflight has signed in (a missing `az`, a wrong secret fail before this).
    if human {
        printer::note(format_args!(
            "keeper-azmon setup: cloud {}, signed in as {}",
            rest.profile.name, rest.auth.description
        ));
    }
    if request.run.dry_run {
        return print_dry_run(&request, &inputs, pre, keeper_note, &the_plan);
    }
    // Past the dry run: the state file is open and locked.
    let Some(mut sf) = sf else {
        return Err(Error::Other("setup: the state file was not opened".into()));
    };
    if human {
        printer::note(format_args!("Plan for deployment '{}':", inputs.deployment));
        printer::note_part(printer::plan_lines(&the_plan));
    }
    // A new secret must have somewhere to go before it exists (the Keeper record is such a place); a re-run
    // that makes none needs nothing.
    let makes_secret = the_plan.action(&steps::Key::Secret) == Some(steps::Action::Create);
    if makes_secret && keeper.is_none() {
        printer::require_way_out(
            "setup",
            request.run.output,
            request.run.show_secret,
            request.run.secret_file.as_deref(),
        )?;
    }
    confirm(&request, &the_plan)?;
    interrupt.applying();
    if let Some(k) = keeper.as_mut() {
        k.make_record(&inputs.deployment).await?;
    }
    let keeper_before = record_deployment(&mut sf, &inputs, keeper.as_ref())?;
    preflight::register_providers(&rest, &inputs, &pre).await?;
    let state_path = sf.path.clone();
    let ctx = Arc::new(Ctx {
        gate: request
            .run
            .sequential
            .then(|| tokio::sync::Semaphore::new(1)),
        cancelled: interrupt.cancelled.clone(),
        rest: rest.clone(),
        inputs,
        state: Mutex::new(sf),
        reporter: if human && std::io::stderr().is_terminal() {
            Arc::new(Spinners::new())
        } else {
            Arc::new(Progress { quiet: !human })
        },
        replication_wait: request.run.replication_wait,
        made: Default::default(),
    });
    let outcome = run::run(ctx.clone(), the_plan.clone()).await?;
    let stats = &rest.stats;
    let extra = json!({
        "changed": !the_plan.is_noop(),
        "plan": printer::plan_json(&the_plan),
        "requests": stats.requests.load(std::sync::atomic::Ordering::Relaxed),
        "writes": stats.writes.load(std::sync::atomic::Ordering::Relaxed),
    });
    if let (Some(k), None) = (&keeper, &outcome.new_secret) {
        // The record keeps its secret; the other values follow the deployment (a new DCR, a new endpoint).
        let values = steps::keeper::values(&outcome.outputs, None, &ctx.inputs.deployment);
        if k.vault.write(&k.uid, values).await? && human {
            printer::note(format_args!(
                "Keeper record {}: the console values were brought up to date",
                k.uid
            ));
        }
    }
    hand_over(
        &ctx,
        &request,
        keeper.as_ref(),
        &outcome,
        &state_path,
        extra,
        keeper_before,
    )
    .await?;
    if human && ctx.inputs.sentinel.is_some() {
        printer::line(format_args!(
            "\nMicrosoft Sentinel on {}: function {}, {} analytics rules, workbook \"{}\".\n  See them in the portal: Microsoft Sentinel > Analytics, Workbooks > My workbooks, and Logs (`{} | take 10`).",
            crate::azure::name_of(&ctx.inputs.workspace_id()),
            steps::sentinel::function_alias(),
            steps::sentinel::RULES.len(),
            steps::sentinel::WORKBOOK_NAME,
            steps::sentinel::function_alias(),
        ))?;
    }
    Ok(())
}
