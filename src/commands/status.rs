//! `keeper-azmon status`: each resource of the deployment present, as expected, drifted or missing; secret expiry.

use serde_json::Value;

use crate::azure::dcr::{self, Dcr};
use crate::azure::sentinel as sentinel_api;
use crate::azure::workspace::{self, column_pairs, columns_from};
use crate::azure::{self, graph, providers, roles};
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::printer::{self, Hint, Report};
use crate::state::{State, StateFile};
use crate::steps::inputs::table_columns;
use crate::steps::{sentinel, step};

/// Health of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Drifted,
    Missing,
    Expiring,
    Expired,
}

/// `status`'s report: one item per resource, role and secret of the deployment (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct StatusReport {
    deployment: String,
    /// Shown in the heading only.
    #[serde(skip)]
    cloud: String,
    healthy: bool,
    items: Vec<Item>,
}

impl Report for StatusReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "Deployment '{}' ({}):", self.deployment, self.cloud)?;
        for i in &self.items {
            let mark = if i.health == Health::Ok { "✓" } else { "✗" };
            writeln!(
                w,
                "  {mark} {:<40} {:<8} {}",
                i.item,
                format!("{:?}", i.health).to_lowercase(),
                i.detail
            )?;
        }
        if matches!(
            self.items
                .iter()
                .find(|i| i.item == step::SECRET)
                .map(|i| i.health),
            Some(Health::Expiring | Health::Expired)
        ) {
            writeln!(w, "  hint: {}", Hint::RotateSecret)?;
        }
        Ok(())
    }
}

#[derive(Debug, serde::Serialize)]
struct Item {
    item: String,
    health: Health,
    detail: String,
}

