//! Faults: the ones a test plans (`Sim::inject`) and the ones chaos draws from the seed; what each does to a request.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::{lc, Req, World};
use crate::api::{Fault, FaultKind};
use crate::reply::{arm_err, Reply};

/// The faults: those a test planned, and what chaos has drawn and seen.
#[derive(Debug, Default)]
pub struct FaultsState {
    /// Planned by a test (`Sim::inject`, `Sim::inject_once_seen`), in the order they were added.
    planned: Vec<FaultState>,
    /// Faults drawn by chaos, by kind, for reports.
    pub chaos_counts: BTreeMap<&'static str, usize>,
    /// How many times chaos has seen each request shape.
    chaos_seen: HashMap<String, u64>,
}

#[derive(Debug, Clone)]
struct FaultState {
    fault: Fault,
    seen: usize,
    hit: usize,
    /// `(method, path part)` of the request that arms this fault (`Sim::inject_once_seen`); until it has been
    /// seen, the fault matches nothing.
    armed_by: Option<(String, String)>,
}

/// What the handler decided about faults for one request.
pub enum FaultAction {
    None,
    Reply(Reply),
    ApplyThen(u16),
    FailLro,
    Reset,
    ApplyThenHang,
    ApplyThenSlow(Duration),
    ApplyThenRun(crate::api::Hook),
}

impl World {
    pub fn add_fault(&mut self, f: Fault) {
        self.faults.planned.push(FaultState {
            fault: f,
            seen: 0,
            hit: 0,
            armed_by: None,
        });
    }

    /// Adds `f`, to match only once a request of `method` whose path contains `path` has been served.
    pub fn add_fault_once_seen(&mut self, method: &str, path: &str, f: Fault) {
        self.faults.planned.push(FaultState {
            fault: f,
            seen: 0,
            hit: 0,
            armed_by: Some((method.to_string(), path.to_string())),
        });
    }

    pub fn clear_faults(&mut self) {
        self.faults.planned.clear();
    }

    pub fn is_write(req: &Req) -> bool {
        let api = req.path.starts_with("/subscriptions") || req.path.starts_with("/v1.0/");
        api && matches!(req.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }

    pub fn fault_for(&mut self, req: &Req) -> FaultAction {
        let planned = self.planned_fault(req);
        if !matches!(planned, FaultAction::None) {
            return planned;
        }
        self.chaos_fault(req)
    }

    /// A fault drawn at random, when chaos is on, for Graph and ARM requests (not operation polls).
    fn chaos_fault(&mut self, req: &Req) -> FaultAction {
        let Some(c) = self.cfg.chaos.clone() else {
            return FaultAction::None;
        };
        let api = req.path.starts_with("/subscriptions") || req.path.starts_with("/v1.0/");
        if !api || req.path.contains("/operationstatuses/") {
            return FaultAction::None;
        }
        // The draw depends on the request (method, path with ids blanked, how many times it was seen) and the
        // seed, not on the order in which concurrent requests arrive: the same seed gives the same faults.
        let shape: String = req
            .path
            .split('/')
            .map(|seg| {
                if uuid::Uuid::parse_str(seg).is_ok()
                    || seg.starts_with("dcr-")
                    || seg.starts_with("dce-")
                {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let key = format!("{} {}", req.method, lc(&shape));
        let seen = self.faults.chaos_seen.entry(key.clone()).or_default();
        *seen += 1;
        let r = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (self.cfg.seed, &key, *seen).hash(&mut h);
            (h.finish() >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut edge = 0.0;
        let mut hit = |p: f64| {
            edge += p;
            r < edge
        };
        let lro = req.method == "PUT"
            && (lc(&req.path).contains("/tables/")
                || lc(&req.path).ends_with(&format!(
                    "/workspaces/{}",
                    lc(req.path.rsplit('/').next().unwrap_or_default())
                )));
        let (name, action) = if hit(c.p429) {
            (
                "429",
                FaultAction::Reply(
                    arm_err(429, "TooManyRequests", "azure-sim chaos: throttled")
                        .header("Retry-After", "1".into()),
                ),
            )
        } else if hit(c.p500) {
            (
                "500",
                FaultAction::Reply(arm_err(
                    500,
                    "InternalServerError",
                    "azure-sim chaos: internal error",
                )),
            )
        } else if hit(c.p503) {
            (
                "503",
                FaultAction::Reply(
                    arm_err(503, "ServiceUnavailable", "azure-sim chaos: unavailable")
                        .header("Retry-After", "1".into()),
                ),
            )
        } else if hit(c.p_reset) {
            ("reset", FaultAction::Reset)
        } else if hit(c.p_slow) {
            ("slow", FaultAction::ApplyThenSlow(c.slow_delay))
        } else if lro && hit(c.p_lro_fail) {
            ("lro-failed", FaultAction::FailLro)
        } else {
            return FaultAction::None;
        };
        *self.faults.chaos_counts.entry(name).or_default() += 1;
        action
    }

    fn planned_fault(&mut self, req: &Req) -> FaultAction {
        let write = World::is_write(req);
        let mut arming = Vec::new();
        for (i, f) in self.faults.planned.iter().enumerate() {
            if let Some((method, path)) = &f.armed_by {
                if method.eq_ignore_ascii_case(&req.method) && req.path.contains(path.as_str()) {
                    arming.push(i);
                }
            }
        }
        let action = self.matching_fault(req, write);
        // Armed by this request: from the next one on.
        for i in arming {
            self.faults.planned[i].armed_by = None;
        }
        action
    }

    fn matching_fault(&mut self, req: &Req, write: bool) -> FaultAction {
        for f in self.faults.planned.iter_mut() {
            if f.armed_by.is_some() {
                continue;
            }
            let m = &f.fault;
            if m.method
                .as_ref()
                .is_some_and(|x| !x.eq_ignore_ascii_case(&req.method))
                || m.path_contains
                    .as_ref()
                    .is_some_and(|p| !req.path.contains(p.as_str()))
                || (m.writes_only && !write)
            {
                continue;
            }
            if f.seen < m.skip {
                f.seen += 1;
                continue;
            }
            if f.hit >= m.times {
                continue;
            }
            f.hit += 1;
            return match &m.kind {
                FaultKind::Status {
                    status,
                    code,
                    retry_after,
                } => {
                    let mut r = arm_err(*status, code, format!("azure-sim injected {code}"));
                    if let Some(s) = retry_after {
                        r = r.header("Retry-After", s.to_string());
                    }
                    FaultAction::Reply(r)
                }
                FaultKind::ApplyThenStatus { status } => FaultAction::ApplyThen(*status),
                FaultKind::FailLro => FaultAction::FailLro,
                FaultKind::ResetConnection => FaultAction::Reset,
                FaultKind::ApplyThenHang => FaultAction::ApplyThenHang,
                FaultKind::ApplyThenRun(hook) => FaultAction::ApplyThenRun(hook.clone()),
                FaultKind::ExpireTokens => {
                    // Every token issued so far runs out now; this request is then served as any other.
                    let now = self.now();
                    let past = now.checked_sub(Duration::from_secs(1)).unwrap_or(now);
                    self.entra.expire_all(past);
                    FaultAction::None
                }
            };
        }
        FaultAction::None
    }
}
