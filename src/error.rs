//! The tool's error types: Azure errors keep their code, message and resource, and every error carries a next step.

use std::fmt;

/// An error answered by an Azure API (ARM, Graph, the token endpoint, Logs Ingestion or Log Analytics).
#[derive(Debug, Clone)]
pub struct AzureError {
    /// HTTP status, 0 when no answer came back.
    pub status: u16,
    /// Azure's error code (`PrincipalNotFound`, `AuthorizationFailed`, ...).
    pub code: String,
    pub message: String,
    /// `METHOD url-path` of the failing request: the resource it was about.
    pub resource: String,
    /// What to do next.
    pub hint: Hint,
    /// The reasons Azure gives in `error.details[]` (a refused DCR says why only there).
    pub details: Vec<ErrorDetail>,
}

/// One entry of an ARM error's `details[]`: `{code, message, target}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    /// The property it is about (`properties.dataFlows[0]`), when Azure says.
    pub target: Option<String>,
}

impl AzureError {
    /// The same error without its hint, for a message that gives its own.
    pub fn without_hint(&self) -> AzureError {
        AzureError {
            hint: Hint::None,
            ..self.clone()
        }
    }

    /// Whether Azure named `code`, as the error's own code or in one of its details.
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code || self.details.iter().any(|d| d.code == code)
    }
}

impl fmt::Display for AzureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.resource)?;
        if self.status != 0 {
            write!(f, " with HTTP {}", self.status)?;
        }
        write!(f, ": {}: {}", self.code, self.message)?;
        for d in &self.details {
            write!(f, "\n  - {}: {}", d.code, d.message)?;
            if let Some(t) = &d.target {
                write!(f, " (at {t})")?;
            }
        }
        if !self.hint.is_empty() {
            write!(f, "\nhint: {}", self.hint)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong, one variant per kind of cause.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Azure(Box<AzureError>),
    #[error("{what}\nhint: {hint}")]
    Input { what: String, hint: Hint },
    #[error("sign-in failed: {what}\nhint: {hint}")]
    Auth { what: String, hint: Hint },
    /// A failure reaching `host` that no retry fixes (an untrusted certificate, a name that does not resolve).
    #[error("cannot reach {host}: {what}\nhint: {hint}")]
    Network {
        /// `UntrustedCertificate` or `HostNotFound` (see `net::Unfixable::code`).
        code: &'static str,
        host: String,
        what: String,
        hint: Hint,
    },
    #[error("state file {path}: {what}\nhint: {hint}")]
    State {
        path: String,
        what: String,
        hint: Hint,
    },
    #[error("step '{step}' failed: {source}")]
    Step {
        step: String,
        #[source]
        source: Box<Error>,
    },
    #[error("{0} problem(s) found\nhint: re-run `keeper-azmon setup` with the same inputs to repair drifted or missing resources")]
    Unhealthy(usize),
    /// What `status` found that needs attention soon: a secret expiring within 30 days, Keeper silent longer than
    /// the alert window, ingestion errors in the last 24 h.
    #[error("{0} thing(s) need attention soon\nhint: see the lines marked ! above")]
    Attention(usize),
    /// `verify --keeper` found no event that Keeper itself sent.
    #[error("no event from Keeper in the table yet\nhint: {0}")]
    NoKeeperEvent(Hint),
    #[error("interrupted: the steps in flight finished and are recorded in the state file\nhint: re-run the same command to resume where this one stopped")]
    Interrupted,
    /// stdout (or stderr) could not be written. `closed`: its reader is gone (a closed pipe), which ends the
    /// command quietly, as other command-line tools do.
    #[error(
        "cannot write to {stream}: {what}\nhint: check the disk or pipe that {stream} goes to"
    )]
    Output {
        stream: &'static str,
        closed: bool,
        what: String,
    },
    #[error("{0}")]
    Other(String),
}

