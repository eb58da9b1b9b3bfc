//! The resource contract: every kind of thing a deployment is made of implements [`Resource`] once, in its own
//! file; [`super::registry`] lists them, the drivers (run, teardown, status, preflight, discover) only walk it.

use futures::future::BoxFuture;
use serde::Serialize;

use crate::azure::graph::Application;
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{Resource as Recorded, State};
use crate::vault::Vault;

pub use super::key::{Arm, Key, KindId};
use super::{Ctx, Inputs, Observed, Plan, PlannedStep};

/// One thing the state says the deployment has, and whether the tool made it or adopted it.
#[derive(Debug, Clone)]
pub struct Item {
    pub key: Key,
    pub id: String,
    pub name: String,
    /// Made by the tool (teardown deletes only these); false for what it adopted or reused.
    pub created: bool,
    /// How teardown names it.
    pub shown: String,
}

impl Item {
    pub fn from_record(key: Key, r: &Recorded) -> Item {
        Item {
            key,
            id: r.id.clone(),
            name: r.name.clone(),
            created: r.created,
            shown: r.id.clone(),
        }
    }
}

/// Health of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Drifted,
    Missing,
    Expiring,
    Expired,
}

/// What `status` found of one item: its health, what to say, and what to do about it.
#[derive(Debug, Clone)]
pub struct Checked {
    pub health: Health,
    pub detail: String,
    pub hint: Option<crate::error::Hint>,
}

impl Checked {
    pub fn new(health: Health, detail: impl Into<String>) -> Checked {
        Checked {
            health,
            detail: detail.into(),
            hint: None,
        }
    }

    /// From a drift check: gone, drifted (how) or as expected.
    pub fn of(item: &Item, found: Option<Option<String>>) -> Checked {
        match found {
            None => Checked::new(Health::Missing, format!("{} is gone", item.id)),
            Some(Some(d)) => Checked::new(Health::Drifted, d),
            Some(None) => Checked::new(Health::Ok, item.id.clone()),
        }
    }
}

/// What `status` reads with: the connection, the state, and what several kinds share.
pub struct Look<'a> {
    pub rest: &'a Rest,
    pub state: &'a State,
    /// Until then, Graph may not show what setup made moments ago.
    pub graph_until: std::time::Instant,
    /// The Keeper record to compare, when a KSM config is at hand.
    pub keeper: Option<crate::vault::target::Target>,
    app: tokio::sync::OnceCell<Option<Application>>,
}

impl<'a> Look<'a> {
    pub fn new(
        rest: &'a Rest,
        state: &'a State,
        keeper: Option<crate::vault::target::Target>,
    ) -> Look<'a> {
        Look {
            rest,
            state,
            graph_until: crate::azure::graph::replicating_until(&state.updated_at),
            keeper,
            app: tokio::sync::OnceCell::new(),
        }
    }

    /// The state's app registration, read once for every kind that asks (the app and its secret).
    pub async fn app(&self) -> Result<Option<&Application>> {
        let app = self
            .app
            .get_or_try_init(|| async {
                let Some(r) = self.state.resources.get(&Key::Application.to_string()) else {
                    return Ok(None);
                };
                crate::azure::graph::get_while_replicating(self.graph_until, || {
                    crate::azure::graph::get_application(self.rest, &r.id)
                })
                .await
            })
            .await?;
        Ok(app.as_ref())
    }
}

/// What teardown does with an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Delete,
    /// Kept, with the line that says why.
    Keep(String),
    /// Not the tool's, and not worth a line.
    Leave,
}

/// What teardown was asked to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keeping {
    /// `--keep-data`: the table (and its workspace) stay.
    pub data: bool,
    /// `--keep-workspace`.
    pub workspace: bool,
    /// `--delete-keeper-record`: the Keeper record the tool made goes too.
    pub delete_keeper_record: bool,
    /// `--force-delete-workspace`: purged, not soft-deleted.
    pub force_delete_workspace: bool,
}

