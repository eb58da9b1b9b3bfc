//! azure-sim's eventual consistency and paging against a real HTTPS client: Graph's read-after-create lag, new
//! credentials refused by the token endpoint for a while, and lists answered a page at a time with next links.

mod common;

use std::time::Duration;

use azure_sim::{Sim, SimConfig};
use serde_json::{json, Value};

struct T {
    sim: Sim,
    http: reqwest::Client,
}

impl T {
    async fn new(cfg: SimConfig) -> T {
        let sim = Sim::start(cfg).await.expect("start");
        let http = common::client(&sim);
        T { sim, http }
    }

    fn sub(&self) -> String {
        self.sim.operator().subscription_id
    }

    /// A request as the operator to `{base}{path}` with a token for the profile's `audience_key`.
    async fn call(
        &self,
        audience_key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let aud = self.sim.profile("")[audience_key]
            .as_str()
            .expect("aud")
            .trim_end_matches('/')
            .to_string();
        let op = self.sim.operator();
        let tok = common::token_with(
            &self.sim,
            &self.http,
            &op.client_id,
            &op.client_secret,
            &aud,
        )
        .await
        .expect("operator token");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(tok);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call("graph_audience", method, &format!("/v1.0{path}"), body)
            .await
    }

    async fn arm(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call("resource_manager_audience", method, path, body)
            .await
    }
}

