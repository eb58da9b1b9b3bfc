//! An ARM resource id, parsed once: its subscription, resource group, type and name, and the scope of an
//! extension resource (a diagnostic setting on a DCR), so that nothing takes an id apart with `split('/')`.

/// An ARM resource id taken apart: `/subscriptions/{sub}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}
/// [/{type}/{name}]…]`, or an extension resource `{scope}/providers/{ns}/{type}/{name}` on another resource. The
/// keywords (`subscriptions`, `resourceGroups`, `providers`) are matched without regard to case, as ARM does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId<'a> {
    text: &'a str,
    subscription: &'a str,
    resource_group: Option<&'a str>,
    /// The resource's own `providers/…` part, after the last `providers` keyword: namespace, then type and name
    /// pairs. Empty for a subscription or a resource group.
    provider: &'a str,
    /// Where the resource's own part begins in `text`: before it is the scope it extends (or its resource group).
    own_at: usize,
}

impl<'a> ResourceId<'a> {
    /// `text` as a resource id; `None` where it does not have the shape of one (an empty part, a type without a
    /// name, no subscription).
    pub fn parse(text: &'a str) -> Option<ResourceId<'a>> {
        let rest = text.strip_prefix('/')?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.iter().any(|p| p.is_empty())
            || parts.len() < 2
            || !parts[0].eq_ignore_ascii_case("subscriptions")
        {
            return None;
        }
        let subscription = parts[1];
        let mut i = 2;
        let mut resource_group = None;
        if parts.len() > 2 && parts[2].eq_ignore_ascii_case("resourceGroups") {
            resource_group = Some(*parts.get(3)?);
            i = 4;
        }
        if i == parts.len() {
            return Some(ResourceId {
                text,
                subscription,
                resource_group,
                provider: "",
                own_at: text.len(),
            });
        }
        // The last `providers` keyword starts the resource's own part; what comes before it is its scope.
        let last = parts
            .iter()
            .rposition(|p| p.eq_ignore_ascii_case("providers"))
            .filter(|&p| p >= i)?;
        // `providers`, a namespace, then whole type/name pairs.
        let own = &parts[last..];
        if own.len() < 4 || !(own.len() - 2).is_multiple_of(2) {
            return None;
        }
        // Every part before `last` that is not the resource group's must itself be a resource: check it parses.
        let own_at = 1 + parts[..last].iter().map(|p| p.len() + 1).sum::<usize>();
        if last > i {
            ResourceId::parse(&text[..own_at - 1])?;
        }
        let provider_at = own_at + own[0].len() + 1;
        Some(ResourceId {
            text,
            subscription,
            resource_group,
            provider: &text[provider_at..],
            own_at,
        })
    }

    /// The whole id, as it was given.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    pub fn subscription(&self) -> &'a str {
        self.subscription
    }

    /// The resource group; `None` for a subscription, or a resource at subscription scope.
    pub fn resource_group(&self) -> Option<&'a str> {
        self.resource_group
    }

    /// The resource provider's namespace (`Microsoft.Insights`); `None` for a subscription or resource group.
    pub fn namespace(&self) -> Option<&'a str> {
        self.provider.split('/').next().filter(|s| !s.is_empty())
    }

    /// The resource type, namespace and type names without the names (`Microsoft.OperationalInsights/
    /// workspaces/tables`), as ARM's `type` property and this tool's `TYPE` constants spell it.
    pub fn resource_type(&self) -> String {
        let mut parts = self.provider.split('/');
        let mut ty = parts.next().unwrap_or_default().to_string();
        for (n, p) in parts.enumerate() {
            if n % 2 == 0 {
                ty.push('/');
                ty.push_str(p);
            }
        }
        ty
    }

    /// Whether this is a resource of type `ty`, compared without regard to case, as ARM compares types.
    pub fn is_type(&self, ty: &str) -> bool {
        self.resource_type().eq_ignore_ascii_case(ty)
    }

    /// The resource's name: its last part (a resource group's or subscription's own for those).
    pub fn name(&self) -> &'a str {
        self.text.rsplit('/').next().unwrap_or(self.text)
    }

    /// The resource this one extends (a DCR, for a diagnostic setting on it); `None` for a resource that is not
    /// an extension.
    pub fn scope(&self) -> Option<ResourceId<'a>> {
        if self.provider.is_empty() {
            return None;
        }
        let before = self.text.get(..self.own_at.checked_sub(1)?)?;
        let scope = ResourceId::parse(before)?;
        scope.namespace().map(|_| scope)
    }
}

