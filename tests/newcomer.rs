//! A newcomer's first hour (issue 27): what a pipeline without a terminal is told, all at once.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn setup_without_flags_names_every_missing_input_in_one_refusal() {
    let w = World::public().await;
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
        ])
        .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for flag in [
        "--cloud",
        "--subscription",
        "--resource-group",
        "--location",
    ] {
        assert!(
            err.contains(&format!("{flag} is required")),
            "{flag}: {err}"
        );
    }
    for env in [
        "KEEPER_AZMON_CLOUD",
        "KEEPER_AZMON_SUBSCRIPTION",
        "KEEPER_AZMON_RESOURCE_GROUP",
        "KEEPER_AZMON_LOCATION",
    ] {
        assert!(err.contains(env), "{env}: {err}");
    }
    assert_eq!(w.sim.request_log().len(), 0, "nothing was asked of Azure");

    // Two missing: both named, with the cloud given.
    let o = w
        .run(&[
            "setup".to_string(),
            "--auth".into(),
            "env".into(),
            "--yes".into(),
            "--cloud".into(),
            w.profile.display().to_string(),
            "--subscription".into(),
            w.sim.operator().subscription_id,
        ])
        .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--resource-group is required") && err.contains("--location is required"),
        "{err}"
    );
    assert!(!err.contains("--cloud is required"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dash_o_is_output_as_in_the_az_cli() {
    let w = World::public().await;
    let (o, _) = w.setup_json().await;
    assert_ok(&o);
    let o = w.run(&w.command_args("status", &["-o", "json"])).await;
    let v = json_out(&o);
    assert!(v.is_object(), "{v}");
}
