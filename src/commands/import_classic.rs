//! `keeper-azmon import-classic`: moves a classic table's history (Commander's `Keeper_CL`) into the deployment's table.

use std::io::IsTerminal;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use crate::auth::Auth;
use crate::cli::ImportClassicArgs;
use crate::commander::Mapping;
use crate::commands::verify::console_values;
use crate::error::{Error, Result};
use crate::history::{parse_time, Import, Reader};
use crate::ingest::Sender;
use crate::names;
use crate::printer::Format;
use crate::state::StateFile;

fn time_arg(flag: &str, v: &Option<String>) -> Result<Option<time::OffsetDateTime>> {
    v.as_deref()
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                Error::input(
                    format!("{flag} '{s}' is not a time"),
                    "give an RFC 3339 time (2025-01-31T00:00:00Z) or a date (2025-01-31), in UTC",
                )
            })
        })
        .transpose()
}

pub async fn execute(args: ImportClassicArgs) -> Result<()> {
    // Table names go into KQL and workspace ids into the query URL: each is checked before anything is sent.
    names::classic_table("--from-table", &args.from_table)?;
    for (flag, id) in [
        ("--from-workspace-id", &args.from_workspace_id),
        ("--workspace-id", &args.workspace_id),
    ] {
        if let Some(id) = id {
            names::guid(flag, id)?;
        }
    }
    // What needs no one signed in (the times, the event types file) is checked first.
    let (since, until) = (
        time_arg("--since", &args.since)?,
        time_arg("--until", &args.until)?,
    );
    let mapping = Mapping::load(args.enterprise_id, args.event_types.as_deref())?;
    let (out, secret, profile) = console_values(&args.target).await?;
    let workspace = args
        .workspace_id
        .clone()
        .unwrap_or(out.workspace_customer_id.clone());
    let table = match &args.table {
        Some(t) => names::table(t)?,
        None => out.table.clone(),
    };
    if workspace.is_empty() || table.is_empty() {
        return Err(Error::input(
            "the deployment's workspace and table are not known",
            "pass --workspace-id and --table, or --state",
        ));
    }
    if args.workspace_id.is_none() {
        names::from_state("workspace_customer_id", "--workspace-id", &workspace, |w| {
            names::guid("--workspace-id", w)
        })?;
    }
    if args.table.is_none() {
        names::from_state("table", "--table", &table, names::table)?;
    }
    let http = crate::rest::http_client(&profile)?;
    let app = Arc::new(Auth::client_secret(
        &out.tenant_id,
        &out.client_id,
        secret,
        &profile,
        &http,
    )?);
    let sender = Arc::new(Sender {
        http: http.clone(),
        endpoint_url: out.endpoint_url.clone(),
        auth: app.clone(),
        audience: profile.monitor_audience.clone(),
        max_attempts: 8,
        deadline: None,
        role_wait: None,
        requests: AtomicUsize::new(0),
        retries: AtomicUsize::new(0),
    });
    let human = args.target.common.output == Format::Human;
    let import = Import {
        reader: Reader {
            http,
            profile,
            auth: app,
            queries: 0,
        },
        sender,
        mapping,
        from_workspace: args.from_workspace_id.clone().unwrap_or(workspace.clone()),
        from_table: args.from_table.clone(),
        workspace,
        table: table.clone(),
        since,
        until,
        concurrency: args.concurrency,
        slice_rows: args.slice_rows.max(1),
        bar: human && std::io::stderr().is_terminal(),
    };
    if args.dry_run {
        // Read, not opened: a dry run takes no lock and writes no state.
        let state = if args.target.common.state.exists() {
            StateFile::read(&args.target.common.state)?
        } else {
            Default::default()
        };
        let preview = import.preview(&state, args.restart).await?;
        return crate::printer::print(args.target.common.output, &preview);
    }
    let mut state = StateFile::open(&args.target.common.state)?;
    let s = import.run(&mut state, args.restart).await?;
    crate::printer::print_summary(
        args.target.common.output,
        &ImportReport {
            summary: &s,
            from_table: &args.from_table,
            table: &table,
        },
    )?;
    Ok(())
}

/// `import-classic`'s report (docs/json.md): the import's [`Summary`](crate::history::Summary).
#[derive(serde::Serialize)]
struct ImportReport<'a> {
    #[serde(flatten)]
    summary: &'a crate::history::Summary,
    #[serde(skip)]
    from_table: &'a str,
    #[serde(skip)]
    table: &'a str,
}

impl crate::printer::Report for ImportReport<'_> {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        let s = self.summary;
        writeln!(
            w,
            "import-classic: {} events of {} from {} to {} are in {}{}{}; {} slices, {} queries, {} requests{}",
            s.imported,
            self.from_table,
            s.since,
            s.until,
            self.table,
            if s.until_live_stream { " (up to where live streaming began)" } else { "" },
            if s.already_there > 0 { format!(", {} found there already after the interrupted run", s.already_there) } else { String::new() },
            s.slices,
            s.queries,
            s.requests,
            if s.skipped > 0 { format!("; {} rows were not events and were left out", s.skipped) } else { String::new() },
        )
    }
}
