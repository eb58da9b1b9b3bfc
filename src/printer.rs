//! The one place that writes to the terminal: each command's typed report rendered for a person or as JSON (the
//! serde value of the same report, docs/json.md), notes and progress on stderr (spinners on a terminal), the one
//! `confirm()`, and the text of every typed [`Hint`]. None of it panics on a stream that cannot be written.
//!
//! The print macros below are for this file and main.rs; everywhere else calls [`print`], [`note`] and the rest.

/// A line on stdout, flushed; a failure is an [`Error::Output`] (`?` it).
macro_rules! outln {
    () => { $crate::printer::write_stdout("\n") };
    ($($t:tt)*) => { $crate::printer::write_stdout(&format!("{}\n", format_args!($($t)*))) };
}

/// A line on stderr (progress, warnings, hints); a stderr that cannot be written is let be: there is nowhere
/// left to say so, and the exit status still tells.
macro_rules! note {
    () => { $crate::printer::write_stderr("\n") };
    ($($t:tt)*) => { $crate::printer::write_stderr(&format!("{}\n", format_args!($($t)*))) };
}

/// [`note!`] without the newline (a prompt, a progress line redrawn in place).
macro_rules! note_part {
    ($($t:tt)*) => { $crate::printer::write_stderr(&format!($($t)*)) };
}

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

pub use crate::error::Hint;
use crate::error::{Error, Result};
use crate::run::Outcome;
use crate::steps::{Action, Plan, Reporter};

/// Writes `text` to stdout and flushes it, so that a failure shows here rather than at exit. A reader gone (a
/// closed pipe, `| head`) is [`Error::Output`] with `closed`, which ends the command quietly; anything else (a full
pub use crate::console::{note, stdout_reaches_nobody, warn, write_stderr, write_stdout, Format};

/// A command's result as the printer shows it: as JSON, the serde value of the report itself (one object on one
/// line); for a person, the text [`Report::human`] writes. The two are renderings of the same value.
pub trait Report: serde::Serialize {
    /// The text for a person, with its trailing newline.
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result;
}

/// `report` rendered in `format`, as stdout is to get it.
pub fn render<R: Report + ?Sized>(format: Format, report: &R) -> String {
    match format {
        Format::Json => match serde_json::to_string(report) {
            Ok(j) => format!("{j}\n"),
            // Reports are plain data (strings, numbers, lists): serde_json refuses only a map with non-string keys.
            Err(e) => format!("{{\"error\":\"{e}\"}}\n"),
        },
        Format::Human => human_text(report),
    }
}

/// `report`'s human rendering.
pub fn human_text<R: Report + ?Sized>(report: &R) -> String {
    let mut t = String::new();
    // Writing to a String does not fail.
    let _ = report.human(&mut t);
    t
}

/// Writes `report` to stdout in `format`.
pub fn print<R: Report + ?Sized>(format: Format, report: &R) -> Result<()> {
    write_stdout(&render(format, report))
}

/// A command's closing summary: as JSON, the report on stdout; for a person, its text on stderr (where the
/// progress went, leaving stdout empty).
pub fn print_summary<R: Report + ?Sized>(format: Format, report: &R) -> Result<()> {
    match format {
        Format::Json => print(format, report),
        Format::Human => {
            write_stderr(&human_text(report));
            Ok(())
        }
    }
}

/// Writes `report`'s human rendering to stderr (a plan shown before a confirmation, while stdout stays for the
/// result).
pub fn print_to_stderr<R: Report + ?Sized>(report: &R) {
    write_stderr(&human_text(report));
}

/// A line on stdout, for a person (a follow-up to a report already printed).
pub fn line(text: impl std::fmt::Display) -> Result<()> {
    outln!("{text}")
}

/// A line on stderr: progress, a warning, a hint (see [`note!`]).
/// Text on stderr without a newline (a progress line redrawn in place).
pub fn note_part(text: impl std::fmt::Display) {
    note_part!("{text}");
}

