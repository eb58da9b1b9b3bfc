//! Azure RBAC: the role definitions known with their actions, role assignments (list, get, put, delete), what a
//! caller may do (`permitted`, the permissions API) and `has_role`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::faults::FaultAction;
use super::{lc, Req, World};
use crate::reply::{arm_err, now_iso, Reply};
use crate::schema;

/// The role assignments of the tenant, at every scope.
#[derive(Debug, Default)]
pub struct RbacState {
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: String,
    pub scope: String,
    pub role: String,
    pub principal: String,
    pub principal_type: Option<String>,
    pub created: Instant,
}

impl RbacState {
    /// Forgets the assignments at the scope `key` (a lower-case resource id) or under it: deleting a resource
    /// deletes the role assignments scoped to it.
    pub(super) fn remove_at_or_under(&mut self, key: &str) {
        let prefix = format!("{key}/");
        self.assignments
            .retain(|a| !(lc(&a.scope) == key || lc(&a.scope).starts_with(&prefix)));
    }
}

// Built-in role definition GUIDs, the same in every cloud. Source: "Azure built-in roles",
// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
pub const MONITORING_METRICS_PUBLISHER: &str = "3913510d-42f4-4e42-8a64-420c390055eb";

/// The action that writing a role assignment needs (403 `AuthorizationFailed` without it).
pub const ROLE_ASSIGNMENT_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";
const ROLE_ASSIGNMENT_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

/// A built-in role definition: its GUID, its `actions` and its `notActions`.
struct RoleDef {
    guid: &'static str,
    actions: &'static [&'static str],
    not_actions: &'static [&'static str],
}

