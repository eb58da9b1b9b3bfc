//! Guide step 2's last line, "store it in your Keeper vault", done by the tool (issue 14): which Keeper record,
//! through which KSM config, and the values written into it.

use crate::azure::graph::NewSecret;
use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::state::{KeeperLink, Outputs, State};
use crate::vault::args::{KeeperArgs, KsmArgs};
use crate::vault::{KsmConfig, NewValue, Vault, VaultValues};

pub use crate::vault::target::Target;

/// A Keeper record UID: 16 random bytes in URL-safe base64 without padding (22 characters), as the vault shows it.
pub fn check_uid(flag: &str, uid: &str) -> Result<()> {
    let ok = uid.len() == 22
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("{flag} '{uid}' is not a Keeper UID"),
            format!("copy the UID from the Keeper vault (the info panel: 22 letters, digits, - and _) into {flag}"),
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
    let uid = args
        .keeper_record
        .clone()
        .or_else(|| recorded.map(|k| k.record_uid.clone()));
    // A folder makes a record only when no record is named (a re-run uses the one it made).
    let new_in = match (&uid, &args.keeper_folder) {
        (None, Some(f)) => {
            check_uid("--keeper-folder", f)?;
            Some(f.clone())
        }
        (None, None) => return Ok(None),
        _ => None,
    };
    let uid = uid.unwrap_or_default();
    if new_in.is_none() {
        check_uid("--keeper-record", &uid)?;
    }
    let created = recorded.is_some_and(|k| k.created && k.record_uid == uid);
    let vault = vault(&args.ksm, state, profile, http, &uid)?;
    Ok(Some(Target {
        vault,
        uid,
        new_in,
        created,
    }))
}

/// The vault through `--ksm-config` (or KSM_CONFIG), else through the config file the state names; `uid` names
/// the record in messages. A one-time access token needs `--ksm-config-out`, checked writable here, before
/// Keeper is asked anything.
pub fn vault(
    ksm: &KsmArgs,
    state: &State,
    profile: &CloudProfile,
    http: &reqwest::Client,
    uid: &str,
) -> Result<Vault> {
    let recorded = state.keeper.as_ref();
    let given = ksm.ksm_config.clone().filter(|c| !c.trim().is_empty());
    let config = match (given, recorded.and_then(|k| k.config_path.clone())) {
        (Some(c), _) | (None, Some(c)) => c,
        // The state names the record, but its config was base64 text, which the state never keeps.
        (None, None) if recorded.is_some_and(|k| k.record_uid == uid) => {
            return Err(Error::input(
                format!("the state names Keeper record {uid}, but no KSM config is available to reach it"),
                "pass --ksm-config or set KSM_CONFIG again; the state keeps only a config's path (never a base64 config's content)",
            ))
        }
        (None, None) => {
            return Err(Error::input(
                format!("--ksm-config is required to reach Keeper record {uid}"),
                "pass --ksm-config FILE (or set KSM_CONFIG to the base64 config the Keeper vault gives a KSM device, or to a one-time access token with --ksm-config-out FILE)",
            ))
        }
    };
    let config = KsmConfig::load(&config)?;
    let out = ksm.ksm_config_out.clone();
    if config.is_token() {
        let Some(out) = &out else {
            return Err(Error::input(
                "--ksm-config is a one-time access token, and nowhere is named to save the config it yields",
                "pass --ksm-config-out FILE (the config is written there, mode 0600, and later runs use it; a token works only once)",
            ));
        };
        crate::private_file::check_writable(out, "--ksm-config-out")?;
    } else if let Some(out) = &out {
        // Not an error: a pipeline may pass the same flags on every run, after the token was redeemed into a file.
        crate::console::note(format_args!(
            "warning: --ksm-config-out {} is used only with a one-time access token; --ksm-config is a config, so nothing is written there",
            out.display()
        ));
    }
    Ok(Vault::new(config, http.clone(), profile, out))
}

