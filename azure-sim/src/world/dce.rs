//! Data collection endpoints (`Microsoft.Insights/dataCollectionEndpoints`).

use serde_json::{json, Value};

use super::World;
use crate::reply::{arm_err, Reply};
use crate::schema;

impl World {
    pub(super) fn put_dce(
        &mut self,
        id: &str,
        name: &str,
        body: &Value,
        existing: Option<Value>,
    ) -> Reply {
        if let Err(r) = self.validate(
            schema::DCE,
            "DataCollectionEndpointResource",
            body,
            "InvalidPayload",
        ) {
            return r;
        }
        if name.len() < 3
            || name.len() > 44
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return arm_err(
                400,
                "InvalidPayload",
                format!("The data collection endpoint name '{name}' is invalid."),
            );
        }
        let imm = existing
            .as_ref()
            .and_then(|e| e.pointer("/properties/immutableId").cloned())
            .unwrap_or_else(|| json!(format!("dce-{}", self.hex(32))));
        let mut props = body.get("properties").cloned().unwrap_or(json!({}));
        props["immutableId"] = imm;
        props["logsIngestion"] = json!({ "endpoint": self.base_url });
        props["configurationAccess"] = json!({ "endpoint": self.base_url });
        props["metricsIngestion"] = json!({ "endpoint": self.base_url });
        props["provisioningState"] = json!("Succeeded");
        let rb = json!({ "id": id, "name": name, "type": "Microsoft.Insights/dataCollectionEndpoints", "location": body["location"], "tags": body.get("tags").cloned().unwrap_or(json!({})), "properties": props });
        self.store_ready(id, rb.clone());
        Reply::json(200, rb)
    }
}
