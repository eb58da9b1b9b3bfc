//! Shared helpers for azure-sim's own tests: an HTTPS client that trusts the simulator, and tokens from it.
#![allow(dead_code)]

pub mod monitor;

use azure_sim::Sim;
use serde_json::Value;

/// A client that trusts only the simulator's certificate.
pub fn client(sim: &Sim) -> reqwest::Client {
    let cert = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).expect("pem");
    reqwest::Client::builder()
        .tls_certs_merge([cert])
        .build()
        .expect("client")
}

/// A token by client credentials in the operator's tenant, or the token endpoint's error body.
pub async fn token_with(
    sim: &Sim,
    http: &reqwest::Client,
    client: &str,
    secret: &str,
    aud: &str,
) -> Result<String, Value> {
    let r = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.base_url(),
            sim.operator().tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", &format!("{aud}/.default")),
        ])
        .send()
        .await
        .expect("token request");
    let ok = r.status() == 200;
    let body: Value = r.json().await.expect("json");
    if ok {
        Ok(body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string())
    } else {
        Err(body)
    }
}

/// The operator's token for the simulator's ARM audience.
pub async fn operator_arm_token(sim: &Sim, http: &reqwest::Client) -> String {
    let op = sim.operator();
    let aud = sim.profile("")["resource_manager_audience"]
        .as_str()
        .expect("aud")
        .to_string();
    token_with(sim, http, &op.client_id, &op.client_secret, &aud)
        .await
        .expect("operator token")
}
