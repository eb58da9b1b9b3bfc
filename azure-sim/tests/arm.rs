//! azure-sim's ARM behaviours as Azure shows them: DCR refusals in `InvalidPayload` + `details[]`, a new table not
//! yet usable as an output, regions, RBAC (`AuthorizationFailed`, the permissions API), classic tables, role
//! assignments going with their resource, an update to an unknown location leaving the resource alone, and
//! soft-deleted workspaces (listed, recovered in their region only, purged with force, gone after 14 days).

mod common;

use std::time::Duration;

use azure_sim::{Sim, SimConfig, SimRole};
use reqwest::Method;
use serde_json::{json, Value};

struct T {
    sim: Sim,
    http: reqwest::Client,
    arm: String,
}

impl T {
    async fn new(cfg: SimConfig) -> T {
        let sim = Sim::start(cfg).await.expect("start");
        let http = common::client(&sim);
        let arm = common::operator_arm_token(&sim, &http).await;
        T { sim, http, arm }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .bearer_auth(&self.arm);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("send");
        let status = r.status().as_u16();
        let text = r.text().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn put(&self, id: &str, api: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, &format!("{id}?api-version={api}"), Some(body))
            .await
    }

    /// The operator asks for Monitoring Reader on the workspace for itself: the assignment's id and the answer.
    async fn assign_reader_on_workspace(&self) -> (String, u16, Value) {
        let sub = self.sim.operator().subscription_id;
        let ra = format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            self.ws(),
            uuid::Uuid::new_v4()
        );
        let body = json!({ "properties": {
            "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/43d0d8ad-25c7-4714-9337-8ba259a9fe05"),
            "principalId": self.sim.operator().object_id, "principalType": "ServicePrincipal" } });
        let (st, b) = self.put(&ra, "2022-04-01", body).await;
        (ra, st, b)
    }

    fn rg(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/rg",
            self.sim.operator().subscription_id
        )
    }

    fn ws(&self) -> String {
        format!(
            "{}/providers/Microsoft.OperationalInsights/workspaces/ws-test",
            self.rg()
        )
    }

    fn dce(&self) -> String {
        format!(
            "{}/providers/Microsoft.Insights/dataCollectionEndpoints/dce-test",
            self.rg()
        )
    }

    fn dcr(&self) -> String {
        format!(
            "{}/providers/Microsoft.Insights/dataCollectionRules/dcr-test",
            self.rg()
        )
    }

    /// Resource group, workspace, table (its operation finished) and DCE, each in `region`.
    async fn base(&self, ws_region: &str, dce_region: &str) {
        assert_eq!(
            self.put(&self.rg(), "2021-04-01", json!({ "location": "eastus" }))
                .await
                .0,
            201
        );
        let (st, b) = self
            .put(&self.ws(), "2022-10-01", json!({ "location": ws_region }))
            .await;
        assert_eq!(st, 201, "{b}");
        let (st, b) = self
            .put(
                &format!("{}/tables/T_CL", self.ws()),
                "2022-10-01",
                json!({ "properties": { "schema": { "name": "T_CL", "columns": cols() } } }),
            )
            .await;
        assert_eq!(st, 202, "{b}");
        let (st, b) = self
            .put(&self.dce(), "2022-06-01", json!({ "location": dce_region }))
            .await;
        assert_eq!(st, 200, "{b}");
    }

    fn dcr_body(&self, region: &str) -> Value {
        json!({ "location": region, "properties": {
            "dataCollectionEndpointId": self.dce(),
            "streamDeclarations": { "Custom-T_CL": { "columns": cols() } },
            "destinations": { "logAnalytics": [ { "workspaceResourceId": self.ws(), "name": "d" } ] },
            "dataFlows": [ { "streams": ["Custom-T_CL"], "destinations": ["d"], "transformKql": "source", "outputStream": "Custom-T_CL" } ] } })
    }
}

/// An ARM error answer with this code whose message says `text`.
fn assert_error(b: &Value, code: &str, text: &str) {
    assert_eq!(b["error"]["code"], code, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(text),
        "{b}"
    );
}

fn cols() -> Value {
    json!([{ "name": "TimeGenerated", "type": "datetime" }, { "name": "msg", "type": "string" }])
}

