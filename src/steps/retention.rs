//! Table retention for compliance: `--retention-days`, `--total-retention-days` and the `--retention m-21-31`
//! preset, checked against the values Azure allows before anything is written.
//!
//! Source of the allowed values: Microsoft Learn, "Manage data retention in a Log Analytics workspace"
//! (learn.microsoft.com/azure/azure-monitor/logs/data-retention-configure, Tables - Update, api-version 2022-10-01):
//! `retentionInDays` "can be between 4 and 730"; `totalRetentionInDays` "can be between 4 and 730; or 1095, 1460,
//! 1826, 2191, 2556, 2922, 3288, 3653, 4018, or 4383". `templates/sentinel/RETENTION.md` has the details.

use serde::Serialize;

use crate::error::{Error, Result};

/// Interactive (analytics) retention bounds, in days.
pub const INTERACTIVE: std::ops::RangeInclusive<u32> = 4..=730;
/// Total retention above two years is whole years only.
pub const WHOLE_YEARS: [u32; 10] = [1095, 1460, 1826, 2191, 2556, 2922, 3288, 3653, 4018, 4383];

/// `--retention`: a named policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// US federal OMB M-21-31: 12 months active and 18 more in cold storage: 366 days interactive, 1095 in all
    /// (30 months = at most 915 days, rounded up to the next total Azure allows).
    #[value(name = "m-21-31")]
    M2131,
}

/// The retention to set on the table; `None` leaves that value as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Retention {
    pub retention_in_days: Option<u32>,
    pub total_retention_in_days: Option<u32>,
}

/// Whether Azure takes this total retention.
pub fn total_allowed(days: u32) -> bool {
    INTERACTIVE.contains(&days) || WHOLE_YEARS.contains(&days)
}

/// The smallest allowed total retention of at least `days`, if any.
pub fn round_up_total(days: u32) -> Option<u32> {
    if total_allowed(days) {
        return Some(days.max(*INTERACTIVE.start()));
    }
    WHOLE_YEARS.iter().copied().find(|&y| y >= days)
}

fn days(flag: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::input(
            format!("{flag} {v} is not a number of days"),
            "pass a positive number of days",
        )
    })
}

/// Reads and checks the retention flags. A preset excludes the other two (clap enforces it).
pub fn from_args(
    retention_days: Option<i64>,
    total_days: Option<i64>,
    preset: Option<Preset>,
) -> Result<Option<Retention>> {
    if let Some(Preset::M2131) = preset {
        return Ok(Some(Retention {
            retention_in_days: Some(366),
            total_retention_in_days: Some(1095),
        }));
    }
    let interactive = retention_days
        .map(|v| days("--retention-days", v))
        .transpose()?;
    let total = total_days
        .map(|v| days("--total-retention-days", v))
        .transpose()?;
    if let Some(d) = interactive {
        if !INTERACTIVE.contains(&d) {
            return Err(Error::input(
                format!("--retention-days {d} is not allowed"),
                "Azure takes 4 to 730 days of interactive retention; keep older data with --total-retention-days",
            ));
        }
    }
    if let Some(t) = total {
        if !total_allowed(t) {
            let hint = match round_up_total(t) {
                Some(r) => format!("beyond two years Azure takes whole years only (1095, 1460, … 4383 days); the nearest above is {r}"),
                None => "Azure takes at most 4383 days (12 years) of total retention".to_string(),
            };
            return Err(Error::input(
                format!("--total-retention-days {t} is not allowed"),
                hint,
            ));
        }
        // Long-term retention is total minus interactive (Tables.json, archiveRetentionInDays), so the total
        // cannot be shorter than the interactive part.
        if interactive.is_some_and(|d| t < d) {
            return Err(Error::input(
                format!(
                    "--total-retention-days {t} is shorter than --retention-days {}",
                    interactive.unwrap_or_default()
                ),
                "the total includes the interactive days: make it at least as long",
            ));
        }
    }
    Ok(
        (interactive.is_some() || total.is_some()).then_some(Retention {
            retention_in_days: interactive,
            total_retention_in_days: total,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_values_and_the_m_21_31_preset() {
        assert!(total_allowed(730) && total_allowed(1095) && total_allowed(4383));
        assert!(!total_allowed(913) && !total_allowed(3) && !total_allowed(4384));
        assert_eq!(round_up_total(915), Some(1095));
        assert_eq!(round_up_total(5000), None);
        let p = from_args(None, None, Some(Preset::M2131))
            .expect("preset")
            .expect("some");
        assert_eq!(p.retention_in_days, Some(366));
        assert_eq!(p.total_retention_in_days, Some(1095));
        assert!(from_args(Some(731), None, None).is_err());
        assert!(from_args(None, Some(913), None).is_err());
        assert!(from_args(Some(400), Some(365), None).is_err());
        assert_eq!(from_args(None, None, None).expect("none"), None);
        assert!(from_args(Some(90), Some(2191), None).is_ok());
    }
}
