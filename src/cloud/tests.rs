//! Tests of the cloud profiles and their resolution.
use super::*;

#[test]
fn the_az_clis_cloud_names_are_taken_and_a_near_miss_is_named() {
    assert_eq!(
        CloudProfile::load("AzureCloud").expect("public").name,
        "public"
    );
    assert_eq!(
        CloudProfile::load("azurechinacloud").expect("china").name,
        "china"
    );
    let both = CloudProfile::load("AzureUSGovernment")
        .expect_err("two clouds")
        .to_string();
    assert!(
        both.contains("usgov") && both.contains("usgov-dod"),
        "{both}"
    );
    let near = CloudProfile::load("AzureCloudd")
        .expect_err("unknown")
        .to_string();
    assert!(near.contains("did you mean --cloud AzureCloud?"), "{near}");
    let near = CloudProfile::load("usgovv")
        .expect_err("unknown")
        .to_string();
    assert!(near.contains("did you mean --cloud usgov?"), "{near}");
    assert!(!CloudProfile::load("mars")
        .expect_err("unknown")
        .to_string()
        .contains("did you mean"));
}

#[test]
fn builtins_are_valid_and_distinct_per_cloud() {
    for name in BUILTIN_NAMES {
        let p = builtin(name).expect("builtin");
        p.validate().expect("valid");
    }
    assert_eq!(
        builtin("usgov").map(|p| p.monitor_audience),
        Some("https://monitor.azure.us".into())
    );
    assert_eq!(
        CloudProfile::scope("https://management.core.windows.net/"),
        "https://management.core.windows.net/.default"
    );
}

#[test]
fn http_endpoint_is_refused() {
    let mut p = builtin("public").expect("builtin");
    p.graph_endpoint = "http://graph.microsoft.com".into();
    let err = p.validate().expect_err("http must be refused").to_string();
    assert!(err.contains("graph_endpoint"), "{err}");
}

#[test]
fn the_endpoint_url_must_be_https_on_the_clouds_ingestion_domain() {
    let url = |host: &str| {
        format!(
            "https://{host}/dataCollectionRules/dcr-1/streams/Custom-K_CL?api-version=2023-01-01"
        )
    };
    let check = |cloud: &str, u: &str| {
        builtin(cloud)
            .expect("builtin")
            .check_ingestion_endpoint(u, "--endpoint-url", None, false)
    };
    for (cloud, host) in [
        (
            "public",
            "keeperlogsendpoint-a1b2.eastus-1.ingest.monitor.azure.com",
        ),
        ("public", "x.eastus2euap-1.canary.ingest.monitor.azure.com"),
        ("public", "X.EastUS-1.Ingest.Monitor.Azure.Com."),
        ("usgov", "e-1.usgovvirginia-1.ingest.monitor.azure.us"),
        ("usgov-dod", "e-1.usdodeast-1.ingest.monitor.azure.us"),
        ("china", "e-1.chinanorth3-1.ingest.monitor.azure.cn"),
    ] {
        assert_eq!(check(cloud, &url(host)).ok(), Some(None), "{cloud} {host}");
    }
    for (cloud, host) in [
        ("public", "evil.example"),
        ("public", "ingest.monitor.azure.com.evil.example"),
        ("public", "evilingest.monitor.azure.com"),
        ("public", "e-1.usgovvirginia-1.ingest.monitor.azure.us"),
        ("usgov", "e-1.eastus-1.ingest.monitor.azure.com"),
        ("china", "e-1.eastus-1.ingest.monitor.azure.com"),
        ("public", "127.0.0.1"),
    ] {
        let err = check(cloud, &url(host)).expect_err(host).to_string();
        assert!(err.contains("--allow-foreign-endpoint"), "{err}");
    }
    let userinfo = "https://e.eastus-1.ingest.monitor.azure.com@evil.example/dataCollectionRules/d";
    assert!(
        check("public", userinfo).is_err(),
        "the host is evil.example"
    );
    for not_https in [
        "http://e.eastus-1.ingest.monitor.azure.com/dataCollectionRules/d",
        "ftp://e.eastus-1.ingest.monitor.azure.com/",
        "not a url",
        "",
    ] {
        let p = builtin("public").expect("builtin");
        assert!(
            p.check_ingestion_endpoint(not_https, "--endpoint-url", None, true)
                .is_err(),
            "{not_https:?} is refused even with --allow-foreign-endpoint"
        );
    }
    let p = builtin("public").expect("builtin");
    assert_eq!(
        p.check_ingestion_endpoint(&url("evil.example"), "--endpoint-url", None, true)
            .ok(),
        Some(Some("evil.example".to_string())),
        "accepted on the flag's word, and said so"
    );
}

#[test]
fn a_profile_without_a_domain_accepts_only_the_recorded_host() {
    let mut p = builtin("public").expect("builtin");
    p.logs_ingestion_domain = None;
    let recorded = "https://stack.local:4443/dataCollectionRules/d/streams/s";
    let same = "https://STACK.local/dataCollectionRules/d2/streams/s";
    assert_eq!(
        p.check_ingestion_endpoint(same, "--endpoint-url", Some(recorded), false)
            .ok(),
        Some(None)
    );
    let err = p
        .check_ingestion_endpoint(
            "https://other.local/x",
            "--endpoint-url",
            Some(recorded),
            false,
        )
        .expect_err("another host")
        .to_string();
    assert!(
        err.contains("logs_ingestion_domain") && err.contains("stack.local"),
        "{err}"
    );
    assert!(
        p.check_ingestion_endpoint(recorded, "--endpoint-url", None, false)
            .is_err(),
        "nothing recorded: nothing accepted"
    );
}

#[test]
fn a_domain_that_is_not_a_dns_domain_is_refused() {
    let mut p = builtin("public").expect("builtin");
    for bad in [
        "",
        "https://ingest.monitor.azure.com",
        "ingest.monitor.azure.com/x",
        "*.",
    ] {
        p.logs_ingestion_domain = Some(bad.into());
        assert!(p.validate().is_err(), "{bad:?}");
    }
    p.logs_ingestion_domain = Some("*.ingest.monitor.azure.com".into());
    p.validate().expect("a wildcard form is taken");
}
