//! Cloud profiles (public, usgov, usgov-dod, china, or a custom JSON file): every endpoint and audience in one place.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Every endpoint and token audience the tool needs for one Azure cloud.
///
/// The built-in profiles and a custom profile file share this one shape; `keeper-azmon cloud show NAME`
/// prints it, so a printed profile can be edited and passed back with `--cloud FILE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudProfile {
    /// A short name for messages; defaults to the file name of a custom profile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub authority_host: String,
    pub resource_manager_endpoint: String,
    pub resource_manager_audience: String,
    pub graph_endpoint: String,
    pub graph_audience: String,
    pub monitor_audience: String,
    pub log_analytics_endpoint: String,
    pub log_analytics_audience: String,
    /// The DNS domain every Logs Ingestion endpoint of this cloud is under (`ingest.monitor.azure.com`: a DCE's
    /// is `<name>-<suffix>.<region>-1.ingest.monitor.azure.com`). The app's bearer token is sent only to an
    /// Endpoint URL on this host or below it, unless `--allow-foreign-endpoint`. Unset in a custom profile:
    /// only the host of the Endpoint URL the state file records is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs_ingestion_domain: Option<String>,
    /// A PEM file trusted in addition to the system roots (Azure Stack Hub, azure-sim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<PathBuf>,
    /// Where Keeper Secrets Manager calls go instead of the Keeper host the KSM config names: a simulator's
    /// origin (azure-sim answers Keeper's `/api/rest/sm/v1/*`). Unset in every built-in profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper_endpoint: Option<String>,
    /// The server key (URL-safe base64 of a P-256 point) a one-time access token is redeemed with instead of
    /// Keeper's published keys: what Keeper's isolated regions (IL5) do, and how the simulator's fake Keeper
    /// backend can read the request. Unset in every built-in profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper_server_public_key: Option<String>,
}

/// The names `--cloud` accepts besides a file path.
pub const BUILTIN_NAMES: [&str; 4] = ["public", "usgov", "usgov-dod", "china"];

#[allow(clippy::too_many_arguments)]
fn profile(
    name: &str,
    authority: &str,
    arm: &str,
    arm_aud: &str,
    graph: &str,
    monitor: &str,
    la: &str,
    ingestion_domain: &str,
) -> CloudProfile {
    CloudProfile {
        name: name.to_string(),
        authority_host: authority.to_string(),
        resource_manager_endpoint: arm.to_string(),
        resource_manager_audience: arm_aud.to_string(),
        graph_endpoint: graph.to_string(),
        graph_audience: graph.to_string(),
        monitor_audience: monitor.to_string(),
        log_analytics_endpoint: la.to_string(),
        log_analytics_audience: la.to_string(),
        logs_ingestion_domain: Some(ingestion_domain.to_string()),
        ca_certificate: None,
        keeper_endpoint: None,
        keeper_server_public_key: None,
    }
}

