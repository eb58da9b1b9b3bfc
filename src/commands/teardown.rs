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

/// One deletion of the teardown plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deletion {
    pub step: String,
    pub resource: String,
    #[serde(skip)]
    pub id: String,
}

/// The deletions, in order: Sentinel content (rules, function, workbook) and Sentinel itself when setup onboarded
/// it, role assignments, DCR, table, DCE, workspace, secret, service principal, app, resource group.
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
    // The Keeper record is the user's: its values (an old secret among them) stay in the vault's history anyway.
    if let Some(k) = &s.keeper {
        kept.push(format!(
            "keeper_record {} (the user's Keeper record; its secret stops working with the app)",
            k.record_uid
        ));
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

async fn delete_one(rest: &Rest, sf: &StateFile, d: &Deletion, force_ws: bool) -> Result<bool> {
    let s = &sf.state;
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
            graph::remove_password(rest, &app, &d.id)
                .await
                .map(|_| true)
        }
        step::SP => graph::delete_service_principal(rest, &d.id).await,
        step::APP => graph::delete_application(rest, &d.id).await,
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
        crate::state::DeploymentLock::take(&profile.resource_manager_endpoint, &sf.state)?;
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
        let existed = delete_one(&rest, &sf, d, args.force_delete_workspace)
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
