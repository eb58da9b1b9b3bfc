//! A new client secret's delivery, shared by setup and rotate-secret: its value reaches a place the admin reads it
//! from (the Keeper record, the secret file, stdout), or the secret is removed again; old secrets go only after.
//!
//! A place counts only once it has taken the value: the record saved, the file written and synced, stdout written
//! and flushed. Until then the secret is recorded as undelivered, and nothing older is removed.

use std::path::{Path, PathBuf};

use crate::azure::graph::{self, NewSecret};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{SecretRecord, State};
use crate::steps::keeper;

/// Where a secret's value went, or was to go.
#[derive(Debug, Clone)]
pub enum Place {
    Vault(String),
    File(PathBuf),
    Stdout,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Vault(uid) => write!(f, "Keeper record {uid}"),
            Place::File(p) => write!(f, "--secret-file {}", p.display()),
            Place::Stdout => f.write_str("stdout"),
        }
    }
}

/// Where a new secret's value is to go.
pub struct Destinations<'a> {
    /// The Keeper record, with the console values written beside the secret.
    pub vault: Option<(&'a keeper::Target, crate::vault::VaultValues)>,
    pub file: Option<&'a Path>,
    /// The value on stdout (a person's terminal, or the JSON with `--show-secret`).
    pub show: bool,
}

/// What a delivery did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// The places that took the value.
    pub to: Vec<Place>,
    /// The places that did not, and why.
    pub failed: Vec<(Place, Error)>,
    /// The Keeper record's own error, when its write failed (the value then went elsewhere, or nowhere).
    pub vault_error: Option<(String, crate::vault::VaultError)>,
    /// Whether stdout carried the value.
    pub shown: bool,
    /// stdout refused a report that did not carry the value (the value is elsewhere).
    pub report_error: Option<Error>,
}

impl Delivery {
    pub fn delivered(&self) -> bool {
        !self.to.is_empty()
    }

    pub fn in_vault(&self) -> Option<&str> {
        self.to.iter().find_map(|p| match p {
            Place::Vault(uid) => Some(uid.as_str()),
            _ => None,
        })
    }

    pub fn in_file(&self) -> bool {
        self.to.iter().any(|p| matches!(p, Place::File(_)))
    }

    /// Why no place took the value, one line each.
    fn reasons(&self) -> String {
        self.failed
            .iter()
            .map(|(p, e)| format!("\n  - {p}: {}", e.to_string().replace('\n', " ")))
            .collect()
    }
}

/// How the report on stdout is to look, given what has been delivered before it: the text, and whether it
/// carries the value.
pub struct Report {
    pub text: String,
    pub carries_value: bool,
}

/// Delivers `new` to every destination: the Keeper record first, then the file, then stdout, whose text
/// `report` renders once it knows where the value went (and shows the value when asked, or when the record
/// could not take it and there is no file). A failure at one place is kept in [`Delivery::failed`]; the caller
/// decides with [`Delivery::delivered`].
pub async fn deliver(
    new: &NewSecret,
    to: Destinations<'_>,
    report: impl FnOnce(&Delivery, bool) -> Report,
) -> Delivery {
    let mut d = Delivery::default();
    let mut show = to.show;
    if let Some((target, values)) = to.vault {
        match target.vault.write(&target.uid, values).await {
            Ok(_) => d.to.push(Place::Vault(target.uid.clone())),
            Err(e) => {
                d.failed.push((
                    Place::Vault(target.uid.clone()),
                    Error::Other(e.to_string()),
                ));
                d.vault_error = Some((target.uid.clone(), e));
                // Never lost: shown instead, unless it goes to a file.
                if to.file.is_none() {
                    show = true;
                }
            }
        }
    }
    if let Some(f) = to.file {
        match crate::private_file::write(f, "--secret-file", new.value.expose().as_bytes()) {
            Ok(()) => d.to.push(Place::File(f.to_path_buf())),
            Err(e) => d.failed.push((Place::File(f.to_path_buf()), e)),
        }
    }
    if !show && d.to.is_empty() {
        // No report would carry it, and one without it would point to a secret about to be removed.
        return d;
    }
    let r = report(&d, show);
    match crate::output::write_stdout(&r.text) {
        Ok(()) if r.carries_value => {
            d.shown = true;
            d.to.push(Place::Stdout);
        }
        Ok(()) => {}
        Err(e) if r.carries_value => d.failed.push((Place::Stdout, e)),
        Err(e) => d.report_error = Some(e),
    }
    d
}

