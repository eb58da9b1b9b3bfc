//! The Keeper record a run writes, and the vault it is reached through: what setup, status and rotate-secret
//! hold while they use the record.

use crate::error::Result;
use crate::vault::Vault;

/// The record a run writes, and the vault it is reached through.
pub struct Target {
    pub vault: Vault,
    /// Empty while the record is still to be made in `new_in`.
    pub uid: String,
    /// `--keeper-folder`: the shared folder to make the record in, before the first Azure write.
    pub new_in: Option<String>,
    /// Whether this tool made the record (now or in an earlier run).
    pub created: bool,
}

impl Target {
    /// Redeems a one-time access token in `--ksm-config` (the first read binds it), saving its config.
    pub async fn redeem(&mut self) -> Result<()> {
        let filter = (!self.uid.is_empty()).then_some(self.uid.as_str());
        self.vault.redeem(filter).await
    }

    /// The preflight: the record is writable, or the folder is shared with the application (a one-time access
    /// token is redeemed first).
    pub async fn preflight(&mut self) -> Result<()> {
        self.redeem().await?;
        match &self.new_in {
            Some(folder) => self.vault.check_folder(folder).await?,
            None => self.vault.preflight(&self.uid).await?,
        }
        Ok(())
    }

    /// With `--keeper-folder`, makes the record (titled after the deployment): after the confirmation and
    /// before the first Azure write, so a refused folder stops the run with nothing written in Azure.
    pub async fn make_record(&mut self, title: &str) -> Result<()> {
        if let Some(folder) = self.new_in.take() {
            self.uid = self.vault.create_record(&folder, title).await?;
            self.created = true;
        }
        Ok(())
    }

    /// How the record is named in messages.
    pub fn describe(&self) -> String {
        match &self.new_in {
            Some(f) => format!("a new record in Keeper shared folder {f}"),
            None => format!("Keeper record {}", self.uid),
        }
    }
}
