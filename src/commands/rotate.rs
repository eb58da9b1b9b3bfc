//! `keeper-azmon rotate-secret`: a new client secret for the Admin Console; the old one goes once the console has the new.
//!
//! The new value always has somewhere to go before it exists (a terminal, `--secret-out`, or `--show-secret`),
//! the state carries the same crash marker as setup (`secret_pending_since`) around `addPassword`, and the working
//! secret is removed only after the new one was delivered.

use crate::azure::graph;
use crate::cli::RotateArgs;
use crate::delivery;
use crate::error::{Error, Result};
use crate::printer::{self, Format};
use crate::rest::Rest;
use crate::state::{SecretRecord, StateFile};
use crate::steps::{keeper, Key};

async fn remove_retired(rest: &Rest, sf: &mut StateFile, app_id: &str) -> Result<Vec<String>> {
    let retired = sf.state.retired_secrets.clone();
    for key in &retired {
        graph::remove_password(rest, app_id, key).await?;
        sf.state.retired_secrets.retain(|k| k != key);
        sf.save()?;
    }
    Ok(retired)
}

/// Refuses to remove old secrets while the current one was never delivered: they may be all Keeper has.
fn require_delivered(sf: &StateFile) -> Result<()> {
    match &sf.state.secret {
        Some(s) if s.delivered => Ok(()),
        _ => Err(Error::input(
            "the newest client secret was never delivered (shown, or written to its file), so the old ones are kept: they may be the ones Keeper uses",
            "run `keeper-azmon rotate-secret --secret-out FILE` (or on a terminal) to make and deliver a new one first",
        )),
    }
}

/// Removes secrets an interrupted run made and never recorded (their values were never shown), and clears the
/// crash marker.
async fn remove_orphans(
    rest: &Rest,
    sf: &mut StateFile,
    app_id: &str,
    description: &str,
) -> Result<()> {
    if sf.state.secret_pending_since.is_none() {
        return Ok(());
    }
    if let Some(app) = graph::get_application(rest, app_id).await? {
        for key in crate::steps::secret::unrecorded(&sf.state, &app, description) {
            graph::remove_password(rest, app_id, &key).await?;
        }
    }
    sf.state.secret_pending_since = None;
    sf.state.secret_pending_known.clear();
    sf.save()
}

