//! Runs a plan as a dependency graph: independent steps side by side, the state saved after each step.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use serde_json::Value;

use crate::azure::graph::{self, Application, NewSecret, ServicePrincipal};
use crate::azure::roles::{self, Role};
use crate::azure::{dce, dcr, has_tag, providers, tags, workspace};
use crate::error::{Error, Result};
use crate::plan::{self, step, Action, Inputs, Plan, Scope};
use crate::rest::Rest;
use crate::state::{Outputs, Resource, RoleRecord, SecretRecord, StateFile};

/// How a run tells the user what happens; the human and JSON outputs implement it.
pub trait Reporter: Send + Sync {
    fn started(&self, step: &str);
    fn waiting(&self, step: &str, why: &str);
    fn finished(&self, step: &str, action: Action, resource: &str, took: Duration);
    fn failed(&self, step: &str, error: &Error);
}

/// What a finished setup hands to the output: the console values and, when it was made now, the secret.
#[derive(Debug)]
pub struct Outcome {
    pub outputs: Outputs,
    pub new_secret: Option<NewSecret>,
    pub secret: Option<SecretRecord>,
}

type SharedErr = Arc<Error>;
type Fut<T> = Shared<BoxFuture<'static, std::result::Result<T, SharedErr>>>;

/// Everything the steps share.
pub struct Ctx {
    pub rest: Rest,
    pub inputs: Inputs,
    pub state: Mutex<StateFile>,
    pub reporter: Arc<dyn Reporter>,
    /// How long role assignments wait for a new service principal to replicate.
    pub replication_wait: Duration,
    /// With `--sequential`, one permit: the steps run one after another.
    pub gate: Option<tokio::sync::Semaphore>,
    /// Set by Ctrl-C: steps not yet started do not start; the ones in flight finish and are recorded.
    pub cancelled: Arc<std::sync::atomic::AtomicBool>,
}

impl Ctx {
    /// Changes the state and saves it at once.
    fn record(&self, f: impl FnOnce(&mut crate::state::State)) -> Result<()> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| Error::Other("state lock poisoned".into()))?;
        f(&mut s.state);
        s.save()
    }

    fn record_resource(&self, kind: &str, id: &str, name: &str, created: bool) -> Result<()> {
        self.record(|s| {
            // Once created by us, always ours: a re-run that finds it must not forget that.
            let created = created
                || s.resources
                    .get(kind)
                    .is_some_and(|r| r.created && r.id.eq_ignore_ascii_case(id));
            s.resources.insert(
                kind.to_string(),
                Resource {
                    id: id.to_string(),
                    name: name.to_string(),
                    created,
                },
            );
        })
    }

    fn was_created(&self, kind: &str) -> bool {
        self.state
            .lock()
            .map(|s| s.resource(kind).is_some_and(|r| r.created))
            .unwrap_or(false)
    }
}

/// Runs one step with progress reporting and the step name on its error.
async fn timed<T>(
    ctx: &Ctx,
    name: &str,
    action: Action,
    f: impl std::future::Future<Output = Result<(T, String)>>,
) -> std::result::Result<T, SharedErr> {
    if ctx.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(Arc::new(Error::Interrupted));
    }
    let _permit = match &ctx.gate {
        Some(g) => Some(
            g.acquire()
                .await
                .map_err(|_| Arc::new(Error::Interrupted))?,
        ),
        None => None,
    };
    let t0 = Instant::now();
    ctx.reporter.started(name);
    match f.await {
        Ok((v, resource)) => {
            ctx.reporter.finished(name, action, &resource, t0.elapsed());
            Ok(v)
        }
        Err(e) => {
            let e = e.in_step(name);
            ctx.reporter.failed(name, &e);
            Err(Arc::new(e))
        }
    }
}