/// The tool's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Bad input from the user: what is wrong and how to fix it.
    pub fn input(what: impl Into<String>, hint: impl Into<Hint>) -> Error {
        Error::Input {
            what: what.into(),
            hint: hint.into(),
        }
    }

    /// Wraps an error with the plan step it happened in.
    pub fn in_step(self, step: &str) -> Error {
        match self {
            e @ Error::Step { .. } => e,
            e => Error::Step {
                step: step.to_string(),
                source: Box::new(e),
            },
        }
    }

    /// The Azure error code, if this is (or wraps) an Azure error.
    pub fn azure_code(&self) -> Option<&str> {
        match self {
            Error::Azure(a) => Some(&a.code),
            Error::Network { code, .. } => Some(code),
            Error::Step { source, .. } => source.azure_code(),
            _ => None,
        }
    }

    /// The error as one JSON object, for `--output json` (docs/json.md, "errors"): `{"error": {"code", "message",
    /// "hint", "exit_code"}}`. `None` for the failures whose report is already on stdout (status's 4 and 5, verify
    /// --keeper's 6) and for a stdout that cannot be written.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        if matches!(
            self,
            Error::Unhealthy(_)
                | Error::Attention(_)
                | Error::NoKeeperEvent(_)
                | Error::Output { .. }
        ) {
            return None;
        }
        let text = self.to_string();
        let (message, hint) = match text.split_once("\nhint: ") {
            Some((m, h)) => (m.to_string(), Some(h.to_string())),
            None => (text.clone(), None),
        };
        let code = self.azure_code().map(str::to_string).unwrap_or_else(|| {
            match self {
                Error::Input { .. } => "InvalidInput",
                Error::Auth { .. } => "SignInFailed",
                Error::State { .. } => "StateFile",
                Error::Interrupted => "Interrupted",
                _ => "Failed",
            }
            .to_string()
        });
        Some(serde_json::json!({
            "error": { "code": code, "message": message, "hint": hint, "exit_code": self.exit_code() }
        }))
    }

    /// The exit codes [`Error::exit_code`] gives, as `--help` lists them (and the README).
    pub const EXIT_CODES: &'static str = "Exit codes: 0 done; 1 Azure, network or runtime failure; 2 bad input or a cancelled confirmation (before any write, but for the few inputs found wrong later); 3 sign-in failure; 4 status found a problem (missing, drifted, expired); 5 status found something that needs attention soon (a secret expiring within 30 days, Keeper silent longer than the alert window, ingestion errors in 24 h); 6 verify --keeper found no event from Keeper; 130 stopped by Ctrl-C (re-run to resume).";

    /// The process exit code for this error: 2 for bad input (or a cancelled confirmation), 3 for sign-in, 4 for
    /// problems `status` found, 130 for Ctrl-C, 1 otherwise; an error in a step has its cause's code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input { .. } => 2,
            Error::Auth { .. } => 3,
            Error::Unhealthy(_) => 4,
            Error::Attention(_) => 5,
            Error::NoKeeperEvent(_) => 6,
            Error::Interrupted => 130,
            Error::Step { source, .. } => source.exit_code(),
            _ => 1,
        }
    }
}

impl From<AzureError> for Error {
    fn from(e: AzureError) -> Self {
        Error::Azure(Box::new(e))
    }
}

/// The next step an error (or a report) gives the user, as a value: code picks a hint by its variant, never by
/// its text; the printer writes the text (`impl Display for Hint` in printer.rs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Hint {
    /// No hint (an error whose message gives its own next step).
    #[default]
    None,
    /// The signed-in identity lacks an Azure role or an Entra role.
    NeedsPermission,
    /// A new service principal has not replicated yet.
    PrincipalNotReplicated,
    /// A resource provider is not registered on the subscription.
    RegisterProvider,
    /// The subscription is unknown or not visible.
    CheckSubscription,
    /// The resource group does not exist.
    CreateResourceGroup,
    /// The operator's token is invalid, expired or for another cloud.
    SignInAgain,
    /// The role assignment exists already.
    RoleAlreadyAssigned,
    /// The custom table is missing or not yet usable by data collection rules.
    TableNotReady,
    /// The DCE, the DCR and the workspace are in different regions.
    OneRegion,
    /// Ingestion refused the app (HTTP 403): its role on the DCR is missing or not in effect yet.
    IngestionRoleNotInEffect,
    /// Ingestion does not know the DCR immutable id.
    CheckDcrImmutableId,
    /// Ingestion does not know the stream.
    CheckStream,
    /// The app's client secret is wrong or expired.
    SecretWrongOrExpired,
    /// The client id is unknown in the tenant.
    UnknownClient,
    /// The token's scope does not match the cloud.
    ScopeNotOfCloud,
    /// Azure is throttling or failing (429, 5xx).
    AzureBusy,
    /// The generic next step: fix the cause and re-run, which resumes from the state file.
    RerunAfterFix,
    /// Sign-in failed without a known cause: sign in for the cloud, named by its Azure CLI name (`AzureCloud`,
    /// `AzureUSGovernment`, `AzureChinaCloud`) when it is a built-in one.
    SignInForCloud(Option<&'static str>),
    /// The deployment's client secret expires soon or has expired (`status`).
    RotateSecret,
    /// A one-off next step, said where it arises.
    Text(String),
}

