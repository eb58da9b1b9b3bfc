//! `keeper-azmon teardown`: deletes what setup created, and only that, in reverse dependency order.

use std::io::IsTerminal;

use crate::azure::{dce, dcr, graph, providers, roles, workspace};
use crate::cli::TeardownArgs;
use crate::error::{Error, Result};
use crate::printer::{self, Format, Report};
use crate::rest::Rest;
use crate::state::{State, StateFile};
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
/// it, role assignments, DCR, table, DCE, workspace, the client secrets the tool added (the current one, those
/// rotate-secret replaced, and `orphans`), service principal, app, resource group; last, with
/// `--delete-keeper-record`, the Keeper record the tool made (a record it was given is refused earlier, in
/// [`check_keeper_record`]).
pub fn plan(s: &State, orphans: &[String], args: &TeardownArgs) -> (Vec<Deletion>, Vec<String>) {
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
    // Every client secret the tool added, by key id: the app may be one it adopted and keeps, whose owner's own
    // secrets stay.
    if let Some(app) = s.resources.get(step::APP) {
        let current = s.secret.iter().map(|sec| (&sec.key_id, "current"));
        let retired = s
            .retired_secrets
            .iter()
            .map(|k| (k, "replaced by rotate-secret"));
        let lost = orphans
            .iter()
            .map(|k| (k, "made by an interrupted run, its value never shown"));
        for (key, what) in current.chain(retired).chain(lost) {
            out.push(Deletion {
                step: step::SECRET.into(),
                resource: format!("key {key} on {} ({what})", app.name),
                id: key.clone(),
            });
        }
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

/// The client secrets on the state's app that an interrupted run made and never recorded (see
/// [`crate::steps::secret::unrecorded`]); none unless a run announced an `addPassword` it did not finish.
async fn orphan_secrets(rest: &Rest, state: &State) -> Result<Vec<String>> {
    let Some(app) = state
        .resources
        .get(step::APP)
        .filter(|_| state.secret_pending_since.is_some())
    else {
        return Ok(vec![]);
    };
    let description = state
        .secret
        .as_ref()
        .map(|s| s.description.clone())
        .unwrap_or_else(|| crate::cli::defaults::SECRET_DESCRIPTION.into());
    Ok(match graph::get_application(rest, &app.id).await? {
        Some(a) => crate::steps::secret::unrecorded(state, &a, &description),
        None => vec![],
    })
}

/// Keeps Sentinel on while anything else uses it on the workspace: analytics rules of any kind this tool did not
/// make (Sentinel's own Fusion rule aside), automation rules, watchlists, incidents, data connectors, installed
/// solutions or bookmarks (off-boarding would take that work with it); and the function while one of those rules
/// reads it (deleting it would break the rule without a word); each kept with its reason. Nothing to check when
/// the workspace itself goes.
async fn keep_what_an_analyst_still_uses(
    rest: &Rest,
    state: &State,
    deletions: &mut Vec<Deletion>,
    kept: &mut Vec<String>,
) -> Result<()> {
    let offboard = deletions
        .iter()
        .any(|d| d.step == step::SENTINEL_ONBOARDING);
    let function = deletions.iter().any(|d| d.step == step::SENTINEL_FUNCTION);
    if !(offboard || function) || deletions.iter().any(|d| d.step == step::WORKSPACE) {
        return Ok(());
    }
    let Some(workspace) = state.resources.get(step::WORKSPACE) else {
        return Ok(());
    };
    let ours: Vec<&str> = state
        .resources
        .iter()
        .filter(|(k, _)| sentinel::is_content(k))
        .map(|(_, r)| r.id.as_str())
        .collect();
    let other_uses = async {
        if offboard {
            sentinel::other_uses(rest, &workspace.id).await
        } else {
            Ok(vec![])
        }
    };
    let (theirs, other_uses) = tokio::try_join!(
        sentinel::foreign_rules(rest, &workspace.id, &ours),
        other_uses
    )?;
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
    let mut uses = other_uses;
    if !theirs.is_empty() {
        let names: Vec<String> = theirs.iter().map(sentinel::rule_name).collect();
        uses.insert(
            0,
            format!(
                "{} analytics rule(s) this tool did not make: {}",
                names.len(),
                names.join(", ")
            ),
        );
    }
    deletions.retain(|d| {
        if d.step == step::SENTINEL_ONBOARDING && !uses.is_empty() {
            kept.push(format!(
                "{} {} (Sentinel on this workspace is in use beyond this tool: {}; off-board it yourself once nothing needs it)",
                d.step,
                d.resource,
                uses.join("; ")
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
pub fn check_keeper_record(state: &State, args: &TeardownArgs) -> Result<()> {
    if !args.delete_keeper_record {
        return Ok(());
    }
    match &state.keeper {
        None => Err(Error::input(
            format!(
                "--delete-keeper-record: the state file {} names no Keeper record",
                args.common.state.display()
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
    state: &State,
    args: &TeardownArgs,
    profile: &crate::cloud::CloudProfile,
    http: &reqwest::Client,
) -> Result<Option<Vault>> {
    let Some(k) = state.keeper.as_ref().filter(|_| args.delete_keeper_record) else {
        return Ok(None);
    };
    let mut vault = crate::steps::keeper::vault(&args.ksm, state, profile, http, &k.record_uid)?;
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

/// How a soft-deleted workspace comes back.
const RECOVERY: &str = "a setup with the same --workspace, --resource-group and --location recovers it with its data (with --create-resource-group when its resource group is gone too)";

/// What becomes of the workspace, said before the deletion at `now`: purged with `--force-delete-workspace`,
/// else soft-deleted and recoverable for 14 days.
fn workspace_fate_said(force: bool, now: time::OffsetDateTime) -> String {
    if force {
        "the workspace is purged (--force-delete-workspace): it and its data cannot be recovered"
            .into()
    } else {
        format!(
            "the workspace is soft-deleted, not purged: recoverable for {} days, until {}; {RECOVERY}. Pass --force-delete-workspace to purge it instead",
            workspace::SOFT_DELETE_DAYS,
            crate::clock::human(workspace::recoverable_until(now))
        )
    }
}

/// A deletion as JSON: step, resource, whether it existed (after the deletion); for the workspace, whether it is
/// purged and else until when it can be recovered (deleted at `at`).
fn deletion_json(
    d: &Deletion,
    existed: Option<bool>,
    force: bool,
    at: time::OffsetDateTime,
) -> DeletionReport {
    DeletionReport {
        step: d.step.clone(),
        resource: d.resource.clone(),
        existed,
        workspace: (d.step == step::WORKSPACE && existed != Some(false)).then(|| WorkspaceFate {
            purged: force,
            recoverable_until: (!force)
                .then(|| crate::clock::rfc3339(workspace::recoverable_until(at))),
        }),
    }
}

/// One deletion as teardown reports it (docs/json.md): planned (`existed` absent) or done.
#[derive(Debug, serde::Serialize)]
pub struct DeletionReport {
    step: String,
    resource: String,
    /// Whether it was there to delete; absent in a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    existed: Option<bool>,
    /// For the workspace (unless it was already gone): purged, or soft-deleted until when.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    workspace: Option<WorkspaceFate>,
}

/// What becomes of a deleted workspace.
#[derive(Debug, serde::Serialize)]
struct WorkspaceFate {
    purged: bool,
    /// RFC 3339; null when purged.
    recoverable_until: Option<String>,
}

/// Teardown's plan: shown on stderr before the deletions, and as JSON on stdout for `--dry-run --output json`.
#[derive(Debug, serde::Serialize)]
pub struct TeardownPlan {
    #[serde(skip)]
    deployment: String,
    dry_run: bool,
    delete: Vec<DeletionReport>,
    keep: Vec<String>,
    /// What becomes of the workspace, when it is to be deleted (human only).
    #[serde(skip)]
    workspace_note: Option<String>,
}

impl Report for TeardownPlan {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "Teardown of deployment '{}':", self.deployment)?;
        for d in &self.delete {
            writeln!(w, "  delete  {:<40} {}", d.step, d.resource)?;
        }
        for k in &self.keep {
            writeln!(w, "  keep    {k}")?;
        }
        if let Some(n) = &self.workspace_note {
            writeln!(w, "  note: {n}")?;
        }
        Ok(())
    }
}

/// What teardown did (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct TeardownReport {
    deleted: Vec<DeletionReport>,
    kept: Vec<String>,
    /// The workspace's name and until when it is recoverable, when it was soft-deleted (human only).
    #[serde(skip)]
    soft_deleted: Option<(String, String)>,
}

impl Report for TeardownReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(
            w,
            "teardown: {} deleted, {} kept",
            self.deleted.len(),
            self.kept.len()
        )?;
        if let Some((name, until)) = &self.soft_deleted {
            writeln!(
                w,
                "workspace {name} is soft-deleted, recoverable until {until}: {RECOVERY}"
            )?;
        }
        Ok(())
    }
}

/// What teardown says when Graph does not find what setup made moments ago and it asks again.
fn lagging(step: &str) -> impl FnOnce() + '_ {
    move || {
        printer::note(format_args!(
            "  … {step}: Graph does not find it yet (setup wrote moments ago, and Graph replicates new objects for a while); asking again"
        ))
    }
}

async fn delete_one(
    rest: &Rest,
    s: &State,
    d: &Deletion,
    force_ws: bool,
    vault: Option<&Vault>,
    graph_until: tokio::time::Instant,
) -> Result<bool> {
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
        if s.secret.as_ref().is_some_and(|sec| sec.key_id == d.id) {
            s.secret = None;
        }
        s.retired_secrets.retain(|k| *k != d.id);
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
    // A dry run writes nothing, anywhere: it reads the state file without taking its lock (taking it writes the
    // lock file) and takes no deployment lock. `sf` is None exactly in a dry run.
    let mut sf = if args.dry_run {
        None
    } else {
        Some(StateFile::open(&args.common.state)?)
    };
    let mut state = match &sf {
        Some(f) => f.state.clone(),
        None if discover => State::default(),
        None => StateFile::read(&args.common.state)?,
    };
    // Right after setup, Graph may answer "not found" for the app it made: until this passes, such an answer is
    // asked again rather than taken for "already gone" (taken before any save moves the state's time).
    let graph_until = graph::replicating_until(&state.updated_at);
    super::agreed(
        "--subscription",
        args.subscription.as_deref(),
        &state.subscription_id,
    )?;
    let (label, profile, rest) = super::connect(&args.common, &state)?;
    if discover {
        state = crate::discover::by_tag(&rest, &subscription, &deployment, &label).await?;
        if let Some(f) = sf.as_mut() {
            f.state = state.clone();
            f.save()?;
        }
    }
    let _deployment_lock = match &sf {
        Some(f) => crate::state::DeploymentLock::take(&profile.resource_manager_endpoint, f)?,
        None => None,
    };
    check_keeper_record(&state, &args)?;
    let vault = keeper_vault(&state, &args, &profile, &rest.http).await?;
    let human = args.common.output == Format::Human;
    let orphans = orphan_secrets(&rest, &state).await?;
    let (mut deletions, mut kept) = plan(&state, &orphans, &args);
    keep_what_an_analyst_still_uses(&rest, &state, &mut deletions, &mut kept).await?;
    let now = time::OffsetDateTime::now_utc();
    let the_plan = TeardownPlan {
        deployment: state.deployment.clone(),
        dry_run: true,
        delete: deletions
            .iter()
            .map(|d| deletion_json(d, None, args.force_delete_workspace, now))
            .collect(),
        keep: kept.clone(),
        workspace_note: deletions
            .iter()
            .any(|d| d.step == step::WORKSPACE)
            .then(|| workspace_fate_said(args.force_delete_workspace, now)),
    };
    if human {
        printer::print_to_stderr(&the_plan);
    }
    crate::steps::preflight::check_teardown(
        &rest,
        &state.subscription_id,
        &state.resource_group,
        deletions.iter().map(|d| d.step.as_str()),
    )
    .await?;
    let Some(mut sf) = sf else {
        if !human {
            printer::print(Format::Json, &the_plan)?;
        }
        return Ok(());
    };
    if !args.yes && !deletions.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(Error::input(
                "teardown needs confirmation",
                "pass --yes to delete without asking",
            ));
        }
        if !printer::confirm("Delete these?", false)? {
            return Err(Error::input(
                "cancelled: nothing was deleted",
                "re-run and answer y",
            ));
        }
    }

    let mut done = vec![];
    let mut soft_deleted = None;
    for d in &deletions {
        let existed = delete_one(
            &rest,
            &sf.state,
            d,
            args.force_delete_workspace,
            vault.as_ref(),
            graph_until,
        )
        .await
        .map_err(|e| e.in_step(&d.step))?;
        let now = time::OffsetDateTime::now_utc();
        if human {
            let how = match (existed, d.step == step::WORKSPACE) {
                (false, _) => "already gone".to_string(),
                (true, false) => "deleted".to_string(),
                (true, true) if args.force_delete_workspace => {
                    "purged (cannot be recovered)".to_string()
                }
                (true, true) => format!(
                    "deleted (soft-deleted: recoverable until {})",
                    crate::clock::human(workspace::recoverable_until(now))
                ),
            };
            printer::note(format_args!("  ✓ {:<40} {how}", d.step));
        }
        if existed && d.step == step::WORKSPACE && !args.force_delete_workspace {
            soft_deleted = Some((d.resource.clone(), now));
        }
        forget(&mut sf, d);
        sf.save()?;
        done.push(deletion_json(
            d,
            Some(existed),
            args.force_delete_workspace,
            now,
        ));
    }
    // Every secret an interrupted run may have left is gone now (with the app, or one by one).
    if sf.state.secret_pending_since.take().is_some() {
        sf.state.secret_pending_known.clear();
        sf.save()?;
    }
    let all_gone = sf.state.resources.values().all(|r| !r.created)
        && sf.state.role_assignments.iter().all(|r| !r.created);
    if all_gone && kept.is_empty() {
        sf.state.outputs = None;
        sf.save()?;
    }
    let report = TeardownReport {
        deleted: done,
        kept,
        soft_deleted: soft_deleted.map(|(id, at)| {
            (
                crate::azure::name_of(&id).to_string(),
                crate::clock::human(workspace::recoverable_until(at)),
            )
        }),
    };
    printer::print(args.common.output, &report)?;
    Ok(())
}
