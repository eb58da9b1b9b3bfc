//! Guide step 1: the app registration (single tenant, Application ID URI `api://<client id>`) and its service
//! principal.

use std::time::Duration;

use crate::azure::graph::{self, Application, ServicePrincipal};
use crate::azure::roles::{self, Assignment};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

/// Finds the app: by the id in the state, else by name and our tag.
pub async fn find_app(rest: &Rest, inputs: &Inputs, state: &State) -> Result<Option<Application>> {
    if let Some(r) = state.resources.get(step::APP) {
        if let Some(app) = graph::get_application(rest, &r.id).await? {
            return Ok(Some(app));
        }
    }
    let mut found =
        graph::find_tagged_applications(rest, &inputs.app_name, &inputs.deployment).await?;
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(Error::input(
            format!(
                "{n} app registrations named '{}' carry the tag of deployment '{}'",
                inputs.app_name, inputs.deployment
            ),
            "delete the extra ones in Entra ID > App registrations, or choose another --deployment",
        )),
    }
}

/// The service principal the state names and all its role assignments, read in the first wave of a re-run.
pub async fn observe_state_sp(
    rest: &Rest,
    inputs: &Inputs,
    state_sp: Option<&str>,
) -> Result<(Option<ServicePrincipal>, Option<Vec<Assignment>>)> {
    let Some(id) = state_sp else {
        return Ok((None, None));
    };
    let (sp, assigned) = tokio::try_join!(
        graph::get_service_principal(rest, id),
        roles::list_for_principal(rest, &inputs.subscription, id)
    )?;
    Ok((sp, Some(assigned)))
}

/// The app's service principal: the state's when it is still there, else looked up by app id.
pub async fn observe_sp(
    rest: &Rest,
    app: Option<&Application>,
    by_state: Option<ServicePrincipal>,
) -> Result<Option<ServicePrincipal>> {
    match (app, by_state) {
        (Some(_), Some(sp)) => Ok(Some(sp)),
        (Some(a), None) => graph::find_service_principal(rest, &a.app_id).await,
        (None, _) => Ok(None),
    }
}