/// Removes a new secret whose value no place took (nobody holds it), and says so: the error to end the run with.
/// While Graph may not yet show a secret made moments ago, the removal is tried again. `restore` puts the state
/// back to the secret before it, once it is gone.
pub async fn withdraw(
    rest: &Rest,
    app_object_id: &str,
    new_key_id: &str,
    why: &str,
    restore: impl FnOnce() -> Result<()>,
) -> Error {
    let until =
        tokio::time::Instant::now() + graph::REPLICATION_WAIT.mul_f64(crate::rest::time_scale());
    let removed = graph::gone_while_replicating(
        until,
        || {},
        || graph::remove_password(rest, app_object_id, new_key_id),
    )
    .await;
    let head = format!("the new client secret (key id {new_key_id}) was not delivered: {why}");
    match removed {
        Ok(_) => {
            let restored = match restore() {
                Ok(()) => String::new(),
                Err(e) => format!(
                    "\n  the state file could not be put back ({}); the next run reconciles it with the app",
                    e.to_string().replace('\n', " ")
                ),
            };
            Error::Other(format!(
                "{head}\n  it was removed again: nobody holds its value, and the secret before it (if any) is kept{restored}\nhint: fix what is named above and run the same command again: it makes a new secret"
            ))
        }
        Err(e) => Error::Other(format!(
            "{head}\n  it could not be removed either ({}): it is recorded as undelivered, and the next setup or rotate-secret removes it\nhint: fix what is named above and run the same command again",
            e.to_string().replace('\n', " ")
        )),
    }
}

/// The reason to hand [`withdraw`] when no place took the value.
pub fn nowhere(d: &Delivery) -> String {
    if d.failed.is_empty() {
        "it had nowhere to go".into()
    } else {
        format!("no place took its value:{}", d.reasons())
    }
}

/// The state as it was before `new_key_id` was made: the secret before it current again when it had been
/// delivered (no longer waiting to be retired), none otherwise.
pub fn restore_previous(state: &mut State, new_key_id: &str, previous: Option<&SecretRecord>) {
    if state
        .secret
        .as_ref()
        .is_some_and(|s| s.key_id == new_key_id)
    {
        state.secret = None;
    }
    if let Some(p) = previous.filter(|p| p.delivered) {
        state.retired_secrets.retain(|k| k != &p.key_id);
        state.secret = Some(p.clone());
    }
}

/// The error for a delivery that reached some places but not all (the record, or the file, refused it): the
/// secret is delivered, and the run still fails, naming where its value is.
pub fn partly(d: Delivery) -> Option<Error> {
    if d.failed.is_empty() && d.vault_error.is_none() {
        return d.report_error;
    }
    let where_to =
        d.to.iter()
            .map(|p| match p {
                Place::Stdout => "shown above".to_string(),
                Place::File(f) => format!("written to {}", f.display()),
                Place::Vault(uid) => format!("stored in Keeper record {uid}"),
            })
            .collect::<Vec<_>>()
            .join(" and ");
    if let Some((uid, e)) = d.vault_error {
        return Some(keeper::write_failed(&uid, e, &where_to));
    }
    let (place, e) = d.failed.into_iter().next()?;
    Some(Error::Other(format!(
        "the new client secret did not reach {place}: {}\n  its value was {where_to}: keep it there\nhint: fix {place} before the next rotation",
        e.to_string().replace('\n', " ")
    )))
}
