//! Runs the steps as a dependency graph: independent steps side by side, each waiting only for what it needs,
//! progress reported and the state saved after each.

use std::sync::Arc;
use std::time::Instant;

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::error::{Error, Result};
use crate::steps::kind::Key;
use crate::steps::registry;
use crate::steps::{Action, Ctx, Plan};

pub use crate::steps::secret::Outcome;

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

/// Runs the plan as a dependency graph over the registry's kinds: each step waits only for the kinds it
/// depends on ([`kind::Resource::depends_on`]), steps that do not depend on each other run side by side, and the
/// first error (in the plan's order) is the run's.
pub async fn run(ctx: Arc<Ctx>, plan: Plan) -> Result<Outcome> {
    let plan = Arc::new(plan);
    let keys: Vec<Key> = plan.steps.iter().map(|s| s.key.clone()).collect();
    let mut started: Vec<(Key, Fut<()>)> = Vec::with_capacity(keys.len());
    for key in registry::creation_order(&keys) {
        let needs = registry::of(key.kind()).depends_on(&key);
        let before: Vec<Fut<()>> = started
            .iter()
            .filter(|(k, _)| needs.contains(&k.kind()))
            .map(|(_, f)| f.clone())
            .collect();
        let (c, p, k) = (ctx.clone(), plan.clone(), key.clone());
        let step = shared(async move {
            for f in before {
                f.await?;
            }
            let action = p.action(&k).unwrap_or(Action::Create);
            let name = k.to_string();
            let ensure = async {
                let resource = registry::of(k.kind()).ensure(&c, &k, &p).await?;
                Ok(((), resource))
            };
            timed(&c, &name, action, ensure).await
        });
        started.push((key, step));
    }
    let results = futures::future::join_all(started.iter().map(|(_, f)| f.clone())).await;
    let by_key: Vec<(&Key, std::result::Result<(), SharedErr>)> =
        started.iter().map(|(k, _)| k).zip(results).collect();
    for key in &keys {
        if let Some((_, Err(e))) = by_key.iter().find(|(k, _)| *k == key) {
            return Err(unshare(e.clone()));
        }
    }
    crate::steps::secret::outcome(&ctx)
}

fn unshare(e: SharedErr) -> Error {
    Arc::try_unwrap(e).unwrap_or_else(|a| (*a).clone())
}