/// The one detail of a refused DCR, after checking the envelope is Azure's.
fn detail(status: u16, body: &Value) -> Value {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "InvalidPayload", "{body}");
    assert_eq!(
        body["error"]["message"], "Data collection rule is invalid",
        "{body}"
    );
    let details = body["error"]["details"].as_array().expect("details[]");
    assert_eq!(details.len(), 1, "{body}");
    for k in ["code", "message", "target"] {
        assert!(details[0][k].is_string(), "detail without {k}: {body}");
    }
    details[0].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_table_is_not_an_output_until_a_while_after_it_is_ready_and_the_reason_is_in_details()
{
    let t = T::new(SimConfig {
        table_output_delay: Duration::from_secs(30),
        ..SimConfig::default()
    })
    .await;
    t.base("eastus", "eastus").await;
    // Still in progress: not an output.
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body("eastus")).await;
    let d = detail(st, &b);
    assert_eq!(d["code"], "InvalidOutputTable");
    assert_eq!(d["target"], "properties.dataFlows[0]");
    // Ready, but not yet known to the DCR service.
    t.sim.advance_clock(Duration::from_secs(5));
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body("eastus")).await;
    assert_eq!(detail(st, &b)["code"], "InvalidOutputTable");
    t.sim.advance_clock(Duration::from_secs(30));
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body("eastus")).await;
    assert_eq!(st, 200, "{b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dcr_refusal_is_invalid_payload_with_details() {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    t.sim.advance_clock(Duration::from_secs(60));
    let mut bad = t.dcr_body("eastus");
    bad["properties"]["streamDeclarations"] = json!({ "Keeper": { "columns": cols() } });
    let (st, b) = t.put(&t.dcr(), "2022-06-01", bad).await;
    assert_eq!(detail(st, &b)["code"], "InvalidStreamDeclaration");
    let mut bad = t.dcr_body("eastus");
    bad["properties"]["dataFlows"][0]["destinations"] = json!(["nowhere"]);
    let (st, b) = t.put(&t.dcr(), "2022-06-01", bad).await;
    assert_eq!(detail(st, &b)["code"], "InvalidDataFlow");
    let mut bad = t.dcr_body("eastus");
    bad["properties"]["unknownProperty"] = json!(1);
    let (st, b) = t.put(&t.dcr(), "2022-06-01", bad).await;
    assert_eq!(detail(st, &b)["code"], "InvalidProperty");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dce_and_the_workspace_must_be_in_the_rules_region() {
    let t = T::new(SimConfig::default()).await;
    t.base("westus2", "eastus").await;
    t.sim.advance_clock(Duration::from_secs(60));
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body("eastus")).await;
    let d = detail(st, &b);
    assert_eq!(d["code"], "InvalidDestination", "{b}");
    assert!(
        d["message"]
            .as_str()
            .unwrap_or_default()
            .contains("westus2"),
        "{b}"
    );
    let (st, b) = t.put(&t.dcr(), "2022-06-01", t.dcr_body("westus2")).await;
    let d = detail(st, &b);
    assert_eq!(d["code"], "InvalidDataCollectionEndpoint", "{b}");
    assert_eq!(d["target"], "properties.dataCollectionEndpointId");
    assert!(t.sim.snapshot().resource(&t.dcr()).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_to_an_unknown_location_leaves_the_resource_as_it_was() {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    let (st, b) = t
        .put(&t.dce(), "2022-06-01", json!({ "location": "atlantis" }))
        .await;
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["error"]["code"], "LocationNotAvailableForResourceType");
    let dce = t
        .sim
        .snapshot()
        .resource(&t.dce())
        .expect("the DCE is still there");
    assert_eq!(dce["location"], "eastus");
    let (st, _) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "atlantis" }))
        .await;
    assert_eq!(st, 400);
    assert!(t.sim.snapshot().resource(&t.ws()).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contributor_may_not_write_role_assignments_and_the_permissions_api_says_so() {
    let t = T::new(SimConfig {
        operator_roles: vec![SimRole::Contributor],
        ..SimConfig::default()
    })
    .await;
    t.base("eastus", "eastus").await;
    let sub = t.sim.operator().subscription_id;
    let perms = format!(
        "{}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01",
        t.rg()
    );
    let (st, b) = t.call(Method::GET, &perms, None).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["value"][0]["actions"], json!(["*"]));
    assert!(b["value"][0]["notActions"]
        .as_array()
        .expect("notActions")
        .contains(&json!("Microsoft.Authorization/*/Write")));
    let (_ra, st, b) = t.assign_reader_on_workspace().await;
    assert_eq!(st, 403, "{b}");
    assert_error(
        &b,
        "AuthorizationFailed",
        "'Microsoft.Authorization/roleAssignments/write'",
    );
    // A resource group that does not exist has no permissions to list.
    let missing = format!(
        "/subscriptions/{sub}/resourceGroups/nope/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
    );
    assert_eq!(t.call(Method::GET, &missing, None).await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_access_administrator_with_contributor_may_write_role_assignments() {
    let t = T::new(SimConfig {
        operator_roles: vec![SimRole::Contributor, SimRole::UserAccessAdministrator],
        ..SimConfig::default()
    })
    .await;
    t.base("eastus", "eastus").await;
    let _sub = t.sim.operator().subscription_id;
    let (ra, st, b) = t.assign_reader_on_workspace().await;
    assert_eq!(st, 201, "{b}");
    // Deleting the workspace takes the assignment scoped to it along.
    let (st, _) = t
        .call(
            Method::DELETE,
            &format!("{}?api-version=2022-10-01", t.ws()),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert!(!t
        .sim
        .snapshot()
        .role_assignments()
        .iter()
        .any(|(scope, _, _)| scope.eq_ignore_ascii_case(&t.ws())));
    let (st, _) = t
        .call(Method::GET, &format!("{ra}?api-version=2022-04-01"), None)
        .await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_classic_table_cannot_be_changed_through_the_tables_api() {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    assert!(t.sim.add_classic_table(&t.ws(), "Keeper_CL"));
    assert!(!t
        .sim
        .add_classic_table(&format!("{}-missing", t.ws()), "Keeper_CL"));
    let id = format!("{}/tables/Keeper_CL", t.ws());
    let (st, b) = t
        .call(Method::GET, &format!("{id}?api-version=2022-10-01"), None)
        .await;
    assert_eq!(st, 200);
    assert_eq!(b["properties"]["schema"]["tableSubType"], "Classic");
    let (st, b) = t
        .put(
            &id,
            "2022-10-01",
            json!({ "properties": { "schema": { "name": "Keeper_CL", "columns": cols() } } }),
        )
        .await;
    assert_eq!(st, 400, "{b}");
    assert_error(&b, "InvalidParameter", "please migrate the table first");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_or_delete_needs_its_action_and_is_refused_naming_it() {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    // Role assignments alone (User Access Administrator) make and delete no resource.
    t.sim
        .set_operator_roles(&[SimRole::UserAccessAdministrator]);
    let (st, b) = t
        .call(
            Method::DELETE,
            &format!("{}?api-version=2022-10-01", t.ws()),
            None,
        )
        .await;
    assert_eq!(st, 403, "{b}");
    assert_error(
        &b,
        "AuthorizationFailed",
        "'Microsoft.OperationalInsights/workspaces/delete'",
    );
    let (st, _) = t
        .put(&t.rg(), "2021-04-01", json!({ "location": "eastus" }))
        .await;
    assert_eq!(st, 403, "writing a group needs resourceGroups/write");
    assert!(
        t.sim.snapshot().resource(&t.ws()).is_some(),
        "nothing was deleted"
    );
    // A Contributor may.
    t.sim.set_operator_roles(&[SimRole::Contributor]);
    let (st, b) = t
        .call(
            Method::DELETE,
            &format!("{}?api-version=2022-10-01", t.ws()),
            None,
        )
        .await;
    assert!(st == 200 || st == 202 || st == 204, "{st} {b}");
}

impl T {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn delete(&self, id: &str, query: &str) -> u16 {
        self.call(
            Method::DELETE,
            &format!("{id}?api-version=2022-10-01{query}"),
            None,
        )
        .await
        .0
    }

    /// The names in DeletedWorkspaces_List (`scope` the subscription) or _ListByResourceGroup (a group).
    async fn deleted_under(&self, scope: &str) -> (u16, Vec<Value>) {
        let (st, b) = self
            .get(&format!(
                "{scope}/providers/Microsoft.OperationalInsights/deletedWorkspaces?api-version=2022-10-01"
            ))
            .await;
        (st, b["value"].as_array().cloned().unwrap_or_default())
    }

    fn sub(&self) -> String {
        format!("/subscriptions/{}", self.sim.operator().subscription_id)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_deleted_without_force_is_soft_deleted_and_a_create_recovers_it_in_its_region_only(
) {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    t.sim.advance_clock(Duration::from_secs(60));
    let customer =
        t.sim.snapshot().resource(&t.ws()).expect("ws")["properties"]["customerId"].clone();
    assert_eq!(t.delete(&t.ws(), "").await, 200);

    // Gone to a GET and to the workspace lists; in both deleted-workspace lists, as it was, with its deletion time.
    assert_eq!(
        t.get(&format!("{}?api-version=2022-10-01", t.ws())).await.0,
        404
    );
    let (st, b) = t
        .get(&format!(
            "{}/providers/Microsoft.OperationalInsights/workspaces?api-version=2022-10-01",
            t.sub()
        ))
        .await;
    assert_eq!((st, b["value"].as_array().map(Vec::len)), (200, Some(0)));
    for scope in [t.sub(), t.rg()] {
        let (st, list) = t.deleted_under(&scope).await;
        assert_eq!((st, list.len()), (200, 1), "{scope}: {list:?}");
        assert_eq!(list[0]["name"], "ws-test");
        assert_eq!(list[0]["location"], "eastus");
        assert_eq!(list[0]["properties"]["customerId"], customer);
        assert!(
            list[0]["properties"]["modifiedDate"].is_string(),
            "{}",
            list[0]
        );
    }

    // Another DELETE (even with force) finds nothing: 204, and it stays soft-deleted.
    assert_eq!(t.delete(&t.ws(), "&force=true").await, 204);
    assert_eq!(t.deleted_under(&t.sub()).await.1.len(), 1);

    // A create in another region is refused, and writes nothing.
    let (st, b) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "westus2" }))
        .await;
    assert_eq!(st, 409, "{b}");
    assert_error(&b, "Conflict", "The workspace name 'ws-test' is not unique");
    assert_eq!(b["error"]["target"], "name");
    assert!(t.sim.snapshot().resource(&t.ws()).is_none());

    // In its region, a create recovers it: the same workspace, its table back.
    let (st, b) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "eastus" }))
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["properties"]["customerId"], customer);
    assert!(t.deleted_under(&t.sub()).await.1.is_empty());
    let (st, _) = t
        .get(&format!("{}/tables/T_CL?api-version=2022-10-01", t.ws()))
        .await;
    assert_eq!(st, 200, "the table came back with the workspace");

    // Deleted with force, it is purged: nothing to list, and a create makes a new one.
    assert_eq!(t.delete(&t.ws(), "&force=true").await, 200);
    assert!(t.deleted_under(&t.sub()).await.1.is_empty());
    let (st, b) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "westus2" }))
        .await;
    assert_eq!(st, 201, "{b}");
    assert_ne!(b["properties"]["customerId"], customer);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_resource_group_soft_deletes_its_workspaces_recovered_once_the_group_is_back() {
    let t = T::new(SimConfig::default()).await;
    t.base("eastus", "eastus").await;
    let customer =
        t.sim.snapshot().resource(&t.ws()).expect("ws")["properties"]["customerId"].clone();
    let (st, _) = t
        .call(
            Method::DELETE,
            &format!("{}?api-version=2021-04-01", t.rg()),
            None,
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(t.deleted_under(&t.sub()).await.1.len(), 1);
    let (st, b) = t.deleted_under(&t.rg()).await;
    assert_eq!(st, 404, "{b:?}");

    // The recovery needs the group first ("you must first re-create the resource group").
    let (st, b) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "eastus" }))
        .await;
    assert_eq!(st, 404, "{b}");
    assert_eq!(b["error"]["code"], "ResourceGroupNotFound");
    assert_eq!(
        t.put(&t.rg(), "2021-04-01", json!({ "location": "eastus" }))
            .await
            .0,
        201
    );
    let (st, b) = t
        .put(&t.ws(), "2022-10-01", json!({ "location": "eastus" }))
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["properties"]["customerId"], customer);

    // Past its 14 days, a soft-deleted workspace is gone for good.
    assert_eq!(t.delete(&t.ws(), "").await, 200);
    t.sim.advance_clock(Duration::from_secs(14 * 24 * 3600 + 1));
    assert!(t.deleted_under(&t.sub()).await.1.is_empty());
}