fn shared<T: Clone + Send + Sync + 'static>(
    f: impl std::future::Future<Output = std::result::Result<T, SharedErr>> + Send + 'static,
) -> Fut<T> {
    f.boxed().shared()
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
async fn ensure_app(ctx: &Ctx, found: Option<Application>) -> Result<(Application, String)> {
    let i = &ctx.inputs;
    // Every app this finds carries our deployment tag, so it is ours even when an earlier run made it.
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
    let created = true;
    ctx.record_resource(step::APP, &app.id, &app.display_name, created)?;
    if !app
        .identifier_uris
        .contains(&graph::identifier_uri(&app.app_id))
    {
        graph::set_identifier_uri(&ctx.rest, &app, &i.deployment).await?;
    }
    let label = format!("{} (client id {})", app.display_name, app.app_id);
    Ok((app, label))
}

async fn ensure_sp(
    ctx: &Ctx,
    app: &Application,
    found: Option<ServicePrincipal>,
) -> Result<(ServicePrincipal, String)> {
    // The service principal of our own app is ours too.
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
    let created = true;
    ctx.record_resource(step::SP, &sp.id, &app.display_name, created)?;
    let id = sp.id.clone();
    Ok((sp, id))
}

async fn ensure_workspace(ctx: &Ctx, found: Option<Value>) -> Result<(Value, String)> {
    let i = &ctx.inputs;
    let id = i.workspace_id();
    let reused_existing = matches!(i.workspace, plan::WorkspaceChoice::Existing(_));
    let (body, created) = match found {
        Some(b) if plan_state_ok(&b) => {
            let ours = !reused_existing
                && (has_tag(&b, &i.deployment) || ctx.was_created(step::WORKSPACE));
            (b, ours)
        }
        Some(b)
            if !reused_existing
                && matches!(
                    crate::azure::provisioning_state(&b),
                    Some("Failed" | "Canceled")
                ) =>
        {
            // Our workspace whose creation failed: a PUT again is how Azure repairs it.
            let body = workspace::body(&i.location, tags(&i.deployment));
            (
                workspace::put_and_wait(&ctx.rest, &id, &body).await?,
                has_tag(&b, &i.deployment),
            )
        }
        Some(b) => {
            // Still provisioning (a previous run was cut off): wait for it instead of writing again.
            let ours = !reused_existing && has_tag(&b, &i.deployment);
            (workspace::wait_ready(&ctx.rest, &id).await?, ours)
        }
        None if reused_existing => {
            return Err(Error::input(
                format!("workspace {id} does not exist"),
                "pass the resource id of an existing workspace, or a name to create",
            ))
        }
        None => {
            ctx.record_resource(step::WORKSPACE, &id, crate::azure::name_of(&id), true)?;
            let b = workspace::put_and_wait(
                &ctx.rest,
                &id,
                &workspace::body(&i.location, tags(&i.deployment)),
            )
            .await?;
            (b, true)
        }
    };
    ctx.record_resource(step::WORKSPACE, &id, crate::azure::name_of(&id), created)?;
    Ok((body, id))
}

fn plan_state_ok(b: &Value) -> bool {
    matches!(
        crate::azure::provisioning_state(b),
        Some("Succeeded") | None
    )
}

async fn ensure_table(ctx: &Ctx, action: Action) -> Result<((), String)> {
    let i = &ctx.inputs;
    let id = i.table_id();
    if action != Action::Reuse {
        if action == Action::Create {
            // Recorded before the long-running PUT: a run cut off now still knows the table is ours.
            ctx.record_resource(step::TABLE, &id, &i.table, true)?;
        }
        workspace::put_table(
            &ctx.rest,
            &id,
            &workspace::table_body(&i.table, &i.columns()),
        )
        .await?;
    }
    ctx.record_resource(step::TABLE, &id, &i.table, action == Action::Create)?;
    Ok(((), id))
}

async fn ensure_dce(ctx: &Ctx, found: Option<Value>) -> Result<(Value, String)> {
    let i = &ctx.inputs;
    let id = i.dce_id();
    let (body, created) = match found {
        Some(b) => {
            let ours = has_tag(&b, &i.deployment) || ctx.was_created(step::DCE);
            (b, ours)
        }
        None => (
            dce::put(&ctx.rest, &id, &dce::body(&i.location, tags(&i.deployment))).await?,
            true,
        ),
    };
    if dce::logs_ingestion_endpoint(&body).is_none() {
        return Err(Error::Other(format!(
            "DCE {id} has no logsIngestion endpoint in its answer"
        )));
    }
    ctx.record_resource(step::DCE, &id, &i.dce_name, created)?;
    Ok((body, id))
}

async fn ensure_dcr(ctx: &Ctx, found: Option<Value>, action: Action) -> Result<(Value, String)> {
    let i = &ctx.inputs;
    let id = i.dcr_id();
    let (body, created) = match (found, action) {
        (Some(b), Action::Reuse) => {
            let ours = has_tag(&b, &i.deployment) || ctx.was_created(step::DCR);
            (b, ours)
        }
        (found, _) => {
            let ours = found.as_ref().is_none_or(|b| has_tag(b, &i.deployment));
            (
                dcr::put(&ctx.rest, &id, &plan::desired_dcr_body(i)).await?,
                ours,
            )
        }
    };
    if dcr::immutable_id(&body).is_none() {
        return Err(Error::Other(format!(
            "DCR {id} has no immutableId in its answer"
        )));
    }
    ctx.record_resource(step::DCR, &id, &i.dcr_name, created)?;
    Ok((body, id))
}

async fn ensure_role(
    ctx: &Ctx,
    scope: Scope,
    role: Role,
    principal: &str,
    found: Option<String>,
) -> Result<((), String)> {
    let i = &ctx.inputs;
    let scope_id = i.scope_id(scope);
    let name = plan::role_step(scope, role);
    let ours = roles::assignment_name(&scope_id, role, principal);
    let (id, created) = match found {
        // An assignment under the name this tool derives was made by this tool, perhaps by a run cut off after it.
        Some(id) => {
            let created = crate::azure::name_of(&id).eq_ignore_ascii_case(&ours);
            (id, created)
        }
        None => {
            let id = roles::create(
                &ctx.rest,
                &i.subscription,
                &scope_id,
                role,
                principal,
                ctx.replication_wait,
                || {
                    ctx.reporter
                        .waiting(&name, "waiting for the new service principal to replicate")
                },
            )
            .await?;
            (id, true)
        }
    };
    ctx.record(|s| {
        let created = created
            || s.role_assignments
                .iter()
                .any(|r| r.id.eq_ignore_ascii_case(&id) && r.created);
        s.role_assignments
            .retain(|r| !(r.role == role && r.on == scope.key()));
        s.role_assignments.push(RoleRecord {
            id: id.clone(),
            role,
            on: scope.key().to_string(),
            created,
        });
    })?;
    Ok((
        (),
        format!(
            "{} on {}",
            role.display_name(),
            crate::azure::name_of(&scope_id)
        ),
    ))
}

/// Adds a client secret unless the state's one is current; removes a secret whose value an earlier,
/// interrupted run never showed.
async fn ensure_secret(
    ctx: &Ctx,
    app: &Application,
    action: Action,
) -> Result<(Option<NewSecret>, String)> {
    let i = &ctx.inputs;
    if action == Action::Reuse {
        return Ok((None, format!("'{}' (unchanged)", i.secret_description)));
    }
    let (previous, pending_since) = {
        let s = ctx
            .state
            .lock()
            .map_err(|_| Error::Other("state lock poisoned".into()))?;
        (s.state.secret.clone(), s.state.secret_pending_since.clone())
    };
    let now = time::OffsetDateTime::now_utc();
    ctx.record(|s| s.secret_pending_since = Some(crate::output::now_rfc3339()))?;
    let end = now + time::Duration::days(i64::from(i.secret_days));
    let before: std::collections::HashSet<String> = graph::get_application(&ctx.rest, &app.id)
        .await?
        .map(|a| {
            a.password_credentials
                .into_iter()
                .map(|p| p.key_id)
                .collect()
        })
        .unwrap_or_default();
    let mut attempt = 0;
    let new = loop {
        attempt += 1;
        match graph::add_password(&ctx.rest, &app.id, &i.secret_description, end).await {
            Ok(n) => break n,
            // addPassword is not repeated blindly: a lost answer may hide a secret that exists but whose value
            // is gone. Read back, remove what this call made, then try again.
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
    };
    ctx.record(|s| {
        s.secret = Some(SecretRecord {
            key_id: new.key_id.clone(),
            description: i.secret_description.clone(),
            end_date_time: new.end_date_time.clone(),
            delivered: false,
        });
        s.secret_pending_since = None;
    })?;
    // Orphans: the undelivered secret of an earlier run, and any secret with our description made after an
    // earlier run announced one but before it could record it.
    let fresh = graph::get_application(&ctx.rest, &app.id)
        .await?
        .unwrap_or_else(|| app.clone());
    for p in &fresh.password_credentials {
        if p.key_id == new.key_id {
            continue;
        }
        let undelivered = previous
            .as_ref()
            .is_some_and(|s| !s.delivered && s.key_id == p.key_id);
        let unrecorded = pending_since.is_some()
            && p.display_name.as_deref() == Some(i.secret_description.as_str())
            && previous.as_ref().is_none_or(|s| s.key_id != p.key_id);
        if undelivered || unrecorded {
            graph::remove_password(&ctx.rest, &app.id, &p.key_id).await?;
        }
    }
    let label = format!(
        "'{}' (key id {}, expires {})",
        i.secret_description, new.key_id, new.end_date_time
    );
    Ok((Some(new), label))
}

/// The Endpoint URL the Keeper Admin Console asks for.
pub fn endpoint_url(logs_ingestion_endpoint: &str, dcr_immutable_id: &str, stream: &str) -> String {
    format!(
        "{}/dataCollectionRules/{dcr_immutable_id}/streams/{stream}?api-version={}",
        logs_ingestion_endpoint.trim_end_matches('/'),
        crate::ingest::API_VERSION
    )
}

/// Runs the plan. Steps that do not depend on each other run side by side; each waits only for what it needs.
pub async fn run(ctx: Arc<Ctx>, plan: Plan) -> Result<Outcome> {
    let i = ctx.inputs.clone();
    let obs = plan.observed.clone();
    let act = |s: &str| plan.action(s).unwrap_or(Action::Create);

    if i.create_resource_group {
        let a = act(step::RESOURCE_GROUP);
        let (c, i) = (ctx.clone(), i.clone());
        let rg_tagged = obs
            .resource_group
            .as_ref()
            .is_some_and(|b| has_tag(b, &i.deployment));
        timed(&ctx, step::RESOURCE_GROUP, a, async move {
            if a == Action::Create {
                providers::create_resource_group(
                    &c.rest,
                    &i.subscription,
                    &i.resource_group,
                    &i.location,
                    tags(&i.deployment),
                )
                .await?;
            }
            let ours = a == Action::Create || rg_tagged;
            c.record_resource(step::RESOURCE_GROUP, &i.rg_id(), &i.resource_group, ours)?;
            Ok(((), i.rg_id()))
        })
        .await
        .map_err(unshare)?;
    }

    let app: Fut<Application> = {
        let (c, found, a) = (ctx.clone(), obs.app.clone(), act(step::APP));
        shared(async move { timed(&c, step::APP, a, ensure_app(&c, found)).await })
    };
    let sp: Fut<ServicePrincipal> = {
        let (c, found, a, app) = (ctx.clone(), obs.sp.clone(), act(step::SP), app.clone());
        shared(async move {
            let app = app.await?;
            timed(&c, step::SP, a, ensure_sp(&c, &app, found)).await
        })
    };
    let ws: Fut<Value> = {
        let (c, found, a) = (ctx.clone(), obs.workspace.clone(), act(step::WORKSPACE));
        shared(async move { timed(&c, step::WORKSPACE, a, ensure_workspace(&c, found)).await })
    };
    let table: Fut<()> = {
        let (c, a, ws) = (ctx.clone(), act(step::TABLE), ws.clone());
        shared(async move {
            ws.await?;
            timed(&c, step::TABLE, a, ensure_table(&c, a)).await
        })
    };
    let dce_f: Fut<Value> = {
        let (c, found, a) = (ctx.clone(), obs.dce.clone(), act(step::DCE));
        shared(async move { timed(&c, step::DCE, a, ensure_dce(&c, found)).await })
    };
    let dcr_f: Fut<Value> = {
        let (c, found, a, table, dce_f) = (
            ctx.clone(),
            obs.dcr.clone(),
            act(step::DCR),
            table.clone(),
            dce_f.clone(),
        );
        shared(async move {
            let (t, d) = futures::join!(table, dce_f);
            t?;
            d?;
            timed(&c, step::DCR, a, ensure_dcr(&c, found, a)).await
        })
    };
    let mut role_futs: Vec<BoxFuture<'static, std::result::Result<(), SharedErr>>> = vec![];
    for (scope, role) in i.roles.assignments() {
        let name = plan::role_step(scope, role);
        let (c, a, sp) = (ctx.clone(), act(&name), sp.clone());
        let found = obs.roles.get(&(scope, role)).cloned();
        let (ws, dce_f, dcr_f) = (ws.clone(), dce_f.clone(), dcr_f.clone());
        role_futs.push(
            async move {
                let principal = sp.await?;
                match scope {
                    Scope::Workspace => ws.await.map(|_| ())?,
                    Scope::Dce => dce_f.await.map(|_| ())?,
                    Scope::Dcr => dcr_f.await.map(|_| ())?,
                }
                timed(
                    &c,
                    &name,
                    a,
                    ensure_role(&c, scope, role, &principal.id, found),
                )
                .await
            }
            .boxed(),
        );
    }
    let roles_done = futures::future::join_all(role_futs);
    let (role_results, ws_r, dce_r, dcr_r, app_r) =
        futures::join!(roles_done, ws, dce_f, dcr_f, app);
    // The secret comes last: its value is shown the moment it exists, so no later failure can lose it.
    let mut first_err: Option<SharedErr> = None;
    for r in role_results {
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    let (ws_b, dce_b, dcr_b, app) = match (ws_r, dce_r, dcr_r, app_r) {
        (Ok(w), Ok(d), Ok(r), Ok(a)) if first_err.is_none() => (w, d, r, a),
        (w, d, r, a) => {
            let e = first_err
                .or(a.err())
                .or(w.err())
                .or(d.err())
                .or(r.err())
                .unwrap_or_else(|| Arc::new(Error::Other("setup stopped".into())));
            return Err(unshare(e));
        }
    };
    let new_secret = timed(
        &ctx,
        step::SECRET,
        act(step::SECRET),
        ensure_secret(&ctx, &app, act(step::SECRET)),
    )
    .await
    .map_err(unshare)?;

    let outputs = Outputs {
        tenant_id: i.tenant_id.clone(),
        client_id: app.app_id.clone(),
        endpoint_url: endpoint_url(
            dce::logs_ingestion_endpoint(&dce_b).unwrap_or_default(),
            dcr::immutable_id(&dcr_b).unwrap_or_default(),
            &i.stream(),
        ),
        logs_ingestion_endpoint: dce::logs_ingestion_endpoint(&dce_b)
            .unwrap_or_default()
            .to_string(),
        dcr_immutable_id: dcr::immutable_id(&dcr_b).unwrap_or_default().to_string(),
        stream: i.stream(),
        table: i.table.clone(),
        workspace_customer_id: workspace::customer_id(&ws_b)
            .unwrap_or_default()
            .to_string(),
    };
    let secret = {
        let o = outputs.clone();
        ctx.record(|s| s.outputs = Some(o))?;
        ctx.state
            .lock()
            .map_err(|_| Error::Other("state lock poisoned".into()))?
            .state
            .secret
            .clone()
    };
    Ok(Outcome {
        outputs,
        new_secret,
        secret,
    })
}

/// Marks the new secret as shown to the admin: from now on a re-run keeps it.
pub fn mark_secret_delivered(ctx: &Ctx) -> Result<()> {
    ctx.record(|s| {
        if let Some(sec) = s.secret.as_mut() {
            sec.delivered = true;
        }
    })
}

fn unshare(e: SharedErr) -> Error {
    Arc::try_unwrap(e).unwrap_or_else(|a| (*a).clone())
}
