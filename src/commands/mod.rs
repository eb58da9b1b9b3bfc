//! One module per subcommand: gather inputs, call plan/run, print; and what several of them share: the cloud and the
//! operator's connection.

pub mod cloud;
pub mod completions;
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
pub mod send_inputs;
pub mod send_preview;
pub mod setup;
pub mod status;
pub mod teardown;
pub mod verify;
pub mod verify_keeper;

use std::sync::Arc;

use crate::auth::{Auth, AuthMode};
use crate::cli::Common;
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::names;
use crate::rest::{self, Rest};
use crate::state::State;
use crate::wizard;

/// Resolves `--cloud` ([`crate::cloud::resolve`]); on a person's terminal, an Azure CLI cloud that means more than one
/// profile is asked ([`wizard::ask_cloud_of`]).
pub fn resolve_cloud(arg: Option<&str>, auth: AuthMode) -> Result<CloudProfile> {
    crate::cloud::resolve(arg, auth == AuthMode::Cli, wizard::cloud_chooser())
}

/// The cloud (from `--cloud`, else the one the state file names) and a REST client signed in as the operator, to
/// the tenant of `--tenant`, else the state file's (an empty [`State`] when there is no file).
pub fn connect(common: &Common, state: &State) -> Result<(String, CloudProfile, Rest)> {
    let tenant = agreed("--tenant", common.tenant.as_deref(), &state.tenant_id)?;
    if let Some(t) = &tenant {
        names::guid("--tenant", t)?;
    }
    let cloud_arg = crate::cloud::from_state(common.cloud.as_deref(), &state.cloud)?;
    let profile = resolve_cloud(cloud_arg.as_deref(), common.auth)?;
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
