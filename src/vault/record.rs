//! The fields of a Keeper record the tool reads and writes: typed login, password and url, and custom text fields
//! by label, in the record JSON the Keeper vault shows (`fields`, `custom`).

use std::collections::{BTreeMap, HashMap};

use keeper_secrets_manager_core::Record;
use serde_json::{json, Value};

use crate::secret::SecretString;

/// One Keeper record as the tool reads it: never the whole `Record`.
pub struct RecordView {
    pub editable: bool,
    pub login: Option<String>,
    pub password: Option<SecretString>,
    pub url: Option<String>,
    /// Custom text fields by label.
    pub custom: BTreeMap<String, String>,
}

pub fn view(rec: &Record) -> RecordView {
    let d = &rec.record_dict;
    let typed = |t: &str| field(d, "fields", |f| f["type"] == json!(t));
    let mut custom = BTreeMap::new();
    if let Some(Value::Array(fs)) = d.get("custom") {
        for f in fs {
            if let (Some(l), Some(v)) = (f["label"].as_str(), f["value"][0].as_str()) {
                custom.insert(l.to_string(), v.to_string());
            }
        }
    }
    RecordView {
        editable: rec.is_editable,
        login: typed("login"),
        password: typed("password").map(SecretString::new),
        url: typed("url"),
        custom,
    }
}

fn field(
    d: &HashMap<String, Value>,
    section: &str,
    pick: impl Fn(&Value) -> bool,
) -> Option<String> {
    match d.get(section) {
        Some(Value::Array(fs)) => fs
            .iter()
            .find(|f| pick(f))
            .and_then(|f| f["value"][0].as_str())
            .map(str::to_string),
        _ => None,
    }
}

fn set_in(
    d: &mut HashMap<String, Value>,
    section: &str,
    pick: impl Fn(&Value) -> bool,
    new: Value,
) {
    let fs = d
        .entry(section.to_string())
        .or_insert_with(|| Value::Array(vec![]));
    if !fs.is_array() {
        *fs = Value::Array(vec![]);
    }
    if let Value::Array(fs) = fs {
        match fs.iter_mut().find(|f| pick(f)) {
            Some(f) => f["value"] = new["value"].clone(),
            None => fs.push(new),
        }
    }
}

/// A typed field (`login`, `password`, `url`): the first of its type, added when the record type lacks it.
pub fn set_typed(d: &mut HashMap<String, Value>, kind: &str, value: &str) {
    set_in(
        d,
        "fields",
        |f| f["type"] == json!(kind),
        json!({"type": kind, "value": [value]}),
    );
}

/// A custom text field by label, added when absent.
pub fn set_custom(d: &mut HashMap<String, Value>, label: &str, value: &str) {
    set_in(
        d,
        "custom",
        |f| f["label"] == json!(label),
        json!({"type": "text", "label": label, "value": [value]}),
    );
}
