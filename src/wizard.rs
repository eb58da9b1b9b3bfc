//! Interactive prompts, on a terminal, that fill the same setup inputs the flags fill (crate::request builds the
//! SetupRequest from them); flags already given are not asked.

use console::style;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{FuzzySelect, Select};

use crate::azure::{providers, sentinel, workspace};
use crate::cli::{defaults, KeeperArgs, SetupArgs};
use crate::cloud;
use crate::error::{Error, Result};
use crate::names;
use crate::rest::Rest;
use crate::steps::RoleSet;

/// Whether standard input and error are a person's terminal.
pub fn interactive() -> bool {
    crate::console::may_prompt()
}

fn prompt_err(e: dialoguer::Error) -> Error {
    Error::input(
        format!("prompt ended: {e}"),
        "nothing was created; run setup again, or pass the inputs as flags",
    )
}

fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

/// Asks for the cloud, preselected from the Azure CLI's active cloud.
pub fn ask_cloud() -> Result<String> {
    let items = [
        "Azure Public",
        "Azure US Government (GCC High)",
        "Azure US Government DoD",
        "Azure China",
    ];
    let names = ["public", "usgov", "usgov-dod", "china"];
    let default = cloud::az_cli_active_cloud()
        .and_then(|c| cloud::from_az_cli_cloud_name(&c))
        .and_then(|n| names.iter().position(|x| *x == n))
        .unwrap_or(0);
    let i = Select::with_theme(&theme())
        .with_prompt("Azure cloud")
        .items(items)
        .default(default)
        .interact()
        .map_err(prompt_err)?;
    Ok(names[i].to_string())
}

/// [`ask_cloud_of`] where there is a person to ask, for [`cloud::resolve`].
pub fn cloud_chooser() -> Option<cloud::Chooser<'static>> {
    if interactive() {
        Some(&ask_cloud_of)
    } else {
        None
    }
}

/// Asks which of `choices` (built-in profile names) the Azure CLI's cloud means.
pub fn ask_cloud_of(choices: &[&str]) -> Result<String> {
    let items: Vec<String> = choices
        .iter()
        .map(|c| match cloud::builtin(c) {
            Some(p) => format!("{c} (Graph {})", p.graph_endpoint),
            None => c.to_string(),
        })
        .collect();
    let i = Select::with_theme(&theme())
        .with_prompt("Which Azure US Government cloud")
        .items(&items)
        .default(0)
        .interact()
        .map_err(prompt_err)?;
    Ok(choices[i].to_string())
}

fn pick(prompt: &str, items: &[String], default: usize) -> Result<usize> {
    if items.len() > 10 {
        FuzzySelect::with_theme(&theme())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(prompt_err)
    } else {
        Select::with_theme(&theme())
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact()
            .map_err(prompt_err)
    }
}

/// A one-line text prompt that checks the value against Azure's rules as it is typed: the rule the text breaks
/// (or a check mark) shows beside it at every key, and Enter takes only a value that passes; an empty line takes
/// the default. A refused value is cleared, its reason kept on screen.
fn ask_text(
    prompt: &str,
    default: &str,
    check: impl Fn(&String) -> std::result::Result<(), String>,
) -> Result<String> {
    let term = console::Term::stderr();
    let io = |e: std::io::Error| prompt_err(dialoguer::Error::IO(e));
    // No default: nothing in brackets, and an empty line is checked like any other.
    let shown = if default.is_empty() {
        String::new()
    } else {
        format!("{} ", style(format!("({default})")).dim())
    };
    let head = format!("{} {} {shown}", style("?").yellow(), style(prompt).bold());
    let mut input = String::new();
    let mut refused: Option<String> = None;
    loop {
        let hint = match (input.is_empty(), &refused) {
            (false, _) => match check(&input) {
                Ok(()) => style("✔".to_string()).green().to_string(),
                Err(e) => style(format!("✘ {e}")).red().to_string(),
            },
            (true, Some(e)) => style(format!("✘ {e}")).red().to_string(),
            (true, None) => String::new(),
        };
        let line = format!("{head}{input}");
        // The hint goes on the line below, cut to the terminal's width so that a redraw clears all of it.
        let width = (term.size().1 as usize).max(20);
        let hint = console::truncate_str(&hint, width - 1, "…").into_owned();
        term.clear_line().map_err(io)?;
        term.write_str(&line).map_err(io)?;
        term.write_str("\n").map_err(io)?;
        term.clear_line().map_err(io)?;
        term.write_str(&hint).map_err(io)?;
        term.move_cursor_up(1).map_err(io)?;
        term.write_str("\r").map_err(io)?;
        term.move_cursor_right(console::measure_text_width(&line))
            .map_err(io)?;
        term.flush().map_err(io)?;
        match term.read_key().map_err(io)? {
            console::Key::Char(c) if !c.is_control() => {
                input.push(c);
                refused = None;
            }
            console::Key::Backspace => {
                input.pop();
            }
            console::Key::Enter => {
                let value = if input.is_empty() {
                    default.to_string()
                } else {
                    input.clone()
                };
                match check(&value) {
                    Ok(()) => {
                        term.move_cursor_down(1).map_err(io)?;
                        term.clear_line().map_err(io)?;
                        term.move_cursor_up(1).map_err(io)?;
                        term.clear_line().map_err(io)?;
                        term.write_line(&format!(
                            "{} {} {} {}",
                            style("✔").green(),
                            style(prompt).bold(),
                            style("·").dim(),
                            style(&value).green()
                        ))
                        .map_err(io)?;
                        return Ok(value);
                    }
                    Err(e) => {
                        refused = Some(e);
                        input.clear();
                    }
                }
            }
            console::Key::Unknown if !term.is_term() => {
                return Err(prompt_err(dialoguer::Error::IO(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the terminal went away",
                ))))
            }
            _ => {}
        }
    }
}

