//! keeper-azmon: parse the command line, run a command, map errors to exit codes.

#[macro_use]
mod printer;
mod auth;
mod azure;
mod cli;
mod clock;
mod cloud;
mod commander;
mod commands;
mod console;
mod delivery;
mod discover;
mod error;
mod events;
mod history;
mod ingest;
mod interrupt;
mod marks;
mod names;
mod net;
mod private_file;
#[cfg(test)]
mod proptests;
mod request;
mod resource_id;
mod rest;
mod run;
mod secret;
mod state;
mod steps;
mod usage;
mod vault;
mod watch;
mod wizard;

// The printer's old name, for the files still being moved onto it (commands/setup.rs, wizard.rs, cli.rs): drop
// it once they say `printer`.

use clap::Parser;

use cli::{Cli, CloudCommand, Command};

/// Colour codes on stderr only for a person at a terminal who has not asked for none (https://no-color.org:
/// `NO_COLOR` set to anything but the empty string).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // rustls-platform-verifier logs an untrusted certificate as an ERROR line before the tool's own error
        // says the same with a hint: keep it for -v.
        0 => "warn,rustls_platform_verifier=off",
        1 => "keeper_azmon=info",
        _ => "keeper_azmon=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEPER_AZMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Keeper's SDK logs raw error bodies and request payloads before encryption, and the tool reports its errors
    // itself: off at every level, KEEPER_AZMON_LOG included.
    let filter = match "keeper_secrets_manager_core=off".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Knobs made for simulators and tests: set in production they change how long the tool waits, so say so.
fn warn_of_test_knobs() {
    for (var, what) in [
        (
            "KEEPER_AZMON_TIME_SCALE",
            "every wait, poll and Retry-After is shortened",
        ),
        (
            "KEEPER_AZMON_HTTP_TIMEOUT",
            "each request's time limit is changed",
        ),
    ] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            note!(
                "warning: {var}={} is set: {what}; it is meant for simulators and tests, not for Azure",
                v.to_string_lossy()
            );
        }
    }
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    warn_of_test_knobs();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            note!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let json_errors = cli.command.output() == Some(printer::Format::Json);
    if cli.no_input {
        console::forbid_prompts();
    }
    let result = rt.block_on(async {
        match cli.command {
            Command::Setup(args) => commands::setup::execute(*args, None).await,
            Command::Cloud {
                command: CloudCommand::Show { name },
            } => commands::cloud::show(&name),
            Command::Verify(args) => commands::verify::execute(args).await,
            Command::Teardown(args) => commands::teardown::execute(args).await,
            Command::Status(args) => commands::status::execute(args).await,
            Command::RotateSecret(args) => commands::rotate::execute(args).await,
            Command::Send(args) => commands::send::execute(args).await,
            Command::ImportClassic(args) => commands::import_classic::execute(args).await,
            Command::Demo(args) => commands::demo::execute(args).await,
            Command::Completions { shell } => commands::completions::completions(shell),
            Command::Man => commands::completions::man(),
        }
    });
    match result {
        // The reader of stdout is gone (`| head`): the command ends quietly, as ripgrep and other tools do.
        Err(error::Error::Output { closed: true, .. }) => std::process::exit(0),
        Err(e) => {
            // Display, never Debug: azure_core's Debug carries a backtrace.
            note!("error: {e}");
            // A pipeline reading stdout gets the error as JSON too; stderr keeps the text. Best effort: the
            // exit code says it all the same.
            let reported = console::STDOUT_WRITTEN.load(std::sync::atomic::Ordering::Relaxed);
            if let Some(j) = e.to_json().filter(|_| json_errors && !reported) {
                let _ = printer::write_stdout(&format!("{j}\n"));
            }
            std::process::exit(e.exit_code());
        }
        Ok(()) => {}
    }
}
