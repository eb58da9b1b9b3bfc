//! `--sentinel`: Microsoft Sentinel on the workspace, the KQL function `KeeperSecurityEvents` over the Keeper table,
//! Scheduled analytics rules and the "Keeper Security Dashboard" workbook, all from `templates/sentinel/`.
//!
//! Keeper's own Sentinel solution lands its events through a Codeless Connector Platform connector, which Azure
//! Government does not offer; this installs the same content on our table by REST, with GA api-versions only.

use serde::Deserialize;
use serde_json::Value;

use crate::azure::sentinel::{self as api, Child};
use crate::azure::tags;
use crate::error::{Error, Result};
use crate::rest::Rest;

use crate::steps::{kind, Action, Ctx, Inputs, Key, Observed, PlannedStep};

pub mod asim;
mod content;
mod discover;
pub mod function;
pub mod hunting;
pub mod onboarding;
pub mod parsers;
pub mod rules;
pub mod unifying;
pub mod workbook;

/// The KQL function's query; `{{TABLE}}` stands for the table name.
pub const FUNCTION_KQL: &str = include_str!("../../../templates/sentinel/function.kql");
/// The function's saved-search properties (category, displayName, functionAlias, version).
const FUNCTION_JSON: &str = include_str!("../../../templates/sentinel/function.json");
/// The workbook (gallery JSON), sent as `serializedData`.
pub const WORKBOOK: &str = include_str!("../../../templates/sentinel/workbook.json");
pub const WORKBOOK_NAME: &str = "Keeper Security Dashboard";

/// The Scheduled rule templates: (stable id = file name, `properties` body). Sources: `rules/SOURCES.md`.
pub const RULES: &[(&str, &str)] = &[
    (
        "keeper-master-password-changed",
        include_str!("../../../templates/sentinel/rules/keeper-master-password-changed.json"),
    ),
    (
        "keeper-two-factor-changed",
        include_str!("../../../templates/sentinel/rules/keeper-two-factor-changed.json"),
    ),
    (
        "keeper-failed-login-burst",
        include_str!("../../../templates/sentinel/rules/keeper-failed-login-burst.json"),
    ),
    (
        "keeper-admin-role-policy-changed",
        include_str!("../../../templates/sentinel/rules/keeper-admin-role-policy-changed.json"),
    ),
    (
        "keeper-account-transferred-or-deleted",
        include_str!(
            "../../../templates/sentinel/rules/keeper-account-transferred-or-deleted.json"
        ),
    ),
    (
        "keeper-audit-alerting-disabled",
        include_str!("../../../templates/sentinel/rules/keeper-audit-alerting-disabled.json"),
    ),
    (
        "keeper-two-factor-disabled-by-admin",
        include_str!("../../../templates/sentinel/rules/keeper-two-factor-disabled-by-admin.json"),
    ),
];

/// Namespace of the deterministic ids (UUID v5) of the rules and the workbook: a re-run finds what it made.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6b5f_0a52_3c1e_4e0b_9d7a_4b1f_2c8e_aa01);

