//! Azure RBAC: the role definitions known, role assignments (list, get, put, delete) and `has_role`.

use std::time::Duration;

use serde_json::{json, Value};

use super::faults::FaultAction;
use super::{lc, Assignment, Req, World};
use crate::reply::{arm_err, now_iso, Reply};
use crate::schema;

// Built-in role definition GUIDs, the same in every cloud. Source: "Azure built-in roles",
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
/// The role definitions a role assignment may name; any other is `RoleDefinitionDoesNotExist`.
const KNOWN_ROLES: &[&str] = &[
    OWNER,
    CONTRIBUTOR,
    "92aaf0da-9dab-42b6-94a3-d43ce8d16293", // Log Analytics Contributor
    MONITORING_METRICS_PUBLISHER,
    "749f88d5-cbae-40b8-bcfc-e573ddc772fa", // Monitoring Contributor
    "43d0d8ad-25c7-4714-9337-8ba259a9fe05", // Monitoring Reader
    "73c42c96-874c-492b-b04d-ab87d138a893", // Log Analytics Reader
];

impl World {
    pub(super) fn has_role(
        &self,
        principal: &str,
        scope: &str,
        roles: &[&str],
        effective_after: Duration,
    ) -> bool {
        let scope = lc(scope);
        let now = self.now();
        self.assignments.iter().any(|a| {
            a.principal == principal
                && roles.contains(&a.role.as_str())
                && (scope == lc(&a.scope) || scope.starts_with(&format!("{}/", lc(&a.scope))))
                && now >= a.created + effective_after
        })
    }

    pub(super) fn role_assignment(
        &mut self,
        req: &Req,
        scope: &str,
        name: &str,
        fault: &FaultAction,
    ) -> Reply {
        let _ = fault;
        let lscope = lc(scope);
        if name.is_empty() {
            if req.method != "GET" {
                return arm_err(405, "MethodNotAllowed", "The method is not allowed.");
            }
            let filter = req.query.get("$filter").cloned().unwrap_or_default();
            let principal = filter
                .strip_prefix("principalId eq '")
                .map(|p| p.trim_end_matches('\'').to_string());
            let at_scope = filter.trim() == "atScope()";
            let v: Vec<Value> = self
                .assignments
                .iter()
                .filter(|a| {
                    let s = lc(&a.scope);
                    let related = if at_scope {
                        lscope == s || lscope.starts_with(&format!("{s}/"))
                    } else {
                        lscope == s
                            || lscope.starts_with(&format!("{s}/"))
                            || s.starts_with(&format!("{lscope}/"))
                    };
                    related && principal.as_ref().is_none_or(|p| &a.principal == p)
                })
                .map(|a| self.assignment_json(a))
                .collect();
            return self.page(req, v, "nextLink");
        }
        let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        match req.method.as_str() {
            "GET" => match self.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                Some(a) => Reply::json(200, self.assignment_json(a)),
                None => arm_err(
                    404,
                    "RoleAssignmentNotFound",
                    format!("The role assignment '{name}' is not found."),
                ),
            },
            "DELETE" => match self.assignments.iter().position(|a| lc(&a.id) == lc(&id)) {
                Some(i) => {
                    let a = self.assignments.remove(i);
                    Reply::json(200, self.assignment_json(&a))
                }
                None => Reply::empty(204),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                if let Err(r) = self.validate(
                    schema::ROLES,
                    "RoleAssignmentCreateParameters",
                    &body,
                    "InvalidRequestContent",
                ) {
                    return r;
                }
                if uuid::Uuid::parse_str(name).is_err() {
                    return arm_err(400, "InvalidRoleAssignmentId", format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."));
                }
                let p = &body["properties"];
                let role_def = p["roleDefinitionId"].as_str().unwrap_or_default();
                let role = role_def
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let sub = World::sub_of(scope).unwrap_or_default();
                if !lc(role_def).starts_with(&lc(&format!(
                    "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                ))) || !KNOWN_ROLES.contains(&role.as_str())
                {
                    return arm_err(
                        400,
                        "RoleDefinitionDoesNotExist",
                        format!("The specified role definition with ID '{role}' does not exist."),
                    );
                }
                let scope_exists = lscope == lc(&format!("/subscriptions/{sub}"))
                    || self.resources.contains_key(&lscope);
                if !scope_exists {
                    return arm_err(
                        404,
                        "ResourceNotFound",
                        format!("The scope '{scope}' does not exist."),
                    );
                }
                let principal = p["principalId"].as_str().unwrap_or_default().to_string();
                let ptype = p["principalType"].as_str().map(str::to_string);
                let own = self
                    .sp_delay
                    .get(&principal)
                    .copied()
                    .unwrap_or(self.cfg.sp_replication_delay);
                let delay = if ptype.is_some() { own / 2 } else { own };
                let replicated = self
                    .sp_created
                    .get(&principal)
                    .is_some_and(|c| self.now() >= *c + delay);
                if !replicated {
                    return arm_err(400, "PrincipalNotFound", format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, and retry the assignment.", principal.replace('-', ""), self.tenant));
                }
                if let Some(a) = self.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                    if a.principal == principal && a.role == role {
                        return Reply::json(201, self.assignment_json(a));
                    }
                    return arm_err(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
                }
                if self
                    .assignments
                    .iter()
                    .any(|a| lc(&a.scope) == lscope && a.role == role && a.principal == principal)
                {
                    return arm_err(
                        409,
                        "RoleAssignmentExists",
                        "The role assignment already exists.",
                    );
                }
                let a = Assignment {
                    id: id.clone(),
                    scope: scope.to_string(),
                    role,
                    principal,
                    principal_type: ptype,
                    created: self.now(),
                };
                let j = self.assignment_json(&a);
                self.assignments.push(a);
                Reply::json(201, j)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    fn assignment_json(&self, a: &Assignment) -> Value {
        let sub = World::sub_of(&a.scope).unwrap_or_default();
        json!({
            "id": a.id, "name": a.id.rsplit('/').next(), "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}", a.role),
                "principalId": a.principal, "principalType": a.principal_type.clone().unwrap_or_else(|| "ServicePrincipal".into()),
                "scope": a.scope, "createdOn": now_iso(), "updatedOn": now_iso()
            }
        })
    }
}
