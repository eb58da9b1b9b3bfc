//! Keeper in ASIM (issue 24), against azure-sim and through its KQL engine: every mapped Keeper event type yields
//! each mandatory field of its schema with an allowed value; the custom unifying parsers call Keeper's; an admin's
//! own unifying parser gets one line and gets it back out at teardown; the hunting queries run and find what they
//! hunt; re-running writes nothing.

mod common;

use common::*;
use serde_json::{json, Value};

const SCHEMAS: [(&str, &str); 3] = [
    (
        "Authentication",
        include_str!("../templates/sentinel/asim/authentication.json"),
    ),
    (
        "AuditEvent",
        include_str!("../templates/sentinel/asim/audit-event.json"),
    ),
    (
        "UserManagement",
        include_str!("../templates/sentinel/asim/user-management.json"),
    ),
];

fn ws_id(w: &World) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/KeeperLogsWorkspace",
        w.sim.operator().subscription_id
    )
}

/// A deployment with `--sentinel` and what querying it as the app needs: (client id, secret, customer id).
struct Deployed {
    client_id: String,
    secret: String,
    customer: String,
    secret_file: std::path::PathBuf,
}

async fn deploy(w: &World, extra: &[&str]) -> Deployed {
    let secret_file = w.dir.path().join("secret.txt");
    let mut args = vec![
        "--sentinel",
        "--output",
        "json",
        "--secret-out",
        secret_file.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    let o = w.setup(&args).await;
    assert_ok(&o);
    w.settle();
    let out = json_out(&o);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(w.state_path()).expect("state"))
            .expect("json");
    Deployed {
        client_id: out["client_id"].as_str().expect("client id").to_string(),
        secret: std::fs::read_to_string(&secret_file)
            .expect("secret")
            .trim()
            .to_string(),
        customer: state["outputs"]["workspace_customer_id"]
            .as_str()
            .expect("customer id")
            .to_string(),
        secret_file,
    }
}

fn event(audit_event: &str, user: &str, ip: &str, at: &str, data: Value) -> Value {
    json!({ "TimeGenerated": at, "audit_event": audit_event, "remote_address": ip, "category": "security",
        "client_version": "Web.17.0.0", "enterprise_id": 1234, "username": user, "timestamp": at, "data": data })
}

