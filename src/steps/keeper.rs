//! Guide step 2's last line, "store it in your Keeper vault", done by the tool (issue 14): which Keeper record,
//! through which KSM config, and the values written into it.

use crate::azure::graph::NewSecret;
use crate::cli::KeeperArgs;
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::state::{KeeperLink, Outputs, State};
use crate::vault::{KsmConfig, NewValue, Vault, VaultValues};

/// The record a run writes, and the vault it is reached through.
pub struct Target {
    pub vault: Vault,
    pub uid: String,
}

/// A Keeper record UID: 16 random bytes in URL-safe base64 without padding (22 characters), as the vault shows it.
fn check_uid(uid: &str) -> Result<()> {
    let ok = uid.len() == 22
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("--keeper-record '{uid}' is not a Keeper record UID"),
            "copy the record's UID from the Keeper vault (the record's info panel: 22 letters, digits, - and _)",
        ))
    }
}

/// `--keeper-record` and `--ksm-config`, else what the state recorded: None when no record is named anywhere.
/// A malformed config or UID is refused here, before anything is sent.
pub fn resolve(
    args: &KeeperArgs,
    state: &State,
    profile: &CloudProfile,
    http: &reqwest::Client,
) -> Result<Option<Target>> {
    let recorded = state.keeper.as_ref();
    let Some(uid) = args
        .keeper_record
        .clone()
        .or_else(|| recorded.map(|k| k.record_uid.clone()))
    else {
        return Ok(None);
    };
    check_uid(&uid)?;
    let config = args
        .ksm_config
        .clone()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| recorded.and_then(|k| k.config_path.clone()))
        .ok_or_else(|| {
            Error::input(
                format!("--ksm-config is required to write Keeper record {uid}"),
                "pass --ksm-config FILE (or set KSM_CONFIG to the base64 config the Keeper vault gives a KSM device)",
            )
        })?;
    let config = KsmConfig::load(&config)?;
    Ok(Some(Target {
        vault: Vault::new(config, http.clone(), profile.keeper_endpoint.clone()),
        uid,
    }))
}

/// What the state keeps of the target: the UID and the config's path, and the key id the record holds when it
/// is the record the state already knew.
pub fn link(t: &Target, state: &State) -> KeeperLink {
    let key_id = state
        .keeper
        .as_ref()
        .filter(|k| k.record_uid == t.uid)
        .and_then(|k| k.key_id.clone());
    KeeperLink {
        record_uid: t.uid.clone(),
        config_path: t.vault.config_path().map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.to_path_buf())
                .display()
                .to_string()
        }),
        key_id,
    }
}

/// The Admin Console values and, with a new secret, its value and facts, as the record receives them.
pub fn values(outputs: &Outputs, new: Option<&NewSecret>, deployment: &str) -> VaultValues {
    VaultValues {
        client_id: outputs.client_id.clone(),
        secret: new.map(|n| NewValue {
            secret: n.value.clone(),
            key_id: n.key_id.clone(),
            expires: n.end_date_time.clone(),
        }),
        endpoint_url: outputs.endpoint_url.clone(),
        tenant_id: outputs.tenant_id.clone(),
        dcr_immutable_id: outputs.dcr_immutable_id.clone(),
        deployment: deployment.to_string(),
    }
}

/// The error of a vault write that failed after the secret was made: the value went to `where_to` instead.
pub fn write_failed(uid: &str, e: crate::vault::VaultError, where_to: &str) -> Error {
    Error::Other(format!(
        "the new client secret was not stored in Keeper record {uid}: {e}\n  its value was {where_to}: it is the only copy\nhint: store it in the record yourself now, or re-run the same command: it makes a new secret and writes it to the record"
    ))
}
