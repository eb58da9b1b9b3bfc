//! `keeper-azmon teardown`: deletes what setup created, and only that, in reverse dependency order.

use std::io::IsTerminal;

use serde_json::json;

use crate::azure::{dce, dcr, graph, providers, roles, workspace};
use crate::cli::TeardownArgs;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::rest::Rest;
use crate::state::StateFile;
use crate::steps::{sentinel, step};
use crate::vault::Vault;

/// One deletion of the teardown plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deletion {
    pub step: String,
    pub resource: String,
    #[serde(skip)]
    pub id: String,
}

/// The deletions, in order: Sentinel content (rules, function, workbook) and Sentinel itself when setup onboarded
/// it, role assignments, DCR, table, DCE, workspace, secret, service principal, app, resource group; last, with
/// `--delete-keeper-record`, the Keeper record the tool made (a record it was given is refused earlier, in
/// [`check_keeper_record`]).
pub fn plan(sf: &StateFile, args: &TeardownArgs) -> (Vec<Deletion>, Vec<String>) {
    let s = &sf.state;
    let mut out = vec![];
    let mut kept = vec![];
    // Only what setup made is in the state as ours: the admin's own rules never are.
    for (kind, r) in s.resources.iter().filter(|(k, _)| sentinel::is_content(k)) {
        if r.created {
            out.push(Deletion {
                step: kind.clone(),
                resource: r.id.clone(),
                id: r.id.clone(),
            });
        }
    }
    if let Some(r) = s.resources.get(step::SENTINEL_ONBOARDING) {
        if r.created {
            out.push(Deletion {
                step: step::SENTINEL_ONBOARDING.into(),
                resource: r.id.clone(),
                id: r.id.clone(),
            });
        } else {
            kept.push(format!(
                "{} {} (Sentinel was on before setup)",
                step::SENTINEL_ONBOARDING,
                r.id
            ));
        }
    }
    for r in &s.role_assignments {
        if r.created {
            out.push(Deletion {
                step: format!("role:{}:{}", r.on, r.role.display_name()),
                resource: r.id.clone(),
                id: r.id.clone(),
            });
        }
    }
    // The Keeper record is the user's unless the tool made it and is asked to delete it; its values (an old
    // secret among them) stay in the vault's history anyway.
    let delete_record = args.delete_keeper_record && s.keeper.as_ref().is_some_and(|k| k.created);
    match &s.keeper {
        Some(k) if !delete_record => kept.push(format!(
            "{} {} (the user's Keeper record; its secret stops working with the app)",
            step::KEEPER_RECORD,
            k.record_uid
        )),
        _ => {}
    }
    let keep_ws = args.keep_workspace || args.keep_data;
    for kind in [step::DCR, step::TABLE, step::DCE, step::WORKSPACE] {
        let Some(r) = s.resources.get(kind) else {
            continue;
        };
        if !r.created {
            kept.push(format!("{kind} {} (reused, not ours)", r.id));
        } else if (kind == step::TABLE && args.keep_data) || (kind == step::WORKSPACE && keep_ws) {
            kept.push(format!("{kind} {} (kept on request)", r.id));
        } else {
            out.push(Deletion {
                step: kind.into(),
                resource: r.id.clone(),
                id: r.id.clone(),
            });
        }
    }
    if let (Some(sec), Some(app)) = (&s.secret, s.resources.get(step::APP)) {
        out.push(Deletion {
            step: step::SECRET.into(),
            resource: format!("key {} on {}", sec.key_id, app.name),
            id: sec.key_id.clone(),
        });
    }
    for kind in [step::SP, step::APP, step::RESOURCE_GROUP] {
        let Some(r) = s.resources.get(kind) else {
            continue;
        };
        if kind == step::RESOURCE_GROUP
            && keep_ws
            && s.resources.get(step::WORKSPACE).is_some_and(|w| w.created)
        {
            kept.push(format!("{kind} {} (holds the kept workspace)", r.name));
        } else if r.created {
            out.push(Deletion {
                step: kind.into(),
                resource: format!("{} ({})", r.name, r.id),
                id: r.id.clone(),
            });
        } else {
            kept.push(format!("{kind} {} (reused, not ours)", r.name));
        }
    }
    if let Some(k) = s.keeper.as_ref().filter(|_| delete_record) {
        out.push(Deletion {
            step: step::KEEPER_RECORD.into(),
            resource: format!("Keeper record {} (made by keeper-azmon)", k.record_uid),
            id: k.record_uid.clone(),
        });
    }
    (out, kept)
}