/// What a deletion needs.
pub struct Deleting<'a> {
    pub rest: &'a Rest,
    pub state: &'a State,
    pub keeping: Keeping,
    pub vault: Option<&'a Vault>,
    pub graph_until: std::time::Instant,
    /// Said when Graph does not find yet what setup made moments ago, and it asks again.
    pub lagging: &'a (dyn Fn(&Key) + Sync),
}

/// What teardown says of a kind before deleting it: a line, and the fields its JSON deletion carries.
#[derive(Debug, Clone, Default)]
pub struct Note {
    pub text: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// What a deletion did.
#[derive(Debug, Clone, Default)]
pub struct Deleted {
    pub existed: bool,
    /// How to say it, when not plainly "deleted" / "already gone".
    pub how: Option<String>,
    /// Fields the JSON report adds to the deletion.
    pub json: serde_json::Map<String, serde_json::Value>,
    /// A line for the end of the run.
    pub closing: Option<String>,
}

impl Deleted {
    pub fn existed(existed: bool) -> Deleted {
        Deleted {
            existed,
            ..Deleted::default()
        }
    }
}

/// What tag discovery (teardown and status without a state file) builds up.
pub struct Discovery<'a> {
    pub rest: &'a Rest,
    pub subscription: &'a str,
    pub deployment: &'a str,
    pub state: State,
    /// The workspace the deployment's content (Sentinel's) sits in: the tool's, else the one its rule writes to.
    pub content_workspace: Option<String>,
    /// The app registration found by its tag.
    pub found_app: Option<Application>,
    tagged: tokio::sync::OnceCell<Vec<serde_json::Value>>,
}

impl<'a> Discovery<'a> {
    pub fn new(
        rest: &'a Rest,
        subscription: &'a str,
        deployment: &'a str,
        state: State,
    ) -> Discovery<'a> {
        Discovery {
            rest,
            subscription,
            deployment,
            state,
            content_workspace: None,
            found_app: None,
            tagged: tokio::sync::OnceCell::new(),
        }
    }

    /// The resources (not groups) that carry the deployment's tag, listed once.
    pub async fn tagged(&self) -> Result<&[serde_json::Value]> {
        let v = self
            .tagged
            .get_or_try_init(|| {
                crate::azure::providers::tagged(
                    self.rest,
                    self.subscription,
                    crate::azure::TAG,
                    self.deployment,
                    false,
                )
            })
            .await?;
        Ok(v)
    }

    /// Records a found resource as the tool's.
    pub fn record(&mut self, key: &Key, id: &str, name: &str, created: bool) {
        self.state.resources.insert(
            key.to_string(),
            Recorded {
                id: id.to_string(),
                name: name.to_string(),
                created,
            },
        );
    }

    /// The id the state has for a key.
    pub fn id_of(&self, key: &Key) -> Option<String> {
        self.state
            .resources
            .get(&key.to_string())
            .map(|r| r.id.clone())
    }

    /// The one tagged resource of an ARM type; several are refused (which would be the deployment's?).
    pub async fn one_tagged(&self, ty: &str) -> Result<Option<serde_json::Value>> {
        let of: Vec<&serde_json::Value> = self
            .tagged()
            .await?
            .iter()
            .filter(|r| {
                r["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(ty))
            })
            .collect();
        if of.len() > 1 {
            return Err(Error::input(
                format!(
                    "{} resources of type {ty} carry the tag {}={}",
                    of.len(),
                    crate::azure::TAG,
                    self.deployment
                ),
                "remove the tag from the ones that are not this deployment's, or pass --state",
            ));
        }
        Ok(of.first().map(|v| (*v).clone()))
    }
}

/// Discovery of a tagged ARM resource: the one of type `ty` that carries the deployment's tag, recorded as the
/// tool's (the tag is only ever set by the tool on what it creates); the first one found gives the state its
/// location and resource group.
pub async fn discover_tagged(d: &mut Discovery<'_>, key: Key, ty: &str) -> Result<()> {
    let Some(r) = d.one_tagged(ty).await? else {
        return Ok(());
    };
    let id = r["id"].as_str().unwrap_or_default();
    d.record(&key, id, crate::azure::name_of(id), true);
    if d.state.location.is_empty() {
        d.state.location = r["location"].as_str().unwrap_or_default().to_string();
    }
    if d.state.resource_group.is_empty() {
        let group = crate::resource_id::ResourceId::parse(id).and_then(|id| id.resource_group());
        d.state.resource_group = group.unwrap_or_default().to_string();
    }
    Ok(())
}

