//! Guide steps 4, 7 and 8: the app's role assignments on the workspace, the DCR and the DCE (`--roles`).

use std::collections::HashMap;

use crate::azure::name_of;
use crate::azure::roles::{self, Assignment, Role};
use crate::error::Result;
use crate::rest::Rest;
use crate::state::RoleRecord;

use super::{Action, Ctx, Inputs, Observed, PlannedStep, Scope};

/// The step name of a role assignment: `role:<scope>:<role display name>`.
pub fn step_name(scope: Scope, role: Role) -> String {
    format!("role:{}:{}", scope.key(), role.display_name())
}

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

pub fn plan(inputs: &Inputs, o: &Observed) -> Vec<PlannedStep> {
    inputs
        .roles
        .assignments()
        .into_iter()
        .map(|(s, r)| {
            PlannedStep::new(
                &step_name(s, r),
                Action::create_or_reuse(o.roles.contains_key(&(s, r))),
                label(inputs, s, r),
            )
        })
        .collect()
}

/// Assigns `role` at `scope` to the principal unless found, waiting for a new principal to replicate.
pub async fn ensure(
    ctx: &Ctx,
    scope: Scope,
    role: Role,
    principal: &str,
    found: Option<String>,
) -> Result<((), String)> {
    let i = &ctx.inputs;
    let scope_id = i.scope_id(scope);
    let name = step_name(scope, role);
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
    Ok(((), label(i, scope, role)))
}
