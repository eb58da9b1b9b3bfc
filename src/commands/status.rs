//! `keeper-azmon status`: each resource of the deployment present, as expected, drifted or missing; secret expiry.

use serde_json::json;

use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::output::Format;
use crate::state::StateFile;
use crate::steps::kind::{self, Health, Look};

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
    for k in kind::REGISTRY {
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
    if args.common.output == Format::Json {
        outln!(
            "{}",
            json!({ "deployment": s.deployment, "healthy": problems == 0, "items": items })
        )?;
    } else {
        outln!("Deployment '{}' ({}):", s.deployment, s.cloud)?;
        for i in &items {
            let mark = if i.health == Health::Ok { "✓" } else { "✗" };
            outln!(
                "  {mark} {:<40} {:<8} {}",
                i.item,
                format!("{:?}", i.health).to_lowercase(),
                i.detail
            )?;
        }
        for h in &hints {
            outln!("  hint: {h}")?;
        }
    }
    if problems > 0 {
        return Err(Error::Unhealthy(problems));
    }
    Ok(())
}
