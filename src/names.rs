//! Azure's naming rules for what setup creates, checked before any request is sent.

use crate::azure::workspace::TYPE as WORKSPACE_TYPE;
use crate::error::{Error, Result};
use crate::resource_id::ResourceId;

fn refuse(flag: &str, value: &str, rule: &str) -> Error {
    Error::input(
        format!("{flag} '{value}' is not a valid name: {rule}"),
        format!("choose another {flag}"),
    )
}

fn chars_ok(value: &str, extra: &[char]) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// Resource group: 1–90 characters, alphanumerics, underscores, hyphens, periods and parentheses, not ending in a period.
pub fn resource_group(v: &str) -> Result<()> {
    if v.is_empty() || v.len() > 90 || !chars_ok(v, &['_', '-', '.', '(', ')']) || v.ends_with('.')
    {
        return Err(refuse(
            "--resource-group",
            v,
            "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
        ));
    }
    Ok(())
}

/// Log Analytics workspace: 4–63 characters, alphanumerics and hyphens, starting and ending with an alphanumeric.
pub fn workspace(v: &str) -> Result<()> {
    let ends_ok = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if v.len() < 4 || v.len() > 63 || !chars_ok(v, &['-']) || !ends_ok {
        return Err(refuse(
            "--workspace",
            v,
            "4-63 letters, digits or '-', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

/// Data collection endpoint: 3–44 characters, alphanumerics and hyphens, starting and ending with an alphanumeric.
pub fn dce(v: &str) -> Result<()> {
    let ends_ok = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if v.len() < 3 || v.len() > 44 || !chars_ok(v, &['-']) || !ends_ok {
        return Err(refuse(
            "--dce-name",
            v,
            "3-44 letters, digits or '-', starting and ending with a letter or digit",
        ));
    }
    Ok(())
}

/// Data collection rule: 1–64 characters, alphanumerics, '_', '-' and '.', not ending in '.'.
pub fn dcr(v: &str) -> Result<()> {
    if v.is_empty() || v.len() > 64 || !chars_ok(v, &['_', '-', '.']) || v.ends_with('.') {
        return Err(refuse(
            "--dcr-name",
            v,
            "1-64 letters, digits, '_', '-' or '.', not ending in '.'",
        ));
    }
    Ok(())
}

/// Suffixes Azure gives tables it makes itself: `_RST` restored logs, `_SRCH` search-job results (`az monitor
/// log-analytics workspace table restore|search-job create`). A custom table whose name carries one reads as one.
const RESERVED_TABLE_SUFFIXES: [&str; 2] = ["_RST", "_SRCH"];

/// Custom table base name (without `_CL`): a letter, then letters, digits or '_'; with `_CL` at most 63 characters.
/// Returns the full name with `_CL` appended, as Azure names it.
pub fn table(v: &str) -> Result<String> {
    let base = v.strip_suffix("_CL").unwrap_or(v);
    let upper = base.to_ascii_uppercase();
    if let Some(suffix) = RESERVED_TABLE_SUFFIXES.iter().find(|s| upper.ends_with(*s)) {
        return Err(refuse(
            "--table",
            v,
            &format!("Azure reserves the suffix {suffix} for the tables it makes itself (_RST restored logs, _SRCH search results)"),
        ));
    }
    if upper.ends_with("_CL") {
        return Err(refuse(
            "--table",
            v,
            "the custom-table suffix is _CL in capitals, and keeper-azmon adds it: give the name without it",
        ));
    }
    let first_ok = base.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if base.is_empty() || !first_ok || !chars_ok(base, &['_']) || base.len() + 3 > 63 {
        return Err(refuse(
            "--table",
            v,
            "a letter, then letters, digits or '_', at most 60 characters before _CL",
        ));
    }
    Ok(format!("{base}_CL"))
}

/// The classic custom table `import-classic` reads (`Keeper_CL`): a record type (Log-Type) of the HTTP Data
/// Collector API, which "can contain only letters, numbers, and the underscore (_) character, and it can't exceed
/// 100 characters", with the `_CL` the API appends
/// (https://learn.microsoft.com/azure/azure-monitor/logs/data-collector-api, "Request headers"). The name goes
/// into KQL as it is, so nothing else may pass: a letter first, as KQL takes an unquoted table name.
pub fn classic_table(flag: &str, v: &str) -> Result<()> {
    let rule = "a letter, then letters, digits or '_' (at most 100), then _CL, as the HTTP Data Collector API names its tables (Keeper_CL)";
    let Some(base) = v.strip_suffix("_CL") else {
        return Err(refuse(flag, v, rule));
    };
    let first_ok = base.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || base.len() > 100 || !chars_ok(base, &['_']) {
        return Err(refuse(flag, v, rule));
    }
    Ok(())
}

/// The parts of a workspace's resource id: subscription, resource group and workspace name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceId<'a> {
    pub subscription: &'a str,
    pub resource_group: &'a str,
    pub name: &'a str,
}

/// A workspace's resource id (`/subscriptions/<GUID>/resourceGroups/<rg>/providers/
/// Microsoft.OperationalInsights/workspaces/<name>`) taken apart, its subscription checked as a GUID. It is
/// pasted into ARM's URLs, where a `?`, `#` or `..` in a part would change the request: its resource group and
/// workspace name are checked with [`WorkspaceId::check_names`], once the caller has said what matters more
/// (another subscription).
pub fn workspace_resource_id<'a>(flag: &str, v: &'a str) -> Result<WorkspaceId<'a>> {
    let parsed =
        ResourceId::parse(v).filter(|id| id.is_type(WORKSPACE_TYPE) && id.scope().is_none());
    let Some((id, resource_group)) = parsed.and_then(|id| Some((id, id.resource_group()?))) else {
        return Err(Error::input(
            format!("{flag} '{v}' is not a workspace resource id"),
            "use /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.OperationalInsights/workspaces/<name>, or a plain name to create",
        ));
    };
    id_part(flag, "subscription id", id.subscription(), |s| {
        guid("--subscription", s)
    })?;
    Ok(WorkspaceId {
        subscription: id.subscription(),
        resource_group,
        name: id.name(),
    })
}

impl WorkspaceId<'_> {
    /// Checks the resource group and workspace names by Azure's rules.
    pub fn check_names(&self, flag: &str) -> Result<()> {
        id_part(flag, "resource group", self.resource_group, resource_group)?;
        id_part(flag, "workspace name", self.name, workspace)
    }
}

