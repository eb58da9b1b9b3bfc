//! `keeper-azmon teardown`: deletes what setup created, and only that, in reverse dependency order.

use crate::cli::TeardownArgs;
use crate::error::{Error, Result};
use crate::printer::{self, Format, Report};
use crate::rest::Rest;
use crate::state::{State, StateFile};
use crate::steps::kind::{self, Deleting, Fate, Item, Keeping, Key};
use crate::steps::registry;
use crate::vault::Vault;

/// What teardown was asked to keep.
fn keeping(args: &TeardownArgs) -> Keeping {
    Keeping {
        data: args.keep_data,
        workspace: args.keep_workspace || args.keep_data,
        delete_keeper_record: args.delete_keeper_record,
        force_delete_workspace: args.force_delete_workspace,
    }
}

/// The deletions, in the reverse of the order setup makes things ([`registry::creation_order`]): what depends on
/// something goes before it; a kind that must outlive the rest (the Keeper record) goes last. Each kind decides
/// what of it is deleted, kept (with the reason) or left alone ([`kind::Resource::fate`]); then each looks over
/// the plan for what something else still uses ([`kind::Resource::review`]).
pub async fn plan(rest: &Rest, s: &State, args: &TeardownArgs) -> Result<(Vec<Item>, Vec<String>)> {
    let keep = keeping(args);
    let mut doomed = vec![];
    let mut kept = vec![];
    for k in registry::REGISTRY {
        for item in k.doomed(rest, s).await? {
            match k.fate(&item, &keep, s) {
                Fate::Delete => doomed.push(item),
                Fate::Keep(why) => kept.push(why),
                Fate::Leave => {}
            }
        }
    }
    for k in registry::REGISTRY {
        k.review(rest, s, &mut doomed, &mut kept).await?;
    }
    let keys: Vec<Key> = doomed.iter().map(|d| d.key.clone()).collect();
    let mut order = registry::creation_order(&keys);
    order.dedup();
    order.reverse();
    let (last, first): (Vec<Key>, Vec<Key>) = order
        .into_iter()
        .partition(|k| registry::of(k.kind()).deleted_last());
    let mut out = vec![];
    for key in first.iter().chain(&last) {
        out.extend(doomed.iter().filter(|d| d.key == *key).cloned());
    }
    Ok((out, kept))
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
    let mut vault =
        crate::steps::keeper::vault(&args.ksm.to_ksm(), state, profile, http, &k.record_uid)?;
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
fn lagging(key: &Key) {
    printer::note(format_args!(
        "  … {key}: Graph does not find it yet (setup wrote moments ago, and Graph replicates new objects for a while); asking again"
    ))
}

/// A deletion as JSON: step, resource, whether it existed (after the deletion), and what its kind adds.
fn deletion_json(
    d: &Item,
    existed: Option<bool>,
    fields: &serde_json::Map<String, serde_json::Value>,
) -> DeletionReport {
    DeletionReport {
        step: d.key.clone(),
        resource: d.shown.clone(),
        existed,
        fields: fields.clone(),
    }
}

/// One deletion as teardown reports it (docs/json.md): planned (`existed` absent) or done.
#[derive(Debug, serde::Serialize)]
pub struct DeletionReport {
    step: Key,
    resource: String,
    /// Whether it was there to delete; absent in a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    existed: Option<bool>,
    /// What its kind adds: for the workspace (unless it was already gone), `purged` and `recoverable_until`.
    #[serde(flatten)]
    fields: serde_json::Map<String, serde_json::Value>,
}

/// Teardown's plan: shown on stderr before the deletions, and as JSON on stdout for `--dry-run --output json`.
#[derive(Debug, serde::Serialize)]
pub struct TeardownPlan {
    #[serde(skip)]
    deployment: String,
    dry_run: bool,
    delete: Vec<DeletionReport>,
    keep: Vec<String>,
    /// What the kinds say before their deletion (the workspace: soft-deleted or purged; human only).
    #[serde(skip)]
    notes: Vec<String>,
}

impl Report for TeardownPlan {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "Teardown of deployment '{}':", self.deployment)?;
        for d in &self.delete {
            writeln!(w, "  delete  {:<40} {}", d.step.to_string(), d.resource)?;
        }
        for k in &self.keep {
            writeln!(w, "  keep    {k}")?;
        }
        for n in &self.notes {
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
    /// Lines the deletions leave for the end (the soft-deleted workspace and how it comes back; human only).
    #[serde(skip)]
    closing: Vec<String>,
}

impl Report for TeardownReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(
            w,
            "teardown: {} deleted, {} kept",
            self.deleted.len(),
            self.kept.len()
        )?;
        for line in &self.closing {
            writeln!(w, "{line}")?;
        }
        Ok(())
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
    let graph_until = crate::azure::graph::replicating_until(&state.updated_at);
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
    let keep = keeping(&args);
    let (deletions, kept) = plan(&rest, &state, &args).await?;
    // What each kind has to say before its deletion (the workspace: soft-deleted or purged), once per kind.
    let mut notes: Vec<(Key, kind::Note)> = vec![];
    for d in &deletions {
        if notes.iter().all(|(k, _)| k.kind() != d.key.kind()) {
            if let Some(n) = registry::of(d.key.kind()).teardown_note(&keep) {
                notes.push((d.key.clone(), n));
            }
        }
    }
    let fields_of = |d: &Item| {
        notes
            .iter()
            .find(|(k, _)| k.kind() == d.key.kind())
            .map(|(_, n)| n.fields.clone())
            .unwrap_or_default()
    };
    let the_plan = TeardownPlan {
        deployment: state.deployment.clone(),
        dry_run: true,
        delete: deletions
            .iter()
            .map(|d| deletion_json(d, None, &fields_of(d)))
            .collect(),
        keep: kept.clone(),
        notes: notes.iter().map(|(_, n)| n.text.clone()).collect(),
    };
    if human {
        printer::print_to_stderr(&the_plan);
    }
    crate::steps::preflight::check_teardown(
        &rest,
        &state.subscription_id,
        &state.resource_group,
        deletions.iter().map(|d| &d.key),
    )
    .await?;
    let Some(mut sf) = sf else {
        if !human {
            printer::print(Format::Json, &the_plan)?;
        }
        return Ok(());
    };
    if !args.yes && !deletions.is_empty() {
        if !crate::console::may_prompt() {
            return Err(Error::input(
                "teardown needs confirmation",
                "pass --yes to delete without asking (no one can be asked: no terminal, --no-input or CI)",
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
    let mut closing = vec![];
    let lagging = |key: &Key| lagging(key);
    for d in &deletions {
        let k = registry::of(d.key.kind());
        let cx = Deleting {
            rest: &rest,
            state: &sf.state,
            keeping: keep,
            vault: vault.as_ref(),
            graph_until,
            lagging: &lagging,
        };
        let gone = k
            .delete(&cx, d)
            .await
            .map_err(|e| e.in_step(&d.key.to_string()))?;
        if human {
            let how = match (gone.existed, &gone.how) {
                (false, _) => "already gone".to_string(),
                (true, Some(how)) => how.clone(),
                (true, None) => "deleted".to_string(),
            };
            printer::note(format_args!("  ✓ {:<40} {how}", d.key.to_string()));
        }
        closing.extend(gone.closing.clone());
        k.forget(&mut sf.state, d);
        sf.save()?;
        done.push(deletion_json(d, Some(gone.existed), &gone.json));
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
        closing,
    };
    printer::print(args.common.output, &report)?;
    Ok(())
}
