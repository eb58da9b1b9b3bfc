//! Service principal sign-in logs: Entra's tenant diagnostic setting (`/providers/microsoft.aadiam/diagnosticSettings`,
//! api-version 2017-04-01, category `ServicePrincipalSignInLogs`) and the rows of `AADServicePrincipalSignInLogs`
//! the token endpoint writes, through it, for each client-credentials sign-in (`entra.rs`).
//!
//! Source of the table and its columns: shared/reference/day-two-facts.md ("Service principal sign-in logs"), from
//! the Azure Monitor table reference "AADServicePrincipalSignInLogs"
//! (learn.microsoft.com/azure/azure-monitor/reference/tables/aadserviceprincipalsigninlogs). The setting needs the
//! Security Administrator role and Entra ID P1/P2 in Azure; the simulator takes it from any ARM caller.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{lc, Aud, Req, World};
use crate::reply::{arm_err, Reply};

/// The one api-version of Entra's diagnostic settings (day-two facts).
const API_VERSION: &str = "2017-04-01";

/// The category that sends service principal sign-ins.
const CATEGORY: &str = "ServicePrincipalSignInLogs";

/// The columns the simulator writes (a subset of the table's).
const COLUMNS: &[(&str, &str)] = &[
    ("TimeGenerated", "datetime"),
    ("Id", "string"),
    ("AppId", "string"),
    ("ServicePrincipalId", "string"),
    ("ServicePrincipalName", "string"),
    ("ServicePrincipalCredentialKeyId", "string"),
    ("ServicePrincipalCredentialThumbprint", "string"),
    ("ResultType", "string"),
    ("ResultDescription", "string"),
    ("ResourceIdentity", "string"),
    ("IPAddress", "string"),
    ("Category", "string"),
    ("TenantId", "string"),
    ("Type", "string"),
];

/// Where sign-ins go.
#[derive(Debug, Default)]
pub struct SignInsState {
    /// Workspaces (resource ids) named by `Sim::export_sign_in_logs`.
    exports: Vec<String>,
    /// Entra's tenant diagnostic settings by lower-case name.
    settings: BTreeMap<String, Value>,
}

impl SignInsState {
    /// Every workspace that gets sign-in rows: those a test named, and those of settings with the category on.
    fn targets(&self) -> Vec<String> {
        let mut out = self.exports.clone();
        for s in self.settings.values() {
            let on = s
                .pointer("/properties/logs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|l| l["category"] == CATEGORY && l["enabled"] == true);
            if let Some(ws) = s
                .pointer("/properties/workspaceId")
                .and_then(Value::as_str)
                .filter(|_| on)
            {
                out.push(ws.to_string());
            }
        }
        out.sort_by_key(|w| lc(w));
        out.dedup_by_key(|w| lc(w));
        out
    }
}

impl World {
    /// From now on, sign-ins are written to the workspace `workspace_id` (a resource id), as the tenant's Entra
    /// diagnostic setting with `ServicePrincipalSignInLogs` would send them.
    pub fn export_sign_in_logs(&mut self, workspace_id: &str) {
        self.signins.exports.push(workspace_id.to_string());
    }