/// Keeps Sentinel on while the workspace holds analytics rules this tool did not make (off-boarding would take an
/// analyst's work with it), and the function while one of those rules reads it (deleting it would break the rule
/// without a word); each kept with its reason. Nothing to check when the workspace itself goes.
async fn keep_what_an_analyst_still_uses(
    rest: &Rest,
    sf: &StateFile,
    deletions: &mut Vec<Deletion>,
    kept: &mut Vec<String>,
) -> Result<()> {
    let sentinel_steps = [step::SENTINEL_ONBOARDING, step::SENTINEL_FUNCTION];
    if !deletions
        .iter()
        .any(|d| sentinel_steps.contains(&d.step.as_str()))
        || deletions.iter().any(|d| d.step == step::WORKSPACE)
    {
        return Ok(());
    }
    let Some(workspace) = sf.state.resources.get(step::WORKSPACE) else {
        return Ok(());
    };
    let ours: Vec<&str> = sf
        .state
        .resources
        .iter()
        .filter(|(k, _)| sentinel::is_content(k))
        .map(|(_, r)| r.id.as_str())
        .collect();
    let theirs = sentinel::foreign_rules(rest, &workspace.id, &ours).await?;
    if theirs.is_empty() {
        return Ok(());
    }
    let alias = sentinel::function_alias();
    let readers: Vec<String> = theirs
        .iter()
        .filter(|r| {
            r.properties
                .query
                .as_deref()
                .is_some_and(|q| sentinel::reads(q, &alias))
        })
        .map(sentinel::rule_name)
        .collect();
    let names: Vec<String> = theirs.iter().map(sentinel::rule_name).collect();
    deletions.retain(|d| {
        if d.step == step::SENTINEL_ONBOARDING {
            kept.push(format!(
                "{} {} (the workspace holds {} analytics rule(s) this tool did not make: {})",
                d.step,
                d.resource,
                names.len(),
                names.join(", ")
            ));
            false
        } else if d.step == step::SENTINEL_FUNCTION && !readers.is_empty() {
            kept.push(format!(
                "{} {alias} (read by rules this tool did not make: {}; delete it by hand when they no longer need it)",
                d.step,
                readers.join(", ")
            ));
            false
        } else {
            true
        }
    });
    Ok(())
}

/// `--delete-keeper-record`: refused (before anything is deleted) unless the state names a Keeper record the
/// tool made with `--keeper-folder`; a record it was given with `--keeper-record` is the user's.
pub fn check_keeper_record(sf: &StateFile, args: &TeardownArgs) -> Result<()> {
    if !args.delete_keeper_record {
        return Ok(());
    }
    match &sf.state.keeper {
        None => Err(Error::input(
            format!(
                "--delete-keeper-record: the state file {} names no Keeper record",
                sf.path.display()
            ),
            "drop --delete-keeper-record (there is no record to delete), or pass the --state file of the deployment that has one",
        )),
        Some(k) if !k.created => Err(Error::input(
            format!(
                "--delete-keeper-record: Keeper record {} was given to keeper-azmon (--keeper-record), not made by it; teardown does not delete it",
                k.record_uid
            ),
            "drop --delete-keeper-record; delete the record in the Keeper vault yourself if it is no longer wanted",
        )),
        Some(_) => Ok(()),
    }
}