pub async fn execute(args: RotateArgs) -> Result<()> {
    let secret_out = args.secret_out.clone().resolve();
    if !args.common.state.exists() {
        return Err(Error::input(
            format!("no state file at {}", args.common.state.display()),
            "pass --state with the file setup wrote",
        ));
    }
    if !(1..=730).contains(&args.secret_expiry_days) {
        return Err(Error::input(
            format!(
                "--secret-expiry-days {} is out of range",
                args.secret_expiry_days
            ),
            "choose 1 to 730 days",
        ));
    }
    let human = args.common.output == Format::Human;
    if args.dry_run {
        return dry_run(&args, secret_out.as_deref()).await;
    }
    let mut sf = StateFile::open(&args.common.state)?;
    let names_record = args.keeper.keeper_record.is_some() || sf.state.keeper.is_some();
    if !args.finish && !names_record {
        // Before anything is read or written: the new value must have somewhere to go.
        printer::require_way_out(
            "rotate-secret",
            args.common.output,
            args.show_secret,
            secret_out.as_deref(),
        )?;
    }
    let app_id = sf
        .resource(&Key::Application.to_string())
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            Error::input(
                "the state file has no app registration",
                "run `keeper-azmon setup` first",
            )
        })?;
    if args.finish {
        require_delivered(&sf)?;
    }
    let (_, profile, rest) = super::connect(&args.common, &sf.state)?;
    let _deployment_lock =
        crate::state::DeploymentLock::take(&profile.resource_manager_endpoint, &sf)?;
    // The Keeper record must be writable before a new secret exists.
    let keeper = if args.finish {
        None
    } else {
        keeper::ready(&args.keeper, &sf.state, &profile, &rest.http).await?
    };
    if let Some(k) = &keeper {
        if k.new_in.is_some() {
            return Err(Error::input(
                "rotate-secret writes the record setup made or was given; --keeper-folder is for setup",
                "pass --keeper-record UID, or run setup with --keeper-folder first",
            ));
        }
        k.vault.preflight(&k.uid).await?;
    }
    // On a person's terminal, the first write is theirs to allow (as setup's plan is); a pipeline proceeds.
    if !args.finish && !args.yes && human && crate::console::may_prompt() {
        let question = format!("Add a new client secret to app {app_id}?");
        if !printer::confirm(&question, true)? {
            return Err(Error::input(
                "cancelled: nothing was changed",
                "re-run and answer y, or pass --yes",
            ));
        }
    }
    // The Keeper link as it was: put back should the new secret not be delivered.
    let keeper_before = sf.state.keeper.clone();
    if let Some(k) = &keeper {
        sf.state.keeper = Some(keeper::link(k, &sf.state));
        sf.save()?;
    }

    if args.finish {
        let proof = if args.force || sf.state.retired_secrets.is_empty() {
            None
        } else {
            Some(proof_of_use(&rest, &sf.state).await?)
        };
        let removed = remove_retired(&rest, &mut sf, &app_id).await?;
        return printer::print(
            args.common.output,
            &FinishReport {
                removed,
                proof,
                forced: args.force,
            },
        );
    }

    let description = sf
        .state
        .secret
        .as_ref()
        .map(|s| s.description.clone())
        .unwrap_or_else(|| crate::cli::defaults::SECRET_DESCRIPTION.into());
    remove_orphans(&rest, &mut sf, &app_id, &description).await?;

    // The crash marker: a secret made after it and not recorded (nor on the app already) is an orphan the next
    // run removes.
    let known = graph::get_application(&rest, &app_id).await?.map(|a| {
        let mut k: Vec<String> = a
            .password_credentials
            .into_iter()
            .map(|p| p.key_id)
            .collect();
        k.sort();
        k
    });
    sf.state.secret_pending_since = Some(crate::clock::now_rfc3339());
    sf.state.secret_pending_known = known.unwrap_or_default();
    sf.save()?;
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(args.secret_expiry_days);
    let new = graph::add_password(&rest, &app_id, &description, end).await?;
    sf.state.rotated_at = Some(crate::clock::now_rfc3339_seconds());
    let previous = sf.state.secret.clone();
    let undelivered_old = match sf.state.secret.take() {
        // The working secret stays valid until the new one is delivered and the console has it.
        Some(old) if old.delivered => {
            sf.state.retired_secrets.push(old.key_id);
            None
        }
        // Never shown to anyone: nothing can be using it. Tracked with the retired ones until it is removed,
        // once the new one is delivered.
        Some(old) => {
            sf.state.retired_secrets.push(old.key_id.clone());
            Some(old.key_id)
        }
        None => None,
    };
    sf.state.secret = Some(SecretRecord {
        key_id: new.key_id.clone(),
        description,
        end_date_time: new.end_date_time.clone(),
        delivered: false,
    });
    sf.state.secret_pending_since = None;
    sf.state.secret_pending_known.clear();
    if let Err(e) = sf.save() {
        let why = format!(
            "the state file could not record it ({})",
            e.to_string().replace('\n', " ")
        );
        return Err(
            crate::steps::secret::withdraw(&rest, &app_id, &new.key_id, &why, || Ok(())).await,
        );
    }

    let outputs = sf.state.outputs.clone().unwrap_or_default();
    let to = delivery::Destinations {
        vault: keeper.as_ref().map(|k| {
            (
                k,
                keeper::values(&outputs, Some(&new), &sf.state.deployment),
            )
        }),
        file: secret_out.as_deref(),
        show: delivery::shows_value(
            human,
            args.show_secret,
            secret_out.is_some(),
            keeper.is_some(),
        ),
    };
    let retired = sf.state.retired_secrets.clone();
    let d = delivery::deliver(&new, to, |d, show| {
        render(human, &new, d, show, args.remove_old, &retired)
    })
    .await;
    if !d.delivered() {
        return Err(
            delivery::withdraw_undelivered(&rest, &app_id, &new, &d, || {
                crate::steps::secret::restore_previous(
                    &mut sf.state,
                    &new.key_id,
                    previous.as_ref(),
                    keeper_before,
                );
                sf.save()
            })
            .await,
        );
    }
    // Delivered: recorded so, and only then may anything older go.
    delivery::record_delivered(&mut sf.state, &d, &new.key_id);
    if let Err(e) = sf.save() {
        return Err(delivery::unrecorded(
            &new.key_id,
            &d,
            &e,
            "make the state file writable; the old secrets were kept",
        ));
    }
    // From here on every error says the new secret was delivered, and where.
    let delivered = format!(
        "the new client secret (key id {}) was delivered ({}) and recorded",
        new.key_id,
        delivery::places_taken(&d)
    );
    let after = |e: Error| Error::Other(format!("{delivered}; then: {e}"));
    if let Some(key) = &undelivered_old {
        match graph::remove_password(&rest, &app_id, key).await {
            Ok(_) => {
                sf.state.retired_secrets.retain(|k| k != key);
                sf.save().map_err(after)?;
            }
            // Still tracked with the retired ones: `rotate-secret --finish` or teardown removes it.
            Err(e) => printer::warn(format_args!(
                "the undelivered secret {key} could not be removed yet ({}); rotate-secret --finish removes it",
                e.to_string().replace('\n', " ")
            )),
        }
    }
    // The old secret goes only once the new one is delivered, and never while the record lacks it.
    let remove = if d.vault_error.is_some() {
        false
    } else if args.remove_old {
        true
    } else if human && crate::console::may_prompt() && !sf.state.retired_secrets.is_empty() {
        printer::confirm(
            "Has the Admin Console been updated with the new secret? Remove the old one now?",
            false,
        )
        .map_err(after)?
    } else {
        false
    };
    let removed = if remove {
        remove_retired(&rest, &mut sf, &app_id)
            .await
            .map_err(after)?
    } else {
        vec![]
    };
    // The run's own error (a Keeper record that did not take the value) comes before a stdout that cannot be
    // written: a closed pipe must not turn it into a quiet success.
    let printed = if !human {
        Ok(())
    } else if removed.is_empty() && !sf.state.retired_secrets.is_empty() {
        printer::line("  The old secret still works. Once the console has the new one: keeper-azmon rotate-secret --finish")
    } else if !removed.is_empty() {
        printer::line(format_args!(
            "  Removed the old secret ({}).",
            removed.join(", ")
        ))
    } else {
        Ok(())
    };
    match delivery::partly(d) {
        Some(e) => Err(e),
        None => printed,
    }
}

