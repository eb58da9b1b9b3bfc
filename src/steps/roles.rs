//! Guide steps 4, 7 and 8: the app's role assignments on the workspace, the DCR and the DCE (`--roles`).

use std::collections::HashMap;

use futures::future::BoxFuture;

use crate::azure::graph::ServicePrincipal;
use crate::azure::name_of;
use crate::azure::roles::{self, Assignment, Role};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::state::{RoleRecord, State};

use super::kind::{self, Arm, Deleted, Deleting, Discovery, Fate, Item, Keeping, KindId};
use super::{Action, Ctx, Inputs, Key, Observed, Plan, PlannedStep, Scope};

/// The role assignments, one instance per (scope, role).
pub struct Assignments;

/// The wanted assignments that exist already, by (scope, role). `assigned` is the principal's list when the
/// first wave already read it.
pub async fn observe(
    rest: &Rest,
    inputs: &Inputs,
    principal: &str,
    assigned: Option<Vec<Assignment>>,
) -> Result<HashMap<(Scope, Role), String>> {
    let assigned = match assigned {
        Some(a) => a,
        None => roles::list_for_principal(rest, &inputs.subscription, principal).await?,
    };
    let mut found = HashMap::new();
    for (s, r) in inputs.roles.assignments() {
        let scope = inputs.scope_id(s);
        if let Some(a) = assigned.iter().find(|a| a.is(&scope, r)) {
            found.insert((s, r), a.id.clone());
        }
    }
    Ok(found)
}

fn label(inputs: &Inputs, scope: Scope, role: Role) -> String {
    format!(
        "{} on {}",
        role.display_name(),
        name_of(&inputs.scope_id(scope))
    )
}

/// Assigns `role` at `scope` to the principal unless found, waiting for a new principal to replicate.
async fn ensure(ctx: &Ctx, scope: Scope, role: Role, found: Option<String>) -> Result<String> {
    let principal = &ctx.made.get::<ServicePrincipal>()?.id;
    let i = &ctx.inputs;
    let scope_id = i.scope_id(scope);
    let name = Key::Role(scope, role).to_string();
    let ours = roles::assignment_name(&scope_id, role, principal);
    // When it was made: Azure may refuse what it grants for up to an hour after (azure::roles::PROPAGATES_WITHIN).
    let (id, created, made_now) = match found {
        // An assignment under the name this tool derives was made by this tool, perhaps by a run cut off after it.
        Some(id) => {
            let created = name_of(&id).eq_ignore_ascii_case(&ours);
            (id, created, None)
        }
        None => {
            let id = roles::create(
                &ctx.rest,
                &i.subscription,
                &scope_id,
                role,
                principal,
                ctx.replication_wait,
                || {
                    ctx.reporter
                        .waiting(&name, "waiting for the new service principal to replicate")
                },
            )
            .await?;
            (id, true, Some(crate::clock::now_rfc3339_seconds()))
        }
    };
    ctx.record(|s| {
        let recorded = s
            .role_assignments
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(&id));
        let created = created || recorded.is_some_and(|r| r.created);
        // A re-run keeps the time of the assignment an earlier run made.
        let assigned_at = made_now.or_else(|| recorded.and_then(|r| r.assigned_at.clone()));
        s.role_assignments
            .retain(|r| !(r.role == role && r.on == scope.key()));
        s.role_assignments.push(RoleRecord {
            id: id.clone(),
            role,
            on: scope.key().to_string(),
            created,
            assigned_at,
        });
    })?;
    Ok(label(i, scope, role))
}

impl kind::Resource for Assignments {
    fn kind(&self) -> KindId {
        KindId::Role
    }

    fn wanted(&self, inputs: &Inputs) -> Vec<Key> {
        inputs
            .roles
            .assignments()
            .into_iter()
            .map(|(s, r)| Key::Role(s, r))
            .collect()
    }

    /// The principal, and the resource the role is on.
    fn depends_on(&self, key: &Key) -> Vec<KindId> {
        match key {
            Key::Role(scope, _) => vec![KindId::ServicePrincipal, Key::of_scope(*scope).kind()],
            _ => vec![KindId::ServicePrincipal],
        }
    }

    fn arm(&self) -> Option<Arm> {
        Some(Arm {
            ty: roles::ASSIGNMENT_TYPE,
            api_version: roles::API_VERSION,
        })
    }

    fn plan(&self, key: &Key, inputs: &Inputs, _state: &State, o: &Observed) -> PlannedStep {
        let Key::Role(s, r) = key else {
            return PlannedStep::new(key.clone(), Action::Create, key.to_string());
        };
        PlannedStep::new(
            key.clone(),
            Action::create_or_reuse(o.roles.contains_key(&(*s, *r))),
            label(inputs, *s, *r),
        )
    }

    fn ensure<'a>(
        &'a self,
        ctx: &'a Ctx,
        key: &'a Key,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let Key::Role(scope, role) = key else {
                return Err(Error::Other(format!("{key} is not a role assignment")));
            };
            let found = plan.observed.roles.get(&(*scope, *role)).cloned();
            ensure(ctx, *scope, *role, found).await
        })
    }

    /// The state's assignments on the deployment's workspace, DCR and DCE (discovery may have found others of the
    /// principal's, which are neither shown nor touched).
    fn recorded(&self, state: &State) -> Vec<Item> {
        state
            .role_assignments
            .iter()
            .filter_map(|r| {
                let key = Key::Role(Scope::from_key(&r.on)?, r.role);
                Some(Item {
                    key,
                    id: r.id.clone(),
                    name: r.role.display_name().to_string(),
                    created: r.created,
                    shown: r.id.clone(),
                })
            })
            .collect()
    }

    fn fate(&self, item: &Item, _keeping: &Keeping, _state: &State) -> Fate {
        if item.created {
            Fate::Delete
        } else {
            Fate::Leave
        }
    }

    fn delete<'a>(
        &'a self,
        cx: &'a Deleting<'a>,
        item: &'a Item,
    ) -> BoxFuture<'a, Result<Deleted>> {
        Box::pin(async move { Ok(Deleted::existed(roles::delete(cx.rest, &item.id).await?)) })
    }

    fn forget(&self, state: &mut State, item: &Item) {
        state.role_assignments.retain(|r| r.id != item.id);
    }

    /// The service principal's assignments; only those the tool makes (on the deployment's workspace, DCR or
    /// DCE) are its own, and only when it owns the app.
    fn discover<'a>(&'a self, d: &'a mut Discovery<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Some(sp) = d
                .state
                .resources
                .get(&Key::ServicePrincipal.to_string())
                .cloned()
            else {
                return Ok(());
            };
            for a in roles::list_for_principal(d.rest, d.subscription, &sp.id).await? {
                let Some(role) = Role::from_definition(&a.role_definition_id) else {
                    continue;
                };
                let on = [Scope::Workspace, Scope::Dcr, Scope::Dce]
                    .into_iter()
                    .find(|s| {
                        d.id_of(&Key::of_scope(*s))
                            .is_some_and(|id| id.eq_ignore_ascii_case(&a.scope))
                    })
                    .map(Scope::key)
                    .unwrap_or("other");
                d.state.role_assignments.push(RoleRecord {
                    id: a.id.clone(),
                    role,
                    on: on.to_string(),
                    created: sp.created && on != "other",
                    // Found, not made: its age is not known.
                    assigned_at: None,
                });
            }
            Ok(())
        })
    }
}