/// The vault the record is deleted through, checked before anything is deleted: the config is there (a token
/// is redeemed) and Keeper answers for the record. None without `--delete-keeper-record`, and in a dry run
/// (which asks Keeper nothing).
async fn keeper_vault(
    sf: &StateFile,
    args: &TeardownArgs,
    profile: &crate::cloud::CloudProfile,
    http: &reqwest::Client,
) -> Result<Option<Vault>> {
    let Some(k) = sf
        .state
        .keeper
        .as_ref()
        .filter(|_| args.delete_keeper_record)
    else {
        return Ok(None);
    };
    let mut vault =
        crate::steps::keeper::vault(&args.ksm, &sf.state, profile, http, &k.record_uid)?;
    if args.dry_run {
        return Ok(None);
    }
    vault.redeem(Some(&k.record_uid)).await?;
    match vault.read(&k.record_uid).await {
        Ok(r) if !r.editable => {
            Err(crate::vault::VaultError::ReadOnly(k.record_uid.clone()).into())
        }
        Ok(_) | Err(crate::vault::VaultError::UnknownRecord(_)) => Ok(Some(vault)),
        Err(e) => Err(e.into()),
    }
}

/// What teardown says when Graph does not find what setup made moments ago and it asks again.
fn lagging(step: &str) -> impl FnOnce() + '_ {
    move || {
        eprintln!(
            "  … {step}: Graph does not find it yet (setup wrote moments ago, and Graph replicates new objects for a while); asking again"
        )
    }
}

async fn delete_one(
    rest: &Rest,
    sf: &StateFile,
    d: &Deletion,
    force_ws: bool,
    vault: Option<&Vault>,
    graph_until: tokio::time::Instant,
) -> Result<bool> {
    let s = &sf.state;
    if d.step == step::KEEPER_RECORD {
        return match vault {
            Some(v) => Ok(v.delete(&d.id).await?),
            None => Err(Error::Other(
                "no KSM config to delete the Keeper record with".into(),
            )),
        };
    }
    if d.step == step::SENTINEL_ONBOARDING || sentinel::is_content(&d.step) {
        return crate::azure::sentinel::delete(rest, &d.id).await;
    }
    match d.step.as_str() {
        step::DCR => crate::azure::arm_delete(rest, &d.id, dcr::API_VERSION, "").await,
        step::DCE => crate::azure::arm_delete(rest, &d.id, dce::API_VERSION, "").await,
        step::TABLE => crate::azure::arm_delete(rest, &d.id, workspace::API_VERSION, "").await,
        step::WORKSPACE => {
            crate::azure::arm_delete(
                rest,
                &d.id,
                workspace::API_VERSION,
                if force_ws { "&force=true" } else { "" },
            )
            .await
        }
        step::SECRET => {
            let app = s
                .resources
                .get(step::APP)
                .map(|r| r.id.clone())
                .unwrap_or_default();
            graph::gone_while_replicating(graph_until, lagging(&d.step), || {
                graph::remove_password(rest, &app, &d.id)
            })
            .await
        }
        step::SP => {
            graph::gone_while_replicating(graph_until, lagging(&d.step), || {
                graph::delete_service_principal(rest, &d.id)
            })
            .await
        }
        step::APP => {
            graph::gone_while_replicating(graph_until, lagging(&d.step), || {
                graph::delete_application(rest, &d.id)
            })
            .await
        }
        step::RESOURCE_GROUP => {
            // Ours, but something else may have moved in since: never delete a group that is not empty.
            let left =
                providers::resources_in_group(rest, &s.subscription_id, &s.resource_group).await?;
            if !left.is_empty() {
                return Err(Error::input(
                    format!(
                        "resource group {} still holds {} resource(s) this tool did not create: {}",
                        s.resource_group,
                        left.len(),
                        left.join(", ")
                    ),
                    "move or delete them, then re-run teardown; everything else is already gone",
                ));
            }
            providers::delete_resource_group(rest, &s.subscription_id, &s.resource_group).await
        }
        _ => roles::delete(rest, &d.id).await,
    }
}

fn forget(sf: &mut StateFile, d: &Deletion) {
    let s = &mut sf.state;
    if d.step == step::SECRET {
        s.secret = None;
    } else if d.step == step::KEEPER_RECORD {
        s.keeper = None;
    } else if d.step.starts_with("role:") {
        s.role_assignments.retain(|r| r.id != d.id);
    } else {
        s.resources.remove(&d.step);
    }
}