/// A built-in profile by name (`public`, `usgov`, `usgov-dod`, `china`).
pub fn builtin(name: &str) -> Option<CloudProfile> {
    // Sources: Azure CLI `az cloud show` for each cloud, Microsoft Graph national cloud deployments,
    // and the Logs Ingestion API docs (monitor audience per cloud). The Logs Ingestion domains: Azure Monitor
    // agent network configuration, firewall endpoints,
    // https://learn.microsoft.com/azure/azure-monitor/agents/azure-monitor-agent-network-configuration
    // (`<data-collection-endpoint>.<region>.ingest.monitor.azure.com`, e.g.
    // `275test-01li.eastus2euap-1.canary.ingest.monitor.azure.com`; Azure Government: "Replace '.com' above with
    // '.us'"), and its Azure China page,
    // https://docs.azure.cn/en-us/azure-monitor/agents/azure-monitor-agent-data-collection-endpoint
    // (`<data-collection-endpoint>.<region>.ingest.monitor.azure.cn`).
    match name {
        "public" => Some(profile(
            "public",
            "https://login.microsoftonline.com",
            "https://management.azure.com",
            "https://management.core.windows.net/",
            "https://graph.microsoft.com",
            "https://monitor.azure.com",
            "https://api.loganalytics.io",
            "ingest.monitor.azure.com",
        )),
        "usgov" => Some(profile(
            "usgov",
            "https://login.microsoftonline.us",
            "https://management.usgovcloudapi.net",
            "https://management.core.usgovcloudapi.net/",
            "https://graph.microsoft.us",
            "https://monitor.azure.us",
            "https://api.loganalytics.us",
            "ingest.monitor.azure.us",
        )),
        "usgov-dod" => Some(profile(
            "usgov-dod",
            "https://login.microsoftonline.us",
            "https://management.usgovcloudapi.net",
            "https://management.core.usgovcloudapi.net/",
            "https://dod-graph.microsoft.us",
            "https://monitor.azure.us",
            "https://api.loganalytics.us",
            "ingest.monitor.azure.us",
        )),
        "china" => Some(profile(
            "china",
            "https://login.chinacloudapi.cn",
            "https://management.chinacloudapi.cn",
            "https://management.core.chinacloudapi.cn/",
            "https://microsoftgraph.chinacloudapi.cn",
            "https://monitor.azure.cn",
            "https://api.loganalytics.azure.cn",
            "ingest.monitor.azure.cn",
        )),
        _ => None,
    }
}

/// The Azure CLI's name for a built-in profile (`az cloud set --name ...`).
pub fn az_cli_cloud_name(profile: &str) -> Option<&'static str> {
    match profile {
        "public" => Some("AzureCloud"),
        "usgov" | "usgov-dod" => Some("AzureUSGovernment"),
        "china" => Some("AzureChinaCloud"),
        _ => None,
    }
}

/// The built-in profiles an Azure CLI cloud name may mean, when it may mean more than one.
///
/// The CLI has one cloud for US Government, `AzureUSGovernment`, whose Graph is GCC High's
/// (`https://graph.microsoft.us`); DoD tenants use the same login and ARM but their own Graph,
/// `https://dod-graph.microsoft.us` (Microsoft Graph national cloud deployments,
/// https://learn.microsoft.com/graph/deployments: "US Government L4" and "US Government L5 (DOD)").
/// Guessing wrong creates the app registration through the wrong Graph, so the tool asks.
pub fn az_cli_cloud_choices(az_name: &str) -> Option<[&'static str; 2]> {
    (az_name == "AzureUSGovernment").then_some(["usgov", "usgov-dod"])
}

/// The Azure CLI's cloud names for the clouds this tool knows (`az cloud list`).
pub const AZ_CLI_CLOUDS: [&str; 3] = ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"];

/// The cloud name (ours or the Azure CLI's) nearest a mistyped one: at most two edits away, any case.
fn near_cloud(arg: &str) -> Option<&'static str> {
    let arg = arg.to_ascii_lowercase();
    BUILTIN_NAMES
        .iter()
        .chain(AZ_CLI_CLOUDS.iter())
        .map(|n| (edits(&arg, &n.to_ascii_lowercase()), *n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| n)
}

/// The Levenshtein distance between two short names.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// The built-in profile for an Azure CLI cloud name (for `AzureUSGovernment`, GCC High's: see
/// [`az_cli_cloud_choices`] before relying on it).
pub fn from_az_cli_cloud_name(az_name: &str) -> Option<&'static str> {
    match az_name {
        "AzureCloud" => Some("public"),
        "AzureUSGovernment" => Some("usgov"),
        "AzureChinaCloud" => Some("china"),
        _ => None,
    }
}

