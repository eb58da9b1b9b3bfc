//! `keeper-azmon verify --keeper`: the step after pasting the values into the Admin Console; the newest event that
//! Keeper itself sent, read from the workspace (with `--wait`, waited for), and what to check when there is none.

use std::time::Duration;

use crate::cli::VerifyArgs;
use crate::error::{Error, Hint, Result};
use crate::printer::{self, Format, Report};
use crate::rest::Schedule;
use crate::state::StateFile;
use crate::watch::{LastEvent, Reader};

/// How often `--wait` looks: from 30 s, doubling, to 5 min between looks (the first rows can take up to 15
/// minutes to show, day-two-facts.md).
const LOOKS: Schedule = Schedule::new(Duration::from_secs(30), Duration::from_secs(300));

/// `verify --keeper`'s report (docs/json.md).
#[derive(Debug, serde::Serialize)]
struct KeeperReport {
    found: bool,
    /// The newest event Keeper sent, test events and backfilled history left out.
    keeper_event: Option<LastEvent>,
    table: String,
    /// How many times the workspace was asked.
    looks: u32,
}

impl Report for KeeperReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        match &self.keeper_event {
            Some(e) => writeln!(
                w,
                "  ✓ Keeper streams: its newest event in {} is {} at {} ({})",
                self.table,
                e.audit_event,
                e.at,
                crate::watch::ago(&e.at, time::OffsetDateTime::now_utc())
            ),
            None => writeln!(w, "  ✗ no event from Keeper in {} yet", self.table),
        }
    }
}

/// What to check when Keeper's first event has not come.
fn not_yet(waited: bool) -> Hint {
    Hint::Text(format!(
        "check the values in Keeper's Admin Console (Reporting & Alerts > Azure Monitor Logs: tenant id, client id, secret and Endpoint URL, as setup printed them); a new role assignment can take up to 30 minutes to let Keeper's posts in, and the first rows up to 15 more to show{}",
        if waited { "" } else { "; `verify --keeper --wait` waits for the first one" }
    ))
}

pub async fn execute(args: VerifyArgs) -> Result<()> {
    let common = &args.target.common;
    if !common.state.exists() && (args.workspace_id.is_none() || args.table.is_none()) {
        return Err(Error::input(
            format!("verify --keeper reads the deployment's workspace, and there is no state file at {}", common.state.display()),
            "pass --state with the file setup wrote, or --workspace-id and --table",
        ));
    }
    let s = if common.state.exists() {
        StateFile::read(&common.state)?
    } else {
        Default::default()
    };
    let o = s.outputs.clone().unwrap_or_default();
    let workspace = match &args.workspace_id {
        Some(w) => w.clone(),
        None => crate::names::from_state(
            "workspace_customer_id",
            "--workspace-id",
            &o.workspace_customer_id,
            |w| crate::names::guid("--workspace-id", w),
        )
        .map(|_| o.workspace_customer_id.clone())?,
    };
    crate::names::guid("--workspace-id", &workspace)?;
    let table = match &args.table {
        Some(t) => crate::names::table(t)?,
        None => crate::names::from_state("table", "--table", &o.table, crate::names::table)?,
    };
    let (_, profile, rest) = super::connect(common, &s)?;
    let human = common.output == Format::Human;
    let reader = Reader::open(&rest.http, &profile, &rest.auth, &workspace).await?;
    let mut backoff = LOOKS.within(Duration::from_secs(args.timeout));
    let mut looks = 0;
    let found = loop {
        looks += 1;
        let seen = match reader.last_event(&table).await {
            Ok(seen) => seen,
            // The operator's read access may be new too: waited through like an empty table, while it lasts.
            Err(e) if args.wait && crate::watch::is_forbidden(&e) => None,
            Err(e) if crate::watch::is_forbidden(&e) => {
                return Err(Error::input(
                    format!("the signed-in identity may not read the workspace's data: {}", e.to_string().lines().next().unwrap_or_default()),
                    "assign it Log Analytics Reader (or Reader) on the workspace; a new assignment can take up to an hour to be honoured by the query API",
                ))
            }
            Err(e) => return Err(e),
        };
        if seen.is_some() || !args.wait {
            break seen;
        }
        let Some(d) = backoff.next_wait() else {
            break None;
        };
        if human && looks == 1 {
            printer::note(format_args!(
                "  … no event from Keeper yet; looking again every few minutes, for at most {} (--timeout)",
                crate::clock::span(Duration::from_secs(args.timeout))
            ));
        }
        crate::rest::pause(d).await;
    };
    let report = KeeperReport {
        found: found.is_some(),
        keeper_event: found,
        table,
        looks,
    };
    printer::print(common.output, &report)?;
    if !report.found {
        return Err(Error::NoKeeperEvent(not_yet(args.wait)));
    }
    Ok(())
}
