//! `keeper-azmon status`: each resource of the deployment present, as expected, drifted or missing; secret expiry;
//! and whether Keeper streams (its newest event, the last 24 h, ingestion errors, the secret it signs in with).

use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::printer::{self, Hint, Report};
use crate::state::StateFile;
use crate::steps::kind::{Health, Look};

/// `status`'s report: one item per resource, role and secret of the deployment (docs/json.md).
#[derive(Debug, serde::Serialize)]
pub struct StatusReport {
    deployment: String,
    /// Shown in the heading only.
    #[serde(skip)]
    cloud: String,
    healthy: bool,
    /// Whether Keeper streams: null without the workspace's outputs in the state.
    stream: Option<Stream>,
    items: Vec<Item>,
    /// What to do about the items, once each (human output only).
    #[serde(skip)]
    hints: Vec<Hint>,
}

impl Report for StatusReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "Deployment '{}' ({}):", self.deployment, self.cloud)?;
        // The item column as wide as the longest item (Sentinel rules run past 40), so the health column aligns.
        let width = self
            .items
            .iter()
            .map(|i| i.item.chars().count())
            .max()
            .unwrap_or(0)
            .max(40);
        for i in &self.items {
            let mark = if i.health == Health::Ok { "✓" } else { "✗" };
            writeln!(
                w,
                "  {mark} {:<width$} {:<8} {}",
                i.item,
                format!("{:?}", i.health).to_lowercase(),
                crate::resource_id::short(&i.detail)
            )?;
        }
        if let Some(st) = &self.stream {
            writeln!(w, "  {}", st.line())?;
            if let Some(si) = &st.last_sign_in {
                writeln!(w, "  {}", si.line())?;
            }
            for a in &st.attention {
                writeln!(w, "  ! {a}")?;
            }
        }
        for h in &self.hints {
            writeln!(w, "  hint: {h}")?;
        }
        Ok(())
    }
}

/// What the workspace says of Keeper's stream (docs/json.md, `stream`).
#[derive(Debug, Default, serde::Serialize)]
struct Stream {
    /// The newest event Keeper itself sent (RFC 3339): test events and backfilled history left out.
    last_event: Option<String>,
    /// Its `audit_event`.
    last_audit_event: Option<String>,
    /// Keeper's events of the last 24 h; null when the workspace could not be read.
    events_24h: Option<u64>,
    /// `DCRLogErrors` rows of the DCR in the last 24 h; null without the DCR's diagnostic setting.
    errors_24h: Option<u64>,
    /// The hours of silence after which "Keeper events stopped" fires (24 without --alert-email).
    silence_hours: u32,
    /// Why the workspace's data could not be read, and the role that would let it.
    #[serde(skip_serializing_if = "Option::is_none")]
    unreadable: Option<String>,
    /// The app's newest sign-in with a secret, where the workspace has Entra's sign-in logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_sign_in: Option<SignInSeen>,
    /// What needs attention soon (exit 5).
    attention: Vec<String>,
    /// Human output: the time it was read.
    #[serde(skip)]
    now: Option<time::OffsetDateTime>,
}

/// Which of the app's secrets Keeper signed in with last.
#[derive(Debug, serde::Serialize)]
struct SignInSeen {
    at: String,
    key_id: String,
    /// `current` (the secret the state records), `retired` (one rotate-secret replaced) or `unknown`.
    secret: &'static str,
}

impl SignInSeen {
    fn line(&self) -> String {
        let which = match self.secret {
            "current" => "the current secret",
            "retired" => "a retired secret (rotate-secret replaced it)",
            _ => "a secret this deployment does not know",
        };
        format!(
            "Keeper signed in last with {which}: key id {}, at {}",
            self.key_id, self.at
        )
    }
}

impl Stream {
    fn line(&self) -> String {
        if let Some(why) = &self.unreadable {
            return format!("Keeper: the stream could not be read: {why}");
        }
        let now = self.now.unwrap_or_else(time::OffsetDateTime::now_utc);
        let errors = match self.errors_24h {
            None => "ingestion errors not watched (no diagnostic setting on the DCR)".to_string(),
            Some(0) => "no ingestion errors".to_string(),
            Some(n) => format!(
                "{} ingestion error(s) in 24 h (DCRLogErrors)",
                crate::watch::grouped(n)
            ),
        };
        match (&self.last_event, &self.last_audit_event) {
            (Some(at), what) => format!(
                "Keeper: last event {}{}, {} in 24 h; {errors}",
                crate::watch::ago(at, now),
                what.as_deref().map(|w| format!(" ({w})")).unwrap_or_default(),
                crate::watch::grouped(self.events_24h.unwrap_or(0)),
            ),
            (None, _) => format!(
                "Keeper: no event from Keeper yet: paste the values into the Admin Console (then `keeper-azmon verify --keeper --wait`); {errors}"
            ),
        }
    }
}

/// Reads the stream from the deployment's workspace. A refusal to read is reported, not fatal.
async fn stream(rest: &crate::rest::Rest, s: &crate::state::State) -> Option<Stream> {
    let o = s
        .outputs
        .as_ref()
        .filter(|o| !o.workspace_customer_id.is_empty())?;
    let silence = s
        .alert_silence_hours
        .unwrap_or(crate::steps::monitor::DEFAULT_SILENCE_HOURS);
    let mut st = Stream {
        silence_hours: silence,
        now: Some(time::OffsetDateTime::now_utc()),
        ..Stream::default()
    };
    if let Err(e) = read_stream(rest, s, o, &mut st).await {
        let first = e.to_string().lines().next().unwrap_or_default().to_string();
        if crate::watch::is_forbidden(&e) {
            let workspace = s
                .resources
                .get(&crate::steps::Key::Workspace.to_string())
                .map(|w| crate::azure::name_of(&w.id).to_string())
                .unwrap_or_default();
            st.unreadable = Some(format!(
                "the signed-in identity may not read the data of workspace {workspace} ({first}): Log Analytics Reader (or Reader) on it would let it"
            ));
        } else {
            // Not a question of access: whatever it is, a pipeline should hear of it.
            st.unreadable = Some(first.clone());
            st.attention
                .push(format!("the stream could not be read: {first}"));
        }
    }
    Some(st)
}