/// What rotate-secret prints once the new secret exists: for a person, where its value is (or the value); as
/// JSON, one object. The JSON is written before old secrets are removed (the value must be safe first): its
/// `removing` names the ones this run removes next (with `--remove-old`), and a removal that then fails ends the
/// run with an error that says the new secret was delivered.
fn render(
    human: bool,
    new: &crate::azure::graph::NewSecret,
    d: &delivery::Delivery,
    show: bool,
    remove_old: bool,
    retired: &[String],
) -> crate::printer::Rendered {
    let removing = remove_old && d.vault_error.is_none();
    let (removed, still_valid): (&[String], &[String]) = if removing {
        (retired, &[])
    } else {
        (&[], retired)
    };
    let report = RotateReport {
        client_secret: show.then(|| new.value.expose().to_string()),
        keeper_record: d.in_vault().map(str::to_string),
        secret_key_id: new.key_id.clone(),
        secret_expires: crate::clock::to_the_second(&new.end_date_time),
        secret_file: d.in_file().map(|f| f.display().to_string()),
        removing: removed.to_vec(),
        still_valid: still_valid.to_vec(),
    };
    crate::printer::Rendered {
        text: printer::render(if human { Format::Human } else { Format::Json }, &report),
        carries_value: show,
    }
}

/// `rotate-secret`'s report of the new secret (docs/json.md). `client_secret` is the value, only when it is to
/// be shown (`--show-secret`, or a terminal).
#[derive(Debug, serde::Serialize)]
pub struct RotateReport {
    client_secret: Option<String>,
    keeper_record: Option<String>,
    secret_key_id: String,
    secret_expires: String,
    secret_file: Option<String>,
    /// The retired secrets this run removes next (`--remove-old`).
    removing: Vec<String>,
    /// The retired secrets that still work.
    still_valid: Vec<String>,
}

