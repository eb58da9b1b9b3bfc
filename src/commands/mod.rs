//! One module per subcommand: gather inputs, call plan/run, print.

pub mod cloud;
#[cfg(feature = "demo")]
pub mod demo;
/// A build without the simulator (`--no-default-features`): `demo` says so instead of running.
#[cfg(not(feature = "demo"))]
pub mod demo {
    use crate::error::{Error, Result};

    pub async fn execute(_: crate::cli::DemoArgs) -> Result<()> {
        Err(Error::input(
            "this keeper-azmon was built without the Azure simulator, so it has no `demo`",
            "build it with the default features (`cargo build --release`), or run the simulator alone with `cargo run -p azure-sim`",
        ))
    }
}
pub mod import_classic;
pub mod rotate;
pub mod send;
pub mod setup;
pub mod status;
pub mod teardown;
pub mod verify;

use std::sync::Arc;

use crate::auth::Auth;
use crate::cli::Common;
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::names;
use crate::rest::{self, Rest};
use crate::state::State;

/// The `--cloud` to use: the flag, else the cloud the state file names when it is a built-in one. A custom profile
/// the state names by path is not followed silently: whoever can change that file chooses where the operator's
/// tokens go, so the operator names it again with `--cloud`.
pub fn cloud_from_state(flag: Option<&str>, state_cloud: &str) -> Result<Option<String>> {
    if let Some(c) = flag {
        return Ok(Some(c.to_string()));
    }
    if state_cloud.is_empty() {
        return Ok(None);
    }
    if crate::cloud::BUILTIN_NAMES.contains(&state_cloud) {
        return Ok(Some(state_cloud.to_string()));
    }
    Err(Error::input(
        format!("the state file names a custom cloud profile by path ({state_cloud}); it is not followed without being named again"),
        format!("pass --cloud {state_cloud} (or set KEEPER_AZMON_CLOUD) once you have checked that file's endpoints"),
    ))
}

/// The cloud (from `--cloud`, else the one the state file names) and a REST client signed in as the operator, to
/// the tenant of `--tenant`, else the state file's (an empty [`State`] when there is no file).
pub fn connect(common: &Common, state: &State) -> Result<(String, CloudProfile, Rest)> {
    let tenant = agreed("--tenant", common.tenant.as_deref(), &state.tenant_id)?;
    if let Some(t) = &tenant {
        names::guid("--tenant", t)?;
    }
    let cloud_arg = cloud_from_state(common.cloud.as_deref(), &state.cloud)?;
    let profile = setup::resolve_cloud(cloud_arg.as_deref(), common.auth)?;
    let label = cloud_arg.unwrap_or_else(|| profile.name.clone());
    let http = rest::http_client(&profile)?;
    let auth = Auth::operator(common.auth, tenant.as_deref(), &profile, &http)?;
    let rest = Rest::new(http, Arc::new(auth), Arc::new(profile.clone()));
    Ok((label, profile, rest))
}

/// A connection flag checked against what the state file recorded: either may be missing, but when both are
/// given they must name the same thing (a status or teardown of one deployment in another tenant or subscription
/// would look at the wrong things). Returns the one to use.
pub fn agreed(flag: &str, given: Option<&str>, recorded: &str) -> Result<Option<String>> {
    match given {
        Some(g) if !recorded.is_empty() && !g.eq_ignore_ascii_case(recorded) => Err(Error::input(
            format!("{flag} {g} is not the state file's {recorded}"),
            format!("drop {flag} (the state file says where the deployment is), or pass --state with the deployment's own file"),
        )),
        Some(g) => Ok(Some(g.to_string())),
        None => Ok((!recorded.is_empty()).then(|| recorded.to_string())),
    }
}
