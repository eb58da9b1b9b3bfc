//! `keeper-azmon rotate-secret`: a new client secret for the Admin Console; the old one goes once the console has the new.
//!
//! The new value always has somewhere to go before it exists (a terminal, `--secret-file`, or `--show-secret`),
//! the state carries the same crash marker as setup (`secret_pending_since`) around `addPassword`, and the working
//! secret is removed only after the new one was delivered.

use std::io::IsTerminal;

use serde_json::json;

use crate::azure::graph;
use crate::cli::RotateArgs;
use crate::error::{Error, Result};
use crate::output::{self, Format};
use crate::rest::Rest;
use crate::state::{SecretRecord, StateFile};
use crate::steps::{keeper, step};

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
            "run `keeper-azmon rotate-secret --secret-file FILE` (or on a terminal) to make and deliver a new one first",
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
    sf.save()
}

pub async fn execute(args: RotateArgs) -> Result<()> {
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
    let mut sf = StateFile::open(&args.common.state)?;
    let names_record = args.keeper.keeper_record.is_some() || sf.state.keeper.is_some();
    if !args.finish && !names_record {
        // Before anything is read or written: the new value must have somewhere to go.
        output::require_way_out(
            "rotate-secret",
            args.common.output,
            args.show_secret,
            args.secret_file.as_deref(),
        )?;
    }
    let app_id = sf
        .resource(step::APP)
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
        sf.state.keeper = Some(keeper::link(k, &sf.state));
        sf.save()?;
    }

    if args.finish {
        let removed = remove_retired(&rest, &mut sf, &app_id).await?;
        if human {
            println!("removed {} old secret(s)", removed.len());
        } else {
            println!("{}", json!({ "removed": removed }));
        }
        return Ok(());
    }

    let description = sf
        .state
        .secret
        .as_ref()
        .map(|s| s.description.clone())
        .unwrap_or_else(|| crate::cli::defaults::SECRET_DESCRIPTION.into());
    remove_orphans(&rest, &mut sf, &app_id, &description).await?;

    // The crash marker: a secret made after it and not recorded is an orphan the next run removes.
    sf.state.secret_pending_since = Some(crate::clock::now_rfc3339());
    sf.save()?;
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(args.secret_expiry_days);
    let new = graph::add_password(&rest, &app_id, &description, end).await?;
    let undelivered_old = match sf.state.secret.take() {
        // The working secret stays valid until the new one is delivered and the console has it.
        Some(old) if old.delivered => {
            sf.state.retired_secrets.push(old.key_id);
            None
        }
        // Never shown to anyone: nothing can be using it.
        Some(old) => Some(old.key_id),
        None => None,
    };
    sf.state.secret = Some(SecretRecord {
        key_id: new.key_id.clone(),
        description,
        end_date_time: new.end_date_time.clone(),
        delivered: false,
    });
    sf.state.secret_pending_since = None;
    sf.save()?;

    let mut delivered = false;
    let mut in_vault = None;
    let mut vault_failure = None;
    if let Some(k) = &keeper {
        let outputs = sf.state.outputs.clone().unwrap_or_default();
        let values = keeper::values(&outputs, Some(&new), &sf.state.deployment);
        match k.vault.write(&k.uid, values).await {
            Ok(_) => {
                in_vault = Some(k.uid.as_str());
                delivered = true;
                if let Some(l) = sf.state.keeper.as_mut() {
                    l.key_id = Some(new.key_id.clone());
                }
                sf.save()?;
            }
            Err(e) => vault_failure = Some((k.uid.clone(), e)),
        }
    }
    // Shown when asked, and when the record could not take it: never lost.
    let show = args.show_secret || vault_failure.is_some();
    if let Some(f) = &args.secret_file {
        output::write_secret_file(f, new.value.expose())?;
        delivered = true;
    }
    if human {
        match &args.secret_file {
            Some(f) => println!(
                "New Client Secret Value written to {} (mode 0600)",
                f.display()
            ),
            None if in_vault.is_some() && !show => println!(
                "New Client Secret Value stored in Keeper record {} (its password field)",
                in_vault.unwrap_or_default()
            ),
            None => {
                // Shown on purpose: the admin pastes it into the Keeper Admin Console (a terminal, or --show-secret).
                println!("New Client Secret Value:  {}", new.value.expose());
                delivered = true;
            }
        }
        println!("  key id {}, expires {}", new.key_id, new.end_date_time);
        match in_vault {
            Some(uid) => println!("  ! Copy it from Keeper record {uid} into Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs."),
            None => println!("  ! Paste it into Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs, and store it in your Keeper vault."),
        }
    } else if show {
        // The JSON below carries it.
        delivered = true;
    }
    if delivered {
        if let Some(s) = sf.state.secret.as_mut() {
            s.delivered = true;
        }
        sf.save()?;
        if let Some(key) = &undelivered_old {
            graph::remove_password(&rest, &app_id, key).await?;
        }
    }
    // The old secret goes only once the new one is delivered, and never while the record lacks it.
    let remove = if !delivered || vault_failure.is_some() {
        false
    } else if args.remove_old {
        true
    } else if human && std::io::stdin().is_terminal() && !sf.state.retired_secrets.is_empty() {
        eprint!("Has the Admin Console been updated with the new secret? Remove the old one now? [y/N] ");
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Error::Other(e.to_string()))?;
        matches!(line.trim(), "y" | "Y" | "yes")
    } else {
        false
    };
    let removed = if remove {
        remove_retired(&rest, &mut sf, &app_id).await?
    } else {
        vec![]
    };
    if human {
        if removed.is_empty() && !sf.state.retired_secrets.is_empty() {
            println!("  The old secret still works. Once the console has the new one: keeper-azmon rotate-secret --finish");
        } else if !removed.is_empty() {
            println!("  Removed the old secret ({}).", removed.join(", "));
        }
    } else {
        let value = show.then(|| new.value.expose().to_string());
        println!(
            "{}",
            json!({ "client_secret": value, "keeper_record": in_vault, "secret_key_id": new.key_id, "secret_expires": new.end_date_time, "secret_file": args.secret_file.as_ref().map(|p| p.display().to_string()), "removed": removed, "still_valid": sf.state.retired_secrets })
        );
    }
    if let Some((uid, e)) = vault_failure {
        let where_to = match &args.secret_file {
            Some(f) => format!("written to {}", f.display()),
            None => "shown above".into(),
        };
        return Err(keeper::write_failed(&uid, e, &where_to));
    }
    Ok(())
}
