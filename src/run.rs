//! Runs the steps as a dependency graph: independent steps side by side, each waiting only for what it needs,
//! progress reported and the state saved after each.

use std::sync::Arc;
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::azure::dce::Dce;
use crate::azure::dcr::Dcr;
use crate::azure::graph::{Application, NewSecret, ServicePrincipal};
use crate::azure::sentinel::Child;
use crate::azure::workspace::Workspace;
use crate::error::{Error, Result};
use crate::state::{Outputs, SecretRecord};
use crate::steps::{self, step, Action, Ctx, Plan, Scope};

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

type SharedErr = Arc<Error>;
type Fut<T> = Shared<BoxFuture<'static, std::result::Result<T, SharedErr>>>;

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
        let found = obs.resource_group.as_ref();
        timed(
            &ctx,
            step::RESOURCE_GROUP,
            a,
            steps::resource_group::ensure(&ctx, a, found),
        )
        .await
        .map_err(unshare)?;
    }

    let app: Fut<Application> = {
        let (c, found, a) = (ctx.clone(), obs.app.clone(), act(step::APP));
        shared(async move { timed(&c, step::APP, a, steps::app::ensure_app(&c, found)).await })
    };
    let sp: Fut<ServicePrincipal> = {
        let (c, found, a, app) = (ctx.clone(), obs.sp.clone(), act(step::SP), app.clone());
        shared(async move {
            let app = app.await?;
            timed(&c, step::SP, a, steps::app::ensure_sp(&c, &app, found)).await
        })
    };
    let ws: Fut<Workspace> = {
        let (c, found, a) = (ctx.clone(), obs.workspace.clone(), act(step::WORKSPACE));
        let deleted = obs.deleted_workspace.clone();
        shared(async move {
            timed(
                &c,
                step::WORKSPACE,
                a,
                steps::workspace::ensure(&c, found, deleted),
            )
            .await
        })
    };
    let table: Fut<()> = {
        let (c, a, ws, found) = (ctx.clone(), act(step::TABLE), ws.clone(), obs.table.clone());
        let recovering = act(step::WORKSPACE) == Action::Recover;
        shared(async move {
            ws.await?;
            timed(
                &c,
                step::TABLE,
                a,
                steps::table::ensure(&c, a, found.as_ref(), recovering),
            )
            .await
        })
    };
    let dce_f: Fut<Dce> = {
        let (c, found, a) = (ctx.clone(), obs.dce.clone(), act(step::DCE));
        shared(async move { timed(&c, step::DCE, a, steps::dce::ensure(&c, found)).await })
    };
    let dcr_f: Fut<Dcr> = {
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
            timed(&c, step::DCR, a, steps::dcr::ensure(&c, found, a)).await
        })
    };
    let mut role_futs: Vec<BoxFuture<'static, std::result::Result<(), SharedErr>>> = vec![];
    for (scope, role) in i.roles.assignments() {
        let name = steps::roles::step_name(scope, role);
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
                let ensure = steps::roles::ensure(&c, scope, role, &principal.id, found);
                timed(&c, &name, a, ensure).await
            }
            .boxed(),
        );
    }
    let roles_done = futures::future::join_all(role_futs);
    let sentinel_done = sentinel(ctx.clone(), &plan, table.clone());
    let (role_results, ws_r, dce_r, dcr_r, app_r, sentinel_r) =
        futures::join!(roles_done, ws, dce_f, dcr_f, app, sentinel_done);
    let mut first_err: Option<SharedErr> = sentinel_r.err();
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
    let ingestion = dce_b.logs_ingestion_endpoint().unwrap_or_default();
    let immutable_id = dcr_b.immutable_id().unwrap_or_default();
    let outputs = Outputs {
        tenant_id: i.tenant_id.clone(),
        client_id: app.app_id.clone(),
        endpoint_url: endpoint_url(ingestion, immutable_id, &i.stream()),
        logs_ingestion_endpoint: ingestion.to_string(),
        dcr_immutable_id: immutable_id.to_string(),
        stream: i.stream(),
        table: i.table.clone(),
        workspace_customer_id: ws_b.customer_id().unwrap_or_default().to_string(),
    };
    {
        let o = outputs.clone();
        ctx.record(|s| s.outputs = Some(o))?;
    }
    let kept = ctx.state_now()?.secret;
    // The secret comes last, after every other write and save of the run: from the moment it exists, nothing but
    // its delivery stands between it and the admin (steps::secret::ensure and crate::delivery see to the rest).
    let made = timed(
        &ctx,
        step::SECRET,
        act(step::SECRET),
        steps::secret::ensure(&ctx, &app, act(step::SECRET)),
    )
    .await
    .map_err(unshare)?;
    let (new_secret, replaced, secret) = match made {
        Some(m) => {
            let record = SecretRecord {
                key_id: m.new.key_id.clone(),
                description: i.secret_description.clone(),
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

/// The Sentinel steps, once the table exists: onboarding and the function side by side, then the rules (Azure
/// refuses a rule before onboarding, and one whose function does not exist yet); the workbook alongside.
fn sentinel(
    ctx: Arc<Ctx>,
    plan: &Plan,
    table: Fut<()>,
) -> BoxFuture<'static, std::result::Result<(), SharedErr>> {
    if ctx.inputs.sentinel.is_none() {
        return futures::future::ready(Ok(())).boxed();
    }
    let act = |s: &str| plan.action(s).unwrap_or(Action::Create);
    let (onboarding, function, workbook) = (
        act(step::SENTINEL_ONBOARDING),
        act(step::SENTINEL_FUNCTION),
        act(step::SENTINEL_WORKBOOK),
    );
    let found = plan.observed.sentinel.clone().unwrap_or_default();
    let rules: Vec<(&'static str, Action, Option<Child>)> = steps::sentinel::RULES
        .iter()
        .map(|(t, _)| {
            let a = act(&steps::sentinel::rule_step(t));
            (*t, a, found.rules.get(*t).cloned())
        })
        .collect();
    async move {
        table.await?;
        let c = &ctx;
        let first = async {
            let (o, f) = futures::join!(
                timed(
                    c,
                    step::SENTINEL_ONBOARDING,
                    onboarding,
                    steps::sentinel::ensure_onboarding(c, onboarding)
                ),
                timed(
                    c,
                    step::SENTINEL_FUNCTION,
                    function,
                    steps::sentinel::ensure_function(c, function)
                ),
            );
            o?;
            f?;
            let done = futures::future::join_all(rules.iter().map(|(t, a, f)| async move {
                let name = steps::sentinel::rule_step(t);
                let ensure = steps::sentinel::ensure_rule(c, t, *a, f.as_ref());
                timed(c, &name, *a, ensure).await
            }))
            .await;
            done.into_iter()
                .collect::<std::result::Result<Vec<()>, SharedErr>>()?;
            Ok::<(), SharedErr>(())
        };
        let wb = timed(
            c,
            step::SENTINEL_WORKBOOK,
            workbook,
            steps::sentinel::ensure_workbook(c, workbook),
        );
        let (r, w) = futures::join!(first, wb);
        r?;
        w
    }
    .boxed()
}

fn unshare(e: SharedErr) -> Error {
    Arc::try_unwrap(e).unwrap_or_else(|a| (*a).clone())
}
