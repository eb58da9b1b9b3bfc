//! Helpers of the Keeper vault tests (issue 14): a world with a record shared with the fake KSM application, and
//! the record's fields as the vault holds them.

use serde_json::Value;

use super::World;

/// A world with one record shared with the KSM application (`editable`: Can Edit), and the config file for it.
pub async fn keeper_world(editable: bool) -> (World, String, String) {
    let w = World::public().await;
    let uid = w.sim.keeper_add_record("Azure Monitor Logs", editable);
    let config = w.dir.path().join("ksm-config.txt");
    std::fs::write(&config, w.sim.keeper_config()).expect("config written");
    (w, uid, config.display().to_string())
}

/// A field of the record as the vault holds it: a typed one by type, a custom one by label.
pub fn field(record: &Value, section: &str, key: &str, name: &str) -> Option<String> {
    record[section]
        .as_array()?
        .iter()
        .find(|f| f[key] == name)
        .and_then(|f| f["value"][0].as_str())
        .map(str::to_string)
}

/// The record's password (the client secret's value).
pub fn password(w: &World, uid: &str) -> String {
    let rec = w.sim.keeper_record(uid).expect("the record");
    field(&rec, "fields", "type", "password").expect("a password")
}