impl printer::Report for RotateReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        match (&self.client_secret, &self.secret_file, &self.keeper_record) {
            // Shown on purpose: the admin pastes it into the Keeper Admin Console (a terminal, or --show-secret).
            (Some(value), _, _) => writeln!(w, "New Client Secret Value:  {value}")?,
            (None, Some(f), _) => {
                writeln!(w, "New Client Secret Value written to {f} (mode 0600)")?
            }
            (None, None, Some(uid)) => writeln!(
                w,
                "New Client Secret Value stored in Keeper record {uid} (its password field)"
            )?,
            (None, None, None) => {}
        }
        writeln!(
            w,
            "  key id {}, expires {}",
            self.secret_key_id, self.secret_expires
        )?;
        match &self.keeper_record {
            Some(uid) => writeln!(w, "  ! Copy it from Keeper record {uid} into Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs."),
            None => writeln!(w, "  ! Paste it into Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs, and store it in your Keeper vault."),
        }
    }
}

/// `rotate-secret --finish`'s report: the key ids of the old secrets it removed.
#[derive(Debug, serde::Serialize)]
pub struct FinishReport {
    removed: Vec<String>,
    /// The sign-in that showed Keeper using the new secret; null with `--force` (or nothing to remove).
    proof: Option<crate::watch::SignIn>,
    forced: bool,
}

impl printer::Report for FinishReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        if let Some(p) = &self.proof {
            writeln!(
                w,
                "The app signed in with the new secret (key id {}) at {}: the old ones are not needed.",
                p.key_id, p.at
            )?;
        } else if self.forced {
            writeln!(
                w,
                "Without proof of use (--force): the old secrets go as you asked."
            )?;
        }
        writeln!(w, "removed {} old secret(s)", self.removed.len())
    }
}

/// How to get the proof `--finish` asks for.
const SIGN_IN_LOGS_HOW: &str = "send Entra's sign-in logs to the deployment's workspace: Microsoft Entra ID > Monitoring > Diagnostic settings, category ServicePrincipalSignInLogs, destination the workspace (it needs Entra ID P1 or P2 and a Security Administrator); or, once you have checked that the Admin Console has the new secret, run `rotate-secret --finish --force`";

/// The proof that Keeper uses the new secret: the app's newest successful sign-in with a secret since the rotation
/// used the new secret's key id (`AADServicePrincipalSignInLogs.ServicePrincipalCredentialKeyId`, taken to be
/// Graph's `passwordCredentials[].keyId`: see `crate::watch::SignIn`). A sign-in of `keeper-azmon verify` or
/// `send` with the new secret counts too: the logs do not tell Keeper's posts from the tool's.
async fn proof_of_use(rest: &Rest, s: &crate::state::State) -> Result<crate::watch::SignIn> {
    use crate::watch::{Reader, SignIns};
    let o = s.outputs.clone().unwrap_or_default();
    let new = s
        .secret
        .as_ref()
        .map(|c| c.key_id.clone())
        .unwrap_or_default();
    let reader = Reader::open(
        &rest.http,
        &rest.profile,
        &rest.auth,
        &o.workspace_customer_id,
    )
    .await?;
    let since = s.rotated_at.as_deref();
    let seen = match reader.last_sign_in(&o.client_id, since).await {
        Ok(seen) => seen,
        Err(e) if crate::watch::is_forbidden(&e) => {
            return Err(Error::input(
                "rotate-secret --finish cannot read the workspace's sign-in logs: the signed-in identity may not read its data",
                "assign it Log Analytics Reader (or Reader) on the workspace, or run `rotate-secret --finish --force` once you have checked the Admin Console",
            ))
        }
        Err(e) => return Err(e),
    };
    match seen {
        SignIns::NoLogs => Err(Error::input(
            "the old secrets are kept: nothing proves that Keeper signs in with the new one, because the workspace has no AADServicePrincipalSignInLogs",
            SIGN_IN_LOGS_HOW,
        )),
        SignIns::Last(Some(si)) if si.key_id.eq_ignore_ascii_case(&new) => Ok(si),
        SignIns::Last(Some(si)) => Err(Error::input(
            format!(
                "the old secrets are kept: the app's newest sign-in ({}) used key id {}, not the new secret's {new}",
                si.at, si.key_id
            ),
            "paste the new secret into the Admin Console (Reporting & Alerts > Azure Monitor Logs), let Keeper post an event (sign-in logs take a few minutes to arrive), then run `rotate-secret --finish` again; or --force",
        )),
        SignIns::Last(None) => Err(Error::input(
            format!(
                "the old secrets are kept: the app has not signed in with a secret since the rotation{}",
                since.map(|t| format!(" at {t}")).unwrap_or_default()
            ),
            format!("paste the new secret into the Admin Console, let Keeper post an event (sign-in logs take a few minutes to arrive), then run `rotate-secret --finish` again. If the workspace gets no sign-in logs at all: {SIGN_IN_LOGS_HOW}"),
        )),
    }
}

