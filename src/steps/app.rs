//! Guide step 1: the app registration (single tenant, Application ID URI `api://<client id>`, the operator among
//! its owners) and its service principal; an existing app is adopted only when it is provably this deployment's.

use crate::azure::graph::{self, Application, Owner, ServicePrincipal};
use crate::azure::roles::{self, Assignment};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::State;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

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
    if let Some(r) = state.resources.get(step::APP) {
        if let Some(app) = graph::get_application(rest, &r.id).await? {
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
    let me = rest.auth.object_id(&rest.profile.graph_audience).await?;
    let owners =
        futures::future::try_join_all(found.iter().map(|a| graph::list_owners(rest, &a.id)))
            .await?;
    let mut candidates: Vec<(Application, Vec<Owner>)> = found.into_iter().zip(owners).collect();
    let mine: Vec<usize> = candidates
        .iter()
        .enumerate()
        .filter(|(_, (a, o))| a.tags.contains(&tag) && o.iter().any(|x| x.id == me))
        .map(|(i, _)| i)
        .collect();
    match mine.as_slice() {
        [i] => {
            let (app, owners) = candidates.swap_remove(*i);
            Ok(Some(FoundApp {
                app,
                ours: true,
                owners: Some(owners),
            }))
        }
        [] => {
            let list = candidates
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
            let first = candidates.first().map(|(a, _)| a.app_id.clone()).unwrap_or_default();
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
        many => Err(Error::input(
            format!(
                "{} app registrations named '{}' carry the tag of deployment '{}' and are owned by the signed-in identity",
                many.len(),
                inputs.app_name,
                inputs.deployment
            ),
            "delete the extra ones in Entra ID > App registrations, or pass --adopt-app <client id> to choose one",
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
pub fn plan(inputs: &Inputs, o: &Observed) -> [PlannedStep; 2] {
    let app_action = match &o.app {
        None => Action::Create,
        Some(f) if needs_update(inputs, f) => Action::Update,
        Some(_) => Action::Reuse,
    };
    [
        PlannedStep::new(
            step::APP,
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

/// Makes the signed-in identity an owner of the app it just created, where Graph did not (it does for a service
/// principal that creates an app; the owner is what lets the operator, and only them, adopt it again later).
async fn ensure_operator_owns(ctx: &Ctx, app: &Application) -> Result<()> {
    let rest = &ctx.rest;
    let me = rest.auth.object_id(&rest.profile.graph_audience).await?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let done = match graph::list_owners(rest, &app.id).await {
            Ok(owners) if owners.iter().any(|o| o.id == me) => Ok(()),
            Ok(_) => graph::add_owner(rest, &app.id, &me).await,
            Err(e) => Err(e),
        };
        match done {
            // A new object can be missing from Graph's replicas for a few seconds after it is created
            // ("Designing for Eventual Consistency for Microsoft Entra": a newly created object can return Not Found,
            // https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/): ask again.
            Err(Error::Azure(e)) if e.status == 404 && attempt < 6 => {
                crate::rest::pause(std::time::Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// Ensures the app registration: found (state, `--adopt-app`, or name + tag + owner) or created (with the
/// operator among its owners), then its identifier URI, and our tag on an app of ours.
pub async fn ensure_app(ctx: &Ctx, found: Option<FoundApp>) -> Result<(Application, String)> {
    let i = &ctx.inputs;
    let tag = i.app_tag();
    let (app, ours, update) = match found {
        Some(f) => {
            let update = needs_update(i, &f);
            (f.app, f.ours, update)
        }
        None => {
            let app = create_reconciled(
                || graph::create_application(&ctx.rest, &i.app_name, &tag),
                || async {
                    Ok(graph::find_tagged_applications(
                        &ctx.rest,
                        &i.app_name,
                        std::slice::from_ref(&tag),
                    )
                    .await?
                    .pop())
                },
            )
            .await?;
            ctx.record_resource(step::APP, &app.id, &app.display_name, true)?;
            ensure_operator_owns(ctx, &app).await?;
            (app, true, true)
        }
    };
    ctx.record_resource(step::APP, &app.id, &app.display_name, ours)?;
    if update {
        // Never tag what the tool did not make: an adopted app keeps its own tags.
        graph::set_identifier_uri(&ctx.rest, &app, ours.then_some(tag.as_str())).await?;
    }
    let label = format!("{} (client id {})", app.display_name, app.app_id);
    Ok((app, label))
}

/// Ensures the app's service principal: found or created. It is ours when this run made it or the app is ours.
pub async fn ensure_sp(
    ctx: &Ctx,
    app: &Application,
    found: Option<ServicePrincipal>,
) -> Result<(ServicePrincipal, String)> {
    let made = found.is_none();
    let sp = match found {
        Some(sp) => sp,
        None => {
            let tag = ctx.inputs.app_tag();
            create_reconciled(
                || graph::create_service_principal(&ctx.rest, &app.app_id, &tag),
                || graph::find_service_principal(&ctx.rest, &app.app_id),
            )
            .await?
        }
    };
    let ours = made || ctx.was_created(step::APP);
    ctx.record_resource(step::SP, &sp.id, &app.display_name, ours)?;
    let id = sp.id.clone();
    Ok((sp, id))
}
