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

/// The region prefix of something shaped like a one-time access token (`REGION:KEY`) whose region Keeper does
/// not use; None for anything else. Only the prefix is returned: it is safe to show, the key is not.
fn unknown_token_region(arg: &str) -> Option<&str> {
    let (region, key) = arg.trim().split_once(':')?;
    let region_like = (1..=64).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let key_like = key.len() >= 16
        && key.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'/' | b':')
        });
    (region_like && key_like && token_host(arg).is_none()).then_some(region)
}

/// Whether `arg`, which names no file, is still safe to show as the path it was meant to be: a short name ending
/// in an extension a config file has, with nothing in it a config's text holds (a config is base64, which has no
/// `.`, or JSON, which has braces and quotes). Anything else may be the config itself, and is never shown.
fn shown_as_path(arg: &str) -> bool {
    const EXTENSIONS: [&str; 7] = ["json", "txt", "cfg", "conf", "config", "b64", "base64"];
    arg.len() <= 1024
        && !arg
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '{' | '}' | '"' | '\'' | ':'))
        && Path::new(arg)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// How a character of a config that broke it is named in a message: punctuation and spaces as themselves, a
/// letter or digit (which could be part of a key) not at all.
fn shown_char(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\n' | '\r' => "a line break".into(),
        '\t' => "a tab".into(),
        c if c.is_ascii_punctuation() => format!("'{c}'"),
        c if c.is_ascii() => "a control character".into(),
        c => format!("U+{:04X}", c as u32),
    }
}

/// Standard base64 (with or without padding), as the Keeper vault exports a config and the SDK reads it; or
/// which part of it is not, shown without any of its text.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    if let Some((i, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(format!(
            "character {} of {} ({}) is not base64",
            i + 1,
            text.chars().count(),
            shown_char(c)
        ));
    }
    let unpadded = text.trim_end_matches('=');
    if unpadded.contains('=') || unpadded.len() % 4 == 1 {
        return Err(format!(
            "its {} characters are not whole base64 (it may be cut short, or two pasted together)",
            text.len()
        ));
    }
    let padded = format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4));
    keeper_secrets_manager_core::utils::base64_to_bytes(&padded)
        .map_err(|_| "its base64 does not decode (it may be cut short)".to_string())
}

/// A config key named in a message: a name shaped like one is shown, anything else is not.
fn shown_key(k: &str) -> String {
    if (1..=40).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        format!("'{k}'")
    } else {
        "that is not a name".into()
    }
}

/// What is wrong with the text of a bound config, in words that show none of it: which part breaks it (not
/// base64, JSON broken at a line and column, a key no config has, a value that is not a string, a key it
/// lacks, a private key that is not base64). `Ok` when it has a bound config's shape.
pub fn diagnose(text: &str) -> Result<(), String> {
    let text = text.trim();
    let json = if text.starts_with('{') {
        text.to_string()
    } else {
        let bytes = decode_base64(text)
            .map_err(|why| format!("it is neither base64 nor JSON beginning with '{{': {why}"))?;
        String::from_utf8(bytes)
            .map_err(|_| "its base64 decodes to something that is not text".to_string())?
    };
    let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
        format!(
            "its JSON is malformed at line {}, column {}",
            e.line(),
            e.column()
        )
    })?;
    let Some(fields) = value.as_object() else {
        return Err("its JSON is not an object".into());
    };
    for (k, v) in fields {
        if ConfigKeys::get_enum(k).is_none() {
            return Err(format!("it has a key no KSM config has: {}", shown_key(k)));
        }
        if !v.is_string() {
            return Err(format!("its {k} is not a string"));
        }
    }
    for k in ["hostname", "clientId", "privateKey"] {
        if !fields.contains_key(k) {
            return Err(format!("it lacks {k}"));
        }
    }
    // The SDK reads the private key with its own base64 reader (utils.rs `base64_to_bytes`, crypto.rs
    // `der_base64_private_key_to_private_key`).
    let key = fields
        .get("privateKey")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if keeper_secrets_manager_core::utils::base64_to_bytes(key).is_err() {
        return Err("its privateKey is not base64".into());
    }
    Ok(())
}

