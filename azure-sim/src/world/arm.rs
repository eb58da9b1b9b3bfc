//! The ARM router: bearer and api-version checks, subscriptions, locations, providers, resource groups and
//! resource lists; it hands each resource family's paths to its file.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::faults::FaultAction;
use super::{lc, Aud, Req, World};
use crate::reply::{arm_err, Reply};

/// Reading a subscription: any role that reads (`*/read`, `*`) lets the caller see it.
const SUBSCRIPTION_READ: &str = "Microsoft.Resources/subscriptions/read";

/// The path part of a diagnostic setting, an extension resource under any resource (lower case).
const DIAGNOSTIC_SETTINGS: &str = "/providers/microsoft.insights/diagnosticsettings";

/// The resource providers the seeded subscription knows, registered or not (`SimConfig::providers_registered`).
const SEEDED_PROVIDERS: [&str; 3] = [
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.SecurityInsights",
];

/// ARM's own state: the subscriptions of the tenant, the locations, and the resource providers' registration.
/// (Resource groups and the resources in them live in the world's resource store, `World::resources`.)
#[derive(Debug)]
pub struct ArmState {
    /// (id, display name, visible to the operator without a role on it).
    subscriptions: Vec<(String, String, bool)>,
    locations: Vec<&'static str>,
    /// Registration state and since when, by lower-case namespace.
    providers: HashMap<String, (String, Instant)>,
}

impl ArmState {
    /// The tenant's first subscription, the locations, and the providers registered or not.
    pub(super) fn seeded(subscription: &str, providers_registered: bool, now: Instant) -> ArmState {
        let registered = if providers_registered {
            "Registered"
        } else {
            "NotRegistered"
        };
        ArmState {
            subscriptions: vec![(
                subscription.to_string(),
                "Keeper Sim Subscription".into(),
                true,
            )],
            locations: vec![
                "eastus",
                "eastus2",
                "westus2",
                "westus3",
                "centralus",
                "northeurope",
                "westeurope",
                "uksouth",
                "australiaeast",
                "usgovvirginia",
                "usgovarizona",
                "usgovtexas",
                "usdodeast",
                "usdodcentral",
                "chinaeast2",
                "chinanorth3",
            ],
            providers: SEEDED_PROVIDERS
                .iter()
                .map(|ns| (lc(ns), (registered.to_string(), now)))
                .collect(),
        }
    }

    /// Whether ARM knows the location `name` (as the tool writes it: `eastus`).
    pub(super) fn location_known(&self, name: &str) -> bool {
        self.locations.contains(&name)
    }

    /// Providers registering since `delay` ago are registered now.
    pub(super) fn finish_registrations(&mut self, now: Instant, delay: Duration) {
        for (_, (state, since)) in self.providers.iter_mut() {
            if state == "Registering" && now >= *since + delay {
                *state = "Registered".into();
            }
        }
    }

    /// 409 `MissingSubscriptionRegistration` unless the namespace of `kind` (`microsoft.insights/...`, lower
    /// case) is registered (or unknown).
    pub(super) fn provider_registered(&self, kind: &str) -> Result<(), Reply> {
        let ns = kind.split('/').next().unwrap_or_default();
        match self.providers.get(ns) {
            Some((s, _)) if s != "Registered" => Err(arm_err(
                409,
                "MissingSubscriptionRegistration",
                format!("The subscription is not registered to use namespace '{ns}'. See https://aka.ms/rps-not-found for how to register subscriptions."),
            )),
            _ => Ok(()),
        }
    }

    /// One more subscription in the tenant.
    pub(super) fn add_subscription(&mut self, id: &str, name: &str, visible: bool) {
        self.subscriptions
            .push((id.to_string(), name.to_string(), visible));
    }
}