/// Whether the Keeper record holds the current secret's key id, the client id and the Endpoint URL; never
/// reads out the secret value.
async fn keeper_drift(s: &State, k: &crate::steps::keeper::Target) -> Result<(Health, String)> {
    use crate::vault::{label, VaultError};
    let rec = match k.vault.read(&k.uid).await {
        Ok(r) => r,
        Err(VaultError::UnknownRecord(_)) => {
            return Ok((
                Health::Missing,
                format!("record {} is not shared with the KSM application", k.uid),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let out = s.outputs.clone().unwrap_or_default();
    let key_id = s
        .secret
        .as_ref()
        .map(|x| x.key_id.clone())
        .unwrap_or_default();
    let mut off = vec![];
    for (what, want, got) in [
        (
            "the client secret's key id",
            key_id,
            rec.custom.get(label::KEY_ID).cloned(),
        ),
        ("the client id", out.client_id, rec.login.clone()),
        ("the Endpoint URL", out.endpoint_url, rec.url.clone()),
    ] {
        if got.as_deref() != Some(want.as_str()) {
            off.push(what);
        }
    }
    Ok(if off.is_empty() {
        (
            Health::Ok,
            format!("record {} holds the current values", k.uid),
        )
    } else {
        (
            Health::Drifted,
            format!(
                "record {} lacks {} (`keeper-azmon rotate-secret` refills it)",
                k.uid,
                off.join(", ")
            ),
        )
    })
}

/// How a DCR differs from what setup made: a new immutable id (the Endpoint URL is stale), or its stream,
/// endpoint or destination.
fn dcr_drift(s: &State, rule: &Dcr) -> Option<String> {
    let o = s.outputs.clone().unwrap_or_default();
    if !o.dcr_immutable_id.is_empty() && rule.immutable_id() != Some(o.dcr_immutable_id.as_str()) {
        return Some(
            "immutableId changed: the Endpoint URL in the Admin Console is stale".to_string(),
        );
    }
    let id_of = |kind: &str| {
        s.resources
            .get(kind)
            .map(|r| r.id.clone())
            .unwrap_or_default()
    };
    let want = dcr::read(&dcr::body(
        &s.location,
        Value::Null,
        &id_of(step::DCE),
        &id_of(step::WORKSPACE),
        &o.stream,
        &table_columns(),
    ));
    (!rule.matches(&want)).then(|| "stream, endpoint or destination differ from setup".to_string())
}

pub async fn execute(args: StatusArgs) -> Result<()> {
    let from_file = args.common.state.exists();
    let mut s = if from_file {
        StateFile::read(&args.common.state)?
    } else {
        crate::state::State::default()
    };
    super::agreed(
        "--subscription",
        args.subscription.as_deref(),
        &s.subscription_id,
    )?;
    let (label, profile, rest) = super::connect(&args.common, &s)?;
    if !from_file {
        let (Some(d), Some(sub)) = (&args.deployment, &args.subscription) else {
            return Err(Error::input(
                format!("no state file at {}", args.common.state.display()),
                "pass --state with the file setup wrote, or --deployment and --subscription to find the deployment by its tag",
            ));
        };
        s = crate::discover::by_tag(&rest, sub, d, &label).await?;
    }
    let mut items = vec![];
    let mut push = |item: &str, health: Health, detail: String| {
        items.push(Item {
            item: item.to_string(),
            health,
            detail,
        })
    };

    let mut app = None;
    // Right after setup, Graph may not show the app or its service principal yet: not reported missing then.
    let graph_until = graph::replicating_until(&s.updated_at);
    for (kind, r) in &s.resources {
        let drift = match kind.as_str() {
            step::APP => {
                app = graph::get_while_replicating(graph_until, || {
                    graph::get_application(&rest, &r.id)
                })
                .await?;
                app.as_ref().map(|a| {
                    let uri = graph::identifier_uri(&a.app_id);
                    (!a.identifier_uris.contains(&uri))
                        .then(|| format!("identifier URI is not {uri}"))
                })
            }
            step::SP => graph::get_while_replicating(graph_until, || {
                graph::get_service_principal(&rest, &r.id)
            })
            .await?
            .map(|_| None),
            step::RESOURCE_GROUP => {
                providers::resource_group(&rest, &s.subscription_id, &s.resource_group)
                    .await?
                    .map(|_| None)
            }
            step::WORKSPACE => workspace::get(&rest, &r.id).await?.map(|_| None),
            step::TABLE => workspace::get_table(&rest, &r.id).await?.map(|t| {
                (t.columns() != column_pairs(&columns_from(&table_columns())))
                    .then(|| "columns differ from templates/table-columns.json".to_string())
            }),
            step::DCE => azure::dce::get(&rest, &r.id).await?.map(|d| {
                let o = s.outputs.clone().unwrap_or_default();
                let now = d.logs_ingestion_endpoint().unwrap_or_default();
                (!o.logs_ingestion_endpoint.is_empty() && now != o.logs_ingestion_endpoint)
                    .then(|| format!("logs ingestion endpoint is now {now}"))
            }),
            step::DCR => dcr::get(&rest, &r.id).await?.map(|d| dcr_drift(&s, &d)),
            step::SENTINEL_ONBOARDING => {
                let ws = s
                    .resources
                    .get(step::WORKSPACE)
                    .map(|w| w.id.clone())
                    .unwrap_or_default();
                sentinel_api::onboarded(&rest, &ws).await?.then_some(None)
            }
            k if sentinel::is_content(k) => {
                let ws = s
                    .resources
                    .get(step::WORKSPACE)
                    .map(|w| w.id.clone())
                    .unwrap_or_default();
                let table = s
                    .resources
                    .get(step::TABLE)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                sentinel_api::get(&rest, &r.id)
                    .await?
                    .map(|c| sentinel::drift(k, &c, &table, &ws, &s.location))
            }
            _ => Some(None),
        };
        match drift {
            None => push(kind, Health::Missing, format!("{} is gone", r.id)),
            Some(Some(d)) => push(kind, Health::Drifted, d),
            Some(None) => push(kind, Health::Ok, r.id.clone()),
        }
    }
    for ra in &s.role_assignments {
        let name = format!("role:{}:{}", ra.on, ra.role.display_name());
        match azure::arm_get(&rest, &ra.id, roles::API_VERSION).await? {
            Some(_) => push(&name, Health::Ok, ra.id.clone()),
            None => push(&name, Health::Missing, format!("{} is gone", ra.id)),
        }
    }
    if let Some(sec) = &s.secret {
        let found = app.as_ref().and_then(|a| {
            a.password_credentials
                .iter()
                .find(|p| p.key_id == sec.key_id)
                .cloned()
        });
        match found {
            None => push(
                step::SECRET,
                Health::Missing,
                format!("key {} is no longer on the app", sec.key_id),
            ),
            Some(p) => {
                let end = p.end_date_time.unwrap_or_else(|| sec.end_date_time.clone());
                let days = time::OffsetDateTime::parse(
                    &end,
                    &time::format_description::well_known::Rfc3339,
                )
                .map(|e| (e - time::OffsetDateTime::now_utc()).whole_days())
                .unwrap_or(i64::MAX);
                let h = if days < 0 {
                    Health::Expired
                } else if days <= 30 {
                    Health::Expiring
                } else {
                    Health::Ok
                };
                push(step::SECRET, h, format!("expires {end} ({days} days)"));
            }
        }
    }
    if let Some(k) = crate::steps::keeper::ready(&args.keeper, &s, &profile, &rest.http).await? {
        let (health, detail) = keeper_drift(&s, &k).await?;
        push(step::KEEPER_RECORD, health, detail);
    }
    let problems = items.iter().filter(|i| i.health != Health::Ok).count();
    let report = StatusReport {
        deployment: s.deployment.clone(),
        cloud: s.cloud.clone(),
        healthy: problems == 0,
        items,
    };
    printer::print(args.common.output, &report)?;
    if problems > 0 {
        return Err(Error::Unhealthy(problems));
    }
    Ok(())
}
