//! Operator credentials through azure_identity (cli, env, workload, msi) and a per-audience token cache.

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
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

/// Makes a credential; called once per token audience.
type MakeCredential = Box<dyn Fn() -> Result<Arc<dyn TokenCredential>> + Send + Sync>;

/// A token for one scope and the credential that fetches it.
#[derive(Default)]
struct Slot {
    credential: Option<Arc<dyn TokenCredential>>,
    token: Option<(SecretString, OffsetDateTime)>,
}

/// An operator or app identity with a per-audience cache of access tokens, refreshed five minutes before they
/// expire. Each audience has its own credential instance: azure_identity's credentials hold one lock across a
/// fetch, which would make the ARM and Graph tokens wait for each other.
pub struct Auth {
    make: MakeCredential,
    /// What signed in, for messages ("env: client 1234...").
    pub description: String,
    /// The token endpoint's host, named when it cannot be reached.
    authority: String,
    /// The cloud's Azure CLI name (`az cloud set --name ...`) for a built-in profile, named in sign-in hints.
    az_cloud: Option<&'static str>,
    slots: std::sync::Mutex<HashMap<String, Arc<Mutex<Slot>>>>,
    /// With the Azure CLI, the tenant its tokens are asked for (`az account get-access-token --tenant`) once
    /// [`Auth::use_tenant`] names it; `None` for the other modes, whose tenant is part of their inputs.
    cli_tenant: Option<CliTenant>,
}

/// The tenant an Azure CLI credential is built for, shared with the function that builds it.
type CliTenant = Arc<std::sync::Mutex<Option<String>>>;

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
    // azure_core retries a failed token request 8 times over up to a minute by default; with each credential's
    // own attempts that was a silent ~80 s before a sign-in endpoint that cannot be reached was reported (and then
    // as a credential problem). A few quick retries still ride out a dropped connection.
    let retry =
        azure_core::http::RetryOptions::exponential(azure_core::http::ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(250),
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(8),
            max_delay: azure_core::time::Duration::seconds(2),
        });
    ClientOptions {
        cloud: Some(Arc::new(CloudConfiguration::Custom(custom))),
        transport: Some(crate::net::Transport::shared(http)),
        retry,
        ..Default::default()
    }
}

/// Whether an `az` program is on PATH (`az.cmd` on Windows, as azure_identity runs it). Asked before an Azure CLI
/// sign-in is announced: without it, every token request would fail with a message about the CLI's output.
fn az_on_path() -> bool {
    let names: &[&str] = if cfg!(windows) {
        &["az.cmd", "az.exe", "az"]
    } else {
        &["az"]
    };
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| names.iter().any(|n| dir.join(n).is_file()))
    })
}

