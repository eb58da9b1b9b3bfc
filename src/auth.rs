//! Operator credentials through azure_identity (cli, env, workload, msi) and a per-audience token cache.

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::cloud::CloudProfile;
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// How the operator signs in (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// env, then workload, then cli: the first one whose inputs are present.
    Auto,
    /// The Azure CLI's login (`az login`).
    Cli,
    /// A client secret from AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    Env,
    /// A federated token file (AZURE_FEDERATED_TOKEN_FILE), as GitHub Actions and AKS provide.
    Workload,
    /// A managed identity (AZURE_CLIENT_ID selects a user-assigned one).
    Msi,
}

/// A credential with a per-audience cache of access tokens, refreshed five minutes before they expire.
pub struct Auth {
    credential: Arc<dyn TokenCredential>,
    /// What signed in, for messages ("env: client 1234...").
    pub description: String,
    cache: Mutex<HashMap<String, (SecretString, OffsetDateTime)>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// azure_identity client options that use the profile's authority host and trust its extra CA.
pub fn client_options(profile: &CloudProfile, http: &reqwest::Client) -> ClientOptions {
    let mut custom = CustomConfiguration::default();
    custom.authority_host = profile.authority_host.clone();
    ClientOptions {
        cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
        transport: Some(Transport::new(Arc::new(http.clone()))),
        ..Default::default()
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn auth_err(what: impl Into<String>, hint: impl Into<String>) -> Error {
    Error::Auth {
        what: what.into(),
        hint: hint.into(),
    }
}

impl Auth {
    /// Builds the operator credential for `mode` against the profile's authority.
    pub fn operator(
        mode: AuthMode,
        profile: &CloudProfile,
        http: &reqwest::Client,
    ) -> Result<Auth> {
        let mode = match mode {
            AuthMode::Auto => {
                if env_var("AZURE_CLIENT_SECRET").is_some() {
                    AuthMode::Env
                } else if env_var("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                    AuthMode::Workload
                } else {
                    AuthMode::Cli
                }
            }
            m => m,
        };
        let opts = client_options(profile, http);
        let (credential, description): (Arc<dyn TokenCredential>, String) = match mode {
            AuthMode::Env => {
                let tenant = env_var("AZURE_TENANT_ID");
                let client = env_var("AZURE_CLIENT_ID");
                let secret = env_var("AZURE_CLIENT_SECRET");
                let (Some(tenant), Some(client), Some(secret)) = (tenant, client, secret) else {
                    return Err(auth_err(
                        "--auth env needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET",
                        "set all three, or use --auth cli after `az login`",
                    ));
                };
                return Auth::client_secret(
                    &tenant,
                    &client,
                    SecretString::new(secret),
                    profile,
                    http,
                )
                .map(|a| Auth {
                    description: format!("service principal {client} (env)"),
                    ..a
                });
            }
            AuthMode::Workload => {
                let c = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: opts,
                    },
                    ..Default::default()
                }))
                .map_err(|e| {
                    auth_err(
                        format!("workload identity: {e}"),
                        "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE",
                    )
                })?;
                (
                    c,
                    format!(
                        "workload identity {}",
                        env_var("AZURE_CLIENT_ID").unwrap_or_default()
                    ),
                )
            }
            AuthMode::Msi => {
                let c = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: env_var("AZURE_CLIENT_ID")
                        .map(azure_identity::UserAssignedId::ClientId),
                    client_options: opts,
                }))
                .map_err(|e| {
                    auth_err(
                        format!("managed identity: {e}"),
                        "run on an Azure resource with a managed identity",
                    )
                })?;
                (c, "managed identity".to_string())
            }
            AuthMode::Cli | AuthMode::Auto => {
                let c = AzureCliCredential::new(None).map_err(|e| {
                    auth_err(
                        format!("Azure CLI: {e}"),
                        "install the Azure CLI and run `az login`",
                    )
                })?;
                (c, "Azure CLI login".to_string())
            }
        };
        Ok(Auth {
            credential,
            description,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A client-secret credential (the operator's from env, or the new app's in verify).
    pub fn client_secret(
        tenant: &str,
        client_id: &str,
        secret: SecretString,
        profile: &CloudProfile,
        http: &reqwest::Client,
    ) -> Result<Auth> {
        let c = ClientSecretCredential::new(
            tenant,
            client_id.to_string(),
            Secret::new(secret.expose().to_string()),
            Some(ClientSecretCredentialOptions {
                client_options: client_options(profile, http),
            }),
        )
        .map_err(|e| {
            auth_err(
                format!("client secret credential: {e}"),
                "check the tenant id and client id",
            )
        })?;
        Ok(Auth {
            credential: c,
            description: format!("service principal {client_id}"),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// An access token for `audience`, from the cache while it has more than five minutes left.
    pub async fn token(&self, audience: &str) -> Result<SecretString> {
        let scope = CloudProfile::scope(audience);
        let mut cache = self.cache.lock().await;
        if let Some((tok, exp)) = cache.get(&scope) {
            if *exp - OffsetDateTime::now_utc() > time::Duration::minutes(5) {
                return Ok(tok.clone());
            }
        }
        let t = self.credential.get_token(&[scope.as_str()], None).await.map_err(|e| {
            // Display only: azure_core's Debug carries a backtrace.
            let text = e.to_string();
            let hint = crate::error::hint_for(
                ["invalid_client", "unauthorized_client", "invalid_resource", "invalid_scope"]
                    .into_iter()
                    .find(|c| text.contains(c))
                    .unwrap_or("signin"),
                0,
            );
            let hint = if hint.starts_with("re-run") {
                "sign in for this cloud: `az cloud set --name <cloud>` then `az login`, or set AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET".to_string()
            } else {
                hint
            };
            auth_err(format!("{} could not get a token for {scope}: {text}", self.description), hint)
        })?;
        let tok = SecretString::new(t.token.secret());
        cache.insert(scope, (tok.clone(), t.expires_on));
        Ok(tok)
    }
}