impl Hint {
    /// Whether there is no hint to show.
    pub fn is_empty(&self) -> bool {
        match self {
            Hint::None => true,
            Hint::Text(t) => t.is_empty(),
            _ => false,
        }
    }
}

impl From<String> for Hint {
    fn from(text: String) -> Self {
        Hint::Text(text)
    }
}

impl From<&str> for Hint {
    fn from(text: &str) -> Self {
        Hint::Text(text.to_string())
    }
}

impl From<&String> for Hint {
    fn from(text: &String) -> Self {
        Hint::Text(text.clone())
    }
}

impl From<Hint> for String {
    fn from(hint: Hint) -> Self {
        hint.to_string()
    }
}

/// The next step for a known Azure error code (and the HTTP status it came with).
pub fn hint_for(code: &str, status: u16) -> Hint {
    match code {
        "AuthorizationFailed" | "Authorization_RequestDenied" | "InsufficientAccessError" => {
            Hint::NeedsPermission
        }
        "PrincipalNotFound" => Hint::PrincipalNotReplicated,
        "MissingSubscriptionRegistration" => Hint::RegisterProvider,
        "SubscriptionNotFound" | "InvalidSubscriptionId" => Hint::CheckSubscription,
        "ResourceGroupNotFound" => Hint::CreateResourceGroup,
        "InvalidAuthenticationToken"
        | "InvalidAuthenticationTokenAudience"
        | "ExpiredAuthenticationToken" => Hint::SignInAgain,
        "RoleAssignmentExists" => Hint::RoleAlreadyAssigned,
        "InvalidOutputTable" => Hint::TableNotReady,
        "InvalidDataCollectionEndpoint" | "InvalidDestination" => Hint::OneRegion,
        "OperationFailed" if status == 403 => Hint::IngestionRoleNotInEffect,
        "NotFound" => Hint::CheckDcrImmutableId,
        "InvalidStream" => Hint::CheckStream,
        "invalid_client" => Hint::SecretWrongOrExpired,
        "unauthorized_client" => Hint::UnknownClient,
        "invalid_resource" | "invalid_scope" => Hint::ScopeNotOfCloud,
        _ if status == 429 || status >= 500 => Hint::AzureBusy,
        _ => Hint::RerunAfterFix,
    }
}

#[cfg(test)]
mod tests {
    use crate::rest::azure_error;

    /// A DCR refusal as Azure answers it (MicrosoftDocs/azure-docs#113557): the reason is only in `details[]`.
    #[test]
    fn every_detail_of_an_azure_error_is_shown_with_a_hint() {
        let body = serde_json::json!({ "error": {
            "code": "InvalidPayload", "message": "Data collection rule is invalid",
            "details": [
                { "code": "InvalidOutputTable", "target": "properties.dataFlows[0]",
                  "message": "Table for output stream 'Custom-MyTable_CL' is not available for destination 'myworkspace'." },
                { "code": "InvalidStream", "message": "'Streams' stream 'Microsoft-Event' must be one of: X." }
            ] } });
        let e = azure_error(400, &body, "PUT /subscriptions/s/dcr".into());
        assert!(e.has_code("InvalidOutputTable") && e.has_code("InvalidPayload"));
        let text = e.to_string();
        assert!(text.starts_with(
            "PUT /subscriptions/s/dcr failed with HTTP 400: InvalidPayload: Data collection rule is invalid"
        ));
        assert!(text.contains("\n  - InvalidOutputTable: Table for output stream 'Custom-MyTable_CL' is not available for destination 'myworkspace'. (at properties.dataFlows[0])"), "{text}");
        assert!(
            text.contains(
                "\n  - InvalidStream: 'Streams' stream 'Microsoft-Event' must be one of: X."
            ),
            "{text}"
        );
        assert!(
            text.contains("\nhint: the table is missing or not yet usable"),
            "{text}"
        );
    }
}
