//! Guide step 6 (first half): the custom table `KeeperLogs_CL` with the columns of Keeper's events.

use crate::azure::workspace::{self, column_pairs, columns_from, Table};
use crate::error::Result;
use crate::rest::Rest;

use super::{step, Action, Ctx, Inputs, Observed, PlannedStep};

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Table>> {
    workspace::get_table(rest, &inputs.table_id()).await
}

/// Whether a table's columns differ from the template's.
pub fn drifted(table: &Table, inputs: &Inputs) -> bool {
    table.columns() != column_pairs(&columns_from(&inputs.columns()))
}

/// Whether the table's retention differs from what `--retention*` asks for.
pub fn retention_differs(table: &Table, inputs: &Inputs) -> bool {
    let Some(r) = inputs.retention else {
        return false;
    };
    let p = &table.properties;
    r.retention_in_days
        .is_some_and(|d| p.retention_in_days != Some(i64::from(d)))
        || r.total_retention_in_days
            .is_some_and(|d| p.total_retention_in_days != Some(i64::from(d)))
}

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    let action = match &o.table {
        None => Action::Create,
        Some(t) if drifted(t, inputs) || retention_differs(t, inputs) => Action::Update,
        Some(_) => Action::Reuse,
    };
    PlannedStep::new(step::TABLE, action, inputs.table_id())
}

/// Creates or updates the table (a long-running operation) unless the plan reuses it. An update keeps the
/// table's own retention unless `--retention*` changes it: a PUT without it would reset it.
/// `recovering`: the plan recovers the soft-deleted workspace this table is in.
pub async fn ensure(
    ctx: &Ctx,
    action: Action,
    found: Option<&Table>,
    recovering: bool,
) -> Result<((), String)> {
    let i = &ctx.inputs;
    let id = i.table_id();
    // A table planned while its workspace was soft-deleted (the plan recovers it) may have come back with it, with
    // its data and its own retention: looked at again, it is updated or kept, never put anew over its retention,
    // and it is ours only as far as the recovered workspace is.
    let recovered;
    let (action, found, created) = match (action, found) {
        (Action::Create, None) if recovering => match workspace::get_table(&ctx.rest, &id).await? {
            Some(t) => {
                recovered = t;
                let ours = ctx
                    .state_now()?
                    .resources
                    .get(step::WORKSPACE)
                    .is_some_and(|r| r.created);
                let again = if drifted(&recovered, i) || retention_differs(&recovered, i) {
                    Action::Update
                } else {
                    Action::Reuse
                };
                (again, Some(&recovered), ours)
            }
            None => (Action::Create, None, true),
        },
        (a, f) => (a, f, a == Action::Create),
    };
    if action != Action::Reuse {
        if action == Action::Create {
            // Recorded before the long-running PUT: a run cut off now still knows the table is ours.
            ctx.record_resource(step::TABLE, &id, &i.table, true)?;
        }
        let have = found.map(|t| &t.properties);
        let want = i.retention;
        let days = want
            .and_then(|r| r.retention_in_days)
            .map(i64::from)
            .or_else(|| have.and_then(|p| p.retention_in_days));
        let total = want
            .and_then(|r| r.total_retention_in_days)
            .map(i64::from)
            .or_else(|| have.and_then(|p| p.total_retention_in_days));
        let body = workspace::table_body(&i.table, &i.columns(), days, total);
        workspace::put_table(&ctx.rest, &id, &body).await?;
    }
    ctx.record_resource(step::TABLE, &id, &i.table, created)?;
    Ok(((), id))
}