/// The one yes/no question: with a person at a terminal (stdin and stderr), a prompt they answer with a key;
/// otherwise `question [y/N] ` on stderr and a line read from stdin, where only `y`, `Y` or `yes` is a yes.
/// Whether to ask at all (`--yes`, no terminal) is the caller's to decide.
pub fn confirm(question: &str, default: bool) -> Result<bool> {
    if crate::console::may_prompt() {
        return dialoguer::Confirm::with_theme(&dialoguer::theme::ColorfulTheme::default())
            .with_prompt(question)
            .default(default)
            .interact()
            .map_err(|e| {
                Error::input(
                    format!("prompt ended: {e}"),
                    "nothing was changed; run the command again, or answer with a flag (--yes)",
                )
            });
    }
    note_part!("{question} {} ", if default { "[Y/n]" } else { "[y/N]" });
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Other(format!("reading the answer: {e}")))?;
    Ok(match line.trim() {
        "" => default,
        a => matches!(a, "y" | "Y" | "yes"),
    })
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
            note!("  … {step}: {why}");
        }
    }
    fn finished(&self, step: &str, action: Action, resource: &str, took: Duration) {
        if !self.quiet {
            let verb = match action {
                Action::Create => "created",
                Action::Update => "updated",
                Action::Reuse => "ok",
                Action::Recover => "recovered",
            };
            note!(
                "  ✓ {step:<40} {verb:<8} {} ({:.1}s)",
                crate::azure::name_of(resource),
                took.as_secs_f64()
            );
        }
    }
    fn failed(&self, step: &str, error: &Error) {
        if !self.quiet {
            note!("  ✗ {step}: {error}");
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
                Action::Recover => "recovered",
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
    step_lines(&plan.steps)
}

/// Planned steps as a table of lines, with each update's delta below it.
fn step_lines(steps: &[crate::steps::PlannedStep]) -> String {
    let mut s = String::new();
    // The step column is as wide as the longest step (Sentinel rule steps run past 40 characters).
    let width = steps
        .iter()
        .map(|st| st.step.len())
        .max()
        .unwrap_or(0)
        .max(40);
    // The action column as wide as the widest action in the plan ("recover" is one wider than the others).
    let action_width = steps
        .iter()
        .map(|st| st.action.to_string().len())
        .max()
        .unwrap_or(0);
    for st in steps {
        // Ids shortened for a person (the JSON keeps them whole), each line within 100 columns.
        let head = format!(
            "  {:<action_width$} {:<width$} ",
            st.action.to_string(),
            st.step,
        );
        let mut text = crate::resource_id::short(&st.resource);
        if let Some(d) = &st.detail {
            text.push_str(&format!(" ({d})"));
        }
        for line in wrap_plan_line(&head, &text) {
            s.push_str(&line);
            s.push('\n');
        }
        for c in &st.delta {
            s.push_str(&format!(
                "  {:<action_width$} {:<width$}   {}: {} -> {}\n",
                "", "", c.field, c.old, c.new
            ));
        }
    }
    s
}

/// The width plan lines keep to.
const PLAN_COLUMNS: usize = 100;

/// A plan line (`head`, then `text`) as lines of at most [`PLAN_COLUMNS`]: whole when it fits; else with its
/// last parenthesis (`(client id ...)`) on a line of its own under the text; else the text on a line of its
/// own below the step, indented; cut with `…` only when even that is too long.
fn wrap_plan_line(head: &str, text: &str) -> Vec<String> {
    let width = |s: &str| s.chars().count();
    if width(head) + width(text) <= PLAN_COLUMNS {
        return vec![format!("{head}{text}")];
    }
    let indent = " ".repeat(width(head));
    if let Some((before, paren)) = text.rsplit_once(" (") {
        let paren = format!("{indent}({paren}");
        if width(head) + width(before) <= PLAN_COLUMNS && width(&paren) <= PLAN_COLUMNS {
            return vec![format!("{head}{before}"), paren];
        }
    }
    vec![
        head.trim_end().to_string(),
        fit(&format!("      {text}"), PLAN_COLUMNS),
    ]
}

/// `line` cut to `columns` characters, ending in `…` when cut.
pub fn fit(line: &str, columns: usize) -> String {
    if line.chars().count() <= columns {
        return line.to_string();
    }
    let mut out: String = line.chars().take(columns.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn plan_json(plan: &Plan) -> Value {
    serde_json::to_value(&plan.steps).unwrap_or(Value::Null)
}

/// Setup's `--dry-run` report: the plan and the notes preflight made (docs/json.md). For setup.rs to print with
/// [`print`] (it still prints the same text itself until its restructuring lands).
#[derive(Debug, serde::Serialize)]
#[allow(dead_code)]
pub struct DryRunReport<'a> {
    pub dry_run: bool,
    pub deployment: &'a str,
    pub plan: &'a [crate::steps::PlannedStep],
    pub notes: &'a [String],
}

impl Report for DryRunReport<'_> {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(
            w,
            "Plan for deployment '{}' (dry run: nothing was written):",
            self.deployment
        )?;
        w.write_str(&step_lines(self.plan))?;
        for n in self.notes {
            writeln!(w, "  note: {n}")?;
        }
        Ok(())
    }
}