    /// One client-credentials sign-in of the service principal `sp` into `aud`: a row for each workspace sign-ins
    /// go to. `key_id` is the Graph `passwordCredentials[].keyId` of the secret that matched: the table's
    /// `ServicePrincipalCredentialKeyId` is the "key id of the service principal that initiated the sign-in", and
    /// that it is this key id is what Graph's description of `keyId` implies, not something Microsoft states
    /// outright (day-two facts, "Unconfirmed"). `None` for a failed sign-in, the operator's own secret (no Graph
    /// credential here) or a federated assertion. The thumbprint is empty: it is a certificate's. `result` is
    /// (ResultType, ResultDescription): "0" on success, the AADSTS number otherwise (`7000215` for a wrong secret).
    /// `ResourceIdentity` is the resource's application id where the simulator knows it (Azure Resource Manager
    /// `797f4846-ba00-4fd7-ba43-dac1f8f63013`, Microsoft Graph `00000003-0000-0000-c000-000000000000`), else the
    /// audience's URI (an approximation: Azure writes an application id). `IPAddress` is loopback.
    pub(super) fn record_sign_in(
        &mut self,
        sp: &Value,
        key_id: Option<&str>,
        result: (&str, &str),
        aud: Aud,
    ) {
        let targets = self.signins.targets();
        if targets.is_empty() {
            return;
        }
        let resource = match aud {
            Aud::Arm => "797f4846-ba00-4fd7-ba43-dac1f8f63013".to_string(),
            Aud::Graph => "00000003-0000-0000-c000-000000000000".to_string(),
            other => self.audience_uri(other).trim_end_matches('/').to_string(),
        };
        let mut row = Map::new();
        row.insert("TimeGenerated".into(), json!(self.wall_iso()));
        row.insert("Id".into(), json!(self.uuid()));
        row.insert("AppId".into(), sp["appId"].clone());
        row.insert("ServicePrincipalId".into(), sp["id"].clone());
        row.insert("ServicePrincipalName".into(), sp["displayName"].clone());
        row.insert(
            "ServicePrincipalCredentialKeyId".into(),
            json!(key_id.unwrap_or_default()),
        );
        row.insert("ServicePrincipalCredentialThumbprint".into(), json!(""));
        row.insert("ResultType".into(), json!(result.0));
        row.insert("ResultDescription".into(), json!(result.1));
        row.insert("ResourceIdentity".into(), json!(resource));
        row.insert("IPAddress".into(), json!("127.0.0.1"));
        row.insert("Category".into(), json!(CATEGORY));
        for ws in targets {
            self.append_built_in_rows(
                &ws,
                "AADServicePrincipalSignInLogs",
                COLUMNS,
                vec![row.clone()],
            );
        }
    }

    /// `/providers/microsoft.aadiam/diagnosticSettings[/{name}]?api-version=2017-04-01` on the ARM host, with an ARM
    /// token: PUT (200, the setting), GET (one, or `{"value": [...]}`), DELETE (200, 204 when absent). The body is
    /// taken as it comes (`properties.workspaceId`, `properties.logs[]` of `{category, enabled}`); a setting whose
    /// logs enable `ServicePrincipalSignInLogs` sends sign-ins to its workspace.
    pub fn aadiam_diagnostic_setting(&mut self, req: &Req, name: Option<&str>) -> Reply {
        self.tick();
        if let Err(r) = self.principal(req, Aud::Arm) {
            return r;
        }
        if req.query.get("api-version").map(String::as_str) != Some(API_VERSION) {
            return arm_err(
                400,
                "InvalidApiVersionParameter",
                format!(
                    "The api-version is invalid for {}. The supported version is '{API_VERSION}'.",
                    req.path
                ),
            );
        }
        let Some(name) = name else {
            return match req.method.as_str() {
                "GET" => Reply::json(
                    200,
                    json!({ "value": self.signins.settings.values().cloned().collect::<Vec<_>>() }),
                ),
                _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
            };
        };
        let key = lc(name);
        match req.method.as_str() {
            "GET" => match self.signins.settings.get(&key) {
                Some(s) => Reply::json(200, s.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!("The diagnostic setting '{name}' doesn't exist."),
                ),
            },
            "DELETE" => match self.signins.settings.remove(&key) {
                Some(_) => Reply::empty(200),
                None => Reply::empty(204),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if !body["properties"].is_object() {
                    return arm_err(
                        400,
                        "BadRequest",
                        "The request content was invalid: properties is required.",
                    );
                }
                let sb = json!({
                    "id": format!("/providers/microsoft.aadiam/diagnosticSettings/{name}"), "name": name,
                    "type": "microsoft.aadiam/diagnosticSettings", "properties": body["properties"],
                });
                self.signins.settings.insert(key, sb.clone());
                Reply::json(200, sb)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }
}
