//! Guide step 1: the app registration (single tenant, Application ID URI `api://<client id>`) and its service
//! principal.

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

/// Sends a create that is not safe to repeat blindly (a Graph POST): when its answer is lost (a 5xx or a
/// dropped connection) or it conflicts, looks for what it may have made before sending it again, three times at most.
async fn create_reconciled<T, C, CF, F, FF>(create: C, find: F) -> Result<T>
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
            Err(Error::Azure(e))
                if (e.status == 0 || e.status >= 500 || e.status == 409) && attempt < 3 =>
            {
                if let Some(v) = find().await? {
                    return Ok(v);
                }
                if e.status == 409 {
                    return Err(Error::Azure(e));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Ensures the app registration: found (state, then name + tag) or created, then its identifier URI.
pub async fn ensure_app(ctx: &Ctx, found: Option<Application>) -> Result<(Application, String)> {
    let i = &ctx.inputs;
    let app = match found {
        Some(a) => a,
        None => {
            create_reconciled(
                || graph::create_application(&ctx.rest, &i.app_name, &i.deployment),
                || async {
                    Ok(
                        graph::find_tagged_applications(&ctx.rest, &i.app_name, &i.deployment)
                            .await?
                            .pop(),
                    )
                },
            )
            .await?
        }
    };
    // Every app found carries our deployment tag, so it is ours even when an earlier run made it.
    ctx.record_resource(step::APP, &app.id, &app.display_name, true)?;
    if !app
        .identifier_uris
        .contains(&graph::identifier_uri(&app.app_id))
    {
        graph::set_identifier_uri(&ctx.rest, &app, &i.deployment).await?;
    }
    let label = format!("{} (client id {})", app.display_name, app.app_id);
    Ok((app, label))
}

/// Ensures the app's service principal: found or created.
pub async fn ensure_sp(
    ctx: &Ctx,
    app: &Application,
    found: Option<ServicePrincipal>,
) -> Result<(ServicePrincipal, String)> {
    let sp = match found {
        Some(sp) => sp,
        None => {
            create_reconciled(
                || graph::create_service_principal(&ctx.rest, &app.app_id, &ctx.inputs.deployment),
                || graph::find_service_principal(&ctx.rest, &app.app_id),
            )
            .await?
        }
    };
    // The service principal of our own app is ours too.
    ctx.record_resource(step::SP, &sp.id, &app.display_name, true)?;
    let id = sp.id.clone();
    Ok((sp, id))
}
