//! Bad input, refused before any write: each case names what is wrong and what to do, and azure-sim sees no write.

mod common;

use common::*;
use serde_json::json;

/// Replaces the value of `flag` in `args`, or appends it.
fn with(mut args: Vec<String>, flag: &str, value: &str) -> Vec<String> {
    if value.is_empty() || value.starts_with('-') {
        // A value that looks like a flag goes in one word, as a shell user would write it.
        let mut args = without(args, flag);
        args.push(format!("{flag}={value}"));
        return args;
    }
    match args.iter().position(|a| a == flag) {
        Some(p) => args[p + 1] = value.to_string(),
        None => {
            args.push(flag.to_string());
            args.push(value.to_string());
        }
    }
    args
}

fn without(mut args: Vec<String>, flag: &str) -> Vec<String> {
    if let Some(p) = args.iter().position(|a| a == flag) {
        args.drain(p..p + 2);
    }
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_wrong_inputs_are_refused_with_a_clear_message_and_no_write() {
    let w = World::public().await;
    let hidden = "22222222-2222-2222-2222-222222222222";
    w.sim.add_subscription(hidden, "Not yours", false);
    let sub = w.sim.operator().subscription_id;
    let dir = w.dir.path();
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    profile["graph_endpoint"] = json!("http://graph.microsoft.com");
    let http_profile = file("http-profile.json", &profile.to_string());
    let mut extra_key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    extra_key["graph_endpiont"] = json!("https://graph.microsoft.com");
    let extra_key_profile = file("typo-profile.json", &extra_key.to_string());
    let broken_profile = file("broken-profile.json", "{ not json");
    let corrupt_state = file("corrupt.json", "\u{0}\u{1}garbage");
    let foreign_state = file("foreign.json", &json!({ "format": "keeper-azmon-state/1", "deployment": "someone-else", "subscription_id": sub, "cloud": "x", "tenant_id": "", "resource_group": "rg", "location": "eastus" }).to_string());
    let old_state = file(
        "old.json",
        &json!({ "format": "keeper-azmon-state/0", "deployment": "rg-keeper" }).to_string(),
    );
    let other_sub_ws = format!("/subscriptions/{hidden}/resourceGroups/x/providers/Microsoft.OperationalInsights/workspaces/w");
    let missing_ws = format!("/subscriptions/{sub}/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/not-there");
    let base = w.setup_args(&[]);
    let long = |n: usize| "a".repeat(n);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            with(base.clone(), "--workspace", "x"),
            "--workspace 'x' is not a valid name",
        ),
        (
            with(base.clone(), "--workspace", "bad_name"),
            "--workspace 'bad_name'",
        ),
        (with(base.clone(), "--workspace", &long(64)), "--workspace"),
        (
            with(base.clone(), "--workspace", "-lead"),
            "--workspace '-lead'",
        ),
        (with(base.clone(), "--dce-name", "ab"), "--dce-name 'ab'"),
        (with(base.clone(), "--dce-name", &long(45)), "--dce-name"),
        (
            with(base.clone(), "--dce-name", "has space"),
            "--dce-name 'has space'",
        ),
        (with(base.clone(), "--dcr-name", &long(65)), "--dcr-name"),
        (
            with(base.clone(), "--dcr-name", "ends."),
            "--dcr-name 'ends.'",
        ),
        (
            with(base.clone(), "--dcr-name", "bad/slash"),
            "--dcr-name 'bad/slash'",
        ),
        (with(base.clone(), "--table", "9lives"), "--table '9lives'"),
        (with(base.clone(), "--table", &long(61)), "--table"),
        (
            with(base.clone(), "--table", "has-dash"),
            "--table 'has-dash'",
        ),
        (with(base.clone(), "--table", ""), "--table ''"),
        (
            with(base.clone(), "--table", "KeeperLogs_RST"),
            "Azure reserves the suffix _RST",
        ),
        (
            with(base.clone(), "--table", "Keeper_SRCH_CL"),
            "Azure reserves the suffix _SRCH",
        ),
        (
            with(base.clone(), "--table", "KeeperLogs_cl"),
            "the custom-table suffix is _CL in capitals",
        ),
        (
            with(base.clone(), "--resource-group", "rg."),
            "--resource-group 'rg.'",
        ),
        (
            with(base.clone(), "--resource-group", &long(91)),
            "--resource-group",
        ),
        (
            with(base.clone(), "--resource-group", "bad*char"),
            "--resource-group 'bad*char'",
        ),
        (with(base.clone(), "--app-name", " "), "--app-name"),
        (with(base.clone(), "--app-name", &long(121)), "--app-name"),
        (
            with(base.clone(), "--secret-expiry-days", "0"),
            "--secret-expiry-days 0 is out of range",
        ),
        (
            with(base.clone(), "--secret-expiry-days", "-5"),
            "--secret-expiry-days -5 is out of range",
        ),
        (
            with(base.clone(), "--secret-expiry-days", "731"),
            "--secret-expiry-days 731 is out of range",
        ),
        (
            with(base.clone(), "--secret-description", ""),
            "--secret-description must be 1-100 characters",
        ),
        (
            with(base.clone(), "--secret-description", &long(101)),
            "--secret-description must be 1-100 characters",
        ),
        (
            with(base.clone(), "--tenant", "not-a-guid"),
            "--tenant 'not-a-guid' is not a GUID",
        ),
        (
            with(base.clone(), "--subscription", "not-a-guid"),
            // Not a GUID: a name, looked up, and no subscription has it (issue 27).
            "--subscription 'not-a-guid' is neither a subscription id nor the name of a subscription you can see",
        ),
        (
            with(
                base.clone(),
                "--subscription",
                "11111111-1111-1111-1111-111111111111",
            ),
            "was not found, or the signed-in identity cannot see it",
        ),
        (
            with(base.clone(), "--subscription", hidden),
            "was not found, or the signed-in identity cannot see it",
        ),
        (
            with(
                base.clone(),
                "--tenant",
                "33333333-3333-3333-3333-333333333333",
            ),
            "belongs to tenant",
        ),
        (
            with(base.clone(), "--location", "atlantis"),
            "location 'atlantis' is not available",
        ),
        (
            without(base.clone(), "--location"),
            "--location is required",
        ),
        (
            without(base.clone(), "--resource-group"),
            "--resource-group is required",
        ),
        (
            with(base.clone(), "--workspace", &other_sub_ws),
            "not in --subscription",
        ),
        (
            with(
                base.clone(),
                "--workspace",
                &format!("/subscriptions/{sub}/foo"),
            ),
            "is not a workspace resource id",
        ),
        (
            with(base.clone(), "--workspace", &missing_ws),
            "does not exist",
        ),
        // The parts of a workspace id go into ARM's URLs: each is checked by Azure's naming rules.
        (
            with(base.clone(), "--workspace", &format!("/subscriptions/{sub}/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/ws?api-version=1#")),
            "the workspace name 'ws?api-version=1#' in --workspace is not a valid name",
        ),
        (
            with(base.clone(), "--workspace", &format!("/subscriptions/{sub}/resourceGroups/rg*x/providers/Microsoft.OperationalInsights/workspaces/KeeperLogs")),
            "the resource group 'rg*x' in --workspace is not a valid name",
        ),
        (with(base.clone(), "--cloud", &http_profile), "is not https"),
        (
            with(base.clone(), "--cloud", "mars"),
            "unknown cloud 'mars'",
        ),
        (
            with(base.clone(), "--cloud", &broken_profile),
            "is not valid",
        ),
        (
            with(base.clone(), "--cloud", &extra_key_profile),
            "unknown field `graph_endpiont`",
        ),
        (
            with(base.clone(), "--state", &corrupt_state),
            "is not a keeper-azmon state file",
        ),
        (
            with(base.clone(), "--state", &foreign_state),
            "belongs to deployment 'someone-else'",
        ),
        (
            with(base.clone(), "--state", &old_state),
            "has format 'keeper-azmon-state/0'",
        ),
        (
            with(base.clone(), "--deployment", "bad name!"),
            "--deployment 'bad name!'",
        ),
        (
            base.iter()
                .filter(|a| *a != "--create-resource-group")
                .cloned()
                .collect(),
            "does not exist in subscription",
        ),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (args, expect) in &cases {
        let args: Vec<String> = args.iter().filter(|a| !a.is_empty()).cloned().collect();
        let o = w.run(&args).await;
        let err = stderr(&o);
        assert!(!o.status.success(), "{args:?} was accepted");
        assert!(
            err.contains(expect),
            "{args:?}: the message should say {expect:?}:\n{err}"
        );
        assert!(err.contains("hint:"), "{args:?}: no next step:\n{err}");
        assert!(
            !err.contains("stack backtrace") && !err.contains("panicked"),
            "{err}"
        );
        assert_eq!(w.sim.write_count(), 0, "{args:?} wrote to Azure");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_ascii_location_is_refused_with_the_valid_locations_before_any_write() {
    let w = World::public().await;
    // "東日本" (Japan East) straddles byte 4, where the location was once sliced to find near names.
    for location in ["東日本", "eas\u{fc}s", "ｅａｓｔｕｓ"] {
        let o = w
            .run(&with(w.setup_args(&[]), "--location", location))
            .await;
        assert_refused(&o, &[location, "eastus", "westus2"]);
        assert_eq!(w.sim.write_count(), 0, "{location}: wrote to Azure");
    }
}

/// Requests to the Log Analytics query API the simulator has seen.
fn queries(w: &World) -> usize {
    w.sim
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/query"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_or_workspace_id_that_is_not_one_is_refused_before_any_query() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(std::time::Duration::from_secs(60)).await;
    let import = |extra: &[&str]| {
        w.command_args(
            "import-classic",
            &[
                &["--secret-file", secret.as_str(), "--enterprise-id", "1234"],
                extra,
            ]
            .concat(),
        )
    };
    let verify = |extra: &[&str]| {
        w.command_args(
            "verify",
            &[&["--secret-file", secret.as_str(), "--wait"], extra].concat(),
        )
    };
    let guid = "00000000-0000-0000-0000-000000000001";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            import(&["--from-table", "Keeper_CL | union SecurityEvent"]),
            "--from-table",
        ),
        (
            import(&["--from-table", "Keeper_CL\n| where true"]),
            "--from-table",
        ),
        (import(&["--from-table", "SecurityEvent"]), "_CL"),
        (import(&["--from-table="]), "--from-table"),
        (
            import(&["--from-table", &format!("{}_CL", "K".repeat(101))]),
            "--from-table",
        ),
        (
            import(&["--from-workspace-id", "../../subscriptions"]),
            "--from-workspace-id",
        ),
        (
            import(&["--from-workspace-id", &format!("{guid}/query?x=")]),
            "--from-workspace-id",
        ),
        (import(&["--workspace-id", "not-a-guid"]), "--workspace-id"),
        (import(&["--table", "Keeper | take 1"]), "--table"),
        (verify(&["--workspace-id", "not-a-guid"]), "--workspace-id"),
        (
            verify(&["--workspace-id", &format!("{guid}#")]),
            "--workspace-id",
        ),
    ];
    for (args, names) in &cases {
        let before = queries(&w);
        let o = w.run(args).await;
        assert_refused(&o, &[names]);
        assert_eq!(queries(&w), before, "{args:?} queried the workspace");
    }
    // The same parts read from the state file.
    let good = w.state();
    for (key, value) in [
        ("workspace_customer_id", "not-a-guid"),
        ("table", "KeeperLogs_CL | union SecurityEvent"),
    ] {
        let mut state = good.clone();
        state["outputs"][key] = value.into();
        std::fs::write(w.state_path(), state.to_string()).expect("state");
        for args in [import(&[]), verify(&[])] {
            let before = queries(&w);
            let o = w.run(&args).await;
            assert_refused(&o, &["state file"]);
            assert_eq!(queries(&w), before, "{args:?} queried the workspace");
        }
    }
}