/// Fills `st` from the workspace.
async fn read_stream(
    rest: &crate::rest::Rest,
    s: &crate::state::State,
    o: &crate::state::Outputs,
    st: &mut Stream,
) -> Result<()> {
    use crate::steps::Key;
    use crate::watch::{hours_since, Reader, SignIns};
    let silence = st.silence_hours;
    let reader = Reader::open(
        &rest.http,
        &rest.profile,
        &rest.auth,
        &o.workspace_customer_id,
    )
    .await?;
    let last = reader.last_event(&o.table).await?;
    let events = reader.events_within(&o.table, 24).await?;
    st.events_24h = Some(events);
    st.last_event = last.as_ref().map(|l| l.at.clone());
    st.last_audit_event = last.map(|l| l.audit_event);
    let dcr = s.resources.get(&Key::Dcr.to_string()).map(|r| r.id.clone());
    if let (Some(dcr), true) = (
        dcr,
        s.resources
            .contains_key(&Key::DiagnosticSetting.to_string()),
    ) {
        st.errors_24h = Some(reader.errors_within(&dcr, 24).await?);
    }
    if let SignIns::Last(Some(si)) = reader.last_sign_in(&o.client_id, None).await? {
        let current = s
            .secret
            .as_ref()
            .is_some_and(|c| c.key_id.eq_ignore_ascii_case(&si.key_id));
        let retired = s
            .retired_secrets
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&si.key_id));
        st.last_sign_in = Some(SignInSeen {
            secret: if current {
                "current"
            } else if retired {
                "retired"
            } else {
                "unknown"
            },
            at: si.at,
            key_id: si.key_id,
        });
    }
    let now = st.now.unwrap_or_else(time::OffsetDateTime::now_utc);
    // Silent: Keeper sent before, but nothing within the window (counted by the workspace, on Azure's clock, as
    // the alert counts); or it never sent, and setup first ran longer ago than the window.
    let silent = match &st.last_event {
        Some(_) if silence == 24 => events == 0,
        Some(_) => reader.events_within(&o.table, silence).await? == 0,
        None => s
            .created_at
            .as_deref()
            .and_then(|t| hours_since(t, now))
            .is_some_and(|h| h > f64::from(silence)),
    };
    if silent {
        st.attention.push(match &st.last_event {
            Some(_) => format!("Keeper has sent no event for longer than {silence} h: check the Admin Console's Azure Monitor Logs settings and the client secret"),
            None => format!("no event from Keeper in the {silence} h since setup: paste the values into the Admin Console"),
        });
    }
    if let Some(n) = st.errors_24h.filter(|n| *n > 0) {
        st.attention.push(format!(
            "{n} of Keeper's posts were refused in the last 24 h: `DCRLogErrors | where _ResourceId =~ \"<dcr id>\"` in the workspace says why"
        ));
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct Item {
    item: String,
    health: Health,
    detail: String,
}

pub async fn execute(args: StatusArgs) -> Result<()> {
    let from_file = args.common.state.exists();
    let mut s = if from_file {
        StateFile::read(&args.common.state)?
    } else {
        crate::state::State::default()
    };
    super::agreed(
        "--subscription",
        args.subscription.as_deref(),
        &s.subscription_id,
    )?;
    // Before signing in: without a state file, the tag to look for.
    let by_tag = match (&args.deployment, &args.subscription) {
        (Some(d), Some(sub)) => Some((d, sub)),
        _ if from_file => None,
        _ => {
            return Err(Error::input(
                format!("no state file at {}", args.common.state.display()),
                "pass --state with the file setup wrote, or --deployment and --subscription to find the deployment by its tag",
            ))
        }
    };
    let (label, profile, rest) = super::connect(&args.common, &s)?;
    if !from_file {
        if let Some((d, sub)) = by_tag {
            s = crate::discover::by_tag(&rest, sub, d, &label).await?;
        }
    }
    let keeper =
        crate::steps::keeper::ready(&args.keeper.to_keeper(), &s, &profile, &rest.http).await?;
    let look = Look::new(&rest, &s, keeper);
    let mut items = vec![];
    let mut hints = vec![];
    for k in crate::steps::registry::REGISTRY {
        for it in k.watched(&look) {
            let c = k.health(&look, &it).await?;
            if let Some(h) = c.hint.filter(|h| !hints.contains(h)) {
                hints.push(h);
            }
            items.push(Item {
                item: it.key.to_string(),
                health: c.health,
                detail: c.detail,
            });
        }
    }
    let problems = items
        .iter()
        .filter(|i| !matches!(i.health, Health::Ok | Health::Expiring))
        .count();
    let expiring = items
        .iter()
        .filter(|i| i.health == Health::Expiring)
        .count();
    let stream = stream(&rest, &s).await;
    let attention = expiring + stream.as_ref().map_or(0, |st| st.attention.len());
    let report = StatusReport {
        deployment: s.deployment.clone(),
        cloud: s.cloud.clone(),
        healthy: problems == 0,
        stream,
        items,
        hints,
    };
    printer::print(args.common.output, &report)?;
    if problems > 0 {
        return Err(Error::Unhealthy(problems));
    }
    if attention > 0 {
        return Err(Error::Attention(attention));
    }
    Ok(())
}
