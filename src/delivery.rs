//! A new client secret's delivery, shared by setup and rotate-secret: its value reaches a place the admin reads it
//! from (the Keeper record, the secret file, stdout), or the secret is removed again; old secrets go only after.
//!
//! A place counts only once it has taken the value: the record saved, the file written and synced, stdout written
//! and flushed. Until then the secret is recorded as undelivered, and nothing older is removed.

use std::path::{Path, PathBuf};

use crate::azure::graph::NewSecret;
use crate::error::Error;
use crate::printer::Rendered;
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
            Place::File(p) => write!(f, "--secret-out {}", p.display()),
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

    /// The file that took the value.
    pub fn in_file(&self) -> Option<&Path> {
        self.to.iter().find_map(|p| match p {
            Place::File(f) => Some(f.as_path()),
            _ => None,
        })
    }

    /// What a report written after this delivery needs to know of it.
    pub fn places(&self, show: bool) -> crate::printer::SecretPlaces<'_> {
        crate::printer::SecretPlaces {
            show,
            file: self.in_file(),
            vault: self.in_vault(),
        }
    }

    /// Why no place took the value, one line each.
    fn reasons(&self) -> String {
        self.failed
            .iter()
            .map(|(p, e)| format!("\n  - {p}: {}", e.to_string().replace('\n', " ")))
            .collect()
    }
}

/// Delivers `new` to every destination: the Keeper record first, then the file, then stdout, whose text
/// `report` renders once it knows where the value went (and shows the value when asked, or when the record
/// could not take it and there is no file). A failure at one place is kept in [`Delivery::failed`]; the caller
/// decides with [`Delivery::delivered`].
pub async fn deliver(
    new: &NewSecret,
    to: Destinations<'_>,
    report: impl FnOnce(&Delivery, bool) -> Rendered,
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
        match crate::private_file::write(f, "--secret-out", new.value.expose().as_bytes()) {
            Ok(()) => d.to.push(Place::File(f.to_path_buf())),
            Err(e) => d.failed.push((Place::File(f.to_path_buf()), e)),
        }
    }
    if !show && d.to.is_empty() {
        // No report would carry it, and one without it would point to a secret about to be removed.
        return d;
    }
    let r = report(&d, show);
    if r.carries_value && crate::printer::stdout_reaches_nobody() {
        d.failed.push((
            Place::Stdout,
            Error::Other(
                "stdout goes nowhere (/dev/null, or closed): nobody would read the value".into(),
            ),
        ));
        return d;
    }
    match crate::printer::write_stdout(&r.text) {
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

/// Whether stdout is to carry the value: a person's terminal shows it unless it goes to a file or the Keeper
/// record (or with `--show-secret`); the JSON only with `--show-secret`.
pub fn shows_value(human: bool, show_secret: bool, to_file: bool, to_vault: bool) -> bool {
    if human {
        !to_file && (show_secret || !to_vault)
    } else {
        show_secret
    }
}

/// Removes a secret no place took ([`crate::steps::secret::withdraw`], saying why); `restore` puts the state
/// back as it was before the secret was made.
pub async fn withdraw_undelivered(
    rest: &crate::rest::Rest,
    app_object_id: &str,
    new: &NewSecret,
    d: &Delivery,
    restore: impl FnOnce() -> crate::error::Result<()>,
) -> Error {
    crate::steps::secret::withdraw(rest, app_object_id, &new.key_id, &nowhere(d), restore).await
}

/// Records in the state that the secret `key_id` was delivered, and that the Keeper record holds it when it
/// went there. The caller saves.
pub fn record_delivered(state: &mut crate::state::State, d: &Delivery, key_id: &str) {
    if let Some(sec) = state.secret.as_mut().filter(|sec| sec.key_id == key_id) {
        sec.delivered = true;
    }
    if d.in_vault().is_some() {
        if let Some(l) = state.keeper.as_mut() {
            l.key_id = Some(key_id.to_string());
        }
    }
}

/// The places that took the value, for a message: `Keeper record X, --secret-out F`.
pub fn places_taken(d: &Delivery) -> String {
    d.to.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The error for a secret that was delivered but that the state file could not record; `hint` says what that
/// leaves (and what to do).
pub fn unrecorded(key_id: &str, d: &Delivery, e: &Error, hint: &str) -> Error {
    Error::Other(format!(
        "the new client secret (key id {key_id}) was delivered ({}), but the state file could not record that: {}\nhint: {hint}",
        places_taken(d),
        e.to_string().replace('\n', " ")
    ))
}

/// The reason to hand [`crate::steps::secret::withdraw`] when no place took the value.
pub fn nowhere(d: &Delivery) -> String {
    if d.failed.is_empty() {
        "it had nowhere to go".into()
    } else {
        format!("no place took its value:{}", d.reasons())
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