/// `rotate-secret --dry-run`: what a rotation (or `--finish`) would add and remove, read from the state file and
/// the app as Graph has it; nothing written anywhere, not even the state file's lock.
async fn dry_run(args: &RotateArgs, secret_out: Option<&std::path::Path>) -> Result<()> {
    let s = StateFile::read(&args.common.state)?;
    let app = s
        .resources
        .get(&Key::Application.to_string())
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            Error::input(
                "the state file has no app registration",
                "run `keeper-azmon setup` first",
            )
        })?;
    let (_, _, rest) = super::connect(&args.common, &s)?;
    let on_app = graph::get_application(&rest, &app).await?;
    let secrets_now = on_app.map_or(0, |a| a.password_credentials.len());
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(args.secret_expiry_days);
    let deliver_to = match (secret_out, args.show_secret, &s.keeper) {
        (Some(f), _, _) => format!("--secret-out {}", f.display()),
        (None, _, Some(k)) => format!("Keeper record {}", k.record_uid),
        (None, true, None) => "stdout".into(),
        (None, false, None) => "the terminal".into(),
    };
    let report = DryRunReport {
        dry_run: true,
        app: s
            .outputs
            .as_ref()
            .map(|o| o.client_id.clone())
            .unwrap_or(app),
        adds_secret: !args.finish,
        expires: (!args.finish).then(|| crate::clock::rfc3339(end)),
        deliver_to: (!args.finish).then_some(deliver_to),
        removes: if args.finish || args.remove_old {
            s.retired_secrets.clone()
        } else {
            vec![]
        },
        current: s.secret.as_ref().map(|r| r.key_id.clone()),
        secrets_on_app: secrets_now,
    };
    printer::print(args.common.output, &report)
}

/// `rotate-secret --dry-run`'s report (docs/json.md).
#[derive(Debug, serde::Serialize)]
struct DryRunReport {
    dry_run: bool,
    /// The app's client id.
    app: String,
    adds_secret: bool,
    /// When the new secret would expire (RFC 3339, seconds).
    expires: Option<String>,
    deliver_to: Option<String>,
    /// Key ids this run would remove (`--finish`, `--remove-old` once delivered).
    removes: Vec<String>,
    /// The key id of the working secret, which stays until the new one is delivered.
    current: Option<String>,
    secrets_on_app: usize,
}

impl printer::Report for DryRunReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(
            w,
            "rotate-secret --dry-run (nothing written) for app {}:",
            self.app
        )?;
        if let (Some(e), Some(to)) = (&self.expires, &self.deliver_to) {
            writeln!(
                w,
                "  would add a client secret expiring {e}, delivered to {to}"
            )?;
        }
        if self.removes.is_empty() {
            writeln!(
                w,
                "  would remove no secret ({} on the app now)",
                self.secrets_on_app
            )?;
        } else {
            writeln!(
                w,
                "  would remove {} old secret(s): {}",
                self.removes.len(),
                self.removes.join(", ")
            )?;
        }
        Ok(())
    }
}