/// One part of a resource id in `flag`, checked with `check`: a refusal names the part.
fn id_part(flag: &str, what: &str, value: &str, check: fn(&str) -> Result<()>) -> Result<()> {
    check(value).map_err(|_| {
        Error::input(
            format!("the {what} '{value}' in {flag} is not a valid name"),
            format!("check {flag}: the portal shows the workspace's resource id under JSON View"),
        )
    })
}

/// A value the state file records, checked with `check` before it is used: a refusal names the state file and
/// the flag that can stand in for it.
pub fn from_state<T>(
    key: &str,
    flag: &str,
    v: &str,
    check: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    check(v).map_err(|_| {
        Error::input(
            format!("the state file records {key} '{v}', which is not valid"),
            format!("pass {flag}, or a state file written by keeper-azmon setup"),
        )
    })
}

/// App registration display name: 1–120 characters.
pub fn app_display_name(v: &str) -> Result<()> {
    if v.trim().is_empty() || v.chars().count() > 120 {
        return Err(refuse("--app-name", v, "1-120 characters"));
    }
    Ok(())
}

/// A GUID such as a tenant or subscription id.
pub fn guid(flag: &str, v: &str) -> Result<()> {
    uuid::Uuid::parse_str(v).map(|_| ()).map_err(|_| {
        Error::input(
            format!("{flag} '{v}' is not a GUID"),
            format!("{flag} takes an id like 00000000-0000-0000-0000-000000000000"),
        )
    })
}

/// Deployment name (the tag value): 1–64 letters, digits, '-', '_' or '.'.
pub fn deployment(v: &str) -> Result<()> {
    if v.is_empty() || v.len() > 64 || !chars_ok(v, &['_', '-', '.']) {
        return Err(refuse(
            "--deployment",
            v,
            "1-64 letters, digits, '_', '-' or '.'",
        ));
    }
    Ok(())
}