/// `text` with every `secret` in it replaced: what Keeper's SDK says is shown only without the config's values.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(s.as_str(), "<redacted>");
    }
    out
}

impl KsmConfig {
    /// `--ksm-config`: a file if one exists at that path, else a one-time access token (`REGION:TOKEN`), else the
    /// base64 (or JSON) text itself. It is checked here, before anything is sent, and a message never shows it
    /// (it holds the device's private key): it names the file, or which part is malformed.
    pub fn load(arg: &str) -> Result<KsmConfig, VaultError> {
        let path = Path::new(arg);
        let is_file = arg.len() < 4096 && path.is_file();
        if !is_file && token_host(arg).is_some() {
            return Ok(KsmConfig {
                source: Source::Token(SecretString::new(arg.trim())),
                path: None,
            });
        }
        if !is_file {
            if let Some(region) = unknown_token_region(arg) {
                return Err(VaultError::Config {
                    origin: "the one-time access token given to --ksm-config".into(),
                    what: format!(
                        "its region '{region}' is not one Keeper uses ({}, or their host names)",
                        token_regions().join(", ")
                    ),
                });
            }
            if shown_as_path(arg) {
                return Err(VaultError::Config {
                    origin: arg.to_string(),
                    what: "no such file".into(),
                });
            }
        }
        let (text, path, origin) = if is_file {
            let text = std::fs::read_to_string(path).map_err(|e| VaultError::Config {
                origin: path.display().to_string(),
                what: e.kind().to_string(),
            })?;
            (text, Some(path.to_path_buf()), path.display().to_string())
        } else {
            (
                arg.to_string(),
                None,
                "--ksm-config, not a file that exists, a one-time access token nor a config".into(),
            )
        };
        Ok(KsmConfig {
            source: Source::Bound(checked(text.trim(), &origin)?),
            path,
        })
    }