/// [`resolve`], with a one-time access token redeemed (and its config saved): for the commands that use the
/// record at once (verify, status, rotate-secret).
pub async fn ready(
    args: &KeeperArgs,
    state: &State,
    profile: &CloudProfile,
    http: &reqwest::Client,
) -> Result<Option<Target>> {
    let mut target = resolve(args, state, profile, http)?;
    if let Some(t) = target.as_mut() {
        t.redeem().await?;
    }
    Ok(target)
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
        created: t.created,
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

/// The Keeper record as a kind of the deployment: setup's delivery writes it (not a step of the plan), status
/// compares it, and teardown deletes it only when the tool made it and `--delete-keeper-record` asks, last.
pub struct Record;

/// Whether the Keeper record holds the current secret's key id, the client id and the Endpoint URL; never
/// reads out the secret value.
async fn drift(s: &State, k: &Target) -> Result<crate::steps::kind::Checked> {
    use crate::steps::kind::{Checked, Health};
    use crate::vault::{label, VaultError};
    let rec = match k.vault.read(&k.uid).await {
        Ok(r) => r,
        Err(VaultError::UnknownRecord(_)) => {
            return Ok(Checked::new(
                Health::Missing,
                format!("record {} is not shared with the KSM application", k.uid),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let out = s.outputs.clone().unwrap_or_default();
    let key_id = s
        .secret
        .as_ref()
        .map(|x| x.key_id.clone())
        .unwrap_or_default();
    let mut off = vec![];
    for (what, want, got) in [
        (
            "the client secret's key id",
            key_id,
            rec.custom.get(label::KEY_ID).cloned(),
        ),
        ("the client id", out.client_id, rec.login.clone()),
        ("the Endpoint URL", out.endpoint_url, rec.url.clone()),
    ] {
        if got.as_deref() != Some(want.as_str()) {
            off.push(what);
        }
    }
    Ok(if off.is_empty() {
        Checked::new(
            Health::Ok,
            format!("record {} holds the current values", k.uid),
        )
    } else {
        Checked::new(
            Health::Drifted,
            format!(
                "record {} lacks {} (`keeper-azmon rotate-secret` refills it)",
                k.uid,
                off.join(", ")
            ),
        )
    })
}

impl crate::steps::kind::Resource for Record {
    fn kind(&self) -> crate::steps::kind::KindId {
        crate::steps::kind::KindId::KeeperRecord
    }

    /// None of the plan's: setup's delivery writes the record ([`crate::delivery`]).
    fn wanted(&self, _inputs: &crate::steps::Inputs) -> Vec<crate::steps::Key> {
        vec![]
    }

    fn depends_on(&self, _key: &crate::steps::Key) -> Vec<crate::steps::kind::KindId> {
        vec![]
    }

    fn plan(
        &self,
        key: &crate::steps::Key,
        _inputs: &crate::steps::Inputs,
        state: &State,
        _o: &crate::steps::Observed,
    ) -> crate::steps::PlannedStep {
        let uid = state
            .keeper
            .as_ref()
            .map(|k| k.record_uid.clone())
            .unwrap_or_default();
        crate::steps::PlannedStep::new(key.clone(), crate::steps::Action::Reuse, uid)
    }

    fn ensure<'a>(
        &'a self,
        _ctx: &'a crate::steps::Ctx,
        _key: &'a crate::steps::Key,
        _plan: &'a crate::steps::Plan,
    ) -> futures::future::BoxFuture<'a, Result<String>> {
        Box::pin(async { Ok(String::new()) })
    }

    fn recorded(&self, state: &State) -> Vec<crate::steps::kind::Item> {
        state
            .keeper
            .iter()
            .map(|k| crate::steps::kind::Item {
                key: crate::steps::Key::KeeperRecord,
                id: k.record_uid.clone(),
                name: k.record_uid.clone(),
                created: k.created,
                shown: format!("Keeper record {} (made by keeper-azmon)", k.record_uid),
            })
            .collect()
    }

    /// Only with a KSM config at hand.
    fn watched(&self, look: &crate::steps::kind::Look<'_>) -> Vec<crate::steps::kind::Item> {
        if look.keeper.is_some() {
            self.recorded(look.state)
        } else {
            vec![]
        }
    }

    fn health<'a>(
        &'a self,
        look: &'a crate::steps::kind::Look<'a>,
        item: &'a crate::steps::kind::Item,
    ) -> futures::future::BoxFuture<'a, Result<crate::steps::kind::Checked>> {
        Box::pin(async move {
            match &look.keeper {
                Some(k) => drift(look.state, k).await,
                None => Ok(crate::steps::kind::Checked::new(
                    crate::steps::kind::Health::Ok,
                    item.id.clone(),
                )),
            }
        })
    }

    /// The record is the user's unless the tool made it and is asked to delete it; its values (an old secret
    /// among them) stay in the vault's history anyway.
    fn fate(
        &self,
        item: &crate::steps::kind::Item,
        keeping: &crate::steps::kind::Keeping,
        _state: &State,
    ) -> crate::steps::kind::Fate {
        if keeping.delete_keeper_record && item.created {
            crate::steps::kind::Fate::Delete
        } else {
            crate::steps::kind::Fate::Keep(format!(
                "{} {} (the user's Keeper record; its secret stops working with the app)",
                item.key, item.id
            ))
        }
    }

    fn delete<'a>(
        &'a self,
        cx: &'a crate::steps::kind::Deleting<'a>,
        item: &'a crate::steps::kind::Item,
    ) -> futures::future::BoxFuture<'a, Result<crate::steps::kind::Deleted>> {
        Box::pin(async move {
            match cx.vault {
                Some(v) => Ok(crate::steps::kind::Deleted::existed(
                    v.delete(&item.id).await?,
                )),
                None => Err(Error::Other(
                    "no KSM config to delete the Keeper record with".into(),
                )),
            }
        })
    }

    fn forget(&self, state: &mut State, _item: &crate::steps::kind::Item) {
        state.keeper = None;
    }

    /// Whatever depends on what: while anything it opens is left, the record keeps its values.
    fn deleted_last(&self) -> bool {
        true
    }
}
