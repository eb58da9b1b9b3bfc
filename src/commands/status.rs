//! `keeper-azmon status`: each resource of the deployment present, as expected, drifted or missing; secret expiry.

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
    items: Vec<Item>,
    /// What to do about the items, once each (human output only).
    #[serde(skip)]
    hints: Vec<Hint>,
}

impl Report for StatusReport {
    fn human(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        writeln!(w, "Deployment '{}' ({}):", self.deployment, self.cloud)?;
        for i in &self.items {
            let mark = if i.health == Health::Ok { "✓" } else { "✗" };
            writeln!(
                w,
                "  {mark} {:<40} {:<8} {}",
                i.item,
                format!("{:?}", i.health).to_lowercase(),
                i.detail
            )?;
        }
        for h in &self.hints {
            writeln!(w, "  hint: {h}")?;
        }
        Ok(())
    }
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
    let (label, profile, rest) = super::connect(&args.common, &s)?;
    if !from_file {
        let (Some(d), Some(sub)) = (&args.deployment, &args.subscription) else {
            return Err(Error::input(
                format!("no state file at {}", args.common.state.display()),
                "pass --state with the file setup wrote, or --deployment and --subscription to find the deployment by its tag",
            ));
        };
        s = crate::discover::by_tag(&rest, sub, d, &label).await?;
    }
    let keeper = crate::steps::keeper::ready(&args.keeper, &s, &profile, &rest.http).await?;
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
    let problems = items.iter().filter(|i| i.health != Health::Ok).count();
    let report = StatusReport {
        deployment: s.deployment.clone(),
        cloud: s.cloud.clone(),
        healthy: problems == 0,
        items,
        hints,
    };
    printer::print(args.common.output, &report)?;
    if problems > 0 {
        return Err(Error::Unhealthy(problems));
    }
    Ok(())
}
