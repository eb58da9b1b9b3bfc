//! Finds a deployment by its keeper-azmon tag when no state file is at hand: what teardown and status work from then.

use crate::azure::{providers, TAG};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{State, FORMAT};
use crate::steps::kind::Discovery;
use crate::steps::registry::REGISTRY;

/// Everything tagged for `deployment` in `subscription`, as a state in which all of it was created by the tool
/// (the tag is only ever set by the tool on what it creates): each kind finds its part, in the registry's order
/// (a kind after those it is found through).
pub async fn by_tag(
    rest: &Rest,
    subscription: &str,
    deployment: &str,
    cloud: &str,
) -> Result<State> {
    let sub = providers::subscription(rest, subscription)
        .await?
        .ok_or_else(|| {
            Error::input(
                format!("subscription {subscription} was not found"),
                "check --subscription",
            )
        })?;
    let state = State {
        format: FORMAT.into(),
        deployment: deployment.to_string(),
        cloud: cloud.to_string(),
        tenant_id: sub.tenant_id.unwrap_or_default(),
        subscription_id: subscription.to_string(),
        ..State::default()
    };
    let mut d = Discovery::new(rest, subscription, deployment, state);
    for kind in REGISTRY {
        kind.discover(&mut d).await?;
    }
    let s = d.state;
    if s.resources.is_empty() {
        return Err(Error::input(
            format!("nothing in subscription {subscription} carries the tag {TAG}={deployment}"),
            "check --deployment (it defaults to the resource group name at setup) and --subscription",
        ));
    }
    Ok(s)
}