pub use crate::steps::inputs::RulesState;
pub use content::{content_id, is_content, parser_clash, search_by_alias};
use content::{content_id_in, delete_content, own_fate, plan_saved_search, saved_search_health};
pub use discover::discover;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedSearchTemplate {
    category: String,
    display_name: String,
    function_alias: String,
    version: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionTemplate {
    placeholder: String,
    saved_search: SavedSearchTemplate,
}

fn function_template() -> Result<FunctionTemplate> {
    serde_json::from_str(FUNCTION_JSON)
        .map_err(|e| Error::Other(format!("templates/sentinel/function.json: {e}")))
}

/// The function's alias: what every rule and workbook query reads.
pub fn function_alias() -> String {
    function_template()
        .map(|t| t.saved_search.function_alias)
        .unwrap_or_else(|_| "KeeperSecurityEvents".into())
}

/// The function's query over `table`.
pub fn function_query(table: &str) -> String {
    let placeholder = function_template()
        .map(|t| t.placeholder)
        .unwrap_or_else(|_| "{{TABLE}}".into());
    FUNCTION_KQL.replace(&placeholder, table).trim().to_string()
}

/// The saved search's PUT body.
pub fn function_body(table: &str) -> Result<Value> {
    let t = function_template()?.saved_search;
    Ok(api::function_body(
        &t.category,
        &t.display_name,
        &t.function_alias,
        &function_query(table),
        t.version,
    ))
}

/// A rule template's `properties`, with `enabled` as `--sentinel-rules` says.
pub fn rule_properties(template: &str, text: &str, rules: RulesState) -> Result<Value> {
    let mut v: Value = serde_json::from_str(text)
        .map_err(|e| Error::Other(format!("templates/sentinel/rules/{template}.json: {e}")))?;
    v["enabled"] = Value::Bool(rules == RulesState::Enabled);
    Ok(v)
}

/// The rule as setup wants it: without `--sentinel-rules`, a rule that exists keeps the state an analyst gave it
/// (switched off in the portal, it stays off); a new one is enabled.
fn wanted_rule(
    template: &str,
    text: &str,
    rules: Option<RulesState>,
    found: Option<&Child>,
) -> Result<Value> {
    let state = rules.unwrap_or_else(|| {
        match found
            .and_then(|c| c.properties.get("enabled"))
            .and_then(Value::as_bool)
        {
            Some(false) => RulesState::Disabled,
            _ => RulesState::Enabled,
        }
    });
    Ok(api::scheduled_rule_body(&rule_properties(
        template, text, state,
    )?))
}

/// Resource ids of this deployment's Sentinel content.
pub struct Ids {
    pub onboarding: String,
    pub function: String,
    pub workbook: String,
    /// (template id, rule resource id).
    pub rules: Vec<(&'static str, String)>,
}

impl Ids {
    pub fn of(inputs: &Inputs) -> Ids {
        Ids::new(
            &inputs.deployment,
            &inputs.subscription,
            &inputs.resource_group,
            &inputs.workspace_id(),
        )
    }

    /// The ids follow from the deployment, the workspace and (the workbook) the resource group alone.
    pub fn new(deployment: &str, subscription: &str, resource_group: &str, ws: &str) -> Ids {
        let v5 = |what: &str| {
            uuid::Uuid::new_v5(&ID_NAMESPACE, format!("{deployment}|{what}").as_bytes()).to_string()
        };
        Ids {
            onboarding: api::onboarding_id(ws),
            function: api::saved_search_id(
                ws,
                &format!("keeper-azmon-{}-function", deployment.to_ascii_lowercase()),
            ),
            workbook: api::workbook_id(
                subscription,
                resource_group,
                &v5(&format!("workbook|{}", ws.to_ascii_lowercase())),
            ),
            rules: RULES
                .iter()
                .map(|(t, _)| (*t, api::rule_id(ws, &v5(&format!("rule|{t}")))))
                .collect(),
        }
    }
}

/// What exists of the Sentinel content.
#[derive(Debug, Clone, Default)]
pub struct SentinelObserved {
    pub onboarded: bool,
    pub function: Option<Child>,
    pub workbook: Option<Child>,
    /// By template id; absent = not found.
    pub rules: std::collections::HashMap<String, Child>,
    /// Another workbook of the same display name in the resource group: Azure refuses a second one (409).
    pub workbook_clash: Option<String>,
    /// Another saved search of the workspace that is a function named `KeeperSecurityEvents` (another
    /// deployment's, or an analyst's): two functions of one name would leave every rule reading one of them.
    pub function_clash: Option<String>,
    /// Every saved search of the workspace: (id, properties), for the ASIM parsers, the custom unifying parsers and
    /// the hunting queries.
    pub searches: Vec<(String, Value)>,
}

/// Reads the onboarding state, the function, the workbook and (once onboarded: before, Azure refuses to list
/// them) the rules.
pub async fn observe(rest: &Rest, inputs: &Inputs) -> Result<Option<SentinelObserved>> {
    if inputs.sentinel.is_none() {
        return Ok(None);
    }
    let ids = Ids::of(inputs);
    let ws = inputs.workspace_id();
    let (onboarded, function, workbook, sentinel_workbooks, searches) = tokio::try_join!(
        api::onboarded(rest, &ws),
        api::get(rest, &ids.function),
        api::get(rest, &ids.workbook),
        api::workbooks(
            rest,
            &inputs.subscription,
            &inputs.resource_group,
            "sentinel"
        ),
        api::saved_searches_with_properties(rest, &ws),
    )?;
    let alias = function_alias();
    let function_clash = searches
        .iter()
        .find(|(id, p)| {
            p["functionAlias"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&alias))
                && !id.eq_ignore_ascii_case(&ids.function)
        })
        .map(|(id, _)| id.clone());
    let workbook_clash = sentinel_workbooks
        .into_iter()
        .find(|w| {
            w.properties.display_name == WORKBOOK_NAME && !w.id.eq_ignore_ascii_case(&ids.workbook)
        })
        .map(|w| w.id);
    let mut rules = std::collections::HashMap::new();
    if onboarded {
        let found =
            futures::future::try_join_all(ids.rules.iter().map(|(_, id)| api::get(rest, id)))
                .await?;
        for ((t, _), r) in ids.rules.iter().zip(found) {
            if let Some(r) = r {
                rules.insert(t.to_string(), r);
            }
        }
    }
    Ok(Some(SentinelObserved {
        onboarded,
        function,
        workbook,
        rules,
        workbook_clash,
        function_clash,
        searches,
    }))
}

/// The workbook's PUT body.
pub fn workbook_body(inputs: &Inputs) -> Value {
    api::workbook_body(
        &inputs.location,
        WORKBOOK_NAME,
        WORKBOOK,
        &inputs.workspace_id(),
        tags(&inputs.deployment),
    )
}

/// Whether what Azure has matches `want` (a PUT body): the same kind (rules) and every property we send.
fn matches(found: &Child, want: &Value) -> bool {
    let kind_ok = match want.get("kind").and_then(Value::as_str) {
        Some(k) => found.kind.as_deref() == Some(k),
        None => true,
    };
    kind_ok && found.has_properties(&want["properties"])
}

fn action_for(found: Option<&Child>, want: &Value) -> Action {
    match found {
        None => Action::Create,
        Some(c) if matches(c, want) => Action::Reuse,
        Some(_) => Action::Update,
    }
}

/// How a recorded piece of Sentinel content differs from its template (for `status`); `None` when it matches.
/// A rule's `enabled` is left out: an analyst may switch a rule off or on.
pub fn drift(
    key: &Key,
    found: &Child,
    table: &str,
    workspace_id: &str,
    location: &str,
) -> Option<String> {
    let want = if *key == Key::SentinelFunction {
        function_body(table).ok()?
    } else if *key == Key::SentinelWorkbook {
        let mut w =
            api::workbook_body(location, WORKBOOK_NAME, WORKBOOK, workspace_id, Value::Null);
        w["properties"]["sourceId"] = Value::String(workspace_id.to_string());
        w
    } else {
        let Key::SentinelRule(template) = key else {
            return None;
        };
        let template = template.as_str();
        let (_, text) = RULES.iter().find(|(t, _)| *t == template)?;
        let mut p = rule_properties(template, text, RulesState::Enabled).ok()?;
        if let Some(o) = p.as_object_mut() {
            o.remove("enabled");
        }
        api::scheduled_rule_body(&p)
    };
    (!matches(found, &want)).then(|| "differs from its template in templates/sentinel/".to_string())
}

/// One Sentinel step of the plan: the onboarding, the function, a rule or the workbook.
fn plan(key: &Key, inputs: &Inputs, o: &Observed) -> PlannedStep {
    let ids = Ids::of(inputs);
    let s = o.sentinel.clone().unwrap_or_default();
    let rules = inputs.sentinel.and_then(|si| si.rules);
    match key {
        Key::SentinelOnboarding => PlannedStep::new(
            key.clone(),
            Action::create_or_reuse(s.onboarded),
            ids.onboarding,
        ),
        Key::SentinelFunction => {
            let f = function_body(&inputs.table).unwrap_or_default();
            PlannedStep::new(
                key.clone(),
                action_for(s.function.as_ref(), &f),
                ids.function,
            )
        }
        Key::SentinelRule(t) => {
            let found = s.rules.get(t);
            let text = RULES
                .iter()
                .find(|(n, _)| n == t)
                .map(|(_, x)| *x)
                .unwrap_or("{}");
            let want = wanted_rule(t, text, rules, found).unwrap_or_default();
            let id = ids
                .rules
                .into_iter()
                .find(|(n, _)| n == t)
                .map(|(_, id)| id)
                .unwrap_or_default();
            PlannedStep::new(key.clone(), action_for(found, &want), id)
        }
        _ => PlannedStep::new(
            key.clone(),
            action_for(s.workbook.as_ref(), &workbook_body(inputs)),
            ids.workbook,
        ),
    }
}

/// A piece of content's health: there, and as its template says.
async fn content_health(look: &kind::Look<'_>, item: &kind::Item) -> Result<kind::Checked> {
    let s = look.state;
    let ws = workspace_of(s);
    let table = s
        .resources
        .get(&Key::Table.to_string())
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let found = api::get(look.rest, &item.id)
        .await?
        .map(|c| drift(&item.key, &c, &table, &ws, &s.location));
    Ok(kind::Checked::of(item, found))
}

/// The deployment's workspace, as the state has it.
fn workspace_of(state: &crate::state::State) -> String {
    state
        .resources
        .get(&Key::Workspace.to_string())
        .map(|w| w.id.clone())
        .unwrap_or_default()
}

/// The rule keys of the templates.
fn rule_keys() -> Vec<Key> {
    RULES
        .iter()
        .map(|(t, _)| Key::SentinelRule(t.to_string()))
        .collect()
}

/// Onboards Sentinel unless it already is; only an onboarding made here is recorded as ours.
async fn ensure_onboarding(ctx: &Ctx, action: Action) -> Result<String> {
    let i = &ctx.inputs;
    let id = api::onboarding_id(&i.workspace_id());
    if action == Action::Create {
        // Recorded first: a run cut off after the PUT still knows the onboarding is ours.
        ctx.record_resource(&Key::SentinelOnboarding, &id, "default", true)?;
        api::onboard(&ctx.rest, &i.workspace_id()).await?;
    }
    ctx.record_resource(&Key::SentinelOnboarding, &id, "default", false)?;
    Ok(id)
}

/// Writes one piece of content (function, rule or workbook) unless the plan reuses it. Its id is derived from the
/// deployment, so whatever sits there is ours.
async fn ensure_content(
    ctx: &Ctx,
    key: &Key,
    id: &str,
    name: &str,
    body: &Value,
    action: Action,
) -> Result<String> {
    if action != Action::Reuse {
        ctx.record_resource(key, id, name, true)?;
        api::put(&ctx.rest, id, body).await?;
    }
    ctx.record_resource(key, id, name, true)?;
    Ok(id.to_string())
}

async fn ensure_function(ctx: &Ctx, action: Action) -> Result<String> {
    let ids = Ids::of(&ctx.inputs);
    let body = function_body(&ctx.inputs.table)?;
    let alias = function_alias();
    ensure_content(
        ctx,
        &Key::SentinelFunction,
        &ids.function,
        &alias,
        &body,
        action,
    )
    .await
}

async fn ensure_rule(
    ctx: &Ctx,
    template: &str,
    action: Action,
    found: Option<&Child>,
) -> Result<String> {
    let ids = Ids::of(&ctx.inputs);
    let rules = ctx.inputs.sentinel.and_then(|s| s.rules);
    let (Some((_, text)), Some((_, id))) = (
        RULES.iter().find(|(t, _)| *t == template),
        ids.rules.iter().find(|(t, _)| *t == template),
    ) else {
        return Err(Error::Other(format!("no rule template {template}")));
    };
    let body = wanted_rule(template, text, rules, found)?;
    let name = body["properties"]["displayName"]
        .as_str()
        .unwrap_or(template)
        .to_string();
    let key = Key::SentinelRule(template.to_string());
    ensure_content(ctx, &key, id, &name, &body, action).await
}

async fn ensure_workbook(ctx: &Ctx, action: Action) -> Result<String> {
    let ids = Ids::of(&ctx.inputs);
    let body = workbook_body(&ctx.inputs);
    ensure_content(
        ctx,
        &Key::SentinelWorkbook,
        &ids.workbook,
        WORKBOOK_NAME,
        &body,
        action,
    )
    .await
}

/// Whether a KQL query names `alias` (not as part of a longer name).
pub fn reads(query: &str, alias: &str) -> bool {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    query.match_indices(alias).any(|(at, m)| {
        !ident(query[..at].chars().next_back()) && !ident(query[at + m.len()..].chars().next())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_leaves_out_verify_test_events() {
        let q = function_query("KeeperLogs_CL");
        let own = crate::marks::without_test_events("audit_event");
        assert!(q.contains(&format!("| {own}\n")), "{q}");
    }

    #[test]
    fn the_function_renames_the_table_and_every_rule_reads_it() {
        let q = function_query("Other_CL");
        assert!(q.starts_with("Other_CL\n"), "{q}");
        assert!(!q.contains("{{TABLE}}"));
        let alias = function_alias();
        assert_eq!(alias, "KeeperSecurityEvents");
        assert!(reads("KeeperSecurityEvents | where x", &alias));
        assert!(reads("union (KeeperSecurityEvents), T", &alias));
        assert!(!reads("KeeperSecurityEventsOld | take 1", &alias));
        assert!(!reads("My_KeeperSecurityEvents", &alias));
        assert!(RULES.len() >= 5);
        for (t, text) in RULES {
            let p = rule_properties(t, text, RulesState::Disabled).expect("rule");
            assert_eq!(p["enabled"], false);
            let query = p["query"].as_str().expect("query");
            assert!(query.starts_with(&alias), "{t} reads {query}");
            // Live events only: the function leaves out verify's; each rule leaves out backfilled history.
            let live = crate::marks::live_only("AuditEvent", "Data");
            let backfill = live.split(" and ").nth(1).expect("the backfill filter");
            assert!(
                query.contains(&format!("| where {backfill}\n")),
                "{t} leaves out backfilled rows: {query}"
            );
        }
        let wb: Value = serde_json::from_str(WORKBOOK).expect("workbook json");
        assert!(!WORKBOOK.contains("KeeperLogs_CL") && !WORKBOOK.contains("{{TABLE}}"));
        assert_eq!(wb["version"], "Notebook/1.0");
        assert!(!WORKBOOK.contains("KeeperSecurityEventNewLogs_CL"));
    }

    /// Every rule file is installed, and every Keeper event name a rule's query quotes is cited, in backticks, in
    /// that rule's section (`## <id>`) of rules/SOURCES.md.
    #[test]
    fn every_rule_template_is_installed_and_its_event_names_are_cited() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/sentinel/rules");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("rules dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        files.sort();
        let mut ours: Vec<String> = RULES.iter().map(|(t, _)| t.to_string()).collect();
        ours.sort();
        assert_eq!(
            files, ours,
            "templates/sentinel/rules/*.json and RULES differ"
        );
        let sources = include_str!("../../../templates/sentinel/rules/SOURCES.md");
        for (t, text) in RULES {
            let start = sources
                .find(&format!("\n## {t}\n"))
                .unwrap_or_else(|| panic!("no section ## {t} in rules/SOURCES.md"));
            let section = &sources[start + 4..];
            let section = &section[..section.find("\n## ").unwrap_or(section.len())];
            let p = rule_properties(t, text, RulesState::Enabled).expect("rule");
            let query = p["query"].as_str().expect("query");
            for (i, quoted) in query.split('"').enumerate() {
                let is_event = i % 2 == 1
                    && !quoted.is_empty()
                    && quoted
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if is_event {
                    assert!(
                        section.contains(&format!("`{quoted}`")),
                        "{t}: event `{quoted}` is not cited in its section of rules/SOURCES.md"
                    );
                }
            }
        }
    }

    /// The function maps exactly the table's columns, with their types (function.json `columns` against
    /// templates/table-columns.json), and its query names each one.
    #[test]
    fn the_function_covers_the_tables_columns_with_their_types() {
        let f: Value = serde_json::from_str(FUNCTION_JSON).expect("function.json");
        let table = crate::steps::inputs::table_columns();
        let table = table.as_array().expect("columns");
        let cols = f["columns"].as_array().expect("columns");
        assert_eq!(cols.len(), table.len());
        for c in cols {
            let from = c["from"].as_str().expect("from");
            let t = table
                .iter()
                .find(|t| t["name"] == from)
                .unwrap_or_else(|| panic!("{from} is not a column of the table"));
            assert!(t["type"]
                .as_str()
                .expect("type")
                .eq_ignore_ascii_case(c["type"].as_str().expect("type")));
            assert!(FUNCTION_KQL.contains(from), "{from} is not in function.kql");
        }
    }
}