async fn send(w: &World, d: &Deployed, events: &[Value]) {
    let input = w.dir.path().join("events.json");
    std::fs::write(&input, serde_json::to_string(events).expect("json")).expect("write");
    let o = w
        .run(&[
            "send".into(),
            "--state".into(),
            w.state_path().display().to_string(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--secret-file".into(),
            d.secret_file.display().to_string(),
            input.display().to_string(),
        ])
        .await;
    assert_ok(&o);
    w.settle();
}

/// A query's rows as objects by column name; panics with the answer when it failed.
async fn rows(w: &World, d: &Deployed, q: &str) -> Vec<serde_json::Map<String, Value>> {
    let r = query_as_app(w, &d.client_id, &d.secret, &d.customer, q).await;
    let t = &r["tables"][0];
    let cols: Vec<String> = t["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {r}"))
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    t["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {r}"))
        .iter()
        .map(|row| {
            cols.iter()
                .cloned()
                .zip(row.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .collect()
}

/// Now, as the events' time (the simulator's wall clock starts at the real one; `settle` moves it a minute on).
fn now_text(_w: &World) -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("now")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_mapped_keeper_event_yields_the_schemas_mandatory_fields_with_allowed_values() {
    let w = World::public().await;
    let d = deploy(&w, &[]).await;
    let at = now_text(&w);
    let mut events = vec![event(
        "keeper_azmon_verify",
        "pat@example.com",
        "203.0.113.7",
        &at,
        json!({"keeper_azmon_verify": "x"}),
    )];
    for (_, text) in SCHEMAS {
        let s: Value = serde_json::from_str(text).expect("schema");
        for e in s["events"].as_object().expect("events").keys() {
            events.push(event(
                e,
                "pat@example.com",
                "203.0.113.7",
                &at,
                json!({"to_username": "sam@example.com"}),
            ));
        }
    }
    send(&w, &d, &events).await;

    for (schema, text) in SCHEMAS {
        let s: Value = serde_json::from_str(text).expect("schema");
        let mapped: Vec<&String> = s["events"].as_object().expect("events").keys().collect();
        let mandatory: Vec<&str> = s["mandatory"]
            .as_array()
            .expect("mandatory")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let allowed = s["allowed"].as_object().expect("allowed");
        for parser in [
            s["parsers"]["parameterless"].as_str().expect("name"),
            s["parsers"]["filtering"].as_str().expect("name"),
        ] {
            let got = rows(&w, &d, parser).await;
            assert_eq!(
                got.len(),
                mapped.len(),
                "{parser}: one row per mapped event"
            );
            let mut seen: Vec<String> = got
                .iter()
                .map(|r| {
                    r["EventOriginalType"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect();
            seen.sort();
            let mut want: Vec<String> = mapped.iter().map(|e| e.to_string()).collect();
            want.sort();
            assert_eq!(
                seen, want,
                "{parser}: every mapped event, and no test event"
            );
            for r in &got {
                let e = r["EventOriginalType"].as_str().unwrap_or_default();
                for f in &mandatory {
                    let v = r.get(*f).unwrap_or_else(|| panic!("{parser} {e}: no {f}"));
                    assert!(
                        !v.is_null() && v.as_str() != Some(""),
                        "{parser} {e}: {f} is empty"
                    );
                }
                assert_eq!(r["EventSchema"], schema);
                assert_eq!(r["EventSchemaVersion"], s["version"]);
                assert_eq!(r["EventCount"], 1);
                for (field, values) in allowed {
                    if let Some(v) = r.get(field).and_then(Value::as_str) {
                        assert!(
                            values.as_array().expect("list").iter().any(|a| a == v),
                            "{parser} {e}: {field} = {v:?} is not allowed"
                        );
                    }
                }
            }
        }
    }

    // The filtering parsers filter; the custom unifying parsers (what the built-in _Im_/_ASim_ ones call) hand on.
    let fails = rows(
        &w,
        &d,
        "vimAuthenticationKeeperEnterprise(eventresult='Failure', starttime=ago(1h))",
    )
    .await;
    assert!(!fails.is_empty() && fails.iter().all(|r| r["EventResult"] == "Failure"));
    let by_user = rows(
        &w,
        &d,
        "vimUserManagementKeeperEnterprise(targetusername_has_any=dynamic(['sam@example.com']))",
    )
    .await;
    assert!(by_user
        .iter()
        .all(|r| r["TargetUsername"] == "sam@example.com"));
    assert!(!by_user.is_empty());
    let none = rows(
        &w,
        &d,
        "vimAuditEventKeeperEnterprise(actorusername_has_any=dynamic(['nobody@example.com']))",
    )
    .await;
    assert!(none.is_empty());
    let auth_events = rows(&w, &d, "ASimAuthenticationKeeperEnterprise")
        .await
        .len();
    for q in [
        "Im_AuthenticationCustom(starttime=ago(1h))",
        "ASim_AuthenticationCustom",
    ] {
        assert_eq!(rows(&w, &d, q).await.len(), auth_events, "{q}");
    }
    let disabled = rows(&w, &d, "vimAuthenticationKeeperEnterprise(disabled=true)").await;
    assert!(disabled.is_empty(), "disabled=true gives nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hunting_queries_run_and_find_what_they_hunt() {
    let w = World::public().await;
    let d = deploy(&w, &[]).await;
    let at = now_text(&w);
    let mut events = vec![];
    let before = (time::OffsetDateTime::now_utc() - time::Duration::minutes(5))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    for _ in 0..5 {
        events.push(event(
            "login_failure",
            "pat@example.com",
            "198.51.100.9",
            &before,
            json!({}),
        ));
    }
    events.push(event(
        "login",
        "pat@example.com",
        "198.51.100.9",
        &at,
        json!({}),
    ));
    for u in ["a@example.com", "b@example.com", "c@example.com"] {
        events.push(event(
            "set_two_factor_off",
            u,
            "198.51.100.10",
            &at,
            json!({}),
        ));
    }
    // A test event of the same kind is not Keeper's: it is left out everywhere.
    events.push(event(
        "keeper_azmon_verify",
        "d@example.com",
        "198.51.100.10",
        &at,
        json!({"keeper_azmon_verify": "x"}),
    ));
    send(&w, &d, &events).await;
    let snap = w.sim.snapshot();
    let hunting: Vec<Value> = snap
        .resources_of_type("Microsoft.OperationalInsights/savedSearches")
        .into_iter()
        .filter(|s| s["properties"]["category"] == "Hunting Queries")
        .collect();
    assert!(hunting.len() >= 5, "{hunting:?}");
    for h in &hunting {
        let tags = h["properties"]["tags"].as_array().expect("tags");
        for t in ["description", "tactics", "techniques"] {
            assert!(
                tags.iter().any(|x| x["name"] == t && x["value"] != ""),
                "{}: tag {t}",
                h["id"]
            );
        }
        let q = h["properties"]["query"].as_str().expect("query");
        let found = rows(&w, &d, q).await;
        let name = h["properties"]["displayName"].as_str().unwrap_or_default();
        if name.contains("followed by a success") {
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0]["SrcIpAddr"], "198.51.100.9");
            assert_eq!(found[0]["Failures"], 5);
        } else if name.contains("Two-factor turned off") {
            assert_eq!(found.len(), 1, "{name}: {found:?}");
            assert_eq!(found[0]["Users"], 3);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admins_unifying_parser_gets_one_line_and_gets_it_back_out_at_teardown() {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "KeeperLogsWorkspace", "eastus").await;
    assert_eq!(ws, ws_id(&w));
    let mine = format!("{ws}/savedSearches/soc-auth-custom");
    let mine_query = "union isfuzzy=true\n  SocAuthParser(starttime=starttime, endtime=endtime)";
    let params = "starttime:datetime=datetime(null),endtime:datetime=datetime(null),username_has_any: dynamic = dynamic([]),targetappname_has_any: dynamic = dynamic([]),srcipaddr_has_any_prefix: dynamic = dynamic([]),srchostname_has_any: dynamic = dynamic([]),eventtype_in: dynamic = dynamic([]),eventresultdetails_in: dynamic = dynamic([]),eventresult: string = '*',disabled: bool=false,pack:bool=false";
    assert!(arm_put(
        &w,
        &mine,
        "2020-08-01",
        json!({ "properties": { "category": "Security", "displayName": "SOC auth", "query": mine_query,
            "functionAlias": "Im_AuthenticationCustom", "functionParameters": params, "version": 1 } })
    )
    .await
    .is_success());
    // Not a plain union: the tool must leave it as it is and say the line.
    let odd = format!("{ws}/savedSearches/soc-audit-custom");
    let odd_query = "SocAudit | where EventType != 'Read'";
    assert!(arm_put(
        &w,
        &odd,
        "2020-08-01",
        json!({ "properties": { "category": "Security", "displayName": "SOC audit", "query": odd_query,
            "functionAlias": "ASim_AuditEventCustom", "functionParameters": "disabled:bool=false", "version": 1 } })
    )
    .await
    .is_success());

    let o = w
        .setup(&["--workspace", &ws, "--sentinel", "--output", "json"])
        .await;
    assert_ok(&o);
    let plan = json_out(&o)["plan"].as_array().expect("plan").clone();
    let step = |s: &str| {
        plan.iter()
            .find(|p| p["step"] == s)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(
        step("asim_unifying:Im_AuthenticationCustom")["action"],
        "update"
    );
    let odd_step = step("asim_unifying:ASim_AuditEventCustom");
    assert_eq!(odd_step["action"], "reuse");
    assert!(
        odd_step["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ASimAuditEventKeeperEnterprise(disabled=false)")),
        "{odd_step}"
    );
    assert_eq!(
        step("asim_unifying:Im_UserManagementCustom")["action"],
        "create"
    );
    let snap = w.sim.snapshot();
    let q_of = |snap: &azure_sim::Snapshot, id: &str| {
        snap.resource(id).expect("there")["properties"]["query"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let edited = q_of(&snap, &mine);
    assert!(
        edited.starts_with(mine_query),
        "their lines stay first: {edited}"
    );
    assert!(edited.contains("vimAuthenticationKeeperEnterprise(starttime=starttime"));
    assert_eq!(q_of(&snap, &odd), odd_query, "left as it was");

    let writes = w.sim.write_count();
    assert_ok(&w.setup(&["--workspace", &ws, "--sentinel"]).await);
    assert_eq!(w.sim.write_count(), writes, "a re-run writes nothing");

    // status checks the parsers, the lines and the hunting queries; the admin taking Keeper's line out is drift,
    // an edited parser too.
    let health = |st: &Value, item: &str| {
        st["items"]
            .as_array()
            .and_then(|a| a.iter().find(|i| i["item"] == item))
            .map(|i| i["health"].as_str().unwrap_or_default().to_string())
    };
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    let st = json_out(&o);
    for item in [
        "asim_parser:vimAuthenticationKeeperEnterprise",
        "asim_unifying:Im_AuthenticationCustom",
        "asim_unifying:Im_UserManagementCustom",
        "hunting_query:keeper-hunt-account-transfers",
    ] {
        assert_eq!(health(&st, item).as_deref(), Some("ok"), "{item}: {st}");
    }
    assert_eq!(
        health(&st, "asim_unifying:ASim_AuditEventCustom"),
        None,
        "not the tool's"
    );
    let snap = w.sim.snapshot();
    snap.patch_resource(&mine, json!({ "properties": { "query": mine_query } }));
    let parser = format!("{ws}/savedSearches/keeper-azmon-rg-keeper-vimauditeventkeeperenterprise");
    assert!(snap.resource(&parser).is_some(), "{parser}");
    snap.patch_resource(
        &parser,
        json!({ "properties": { "query": "KeeperSecurityEvents" } }),
    );
    let o = w
        .run(&w.command_args("status", &["--output", "json"]))
        .await;
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    let st = json_out(&o);
    assert_eq!(
        health(&st, "asim_unifying:Im_AuthenticationCustom").as_deref(),
        Some("drifted")
    );
    assert_eq!(
        health(&st, "asim_parser:vimAuditEventKeeperEnterprise").as_deref(),
        Some("drifted")
    );
    // A re-run puts both back.
    assert_ok(&w.setup(&["--workspace", &ws, "--sentinel"]).await);
    assert!(q_of(&w.sim.snapshot(), &mine).contains("vimAuthenticationKeeperEnterprise("));

    let o = w
        .run(&w.command_args("teardown", &["--yes", "--keep-workspace"]))
        .await;
    assert_ok(&o);
    let snap = w.sim.snapshot();
    assert_eq!(q_of(&snap, &mine), mine_query, "their text, byte for byte");
    assert_eq!(q_of(&snap, &odd), odd_query);
    let left: Vec<String> = snap
        .resources_of_type("Microsoft.OperationalInsights/savedSearches")
        .into_iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .filter(|id| id.to_lowercase().starts_with(&ws.to_lowercase()))
        .collect();
    let mut want = vec![mine.clone(), odd.clone()];
    want.sort();
    let mut left_sorted = left.clone();
    left_sorted.sort();
    assert_eq!(left_sorted, want, "only the admin's own are left: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_parser_of_the_same_name_is_refused_before_any_write() {
    let w = World::public().await;
    let ws = existing_workspace(&w, "rg-keeper", "KeeperLogsWorkspace", "eastus").await;
    let theirs = format!("{ws}/savedSearches/other-keeper-asim");
    assert!(arm_put(
        &w,
        &theirs,
        "2020-08-01",
        json!({ "properties": { "category": "ASIM", "displayName": "theirs", "query": "KeeperLogs_CL",
            "functionAlias": "ASimAuthenticationKeeperEnterprise", "version": 2 } })
    )
    .await
    .is_success());
    let writes = w.sim.write_count();
    let o = w.setup(&["--workspace", &ws, "--sentinel"]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("ASimAuthenticationKeeperEnterprise")
            && err.contains("other-keeper-asim")
            && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(w.sim.write_count(), writes, "nothing was written");
}
