//! The network path to Azure: an untrusted certificate and a name that does not resolve stop at once with one
//! error naming the host; HTTPS_PROXY and NO_PROXY are honoured (through a CONNECT proxy run here, on loopback);
//! logs on stderr carry no colour codes off a terminal or under NO_COLOR.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_sim::Fault;
use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An HTTP CONNECT proxy on 127.0.0.1 that tunnels to loopback addresses only and counts the tunnels it opened.
struct Proxy {
    url: String,
    tunnels: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let tunnels = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let (t, g) = (tunnels.clone(), targets.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, t.clone(), g.clone()));
            }
        });
        Proxy {
            url,
            tunnels,
            targets,
            task,
        }
    }

    fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client of the proxy: `CONNECT host:port`, then bytes both ways.
async fn tunnel(
    mut client: TcpStream,
    tunnels: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let loopback = target.starts_with("127.0.0.1:") || target.starts_with("localhost:");
    if method != "CONNECT" || !loopback {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    tunnels.fetch_add(1, Ordering::SeqCst);
    targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(target.to_string());
    if client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await
        .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// `status` of a deployment found by tag (no state file needed), with the profile `cloud`.
fn status_args(w: &World, cloud: &str) -> Vec<String> {
    [
        "status",
        "--cloud",
        cloud,
        "--auth",
        "env",
        "--subscription",
        &w.sim.operator().subscription_id,
        "--deployment",
        "rg-keeper",
        "--state",
        &w.state_path().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The simulator's profile with some fields changed, written next to it.
fn profile_with(
    w: &World,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> String {
    let mut p: Value =
        serde_json::from_str(&std::fs::read_to_string(&w.profile).expect("profile")).expect("json");
    edit(p.as_object_mut().expect("object"));
    let path = w.dir.path().join(name);
    std::fs::write(&path, p.to_string()).expect("write profile");
    path.display().to_string()
}

/// Lines of the tool's debug log (and azure_core's) that announce a retry.
fn retry_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.contains("retrying") || l.contains("will be retried"))
        .collect()
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_naming_the_host_and_the_trust_store() {
    let w = World::public().await;
    // The simulator's certificate is self-signed: without the profile's ca_certificate nothing trusts it, as on a
    // network whose TLS-inspecting proxy presents a certificate the machine does not trust.
    let untrusted = profile_with(&w, "untrusted.json", |p| {
        p.remove("ca_certificate");
    });
    // Through a proxy, so that every connection attempt is counted.
    let proxy = Proxy::start().await;
    let o = run_env(
        &w,
        &status_args(&w, &untrusted),
        &[
            ("HTTPS_PROXY", proxy.url.as_str()),
            ("KEEPER_AZMON_LOG", "debug"),
        ],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let host = w.sim.base_url().trim_start_matches("https://").to_string();
    assert!(
        err.contains(&format!("cannot reach {host}")) && err.contains("not trusted"),
        "{err}"
    );
    assert!(
        err.contains("SSL_CERT_FILE") && err.contains("trust store"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error: {err}"
    );
    assert!(
        retry_lines(&err).is_empty(),
        "retried: {:?}",
        retry_lines(&err)
    );
    // One TLS handshake per token the command asked for at once, and none again.
    assert!(
        (1..=2).contains(&proxy.tunnels()),
        "connections: {:?}",
        proxy.targets.lock().map(|t| t.clone())
    );
    assert!(w.sim.request_log().is_empty(), "no request got through");
}

#[tokio::test]
async fn a_host_that_does_not_resolve_fails_at_once_naming_it() {
    let w = World::public().await;
    // The token endpoint unresolvable: azure_identity's request.
    let no_login = profile_with(&w, "no-login.json", |p| {
        p.insert(
            "authority_host".into(),
            "https://does-not-exist.invalid".into(),
        );
    });
    let o = run_env(
        &w,
        &status_args(&w, &no_login),
        &[("KEEPER_AZMON_LOG", "debug")],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach does-not-exist.invalid") && err.contains("does not resolve"),
        "{err}"
    );
    assert!(
        retry_lines(&err).is_empty(),
        "retried: {:?}",
        retry_lines(&err)
    );

    // ARM unresolvable, signing in fine: the tool's own client.
    let no_arm = profile_with(&w, "no-arm.json", |p| {
        p.insert(
            "resource_manager_endpoint".into(),
            "https://arm.does-not-exist.invalid".into(),
        );
    });
    let o = run_env(
        &w,
        &status_args(&w, &no_arm),
        &[("KEEPER_AZMON_LOG", "debug")],
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach arm.does-not-exist.invalid") && err.contains("hint:"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "one error: {err}"
    );
    assert!(
        retry_lines(&err).is_empty(),
        "retried: {:?}",
        retry_lines(&err)
    );
}

#[tokio::test]
async fn https_proxy_carries_every_request_and_no_proxy_bypasses_it() {
    let w = World::public().await;
    let proxy = Proxy::start().await;
    // reqwest proxies loopback addresses too unless NO_PROXY names them: the simulator on 127.0.0.1 is reached
    // through the proxy with NO_PROXY unset.
    let via_proxy = [("HTTPS_PROXY", proxy.url.as_str())];
    let (setup, status) = (
        w.setup_args(&[]),
        status_args(&w, &w.profile.display().to_string()),
    );
    let o = run_env(&w, &setup, &via_proxy).await;
    assert_ok(&o);
    let after_setup = proxy.tunnels();
    assert!(after_setup > 0, "setup did not use the proxy");
    let requests = w.sim.request_log().len();
    assert!(requests > 0);
    let o = run_env(&w, &status, &via_proxy).await;
    assert_ok(&o);
    assert!(
        proxy.tunnels() > after_setup,
        "status did not use the proxy"
    );
    let targets = proxy.targets.lock().map(|t| t.clone()).unwrap_or_default();
    let sim = w.sim.base_url().trim_start_matches("https://").to_string();
    assert!(targets.iter().all(|t| *t == sim), "{targets:?}");

    // NO_PROXY naming the host: straight there.
    let before = proxy.tunnels();
    let o = run_env(
        &w,
        &status,
        &[
            ("HTTPS_PROXY", proxy.url.as_str()),
            ("NO_PROXY", "127.0.0.1"),
        ],
    )
    .await;
    assert_ok(&o);
    assert_eq!(proxy.tunnels(), before, "NO_PROXY was not honoured");
}

fn has_escape_codes(s: &str) -> bool {
    s.contains('\x1b')
}

#[tokio::test]
async fn logs_on_stderr_carry_no_colour_off_a_terminal() {
    let w = World::public().await;
    let mut args = status_args(&w, &w.profile.display().to_string());
    args.insert(0, "-vv".into());
    let o = run_env(&w, &args, &[]).await;
    let err = stderr(&o);
    assert!(err.contains("DEBUG"), "debug logs were written: {err}");
    assert!(!has_escape_codes(&err), "colour codes in a pipe: {err:?}");
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    use expectrl::session::OsSession as Session;
    use expectrl::Expect;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::public());
    let _guard = rt.enter();
    let run = |no_color: Option<&str>| -> String {
        let op = w.sim.operator();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keeper-azmon"));
        cmd.arg("-vv")
            .args(status_args(&w, &w.profile.display().to_string()))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", w.dir.path())
            .env("TERM", "xterm-256color")
            .env("AZURE_TENANT_ID", &op.tenant_id)
            .env("AZURE_CLIENT_ID", &op.client_id)
            .env("AZURE_CLIENT_SECRET", &op.client_secret);
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let mut p = Session::spawn(cmd).expect("spawn in a pty");
        p.set_expect_timeout(Some(Duration::from_secs(60)));
        let mut seen = Vec::new();
        let first = p.expect("DEBUG").expect("a debug line");
        seen.extend_from_slice(first.before());
        seen.extend_from_slice(b"DEBUG");
        let rest = p.expect(expectrl::Eof).expect("the command ends");
        seen.extend_from_slice(rest.before());
        String::from_utf8_lossy(&seen).into_owned()
    };
    let coloured = run(None);
    assert!(coloured.contains("DEBUG"), "{coloured}");
    assert!(
        has_escape_codes(&coloured),
        "a terminal gets colour: {coloured:?}"
    );
    let plain = run(Some("1"));
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(!has_escape_codes(&plain), "NO_COLOR is set: {plain:?}");
}

#[tokio::test]
async fn verify_wait_does_not_wait_through_an_untrusted_certificate() {
    let w = World::public().await;
    let (o, secret) = w.setup_json().await;
    assert_ok(&o);
    let untrusted = profile_with(&w, "untrusted.json", |p| {
        p.remove("ca_certificate");
    });
    let proxy = Proxy::start().await;
    let args: Vec<String> = [
        "verify",
        "--wait",
        "--cloud",
        &untrusted,
        "--auth",
        "env",
        "--state",
        &w.state_path().display().to_string(),
        "--secret-file",
        &secret.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run_env(&w, &args, &[("HTTPS_PROXY", proxy.url.as_str())]).await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("not trusted") && err.contains("SSL_CERT_FILE"),
        "{err}"
    );
    assert_eq!(proxy.tunnels(), 1, "one connection, no retry: {err}");
}

/// Token requests the simulator has answered so far.
fn token_requests(w: &World) -> usize {
    w.sim
        .request_log()
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count()
}

/// `verify` of the deployment in `w`, with the profile `cloud`, plus `extra`.
fn verify_args(w: &World, cloud: &str, secret: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "verify",
        "--state",
        &w.state_path().display().to_string(),
        "--auth",
        "env",
        "--cloud",
        cloud,
        "--secret-file",
        secret,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// The Endpoint URL setup recorded, and the same URL on another host that reaches the simulator too (`localhost`,
/// which its certificate names): a host outside the simulated cloud's Logs Ingestion domain.
fn recorded_and_foreign_endpoint(w: &World) -> (String, String) {
    let url = w.state()["outputs"]["endpoint_url"]
        .as_str()
        .expect("the recorded Endpoint URL")
        .to_string();
    let foreign = url.replacen("https://127.0.0.1:", "https://localhost:", 1);
    assert_ne!(url, foreign, "the simulator answers on 127.0.0.1: {url}");
    (url, foreign)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apps_token_goes_only_to_an_https_endpoint_in_the_clouds_ingestion_domain() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    let cloud = w.profile.display().to_string();
    let (url, foreign) = recorded_and_foreign_endpoint(&w);
    let plain_http = url.replacen("https://", "http://", 1);

    // Refused before a token is asked for: http (even with the flag), and a host outside the domain.
    for (extra, names) in [
        (vec!["--endpoint-url", plain_http.as_str()], vec!["https"]),
        (
            vec![
                "--endpoint-url",
                plain_http.as_str(),
                "--allow-foreign-endpoint",
            ],
            vec!["https"],
        ),
        (
            vec!["--endpoint-url", foreign.as_str()],
            vec!["localhost", "--allow-foreign-endpoint"],
        ),
    ] {
        let tokens = token_requests(&w);
        let o = w.run(&verify_args(&w, &cloud, &secret, &extra)).await;
        assert_refused(&o, &names);
        assert_eq!(
            token_requests(&w),
            tokens,
            "{extra:?}: a token was asked for"
        );
    }

    // The state file names the Endpoint URL too: a foreign host written there is refused the same way.
    let mut state = w.state();
    state["outputs"]["endpoint_url"] = foreign.clone().into();
    std::fs::write(w.state_path(), state.to_string()).expect("state");
    let tokens = token_requests(&w);
    let o = w.run(&verify_args(&w, &cloud, &secret, &[])).await;
    assert_refused(&o, &["localhost", "state file"]);
    assert_eq!(token_requests(&w), tokens, "a token was asked for");

    // With the flag, the operator's word for it: the token goes there, and the events arrive.
    let o = w
        .run(&verify_args(
            &w,
            &cloud,
            &secret,
            &["--allow-foreign-endpoint"],
        ))
        .await;
    assert_ok(&o);
    assert!(
        stderr(&o).contains("localhost"),
        "a warning names the host: {}",
        stderr(&o)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_profile_without_an_ingestion_domain_accepts_only_the_recorded_endpoint_host() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    let no_domain = profile_with(&w, "no-domain.json", |p| {
        assert!(
            p.remove("logs_ingestion_domain").is_some(),
            "azure-sim's profile names its ingestion domain"
        );
    });
    let (url, foreign) = recorded_and_foreign_endpoint(&w);
    // The host the state file records is accepted, in the flag too.
    for extra in [vec![], vec!["--endpoint-url", url.as_str()]] {
        let o = w.run(&verify_args(&w, &no_domain, &secret, &extra)).await;
        assert_ok(&o);
    }
    // Any other host is not, unless the flag says so.
    let tokens = token_requests(&w);
    let o = w
        .run(&verify_args(
            &w,
            &no_domain,
            &secret,
            &["--endpoint-url", &foreign],
        ))
        .await;
    assert_refused(&o, &["localhost", "logs_ingestion_domain", "127.0.0.1"]);
    assert_eq!(token_requests(&w), tokens, "a token was asked for");
    let o = w
        .run(&verify_args(
            &w,
            &no_domain,
            &secret,
            &["--endpoint-url", &foreign, "--allow-foreign-endpoint"],
        ))
        .await;
    assert_ok(&o);
}

/// Runs the tool, failing the test if it is still running after `limit`: the waits under test are capped far
/// below it, so only an uncapped wait reaches it.
async fn run_within(
    w: &World,
    args: &[String],
    env: &[(&str, &str)],
    limit: Duration,
) -> std::process::Output {
    tokio::time::timeout(limit, run_env(w, args, env))
        .await
        .unwrap_or_else(|_| panic!("{args:?} still waiting after {limit:?}"))
}

/// A Retry-After of about 31 years.
const A_LIFETIME: u64 = 1_000_000_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_retry_after_is_waited_at_most_the_retry_policys_maximum() {
    let w = World::public().await;
    // ARM (the REST client): setup's first read of the locations.
    w.sim.inject(
        Fault::status("GET", "/locations", 1, 429, "TooManyRequests").retry_after(A_LIFETIME),
    );
    let (o, secret) = tokio::time::timeout(Duration::from_secs(120), w.setup_json())
        .await
        .expect("setup still waiting after 120 s");
    assert_ok(&o);
    w.settle();
    // Logs Ingestion (the app's sender): verify's post.
    w.sim.inject(
        Fault::status("POST", "/streams/", 1, 429, "TooManyRequests").retry_after(A_LIFETIME),
    );
    let cloud = w.profile.display().to_string();
    let o = run_within(
        &w,
        &verify_args(&w, &cloud, &secret.display().to_string(), &[]),
        &[],
        Duration::from_secs(60),
    )
    .await;
    assert_ok(&o);
    let throttled = w
        .sim
        .request_log()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(throttled, 2, "both refusals were met and retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_that_ends_past_verifys_deadline_stops_verify_at_once() {
    let w = World::public().await;
    let (secret, _) = w.set_up_then(Duration::from_secs(60)).await;
    w.sim
        .inject(Fault::status("POST", "/streams/", 100, 429, "TooManyRequests").retry_after(3600));
    let cloud = w.profile.display().to_string();
    // In real time: the capped wait (the policy's maximum, 30 s) does not fit in --timeout 5.
    let o = run_within(
        &w,
        &verify_args(&w, &cloud, &secret, &["--wait", "--timeout", "5"]),
        &[("KEEPER_AZMON_TIME_SCALE", "1")],
        Duration::from_secs(25),
    )
    .await;
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("429") && err.contains("Retry-After"), "{err}");
    assert!(
        err.contains("--timeout"),
        "the hint names the deadline: {err}"
    );
    assert!(
        !err.contains("check the Endpoint URL"),
        "a throttled post is not a wrong URL: {err}"
    );
}