impl World {
    pub fn arm(&mut self, req: &Req, fault: &FaultAction) -> Reply {
        self.tick();
        let principal = match self.principal(req, Aud::Arm) {
            Ok(p) => p,
            Err(r) => return r,
        };
        let Some(v) = req.query.get("api-version") else {
            return arm_err(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            );
        };
        if !World::api_versions(&req.path).contains(&v.as_str()) {
            return arm_err(
                400,
                "InvalidApiVersionParameter",
                format!("The api-version '{v}' is invalid for {}.", req.path),
            );
        }
        let path = req.path.trim_end_matches('/').to_string();
        if path == "/subscriptions" {
            let visible: Vec<Value> = self
                .arm
                .subscriptions
                .iter()
                .filter(|(id, _, vis)| {
                    *vis || self.permitted(
                        &principal,
                        &format!("/subscriptions/{id}"),
                        SUBSCRIPTION_READ,
                    )
                })
                .map(|(id, name, _)| self.sub_json(id, name))
                .collect();
            return self.page(req, visible, "nextLink");
        }
        // operation status polls
        if lc(&path).contains("/operationstatuses/") {
            let id = path.rsplit('/').next().unwrap_or_default().to_string();
            return self.operation_status(&id);
        }
        let Some(sub) = World::sub_of(&path).map(str::to_string) else {
            return arm_err(404, "InvalidResourceType", format!("No route for {path}"));
        };
        let known = self
            .arm
            .subscriptions
            .iter()
            .find(|(id, _, _)| lc(id) == lc(&sub))
            .cloned();
        let allowed = self.permitted(
            &principal,
            &format!("/subscriptions/{sub}"),
            SUBSCRIPTION_READ,
        );
        let Some((sub_id, sub_name, _)) = known.filter(|_| allowed) else {
            return arm_err(
                404,
                "SubscriptionNotFound",
                format!("The subscription '{sub}' could not be found."),
            );
        };
        let rest = path[format!("/subscriptions/{sub}").len()..].to_string();
        let lrest = lc(&rest);
        let m = req.method.as_str();
        if rest.is_empty() && m == "GET" {
            return Reply::json(200, self.sub_json(&sub_id, &sub_name));
        }
        if lrest == "/locations" && m == "GET" {
            let v: Vec<Value> = self
                .arm.locations
                .iter()
                .map(|l| json!({ "id": format!("/subscriptions/{sub_id}/locations/{l}"), "name": l, "displayName": l, "regionalDisplayName": l, "type": "Region" }))
                .collect();
            // Paged although the spec declares no next link for locations, so that the tool is shown to follow
            // one wherever it comes.
            return self.page(req, v, "nextLink");
        }
        if let Some(i) = lrest.find("/providers/microsoft.authorization/roleassignments") {
            let scope = format!("/subscriptions/{sub_id}{}", &rest[..i]);
            let name = rest[i + "/providers/microsoft.authorization/roleassignments".len()..]
                .trim_start_matches('/')
                .to_string();
            return self.role_assignment(req, &principal, &scope, &name, fault);
        }
        if let Some(i) = lrest.find("/providers/microsoft.authorization/permissions") {
            let scope = format!("/subscriptions/{sub_id}{}", &rest[..i]);
            return self.permissions(req, &principal, &scope);
        }
        // ARM authorizes each write and delete against the caller's roles at the resource: the action is the
        // resource type's `write` or `delete` ("Azure resource provider operations",
        // https://learn.microsoft.com/azure/role-based-access-control/resource-provider-operations), and a caller
        // without it gets 403 AuthorizationFailed naming the action.
        if matches!(m, "PUT" | "PATCH" | "DELETE") {
            if let Some(action) = resource_action(&rest, m) {
                if !self.permitted(&principal, &path, &action) {
                    return self.authorization_failed(&principal, &action, &path);
                }
            }
        }
        // An extension resource of any resource (monitor.rs).
        if let Some(i) = lrest.find(DIAGNOSTIC_SETTINGS) {
            let resource = format!("/subscriptions/{sub_id}{}", &rest[..i]);
            let name = rest[i + DIAGNOSTIC_SETTINGS.len()..].trim_start_matches('/');
            return self.diagnostic_settings(req, &resource, Some(name).filter(|n| !n.is_empty()));
        }
        let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
        let lsegs: Vec<String> = segs.iter().map(|s| lc(s)).collect();
        match lsegs
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["providers", _ns] if m == "GET" => {
                let ns = segs[1];
                let state = self
                    .arm
                    .providers
                    .get(&lc(ns))
                    .map(|p| p.0.clone())
                    .unwrap_or_else(|| "Registered".into());
                Reply::json(
                    200,
                    json!({ "id": format!("/subscriptions/{sub_id}/providers/{ns}"), "namespace": ns, "registrationState": state }),
                )
            }
            ["providers", _ns, "register"] if m == "POST" => {
                let ns = segs[1].to_string();
                let now = self.now();
                let entry = self
                    .arm
                    .providers
                    .entry(lc(&ns))
                    .or_insert(("NotRegistered".into(), now));
                if entry.0 != "Registered" {
                    *entry = ("Registering".into(), now);
                }
                let state = entry.0.clone();
                Reply::json(
                    200,
                    json!({ "id": format!("/subscriptions/{sub_id}/providers/{ns}"), "namespace": ns, "registrationState": state }),
                )
            }
            ["providers", "microsoft.operationalinsights", "workspaces"] if m == "GET" => {
                Reply::json(
                    200,
                    json!({ "value": self.list_type("microsoft.operationalinsights/workspaces", &format!("/subscriptions/{sub_id}/")) }),
                )
            }
            ["providers", "microsoft.operationalinsights", "deletedworkspaces"] if m == "GET" => {
                self.deleted_workspaces_under(&format!("/subscriptions/{sub_id}/"))
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "deletedworkspaces"]
                if m == "GET" =>
            {
                let group = format!("/subscriptions/{sub_id}/resourceGroups/{}", segs[1]);
                if !self.resources.contains_key(&lc(&group)) {
                    return arm_err(
                        404,
                        "ResourceGroupNotFound",
                        format!("Resource group '{}' could not be found.", segs[1]),
                    );
                }
                self.deleted_workspaces_under(&format!("{group}/"))
            }
            ["resourcegroups"] if m == "GET" => {
                let all = self.list_type(
                    "microsoft.resources/resourcegroups",
                    &format!("/subscriptions/{sub_id}/"),
                );
                self.page(
                    req,
                    World::tag_filter(all, req.query.get("$filter")),
                    "nextLink",
                )
            }
            ["resources"] if m == "GET" => {
                let prefix = lc(&format!("/subscriptions/{sub_id}/resourcegroups/"));
                let all: Vec<Value> = self
                    .resources
                    .iter()
                    .filter(|(k, r)| k.starts_with(&prefix) && k.contains("/providers/") && !k.contains("/tables/") && r.body.get("location").is_some())
                    .map(|(_, r)| json!({ "id": r.body["id"], "name": r.body["name"], "type": r.body["type"], "location": r.body["location"], "tags": r.body["tags"] }))
                    .collect();
                self.page(
                    req,
                    World::tag_filter(all, req.query.get("$filter")),
                    "nextLink",
                )
            }
            ["resourcegroups", _rg, "resources"] if m == "GET" => {
                let prefix = lc(&format!(
                    "/subscriptions/{sub_id}/resourceGroups/{}/providers/",
                    segs[1]
                ));
                let v: Vec<Value> = self
                    .resources
                    .iter()
                    // Top-level resources only (namespace/type/name): a table, a saved search or a Sentinel
                    // setting lives inside its workspace.
                    .filter(|(k, _)| k.starts_with(&prefix) && k[prefix.len()..].split('/').count() == 3)
                    .map(|(_, r)| json!({ "id": r.body["id"], "name": r.body["name"], "type": r.body["type"], "location": r.body["location"] }))
                    .collect();
                self.page(req, v, "nextLink")
            }
            ["resourcegroups", _rg] => self.resource_group(req, &sub_id, segs[1], fault),
            ["resourcegroups", _rg, "providers", "microsoft.insights", "workbooks", rest @ ..]
                if rest.len() <= 1 =>
            {
                self.workbook(req, &sub_id, segs[1], segs.get(5).copied())
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "savedsearches", rest @ ..]
                if rest.len() <= 1 =>
            {
                let ws_id = format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}", segs[1], segs[5]);
                self.saved_search(req, &ws_id, segs.get(7).copied())
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "providers", "microsoft.securityinsights", kind, tail @ ..]
                if tail.len() <= 1 =>
            {
                let ws_id = format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}", segs[1], segs[5]);
                let name = segs.get(9).copied();
                match *kind {
                    "onboardingstates" => self.onboarding_state(req, &ws_id, name),
                    "alertrules" => self.alert_rule(req, &ws_id, name),
                    other => match crate::api::SentinelContent::of_segment(other) {
                        Some(content) => self.sentinel_content(req, &ws_id, content, name),
                        None => arm_err(
                            404,
                            "InvalidResourceType",
                            format!("The resource type could not be found for {rest}."),
                        ),
                    },
                }
            }
            ["resourcegroups", _rg, "providers", "microsoft.insights", kind @ ("actiongroups" | "scheduledqueryrules"), tail @ ..]
                if tail.len() <= 1 =>
            {
                let rg_id = format!("/subscriptions/{sub_id}/resourceGroups/{}", segs[1]);
                self.insights_resource(req, kind, &rg_id, segs.get(5).copied())
            }
            ["resourcegroups", _rg, "providers", ns, ty, _name] => {
                let kind = format!("{ns}/{ty}");
                let id = format!(
                    "/subscriptions/{sub_id}/resourceGroups/{}/providers/{}/{}/{}",
                    segs[1], segs[3], segs[4], segs[5]
                );
                self.resource(req, &kind, &id, segs[1], &sub_id, fault)
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "tables"]
                if m == "GET" =>
            {
                let prefix = lc(&format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/tables/", segs[1], segs[5]));
                let v: Vec<Value> = self
                    .resources
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, r)| r.body.clone())
                    .collect();
                Reply::json(200, json!({ "value": v }))
            }
            ["resourcegroups", _rg, "providers", "microsoft.operationalinsights", "workspaces", _ws, "tables", _t] =>
            {
                let id = format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}/tables/{}", segs[1], segs[5], segs[7]);
                self.table(req, &id, fault)
            }
            _ => arm_err(
                404,
                "InvalidResourceType",
                format!("The resource type could not be found for {rest}."),
            ),
        }
    }

    fn api_versions(path: &str) -> &'static [&'static str] {
        let p = lc(path);
        if p.contains("/providers/microsoft.authorization/roleassignments")
            || p.contains("/providers/microsoft.authorization/permissions")
        {
            &["2022-04-01", "2020-04-01-preview"]
        } else if p.contains(DIAGNOSTIC_SETTINGS) {
            // No stable version exists (shared/azure-specs/README.md).
            &["2021-05-01-preview", "2017-05-01-preview"]
        } else if p.contains("/providers/microsoft.insights/actiongroups") {
            &["2023-01-01", "2022-06-01", "2021-09-01"]
        } else if p.contains("/providers/microsoft.insights/scheduledqueryrules") {
            &["2023-12-01", "2022-06-15", "2021-08-01"]
        } else if p.contains("/workspaces/") && p.contains("/providers/microsoft.securityinsights/")
        {
            // Stable and preview versions of the SecurityInsights API (learn.microsoft.com/rest/api/securityinsights).
            &[
                "2025-12-01",
                "2025-06-01",
                "2024-03-01",
                "2025-07-01-preview",
                "2024-10-01-preview",
            ]
        } else if p.contains("/providers/microsoft.insights/workbooks") {
            &["2023-06-01", "2022-04-01", "2021-08-01"]
        } else if p.contains("/providers/microsoft.operationalinsights/workspaces")
            || p.contains("/providers/microsoft.operationalinsights/deletedworkspaces")
            || p.contains("/providers/microsoft.operationalinsights/locations")
        {
            &["2022-10-01", "2023-09-01", "2025-02-01", "2020-08-01"]
        } else if p.contains("/providers/microsoft.insights/datacollection") {
            &["2022-06-01", "2023-03-11", "2024-03-11"]
        } else if p.contains("/providers/")
            || p.contains("/resourcegroups")
            || p.ends_with("/resources")
        {
            &["2021-04-01", "2022-09-01", "2024-03-01"]
        } else {
            &["2022-12-01", "2020-01-01", "2021-01-01"]
        }
    }

    pub fn add_subscription(&mut self, id: &str, name: &str, visible: bool) {
        self.arm.add_subscription(id, name, visible);
    }

    fn sub_json(&self, id: &str, name: &str) -> Value {
        json!({ "id": format!("/subscriptions/{id}"), "subscriptionId": id, "displayName": name, "state": "Enabled", "tenantId": self.tenant })
    }

    fn list_type(&self, ty: &str, prefix: &str) -> Vec<Value> {
        let prefix = lc(prefix);
        self.resources
            .iter()
            .filter(|(k, r)| {
                k.starts_with(&prefix) && r.body["type"].as_str().map(lc).as_deref() == Some(ty)
            })
            .map(|(_, r)| r.body.clone())
            .collect()
    }

    /// ARM's `$filter=tagName eq 'k' and tagValue eq 'v'` on a list.
    fn tag_filter(list: Vec<Value>, filter: Option<&String>) -> Vec<Value> {
        let Some(f) = filter else { return list };
        let q = |s: &str| s.trim().trim_matches('\'').to_string();
        let (name, value) = match f.split_once(" and tagValue eq ") {
            Some((n, v)) => (q(n.trim_start_matches("tagName eq ")), Some(q(v))),
            None => (q(f.trim_start_matches("tagName eq ")), None),
        };
        list.into_iter()
            .filter(
                |r| match r.pointer(&format!("/tags/{name}")).and_then(Value::as_str) {
                    Some(v) => value.as_ref().is_none_or(|want| want == v),
                    None => false,
                },
            )
            .collect()
    }

    fn resource_group(&mut self, req: &Req, sub: &str, rg: &str, fault: &FaultAction) -> Reply {
        let id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
        let key = lc(&id);
        match req.method.as_str() {
            "GET" | "HEAD" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceGroupNotFound",
                    format!("Resource group '{rg}' could not be found."),
                ),
            },
            "PUT" => {
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                let o = body.as_object();
                if o.is_none_or(|o| {
                    o.keys().any(|k| {
                        !["location", "tags", "managedBy", "properties"].contains(&k.as_str())
                    })
                }) || !body["location"].is_string()
                {
                    return arm_err(400, "InvalidRequestContent", "The request content was invalid: a resource group takes location (string), tags and managedBy.");
                }
                if !self
                    .arm
                    .locations
                    .contains(&body["location"].as_str().unwrap_or_default())
                {
                    return arm_err(
                        400,
                        "LocationNotAvailableForResourceGroup",
                        format!(
                            "The provided location '{}' is not available for resource group.",
                            body["location"]
                        ),
                    );
                }
                let existed = self.resources.contains_key(&key);
                let rb = json!({ "id": id, "name": rg, "type": "Microsoft.Resources/resourceGroups", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": { "provisioningState": "Succeeded" } });
                let _ = fault;
                self.store_ready(&id, rb.clone());
                Reply::json(if existed { 200 } else { 201 }, rb)
            }
            "DELETE" => {
                if !self.resources.contains_key(&key) {
                    return Reply::empty(204);
                }
                self.soft_delete_workspaces_in(&key);
                self.resources.remove(&key);
                let prefix = format!("{key}/");
                self.resources.retain(|k, _| !k.starts_with(&prefix));
                self.rbac.remove_at_or_under(&key);
                Reply::empty(200)
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }

    fn resource(
        &mut self,
        req: &Req,
        kind: &str,
        id: &str,
        rg: &str,
        sub: &str,
        fault: &FaultAction,
    ) -> Reply {
        let key = lc(id);
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        let ty = match kind {
            "microsoft.operationalinsights/workspaces" => {
                "Microsoft.OperationalInsights/workspaces"
            }
            "microsoft.insights/datacollectionendpoints" => {
                "Microsoft.Insights/dataCollectionEndpoints"
            }
            "microsoft.insights/datacollectionrules" => "Microsoft.Insights/dataCollectionRules",
            _ => {
                return arm_err(
                    404,
                    "InvalidResourceType",
                    format!("The resource type '{kind}' could not be found."),
                )
            }
        };
        match req.method.as_str() {
            "GET" => match self.resources.get(&key) {
                Some(r) => Reply::json(200, r.body.clone()),
                None => arm_err(
                    404,
                    "ResourceNotFound",
                    format!(
                        "The Resource '{ty}/{name}' under resource group '{rg}' was not found."
                    ),
                ),
            },
            "DELETE" if kind == "microsoft.operationalinsights/workspaces" => {
                let force = req
                    .query
                    .get("force")
                    .is_some_and(|f| f.eq_ignore_ascii_case("true"));
                self.delete_workspace(&key, force)
            }
            "DELETE" => {
                if self.resources.remove(&key).is_none() {
                    return Reply::empty(204);
                }
                let prefix = format!("{key}/");
                self.resources.retain(|k, _| !k.starts_with(&prefix));
                self.workspaces.drop_rows_under(&prefix);
                self.rbac.remove_at_or_under(&key);
                Reply::empty(200)
            }
            "PUT" => {
                if let Err(r) = self.arm.provider_registered(kind) {
                    return r;
                }
                if !self
                    .resources
                    .contains_key(&lc(&format!("/subscriptions/{sub}/resourceGroups/{rg}")))
                {
                    return arm_err(
                        404,
                        "ResourceGroupNotFound",
                        format!("Resource group '{rg}' could not be found."),
                    );
                }
                let body = match World::parse_body(req) {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                // The location is checked before anything is written: an update naming an unknown region must
                // leave the resource as it was (the check once ran after the PUT and removed it).
                // (A body without a location is left to the spec validation, which requires one.)
                if let Some(loc) = body["location"].as_str() {
                    if !self.arm.location_known(loc) {
                        return arm_err(400, "LocationNotAvailableForResourceType", format!("The provided location '{loc}' is not available for resource type '{ty}'."));
                    }
                }
                let existing = self.resources.get(&key).map(|r| r.body.clone());
                match kind {
                    "microsoft.operationalinsights/workspaces" => {
                        self.put_workspace(id, &name, &body, existing, fault)
                    }
                    "microsoft.insights/datacollectionendpoints" => {
                        self.put_dce(id, &name, &body, existing)
                    }
                    _ => self.put_dcr(id, &name, &body, existing),
                }
            }
            _ => arm_err(405, "MethodNotAllowed", "The method is not allowed."),
        }
    }
}

/// The action a write or delete of the resource at `rest` (the path after `/subscriptions/{id}`) needs: the
/// namespace and resource types of its last `/providers/` part (`Microsoft.OperationalInsights/workspaces/tables`),
/// or `Microsoft.Resources/subscriptions/resourceGroups` for a group; `None` for a collection or anything else.
fn resource_action(rest: &str, method: &str) -> Option<String> {
    let verb = if method == "DELETE" {
        "delete"
    } else {
        "write"
    };
    let segs: Vec<&str> = rest.trim_matches('/').split('/').collect();
    if let [rg, _] = segs.as_slice() {
        return rg
            .eq_ignore_ascii_case("resourceGroups")
            .then(|| format!("Microsoft.Resources/subscriptions/resourceGroups/{verb}"));
    }
    let at = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let [ns, typed @ ..] = &segs[at + 1..] else {
        return None;
    };
    if typed.is_empty() || typed.len() % 2 != 0 {
        return None;
    }
    let types: Vec<&str> = typed.iter().step_by(2).copied().collect();
    Some(format!("{ns}/{}/{verb}", types.join("/")))
}

#[cfg(test)]
mod tests {
    use super::resource_action;

    #[test]
    fn a_write_or_delete_needs_its_resource_types_action() {
        let ws = "/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/w";
        for (rest, method, action) in [
            (
                "/resourceGroups/rg",
                "PUT",
                Some("Microsoft.Resources/subscriptions/resourceGroups/write"),
            ),
            (
                "/resourceGroups/rg",
                "DELETE",
                Some("Microsoft.Resources/subscriptions/resourceGroups/delete"),
            ),
            (
                ws,
                "DELETE",
                Some("Microsoft.OperationalInsights/workspaces/delete"),
            ),
            (
                &format!("{ws}/tables/T_CL"),
                "PATCH",
                Some("Microsoft.OperationalInsights/workspaces/tables/write"),
            ),
            (
                &format!("{ws}/providers/Microsoft.SecurityInsights/alertRules/r"),
                "DELETE",
                Some("Microsoft.SecurityInsights/alertRules/delete"),
            ),
            (
                "/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionRules",
                "PUT",
                None,
            ),
            ("/providers/Microsoft.Insights/register", "PUT", None),
        ] {
            assert_eq!(
                resource_action(rest, method).as_deref(),
                action,
                "{method} {rest}"
            );
        }
    }
}