    /// The values of this config that no message may show: the whole text, and each secret value in it (the
    /// device's private key, the app key, the client id); or the token and its key.
    pub fn secret_parts(&self) -> Vec<String> {
        match &self.source {
            Source::Token(t) => {
                let t = t.expose();
                let mut parts = vec![t.to_string()];
                parts.extend(t.split(':').skip(1).map(str::to_string));
                parts
            }
            Source::Bound(text) => {
                let text = text.expose();
                let mut parts = vec![text.to_string()];
                let json = decode_base64(text)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_else(|| text.to_string());
                if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(&json) {
                    parts.extend(
                        o.iter()
                            .filter(|(k, _)| {
                                !matches!(k.as_str(), "hostname" | "serverPublicKeyId")
                            })
                            .filter_map(|(_, v)| v.as_str().map(str::to_string)),
                    );
                }
                parts
            }
        }
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

/// The region prefixes of a one-time access token, as the SDK's table names them.
fn token_regions() -> Vec<&'static str> {
    let mut regions: Vec<&'static str> = get_keeper_servers().keys().copied().collect();
    regions.sort_unstable();
    regions
}

/// The config text, once it has a config's shape and the SDK's parser has taken it. Neither message shows it.
fn checked(text: &str, origin: &str) -> Result<SecretString, VaultError> {
    let broken = |what: String| VaultError::Config {
        origin: origin.to_string(),
        what,
    };
    diagnose(text).map_err(broken)?;
    InMemoryKeyValueStorage::new(Some(text.to_string())).map_err(|e| {
        broken(scrub(
            &format!("Keeper's SDK does not take it ({e})"),
            &[text.to_string()],
        ))
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

    /// A private key's base64 (not a key, but shaped like one's text), and the start of it no message may show.
    const KEY: &str = "U2VjcmV0S2V5TWF0ZXJpYWwwMTIzNDU2Nzg5U2VjcmV0S2V5TWF0ZXJpYWw=";
    const KEY_START: &str = "U2VjcmV0S2V5TWF0";

    fn config_json(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> String {
        let mut c = serde_json::json!({
            "hostname": "keepersecurity.com",
            "clientId": "ClientIdValue0123456789",
            "privateKey": KEY,
            "appKey": "AppKeyValue0123456789",
        });
        edit(c.as_object_mut().expect("object"));
        c.to_string()
    }

    fn b64(text: &str) -> String {
        keeper_secrets_manager_core::utils::bytes_to_base64(text.as_bytes())
    }

    #[test]
    fn a_malformed_config_is_named_by_its_broken_part_and_never_shown() {
        let good = config_json(|_| {});
        assert_eq!(diagnose(&good), Ok(()));
        assert_eq!(diagnose(&b64(&good)), Ok(()), "base64 of it");
        assert_eq!(
            diagnose(b64(&good).trim_end_matches('=')),
            Ok(()),
            "without padding"
        );
        let cases: Vec<(String, &str)> = vec![
            (format!("{}.", b64(&good)), "is not base64"),
            (format!("'{good}'"), "character 1 of"),
            (
                good[..good.len() - 1].to_string(),
                "malformed at line 1, column",
            ),
            (b64("[1, 2]"), "not an object"),
            (b64("not json"), "malformed at line 1"),
            (
                config_json(|c| {
                    c.insert("privateKey".into(), serde_json::json!(["x"]));
                }),
                "its privateKey is not a string",
            ),
            (
                config_json(|c| {
                    c.remove("hostname");
                }),
                "it lacks hostname",
            ),
            (
                config_json(|c| {
                    c.insert("privateKey".into(), format!("{KEY}%").into());
                }),
                "its privateKey is not base64",
            ),
            (
                config_json(|c| {
                    c.insert("secret".into(), KEY.into());
                }),
                "a key no KSM config has: 'secret'",
            ),
            (
                config_json(|c| {
                    c.insert(format!("{KEY} as a key"), "x".into());
                }),
                "a key no KSM config has: that is not a name",
            ),
            (
                format!("{}\n{}", &b64(&good)[..40], &b64(&good)[40..]),
                "(a line break) is not base64",
            ),
            (
                b64(&good)[..b64(&good).len() / 4 * 4 - 3].to_string(),
                "not whole base64",
            ),
            (b64(&good[..good.len() - 10]), "malformed at line 1"),
            (
                b64(&good)[..b64(&good).len() - 6].to_string(),
                "does not decode",
            ),
            (String::new(), "malformed"),
        ];
        for (text, names) in cases {
            let why = diagnose(&text).expect_err(names);
            assert!(why.contains(names), "{names}: {why}");
            assert!(
                !why.contains(KEY_START) && !why.contains("ClientIdValue"),
                "{why}"
            );
            let err = KsmConfig::load(&text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(names), "{names}: {err}");
            assert!(!err.contains(KEY_START), "{err}");
        }
    }

    #[test]
    fn a_token_of_an_unknown_region_names_the_region_only() {
        let token = "keepersecurity.co:AbCdEfGhIjKlMnOpQrStUvWxYz012345";
        let err = KsmConfig::load(token).err().expect("refused").to_string();
        assert!(
            err.contains("'keepersecurity.co'") && err.contains("GOV"),
            "{err}"
        );
        assert!(!err.contains("AbCdEfGhIjKl"), "{err}");
        let err = KsmConfig::load("missing-ksm-config.json")
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("missing-ksm-config.json") && err.contains("no such file"),
            "{err}"
        );
        let err = KsmConfig::load("/etc/keeper/none.json")
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("/etc/keeper/none.json"), "{err}");
    }

    #[test]
    fn the_sdks_words_are_shown_without_the_configs_values() {
        let c = KsmConfig {
            source: Source::Bound(SecretString::new(b64(&config_json(|_| {})))),
            path: None,
        };
        let parts = c.secret_parts();
        let said = format!("bad key {KEY} for ClientIdValue0123456789 at keepersecurity.com");
        let shown = scrub(&said, &parts);
        assert_eq!(
            shown,
            "bad key <redacted> for <redacted> at keepersecurity.com"
        );
        let t = KsmConfig::load("US:AbCdEfGhIjKlMnOpQrStUvWxYz012345").expect("a token");
        assert_eq!(
            scrub(
                "token US:AbCdEfGhIjKlMnOpQrStUvWxYz012345 spent",
                &t.secret_parts()
            ),
            "token <redacted> spent"
        );
    }
}
