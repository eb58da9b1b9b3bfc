//! Guide step 1: the app registration (single tenant, Application ID URI `api://<client id>`, the operator among
//! its owners) and its service principal; an existing app is adopted only when it is provably this deployment's.

use std::time::Duration;

use crate::azure::graph::{self, Application, Owner, ServicePrincipal as Sp};
use crate::azure::roles::{self, Assignment};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

use futures::future::BoxFuture;

use super::kind::{self, Checked, Deleted, Deleting, Discovery, Item, KindId, Look};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

/// The app registration.
pub struct App;

/// An app registration found before the run, and whose it is.
#[derive(Debug, Clone)]
pub struct FoundApp {
    pub app: Application,
    /// Made by this tool (the state says so, or it carries this deployment's tag and the signed-in identity owns
    /// it): the tool keeps its tag on it, and teardown deletes it.
    pub ours: bool,
    /// Its owners, when they were read (an app found by name and tag, or named by `--adopt-app`): the plan shows them.
    pub owners: Option<Vec<Owner>>,
}

/// How an app's credentials read in a refusal: how many secrets and certificates, each secret's name and expiry.
fn credentials(app: &Application) -> String {
    let mut parts: Vec<String> = app
        .password_credentials
        .iter()
        .map(|p| {
            format!(
                "client secret '{}' (key id {}, expires {})",
                p.display_name.as_deref().unwrap_or(""),
                p.key_id,
                p.end_date_time.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if !app.key_credentials.is_empty() {
        parts.push(format!("{} certificate(s)", app.key_credentials.len()));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn owner_list(owners: &[Owner]) -> String {
    if owners.is_empty() {
        "none".into()
    } else {
        owners
            .iter()
            .map(Owner::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Finds the app: the one the state names; else the one `--adopt-app` names; else one with our name and tag,
/// adopted only when the signed-in identity owns it. Any tenant member may register an app with our name and
/// tag: such an app is refused (before any write), named with its owners and credentials.
pub async fn find_app(rest: &Rest, inputs: &Inputs, state: &State) -> Result<Option<FoundApp>> {
    // Right after a run, Graph may not show the app it made yet: the state's app is looked for again for a while
    // rather than taken for gone (and made a second time).
    let graph_until = graph::replicating_until(&state.updated_at);
    if let Some(r) = state.resources.get(&Key::Application.to_string()) {
        let app = graph::get_while_replicating(graph_until, || graph::get_application(rest, &r.id))
            .await?;
        if let Some(app) = app {
            if let Some(other) = inputs
                .adopt_app
                .as_ref()
                .filter(|a| !a.eq_ignore_ascii_case(&app.app_id))
            {
                return Err(Error::input(
                    format!(
                        "--adopt-app {other}, but the state file names app {}",
                        app.app_id
                    ),
                    "drop --adopt-app, or pass another --state for the other app",
                ));
            }
            let owners = if r.created {
                None
            } else {
                Some(graph::list_owners(rest, &app.id).await?)
            };
            return Ok(Some(FoundApp {
                app,
                ours: r.created,
                owners,
            }));
        }
    }
    if let Some(app_id) = &inputs.adopt_app {
        let app = graph::find_application_by_app_id(rest, app_id)
            .await?
            .ok_or_else(|| {
                Error::input(
                    format!("--adopt-app {app_id}: no app registration has this application (client) id"),
                    "pass the Application (client) ID shown in Entra ID > App registrations",
                )
            })?;
        let owners = graph::list_owners(rest, &app.id).await?;
        return Ok(Some(FoundApp {
            app,
            ours: false,
            owners: Some(owners),
        }));
    }
    let tag = inputs.app_tag();
    let tags = [tag.clone(), graph::legacy_app_tag(&inputs.deployment)];
    let found = graph::find_tagged_applications(rest, &inputs.app_name, &tags).await?;
    if found.is_empty() {
        return Ok(None);
    }
    let Candidates { me, mut apps } = Candidates::read(rest, found).await?;
    match mine(&apps, &tag, &me).as_slice() {
        [i] => {
            let (app, owners) = apps.swap_remove(*i);
            Ok(Some(FoundApp {
                app,
                ours: true,
                owners: Some(owners),
            }))
        }
        [] => {
            let list = apps
                .iter()
                .map(|(a, o)| {
                    let how = if a.tags.contains(&tag) {
                        "this deployment's tag".to_string()
                    } else {
                        format!("the tag of an older keeper-azmon ({})", tags[1])
                    };
                    format!(
                        "\n  - client id {} (object id {}), with {how}; owners: {}; credentials: {}",
                        a.app_id,
                        a.id,
                        owner_list(o),
                        credentials(a)
                    )
                })
                .collect::<String>();
            let first = apps
                .first()
                .map(|(a, _)| a.app_id.clone())
                .unwrap_or_default();
            Err(Error::input(
                format!(
                    "an app registration named '{}' exists for deployment '{}', but no state file names it and the signed-in identity (object id {me}) does not own it; it is not adopted:{list}",
                    inputs.app_name, inputs.deployment
                ),
                format!(
                    "if it is yours to use, pass --adopt-app {first} (it gets a new client secret and the role assignments; teardown leaves it); otherwise pass another --deployment or --app-name, or delete it in Entra ID > App registrations"
                ),
            ))
        }
        many => Err(several_owned(inputs, many.len())),
    }
}

/// Apps found by name and tag, each with its owners, and the signed-in identity's object id.
struct Candidates {
    me: String,
    apps: Vec<(Application, Vec<Owner>)>,
}

impl Candidates {
    async fn read(rest: &Rest, found: Vec<Application>) -> Result<Candidates> {
        let me = rest.auth.object_id(&rest.profile.graph_audience).await?;
        let owners =
            futures::future::try_join_all(found.iter().map(|a| graph::list_owners(rest, &a.id)))
                .await?;
        Ok(Candidates {
            me,
            apps: found.into_iter().zip(owners).collect(),
        })
    }
}

/// Which of `apps` are this deployment's: they carry its tag and `me` owns them. Any tenant member may register
/// an app with our name and tag; only the owner tells the tool's from theirs.
fn mine(apps: &[(Application, Vec<Owner>)], tag: &str, me: &str) -> Vec<usize> {
    apps.iter()
        .enumerate()
        .filter(|(_, (a, o))| a.tags.iter().any(|t| t == tag) && o.iter().any(|x| x.id == me))
        .map(|(i, _)| i)
        .collect()
}

fn several_owned(inputs: &Inputs, n: usize) -> Error {
    Error::input(
        format!(
            "{n} app registrations named '{}' carry the tag of deployment '{}' and are owned by the signed-in identity",
            inputs.app_name, inputs.deployment
        ),
        "delete the extra ones in Entra ID > App registrations, or pass --adopt-app <client id> to choose one",
    )
}

/// What a create of the app whose answer was lost may have made: the app with our name and tag that the
/// signed-in identity owns (the same check as [`find_app`]: an app someone else registered meanwhile with our
/// name and tag is not it).
async fn app_a_lost_create_made(rest: &Rest, inputs: &Inputs) -> Result<Option<Application>> {
    let tag = inputs.app_tag();
    let found =
        graph::find_tagged_applications(rest, &inputs.app_name, std::slice::from_ref(&tag)).await?;
    if found.is_empty() {
        return Ok(None);
    }
    let Candidates { me, mut apps } = Candidates::read(rest, found).await?;
    match mine(&apps, &tag, &me).as_slice() {
        [] => Ok(None),
        [i] => Ok(Some(apps.swap_remove(*i).0)),
        many => Err(several_owned(inputs, many.len())),
    }
}

/// The service principal the state names and all its role assignments, read in the first wave of a re-run.
pub async fn observe_state_sp(
    rest: &Rest,
    inputs: &Inputs,
    state_sp: Option<&str>,
    state_updated_at: &str,
) -> Result<(Option<Sp>, Option<Vec<Assignment>>)> {
    let Some(id) = state_sp else {
        return Ok((None, None));
    };
    let graph_until = graph::replicating_until(state_updated_at);
    let (sp, assigned) = tokio::try_join!(
        graph::get_while_replicating(graph_until, || graph::get_service_principal(rest, id)),
        roles::list_for_principal(rest, &inputs.subscription, id)
    )?;
    Ok((sp, Some(assigned)))
}

/// The app's service principal: the state's when it is still there, else looked up by app id.
pub async fn observe_sp(
    rest: &Rest,
    app: Option<&Application>,
    by_state: Option<Sp>,
) -> Result<Option<Sp>> {
    match (app, by_state) {
        (Some(_), Some(sp)) => Ok(Some(sp)),
        (Some(a), None) => graph::find_service_principal(rest, &a.app_id).await,
        (None, _) => Ok(None),
    }
}

/// Whether the app needs a PATCH: its identifier URI is missing, or it is ours and lacks this deployment's tag
/// (an app made by an older version carries the older tag).
fn needs_update(inputs: &Inputs, found: &FoundApp) -> bool {
    let a = &found.app;
    !a.identifier_uris
        .contains(&graph::identifier_uri(&a.app_id))
        || (found.ours && !a.tags.contains(&inputs.app_tag()))
}

/// The app (update when its identifier URI or our tag is missing) and the service principal. An app the tool
/// did not create shows its owners.
pub(super) fn plan(inputs: &Inputs, o: &Observed) -> [PlannedStep; 2] {
    let app_action = match &o.app {
        None => Action::Create,
        Some(f) if needs_update(inputs, f) => Action::Update,
        Some(_) => Action::Reuse,
    };
    [
        PlannedStep::new(
            Key::Application,
            app_action,
            o.app
                .as_ref()
                .map(|f| {
                    let a = &f.app;
                    let owners = f
                        .owners
                        .as_ref()
                        .map(|o| format!("; owners: {}", owner_list(o)))
                        .unwrap_or_default();
                    let adopted = if f.ours {
                        ""
                    } else {
                        "; adopted, not made by keeper-azmon"
                    };
                    format!(
                        "{} (client id {}{adopted}{owners})",
                        a.display_name, a.app_id
                    )
                })
                .unwrap_or_else(|| inputs.app_name.clone()),
        ),
        PlannedStep::new(
            Key::ServicePrincipal,
            Action::create_or_reuse(o.sp.is_some()),
            o.sp.as_ref()
                .map(|s| s.id.clone())
                .unwrap_or_else(|| format!("for {}", inputs.app_name)),
        ),
    ]
}

/// How long a create whose answer was lost is looked for before it is sent again (times the time scale): what it
/// made may not show in Graph for seconds. Past this, a second create risks a duplicate, which `find_app` then
/// reports rather than guess.
const LOST_CREATE_WAIT: Duration = Duration::from_secs(30);

/// Sends a create that is not safe to repeat blindly (a Graph POST): when its answer is lost (a 5xx or a
/// dropped connection) or it conflicts, looks for what it may have made before sending it again, three times at
/// most. A lost answer's object is looked for over [`LOST_CREATE_WAIT`], as Graph may not show it at once.
pub(super) async fn create_reconciled<T, C, CF, F, FF>(
    ctx: &Ctx,
    step: &str,
    create: C,
    find: F,
) -> Result<T>
where
    C: Fn() -> CF,
    CF: std::future::Future<Output = Result<T>>,
    F: Fn() -> FF,
    FF: std::future::Future<Output = Result<Option<T>>>,
{
    // At most three creates: a lost answer is looked for before the next one.
    for attempt in 1..=3 {
        match create().await {
            Ok(v) => return Ok(v),
            Err(Error::Azure(e)) if e.status == 409 && attempt < 3 => {
                return match find().await? {
                    Some(v) => Ok(v),
                    None => Err(Error::Azure(e)),
                };
            }
            Err(Error::Azure(e)) if (e.status == 0 || e.status >= 500) && attempt < 3 => {
                let deadline = crate::rest::now() + LOST_CREATE_WAIT;
                let why = "looking for what a create whose answer was lost made";
                if let Some(v) = find_until(ctx, step, why, deadline, &find).await? {
                    return Ok(v);
                }
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the third attempt returns")
}

/// What the progress line says while Graph has not caught up with a new app registration.
pub(super) const APP_REPLICATING: &str =
    "waiting for the new app registration to show in Microsoft Graph";

/// Looks again, until `deadline` (on the tool's clock), for what a create may have made that Graph does not show
/// yet.
pub(super) async fn find_until<T, F, FF>(
    ctx: &Ctx,
    step: &str,
    why: &str,
    deadline: std::time::Instant,
    find: F,
) -> Result<Option<T>>
where
    F: Fn() -> FF,
    FF: std::future::Future<Output = Result<Option<T>>>,
{
    crate::rest::poll_until(
        graph::REPLICATING.until(deadline),
        || ctx.reporter.waiting(step, why),
        find,
    )
    .await
}

/// The app an interrupted run created moments ago (its create announced in the state), once Graph shows it;
/// `None` when no create is pending or the replication window has passed without it.
async fn app_of_interrupted_run(ctx: &Ctx) -> Result<Option<Application>> {
    let state = ctx.state_now()?;
    let Some(since) = state.app_pending_since.as_deref().filter(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
    }) else {
        return Ok(None);
    };
    let deadline = graph::replicating_until(since);
    find_until(
        ctx,
        &Key::Application.to_string(),
        "looking for the app registration an interrupted run created",
        deadline,
        || async {
            Ok(find_app(&ctx.rest, &ctx.inputs, &state)
                .await?
                .map(|f| f.app))
        },
    )
    .await
}

/// Makes the signed-in identity an owner of the app it just created, where Graph did not (it does for a service
/// principal that creates an app; the owner is what lets the operator, and only them, adopt it again later). The
/// caller waits through Graph's read-after-create lag.
async fn ensure_operator_owns(ctx: &Ctx, app: &Application) -> Result<()> {
    let rest = &ctx.rest;
    let me = rest.auth.object_id(&rest.profile.graph_audience).await?;
    if graph::list_owners(rest, &app.id)
        .await?
        .iter()
        .any(|o| o.id == me)
    {
        return Ok(());
    }
    graph::add_owner(rest, &app.id, &me).await
}

/// Ensures the app registration: found (state, `--adopt-app`, or name + tag + owner) or created (with the
/// operator among its owners), then its identifier URI, and our tag on an app of ours. A new app is not shown by
/// Graph at once: its PATCH waits for it (bounded by `graph::REPLICATION_WAIT`).
async fn ensure_app(ctx: &Ctx, found: Option<FoundApp>) -> Result<String> {
    let i = &ctx.inputs;
    let step = &Key::Application.to_string();
    let tag = i.app_tag();
    let pending = ctx.state_now()?.app_pending_since.is_some();
    let (app, ours, update, new) = match found {
        Some(f) => {
            let update = needs_update(i, &f);
            (f.app, f.ours, update, false)
        }
        None => {
            let app = match app_of_interrupted_run(ctx).await? {
                Some(a) => a,
                None => {
                    ctx.record(|s| s.app_pending_since = Some(crate::clock::now_rfc3339()))?;
                    create_reconciled(
                        ctx,
                        step,
                        || graph::create_application(&ctx.rest, &i.app_name, &tag),
                        || app_a_lost_create_made(&ctx.rest, i),
                    )
                    .await?
                }
            };
            ctx.record_resource(&Key::Application, &app.id, &app.display_name, true)?;
            graph::while_replicating(
                || ctx.reporter.waiting(step, APP_REPLICATING),
                || ensure_operator_owns(ctx, &app),
            )
            .await?;
            let update = !app
                .identifier_uris
                .contains(&graph::identifier_uri(&app.app_id))
                || !app.tags.contains(&tag);
            (app, true, update, true)
        }
    };
    ctx.record_resource(&Key::Application, &app.id, &app.display_name, ours)?;
    if update {
        // Never tag what the tool did not make: an adopted app keeps its own tags.
        let patch = || graph::set_identifier_uri(&ctx.rest, &app, ours.then_some(tag.as_str()));
        if new || pending {
            graph::while_replicating(|| ctx.reporter.waiting(step, APP_REPLICATING), patch).await?;
        } else {
            patch().await?;
        }
    }
    if pending || new {
        // Graph has shown the app (it took the PATCH, or was found): no longer pending.
        ctx.record(|s| s.app_pending_since = None)?;
    }
    let label = format!("{} (client id {})", app.display_name, app.app_id);
    ctx.made.put(app);
    Ok(label)
}

/// What teardown says when Graph does not find what setup made moments ago and it asks again.
pub(super) fn graph_delete<'a, F, FF>(
    cx: &'a Deleting<'a>,
    item: &'a Item,
    delete: F,
) -> BoxFuture<'a, Result<Deleted>>
where
    F: Fn() -> FF + Send + Sync + 'a,
    FF: std::future::Future<Output = Result<bool>> + Send + 'a,
{
    Box::pin(async move {
        let existed =
            graph::gone_while_replicating(cx.graph_until, || (cx.lagging)(&item.key), delete)
                .await?;
        Ok(Deleted::existed(existed))
    })
}

impl kind::Resource for App {
    fn kind(&self) -> KindId {
        KindId::Application
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Application]
    }

    /// After the resource group: a run refused there leaves no app behind.
    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::ResourceGroup]
    }

    fn plan(&self, _key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let [app, _] = plan(inputs, o);
        app
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        _key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(ensure_app(ctx, plan.observed.app.clone()))
    }

    fn recorded(&self, state: &State) -> Vec<Item> {
        super::resource_group::named(self, state)
    }

    /// Drifted when its Application ID URI is gone. Right after setup, Graph may not show it yet: not reported
    /// missing then.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = look.app().await?.map(|a| {
                let uri = graph::identifier_uri(&a.app_id);
                (!a.identifier_uris.contains(&uri)).then(|| format!("identifier URI is not {uri}"))
            });
            Ok(Checked::of(item, found))
        })
    }

    fn fate(&self, item: &Item, _keeping: &kind::Keeping, _state: &State) -> kind::Fate {
        if item.created {
            kind::Fate::Delete
        } else {
            kind::Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.name))
        }
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        graph_delete(cx, item, move || {
            graph::delete_application(cx.rest, &item.id)
        })
    }

    /// Only this subscription's deployment: the tag names both. An app found by its tag alone counts as ours
    /// only when the signed-in identity owns it (anyone may tag an app); otherwise teardown leaves it.
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let apps = graph::find_applications_by_tag(
                d.rest,
                &graph::app_tag(d.subscription, d.deployment),
            )
            .await?;
            if apps.len() > 1 {
                return Err(Error::input(
                    format!(
                        "{} app registrations carry the tag of deployment '{}'",
                        apps.len(),
                        d.deployment
                    ),
                    "pass --state",
                ));
            }
            let Some(app) = apps.first() else {
                return Ok(());
            };
            let me = d
                .rest
                .auth
                .object_id(&d.rest.profile.graph_audience)
                .await?;
            let owned = graph::list_owners(d.rest, &app.id)
                .await?
                .iter()
                .any(|o| o.id == me);
            d.record(&Key::Application, &app.id, &app.display_name, owned);
            d.found_app = Some(app.clone());
            Ok(())
        })
    }
}
