//! Guide step 6 (second half): the data collection rule that declares the stream and sends it to the table.

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::azure::dcr::{self, Dcr};
use crate::azure::{tags, workspace};
use crate::error::{Error, Result};
use crate::rest::{self, Rest, Schedule};
use crate::state::State;

use super::kind::{self, Arm, Checked, Discovery, Item, KindId, Look};
use super::{Action, Change, Ctx, Inputs, Key, Observed, Plan, PlannedStep};

pub struct Rule;

pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<Dcr>> {
    dcr::get(rest, &inputs.dcr_id()).await
}

/// The DCR body this deployment wants.
pub fn desired_body(inputs: &Inputs) -> Value {
    dcr::body(
        &inputs.location,
        tags(&inputs.deployment),
        &inputs.dce_id(),
        &inputs.workspace_id(),
        &inputs.stream(),
        &inputs.columns(),
    )
}

/// What an update of `found` to `want` changes: the endpoint, the destination, the stream and its columns, the
/// flow (ids compared without case, as [`Dcr::matches`] does).
fn delta(found: &Dcr, want: &Dcr) -> Vec<Change> {
    let text = |v: Option<&str>| v.unwrap_or("(none)").to_string();
    let same = |a: Option<&str>, b: Option<&str>| {
        a.map(str::to_ascii_lowercase) == b.map(str::to_ascii_lowercase)
    };
    let streams = |d: &Dcr| {
        let all: Vec<String> = d
            .properties
            .stream_declarations
            .iter()
            .map(|(k, s)| format!("{k} ({} columns)", s.columns.len()))
            .collect();
        if all.is_empty() {
            "(none)".to_string()
        } else {
            all.join(", ")
        }
    };
    let columns = |d: &Dcr| {
        d.properties
            .stream_declarations
            .iter()
            .map(|(k, s)| (k.clone(), workspace::column_pairs(&s.columns)))
            .collect::<Vec<_>>()
    };
    let mut out = vec![];
    let (f, w) = (&found.properties, &want.properties);
    let (fe, we) = (
        f.data_collection_endpoint_id.as_deref(),
        w.data_collection_endpoint_id.as_deref(),
    );
    if !same(fe, we) {
        out.push(Change::new("dataCollectionEndpointId", text(fe), text(we)));
    }
    if !same(found.workspace_id(), want.workspace_id()) {
        out.push(Change::new(
            "destinations.logAnalytics.workspaceResourceId",
            text(found.workspace_id()),
            text(want.workspace_id()),
        ));
    }
    if columns(found) != columns(want) {
        let (old, new) = (streams(found), streams(want));
        let new = if old == new {
            format!("{new}, as templates/table-columns.json has them")
        } else {
            new
        };
        out.push(Change::new("streamDeclarations", old, new));
    }
    let (ff, wf) = (f.data_flows.first(), w.data_flows.first());
    if ff != wf {
        let part = |d: Option<&dcr::DataFlow>, what: &str| -> String {
            let Some(d) = d else {
                return "(none)".into();
            };
            match what {
                "outputStream" => d.output_stream.clone().unwrap_or_else(|| "(none)".into()),
                "transformKql" => d.transform_kql.clone().unwrap_or_else(|| "(none)".into()),
                _ => d.streams.join(", "),
            }
        };
        for what in ["streams", "transformKql", "outputStream"] {
            let (old, new) = (part(ff, what), part(wf, what));
            if old != new {
                out.push(Change::new(&format!("dataFlows[0].{what}"), old, new));
            }
        }
    }
    out
}

/// Creates or updates the rule unless the plan reuses it; either way it must have an immutable id.
async fn ensure(ctx: &Ctx, found: Option<Dcr>, action: Action) -> Result<String> {
    let i = &ctx.inputs;
    let id = i.dcr_id();
    let (rule, created) = match (found, action) {
        (Some(d), Action::Reuse) => {
            let ours = d.has_tag(&i.deployment) || ctx.was_created(&Key::Dcr);
            (d, ours)
        }
        (found, _) => {
            let ours = found
                .as_ref()
                .is_none_or(|d| d.has_tag(&i.deployment) || ctx.was_created(&Key::Dcr));
            let mut body = desired_body(i);
            if let (Some(d), false) = (&found, ours) {
                // Never tag what the tool did not make: an adopted rule keeps its own tags, so that discovery by
                // tag (teardown without a state file) can never take it for the tool's.
                body["tags"] = serde_json::json!(d.tags);
            }
            (put_when_table_usable(ctx, &id, &body).await?, ours)
        }
    };
    if rule.immutable_id().is_none() {
        return Err(Error::Other(format!(
            "DCR {id} has no immutableId in its answer"
        )));
    }
    ctx.record_resource(&Key::Dcr, &id, &i.dcr_name, created)?;
    ctx.made.put(rule);
    Ok(id)
}

