//! Microsoft Entra ID: the token endpoint (client secret, federated assertion), the App Service managed-identity
//! endpoint, the audiences of the cloud, and the principal a bearer token names.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::json;

use super::{Aud, Req, World};
use crate::reply::{arm_err, token_err, Reply};

/// The tokens issued, by their whole text.
#[derive(Debug, Default)]
pub struct EntraState {
    tokens: HashMap<String, TokenInfo>,
}

#[derive(Debug, Clone)]
struct TokenInfo {
    principal: String,
    aud: Aud,
    expires: Instant,
}

impl EntraState {
    /// Every token issued so far runs out at `at` (`FaultKind::ExpireTokens`).
    pub(super) fn expire_all(&mut self, at: Instant) {
        for t in self.tokens.values_mut() {
            t.expires = at;
        }
    }
}

impl World {
    /// The audience (resource URI) of `aud` in this cloud.
    pub(super) fn audience_uri(&self, aud: Aud) -> &'static str {
        let [arm, graph, monitor, la] = self.cfg.cloud.audiences();
        match aud {
            Aud::Arm => arm,
            Aud::Graph => graph,
            Aud::Monitor => monitor,
            Aud::LogAnalytics => la,
        }
    }

    fn audience_of(&self, scope: &str) -> Option<Aud> {
        let norm = |s: &str| {
            s.trim_end_matches("/.default")
                .trim_end_matches('/')
                .to_ascii_lowercase()
        };
        let want = norm(scope);
        let [arm, graph, monitor, la] = self.cfg.cloud.audiences();
        [
            (arm, Aud::Arm),
            (graph, Aud::Graph),
            (monitor, Aud::Monitor),
            (la, Aud::LogAnalytics),
        ]
        .into_iter()
        .find(|(a, _)| norm(a) == want)
        .map(|(_, k)| k)
    }

    /// The principal (service principal object id) a bearer token names, if it is valid for `aud`.
    pub(super) fn principal(&self, req: &Req, aud: Aud) -> Result<String, Reply> {
        let Some(h) = &req.auth else {
            return Err(arm_err(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let tok = h.strip_prefix("Bearer ").unwrap_or("");
        match self.entra.tokens.get(tok) {
            None => Err(arm_err(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )),
            Some(t) if t.expires < self.now() => Err(arm_err(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry has passed.",
            )),
            Some(t) if t.aud != aud => Err(arm_err(
                401,
                "InvalidAuthenticationTokenAudience",
                "The access token has been obtained for wrong audience or resource.",
            )),
            Some(t) => Ok(t.principal.clone()),
        }
    }

    /// A new bearer token for `principal` and `aud`, valid for an hour of simulated time. Shaped like Entra's
    /// access tokens (a JWT: header, claims, signature; https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference):
    /// clients read `oid` (the caller's object id) and `tid` from it; the signature is random and never checked
    /// by anyone but the simulator, which knows its tokens by their whole text.
    fn issue_token(&mut self, principal: String, aud: Aud) -> String {
        let [arm, graph, monitor, la] = self.cfg.cloud.audiences();
        let audience = match aud {
            Aud::Arm => arm,
            Aud::Graph => graph,
            Aud::Monitor => monitor,
            Aud::LogAnalytics => la,
        };
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 3600)
            .unwrap_or(0);
        let header = b64url(br#"{"typ":"JWT","alg":"RS256"}"#);
        let claims = b64url(
            json!({ "aud": audience, "iss": format!("https://sts.sim/{}/", self.tenant), "tid": self.tenant,
                    "oid": principal, "sub": principal, "idtyp": "app", "exp": exp })
            .to_string()
            .as_bytes(),
        );
        let signature: String = (0..48)
            .map(|_| self.rng.sample(rand::distributions::Alphanumeric) as char)
            .collect();
        let tok = format!("{header}.{claims}.{signature}");
        self.entra.tokens.insert(
            tok.clone(),
            TokenInfo {
                principal,
                aud,
                expires: self.now() + Duration::from_secs(3600),
            },
        );
        tok
    }

    /// A token from the App Service managed-identity endpoint (api-version 2019-08-01): `resource` names the
    /// audience, `X-IDENTITY-HEADER` must be the secret the platform gave the process, and the identity is the
    /// operator's (system-assigned, or user-assigned named by its client id).
    pub fn managed_identity_token(&mut self, req: &Req) -> Reply {
        let fail = |status: u16, message: &str| {
            Reply::json(status, json!({ "statusCode": status, "message": message }))
        };
        if req.identity_header.as_deref() != Some(self.operator.identity_header.as_str()) {
            return fail(401, "The X-IDENTITY-HEADER is missing or wrong.");
        }
        if req.query.get("api-version").map(String::as_str) != Some("2019-08-01") {
            return fail(400, "api-version 2019-08-01 is required.");
        }
        if req
            .query
            .get("client_id")
            .is_some_and(|c| *c != self.operator.client_id)
        {
            return fail(
                400,
                "No managed identity with this client_id is assigned to this resource.",
            );
        }
        let Some(resource) = req.query.get("resource").cloned() else {
            return fail(400, "resource is required.");
        };
        let Some(aud) = self.audience_of(&resource) else {
            return fail(400, "The resource is not known in this tenant.");
        };
        let tok = self.issue_token(self.operator.object_id.clone(), aud);
        let expires_on = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 3600)
            .unwrap_or(0);
        Reply::json(
            200,
            json!({
                "access_token": tok, "expires_on": expires_on.to_string(), "resource": resource,
                "token_type": "Bearer", "client_id": self.operator.client_id,
            }),
        )
    }

    pub fn token(&mut self, tenant: &str, form: &HashMap<String, String>) -> Reply {
        if tenant != self.tenant {
            return token_err(
                "invalid_request",
                90002,
                format!("Tenant '{tenant}' not found."),
            );
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return token_err(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        let Some(aud) = form.get("scope").and_then(|s| self.audience_of(s)) else {
            return token_err(
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {} was not found in the tenant.",
                    form.get("scope").cloned().unwrap_or_default()
                ),
            );
        };
        let Some(app) = self.graph.app_by_client_id(&client_id).cloned() else {
            return token_err(
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            );
        };
        // Which of the app's secrets signed in (its Graph `keyId`), for the sign-in log (signins.rs).
        let mut secret_key = None;
        let authenticated = if let Some(assertion) = form.get("client_assertion") {
            client_id == self.operator.client_id && *assertion == self.operator.federated_token
        } else {
            let given = form.get("client_secret").cloned().unwrap_or_default();
            let op = client_id == self.operator.client_id && given == self.operator.client_secret;
            // A new secret is refused for a while (`SimConfig::credential_activation_delay`): "When I add a
            // passwordCredential to an AAD Application, it does not work right away ... I've observed latency
            // from 4-18 seconds" (https://github.com/microsoftgraph/microsoft-graph-docs/issues/17966).
            secret_key = self.graph.accepted_secret(&app, &given, self.now());
            op || secret_key.is_some()
        };
        if !authenticated {
            const WRONG_SECRET: &str = "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.";
            if let Some(sp) = self.graph.sp_of_app(&client_id).cloned() {
                self.record_sign_in(&sp, None, ("7000215", WRONG_SECRET), aud);
            }
            return token_err("invalid_client", 7000215, WRONG_SECRET);
        }
        let Some(sp) = self.graph.sp_of_app(&client_id) else {
            return token_err(
                "unauthorized_client",
                700016,
                format!(
                    "Application '{client_id}' has no service principal in tenant '{}'.",
                    self.tenant
                ),
            );
        };
        let principal = sp["id"].as_str().unwrap_or_default().to_string();
        // A new service principal is not known to the token service for a while: AADSTS700016, as recorded in
        // "[Bug] AADSTS700016 error for Service Principal" (New-AzADServicePrincipal, then a sign-in that fails
        // until "retry after a few seconds", https://github.com/AzureAD/microsoft-authentication-library-for-dotnet/issues/3706).
        if !self.graph.sp_usable(&principal, self.now()) {
            return token_err(
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                    self.tenant
                ),
            );
        }
        let sp = sp.clone();
        self.record_sign_in(&sp, secret_key.as_deref(), ("0", ""), aud);
        let tok = self.issue_token(principal, aud);
        Reply::json(
            200,
            json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok }),
        )
    }
}

/// Base64url without padding (RFC 4648 section 5), as JWTs use.
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