/// Graph, eventually consistent: a new application and service principal are not found by reads, lists,
/// PATCH or addPassword, and an application cannot back a service principal, until the lag has passed.
#[tokio::test(flavor = "multi_thread")]
async fn new_graph_objects_are_not_found_until_they_replicate() {
    let t = T::new(SimConfig {
        graph_replication_delay: Duration::from_secs(30),
        ..SimConfig::default()
    })
    .await;
    let (st, app) = t
        .graph(
            reqwest::Method::POST,
            "/applications",
            Some(json!({ "displayName": "Lagging", "tags": ["t"] })),
        )
        .await;
    assert_eq!(st, 201);
    let (id, app_id) = (
        app["id"].as_str().expect("id").to_string(),
        app["appId"].as_str().expect("appId").to_string(),
    );
    let (st, b) = t
        .graph(reqwest::Method::GET, &format!("/applications/{id}"), None)
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    let patch = json!({ "identifierUris": [format!("api://{app_id}")] });
    let (st, _) = t
        .graph(
            reqwest::Method::PATCH,
            &format!("/applications/{id}"),
            Some(patch.clone()),
        )
        .await;
    assert_eq!(st, 404);
    let pw = json!({ "passwordCredential": { "displayName": "s" } });
    let (st, _) = t
        .graph(
            reqwest::Method::POST,
            &format!("/applications/{id}/addPassword"),
            Some(pw.clone()),
        )
        .await;
    assert_eq!(st, 404);
    let (st, list) = t
        .graph(
            reqwest::Method::GET,
            "/applications?$filter=displayName%20eq%20%27Lagging%27",
            None,
        )
        .await;
    assert_eq!((st, list["value"].as_array().map(Vec::len)), (200, Some(0)));
    let (st, b) = t
        .graph(
            reqwest::Method::POST,
            "/servicePrincipals",
            Some(json!({ "appId": app_id })),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(
        b["error"]["message"],
        format!("The appId '{app_id}' of the service principal does not reference a valid application object.")
    );
    assert_eq!(
        b["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );

    t.sim.advance_clock(Duration::from_secs(31));
    assert_eq!(
        t.graph(reqwest::Method::GET, &format!("/applications/{id}"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        t.graph(
            reqwest::Method::PATCH,
            &format!("/applications/{id}"),
            Some(patch)
        )
        .await
        .0,
        204
    );
    let (st, list) = t
        .graph(
            reqwest::Method::GET,
            "/applications?$filter=displayName%20eq%20%27Lagging%27",
            None,
        )
        .await;
    assert_eq!((st, list["value"].as_array().map(Vec::len)), (200, Some(1)));
    let (st, sp) = t
        .graph(
            reqwest::Method::POST,
            "/servicePrincipals",
            Some(json!({ "appId": app_id })),
        )
        .await;
    assert_eq!(st, 201);
    let sp_id = sp["id"].as_str().expect("sp id");
    let (st, _) = t
        .graph(
            reqwest::Method::GET,
            &format!("/servicePrincipals/{sp_id}"),
            None,
        )
        .await;
    assert_eq!(st, 404, "the new service principal lags too");
    let (st, list) = t
        .graph(
            reqwest::Method::GET,
            &format!("/servicePrincipals?$filter=appId%20eq%20%27{app_id}%27"),
            None,
        )
        .await;
    assert_eq!((st, list["value"].as_array().map(Vec::len)), (200, Some(0)));
    let (st, b) = t
        .graph(
            reqwest::Method::POST,
            "/servicePrincipals",
            Some(json!({ "appId": app_id })),
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("Request_MultipleObjectsWithSameKeyValue"))
    );
    t.sim.advance_clock(Duration::from_secs(31));
    assert_eq!(
        t.graph(
            reqwest::Method::GET,
            &format!("/servicePrincipals/{sp_id}"),
            None
        )
        .await
        .0,
        200
    );
}

/// The token endpoint refuses a new client secret (AADSTS7000215) and a new service principal (AADSTS700016)
/// for a while; both work once it has passed.
#[tokio::test(flavor = "multi_thread")]
async fn new_credentials_are_refused_for_a_while() {
    let t = T::new(SimConfig {
        graph_replication_delay: Duration::ZERO,
        credential_activation_delay: Duration::from_secs(20),
        ..SimConfig::default()
    })
    .await;
    let (_, app) = t
        .graph(
            reqwest::Method::POST,
            "/applications",
            Some(json!({ "displayName": "Cred" })),
        )
        .await;
    let (id, app_id) = (
        app["id"].as_str().expect("id").to_string(),
        app["appId"].as_str().expect("appId").to_string(),
    );
    let (_, pw) = t
        .graph(
            reqwest::Method::POST,
            &format!("/applications/{id}/addPassword"),
            Some(json!({ "passwordCredential": { "displayName": "s" } })),
        )
        .await;
    let secret = pw["secretText"].as_str().expect("secretText").to_string();
    let aud = "https://monitor.azure.com";
    let refused = common::token_with(&t.sim, &t.http, &app_id, &secret, aud).await;
    assert_eq!(
        refused.expect_err("refused")["error_codes"],
        json!([7000215]),
        "a new secret"
    );
    t.sim.advance_clock(Duration::from_secs(21));
    assert_eq!(
        t.graph(
            reqwest::Method::POST,
            "/servicePrincipals",
            Some(json!({ "appId": app_id }))
        )
        .await
        .0,
        201
    );
    let refused = common::token_with(&t.sim, &t.http, &app_id, &secret, aud).await;
    assert_eq!(
        refused.expect_err("refused")["error_codes"],
        json!([700016]),
        "a new service principal"
    );
    t.sim.advance_clock(Duration::from_secs(21));
    common::token_with(&t.sim, &t.http, &app_id, &secret, aud)
        .await
        .expect("usable now");
}

/// Every paged list answers `page_size` items and a next link (`@odata.nextLink` in Graph, `nextLink` in ARM)
/// that carries the query on; the last page has none.
#[tokio::test(flavor = "multi_thread")]
async fn lists_are_paged_with_next_links() {
    let t = T::new(SimConfig {
        graph_replication_delay: Duration::ZERO,
        page_size: Some(2),
        ..SimConfig::default()
    })
    .await;
    for _ in 0..5 {
        t.graph(
            reqwest::Method::POST,
            "/applications",
            Some(json!({ "displayName": "Same" })),
        )
        .await;
    }
    let mut url = format!(
        "{}/v1.0/applications?$filter=displayName%20eq%20%27Same%27",
        t.sim.base_url()
    );
    let mut sizes = vec![];
    loop {
        let path = url
            .trim_start_matches(&format!("{}/v1.0", t.sim.base_url()))
            .to_string();
        let (st, page) = t.graph(reqwest::Method::GET, &path, None).await;
        assert_eq!(st, 200);
        sizes.push(page["value"].as_array().map(Vec::len).unwrap_or(0));
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    let (st, page) = t
        .arm(
            reqwest::Method::GET,
            &format!(
                "/subscriptions/{}/locations?api-version=2022-12-01",
                t.sub()
            ),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(page["value"].as_array().map(Vec::len), Some(2));
    let next = page["nextLink"].as_str().expect("nextLink");
    assert!(
        next.contains("api-version=2022-12-01") && next.contains("skiptoken"),
        "{next}"
    );
}