/// How long a rule waits for its new table to become usable as an output before giving up.
const TABLE_USABLE_WAIT: Duration = Duration::from_secs(120);

/// PUTs the rule, retrying `InvalidOutputTable` for a while: a table whose operation has just ended is not yet
/// known to the DCR service for a few seconds (hashicorp/terraform-provider-azurerm#21897). Bounded by
/// [`TABLE_USABLE_WAIT`]; every other refusal comes back at once, with its `details[]`.
async fn put_when_table_usable(ctx: &Ctx, id: &str, body: &Value) -> Result<Dcr> {
    rest::retry_while(
        Schedule::new(Duration::from_millis(500), Duration::from_secs(10))
            .within(TABLE_USABLE_WAIT),
        |e| matches!(e, Error::Azure(a) if a.has_code("InvalidOutputTable")),
        |_| {
            ctx.reporter.waiting(
                &Key::Dcr.to_string(),
                "the new table to become usable by data collection rules",
            )
        },
        || dcr::put(&ctx.rest, id, body),
    )
    .await
}

/// How a DCR differs from what setup made: a new immutable id (the Endpoint URL is stale), or its stream,
/// endpoint or destination.
fn drift(s: &State, rule: &Dcr) -> Option<String> {
    let o = s.outputs.clone().unwrap_or_default();
    if !o.dcr_immutable_id.is_empty() && rule.immutable_id() != Some(o.dcr_immutable_id.as_str()) {
        return Some(
            "immutableId changed: the Endpoint URL in the Admin Console is stale".to_string(),
        );
    }
    let id_of = |key: Key| {
        s.resources
            .get(&key.to_string())
            .map(|r| r.id.clone())
            .unwrap_or_default()
    };
    let want = dcr::read(&dcr::body(
        &s.location,
        Value::Null,
        &id_of(Key::Dce),
        &id_of(Key::Workspace),
        &o.stream,
        &super::inputs::table_columns(),
    ));
    (!rule.matches(&want)).then(|| "stream, endpoint or destination differ from setup".to_string())
}

impl kind::Resource for Rule {
    fn kind(&self) -> KindId {
        KindId::Dcr
    }

    fn wanted(&self, _inputs: &Inputs) -> Vec<Key> {
        vec![Key::Dcr]
    }

    fn depends_on(&self, _key: &Key) -> Vec<KindId> {
        vec![KindId::ResourceGroup, KindId::Table, KindId::Dce]
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: dcr::TYPE,
            api_version: dcr::API_VERSION,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let desired = dcr::read(&desired_body(inputs));
        match &o.dcr {
            None => PlannedStep::new(key.clone(), Action::Create, inputs.dcr_id()),
            Some(d) if !d.matches(&desired) => {
                let mut s = PlannedStep::new(key.clone(), Action::Update, inputs.dcr_id());
                s.delta = delta(d, &desired);
                s
            }
            Some(_) => PlannedStep::new(key.clone(), Action::Reuse, inputs.dcr_id()),
        }
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        let action = plan.action(key).unwrap_or(Action::Create);
        Box::pin(ensure(ctx, plan.observed.dcr.clone(), action))
    }

    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let found = dcr::get(look.rest, &item.id)
                .await?
                .map(|d| drift(look.state, &d));
            Ok(Checked::of(item, found))
        })
    }

    /// The rule by its tag, and the table it writes to: the table has no tags, and counts as ours only inside a
    /// workspace the tool made (in a reused workspace the table may be the admin's).
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            kind::discover_tagged(d, Key::Dcr, dcr::TYPE).await?;
            let Some(id) = d.id_of(&Key::Dcr) else {
                return Ok(());
            };
            let Some(rule) = dcr::get(d.rest, &id).await? else {
                return Ok(());
            };
            let out = rule.output_stream().unwrap_or_default();
            let ws = rule.workspace_id().unwrap_or_default();
            let table = out.strip_prefix("Custom-").unwrap_or(out);
            d.state.outputs = Some(crate::state::Outputs {
                stream: out.to_string(),
                table: table.to_string(),
                dcr_immutable_id: rule.immutable_id().unwrap_or_default().to_string(),
                ..Default::default()
            });
            if d.content_workspace.is_none() && !ws.is_empty() {
                d.content_workspace = Some(ws.to_string());
            }
            let ws_ours = d
                .id_of(&Key::Workspace)
                .is_some_and(|w| w.eq_ignore_ascii_case(ws));
            if ws_ours && !table.is_empty() {
                let id = workspace::table_id(ws, table);
                if workspace::get_table(d.rest, &id).await?.is_some() {
                    d.record(&Key::Table, &id, crate::azure::name_of(&id), true);
                }
            }
            Ok(())
        })
    }
}
