//! Guide step 2: the client secret. Made last, so its value is shown the moment it exists; an undelivered or
//! unrecorded secret of an earlier, interrupted run is removed.

use std::collections::HashSet;

use crate::azure::graph::{self, Application, NewSecret};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{SecretRecord, State};

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

/// Whether the state's secret is still usable (recorded, delivered, and still on the app).
pub fn is_current(state: &State, app: Option<&Application>) -> bool {
    match (&state.secret, app) {
        (Some(s), Some(app)) => {
            s.delivered
                && app
                    .password_credentials
                    .iter()
                    .any(|p| p.key_id == s.key_id)
        }
        _ => false,
    }
}

/// Whether the Keeper record named by `--keeper-record` holds the state's secret (true without a record).
fn vault_holds(inputs: &Inputs, state: &State) -> bool {
    let Some(uid) = &inputs.keeper_record else {
        return true;
    };
    match (&state.keeper, &state.secret) {
        (Some(k), Some(s)) => {
            &k.record_uid == uid && k.key_id.as_deref() == Some(s.key_id.as_str())
        }
        _ => false,
    }
}

pub fn plan(inputs: &Inputs, state: &State, o: &Observed) -> PlannedStep {
    // A record that lacks the current secret gets a new one: the tool never keeps a value to write again.
    let current = is_current(state, o.app.as_ref().map(|f| &f.app)) && vault_holds(inputs, state);
    PlannedStep::new(
        step::SECRET,
        Action::create_or_reuse(current),
        format!("'{}' on {}", inputs.secret_description, inputs.app_name),
    )
}

/// The client secrets on `app` that an interrupted run made and never recorded: they carry `description`, the
/// state knows neither them (as its secret or a retired one) nor had the app them when the run announced its
/// addPassword (`secret_pending_known`), and they were made after that crash marker (`secret_pending_since`, less
/// five minutes for the difference between this clock and Graph's). Their values were never shown to anyone:
/// they are removed.
pub fn unrecorded(state: &State, app: &Application, description: &str) -> Vec<String> {
    let Some(since) = state.secret_pending_since.as_deref() else {
        return vec![];
    };
    let rfc = &time::format_description::well_known::Rfc3339;
    let since = time::OffsetDateTime::parse(since, rfc)
        .map(|t| t - time::Duration::minutes(5))
        .ok();
    let known: HashSet<&str> = state
        .secret
        .iter()
        .map(|s| s.key_id.as_str())
        .chain(state.retired_secrets.iter().map(String::as_str))
        .chain(state.secret_pending_known.iter().map(String::as_str))
        .collect();
    app.password_credentials
        .iter()
        .filter(|p| p.display_name.as_deref() == Some(description))
        .filter(|p| !known.contains(p.key_id.as_str()))
        .filter(|p| {
            let start = p
                .start_date_time
                .as_deref()
                .and_then(|t| time::OffsetDateTime::parse(t, rfc).ok());
            match (start, since) {
                (Some(start), Some(since)) => start >= since,
                _ => true,
            }
        })
        .map(|p| p.key_id.clone())
        .collect()
}

