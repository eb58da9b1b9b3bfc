//! The flags that reach the Keeper vault (issue 14): the KSM config and the record, shared by every command
//! that uses the vault; defined here, below the steps that read them, and flattened into the commands by cli.rs.

use std::path::PathBuf;

use clap::Args;

/// The KSM config a command reaches the Keeper vault through (issue 14).
#[derive(Args, Clone, Default)]
pub struct KsmArgs {
    /// Keeper Secrets Manager config: a file, its base64 text (Keeper vault > Secrets Manager > the application >
    /// Devices > Add Device > Configuration File), or a one-time access token (REGION:TOKEN, e.g. US:…, GOV:…),
    /// which needs --ksm-config-out. Default: the file the state names.
    #[arg(long, env = "KSM_CONFIG", hide_env_values = true)]
    pub ksm_config: Option<String>,
    /// Where to save (mode 0600) the config a one-time access token in --ksm-config yields; the state remembers
    /// this path, later runs use it.
    #[arg(long, env = "KEEPER_AZMON_KSM_CONFIG_OUT")]
    pub ksm_config_out: Option<PathBuf>,
}

/// Never shows the KSM config: it holds the device's private key (or the one-time token).
impl std::fmt::Debug for KsmArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KsmArgs")
            .field(
                "ksm_config",
                &self.ksm_config.as_ref().map(|_| "<redacted>"),
            )
            .field("ksm_config_out", &self.ksm_config_out)
            .finish()
    }
}

/// The Keeper vault through Keeper Secrets Manager (issue 14): the config and the record.
#[derive(Args, Clone, Default, Debug)]
pub struct KeeperArgs {
    #[command(flatten)]
    pub ksm: KsmArgs,
    /// UID of the Keeper record to put the Admin Console values in (the KSM application needs Can Edit on it).
    /// Default: the state's record.
    #[arg(long, env = "KEEPER_AZMON_KEEPER_RECORD", allow_hyphen_values = true)]
    pub keeper_record: Option<String>,
    /// UID of a shared folder to create the record in (titled after the deployment), instead of --keeper-record.
    #[arg(
        long,
        env = "KEEPER_AZMON_KEEPER_FOLDER",
        conflicts_with = "keeper_record",
        allow_hyphen_values = true
    )]
    pub keeper_folder: Option<String>,
}

/// The KSM config of a command that only reads the vault and never redeems a one-time access token (status,
/// teardown): no `--ksm-config-out`.
#[derive(Args, Clone, Default)]
pub struct KsmReadArgs {
    /// Keeper Secrets Manager config: a file or its base64 text (Keeper vault > Secrets Manager > the
    /// application > Devices > Add Device > Configuration File). Default: the file the state names.
    #[arg(long, env = "KSM_CONFIG", hide_env_values = true)]
    pub ksm_config: Option<String>,
}

impl KsmReadArgs {
    /// As the vault takes it: nowhere to save a redeemed token's config.
    pub fn to_ksm(&self) -> KsmArgs {
        KsmArgs {
            ksm_config: self.ksm_config.clone(),
            ksm_config_out: None,
        }
    }
}

/// Never shows the KSM config.
impl std::fmt::Debug for KsmReadArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KsmReadArgs")
            .field(
                "ksm_config",
                &self.ksm_config.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The Keeper record of a command that reads it (status): the config and the record, no folder to create one in.
#[derive(Args, Clone, Default, Debug)]
pub struct KeeperReadArgs {
    #[command(flatten)]
    pub ksm: KsmReadArgs,
    /// UID of the Keeper record to read the Admin Console values from (the KSM application needs at least Can
    /// View on it). Default: the state's record.
    #[arg(long, env = "KEEPER_AZMON_KEEPER_RECORD", allow_hyphen_values = true)]
    pub keeper_record: Option<String>,
}

impl KeeperReadArgs {
    /// As the vault steps take it.
    pub fn to_keeper(&self) -> KeeperArgs {
        KeeperArgs {
            ksm: self.ksm.to_ksm(),
            keeper_record: self.keeper_record.clone(),
            keeper_folder: None,
        }
    }
}
