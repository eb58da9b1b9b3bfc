//! `completions` and `man`: shell completions and the man page, generated from the clap definitions in cli.rs
//! so they always list the flags the binary has. Hidden from the main help; the release attaches their output.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "keeper-azmon", &mut out);
    crate::printer::write_stdout(&String::from_utf8_lossy(&out))
}

/// Prints the man page (section 1, roff) on stdout.
pub fn man() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Error::Other(format!("cannot render the man page: {e}")))?;
    crate::printer::write_stdout(&String::from_utf8_lossy(&out))
}
