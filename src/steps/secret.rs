//! Guide step 2: the client secret. Made last, so its value is shown the moment it exists; an undelivered or
//! unrecorded secret of an earlier, interrupted run is removed.

use std::collections::HashSet;

use futures::future::BoxFuture;

use crate::azure::dce::Dce;
use crate::azure::dcr::Dcr;
use crate::azure::graph::{self, Application, NewSecret};
use crate::azure::workspace::Workspace;
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{Outputs, SecretRecord, State};

use super::kind::{self, Checked, Deleted, Deleting, Health, Item, KindId, Look};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

/// The client secret: made after everything else, so that from the moment it exists nothing but its delivery
/// stands between it and the admin.
pub struct ClientSecret;

/// The client secret's description unless `--secret-description` says otherwise.
pub const DEFAULT_DESCRIPTION: &str = "Keeper Azure Monitor Logs";

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

fn plan(inputs: &Inputs, state: &State, o: &Observed) -> PlannedStep {
    // A record that lacks the current secret gets a new one: the tool never keeps a value to write again.
    let current = is_current(state, o.app.as_ref().map(|f| &f.app)) && vault_holds(inputs, state);
    PlannedStep::new(
        Key::Secret,
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
                    &Key::Secret.to_string(),
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
async fn ensure(ctx: &Ctx, app: &Application, action: Action) -> Result<(Option<Made>, String)> {
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
            &Key::Secret.to_string(),
            &format!(
                "older secrets of earlier runs are left for the next run to remove: {}",
                e.to_string().replace('\n', " ")
            ),
        );
    }
    let label = format!(
        "'{}' (key id {}, expires {})",
        i.secret_description,
        new.key_id,
        crate::clock::to_the_second(&new.end_date_time)
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
    let until = crate::rest::now() + graph::REPLICATION_WAIT;
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

/// What a finished setup hands to the output: the console values and, when it was made now, the secret.
#[derive(Debug)]
pub struct Outcome {
    pub outputs: Outputs,
    pub new_secret: Option<NewSecret>,
    /// The secret the new one replaces: current again if the new one is not delivered.
    pub replaced: Option<SecretRecord>,
    pub secret: Option<SecretRecord>,
    /// The app registration's object id (for Graph calls on its secrets).
    pub app_object_id: String,
}

/// The Endpoint URL the Keeper Admin Console asks for.
pub fn endpoint_url(logs_ingestion_endpoint: &str, dcr_immutable_id: &str, stream: &str) -> String {
    format!(
        "{}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version={}",
        logs_ingestion_endpoint.trim_end_matches('/'),
        crate::ingest::API_VERSION
    )
}

/// The Admin Console's values, from what the run made.
fn outputs(ctx: &Ctx) -> Result<Outputs> {
    let i = &ctx.inputs;
    let (app, dce, dcr, ws) = (
        ctx.made.get::<Application>()?,
        ctx.made.get::<Dce>()?,
        ctx.made.get::<Dcr>()?,
        ctx.made.get::<Workspace>()?,
    );
    let ingestion = dce.logs_ingestion_endpoint().unwrap_or_default();
    let immutable_id = dcr.immutable_id().unwrap_or_default();
    Ok(Outputs {
        tenant_id: i.tenant_id.clone(),
        client_id: app.app_id.clone(),
        endpoint_url: endpoint_url(ingestion, immutable_id, &i.stream()),
        logs_ingestion_endpoint: ingestion.to_string(),
        dcr_immutable_id: immutable_id.to_string(),
        stream: i.stream(),
        table: i.table.clone(),
        workspace_customer_id: ws.customer_id().unwrap_or_default().to_string(),
    })
}

/// What the run hands to the output once every step is done.
pub fn outcome(ctx: &Ctx) -> Result<Outcome> {
    let outputs = ctx
        .state_now()?
        .outputs
        .ok_or_else(|| Error::Other("setup ended before the secret step".into()))?;
    let app = ctx.made.get::<Application>()?;
    let kept = ctx.state_now()?.secret;
    let (new_secret, replaced, secret) = match ctx.made.take::<Made>() {
        Some(m) => {
            let record = SecretRecord {
                key_id: m.new.key_id.clone(),
                description: ctx.inputs.secret_description.clone(),
                end_date_time: m.new.end_date_time.clone(),
                delivered: false,
            };
            (Some(m.new), m.previous, Some(record))
        }
        None => (None, None, kept),
    };
    Ok(Outcome {
        outputs,
        new_secret,
        replaced,
        secret,
        app_object_id: app.id.clone(),
    })
}

/// The state's secrets the tool added to `app` (named `app_name`): the current one, those rotate-secret replaced,
/// and (`orphans`) those an interrupted run made and never recorded.
fn ours(state: &State, orphans: &[String], app_name: &str) -> Vec<Item> {
    let current = state.secret.iter().map(|sec| (&sec.key_id, "current"));
    let retired = state
        .retired_secrets
        .iter()
        .map(|k| (k, "replaced by rotate-secret"));
    let lost = orphans
        .iter()
        .map(|k| (k, "made by an interrupted run, its value never shown"));
    current
        .chain(retired)
        .chain(lost)
        .map(|(key, what)| Item {
            key: Key::Secret,
            id: key.clone(),
            name: key.clone(),
            created: true,
            shown: format!("key {key} on {app_name} ({what})"),
        })
        .collect()
}

/// The client secrets on the state's app that an interrupted run made and never recorded (see [`unrecorded`]);
/// none unless a run announced an `addPassword` it did not finish.
async fn orphans(rest: &Rest, state: &State) -> Result<Vec<String>> {
    let Some(app) = state
        .resources
        .get(&Key::Application.to_string())
        .filter(|_| state.secret_pending_since.is_some())
    else {
        return Ok(vec![]);
    };
    let description = state
        .secret
        .as_ref()
        .map(|s| s.description.clone())
        .unwrap_or_else(|| DEFAULT_DESCRIPTION.into());
    Ok(match graph::get_application(rest, &app.id).await? {
        Some(a) => unrecorded(state, &a, &description),
        None => vec![],
    })
}

impl kind::Resource for ClientSecret {
    fn kind(&self) -> KindId {
        KindId::Secret
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Secret]
    }

    /// Everything else: the secret comes last, after every other write and save of the run.
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        KindId::ALL
            .into_iter()
            .filter(|k| !matches!(k, KindId::Secret | KindId::KeeperRecord))
            .collect()
    }

    fn plan(&self, _key: &Key, inputs: &Inputs, state: &State, o: &Observed) -> PlannedStep {
        plan(inputs, state, o)
    }

    /// Records the Admin Console's values first, then makes the secret (its delivery is [`crate::delivery`]'s).
    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let o = outputs(ctx)?;
            ctx.record(|s| s.outputs = Some(o))?;
            let app = ctx.made.get::<Application>()?;
            let action = plan.action(key).unwrap_or(Action::Create);
            let (made, label) = ensure(ctx, &app, action).await?;
            if let Some(m) = made {
                ctx.made.put(m);
            }
            Ok(label)
        })
    }

    fn recorded(&self, state: &State) -> Vec<Item> {
        let app = state
            .resources
            .get(&Key::Application.to_string())
            .map(|a| a.name.clone())
            .unwrap_or_default();
        ours(state, &[], &app)
            .into_iter()
            .take(usize::from(state.secret.is_some()))
            .collect()
    }

    /// Missing when its key is no longer on the app; expiring within 30 days, or expired.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let Some(sec) = &look.state.secret else {
                return Ok(Checked::new(Health::Missing, "no secret recorded"));
            };
            let found = look.app().await?.and_then(|a| {
                a.password_credentials
                    .iter()
                    .find(|p| p.key_id == sec.key_id)
                    .cloned()
            });
            let Some(p) = found else {
                return Ok(Checked::new(
                    Health::Missing,
                    format!("key {} is no longer on the app", item.id),
                ));
            };
            let end = p.end_date_time.unwrap_or_else(|| sec.end_date_time.clone());
            let days =
                time::OffsetDateTime::parse(&end, &time::format_description::well_known::Rfc3339)
                    .map(|e| (e - time::OffsetDateTime::now_utc()).whole_days())
                    .unwrap_or(i64::MAX);
            let health = if days < 0 {
                Health::Expired
            } else if days <= 30 {
                Health::Expiring
            } else {
                Health::Ok
            };
            let mut c = Checked::new(
                health,
                format!(
                    "expires {} ({days} days)",
                    crate::clock::to_the_second(&end)
                ),
            );
            if health != Health::Ok {
                c.hint = Some(crate::error::Hint::RotateSecret);
            }
            Ok(c)
        })
    }

    fn doomed<'a>(&'a self, rest: &'a Rest, state: &'a State) -> BoxFuture<'a, Result<Vec<Item>>> {
        Box::pin(async move {
            let Some(app) = state.resources.get(&Key::Application.to_string()) else {
                return Ok(vec![]);
            };
            let orphans = orphans(rest, state).await?;
            Ok(ours(state, &orphans, &app.name))
        })
    }

    /// Every client secret the tool added, by key id: the app may be one it adopted and keeps, whose owner's own
    /// secrets stay.
    fn fate(&self, _item: &Item, _keeping: &kind::Keeping, _state: &State) -> kind::Fate {
        kind::Fate::Delete
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move {
            let app = cx
                .state
                .resources
                .get(&Key::Application.to_string())
                .map(|r| r.id.clone())
                .unwrap_or_default();
            let existed = graph::gone_while_replicating(
                cx.graph_until,
                || (cx.lagging)(&item.key),
                || graph::remove_password(cx.rest, &app, &item.id),
            )
            .await?;
            Ok(Deleted::existed(existed))
        })
    }

    fn forget(&self, state: &mut State, item: &Item) {
        if state
            .secret
            .as_ref()
            .is_some_and(|sec| sec.key_id == item.id)
        {
            state.secret = None;
        }
        state.retired_secrets.retain(|k| *k != item.id);
    }
}
