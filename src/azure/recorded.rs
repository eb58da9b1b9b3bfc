//! Real Azure answers (tests/fixtures/recorded/, sources in its README) through the tool's readers: what Azure
//! sends back is read as setup expects, and drift detection finds no drift where Azure only restates what it was
//! given (standard columns listed apart, resource ids normalised, fields added).

use serde_json::{json, Value};

use super::dce::Dce;
use super::dcr::{self, Dcr};
use super::graph::{Application, PasswordCredential, ServicePrincipal};
use super::roles;
use super::workspace::{column_pairs, columns_from, Table, Workspace};
use crate::rest::azure_error;

macro_rules! recorded {
    ($file:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../tests/fixtures/recorded/",
            $file
        )))
        .expect(concat!($file, " is JSON"))
    };
}

#[test]
fn a_recorded_workspace_reads_its_state_and_customer_id() {
    let ws: Workspace = serde_json::from_value(recorded!("workspace-get.json")).expect("reads");
    assert_eq!(ws.provisioning_state(), Some("Succeeded"));
    assert_eq!(
        ws.customer_id(),
        Some("51070179-34c9-44d3-8680-15ccfabd6ac2")
    );
    assert_eq!(ws.location, "westeurope");
    // No tags at all in the answer: read as none, not an error.
    assert!(ws.tags.is_empty() && !ws.has_tag("anything"));

    // ARM may answer the id in lower case (resourcegroups, microsoft.operationalinsights).
    let lower: Workspace =
        serde_json::from_value(recorded!("workspace-get-lowercase-id.json")).expect("reads");
    assert_eq!(lower.provisioning_state(), Some("Succeeded"));
    assert_eq!(lower.location, "eastus");
}

#[test]
fn a_recorded_table_lists_its_standard_columns_apart_and_shows_no_drift() {
    let table: Table = serde_json::from_value(recorded!("table-get.json")).expect("reads");
    let sent = recorded!("table-put-request.json");
    let sent_columns = columns_from(&sent["properties"]["schema"]["columns"]);
    // The columns read back are the columns sent, extra fields (isHidden, isDefaultDisplay) aside; TenantId,
    // which Azure adds, is in `standardColumns` and not among them.
    assert_eq!(table.columns(), column_pairs(&sent_columns));
    assert!(table.columns().iter().all(|(n, _)| n != "TenantId"));
    assert!(!table.is_classic());
}

#[test]
fn a_recorded_dce_reads_its_logs_ingestion_endpoint() {
    let dce: Dce = serde_json::from_value(recorded!("dce-get.json")).expect("reads");
    assert_eq!(
        dce.logs_ingestion_endpoint(),
        Some("https://endpoint2-j5je.eastus2euap-1.canary.ingest.monitor.azure.com")
    );
    assert_eq!(dce.location, "eastus2euap");
}

#[test]
fn a_recorded_dcr_reads_its_immutable_id_and_stream_columns_as_sent() {
    let rule: Dcr = serde_json::from_value(recorded!("dcr-put.json")).expect("reads");
    assert_eq!(
        rule.immutable_id(),
        Some("dcr-e36af0f97e844eea9fe7d72319c1f671")
    );
    let stream = &rule.properties.stream_declarations["Custom-stream-1"];
    assert_eq!(stream.columns.len(), 14);
    assert_eq!(stream.columns[0].name, "TimeGenerated");
}