/// An ARM id as a person scans it in a table (plans and status; JSON keeps it whole): the names from the
/// resource down, without the subscription, resource group and provider namespaces
/// (`KeeperLogsWorkspace/tables/KeeperLogs_CL`); a resource group as `resourceGroups/<name>`; a GUID name (a role
/// assignment's) to its first 8 characters. Text that is not an ARM id comes back as it is.
pub fn short(text: &str) -> String {
    let segs: Vec<&str> = text.trim_start_matches('/').split('/').collect();
    if segs.len() < 2 || !segs[0].eq_ignore_ascii_case("subscriptions") || !text.starts_with('/') {
        return text.to_string();
    }
    let mut i = 2;
    let mut group = None;
    if segs
        .get(i)
        .is_some_and(|s| s.eq_ignore_ascii_case("resourceGroups"))
    {
        group = segs.get(i + 1).copied();
        i += 2;
    }
    let mut out: Vec<String> = vec![];
    while i + 1 < segs.len() {
        if segs[i].eq_ignore_ascii_case("providers") {
            i += 2;
            continue;
        }
        let name = segs[i + 1];
        let name = if uuid::Uuid::parse_str(name).is_ok() {
            format!("{}…", &name[..8])
        } else {
            name.to_string()
        };
        if out.is_empty() {
            out.push(name);
        } else {
            out.push(format!("{}/{name}", segs[i]));
        }
        i += 2;
    }
    match (out.is_empty(), group) {
        (false, _) => out.join("/"),
        (true, Some(g)) => format!("resourceGroups/{g}"),
        (true, None) => text.to_string(),
    }
}

impl std::fmt::Display for ResourceId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shortened_for_a_person_and_other_text_is_left_alone() {
        let rg = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-keeper";
        assert_eq!(short(rg), "resourceGroups/rg-keeper");
        let table =
            format!("{rg}/providers/Microsoft.OperationalInsights/workspaces/W/tables/T_CL");
        assert_eq!(short(&table), "W/tables/T_CL");
        let role = format!("{rg}/providers/Microsoft.Insights/dataCollectionRules/KeeperDCR/providers/Microsoft.Authorization/roleAssignments/1a2b3c4d-0000-0000-0000-000000000000");
        assert_eq!(short(&role), "KeeperDCR/roleAssignments/1a2b3c4d…");
        assert_eq!(short("KeeperLogging"), "KeeperLogging");
        assert_eq!(short("for KeeperLogging"), "for KeeperLogging");
        assert_eq!(short("/subscriptions"), "/subscriptions");
    }

    const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-keeper/providers/Microsoft.OperationalInsights/workspaces/law";

    #[test]
    fn a_workspace_id_is_taken_apart_into_its_subscription_group_type_and_name() {
        let id = ResourceId::parse(WS).expect("an id");
        assert_eq!(id.subscription(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(id.resource_group(), Some("rg-keeper"));
        assert_eq!(id.namespace(), Some("Microsoft.OperationalInsights"));
        assert_eq!(
            id.resource_type(),
            "Microsoft.OperationalInsights/workspaces"
        );
        assert!(id.is_type("microsoft.operationalinsights/WORKSPACES"));
        assert_eq!(id.name(), "law");
        assert_eq!(id.scope(), None);
        assert_eq!(id.to_string(), WS);
    }

    #[test]
    fn a_child_resource_has_its_full_type_and_its_own_name() {
        let t = format!("{WS}/tables/Keeper_CL");
        let id = ResourceId::parse(&t).expect("an id");
        assert_eq!(
            id.resource_type(),
            "Microsoft.OperationalInsights/workspaces/tables"
        );
        assert_eq!(id.name(), "Keeper_CL");
    }

    #[test]
    fn an_extension_resource_names_the_resource_it_extends() {
        let dcr = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules/dcr-keeper";
        let t = format!("{dcr}/providers/Microsoft.Insights/diagnosticSettings/keeper-azmon");
        let id = ResourceId::parse(&t).expect("an id");
        assert_eq!(id.resource_type(), "Microsoft.Insights/diagnosticSettings");
        assert_eq!(id.name(), "keeper-azmon");
        assert_eq!(id.resource_group(), Some("rg"));
        let scope = id.scope().expect("a scope");
        assert_eq!(scope.as_str(), dcr);
        assert!(scope.is_type("Microsoft.Insights/dataCollectionRules"));
    }

    #[test]
    fn subscriptions_and_groups_are_ids_without_a_type() {
        let g = ResourceId::parse("/subscriptions/s/resourceGroups/rg").expect("an id");
        assert_eq!(
            (g.resource_group(), g.namespace(), g.name()),
            (Some("rg"), None, "rg")
        );
        let s = ResourceId::parse("/SUBSCRIPTIONS/s").expect("an id");
        assert_eq!((s.subscription(), s.resource_group()), ("s", None));
        let at_sub = ResourceId::parse(
            "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/ra",
        )
        .expect("an id");
        assert_eq!(at_sub.resource_group(), None);
        assert_eq!(
            at_sub.resource_type(),
            "Microsoft.Authorization/roleAssignments"
        );
    }

    #[test]
    fn what_is_not_an_id_is_refused() {
        for bad in [
            "",
            "law",
            "subscriptions/s",
            "/subscriptions",
            "/subscriptions//resourceGroups/rg",
            "/subscriptions/s/resourceGroups",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights",
            "/subscriptions/s/resourceGroups/rg/workspaces/law",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law/",
            "/tenants/t/providers/Microsoft.Insights/x/y",
        ] {
            assert_eq!(ResourceId::parse(bad), None, "{bad:?} is not an id");
        }
    }
}
