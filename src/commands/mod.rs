//! One module per subcommand: gather inputs, call plan/run, print.

pub mod cloud;
pub mod demo;
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
use crate::rest::{self, Rest};

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

/// The cloud (from `--cloud`, else the one the state file names) and a REST client signed in as the operator.
pub fn connect(common: &Common, state_cloud: &str) -> Result<(String, CloudProfile, Rest)> {
    let cloud_arg = cloud_from_state(common.cloud.as_deref(), state_cloud)?;
    let profile = setup::resolve_cloud(cloud_arg.as_deref(), common.auth)?;
    let label = cloud_arg.unwrap_or_else(|| profile.name.clone());
    let http = rest::http_client(&profile)?;
    let auth = Auth::operator(common.auth, &profile, &http)?;
    let rest = Rest::new(http, Arc::new(auth), Arc::new(profile.clone()));
    Ok((label, profile, rest))
}