pub async fn execute(args: TeardownArgs) -> Result<()> {
    let discover = !args.common.state.exists();
    let (deployment, subscription) = match (&args.deployment, &args.subscription) {
        (Some(d), Some(s)) => (d.clone(), s.clone()),
        _ if discover => {
            return Err(Error::input(
                format!("no state file at {}", args.common.state.display()),
                "pass --state with the file setup wrote, or --deployment and --subscription to find the deployment by its tag",
            ))
        }
        _ => (String::new(), String::new()),
    };
    let mut sf = StateFile::open(&args.common.state)?;
    // Right after setup, Graph may answer "not found" for the app it made: until this passes, such an answer is
    // asked again rather than taken for "already gone" (taken before any save moves the state's time).
    let graph_until = graph::replicating_until(&sf.state.updated_at);
    super::agreed(
        "--subscription",
        args.subscription.as_deref(),
        &sf.state.subscription_id,
    )?;
    let (label, profile, rest) = super::connect(&args.common, &sf.state)?;
    if discover {
        sf.state = crate::discover::by_tag(&rest, &subscription, &deployment, &label).await?;
        sf.save()?;
    }
    let _deployment_lock =
        crate::state::DeploymentLock::take(&profile.resource_manager_endpoint, &sf)?;
    check_keeper_record(&sf, &args)?;
    let vault = keeper_vault(&sf, &args, &profile, &rest.http).await?;
    let human = args.common.output == Format::Human;
    let (mut deletions, mut kept) = plan(&sf, &args);
    keep_what_an_analyst_still_uses(&rest, &sf, &mut deletions, &mut kept).await?;
    if human {
        eprintln!("Teardown of deployment '{}':", sf.state.deployment);
        for d in &deletions {
            eprintln!("  delete  {:<40} {}", d.step, d.resource);
        }
        for k in &kept {
            eprintln!("  keep    {k}");
        }
        if deletions.iter().any(|d| d.step == step::WORKSPACE) && !args.force_delete_workspace {
            eprintln!("  note: a deleted workspace is recoverable for 14 days (pass --force-delete-workspace to delete it for good)");
        }
    }
    crate::steps::preflight::check_teardown(
        &rest,
        &sf.state.subscription_id,
        &sf.state.resource_group,
        deletions.iter().map(|d| d.step.as_str()),
    )
    .await?;
    if args.dry_run {
        if !human {
            println!(
                "{}",
                json!({ "dry_run": true, "delete": deletions, "keep": kept })
            );
        }
        return Ok(());
    }
    if !args.yes && !deletions.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(Error::input(
                "teardown needs confirmation",
                "pass --yes to delete without asking",
            ));
        }
        eprint!("Delete these? [y/N] ");
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::Other(e.to_string()))?;
        if !matches!(line.trim(), "y" | "Y" | "yes") {
            return Err(Error::input(
                "cancelled: nothing was deleted",
                "re-run and answer y",
            ));
        }
    }

    let mut done = vec![];
    for d in &deletions {
        let existed = delete_one(
            &rest,
            &sf,
            d,
            args.force_delete_workspace,
            vault.as_ref(),
            graph_until,
        )
        .await
        .map_err(|e| e.in_step(&d.step))?;
        if human {
            eprintln!(
                "  ✓ {:<40} {}",
                d.step,
                if existed { "deleted" } else { "already gone" }
            );
        }
        forget(&mut sf, d);
        sf.save()?;
        done.push(json!({ "step": d.step, "resource": d.resource, "existed": existed }));
    }
    let all_gone = sf.state.resources.values().all(|r| !r.created)
        && sf.state.role_assignments.iter().all(|r| !r.created);
    if all_gone && kept.is_empty() {
        sf.state.outputs = None;
        sf.save()?;
    }
    if human {
        println!("teardown: {} deleted, {} kept", done.len(), kept.len());
    } else {
        println!("{}", json!({ "deleted": done, "kept": kept }));
    }
    Ok(())
}
