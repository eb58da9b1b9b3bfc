//! The KSM config a vault is reached through: a bound config (a file, its base64 or its JSON), or a one-time
//! access token still to be redeemed for one; and the bound config a token yields, as the text to save.

use std::path::{Path, PathBuf};

use keeper_secrets_manager_core::config_keys::ConfigKeys;
use keeper_secrets_manager_core::constants::get_keeper_servers;
use keeper_secrets_manager_core::{InMemoryKeyValueStorage, KeyValueStorage, KvStoreType};

use super::VaultError;
use crate::secret::SecretString;

/// What `--ksm-config` holds (a secret either way: a config holds the device's private key and the app key, a
/// token redeems one).
#[derive(Clone)]
pub enum Source {
    /// A bound config's text: JSON, or base64 of it as the Keeper vault exports it.
    Bound(SecretString),
    /// A one-time access token, `REGION:TOKEN`.
    Token(SecretString),
}

/// A KSM config and the file it came from, the only part the state file keeps.
#[derive(Clone)]
pub struct KsmConfig {
    pub source: Source,
    pub path: Option<PathBuf>,
}

/// The Keeper host a one-time access token's region prefix names, from the SDK's own table
/// (keeper-secrets-manager-core 17.3.0 `constants.rs` `get_keeper_servers`: US keepersecurity.com, EU
/// keepersecurity.eu, AU keepersecurity.com.au, GOV govcloud.keepersecurity.us, JP keepersecurity.jp, CA
/// keepersecurity.ca, IL5 il5.keepersecurity.us; the SDK upper-cases the prefix, `core.rs` `SecretsManager::new`).
/// The SDK also takes a host name as the prefix (`govcloud.keepersecurity.us:TOKEN`); so does the tool, for the
/// hosts of that table only (any other `name.tld:…` is taken for a file name). None when `arg` is not a token.
pub fn token_host(arg: &str) -> Option<&'static str> {
    let (region, rest) = arg.trim().split_once(':')?;
    let servers = get_keeper_servers();
    let host = servers
        .get(region.to_uppercase().as_str())
        .or_else(|| servers.values().find(|h| h.eq_ignore_ascii_case(region)))
        .copied()?;
    // The key (and, in IL5's four-part form `IL5:key:keyId:serverPublicKey`, the rest) is URL-safe base64.
    let key_like = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'/'))
    };
    rest.split(':').all(key_like).then_some(host)
}

impl KsmConfig {
    /// `--ksm-config`: a file if one exists at that path, else a one-time access token (`REGION:TOKEN`), else the
    /// base64 (or JSON) text itself. The SDK's parser checks a config here, before anything is sent.
    pub fn load(arg: &str) -> Result<KsmConfig, VaultError> {
        let path = Path::new(arg);
        let is_file = arg.len() < 4096 && path.is_file();
        if !is_file && token_host(arg).is_some() {
            return Ok(KsmConfig {
                source: Source::Token(SecretString::new(arg.trim())),
                path: None,
            });
        }
        // Base64 never holds a '.', and JSON starts with '{': anything else with a dot is a file name.
        let looks_like_file = !arg.trim_start().starts_with('{') && arg.contains('.');
        if looks_like_file && !path.exists() {
            return Err(VaultError::Config {
                origin: arg.to_string(),
                what: "no such file".into(),
            });
        }
        let (text, path, origin) = if is_file {
            let text = std::fs::read_to_string(path).map_err(|e| VaultError::Config {
                origin: path.display().to_string(),
                what: e.to_string(),
            })?;
            (text, Some(path.to_path_buf()), path.display().to_string())
        } else {
            (arg.to_string(), None, "the text given".into())
        };
        Ok(KsmConfig {
            source: Source::Bound(checked(text.trim(), &origin)?),
            path,
        })
    }

    /// A bound config saved at `path` (the text a token yielded).
    pub fn saved(text: SecretString, path: &Path) -> KsmConfig {
        KsmConfig {
            source: Source::Bound(text),
            path: Some(path.to_path_buf()),
        }
    }

    pub fn is_token(&self) -> bool {
        matches!(self.source, Source::Token(_))
    }

    /// How messages name where the config came from.
    pub fn origin(&self) -> String {
        match (&self.path, &self.source) {
            (Some(p), _) => p.display().to_string(),
            (None, Source::Token(_)) => "the one-time access token".into(),
            (None, Source::Bound(_)) => "the text given".into(),
        }
    }
}

/// The config text, once the SDK's parser has taken it.
fn checked(text: &str, origin: &str) -> Result<SecretString, VaultError> {
    InMemoryKeyValueStorage::new(Some(text.to_string())).map_err(|e| VaultError::Config {
        origin: origin.to_string(),
        what: e.to_string(),
    })?;
    Ok(SecretString::new(text))
}

/// The bound config an SDK storage holds after a token was redeemed, as the JSON a KSM config file holds (the
/// keys of `config_keys.rs`); the spent token (`clientKey`) is left out, as the SDK itself deletes it on binding
/// (`core.rs` `set_app_key_if_absent`).
pub fn bound_text(storage: &KvStoreType) -> Result<SecretString, VaultError> {
    let broken = |what: String| VaultError::Config {
        origin: "the config the one-time access token yielded".into(),
        what,
    };
    let mut map = storage.read_storage().map_err(|e| broken(e.to_string()))?;
    map.remove(&ConfigKeys::KeyClientKey);
    if !map.contains_key(&ConfigKeys::KeyAppKey) {
        return Err(broken("Keeper did not bind it (no appKey)".into()));
    }
    // Sorted, so the saved file reads the same every time.
    let sorted: std::collections::BTreeMap<String, String> = map
        .into_iter()
        .map(|(k, v)| (k.value().to_string(), v))
        .collect();
    let text = serde_json::to_string_pretty(&sorted).map_err(|e| broken(e.to_string()))?;
    Ok(SecretString::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_prefixes_are_tokens_and_nothing_else_is() {
        assert_eq!(token_host("US:abc_DEF-123"), Some("keepersecurity.com"));
        assert_eq!(token_host("gov:abc"), Some("govcloud.keepersecurity.us"));
        assert_eq!(token_host("EU:abc"), Some("keepersecurity.eu"));
        assert_eq!(token_host("AU:abc"), Some("keepersecurity.com.au"));
        assert_eq!(token_host("JP:abc"), Some("keepersecurity.jp"));
        assert_eq!(token_host("CA:abc"), Some("keepersecurity.ca"));
        assert_eq!(token_host("IL5:k:10:BPub"), Some("il5.keepersecurity.us"));
        assert_eq!(
            token_host("govcloud.keepersecurity.us:abc"),
            Some("govcloud.keepersecurity.us"),
            "a Keeper host as the prefix, as the SDK takes it"
        );
        assert_eq!(
            token_host("KeeperSecurity.EU:abc"),
            Some("keepersecurity.eu")
        );
        for not in [
            "example.com:abc",
            "XX:abc",
            "US:",
            "US:a b",
            "eyJob3N0bmFtZSI6",
            "./US:abc",
            "C:\\cfg.json",
        ] {
            assert_eq!(token_host(not), None, "{not}");
        }
    }
}