fn rule(r: Result<()>) -> std::result::Result<(), String> {
    r.map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
}

/// Fills what the flags left out, in the order a person thinks: subscription, resource group (and location),
/// workspace, names, role set. The sign-in was checked by the caller.
pub async fn fill(args: &mut SetupArgs, rest: &Rest) -> Result<()> {
    if args.subscription.is_none() {
        let subs = providers::list_subscriptions(rest).await?;
        if subs.is_empty() {
            return Err(Error::input(
                "the signed-in identity sees no subscription",
                "sign in with an account that has one (az login), or pass --subscription",
            ));
        }
        let items: Vec<String> = subs
            .iter()
            .map(|v| format!("{} ({})", v.display_name, v.subscription_id))
            .collect();
        let i = pick("Subscription", &items, 0)?;
        args.subscription = subs.get(i).map(|v| v.subscription_id.clone());
    }
    let sub = args.subscription.clone().unwrap_or_default();
    let locations = providers::location_names(rest, &sub).await?;
    if args.resource_group.is_none() {
        let groups = providers::list_resource_groups(rest, &sub).await?;
        let mut items: Vec<String> = vec![format!("{}", style("+ new resource group").green())];
        items.extend(
            groups
                .iter()
                .map(|g| format!("{} ({})", g.name, g.location)),
        );
        let i = pick(
            "Resource group",
            &items,
            if groups.is_empty() { 0 } else { 1 },
        )?;
        if i == 0 {
            let name = ask_text("New resource group name", "rg-keeper-logs", |v| {
                rule(names::resource_group(v))
            })?;
            args.resource_group = Some(name);
            args.create_resource_group = true;
        } else if let Some(g) = groups.get(i - 1) {
            args.resource_group = Some(g.name.clone());
            if args.location.is_none() {
                args.location = Some(g.location.clone());
            }
        }
    }
    if args.location.is_none() {
        let default = locations
            .iter()
            .position(|l| l == "usgovvirginia" || l == "eastus")
            .unwrap_or(0);
        let i = pick("Location", &locations, default)?;
        args.location = locations.get(i).cloned();
    }
    if args.workspace.is_none() {
        let wss = workspace::list_in_subscription(rest, &sub).await?;
        let mut items: Vec<String> = vec![format!("{}", style("+ create a new workspace").green())];
        items.extend(wss.iter().map(|w| format!("{} ({})", w.name, w.location)));
        let i = pick("Log Analytics workspace", &items, 0)?;
        if i == 0 {
            args.workspace = Some(ask_text("Workspace name", defaults::WORKSPACE, |v| {
                rule(names::workspace(v))
            })?);
        } else {
            args.workspace = wss.get(i - 1).map(|w| w.id.clone());
        }
    }
    if args.app_name.is_none() {
        args.app_name = Some(ask_text(
            "App registration name",
            defaults::APP_NAME,
            |v| rule(names::app_display_name(v)),
        )?);
    }
    if args.secret_description.is_none() {
        args.secret_description = Some(ask_text(
            "Client secret description",
            defaults::SECRET_DESCRIPTION,
            |v| {
                if v.trim().is_empty() || v.len() > 100 {
                    Err("1-100 characters".into())
                } else {
                    Ok(())
                }
            },
        )?);
    }
    if args.secret_expiry_days.is_none() {
        let days = ask_text(
            "Client secret expiry (days)",
            &defaults::SECRET_EXPIRY_DAYS.to_string(),
            |v| match v.parse::<i64>() {
                Ok(d) if (1..=730).contains(&d) => Ok(()),
                _ => Err("a number of days from 1 to 730".into()),
            },
        )?;
        args.secret_expiry_days = days.parse().ok();
    }
    if args.table.is_none() {
        args.table = Some(ask_text(
            "Table name (Azure appends _CL)",
            defaults::TABLE,
            |v| rule(names::table(v).map(|_| ())),
        )?);
    }
    if args.dce_name.is_none() {
        args.dce_name = Some(ask_text(
            "Data collection endpoint name",
            defaults::DCE_NAME,
            |v| rule(names::dce(v)),
        )?);
    }
    if args.dcr_name.is_none() {
        args.dcr_name = Some(ask_text(
            "Data collection rule name",
            defaults::DCR_NAME,
            |v| rule(names::dcr(v)),
        )?);
    }
    if args.roles.is_none() {
        let roles = [
            "guide: the guide's six role assignments (Log Analytics Contributor on the workspace; Monitoring Metrics Publisher, Contributor, Reader on the DCR; Publisher and Contributor on the DCE)",
            "minimal: Monitoring Metrics Publisher on the DCR only (all that ingestion needs)",
        ];
        let i = Select::with_theme(&theme())
            .with_prompt("Role assignments")
            .items(roles)
            .default(0)
            .interact()
            .map_err(prompt_err)?;
        args.roles = Some(if i == 0 {
            RoleSet::Guide
        } else {
            RoleSet::Minimal
        });
    }
    if args.sentinel.is_none() {
        // Default yes when the workspace already runs Sentinel: its analysts will want Keeper's content there.
        let ws = args.workspace.clone().unwrap_or_default();
        let ws_id = if names::is_resource_id(&ws) {
            ws
        } else {
            workspace::workspace_id(
                &sub,
                args.resource_group.as_deref().unwrap_or_default(),
                &ws,
            )
        };
        let already = sentinel::onboarded(rest, &ws_id).await.unwrap_or(false);
        let prompt = if already {
            "Microsoft Sentinel runs on this workspace: add Keeper's analytics rules, KQL function and workbook?"
        } else {
            "Microsoft Sentinel: turn it on for this workspace, with Keeper's analytics rules, KQL function and workbook?"
        };
        args.sentinel = Some(crate::printer::confirm(prompt, already)?);
    }
    Ok(())
}