/// The app (update when its identifier URI is missing) and the service principal.
pub fn plan(inputs: &Inputs, o: &Observed) -> [PlannedStep; 2] {
    let app_action = match &o.app {
        None => Action::Create,
        Some(a)
            if !a
                .identifier_uris
                .contains(&graph::identifier_uri(&a.app_id)) =>
        {
            Action::Update
        }
        Some(_) => Action::Reuse,
    };
    [
        PlannedStep::new(
            step::APP,
            app_action,
            o.app
                .as_ref()
                .map(|a| format!("{} (client id {})", a.display_name, a.app_id))
                .unwrap_or_else(|| inputs.app_name.clone()),
        ),
        PlannedStep::new(
            step::SP,
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
async fn create_reconciled<T, C, CF, F, FF>(ctx: &Ctx, step: &str, create: C, find: F) -> Result<T>
where
    C: Fn() -> CF,
    CF: std::future::Future<Output = Result<T>>,
    F: Fn() -> FF,
    FF: std::future::Future<Output = Result<Option<T>>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match create().await {
            Ok(v) => return Ok(v),
            Err(Error::Azure(e)) if e.status == 409 && attempt < 3 => {
                return match find().await? {
                    Some(v) => Ok(v),
                    None => Err(Error::Azure(e)),
                };
            }
            Err(Error::Azure(e)) if (e.status == 0 || e.status >= 500) && attempt < 3 => {
                let deadline = tokio::time::Instant::now()
                    + LOST_CREATE_WAIT.mul_f64(crate::rest::time_scale());
                let why = "looking for what a create whose answer was lost made";
                if let Some(v) = find_until(ctx, step, why, deadline, &find).await? {
                    return Ok(v);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// What the progress line says while Graph has not caught up with a new app registration.
const APP_REPLICATING: &str = "waiting for the new app registration to show in Microsoft Graph";

/// Looks again, until `deadline`, for what a create may have made that Graph does not show yet.
async fn find_until<T, F, FF>(
    ctx: &Ctx,
    step: &str,
    why: &str,
    deadline: tokio::time::Instant,
    find: F,
) -> Result<Option<T>>
where
    F: Fn() -> FF,
    FF: std::future::Future<Output = Result<Option<T>>>,
{
    let mut delay = Duration::from_millis(250);
    let mut waited = false;
    loop {
        if let Some(v) = find().await? {
            return Ok(Some(v));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        if !waited {
            ctx.reporter.waiting(step, why);
            waited = true;
        }
        crate::rest::pause(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// The app an interrupted run created moments ago (its create announced in the state), once Graph shows it;
/// `None` when no create is pending or the replication window has passed without it.
async fn app_of_interrupted_run(ctx: &Ctx) -> Result<Option<Application>> {
    let state = ctx.state_now()?;
    let Some(since) = state.app_pending_since.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    }) else {
        return Ok(None);
    };
    let window = graph::REPLICATION_WAIT.mul_f64(crate::rest::time_scale());
    let left = (since + window - time::OffsetDateTime::now_utc())
        .try_into()
        .unwrap_or(Duration::ZERO);
    let deadline = tokio::time::Instant::now() + left;
    find_until(
        ctx,
        step::APP,
        "looking for the app registration an interrupted run created",
        deadline,
        || find_app(&ctx.rest, &ctx.inputs, &state),
    )
    .await
}

/// Ensures the app registration: found (state, then name + tag) or created, then its identifier URI. A new app
/// is not shown by Graph at once: the identifier URI is set once it is (bounded by `graph::REPLICATION_WAIT`).
pub async fn ensure_app(ctx: &Ctx, found: Option<Application>) -> Result<(Application, String)> {
    let i = &ctx.inputs;
    let pending = ctx.state_now()?.app_pending_since.is_some();
    let (app, new) = match found {
        Some(a) => (a, false),
        None => match app_of_interrupted_run(ctx).await? {
            Some(a) => (a, true),
            None => {
                ctx.record(|s| s.app_pending_since = Some(crate::clock::now_rfc3339()))?;
                let a = create_reconciled(
                    ctx,
                    step::APP,
                    || graph::create_application(&ctx.rest, &i.app_name, &i.deployment),
                    || async {
                        Ok(
                            graph::find_tagged_applications(&ctx.rest, &i.app_name, &i.deployment)
                                .await?
                                .pop(),
                        )
                    },
                )
                .await?;
                (a, true)
            }
        },
    };
    // Every app found carries our deployment tag, so it is ours even when an earlier run made it.
    ctx.record_resource(step::APP, &app.id, &app.display_name, true)?;
    if !app
        .identifier_uris
        .contains(&graph::identifier_uri(&app.app_id))
    {
        if new || pending {
            graph::while_replicating(
                || ctx.reporter.waiting(step::APP, APP_REPLICATING),
                || graph::set_identifier_uri(&ctx.rest, &app, &i.deployment),
            )
            .await?;
        } else {
            graph::set_identifier_uri(&ctx.rest, &app, &i.deployment).await?;
        }
    }
    if pending || new {
        // Graph has shown the app (it took the identifier URI, or was found): no longer pending.
        ctx.record(|s| s.app_pending_since = None)?;
    }
    let label = format!("{} (client id {})", app.display_name, app.app_id);
    Ok((app, label))
}

/// Ensures the app's service principal: found or created. While a new app has not replicated, Graph refuses the
/// service principal (400 "does not reference a valid application object"): retried, bounded. A create whose
/// answer was lost, or that an interrupted run made, conflicts (409) while Graph does not list it yet: looked
/// for again until it shows.
pub async fn ensure_sp(
    ctx: &Ctx,
    app: &Application,
    found: Option<ServicePrincipal>,
) -> Result<(ServicePrincipal, String)> {
    let sp = match found {
        Some(sp) => sp,
        None => {
            let find = || graph::find_service_principal(&ctx.rest, &app.app_id);
            let created = graph::while_replicating(
                || ctx.reporter.waiting(step::SP, APP_REPLICATING),
                || {
                    create_reconciled(
                        ctx,
                        step::SP,
                        || {
                            graph::create_service_principal(
                                &ctx.rest,
                                &app.app_id,
                                &ctx.inputs.deployment,
                            )
                        },
                        find,
                    )
                },
            )
            .await;
            match created {
                Err(Error::Azure(e)) if e.status == 409 => {
                    let deadline = tokio::time::Instant::now()
                        + graph::REPLICATION_WAIT.mul_f64(crate::rest::time_scale());
                    find_until(
                        ctx,
                        step::SP,
                        "waiting for the existing service principal to show in Microsoft Graph",
                        deadline,
                        find,
                    )
                    .await?
                    .ok_or(Error::Azure(e))?
                }
                other => other?,
            }
        }
    };
    // The service principal of our own app is ours too.
    ctx.record_resource(step::SP, &sp.id, &app.display_name, true)?;
    let id = sp.id.clone();
    Ok((sp, id))
}
