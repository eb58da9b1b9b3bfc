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
use crate::error::Result;
use crate::rest::{self, Rest};

/// The cloud (from `--cloud`, else the one the state file names) and a REST client signed in as the operator.
pub fn connect(common: &Common, state_cloud: &str) -> Result<(String, CloudProfile, Rest)> {
    let cloud_arg = common
        .cloud
        .clone()
        .or_else(|| (!state_cloud.is_empty()).then(|| state_cloud.to_string()));
    let profile = setup::resolve_cloud(cloud_arg.as_deref(), common.auth)?;
    let label = cloud_arg.unwrap_or_else(|| profile.name.clone());
    let http = rest::http_client(&profile)?;
    let auth = Auth::operator(common.auth, &profile, &http)?;
    let rest = Rest::new(http, Arc::new(auth), Arc::new(profile.clone()));
    Ok((label, profile, rest))
}