/// Refuses, before any write, a run that would make a client secret with nowhere to go: JSON output without
/// `--show-secret` or `--secret-out`, or a card printed to something that is not a terminal (a CI log) without
/// `--secret-out` or `--show-secret`. A `--secret-out` is checked writable here too.
pub fn require_way_out(
    command: &str,
    format: Format,
    show: bool,
    file: Option<&Path>,
) -> Result<()> {
    if let Some(f) = file {
        return crate::private_file::check_writable(f, "--secret-out");
    }
    if show && stdout_reaches_nobody() {
        return Err(Error::input(
            format!("{command} would make a new client secret and show it on a stdout that goes nowhere (/dev/null, or closed)"),
            "pass --secret-out FILE (written with mode 0600), or let stdout reach you",
        ));
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
            format!("{command} would make a new client secret with nowhere to go: --output json without --show-secret or --secret-out"),
            "pass --secret-out FILE (written with mode 0600), or --show-secret to put the value in the JSON",
        )),
        Format::Human if !std::io::stdout().is_terminal() => Some(Error::input(
            format!("{command} would make a new client secret and print it to an output that is not a terminal (a pipe, a file or a CI log)"),
            "pass --secret-out FILE (written with mode 0600), or --show-secret to print it there anyway",
        )),
        Format::Human => None,
    }
}

/// A report rendered for stdout: its text, and whether it carries a new secret's value (then writing it is that
/// value's delivery).
pub struct Rendered {
    pub text: String,
    pub carries_value: bool,
}

/// Where a new secret's value went before the report is written: the file and the Keeper record that took it,
/// and whether the report is to show it.
#[derive(Default)]
pub struct SecretPlaces<'a> {
    pub show: bool,
    pub file: Option<&'a Path>,
    pub vault: Option<&'a str>,
}

/// The setup report, for a person (the card) or as one JSON object, given where a new secret's value went.
/// `extra` (an object) adds its fields to the JSON.
pub fn render_outcome(
    format: Format,
    outcome: &Outcome,
    places: SecretPlaces<'_>,
    state_path: &Path,
    extra: Value,
    alerts: Option<&AlertsNotice>,
) -> Rendered {
    let mut report = SetupReport::new(outcome, places, state_path, extra);
    report.alerts = alerts.cloned();
    Rendered {
        carries_value: report.client_secret.is_some(),
        text: render(format, &report),
    }
}

