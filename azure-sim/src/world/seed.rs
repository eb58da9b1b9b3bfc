//! The world as it starts: a tenant, the operator (app, service principal, Owner of one subscription unless
//! `SimConfig::operator_roles` says otherwise), the locations, and the resource providers registered or not.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::arm::ArmState;
use super::rbac::Assignment;
use super::World;
use crate::api::{Operator, SimConfig};
use crate::reply::now_iso;
use crate::schema::Specs;

impl World {
    pub fn new(cfg: SimConfig, base_url: String) -> Result<World, String> {
        let specs = Specs::load()?;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let id = |rng: &mut StdRng| {
            uuid::Builder::from_random_bytes(rng.gen())
                .into_uuid()
                .to_string()
        };
        let tenant = id(&mut rng);
        let sub = id(&mut rng);
        let op_app_id = id(&mut rng);
        let op_object = id(&mut rng);
        let op_app_object = id(&mut rng);
        let secret: String = (0..40)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let federated: String = (0..64)
            .map(|_| rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let operator = Operator {
            tenant_id: tenant.clone(),
            client_id: op_app_id.clone(),
            client_secret: secret.clone(),
            subscription_id: sub.clone(),
            identity_header: format!("msi-{}", &federated[..24]),
            federated_token: federated,
            object_id: op_object.clone(),
        };
        let now = Instant::now();
        let mut w = World {
            specs,
            rng,
            base_url,
            offset: Duration::ZERO,
            tenant,
            operator,
            resources: BTreeMap::new(),
            entra: Default::default(),
            graph: Default::default(),
            arm: ArmState::seeded(&sub, cfg.providers_registered, now),
            rbac: Default::default(),
            workspaces: Default::default(),
            ingest: Default::default(),
            monitor: Default::default(),
            signins: Default::default(),
            faults: Default::default(),
            log: vec![],
            writes: 0,
            hanging: 0,
            keeper: Default::default(),
            cfg,
        };
        w.graph.add_seeded(
            json!({
                "id": op_app_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "signInAudience": "AzureADMyOrg",
                "identifierUris": [], "tags": [], "passwordCredentials": [], "createdDateTime": now_iso(), "publisherDomain": "sim.onmicrosoft.com"
            }),
            json!({ "id": op_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "servicePrincipalType": "Application", "tags": [] }),
            now - Duration::from_secs(3600),
        );
        let roles = w.cfg.operator_roles.clone();
        w.set_operator_roles(&roles, now - Duration::from_secs(3600));
        Ok(w)
    }
}

impl World {
    /// One more subscription in the tenant, with the operator as its Owner (two subscriptions, one tenant: the
    /// app registrations of both live side by side).
    pub fn add_operator_subscription(&mut self, id: &str, name: &str) {
        self.arm.add_subscription(id, name, true);
        let now = self.now();
        let name = self.uuid();
        self.rbac.assignments.push(Assignment {
            id: format!(
                "/subscriptions/{id}/providers/Microsoft.Authorization/roleAssignments/{name}"
            ),
            scope: format!("/subscriptions/{id}"),
            role: super::rbac::OWNER.into(),
            principal: self.operator.object_id.clone(),
            principal_type: Some("ServicePrincipal".into()),
            created: now - Duration::from_secs(3600),
        });
    }
}
