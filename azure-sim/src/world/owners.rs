//! Microsoft Graph: owners of applications (`/applications/{id}/owners`), the directory users that can own one,
//! and apps made behind the tool's back by someone else (what a test needs to play a tenant member who
//! pre-registered an app under the tool's name).
//!
//! Sources: "Add owner" (POST /applications/{id}/owners/$ref, 204; owners may be users or service principals),
//! https://learn.microsoft.com/graph/api/application-post-owners ; "List owners" (GET /applications/{id}/owners,
//! directoryObjects with their `@odata.type`), https://learn.microsoft.com/graph/api/application-list-owners ;
//! an app created by a service principal is owned by it: Application.ReadWrite.OwnedBy is "Manage apps that this
//! app creates or owns" (https://learn.microsoft.com/graph/permissions-reference), and a user who registers an app
//! becomes its owner (https://learn.microsoft.com/entra/identity-platform/howto-create-service-principal-portal).

use serde_json::{json, Value};

use super::World;
use crate::reply::{graph_err, now_iso, Reply};

/// An app registration someone else made (`Sim::create_foreign_app`).
#[derive(Debug, Clone)]
pub struct ForeignApp {
    /// The application's object id.
    pub object_id: String,
    /// The application (client) id.
    pub app_id: String,
    /// The user who owns it.
    pub owner_id: String,
    pub owner_upn: String,
}

impl World {
    /// The directory object (a user or a service principal) with this id, as Graph lists it among owners.
    fn directory_object(&self, id: &str) -> Option<Value> {
        if let Some(u) = self.graph.users.iter().find(|u| u["id"] == id) {
            let mut u = u.clone();
            u["@odata.type"] = json!("#microsoft.graph.user");
            return Some(u);
        }
        self.graph.sps.iter().find(|s| s["id"] == id).map(|s| {
            json!({
                "@odata.type": "#microsoft.graph.servicePrincipal", "id": s["id"], "appId": s["appId"],
                "displayName": s["displayName"], "servicePrincipalType": s["servicePrincipalType"],
            })
        })
    }

    /// Records the creator of a new app as its owner, as Graph does for users and service principals alike
    /// (unless a test turned that off to see the tool add itself).
    pub(super) fn creator_owns(&mut self, app_object_id: &str, caller: &str) {
        if self.graph.creator_becomes_owner {
            self.graph
                .owners
                .entry(app_object_id.to_string())
                .or_default()
                .push(caller.to_string());
        }
    }

    /// `GET`, `POST $ref` and `DELETE {id}/$ref` under `/applications/{id}/owners`; `None` for any other path.
    pub(super) fn owners_route(
        &mut self,
        method: &str,
        segs: &[&str],
        body: &Value,
    ) -> Option<Reply> {
        let (app, rest) = match segs {
            ["applications", app, "owners", rest @ ..] => (app.to_string(), rest),
            _ => return None,
        };
        if !self.graph.apps.iter().any(|a| a["id"] == app.as_str()) {
            return Some(graph_err(
                404,
                "Request_ResourceNotFound",
                format!("Resource '{app}' does not exist or one of its queried reference-property objects are not present."),
            ));
        }
        Some(match (method, rest) {
            ("GET", []) => {
                let ids = self.graph.owners.get(&app).cloned().unwrap_or_default();
                let list: Vec<Value> = ids
                    .iter()
                    .filter_map(|id| self.directory_object(id))
                    .collect();
                Reply::json(200, json!({ "value": list }))
            }
            ("POST", ["$ref"]) => {
                let id = body["@odata.id"]
                    .as_str()
                    .and_then(|u| u.rsplit('/').next())
                    .unwrap_or_default()
                    .to_string();
                if self.directory_object(&id).is_none() {
                    return Some(graph_err(
                        404,
                        "Request_ResourceNotFound",
                        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
                    ));
                }
                let owners = self.graph.owners.entry(app).or_default();
                if owners.contains(&id) {
                    return Some(graph_err(
                        400,
                        "Request_BadRequest",
                        "One or more added object references already exist for the following modified properties: 'owners'.",
                    ));
                }
                owners.push(id);
                Reply::empty(204)
            }
            ("DELETE", [id, "$ref"]) => {
                let owners = self.graph.owners.entry(app).or_default();
                let before = owners.len();
                owners.retain(|o| o != id);
                if owners.len() == before {
                    graph_err(
                        404,
                        "Request_ResourceNotFound",
                        format!("Resource '{id}' does not exist."),
                    )
                } else {
                    Reply::empty(204)
                }
            }
            _ => graph_err(405, "Request_BadRequest", "Method not allowed on owners."),
        })
    }

    /// An app registration made by another member of the tenant (a new user, its only owner), with one client
    /// secret and the given display name and tags, as if registered in the portal.
    pub fn create_foreign_app(&mut self, display_name: &str, tags: &[&str]) -> ForeignApp {
        let (object_id, app_id, user, key) = (self.uuid(), self.uuid(), self.uuid(), self.uuid());
        let upn = format!("member-{}@sim.onmicrosoft.com", &user[..8]);
        self.graph
            .users
            .push(json!({ "id": user, "displayName": "Another Member", "userPrincipalName": upn }));
        self.graph.apps.push(json!({
            "id": object_id, "appId": app_id, "displayName": display_name, "signInAudience": "AzureADMyOrg",
            "identifierUris": [], "tags": tags, "createdDateTime": now_iso(), "publisherDomain": "sim.onmicrosoft.com",
            "passwordCredentials": [{ "customKeyIdentifier": null, "displayName": "their secret", "endDateTime": "2099-01-01T00:00:00Z",
                "hint": "xyz", "keyId": key, "secretText": null, "startDateTime": now_iso() }],
        }));
        self.graph
            .owners
            .insert(object_id.clone(), vec![user.clone()]);
        ForeignApp {
            object_id,
            app_id,
            owner_id: user,
            owner_upn: upn,
        }
    }

    /// The same, registered a moment ago: Graph does not show it (to reads or lists) for `replicating` of the
    /// simulator's clock, as for every new directory object (the read-after-create lag of graph.rs).
    pub fn create_foreign_app_replicating(
        &mut self,
        display_name: &str,
        tags: &[&str],
        replicating: std::time::Duration,
    ) -> ForeignApp {
        let app = self.create_foreign_app(display_name, tags);
        let visible_at = self.now() + replicating;
        self.graph
            .graph_visible_at
            .insert(app.object_id.clone(), visible_at);
        app
    }
}
