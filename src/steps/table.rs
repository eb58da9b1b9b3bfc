//! Guide step 6 (first half): the custom table `KeeperLogs_CL` with the columns of Keeper's events.

use futures::future::BoxFuture;

use crate::azure::workspace::{self, column_pairs, columns_from, Table};
use crate::error::Result;
use crate::rest::Rest;
use crate::state::State;

use super::kind::{self, Arm, Checked, Fate, Item, Keeping, KindId, Look};
use super::{Action, Change, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct KeeperTable;

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

/// What an update changes: the columns (how many differ) and the retention `--retention*` asks for.
fn delta(table: &Table, inputs: &Inputs) -> Vec<Change> {
    let mut out = vec![];
    let have = table.columns();
    let want = column_pairs(&columns_from(&inputs.columns()));
    if have != want {
        let missing: Vec<&str> = want
            .iter()
            .filter(|c| !have.contains(c))
            .map(|(n, _)| n.as_str())
            .collect();
        let new = if missing.is_empty() {
            format!("{} columns", want.len())
        } else {
            format!(
                "{} columns (adds or retypes {})",
                want.len(),
                missing.join(", ")
            )
        };
        out.push(Change::new(
            "schema.columns",
            format!("{} columns", have.len()),
            new,
        ));
    }
    if let Some(r) = inputs.retention {
        let p = &table.properties;
        let days =
            |d: Option<i64>| d.map_or("(workspace default)".to_string(), |d| format!("{d} days"));
        if let Some(d) = r
            .retention_in_days
            .filter(|d| p.retention_in_days != Some(i64::from(*d)))
        {
            out.push(Change::new(
                "retentionInDays",
                days(p.retention_in_days),
                format!("{d} days"),
            ));
        }
        if let Some(d) = r
            .total_retention_in_days
            .filter(|d| p.total_retention_in_days != Some(i64::from(*d)))
        {
            out.push(Change::new(
                "totalRetentionInDays",
                days(p.total_retention_in_days),
                format!("{d} days"),
            ));
        }
    }
    out
}

/// Creates or updates the table (a long-running operation) unless the plan reuses it. An update keeps the
/// table's own retention unless `--retention*` changes it: a PUT without it would reset it.
/// `recovering`: the plan recovers the soft-deleted workspace this table is in.
async fn ensure(
    ctx: &Ctx,
    action: Action,
    found: Option<&Table>,
    recovering: bool,
) -> Result<String> {
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
                    .get(&Key::Workspace.to_string())
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
            ctx.record_resource(&Key::Table, &id, &i.table, true)?;
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
    ctx.record_resource(&Key::Table, &id, &i.table, created)?;
    Ok(id)
}

impl kind::Resource for KeeperTable {
    fn kind(&self) -> KindId {
        KindId::Table
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Table]
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::Workspace]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: workspace::TABLE_TYPE,
            api_version: workspace::API_VERSION,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let id = inputs.table_id();
        match &o.table {
            None => PlannedStep::new(key.clone(), Action::Create, id),
            Some(t) if drifted(t, inputs) || retention_differs(t, inputs) => {
                let mut s = PlannedStep::new(key.clone(), Action::Update, id);
                s.delta = delta(t, inputs);
                s
            }
            Some(_) => PlannedStep::new(key.clone(), Action::Reuse, id),
        }
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let action = plan.action(key).unwrap_or(Action::Create);
        let recovering = plan.action(&Key::Workspace) == Some(Action::Recover);
        Box::pin(ensure(
            ctx,
            action,
            plan.observed.table.as_ref(),
            recovering,
        ))
    }

    /// Drifted when its columns are no longer the template's.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = workspace::get_table(look.rest, &item.id).await?.map(|t| {
                (t.columns() != column_pairs(&columns_from(&super::inputs::table_columns())))
                    .then(|| "columns differ from templates/table-columns.json".to_string())
            });
            Ok(Checked::of(item, found))
        })
    }

    fn fate(&self, item: &Item, keeping: &Keeping, _state: &State) -> Fate {
        if !item.created {
            Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.id))
        } else if keeping.data {
            Fate::Keep(format!("{} {} (kept on request)", item.key, item.id))
        } else {
            Fate::Delete
        }
    }
}
