//! `keeper-azmon cloud show NAME`: prints a cloud profile in the format `--cloud FILE` takes.

use crate::cloud::CloudProfile;
use crate::error::{Error, Result};

pub fn show(name: &str) -> Result<()> {
    let p = CloudProfile::load(name)?;
    let text = serde_json::to_string_pretty(&p).map_err(|e| Error::Other(e.to_string()))?;
    crate::printer::line(format_args!("{text}"))?;
    Ok(())
}