#[test]
fn a_recorded_dcr_with_normalised_ids_matches_the_rule_the_tool_sends() {
    // A real GET: the destination's id comes back with the provider namespace in lower case, a `workspaceId`
    // and the flow's `destinations` are added, and the rule gains etag, id, name and type.
    let got: Dcr =
        serde_json::from_value(recorded!("dcr-get-log-analytics-excerpt.json")).expect("reads");
    assert_eq!(
        got.output_stream(),
        Some("Custom-Historical_AzPolicyComplianceDetails_CL")
    );
    let stream = "Custom-Historical_AzPolicyComplianceDetails_CL";
    // What the tool would send for that rule, with the ids as a person types them.
    let mut want = dcr::read(&dcr::body(
        "westeurope",
        json!({}),
        "",
        "/subscriptions/9yyyyy/resourceGroups/rg-int-dgs-lab-its-itinfra-1/providers/Microsoft.OperationalInsights/workspaces/policyworkspace",
        stream,
        &json!([]),
    ));
    // The excerpt holds neither the rule's stream declaration nor a DCE id; and it transforms where the tool's
    // rule sends `source` as is.
    want.properties.stream_declarations.clear();
    want.properties.data_collection_endpoint_id = None;
    want.properties.data_flows[0].transform_kql =
        got.properties.data_flows[0].transform_kql.clone();
    assert!(
        got.matches(&want),
        "a restated rule is not drift:\n{got:?}\n{want:?}"
    );

    // And the tool's own rule, restated the way Azure restates it, is no drift either.
    let dce = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/dataCollectionEndpoints/KeeperLogsEndpoint";
    let ws = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/KeeperLogsWorkspace";
    let columns = crate::steps::inputs::table_columns();
    let sent = dcr::body(
        "eastus",
        json!({"keeper-azmon": "rg"}),
        dce,
        ws,
        "Custom-KeeperLogs_CL",
        &columns,
    );
    let mut answered = sent.clone();
    let p = &mut answered["properties"];
    p["immutableId"] = json!("dcr-00000000000000000000000000000000");
    p["provisioningState"] = json!("Succeeded");
    p["dataCollectionEndpointId"] = json!(dce.to_ascii_lowercase());
    p["destinations"]["logAnalytics"][0]["workspaceResourceId"] = json!(ws.replace(
        "Microsoft.OperationalInsights",
        "microsoft.operationalinsights"
    ));
    p["destinations"]["logAnalytics"][0]["workspaceId"] = json!("zzzzzz");
    answered["etag"] = json!("\"b6009126-0000-0d00-0000-66ab755d0000\"");
    let answered: Dcr = serde_json::from_value(answered).expect("reads");
    assert!(answered.matches(&dcr::read(&sent)));
}

#[test]
fn recorded_graph_answers_read_as_application_service_principal_and_secret() {
    let app: Application =
        serde_json::from_value(recorded!("graph-application-post.json")).expect("reads");
    assert_eq!(app.id, "88cf6d82-d8e6-41af-8205-71bfbff43d56");
    assert_eq!(app.app_id, "6002bdc3-7496-4654-aa6a-99454f15a071");
    assert!(app.identifier_uris.is_empty() && app.password_credentials.is_empty());

    let sp: ServicePrincipal =
        serde_json::from_value(recorded!("graph-service-principal-post.json")).expect("reads");
    assert_eq!(sp.id, "0207ee96-75b6-43d8-af87-f8718fde0acc");

    // addPassword: the metadata the app lists later, and the value only this answer carries.
    let body = recorded!("graph-add-password.json");
    let cred: PasswordCredential = serde_json::from_value(body.clone()).expect("reads");
    assert_eq!(cred.key_id, "686d736f-a077-4654-8e47-f71f608a9dd2");
    assert_eq!(cred.end_date_time.as_deref(), Some("2024-08-23T12:43:54Z"));
    assert!(body["secretText"].is_string());
}

#[test]
fn a_recorded_role_assignment_reads_its_scope_role_and_principal() {
    let (a, principal) = roles::read(recorded!("role-assignment-put.json")).expect("reads");
    assert_eq!(principal, "0207ee96-75b6-43d8-af87-f8718fde0acc");
    assert_eq!(
        a.scope,
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cli_sp_create_for_rbac000001"
    );
    assert!(a
        .role_definition_id
        .ends_with("acdd72a7-3385-48ef-bd42-f606fba81ae7"));
    assert!(a
        .id
        .ends_with("/roleAssignments/88888888-0000-0000-0000-000000000001"));
}

#[test]
fn recorded_error_bodies_keep_their_code_and_message() {
    let e = azure_error(
        403,
        &recorded!("graph-error-authorization-denied.json"),
        "GET /v1.0/applications".into(),
    );
    assert_eq!(e.code, "Authorization_RequestDenied");
    assert_eq!(
        e.message,
        "Insufficient privileges to complete the operation."
    );
    assert_eq!(e.hint, crate::error::Hint::NeedsPermission, "{}", e.hint);

    let e = azure_error(
        400,
        &recorded!("arm-error-bad-request.json"),
        "PUT /x".into(),
    );
    assert_eq!(e.code, "BadRequest");
    assert!(e.message.starts_with("This workspace is missing"));

    let e = azure_error(
        400,
        &recorded!("arm-error-dcr-invalid-payload.json"),
        "PUT /x".into(),
    );
    assert_eq!(e.code, "InvalidPayload");
    assert_eq!(e.message, "Data collection rule is invalid");
}