/// `addPassword`, never repeated blindly: a lost answer may hide a secret that exists but whose value is gone,
/// so it is read back and what the lost call made is removed before trying again.
async fn add_password(
    ctx: &Ctx,
    app: &Application,
    before: &HashSet<String>,
    end: time::OffsetDateTime,
) -> Result<NewSecret> {
    let description = &ctx.inputs.secret_description;
    let mut attempt = 0;
    loop {
        attempt += 1;
        // The app may be new enough that Graph does not show it everywhere yet (404): waited for, bounded.
        let added = graph::while_replicating(
            || {
                ctx.reporter.waiting(
                    step::SECRET,
                    "waiting for the new app registration to show in Microsoft Graph",
                )
            },
            || graph::add_password(&ctx.rest, &app.id, description, end),
        )
        .await;
        match added {
            Ok(n) => return Ok(n),
            Err(Error::Azure(e)) if (e.status == 0 || e.status >= 500) && attempt < 3 => {
                if let Some(a) = graph::get_application(&ctx.rest, &app.id).await? {
                    for p in a
                        .password_credentials
                        .iter()
                        .filter(|p| !before.contains(&p.key_id))
                    {
                        graph::remove_password(&ctx.rest, &app.id, &p.key_id).await?;
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A secret made by this run: its value, and the secret it replaces (to be current again should the new one not
/// be delivered).
#[derive(Debug)]
pub struct Made {
    pub new: NewSecret,
    pub previous: Option<SecretRecord>,
}

/// Adds a client secret unless the state's one is current; removes a secret whose value an earlier,
/// interrupted run never showed. Once the new secret exists nothing here loses it: if the state cannot record
/// it, it is removed again (its value can then never be delivered, and the error says so); if the clean-up of
/// older secrets fails, that is said and left to the next run.
pub async fn ensure(
    ctx: &Ctx,
    app: &Application,
    action: Action,
) -> Result<(Option<Made>, String)> {
    let i = &ctx.inputs;
    if action == Action::Reuse {
        return Ok((None, format!("'{}' (unchanged)", i.secret_description)));
    }
    let before = ctx.state_now()?;
    let previous = before.secret.clone();
    let now = time::OffsetDateTime::now_utc();
    // What the app holds now is not this run's, except what an earlier interrupted run left (its orphans, removed
    // below): should this run be interrupted too, those stay orphans rather than pass for the owner's.
    let holds = graph::get_application(&ctx.rest, &app.id).await?;
    let keys: HashSet<String> = holds
        .iter()
        .flat_map(|a| a.password_credentials.iter().map(|p| p.key_id.clone()))
        .collect();
    let left_behind: HashSet<String> = holds
        .map(|a| unrecorded(&before, &a, &i.secret_description))
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut known: Vec<String> = keys.difference(&left_behind).cloned().collect();
    known.sort();
    ctx.record(|s| {
        s.secret_pending_since = Some(crate::clock::now_rfc3339());
        s.secret_pending_known = known;
    })?;
    let end = now + time::Duration::days(i64::from(i.secret_days));
    let new = add_password(ctx, app, &keys, end).await?;
    let recorded = ctx.record(|s| {
        s.secret = Some(SecretRecord {
            key_id: new.key_id.clone(),
            description: i.secret_description.clone(),
            end_date_time: new.end_date_time.clone(),
            delivered: false,
        });
        // The secret the new one replaces stays tracked until it is gone: a delivered one (the Keeper record
        // lacked it) may still be in use and waits for `rotate-secret --finish`, like a rotated one; an undelivered
        // one waits there only until the clean-up below removes it. The crash marker stays set until then too,
        // so that an orphan the clean-up could not remove is still found by the next run.
        if let Some(old) = previous.as_ref().filter(|p| p.key_id != new.key_id) {
            if !s.retired_secrets.contains(&old.key_id) {
                s.retired_secrets.push(old.key_id.clone());
            }
        }
    });
    if let Err(e) = recorded {
        let why = format!(
            "the state file could not record it ({})",
            e.to_string().replace('\n', " ")
        );
        return Err(withdraw(&ctx.rest, &app.id, &new.key_id, &why, || Ok(())).await);
    }
    let cleaned = match remove_orphans(ctx, app, &before, previous.as_ref(), &new).await {
        Ok(removed) => ctx.record(|s| {
            s.retired_secrets.retain(|k| !removed.contains(k));
            s.secret_pending_since = None;
            s.secret_pending_known.clear();
        }),
        Err(e) => Err(e),
    };
    if let Err(e) = cleaned {
        ctx.reporter.waiting(
            step::SECRET,
            &format!(
                "older secrets of earlier runs are left for the next run to remove: {}",
                e.to_string().replace('\n', " ")
            ),
        );
    }
    let label = format!(
        "'{}' (key id {}, expires {})",
        i.secret_description, new.key_id, new.end_date_time
    );
    Ok((Some(Made { new, previous }), label))
}

/// Removes the undelivered secret of an earlier run and any secret with our description made after an earlier
/// run announced one but before it could record it.
async fn remove_orphans(
    ctx: &Ctx,
    app: &Application,
    before: &State,
    previous: Option<&SecretRecord>,
    new: &NewSecret,
) -> Result<Vec<String>> {
    let description = &ctx.inputs.secret_description;
    let mut removed = Vec::new();
    let fresh = graph::get_application(&ctx.rest, &app.id)
        .await?
        .unwrap_or_else(|| app.clone());
    let orphans = unrecorded(before, &fresh, description);
    for p in &fresh.password_credentials {
        if p.key_id == new.key_id {
            continue;
        }
        let undelivered = previous.is_some_and(|s| !s.delivered && s.key_id == p.key_id);
        if undelivered || orphans.contains(&p.key_id) {
            graph::remove_password(&ctx.rest, &app.id, &p.key_id).await?;
            removed.push(p.key_id.clone());
        }
    }
    // An undelivered previous secret no longer on the app is gone too.
    if let Some(old) = previous.filter(|s| !s.delivered) {
        if !fresh
            .password_credentials
            .iter()
            .any(|p| p.key_id == old.key_id)
        {
            removed.push(old.key_id.clone());
        }
    }
    Ok(removed)
}

/// Removes a new secret whose value no place took (nobody holds it), and says so: the error to end the run with.
/// While Graph may not yet show a secret made moments ago, the removal is tried again. `restore` puts the state
/// back to the secret before it, once it is gone.
pub async fn withdraw(
    rest: &Rest,
    app_object_id: &str,
    new_key_id: &str,
    why: &str,
    restore: impl FnOnce() -> Result<()>,
) -> Error {
    let until =
        tokio::time::Instant::now() + graph::REPLICATION_WAIT.mul_f64(crate::rest::time_scale());
    let removed = graph::gone_while_replicating(
        until,
        || {},
        || graph::remove_password(rest, app_object_id, new_key_id),
    )
    .await;
    let head = format!("the new client secret (key id {new_key_id}) was not delivered: {why}");
    match removed {
        Ok(true) => {
            let restored = match restore() {
                Ok(()) => String::new(),
                Err(e) => format!(
                    "\n  the state file could not be put back ({}); the next run reconciles it with the app",
                    e.to_string().replace('\n', " ")
                ),
            };
            Error::Other(format!(
                "{head}\n  it was removed again: nobody holds its value, and the secret before it (if any) is kept{restored}\nhint: fix what is named above and run the same command again: it makes a new secret"
            ))
        }
        // Graph did not find it, for the whole replication window: not taken for removed. It stays in the state
        // as the undelivered secret, which the next setup or rotate-secret removes.
        Ok(false) => Error::Other(format!(
            "{head}\n  Graph did not find it to remove it (the app may not have replicated yet): it stays recorded as undelivered, and the next setup or rotate-secret removes it\nhint: fix what is named above and run the same command again"
        )),
        Err(e) => Error::Other(format!(
            "{head}\n  it could not be removed either ({}): unless the state file could not record it, it stays recorded as undelivered and the next setup or rotate-secret removes it\nhint: fix what is named above and run the same command again",
            e.to_string().replace('\n', " ")
        )),
    }
}

/// The state as it was before `new_key_id` was made: the secret before it current again while it is still on the
/// app (delivered, or undelivered and still waiting in `retired_secrets` to be removed), none otherwise; and the
/// Keeper link as it was (`keeper`: the link before this run named a record).
pub fn restore_previous(
    state: &mut State,
    new_key_id: &str,
    previous: Option<&SecretRecord>,
    keeper: Option<crate::state::KeeperLink>,
) {
    if state
        .secret
        .as_ref()
        .is_some_and(|s| s.key_id == new_key_id)
    {
        state.secret = None;
    }
    if let Some(p) = previous.filter(|p| p.delivered || state.retired_secrets.contains(&p.key_id)) {
        state.retired_secrets.retain(|k| k != &p.key_id);
        state.secret = Some(p.clone());
    }
    state.keeper = keeper;
}
