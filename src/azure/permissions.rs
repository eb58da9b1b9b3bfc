//! What the signed-in identity may do at a scope: the permissions API (Microsoft.Authorization, api-version
//! 2022-04-01), read before any write so that a missing permission is named up front.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::rest::{Api, Rest};

pub const API_VERSION: &str = "2022-04-01";

/// The action that writing a role assignment needs.
pub const ROLE_ASSIGNMENT_WRITE: &str = "Microsoft.Authorization/roleAssignments/write";

/// The action that deleting a role assignment needs (Contributor lacks it, as it lacks the write).
pub const ROLE_ASSIGNMENT_DELETE: &str = "Microsoft.Authorization/roleAssignments/delete";

/// The built-in roles that grant [`ROLE_ASSIGNMENT_WRITE`] ("Azure built-in roles",
/// https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
pub const ROLE_WRITERS: &[&str] = &[
    "Owner",
    "User Access Administrator",
    "Role Based Access Control Administrator",
];

/// One entry of `PermissionGetResult.value`: what one of the caller's roles allows at the scope.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
}

/// `GET {scope}/providers/Microsoft.Authorization/permissions`, every page; `None` when the scope does not exist
/// (404). The spec (authorization-RoleDefinitionsCalls.json) lists resource-group and resource scopes.
pub async fn list(rest: &Rest, scope: &str) -> Result<Option<Vec<Permission>>> {
    let mut url = rest.profile.arm_url(&format!(
        "{scope}/providers/Microsoft.Authorization/permissions?api-version={API_VERSION}"
    ));
    let mut all = vec![];
    loop {
        let Some(body) = rest.get_opt(Api::Arm, &url).await? else {
            return Ok(None);
        };
        let page: Vec<Permission> = body
            .get("value")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| Error::Other(format!("unexpected permissions answer for {scope}: {e}")))?
            .unwrap_or_default();
        all.extend(page);
        match body.get("nextLink").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => url = next.to_string(),
            _ => return Ok(Some(all)),
        }
    }
}

/// Whether some entry allows `action`: one of its `actions` covers it and none of the same entry's `notActions`
/// does (how Azure combines a role's permissions).
pub fn allows(permissions: &[Permission], action: &str) -> bool {
    permissions.iter().any(|p| {
        p.actions.iter().any(|a| covers(a, action))
            && !p.not_actions.iter().any(|a| covers(a, action))
    })
}

/// Whether an action pattern covers `action`: `*` stands for any run of characters, `/` included; no case.
fn covers(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return p == a; // no `*`: the action itself
    };
    let Some(mut rest) = a.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(actions: &[&str], not_actions: &[&str]) -> Permission {
        Permission {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn owner_user_access_administrator_and_rbac_administrator_may_write_role_assignments() {
        for p in [
            perm(&["*"], &[]),
            perm(
                &["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
                &[],
            ),
            perm(&[ROLE_ASSIGNMENT_WRITE, "*/read"], &[]),
        ] {
            assert!(allows(&[p], ROLE_ASSIGNMENT_WRITE));
        }
    }

    #[test]
    fn a_contributor_may_not_unless_another_role_grants_it() {
        let contributor = perm(
            &["*"],
            &[
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
            ],
        );
        assert!(!allows(
            std::slice::from_ref(&contributor),
            ROLE_ASSIGNMENT_WRITE
        ));
        assert!(allows(
            std::slice::from_ref(&contributor),
            "Microsoft.Insights/dataCollectionRules/write"
        ));
        let uaa = perm(&["Microsoft.Authorization/*"], &[]);
        assert!(allows(&[contributor, uaa], ROLE_ASSIGNMENT_WRITE));
        assert!(!allows(&[perm(&["*/read"], &[])], ROLE_ASSIGNMENT_WRITE));
    }
}