/// An email address as an action group takes it: one `@`, something before it, a dotted domain after it, no
/// spaces or brackets, at most 254 characters (RFC 5321's path limit). Azure mails it; a typo is refused here.
pub fn email(flag: &str, v: &str) -> Result<()> {
    let ok = v.len() <= 254
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>(),;:\\\"[]".contains(c))
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|l| !l.is_empty())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::input(
            format!("{flag} '{v}' is not an email address"),
            format!("check {flag}: one address per flag, such as soc@example.com"),
        ))
    }
}

/// Whether `v` has the shape of an Azure location name as ARM lists it (`eastus`, `usgovvirginia`, `eastus2euap`):
/// ASCII letters and digits, 1 to 64 of them.
pub fn is_location_name(v: &str) -> bool {
    (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// ARM's name for a location written as the portal displays it (`East US`, `US Gov Virginia`, `east-us`): its
/// letters and digits, lowercase. `None` when `v` is a location name already, or has characters no location name
/// has once spaces, hyphens and underscores are gone (those are refused with the subscription's locations).
pub fn canonical_location(v: &str) -> Option<String> {
    if is_location_name(v) {
        return None;
    }
    let c: String = v
        .chars()
        .filter(|c| !(c.is_whitespace() || *c == '-' || *c == '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    is_location_name(&c).then_some(c)
}

/// The locations to suggest for `v`, which is none of `available`: those that begin with its first four
/// characters (`eastu` suggests eastus and eastus2), else every one of them.
pub fn near_locations<'a>(v: &str, available: &'a [String]) -> Vec<&'a str> {
    let prefix: String = v.chars().take(4).collect::<String>().to_ascii_lowercase();
    let near: Vec<&str> = available
        .iter()
        .filter(|l| !prefix.is_empty() && l.to_ascii_lowercase().starts_with(&prefix))
        .map(String::as_str)
        .collect();
    if near.is_empty() {
        available.iter().map(String::as_str).collect()
    } else {
        near
    }
}

/// A region name as ARM compares them: `East US` and `eastus` are one region.
pub fn region(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A value that passed its rule, kept with its type so that it is neither checked again nor mistaken for another
/// kind of name; [`Display`](std::fmt::Display) and `as_str` give the text where a string is needed.
macro_rules! checked {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(String);

        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// A name checked by one of the rules above: `NAME::parse(v)` checks it and keeps it.
macro_rules! checked_name {
    ($(#[$doc:meta])* $ty:ident, $rule:ident) => {
        checked!($(#[$doc])* $ty);

        impl $ty {
            #[doc = concat!("Checks `v` with [`", stringify!($rule), "`] and keeps it.")]
            pub fn parse(v: &str) -> Result<Self> {
                $rule(v)?;
                Ok(Self(v.to_string()))
            }
        }
    };
}

checked_name!(
    /// A resource group name ([`resource_group`]).
    ResourceGroupName,
    resource_group
);
checked_name!(
    /// A Log Analytics workspace name ([`workspace`]).
    WorkspaceName,
    workspace
);
checked_name!(
    /// A data collection endpoint name ([`dce`]).
    DceName,
    dce
);
checked_name!(
    /// A data collection rule name ([`dcr`]).
    DcrName,
    dcr
);
checked_name!(
    /// An app registration display name ([`app_display_name`]).
    AppDisplayName,
    app_display_name
);
checked_name!(
    /// A deployment name, the tag value ([`deployment`]).
    DeploymentName,
    deployment
);
checked!(
    /// A custom table's full name, with the `_CL` Azure appends ([`table`]).
    TableName
);
checked!(
    /// A GUID: a tenant, subscription or application id ([`guid`]).
    Guid
);

impl TableName {
    /// Checks a base name (with or without `_CL`) and keeps the full name.
    pub fn parse(v: &str) -> Result<Self> {
        table(v).map(Self)
    }
}

impl Guid {
    /// Checks `v` as the GUID `flag` takes, and keeps it as it was written.
    pub fn parse(flag: &str, v: &str) -> Result<Self> {
        guid(flag, v)?;
        Ok(Self(v.to_string()))
    }
}

/// Whether `v` is written as a resource id (`/subscriptions/...`) rather than as a name.
pub fn is_resource_id(v: &str) -> bool {
    v.starts_with("/subscriptions/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_accept_the_guides_names_and_refuse_bad_ones() {
        assert!(workspace("KeeperLogsWorkspace").is_ok());
        assert!(workspace("ab").is_err());
        assert!(workspace("-abc").is_err());
        assert!(workspace("has_underscore").is_err());
        assert!(dce("KeeperLogsEndpoint").is_ok());
        assert!(dce(&"a".repeat(45)).is_err());
        assert!(dcr("KeeperDCR").is_ok());
        assert!(dcr("bad name").is_err());
        assert_eq!(table("KeeperLogs").ok(), Some("KeeperLogs_CL".to_string()));
        assert_eq!(
            table("KeeperLogs_CL").ok(),
            Some("KeeperLogs_CL".to_string())
        );
        assert!(table("1abc").is_err());
        assert!(table(&"a".repeat(61)).is_err());
        assert!(table("Keeper_RST").is_err());
        assert!(table("Keeper_srch_CL").is_err());
        assert!(table("KeeperLogs_cl").is_err());
        assert!(table("KeeperLogs_CL_CL").is_err());
        assert!(resource_group("rg-keeper(1)").is_ok());
        assert!(resource_group("rg.").is_err());
        assert!(guid("--tenant", "not-a-guid").is_err());
        assert!(classic_table("--from-table", "Keeper_CL").is_ok());
        assert!(classic_table("--from-table", &format!("{}_CL", "K".repeat(100))).is_ok());
        for bad in [
            "Keeper",
            "_CL",
            "9Keeper_CL",
            "Keeper_CL | take 1",
            "Keeper-x_CL",
            "Keeper_cl",
            "Kéeper_CL",
        ] {
            assert!(classic_table("--from-table", bad).is_err(), "{bad}");
        }
        assert!(classic_table("--from-table", &format!("{}_CL", "K".repeat(101))).is_err());
    }

    #[test]
    fn a_workspace_id_is_taken_apart_and_each_part_checked() {
        let sub = "00000000-0000-0000-0000-000000000001";
        let id = format!("/subscriptions/{sub}/resourceGroups/rg-keeper/providers/microsoft.operationalinsights/workspaces/KeeperLogs");
        let parts = workspace_resource_id("--workspace", &id).expect("a workspace id");
        parts.check_names("--workspace").expect("its names");
        assert_eq!(
            parts,
            WorkspaceId {
                subscription: sub,
                resource_group: "rg-keeper",
                name: "KeeperLogs"
            }
        );
        for bad in [
            format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/ws?x#"),
            format!("/subscriptions/{sub}/resourceGroups/../providers/Microsoft.OperationalInsights/workspaces/KeeperLogs"),
            "/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/KeeperLogs".into(),
            format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Insights/workspaces/KeeperLogs"),
            format!("x/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/KeeperLogs"),
            format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/KeeperLogs/tables"),
        ] {
            let refused = workspace_resource_id("--workspace", &bad)
                .and_then(|id| id.check_names("--workspace"))
                .is_err();
            assert!(refused, "{bad}");
        }
    }

    #[test]
    fn near_locations_are_found_by_characters_not_bytes() {
        let available: Vec<String> = ["eastus", "eastus2", "westus2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(near_locations("eastu", &available), ["eastus", "eastus2"]);
        assert_eq!(near_locations("EASTUS3", &available), ["eastus", "eastus2"]);
        assert_eq!(
            near_locations("東日本", &available),
            ["eastus", "eastus2", "westus2"],
            "nothing near: every location"
        );
        assert_eq!(near_locations("", &available).len(), 3);
        assert_eq!(canonical_location("east us").as_deref(), Some("eastus"));
        assert_eq!(
            canonical_location("US Gov Virginia").as_deref(),
            Some("usgovvirginia")
        );
        assert_eq!(canonical_location("eastus"), None);
        assert_eq!(canonical_location("東日本"), None);
        assert_eq!(canonical_location(" - "), None);
        assert!(is_location_name("usgovvirginia"));
        assert!(!is_location_name("east us"));
        assert!(!is_location_name("eas\u{fc}s"));
        assert!(!is_location_name(""));
    }
}