/// The refusal when the Azure CLI would sign in but is not installed: what `--auth` looked for, and the two ways
/// on (install the CLI for this cloud, or a service principal through the environment).
fn no_az_cli(mode: AuthMode, az_cloud: Option<&str>) -> Error {
    let what = match mode {
        AuthMode::Auto => "--auth auto found no AZURE_CLIENT_SECRET, no AZURE_FEDERATED_TOKEN_FILE and no Azure CLI (`az` is not on PATH)",
        _ => "--auth cli needs the Azure CLI, and `az` is not on PATH",
    };
    let cloud_set = az_cloud
        .map(|az| format!("`az cloud set --name {az}`, "))
        .unwrap_or_default();
    auth_err(
        what,
        format!("install the Azure CLI (https://learn.microsoft.com/cli/azure/install-azure-cli), then {cloud_set}`az login`; or sign in as a service principal with --auth env and AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"),
    )
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn auth_err(what: impl Into<String>, hint: impl Into<crate::error::Hint>) -> Error {
    Error::Auth {
        what: what.into(),
        hint: hint.into(),
    }
}

impl Auth {
    /// Builds the operator credential for `mode` against the profile's authority. `tenant` (`--tenant`, or the
    /// tenant a state file records) is where the Azure CLI is asked for tokens (`az account get-access-token
    /// --tenant`): a person's CLI login spans tenants and its default one may not be the deployment's. The other
    /// modes are one identity in one tenant, given by their environment (AZURE_TENANT_ID), and ignore it.
    pub fn operator(
        mode: AuthMode,
        tenant: Option<&str>,
        profile: &CloudProfile,
        http: &reqwest::Client,
    ) -> Result<Auth> {
        let tenant = tenant.filter(|t| !t.trim().is_empty()).map(str::to_string);
        let asked = mode;
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
        let authority = profile.authority_host.clone();
        let az_cloud = crate::cloud::az_cli_cloud_name(&profile.name);
        if mode == AuthMode::Cli && !az_on_path() {
            return Err(no_az_cli(asked, az_cloud));
        }
        let (profile, http) = (profile.clone(), http.clone());
        // `--tenant` or the state's tenant to begin with; setup names the subscription's once preflight reads it.
        let cli_tenant: Option<CliTenant> =
            (mode == AuthMode::Cli).then(|| Arc::new(std::sync::Mutex::new(tenant.clone())));
        let tenant_for_cli = cli_tenant.clone().unwrap_or_default();
        let (make, description): (MakeCredential, String) = match mode {
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
                    &profile,
                    &http,
                )
                .map(|a| Auth {
                    description: format!("service principal {client} (env)"),
                    ..a
                });
            }
            AuthMode::Workload => {
                (
                    Box::new(move || {
                        let c: Arc<dyn TokenCredential> = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                        credential_options: ClientAssertionCredentialOptions { client_options: client_options(&profile, &http) },
                        ..Default::default()
                    }))
                    .map_err(|e| {
                        auth_err(format!("workload identity: {e}"), "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE")
                    })?;
                        Ok(c)
                    }),
                    format!(
                        "workload identity {}",
                        env_var("AZURE_CLIENT_ID").unwrap_or_default()
                    ),
                )
            }
            AuthMode::Msi => (
                Box::new(move || {
                    let c: Arc<dyn TokenCredential> =
                        ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                            user_assigned_id: env_var("AZURE_CLIENT_ID")
                                .map(azure_identity::UserAssignedId::ClientId),
                            client_options: client_options(&profile, &http),
                        }))
                        .map_err(|e| {
                            auth_err(
                                format!("managed identity: {e}"),
                                "run on an Azure resource with a managed identity",
                            )
                        })?;
                    Ok(c)
                }),
                "managed identity".to_string(),
            ),
            AuthMode::Cli | AuthMode::Auto => (
                Box::new(move || {
                    let tenant_id = tenant_for_cli
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    let c: Arc<dyn TokenCredential> =
                        AzureCliCredential::new(Some(AzureCliCredentialOptions {
                            tenant_id,
                            ..Default::default()
                        }))
                        .map_err(|e| {
                            auth_err(
                                format!("Azure CLI: {e}"),
                                "install the Azure CLI and run `az login`",
                            )
                        })?;
                    Ok(c)
                }),
                "Azure CLI login".to_string(),
            ),
        };
        // Fail now, not at the first request, when the inputs of the credential are wrong.
        make()?;
        Ok(Auth {
            make,
            description,
            authority,
            az_cloud,
            slots: std::sync::Mutex::new(HashMap::new()),
            cli_tenant,
        })
    }

    /// Whether this is an Azure CLI sign-in, whose tenant [`Auth::use_tenant`] sets.
    pub fn is_cli(&self) -> bool {
        self.cli_tenant.is_some()
    }

    /// Points an Azure CLI sign-in at `tenant`, the subscription's: without it the CLI answers for its default
    /// tenant, and the app registration would be made in a directory other than the one that holds the
    /// subscription. Tokens cached for another tenant are dropped. The other modes name their tenant in their
    /// inputs: nothing changes for them.
    pub fn use_tenant(&self, tenant: &str) {
        let Some(cli) = &self.cli_tenant else {
            return;
        };
        let mut t = cli.lock().unwrap_or_else(|p| p.into_inner());
        if t.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(tenant)) {
            return;
        }
        *t = Some(tenant.to_string());
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// A client-secret credential (the operator's from env, or the new app's in verify).
    pub fn client_secret(
        tenant: &str,
        client_id: &str,
        secret: SecretString,
        profile: &CloudProfile,
        http: &reqwest::Client,
    ) -> Result<Auth> {
        let authority = profile.authority_host.clone();
        let az_cloud = crate::cloud::az_cli_cloud_name(&profile.name);
        let (tenant, client, profile, http) = (
            tenant.to_string(),
            client_id.to_string(),
            profile.clone(),
            http.clone(),
        );
        let make: MakeCredential = Box::new(move || {
            let c: Arc<dyn TokenCredential> = ClientSecretCredential::new(
                &tenant,
                client.clone(),
                Secret::new(secret.expose().to_string()),
                Some(ClientSecretCredentialOptions {
                    client_options: client_options(&profile, &http),
                }),
            )
            .map_err(|e| {
                auth_err(
                    format!("client secret credential: {e}"),
                    "check the tenant id and client id",
                )
            })?;
            Ok(c)
        });
        make()?;
        Ok(Auth {
            make,
            description: format!("service principal {client_id}"),
            authority,
            az_cloud,
            slots: std::sync::Mutex::new(HashMap::new()),
            cli_tenant: None,
        })
    }

    /// Forgets `refused`, a token for `audience` that the service turned down before its time (expired early, or
    /// revoked), and the credential's own cache with it: the next [`Auth::token`] fetches a new one. A token
    /// already replaced by another caller is left alone.
    pub async fn invalidate(&self, audience: &str, refused: &SecretString) {
        let scope = CloudProfile::scope(audience);
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.get(&scope).cloned()
        };
        if let Some(slot) = slot {
            let mut slot = slot.lock().await;
            if slot
                .token
                .as_ref()
                .is_some_and(|(t, _)| t.expose() == refused.expose())
            {
                slot.token = None;
                slot.credential = None;
            }
        }
    }

    /// The signed-in identity's object id: the `oid` claim of its access token for `audience` (a user's or a
    /// service principal's; https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
    /// The token is not verified here: it came straight from the authority over TLS.
    pub async fn object_id(&self, audience: &str) -> Result<String> {
        let token = self.token(audience).await?;
        oid_claim(token.expose()).ok_or_else(|| {
            auth_err(
                format!("{}: the access token names no object id (oid)", self.description),
                "sign in as a user or service principal of the tenant (not a personal Microsoft account)",
            )
        })
    }

    /// An access token for `audience`, from the cache while it has more than five minutes left.
    pub async fn token(&self, audience: &str) -> Result<SecretString> {
        let scope = CloudProfile::scope(audience);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(scope.clone()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some((tok, exp)) = slot.token.as_ref() {
            if *exp - OffsetDateTime::now_utc() > time::Duration::minutes(5) {
                return Ok(tok.clone());
            }
        }
        let credential = match &slot.credential {
            Some(c) => c.clone(),
            None => {
                let c = (self.make)()?;
                slot.credential = Some(c.clone());
                c
            }
        };
        let t = credential
            .get_token(&[scope.as_str()], None)
            .await
            .map_err(|e| {
                if let Some(kind) = crate::net::unfixable(&e) {
                    return crate::net::unfixable_error(
                        kind,
                        &self.authority,
                        crate::net::root_cause(&e),
                    );
                }
                // Nothing answered: a network error, not a credential one (no credential hint).
                if crate::net::is_connect_failure(&e) {
                    return crate::net::unreachable_error(
                        &self.authority,
                        crate::net::root_cause(&e),
                    );
                }
                // Display only: azure_core's Debug carries a backtrace.
                let text = e.to_string();
                let hint = crate::error::hint_for(
                    [
                        "invalid_client",
                        "unauthorized_client",
                        "invalid_resource",
                        "invalid_scope",
                    ]
                    .into_iter()
                    .find(|c| text.contains(c))
                    .unwrap_or("signin"),
                    0,
                );
                let hint = match hint {
                    crate::error::Hint::RerunAfterFix => {
                        crate::error::Hint::SignInForCloud(self.az_cloud)
                    }
                    hint => hint,
                };
                auth_err(
                    format!(
                        "{} could not get a token for {scope}: {text}",
                        self.description
                    ),
                    hint,
                )
            })?;
        let tok = SecretString::new(t.token.secret());
        slot.token = Some((tok.clone(), t.expires_on));
        Ok(tok)
    }
}

/// The `oid` claim of a JWT access token (its payload decoded, never logged).
fn oid_claim(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("oid")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
}

/// Base64url (RFC 4648 section 5), padding optional.
fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oid_claim_is_read_from_a_jwt() {
        // {"oid":"abc-123","tid":"t"} in base64url, as Entra shapes its tokens.
        let token = "eyJ0eXAiOiJKV1QifQ.eyJvaWQiOiJhYmMtMTIzIiwidGlkIjoidCJ9.sig";
        assert_eq!(oid_claim(token).as_deref(), Some("abc-123"));
        assert_eq!(oid_claim("opaque"), None);
    }
}