/// One kind of thing a deployment is made of: its whole life, in its own file.
pub trait Resource: Sync {
    fn kind(&self) -> KindId;

    /// The instances of this kind the deployment asks for (none when its flag is off).
    fn wanted(&self, inputs: &Inputs) -> Vec<Key>;

    /// The kinds an instance needs made first (and, in teardown, deleted after it).
    fn depends_on(&self, key: &Key) -> Vec<KindId>;

    /// Its ARM type and api-version; None for Graph objects and the Keeper record.
    fn arm(&self) -> Option<Arm> {
        None
    }

    /// What the run will do with it, from what exists, with the delta of an update.
    fn plan(&self, key: &Key, inputs: &Inputs, state: &State, o: &Observed) -> PlannedStep;

    /// Does what the plan says, records it in the state, hands on what later steps need (in `ctx.made`), and
    /// says which resource it was.
    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>>;

    /// What the state says exists of this kind.
    fn recorded(&self, state: &State) -> Vec<Item> {
        state
            .resources
            .iter()
            .filter_map(|(k, r)| {
                let key = Key::parse(k)?;
                (key.kind() == self.kind()).then(|| Item::from_record(key, r))
            })
            .collect()
    }

    /// What `status` checks of this kind: what the state says exists, where it can be checked.
    fn watched(&self, look: &Look<'_>) -> Vec<Item> {
        self.recorded(look.state)
    }

    /// Whether it is still there as setup left it: the plan's drift rules, for `status`.
    fn health<'a>(&'a self, look: &'a Look<'a>, item: &'a Item) -> BoxFuture<'a, Result<Checked>> {
        Box::pin(async move {
            let Some(arm) = self.arm() else {
                return Ok(Checked::new(Health::Ok, item.id.clone()));
            };
            let found = crate::azure::arm_get(look.rest, &item.id, arm.api_version).await?;
            Ok(Checked::of(item, found.map(|_| None)))
        })
    }

    /// What teardown would delete of this kind (the state's, and what else it finds of the tool's).
    fn doomed<'a>(&'a self, _rest: &'a Rest, state: &'a State) -> BoxFuture<'a, Result<Vec<Item>>> {
        let items = self.recorded(state);
        Box::pin(async move { Ok(items) })
    }

    /// Delete, keep (saying why) or leave: only what the tool made is deleted.
    fn fate(&self, item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        if item.created {
            Fate::Delete
        } else {
            Fate::Keep(format!("{} {} (reused, not ours)", item.key, item.id))
        }
    }

    /// What teardown says of this kind before it deletes, when there is more to know than "delete".
    fn teardown_note(&self, _keeping: &Keeping) -> Option<Note> {
        None
    }

    /// Looks over teardown's plan before anything is deleted, and keeps (with the reason, in `kept`) what of this
    /// kind something else still uses.
    fn review<'a>(
        &'a self,
        _rest: &'a Rest,
        _state: &'a State,
        _doomed: &'a mut Vec<Item>,
        _kept: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Deletes it; whether it existed.
    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move {
            let arm = self
                .arm()
                .ok_or_else(|| Error::Other(format!("{}: no way to delete it", item.key)))?;
            let existed = crate::azure::arm_delete(cx.rest, &item.id, arm.api_version, "").await?;
            Ok(Deleted::existed(existed))
        })
    }

    /// Drops it from the state once deleted.
    fn forget(&self, state: &mut State, item: &Item) {
        state.resources.remove(&item.key.to_string());
    }

    /// Deleted after everything else, whatever depends on what (the Keeper record, which holds the values while
    /// anything they open is left).
    fn deleted_last(&self) -> bool {
        false
    }

    /// Finds this kind's part of a deployment by its tag (teardown and status without a state file), after the
    /// kinds before it in the registry.
    fn discover<'a>(&'a self, _d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}