/// With a KSM config given (`--ksm-config` or KSM_CONFIG): for a one-time access token, where to save the config
/// it yields (`--ksm-config-out`); and, when no record is named (flags, or `recorded` by the state), where the
/// Admin Console values go: an existing record (its UID), or a new record in a shared folder (the folder's UID).
pub fn ask_keeper_target(keeper: &mut KeeperArgs, recorded: bool) -> Result<()> {
    let Some(config) = keeper
        .ksm
        .ksm_config
        .clone()
        .filter(|c| !c.trim().is_empty())
    else {
        return Ok(());
    };
    let is_token = !std::path::Path::new(&config).is_file()
        && crate::vault::config::token_host(&config).is_some();
    if is_token && keeper.ksm.ksm_config_out.is_none() {
        let out = ask_text(
            "Save the KSM config the one-time token yields to (mode 0600)",
            "keeper-azmon-ksm.json",
            |v| {
                if v.trim().is_empty() {
                    Err("a file name".into())
                } else {
                    Ok(())
                }
            },
        )?;
        keeper.ksm.ksm_config_out = Some(out.trim().into());
    }
    if recorded || keeper.keeper_record.is_some() || keeper.keeper_folder.is_some() {
        return Ok(());
    }
    let items = [
        "an existing record, shared with the KSM application (Can Edit)",
        "a new record, made in a shared folder of the KSM application",
    ];
    let i = Select::with_theme(&theme())
        .with_prompt("Keeper record for the Admin Console values")
        .items(items)
        .default(0)
        .interact()
        .map_err(prompt_err)?;
    let (prompt, flag) = if i == 0 {
        ("Record UID", "--keeper-record")
    } else {
        ("Shared folder UID", "--keeper-folder")
    };
    let uid = ask_text(prompt, "", |v| {
        rule(crate::steps::keeper::check_uid(flag, v.trim()))
    })?;
    let uid = Some(uid.trim().to_string());
    if i == 0 {
        keeper.keeper_record = uid;
    } else {
        keeper.keeper_folder = uid;
    }
    Ok(())
}

/// The review screen's question.
pub fn confirm_apply() -> Result<bool> {
    crate::printer::confirm("Apply this plan?", false)
}
