//! The terminal's two streams at the bottom of the house: writes that never panic (stdout's failure an error,
//! stderr's let be), the output format, and the plain notes that lower modules (ingest, history, the vault, the
//! Keeper step) give; everything a command shows goes through [`crate::printer`].

use crate::error::{Error, Result};

/// `--no-input`, set once by main.
static NO_INPUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--no-input` (or `KEEPER_AZMON_NO_INPUT`): fail instead of prompting.
pub fn forbid_prompts() {
    NO_INPUT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a person may be asked: stdin and stderr are a terminal, and neither `--no-input` nor a CI
/// environment (`CI` set to anything but `false` or `0`, as GitHub Actions, Azure Pipelines and GitLab set it)
/// says no one is there. Without it, a missing input is an error that names its flag, never a prompt.
pub fn may_prompt() -> bool {
    use std::io::IsTerminal;
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    !NO_INPUT.load(std::sync::atomic::Ordering::Relaxed)
        && !ci
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// disk) is an error.
/// Whether a report has gone to stdout: then a failure's JSON error object is not added after it.
pub static STDOUT_WRITTEN: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

pub fn write_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    STDOUT_WRITTEN.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Error::Output {
            stream: "stdout",
            closed: e.kind() == std::io::ErrorKind::BrokenPipe,
            what: e.to_string(),
        })
}

/// Whether stdout reaches nobody: `/dev/null`, or closed when the tool started (Rust's runtime then opens
/// `/dev/null` in its place). A secret "shown" there is lost.
pub fn stdout_reaches_nobody() -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        if let (Ok(out), Ok(null)) = (
            std::fs::metadata("/proc/self/fd/1"),
            std::fs::metadata("/dev/null"),
        ) {
            return out.file_type().is_char_device() && out.rdev() == null.rdev();
        }
    }
    false
}

/// Writes `text` to stderr; a failure is ignored (see [`note!`]).
pub fn write_stderr(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|_| err.flush());
}

/// A line on stderr: progress, a warning, a hint; a stderr that cannot be written is let be.
pub fn note(line: impl std::fmt::Display) {
    write_stderr(&format!("{line}\n"));
}

/// A `warning: ...` line on stderr.
pub fn warn(what: impl std::fmt::Display) {
    note(format_args!("warning: {what}"));
}
