//! keeper-azmon: parse the command line, run a command, map errors to exit codes.

mod auth;
mod azure;
mod cli;
mod clock;
mod cloud;
mod commander;
mod commands;
mod discover;
mod error;
mod events;
mod history;
mod ingest;
mod names;
mod output;
mod rest;
mod run;
mod secret;
mod state;
mod steps;
mod wizard;

use clap::Parser;

use cli::{Cli, CloudCommand, Command};

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "keeper_azmon=info",
        _ => "keeper_azmon=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEPER_AZMON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Setup(args) => commands::setup::execute(args, None).await,
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
        }
    });
    if let Err(e) = result {
        // Display, never Debug: azure_core's Debug carries a backtrace.
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
