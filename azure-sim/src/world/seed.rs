//! The world as it starts: a tenant, the operator (app, service principal, Owner of one subscription unless
//! `SimConfig::operator_roles` says otherwise), the locations, and the resource providers registered or not.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::{lc, Assignment, World};
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
            subscriptions: vec![(sub.clone(), "Keeper Sim Subscription".into(), true)],
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
            apps: vec![],
            secrets: HashMap::new(),
            sps: vec![],
            owners: HashMap::new(),
            users: vec![],
            creator_becomes_owner: true,
            sp_created: HashMap::new(),
            tokens: HashMap::new(),
            providers: HashMap::new(),
            resources: BTreeMap::new(),
            assignments: vec![],
            operations: HashMap::new(),
            rows: HashMap::new(),
            had_data: Default::default(),
            deleted_tables: Default::default(),
            soft_deleted: Default::default(),
            faults: vec![],
            log: vec![],
            writes: 0,
            ingested: 0,
            hanging: 0,
            sp_delay: HashMap::new(),
            graph_visible_at: HashMap::new(),
            sp_usable_at: HashMap::new(),
            chaos_counts: BTreeMap::new(),
            chaos_seen: HashMap::new(),
            keeper: Default::default(),
            cfg,
        };
        let registered = if w.cfg.providers_registered {
            "Registered"
        } else {
            "NotRegistered"
        };
        for ns in [
            "Microsoft.Insights",
            "Microsoft.OperationalInsights",
            "Microsoft.SecurityInsights",
        ] {
            w.providers.insert(lc(ns), (registered.to_string(), now));
        }
        w.apps.push(json!({
            "id": op_app_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "signInAudience": "AzureADMyOrg",
            "identifierUris": [], "tags": [], "passwordCredentials": [], "createdDateTime": now_iso(), "publisherDomain": "sim.onmicrosoft.com"
        }));
        w.sps.push(json!({ "id": op_object, "appId": op_app_id, "displayName": "keeper-azmon operator", "servicePrincipalType": "Application", "tags": [] }));
        w.sp_created
            .insert(op_object.clone(), now - Duration::from_secs(3600));
        let roles = w.cfg.operator_roles.clone();
        w.set_operator_roles(&roles, now - Duration::from_secs(3600));
        Ok(w)
    }
}

impl World {
    /// One more subscription in the tenant, with the operator as its Owner (two subscriptions, one tenant: the
    /// app registrations of both live side by side).
    pub fn add_operator_subscription(&mut self, id: &str, name: &str) {
        self.subscriptions
            .push((id.to_string(), name.to_string(), true));
        let now = self.now();
        let name = self.uuid();
        self.assignments.push(Assignment {
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
