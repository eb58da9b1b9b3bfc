//! Transport failures no retry can fix (a TLS certificate the machine does not trust, a host name that does not
//! resolve), told apart from those a retry may fix, and the transport azure_identity uses so it stops on them too.

use std::sync::Arc;

use azure_core::http::{AsyncRawResponse, HttpClient, Request};

use crate::error::Error;

/// A transport failure that happens the same way on every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfixable {
    /// The server's TLS certificate does not chain to a trusted root (or does not name the host).
    Certificate,
    /// The host name does not resolve.
    Dns,
}

/// Whether `e` (or any error under it) is a failure no retry can fix.
///
/// Certificates are recognised by type: rustls reports them as `rustls::Error::InvalidCertificate`, wrapped in an
/// `io::Error` by the TLS stream. Name resolution failures are recognised by hyper-util's message: its connector
/// error type is private, and it reports every resolver failure as "dns error".
pub fn unfixable(e: &(dyn std::error::Error + 'static)) -> Option<Unfixable> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if is_certificate_error(err) {
            return Some(Unfixable::Certificate);
        }
        if err.to_string().starts_with("dns error") {
            return Some(Unfixable::Dns);
        }
        cur = err.source();
    }
    None
}

/// Whether `e` is rustls's certificate error, itself or inside `io::Error`s (the TLS stream wraps it in one, the
/// connector in another; and `io::Error::source()` skips the error it wraps).
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    if let Some(rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
        return true;
    }
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => is_certificate_error(inner),
        None => false,
    }
}

/// The host of `url`, for messages (the URL itself when it does not parse).
pub fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| url.to_string())
}

impl Unfixable {
    /// A code for where an Azure error code goes (ingestion's per-batch errors).
    pub fn code(self) -> &'static str {
        match self {
            Unfixable::Certificate => "UntrustedCertificate",
            Unfixable::Dns => "HostNotFound",
        }
    }

    /// What to do about it.
    pub fn hint(self) -> &'static str {
        match self {
            Unfixable::Certificate => {
                "on a network that inspects TLS (a corporate proxy or firewall), add its root certificate to the \
                 system trust store, or set SSL_CERT_FILE to a PEM bundle that includes it; a custom cloud \
                 profile can name an extra certificate in ca_certificate"
            }
            Unfixable::Dns => {
                "check the cloud (--cloud, or the endpoints of the cloud profile file), the DNS settings, and \
                 HTTPS_PROXY / NO_PROXY if this network reaches Azure through a proxy"
            }
        }
    }

    /// Whether an error code is one of [`Unfixable::code`]'s.
    pub fn is_code(code: &str) -> bool {
        [Unfixable::Certificate, Unfixable::Dns]
            .iter()
            .any(|u| u.code() == code)
    }
}

/// The one error for an unfixable failure reaching `url`: names the host and says what to do.
pub fn unfixable_error(kind: Unfixable, url: &str, detail: String) -> Error {
    let host = host_of(url);
    let what = match kind {
        Unfixable::Certificate => format!("its TLS certificate is not trusted ({detail})"),
        Unfixable::Dns => format!("the host name does not resolve ({detail})"),
    };
    Error::Network {
        code: kind.code(),
        what,
        hint: kind.hint().into(),
        host,
    }
}

/// Whether `e` (or an error under it) is a connection that could not be made: refused, or timed out while
/// connecting. (hyper-util reports its connector's failures as "tcp connect error"; the io error under it says
/// which.)
pub fn is_connect_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::TimedOut
            ) {
                return true;
            }
        }
        let text = err.to_string();
        if text.starts_with("tcp connect error") || text.contains("Connection refused") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The host and port of `url` (the scheme's port when it names none), for a message about reaching it.
pub fn host_and_port(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .unwrap_or_else(|| url.to_string())
}

/// The error for an endpoint nothing answers at: a network error naming the host and port, with what to check
/// on the way there (never the credentials: they were not even asked about).
pub fn unreachable_error(url: &str, detail: String) -> Error {
    Error::Network {
        code: "ConnectionFailed",
        host: host_and_port(url),
        what: format!("no connection could be made ({detail})"),
        hint: "check the network path to it (a firewall, HTTPS_PROXY / NO_PROXY for a proxy) and the cloud (--cloud, or the endpoints of the cloud profile file); the credentials were not the problem".into(),
    }
}

/// The transport azure_identity's token requests go through: the tool's reqwest client, except that an unfixable
/// failure is reported as a non-transport error, which azure_core's retry policy does not retry (it retries
/// `Io` and `Connection` errors for minutes).
#[derive(Debug, Clone)]
pub struct Transport(pub reqwest::Client);

impl Transport {
    /// As azure_core's transport option.
    pub fn shared(http: &reqwest::Client) -> azure_core::http::Transport {
        azure_core::http::Transport::new(Arc::new(Transport(http.clone())))
    }
}

#[async_trait::async_trait]
impl HttpClient for Transport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = request.url().to_string();
        self.0.execute_request(request).await.map_err(|e| {
            match unfixable(&e) {
                Some(kind) => azure_core::Error::with_error(
                    azure_core::error::ErrorKind::Other,
                    e,
                    // The message names the kind; Auth::token finds the kind again from the source chain.
                    match kind {
                        Unfixable::Certificate => {
                            format!("untrusted TLS certificate at {}", host_of(&url))
                        }
                        Unfixable::Dns => {
                            format!("host name of {} does not resolve", host_of(&url))
                        }
                    },
                ),
                None => {
                    if is_connect_failure(&e) {
                        // Shown with -v: azure_core retries it a few times, quickly (auth::client_options).
                        tracing::info!(
                            "token request to {} failed: {}; retrying",
                            host_and_port(&url),
                            root_cause(&e)
                        );
                    }
                    e
                }
            }
        })
    }
}

/// The innermost cause of `e`: what went wrong, without the layers that carried it.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The error and its causes on one line (reqwest's Display alone hides the cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("dns error")]
    struct Dns(#[source] std::io::Error);

    #[test]
    fn certificate_errors_inside_io_errors_are_unfixable() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let io = std::io::Error::other(io);
        assert_eq!(unfixable(&io), Some(Unfixable::Certificate));
    }

    #[test]
    fn resolver_failures_are_unfixable_and_resets_are_not() {
        let dns = Dns(std::io::Error::other(
            "failed to lookup address information",
        ));
        assert_eq!(unfixable(&dns), Some(Unfixable::Dns));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(unfixable(&reset), None);
    }

    #[test]
    fn the_error_names_the_host_and_the_trust_store() {
        let e = unfixable_error(
            Unfixable::Certificate,
            "https://management.azure.com/subscriptions?api-version=1",
            "UnknownIssuer".into(),
        )
        .to_string();
        assert!(e.contains("management.azure.com"), "{e}");
        assert!(e.contains("SSL_CERT_FILE"), "{e}");
    }
}