/// Setup's report: the values the Keeper Admin Console asks for, where a new secret's value went, and the state
/// file (docs/json.md). As a person reads it, the Admin Console card.
#[derive(Debug, serde::Serialize)]
pub struct SetupReport {
    tenant_id: String,
    client_id: String,
    /// A new secret's value, only when it is to be shown (a terminal, or `--show-secret`).
    client_secret: Option<String>,
    secret_created: bool,
    secret_key_id: Option<String>,
    secret_expires: Option<String>,
    secret_file: Option<String>,
    keeper_record: Option<String>,
    endpoint_url: String,
    logs_ingestion_endpoint: String,
    dcr_immutable_id: String,
    stream: String,
    table: String,
    state_file: String,
    /// With `--alert-email`: where the alerts go, and the confirmation each address owes Azure.
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<AlertsNotice>,
    /// Fields the caller adds (the plan, the notes), when it is an object.
    #[serde(flatten, skip_serializing_if = "is_not_object")]
    extra: Value,
}

/// The alerts setup made, and what each address must do before Azure mails it (docs/json.md, `alerts`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertsNotice {
    pub action_group: String,
    pub emails: Vec<String>,
    /// The log alert rules' ids.
    pub rules: Vec<String>,
    pub silence_hours: u32,
    /// Azure mails each address a one-time passcode, to be confirmed within this many minutes.
    pub confirm_within_minutes: u32,
}

fn is_not_object(v: &Value) -> bool {
    !v.is_object()
}

impl SetupReport {
    /// The report of `outcome`, given where a new secret's value went.
    pub fn new(
        outcome: &Outcome,
        places: SecretPlaces<'_>,
        state_path: &Path,
        extra: Value,
    ) -> SetupReport {
        let o = &outcome.outputs;
        let new = outcome.new_secret.as_ref();
        SetupReport {
            tenant_id: o.tenant_id.clone(),
            client_id: o.client_id.clone(),
            client_secret: new
                .filter(|_| places.show)
                .map(|n| n.value.expose().to_string()),
            secret_created: new.is_some(),
            secret_key_id: outcome.secret.as_ref().map(|s| s.key_id.clone()),
            secret_expires: outcome
                .secret
                .as_ref()
                .map(|s| crate::clock::to_the_second(&s.end_date_time)),
            secret_file: places.file.map(|p| p.display().to_string()),
            keeper_record: places.vault.map(str::to_string),
            endpoint_url: o.endpoint_url.clone(),
            logs_ingestion_endpoint: o.logs_ingestion_endpoint.clone(),
            dcr_immutable_id: o.dcr_immutable_id.clone(),
            stream: o.stream.clone(),
            table: o.table.clone(),
            state_file: state_path.display().to_string(),
            alerts: None,
            extra,
        }
    }
}