/// The Azure CLI's configuration directory: `AZURE_CONFIG_DIR`, else `~/.azure` (on Windows
/// `%USERPROFILE%\.azure`, where the CLI keeps it; HOME is seldom set there).
fn az_cli_config_dir() -> Option<PathBuf> {
    let home = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os("AZURE_CONFIG_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(home).map(|h| PathBuf::from(h).join(".azure")))
}

/// Whether the Azure CLI has signed in (its profile of accounts exists), read without running `az`.
pub fn az_cli_signed_in() -> bool {
    az_cli_config_dir().is_some_and(|d| d.join("azureProfile.json").exists())
}

/// The cloud the Azure CLI is set to (`az cloud set`), read from its config file without running `az`.
pub fn az_cli_active_cloud() -> Option<String> {
    let dir = az_cli_config_dir()?;
    let text = std::fs::read_to_string(dir.join("config")).ok()?;
    let mut in_cloud = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_cloud = line == "[cloud]";
        } else if in_cloud {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == "name" {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    // A CLI that has never run `az cloud set` is on the public cloud.
    Some("AzureCloud".to_string())
}

/// Asks a person which of some built-in profiles (their names) is meant; none where there is nobody to ask.
pub type Chooser<'a> = &'a dyn Fn(&[&str]) -> Result<String>;

/// Resolves `--cloud`: the flag, else the Azure CLI's active cloud when it is signed in; never a guess. With
/// `cli_signs_in` (the operator signs in through the Azure CLI) the CLI's cloud must agree with the one chosen.
pub fn resolve(
    arg: Option<&str>,
    cli_signs_in: bool,
    ask: Option<Chooser>,
) -> Result<CloudProfile> {
    let profile = match arg {
        Some(a) => CloudProfile::load(a)?,
        None => {
            let signed_in = az_cli_signed_in();
            let active = az_cli_active_cloud().filter(|_| signed_in);
            match active.as_deref() {
                Some(az) if az_cli_cloud_choices(az).is_some() => {
                    CloudProfile::load(&choose_among(az, ask)?)?
                }
                Some(az) => match from_az_cli_cloud_name(az) {
                    Some(name) => CloudProfile::load(name)?,
                    None => return Err(Error::input(
                        format!("--cloud is required: the Azure CLI's cloud {az} is not one this tool knows"),
                        "pass --cloud public|usgov|usgov-dod|china, or the path of a cloud profile file",
                    )),
                },
                None => {
                    return Err(Error::input(
                        "--cloud is required: the Azure CLI is not signed in, so its cloud cannot be used",
                        "pass --cloud public|usgov|usgov-dod|china (or set KEEPER_AZMON_CLOUD)",
                    ))
                }
            }
        }
    };
    if cli_signs_in {
        if let (Some(active), Some(wanted)) =
            (az_cli_active_cloud(), az_cli_cloud_name(&profile.name))
        {
            if active != wanted {
                return Err(Error::Auth {
                    what: format!("the Azure CLI is set to cloud {active}, but --cloud is {}", profile.name),
                    hint: format!("run `az cloud set --name {wanted}` and `az login`, or pass --cloud to match the CLI").into(),
                });
            }
        }
    }
    Ok(profile)
}

/// The built-in profile an Azure CLI cloud with more than one meaning stands for: asked when there is someone to
/// ask, refused otherwise (the DoD and GCC High Graphs differ, and a wrong guess registers the app in the wrong
/// place).
fn choose_among(az: &str, ask: Option<Chooser>) -> Result<String> {
    let choices = az_cli_cloud_choices(az).unwrap_or_default();
    if let Some(ask) = ask {
        return ask(&choices);
    }
    let described: Vec<String> = choices
        .iter()
        .filter_map(|c| builtin(c))
        .map(|p| format!("--cloud {} (Graph {})", p.name, p.graph_endpoint))
        .collect();
    Err(Error::input(
        format!(
            "--cloud is required: the Azure CLI is set to {az}, which is either {}",
            choices.join(" or ")
        ),
        format!(
            "pass {} (or set KEEPER_AZMON_CLOUD)",
            described.join(" or ")
        ),
    ))
}

/// The `--cloud` to use: the flag, else the cloud the state file names when it is a built-in one. A custom profile
/// the state names by path is not followed silently: whoever can change that file chooses where the operator's
/// tokens go, so the operator names it again with `--cloud`.
pub fn from_state(flag: Option<&str>, state_cloud: &str) -> Result<Option<String>> {
    if let Some(c) = flag {
        return Ok(Some(c.to_string()));
    }
    if state_cloud.is_empty() {
        return Ok(None);
    }
    if BUILTIN_NAMES.contains(&state_cloud) {
        return Ok(Some(state_cloud.to_string()));
    }
    Err(Error::input(
        format!("the state file names a custom cloud profile by path ({state_cloud}); it is not followed without being named again"),
        format!("pass --cloud {state_cloud} (or set KEEPER_AZMON_CLOUD) once you have checked that file's endpoints"),
    ))
}

impl CloudProfile {
    /// Loads `--cloud`: a built-in name or the path of a JSON profile.
    pub fn load(arg: &str) -> Result<CloudProfile> {
        if let Some(p) = builtin(arg) {
            return Ok(p);
        }
        // The Azure CLI's names (`az cloud list`), in any case, beside ours.
        if let Some(az) = AZ_CLI_CLOUDS.iter().find(|n| n.eq_ignore_ascii_case(arg)) {
            if let Some([a, b]) = az_cli_cloud_choices(az) {
                // Its Graph differs between GCC High and DoD: a wrong guess registers the app in the wrong place.
                let graph = |n: &str| builtin(n).map(|p| p.graph_endpoint).unwrap_or_default();
                return Err(Error::input(
                    format!(
                        "--cloud {az} is either {a} (GCC High, Graph {}) or {b} (DoD, Graph {})",
                        graph(a),
                        graph(b)
                    ),
                    format!("pass --cloud {a} or --cloud {b}"),
                ));
            }
            if let Some(p) = from_az_cli_cloud_name(az).and_then(builtin) {
                return Ok(p);
            }
        }
        let path = Path::new(arg);
        if !path.exists() {
            let near = near_cloud(arg)
                .map(|n| format!("did you mean --cloud {n}? "))
                .unwrap_or_default();
            return Err(Error::input(
                format!("unknown cloud '{arg}'"),
                format!(
                    "{near}use one of {} (or the Azure CLI's {}) or the path of a cloud profile JSON file (see `keeper-azmon cloud show public`)",
                    BUILTIN_NAMES.join(", "),
                    AZ_CLI_CLOUDS.join(", ")
                ),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(
                format!("cannot read cloud profile {arg}: {e}"),
                "check the path",
            )
        })?;
        let mut p: CloudProfile = serde_json::from_str(&text).map_err(|e| {
            Error::input(
                format!("cloud profile {arg} is not valid: {e}"),
                "print a valid one with `keeper-azmon cloud show public` and edit it",
            )
        })?;
        if p.name.is_empty() {
            p.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "custom".into());
        }
        if let Some(ca) = &p.ca_certificate {
            if ca.is_relative() {
                let base = path.parent().unwrap_or(Path::new("."));
                p.ca_certificate = Some(base.join(ca));
            }
        }
        p.validate()?;
        Ok(p)
    }

    /// Every endpoint must be an https URL: azure_identity and bearer tokens refuse anything else.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("authority_host", &self.authority_host),
            ("resource_manager_endpoint", &self.resource_manager_endpoint),
            ("resource_manager_audience", &self.resource_manager_audience),
            ("graph_endpoint", &self.graph_endpoint),
            ("graph_audience", &self.graph_audience),
            ("monitor_audience", &self.monitor_audience),
            ("log_analytics_endpoint", &self.log_analytics_endpoint),
            ("log_analytics_audience", &self.log_analytics_audience),
        ];
        if let Some(domain) = &self.logs_ingestion_domain {
            let bare = domain.trim_start_matches("*.").trim_start_matches('.');
            if bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            {
                return Err(Error::input(
                    format!(
                        "cloud profile '{}': logs_ingestion_domain = '{domain}' is not a DNS domain",
                        self.name
                    ),
                    "give the domain the Logs Ingestion endpoints are under, without scheme or path (ingest.monitor.azure.com)",
                ));
            }
        }
        for (key, value) in fields {
            let url = url::Url::parse(value).map_err(|e| {
                Error::input(
                    format!(
                        "cloud profile '{}': {key} = '{value}' is not a URL ({e})",
                        self.name
                    ),
                    "every endpoint and audience is an absolute https:// URL",
                )
            })?;
            if url.scheme() != "https" {
                return Err(Error::input(
                    format!(
                        "cloud profile '{}': {key} = '{value}' is not https",
                        self.name
                    ),
                    "Azure credentials are only sent over https; use an https:// URL",
                ));
            }
        }
        Ok(())
    }

    /// Checks where the app's bearer token is about to go, before one is asked for: the Endpoint URL (named by
    /// `source`: `--endpoint-url`, or the state file) must be https, on a host in this cloud's Logs Ingestion
    /// domain; with a profile that names no domain, on the host of the Endpoint URL the state file records
    /// (`recorded`). `allow_foreign` (`--allow-foreign-endpoint`) lifts the host rule, never the https one.
    /// Returns the host when it is accepted only because `allow_foreign` says so.
    pub fn check_ingestion_endpoint(
        &self,
        url: &str,
        source: &str,
        recorded: Option<&str>,
        allow_foreign: bool,
    ) -> Result<Option<String>> {
        let again =
            "copy the Endpoint URL again from `keeper-azmon setup` (the state file records it)";
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::input(format!("{source} '{url}' is not a URL ({e})"), again))?;
        if parsed.scheme() != "https" {
            return Err(Error::input(
                format!("{source} '{url}' is not https: the app's bearer token would cross the network in clear"),
                format!("{again}; it is always https://"),
            ));
        }
        let host = host_of(&parsed)
            .ok_or_else(|| Error::input(format!("{source} '{url}' names no host"), again))?;
        let allowed = match &self.logs_ingestion_domain {
            Some(domain) => in_domain(&host, domain),
            None => recorded
                .and_then(|r| url::Url::parse(r).ok())
                .and_then(|r| host_of(&r))
                .is_some_and(|r| r == host),
        };
        if allowed {
            return Ok(None);
        }
        if allow_foreign {
            return Ok(Some(host));
        }
        let on_purpose =
            "if that host is yours on purpose (a proxy you run), pass --allow-foreign-endpoint";
        Err(match &self.logs_ingestion_domain {
            Some(domain) => Error::input(
                format!(
                    "{source} names host '{host}', outside the Logs Ingestion domain of cloud '{}' (*.{}): the app's token is sent only there",
                    self.name,
                    domain.trim_start_matches('.')
                ),
                format!("{again}; {on_purpose}"),
            ),
            None => Error::input(
                format!(
                    "{source} names host '{host}', but cloud profile '{}' names no logs_ingestion_domain, so the app's token goes only to the host of the Endpoint URL the state file records ({})",
                    self.name,
                    recorded
                        .and_then(|r| url::Url::parse(r).ok())
                        .and_then(|r| host_of(&r))
                        .unwrap_or_else(|| "none recorded".into())
                ),
                format!("add \"logs_ingestion_domain\" to the profile; {on_purpose}"),
            ),
        })
    }

    /// The OAuth scope for an audience: `<audience>/.default`.
    pub fn scope(audience: &str) -> String {
        format!("{}/.default", audience.trim_end_matches('/'))
    }

    /// ARM URL for a path that starts with `/`.
    pub fn arm_url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.resource_manager_endpoint.trim_end_matches('/'),
            path
        )
    }

    /// Graph v1.0 URL for a path that starts with `/`.
    pub fn graph_url(&self, path: &str) -> String {
        format!("{}/v1.0{}", self.graph_endpoint.trim_end_matches('/'), path)
    }

    /// The Log Analytics query URL for a workspace (by its customer id).
    pub fn query_url(&self, workspace_customer_id: &str) -> String {
        format!(
            "{}/v1/workspaces/{workspace_customer_id}/query",
            self.log_analytics_endpoint.trim_end_matches('/')
        )
    }
}

/// A URL's host as compared: lower case (the url crate lowers domain names), without a final dot.
fn host_of(url: &url::Url) -> Option<String> {
    url.host_str()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

/// Whether `host` is `domain` or a name below it (`a.ingest.monitor.azure.com` is under
/// `ingest.monitor.azure.com`; `evilingest.monitor.azure.com` and `ingest.monitor.azure.com.evil.example` are not).
fn in_domain(host: &str, domain: &str) -> bool {
    let domain = domain
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    !domain.is_empty()
        && (host == domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.ends_with('.')))
}

#[cfg(test)]
mod tests;
