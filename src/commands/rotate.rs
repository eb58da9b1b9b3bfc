//! `keeper-azmon rotate-secret`: a new client secret for the Admin Console; the old one goes once the console has the new.

use std::io::IsTerminal;

use serde_json::json;

use crate::azure::graph;
use crate::cli::RotateArgs;
use crate::error::{Error, Result};
use crate::output::{self, Format};
use crate::rest::Rest;
use crate::state::{SecretRecord, StateFile};
use crate::steps::step;

async fn remove_retired(rest: &Rest, sf: &mut StateFile, app_id: &str) -> Result<Vec<String>> {
    let retired = sf.state.retired_secrets.clone();
    for key in &retired {
        graph::remove_password(rest, app_id, key).await?;
        sf.state.retired_secrets.retain(|k| k != key);
        sf.save()?;
    }
    Ok(retired)
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
    let mut sf = StateFile::open(&args.common.state)?;
    let app_id = sf
        .resource(step::APP)
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            Error::input(
                "the state file has no app registration",
                "run `keeper-azmon setup` first",
            )
        })?;
    let (_, _, rest) = super::connect(&args.common, &sf.state)?;
    let human = args.common.output == Format::Human;

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
        .unwrap_or_else(|| "Keeper Azure Monitor Logs".into());
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(args.secret_expiry_days);
    let new = graph::add_password(&rest, &app_id, &description, end).await?;
    if let Some(old) = sf.state.secret.take() {
        sf.state.retired_secrets.push(old.key_id);
    }
    sf.state.secret = Some(SecretRecord {
        key_id: new.key_id.clone(),
        description,
        end_date_time: new.end_date_time.clone(),
        delivered: false,
    });
    sf.save()?;

    let mut delivered = false;
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
            None => {
                // Shown on purpose: the admin pastes it into the Keeper Admin Console.
                println!("New Client Secret Value:  {}", new.value.expose());
                delivered = true;
            }
        }
        println!("  key id {}, expires {}", new.key_id, new.end_date_time);
        println!("  ! Paste it into Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs, and store it in your Keeper vault.");
    }
    if !human && args.show_secret {
        delivered = true;
    }
    if delivered {
        if let Some(s) = sf.state.secret.as_mut() {
            s.delivered = true;
        }
        sf.save()?;
    }
    let remove = if args.remove_old {
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
        let value = (args.show_secret).then(|| new.value.expose().to_string());
        println!(
            "{}",
            json!({ "client_secret": value, "secret_key_id": new.key_id, "secret_expires": new.end_date_time, "removed": removed, "still_valid": sf.state.retired_secrets })
        );
    }
    Ok(())
}