impl Report for SetupReport {
    fn human(&self, t: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(t)?;
        writeln!(
            t,
            "Keeper Admin Console > Reporting & Alerts > Azure Monitor Logs"
        )?;
        writeln!(t, "  Azure Tenant ID:          {}", self.tenant_id)?;
        writeln!(t, "  Application (client) ID:  {}", self.client_id)?;
        match (&self.client_secret, self.secret_created) {
            // Printed on purpose: the admin pastes it into the Keeper Admin Console (rotate-secret shows its new
            // value the same way).
            (Some(value), _) => writeln!(t, "  Client Secret Value:      {value}")?,
            (None, true) => match (&self.secret_file, &self.keeper_record) {
                (Some(f), _) => writeln!(
                    t,
                    "  Client Secret Value:      written to {f} (mode 0600)"
                )?,
                (None, Some(uid)) => writeln!(
                    t,
                    "  Client Secret Value:      in Keeper record {uid} (its password field)"
                )?,
                (None, None) => {}
            },
            (None, false) => writeln!(
                t,
                "  Client Secret Value:      unchanged (key id {}); its value was shown when it was created.\n                            Need a new one? keeper-azmon rotate-secret",
                self.secret_key_id.as_deref().unwrap_or("?")
            )?,
        }
        writeln!(t, "  Endpoint URL:             {}", self.endpoint_url)?;
        writeln!(t)?;
        match (self.secret_created, &self.secret_file, &self.keeper_record) {
            (true, _, Some(uid)) => writeln!(
                t,
                "  Keeper record {uid} holds these values: open it in the vault to fill the Admin Console."
            )?,
            (true, Some(f), None) => writeln!(
                t,
                "  ! Store the secret value from {f} in your Keeper vault now, then delete the file."
            )?,
            (true, None, None) => writeln!(
                t,
                "  ! The secret value is shown once: store it in your Keeper vault now."
            )?,
            (false, _, _) => {}
        }
        if let Some(a) = &self.alerts {
            writeln!(
                t,
                "  Alerts to {}: \"Keeper events stopped\" (no event in {} h) and \"Keeper posts refused\".",
                a.emails.join(", "),
                a.silence_hours
            )?;
            writeln!(
                t,
                "  ! Azure mails each address a one-time passcode: confirm it within {} minutes, or no alert is mailed there.",
                a.confirm_within_minutes
            )?;
        }
        writeln!(t, "  State: {}", self.state_file)
    }
}

/// The text of each hint, as the user reads it after `hint: `.
impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Hint::None => "",
            Hint::NeedsPermission => "the signed-in identity lacks permission: it needs Owner (or Contributor + User Access Administrator) on the subscription, and an Entra role that may register applications (Application Administrator or Cloud Application Administrator)",
            Hint::PrincipalNotReplicated => "the new service principal has not replicated yet; re-run the same command in a minute, it resumes from the state file",
            Hint::RegisterProvider => "register the resource provider: az provider register --namespace Microsoft.Insights (and Microsoft.OperationalInsights)",
            Hint::CheckSubscription => "check --subscription; `az account list -o table` shows the subscriptions you can see",
            Hint::CreateResourceGroup => "create it or pass --create-resource-group",
            Hint::SignInAgain => "sign in again (az login) to the cloud you chose with --cloud",
            Hint::RoleAlreadyAssigned => "the role is already assigned; re-run to adopt it",
            Hint::TableNotReady => "the table is missing or not yet usable by data collection rules (new tables take a few seconds more); re-run the same command, it resumes from the state file",
            Hint::OneRegion => "the data collection endpoint, the rule and the workspace must be in one region: pass --location with the workspace's region",
            Hint::IngestionRoleNotInEffect => "the app lacks Monitoring Metrics Publisher on the DCR, or the assignment has not taken effect yet (it can take up to 30 minutes)",
            Hint::CheckDcrImmutableId => "check the DCR immutable id in the Endpoint URL",
            Hint::CheckStream => "check the stream name in the Endpoint URL (Custom-<table>_CL)",
            Hint::SecretWrongOrExpired => "the client secret is wrong or expired; rotate it with `keeper-azmon rotate-secret`",
            Hint::UnknownClient => "the client id is unknown in this tenant; check the tenant and client id",
            Hint::ScopeNotOfCloud => "the scope does not match the cloud; check --cloud",
            Hint::AzureBusy => "Azure is busy or failing; re-run the same command later, it resumes from the state file",
            Hint::RerunAfterFix => "re-run the same command after fixing the cause; it resumes from the state file without duplicates",
            Hint::SignInForCloud(Some(az)) => {
                return write!(f, "sign in for this cloud: `az cloud set --name {az}` then `az login`, or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET and pass --auth env")
            }
            Hint::SignInForCloud(None) => "sign in for this cloud: register it in the Azure CLI (`az cloud register`, then `az cloud set`) and `az login`, or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET and pass --auth env",
            Hint::RotateSecret => "rotate the secret with `keeper-azmon rotate-secret`",
            Hint::Text(t) => t,
        })
    }
}
