//! Human card and JSON output, progress lines, and the secret file: where setup shows or writes a new secret's value.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::run::Outcome;
use crate::steps::{Action, Plan, Reporter};

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// Progress on stderr, one line per finished step (human output only).
pub struct Progress {
    pub quiet: bool,
}

impl Reporter for Progress {
    fn started(&self, step: &str) {
        tracing::debug!(step, "started");
    }
    fn waiting(&self, step: &str, why: &str) {
        if !self.quiet {
            eprintln!("  … {step}: {why}");
        }
    }
    fn finished(&self, step: &str, action: Action, resource: &str, took: Duration) {
        if !self.quiet {
            let verb = match action {
                Action::Create => "created",
                Action::Update => "updated",
                Action::Reuse => "ok",
            };
            eprintln!(
                "  ✓ {step:<40} {verb:<8} {} ({:.1}s)",
                crate::azure::name_of(resource),
                took.as_secs_f64()
            );
        }
    }
    fn failed(&self, step: &str, error: &Error) {
        if !self.quiet {
            eprintln!("  ✗ {step}: {error}");
        }
    }
}

/// Progress on a terminal: a spinner per running step (side by side when steps run side by side), turning into
/// a check mark with the resource and seconds, or a cross with the error.
pub struct Spinners {
    multi: indicatif::MultiProgress,
    bars: std::sync::Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl Spinners {
    pub fn new() -> Self {
        Spinners {
            multi: indicatif::MultiProgress::new(),
            bars: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn bar(&self, step: &str) -> Option<indicatif::ProgressBar> {
        self.bars.lock().ok().and_then(|b| b.get(step).cloned())
    }
}

impl Default for Spinners {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Spinners {
    fn started(&self, step: &str) {
        let pb = self.multi.add(indicatif::ProgressBar::new_spinner());
        pb.set_style(
            indicatif::ProgressStyle::with_template("  {spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.set_message(step.to_string());
        pb.enable_steady_tick(Duration::from_millis(100));
        if let Ok(mut b) = self.bars.lock() {
            b.insert(step.to_string(), pb);
        }
    }
    fn waiting(&self, step: &str, why: &str) {
        if let Some(pb) = self.bar(step) {
            pb.set_message(format!("{step}: {why}"));
        }
    }
    fn finished(&self, step: &str, action: Action, resource: &str, took: Duration) {
        if let Some(pb) = self.bar(step) {
            let verb = match action {
                Action::Create => "created",
                Action::Update => "updated",
                Action::Reuse => "ok",
            };
            pb.set_style(
                indicatif::ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.finish_with_message(format!(
                "{} {step:<40} {verb:<8} {} ({:.1}s)",
                console::style("✓").green(),
                crate::azure::name_of(resource),
                took.as_secs_f64()
            ));
        }
    }
    fn failed(&self, step: &str, error: &Error) {
        if let Some(pb) = self.bar(step) {
            pb.set_style(
                indicatif::ProgressStyle::with_template("  {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            pb.finish_with_message(format!("{} {step}: {error}", console::style("✗").red()));
        }
    }
}

/// The plan as a table of lines.
pub fn plan_lines(plan: &Plan) -> String {
    let mut s = String::new();
    // The step column is as wide as the longest step (Sentinel rule steps run past 40 characters).
    let width = plan
        .steps
        .iter()
        .map(|st| st.step.len())
        .max()
        .unwrap_or(0)
        .max(40);
    for st in &plan.steps {
        s.push_str(&format!(
            "  {:<7} {:<width$} {}\n",
            st.action.to_string(),
            st.step,
            st.resource
        ));
    }
    s
}

pub fn plan_json(plan: &Plan) -> Value {
    serde_json::to_value(&plan.steps).unwrap_or(Value::Null)
}

/// Writes the secret value to a file only its owner can read (see [`crate::private_file`]).
pub fn write_secret_file(path: &Path, value: &str) -> Result<()> {
    crate::private_file::write(path, "--secret-file", value.as_bytes())
}

/// Refuses, before any write, a run that would make a client secret with nowhere to go: JSON output without
/// `--show-secret` or `--secret-file`, or a card printed to something that is not a terminal (a CI log) without
/// `--secret-file` or `--show-secret`. A `--secret-file` is checked writable here too.
pub fn require_way_out(
    command: &str,
    format: Format,
    show: bool,
    file: Option<&Path>,
) -> Result<()> {
    if let Some(f) = file {
        return crate::private_file::check_writable(f, "--secret-file");
    }
    match no_way_out(command, format, show, false) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The refusal [`require_way_out`] would make, without looking at the file (a dry run shows it as a note).
pub fn no_way_out(command: &str, format: Format, show: bool, file: bool) -> Option<Error> {
    if show || file {
        return None;
    }
    match format {
        Format::Json => Some(Error::input(
            format!("{command} would make a new client secret with nowhere to go: --output json without --show-secret or --secret-file"),
            "pass --secret-file FILE (written with mode 0600), or --show-secret to put the value in the JSON",
        )),
        Format::Human if !std::io::stdout().is_terminal() => Some(Error::input(
            format!("{command} would make a new client secret and print it to an output that is not a terminal (a pipe, a file or a CI log)"),
            "pass --secret-file FILE (written with mode 0600), or --show-secret to print it there anyway",
        )),
        Format::Human => None,
    }
}

/// How the secret value is to be delivered.
pub struct SecretDelivery<'a> {
    pub show: bool,
    pub file: Option<&'a Path>,
    /// The Keeper record that received the value (`--keeper-record`): then it is shown only when asked.
    pub vault: Option<&'a str>,
}

/// Prints the result: the card for a person, or one JSON object. Returns whether the secret value was delivered.
pub fn print_outcome(
    format: Format,
    outcome: &Outcome,
    delivery: &SecretDelivery,
    state_path: &Path,
    extra: Value,
) -> Result<bool> {
    let o = &outcome.outputs;
    let mut delivered = false;
    if let (Some(new), Some(file)) = (&outcome.new_secret, delivery.file) {
        write_secret_file(file, new.value.expose())?;
        delivered = true;
    }
    match format {
        Format::Json => {
            let secret_value = match (&outcome.new_secret, delivery.show) {
                (Some(new), true) => {
                    delivered = true;
                    Value::String(new.value.expose().to_string())
                }
                _ => Value::Null,
            };
            let mut v = json!({
                "tenant_id": o.tenant_id,
                "client_id": o.client_id,
                "client_secret": secret_value,
                "secret_created": outcome.new_secret.is_some(),
                "secret_key_id": outcome.secret.as_ref().map(|s| s.key_id.clone()),
                "secret_expires": outcome.secret.as_ref().map(|s| s.end_date_time.clone()),
                "secret_file": delivery.file.filter(|_| outcome.new_secret.is_some()).map(|p| p.display().to_string()),
                "keeper_record": delivery.vault,
                "endpoint_url": o.endpoint_url,
                "logs_ingestion_endpoint": o.logs_ingestion_endpoint,
                "dcr_immutable_id": o.dcr_immutable_id,
                "stream": o.stream,
                "table": o.table,
                "state_file": state_path.display().to_string(),
            });
            if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                m.extend(e);
            }
            println!("{v}");
        }
        Format::Human => {
            println!();
            println!("Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs");
            println!("  Azure Tenant ID:          {}", o.tenant_id);
            println!("  Application (client) ID:  {}", o.client_id);
            match (&outcome.new_secret, delivery.file) {
                (Some(_), Some(file)) => {
                    println!("  Client Secret Value:      written to {} (mode 0600)", file.display())
                }
                (Some(_), None) if delivery.vault.is_some() && !delivery.show => println!(
                    "  Client Secret Value:      in Keeper record {} (its password field)",
                    delivery.vault.unwrap_or_default()
                ),
                (Some(new), None) => {
                    // Printed on purpose: the admin pastes it into the Keeper Admin Console (rotate-secret
                    // shows its new value the same way).
                    println!("  Client Secret Value:      {}", new.value.expose());
                    delivered = true;
                }
                (None, _) => println!(
                    "  Client Secret Value:      unchanged (key id {}); its value was shown when it was created.\n                            Need a new one? keeper-azmon rotate-secret",
                    outcome.secret.as_ref().map(|s| s.key_id.as_str()).unwrap_or("?")
                ),
            }
            println!("  Endpoint URL:             {}", o.endpoint_url);
            println!();
            match (&outcome.new_secret, delivery.file) {
                (Some(_), _) if delivery.vault.is_some() => println!(
                    "  Keeper record {} holds these values: open it in the vault to fill the Admin Console.",
                    delivery.vault.unwrap_or_default()
                ),
                (Some(_), Some(file)) => println!(
                    "  ! Store the secret value from {} in your Keeper vault now, then delete the file.",
                    file.display()
                ),
                (Some(_), None) => println!("  ! The secret value is shown once: store it in your Keeper vault now."),
                (None, _) => {}
            }
            println!("  State: {}", state_path.display());
        }
    }
    Ok(delivered)
}
