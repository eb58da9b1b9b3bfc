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

pub fn plan(inputs: &Inputs, o: &Observed) -> PlannedStep {
    let action = match &o.table {
        None => Action::Create,
        Some(t) if drifted(t, inputs) => Action::Update,
        Some(_) => Action::Reuse,
    };
    PlannedStep::new(step::TABLE, action, inputs.table_id())
}

/// Creates or updates the table (a long-running operation) unless the plan reuses it.
pub async fn ensure(ctx: &Ctx, action: Action) -> Result<((), String)> {
    let i = &ctx.inputs;
    let id = i.table_id();
    if action != Action::Reuse {
        if action == Action::Create {
            // Recorded before the long-running PUT: a run cut off now still knows the table is ours.
            ctx.record_resource(step::TABLE, &id, &i.table, true)?;
        }
        let body = workspace::table_body(&i.table, &i.columns());
        workspace::put_table(&ctx.rest, &id, &body).await?;
    }
    ctx.record_resource(step::TABLE, &id, &i.table, action == Action::Create)?;
    Ok(((), id))
}