/// The role definitions a role assignment may name (any other is `RoleDefinitionDoesNotExist`), with their
/// control-plane permissions as "Azure built-in roles" lists them
/// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). Owner, Contributor, User Access
/// Administrator and Role Based Access Control Administrator are complete (RBAC Administrator's condition on which
/// roles it may assign is not modelled); the monitoring and Log Analytics roles are abridged to the actions that
/// matter here (`*/read` and their own provider's).
const ROLES: &[RoleDef] = &[
    RoleDef {
        guid: OWNER,
        actions: &["*"],
        not_actions: &[],
    },
    RoleDef {
        guid: CONTRIBUTOR,
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
            "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            "Microsoft.Subscription/cancel/action",
            "Microsoft.Subscription/enable/action",
        ],
    },
    RoleDef {
        // User Access Administrator
        guid: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        actions: &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        not_actions: &[],
    },
    RoleDef {
        // Role Based Access Control Administrator
        guid: "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
        actions: &[
            ROLE_ASSIGNMENT_WRITE,
            ROLE_ASSIGNMENT_DELETE,
            "*/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    RoleDef {
        // Log Analytics Contributor (abridged)
        guid: "92aaf0da-9dab-42b6-94a3-d43ce8d16293",
        actions: &[
            "*/read",
            "Microsoft.OperationalInsights/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    RoleDef {
        guid: MONITORING_METRICS_PUBLISHER,
        actions: &[
            "Microsoft.Insights/Register/Action",
            "Microsoft.Support/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
    },
    RoleDef {
        // Monitoring Contributor (abridged)
        guid: "749f88d5-cbae-40b8-bcfc-e573ddc772fa",
        actions: &["*/read", "Microsoft.Insights/*", "Microsoft.Support/*"],
        not_actions: &[],
    },
    RoleDef {
        // Monitoring Reader
        guid: "43d0d8ad-25c7-4714-9337-8ba259a9fe05",
        actions: &[
            "*/read",
            "Microsoft.OperationalInsights/workspaces/search/action",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    RoleDef {
        // Log Analytics Reader
        guid: "73c42c96-874c-492b-b04d-ab87d138a893",
        actions: &[
            "*/read",
            "Microsoft.OperationalInsights/workspaces/analytics/query/action",
            "Microsoft.OperationalInsights/workspaces/search/action",
            "Microsoft.Support/*",
        ],
        not_actions: &["Microsoft.OperationalInsights/workspaces/sharedKeys/read"],
    },
];

fn role_def(guid: &str) -> Option<&'static RoleDef> {
    ROLES.iter().find(|r| r.guid.eq_ignore_ascii_case(guid))
}

/// Whether an action pattern (`*` matches any run of characters, `/` included) covers `action`, without case.
fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (lc(pattern), lc(action));
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == a;
    }
    let mut rest = a.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

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
        self.rbac.assignments.iter().any(|a| {
            a.principal == principal
                && roles.contains(&a.role.as_str())
                && (scope == lc(&a.scope) || scope.starts_with(&format!("{}/", lc(&a.scope))))
                && now >= a.created + effective_after
        })
    }

    /// Whether `principal` holds some role at `scope` or above it, assigned at least `effective_after` ago.
    pub(super) fn has_any_role(
        &self,
        principal: &str,
        scope: &str,
        effective_after: Duration,
    ) -> bool {
        let now = self.now();
        self.assignments_over(principal, scope)
            .iter()
            .any(|a| now >= a.created + effective_after)
    }

    /// The caller's role assignments at `scope` or above it.
    fn assignments_over(&self, principal: &str, scope: &str) -> Vec<&Assignment> {
        let scope = lc(scope);
        self.rbac
            .assignments
            .iter()
            .filter(|a| {
                a.principal == principal
                    && (scope == lc(&a.scope) || scope.starts_with(&format!("{}/", lc(&a.scope))))
            })
            .collect()
    }

    /// Gives the operator exactly `roles` on its subscription, assigned at `at` (seeding, and tests where an
    /// operator's roles change between runs); its assignments at other scopes stay.
    pub fn set_operator_roles(&mut self, roles: &[crate::api::SimRole], at: Instant) {
        let (sub, principal) = (
            format!("/subscriptions/{}", self.operator.subscription_id),
            self.operator.object_id.clone(),
        );
        self.rbac
            .assignments
            .retain(|a| !(a.principal == principal && lc(&a.scope) == lc(&sub)));
        for role in roles {
            self.rbac.assignments.push(Assignment {
                id: format!(
                    "{sub}/providers/Microsoft.Authorization/roleAssignments/{}",
                    uuid::Uuid::new_v4()
                ),
                scope: sub.clone(),
                role: role.guid().into(),
                principal: principal.clone(),
                principal_type: Some("ServicePrincipal".into()),
                created: at,
            });
        }
    }

    /// Whether `principal` may do `action` at `scope`: some role assigned at or above it has the action among its
    /// `actions` and not among its `notActions`.
    pub(super) fn permitted(&self, principal: &str, scope: &str, action: &str) -> bool {
        self.assignments_over(principal, scope).iter().any(|a| {
            role_def(&a.role).is_some_and(|d| {
                d.actions.iter().any(|p| action_matches(p, action))
                    && !d.not_actions.iter().any(|p| action_matches(p, action))
            })
        })
    }

    /// `GET {scope}/providers/Microsoft.Authorization/permissions` (api-version 2022-04-01): one entry per role the
    /// caller holds at or above the scope, with its actions and notActions (`PermissionGetResult`,
    /// authorization-RoleDefinitionsCalls.json, Azure/azure-rest-api-specs). A resource group or resource that does
    /// not exist is 404, as ARM answers for any path under it.
    pub(super) fn permissions(&self, req: &Req, principal: &str, scope: &str) -> Reply {
        if req.method != "GET" {
            return arm_err(405, "MethodNotAllowed", "The method is not allowed.");
        }
        let sub = World::sub_of(scope).unwrap_or_default();
        let is_sub = lc(scope) == lc(&format!("/subscriptions/{sub}"));
        if !is_sub && !self.resources.contains_key(&lc(scope)) {
            let rg_path = lc(scope)
                .split("/providers/")
                .next()
                .unwrap_or_default()
                .to_string();
            if !self.resources.contains_key(&rg_path) {
                let rg = scope.split('/').nth(4).unwrap_or_default();
                return arm_err(
                    404,
                    "ResourceGroupNotFound",
                    format!("Resource group '{rg}' could not be found."),
                );
            }
            return arm_err(
                404,
                "ResourceNotFound",
                format!("The resource '{scope}' was not found."),
            );
        }
        let v: Vec<Value> = self
            .assignments_over(principal, scope)
            .iter()
            .filter_map(|a| role_def(&a.role))
            .map(|d| json!({ "actions": d.actions, "notActions": d.not_actions, "dataActions": [], "notDataActions": [] }))
            .collect();
        Reply::json(200, json!({ "value": v }))
    }

    /// 403 `AuthorizationFailed`, worded as ARM words it (seen in many public issue threads, e.g.
    /// pulumi/pulumi-azure#595 and Azure/terraform-azurerm-avm-res-keyvault-vault#110).
    pub(super) fn authorization_failed(
        &self,
        principal: &str,
        action: &str,
        target: &str,
    ) -> Reply {
        let client = self
            .graph
            .sp_app_id(principal)
            .unwrap_or(principal)
            .to_string();
        arm_err(
            403,
            "AuthorizationFailed",
            format!("The client '{client}' with object id '{principal}' does not have authorization to perform action '{action}' over scope '{target}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
        )
    }

    pub(super) fn role_assignment(
        &mut self,
        req: &Req,
        caller: &str,
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
                .rbac
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
            "GET" => match self.rbac.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                Some(a) => Reply::json(200, self.assignment_json(a)),
                None => arm_err(
                    404,
                    "RoleAssignmentNotFound",
                    format!("The role assignment '{name}' is not found."),
                ),
            },
            "DELETE" if !self.permitted(caller, scope, ROLE_ASSIGNMENT_DELETE) => {
                self.authorization_failed(caller, ROLE_ASSIGNMENT_DELETE, &id)
            }
            "PUT" if !self.permitted(caller, scope, ROLE_ASSIGNMENT_WRITE) => {
                // ARM authorizes the caller before the body is looked at.
                self.authorization_failed(caller, ROLE_ASSIGNMENT_WRITE, &id)
            }
            "DELETE" => match self
                .rbac
                .assignments
                .iter()
                .position(|a| lc(&a.id) == lc(&id))
            {
                Some(i) => {
                    let a = self.rbac.assignments.remove(i);
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
                let role_def_id = p["roleDefinitionId"].as_str().unwrap_or_default();
                let role = role_def_id
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let sub = World::sub_of(scope).unwrap_or_default();
                if !lc(role_def_id).starts_with(&lc(&format!(
                    "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                ))) || role_def(&role).is_none()
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
                    .graph
                    .replication_delay(&principal)
                    .unwrap_or(self.cfg.sp_replication_delay);
                let delay = if ptype.is_some() { own / 2 } else { own };
                let replicated = self
                    .graph
                    .sp_created_at(&principal)
                    .is_some_and(|c| self.now() >= c + delay);
                if !replicated {
                    return arm_err(400, "PrincipalNotFound", format!("Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, and retry the assignment.", principal.replace('-', ""), self.tenant));
                }
                if let Some(a) = self.rbac.assignments.iter().find(|a| lc(&a.id) == lc(&id)) {
                    if a.principal == principal && a.role == role {
                        return Reply::json(201, self.assignment_json(a));
                    }
                    return arm_err(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.");
                }
                if self
                    .rbac
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
                self.rbac.assignments.push(a);
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
