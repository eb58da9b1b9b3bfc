//! The release and CI workflows and the pipeline examples cannot run here (issue 25): this checks what can be
//! checked of them. They parse as YAML; every action is pinned to a full commit SHA with its version beside it;
//! CI lints and tests on Linux, Windows and macOS with CI=true; the release builds every target without the
//! simulator and publishes checksums, completions, the man page and provenance; the examples sign in with OIDC to
//! US Government and pass only flags and environment variables the binary has.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml_ng::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_yaml_ng::from_str(&text(rel)).unwrap_or_else(|e| panic!("{rel} is not YAML: {e}"))
}

const GITHUB_FILES: [&str; 3] = [
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    "examples/github-actions/keeper-azmon.yml",
];
const DEVOPS: &str = "examples/azure-devops/azure-pipelines.yml";

/// Every string anywhere in a YAML value.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Sequence(xs) => xs.iter().for_each(|x| strings(x, out)),
        Value::Mapping(m) => m.iter().for_each(|(k, x)| {
            strings(k, out);
            strings(x, out)
        }),
        Value::Tagged(t) => strings(&t.value, out),
        _ => {}
    }
}

fn all_strings(v: &Value) -> String {
    let mut out = Vec::new();
    strings(v, &mut out);
    out.join("\n")
}

/// The steps of `job` in a GitHub workflow.
fn steps<'a>(wf: &'a Value, job: &str) -> &'a Vec<Value> {
    wf["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("job {job} has steps"))
}

fn runs(wf: &Value, job: &str) -> String {
    steps(wf, job)
        .iter()
        .filter_map(|s| s["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_action_is_pinned_to_a_full_commit_sha_with_its_version_beside_it() {
    let mut seen = 0;
    for rel in GITHUB_FILES {
        // The parse first: a file that does not parse has no `uses` to trust.
        yaml(rel);
        for (n, line) in text(rel).lines().enumerate() {
            let Some(rest) = line
                .trim_start()
                .trim_start_matches("- ")
                .strip_prefix("uses:")
            else {
                continue;
            };
            seen += 1;
            let (action, comment) = rest.split_once('#').unwrap_or((rest, ""));
            let (name, sha) = action
                .trim()
                .split_once('@')
                .unwrap_or_else(|| panic!("{rel}:{}: `{}` has no @ref", n + 1, line.trim()));
            assert!(name.contains('/'), "{rel}:{}: {name}", n + 1);
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{rel}:{}: `{}` is not pinned to a full commit SHA",
                n + 1,
                line.trim()
            );
            assert!(
                comment.trim().starts_with('v'),
                "{rel}:{}: the pinned version is named in a comment (`# v1.2.3`)",
                n + 1
            );
        }
    }
    assert!(seen >= 8, "only {seen} `uses:` lines found");
}

#[test]
fn ci_lints_and_tests_on_linux_windows_and_macos_with_ci_set() {
    let wf = yaml(".github/workflows/ci.yml");
    let on = &wf["on"];
    assert!(
        on.get("push").is_some() && on.get("pull_request").is_some(),
        "runs on push and pull request"
    );
    assert_eq!(
        wf["env"]["CI"].as_str(),
        Some("true"),
        "CI=true, as .ci/run"
    );
    let lint = runs(&wf, "lint");
    assert!(lint.contains("cargo fmt --all --check"), "{lint}");
    assert!(
        lint.contains("cargo clippy --workspace --all-targets") && lint.contains("-D warnings"),
        "{lint}"
    );
    let oses: BTreeSet<&str> = wf["jobs"]["test"]["strategy"]["matrix"]["os"]
        .as_sequence()
        .expect("an os matrix")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for os in ["ubuntu-latest", "windows-latest", "macos-latest"] {
        assert!(oses.contains(os), "tests on {os}: {oses:?}");
    }
    assert!(runs(&wf, "test").contains("cargo test --workspace --locked"));
}

#[test]
fn the_release_builds_every_target_without_the_simulator_and_publishes_sums_docs_and_provenance() {
    let wf = yaml(".github/workflows/release.yml");
    let tags = wf["on"]["push"]["tags"].as_sequence().expect("on tags");
    assert_eq!(tags[0].as_str(), Some("v*"));
    let targets: BTreeSet<&str> = wf["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .expect("a target matrix")
        .iter()
        .filter_map(|t| t["target"].as_str())
        .collect();
    let wanted = [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-pc-windows-msvc",
        "aarch64-apple-darwin",
        "x86_64-apple-darwin",
    ];
    assert_eq!(targets, wanted.into_iter().collect(), "the release targets");
    let build = runs(&wf, "build");
    assert!(
        build.contains("cargo build --release --locked --no-default-features --target"),
        "{build}"
    );
    let docs = runs(&wf, "docs");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(docs.contains(&format!("completions {shell}")), "{shell}");
    }
    assert!(docs.contains("\"$bin\" man >"), "the man page");
    let publish = all_strings(&wf["jobs"]["publish"]);
    assert!(publish.contains("sha256sum"), "SHA256SUMS");
    assert!(
        publish.contains("actions/attest-build-provenance@"),
        "provenance"
    );
    assert!(publish.contains("gh release create"), "the release");
    let perms = &wf["jobs"]["publish"]["permissions"];
    for (k, v) in [
        ("id-token", "write"),
        ("attestations", "write"),
        ("contents", "write"),
    ] {
        assert_eq!(perms[k].as_str(), Some(v), "publish needs {k}: {v}");
    }
    // Everything else reads only.
    assert_eq!(wf["permissions"]["contents"].as_str(), Some("read"));
}

/// The `--flags` given to `keeper-azmon <command>` in a shell script, per command.
fn invocations(script: &str) -> Vec<(String, Vec<String>)> {
    // Join continued lines (`\` at the end, and YAML's folded `>-` already joined).
    let joined = script.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            if *w != "keeper-azmon" {
                continue;
            }
            let Some(cmd) = words.get(i + 1).filter(|c| !c.starts_with('-')) else {
                continue;
            };
            let flags = words[i + 2..]
                .iter()
                .take_while(|w| !matches!(**w, "|" | "&&" | ";" | "||"))
                .filter(|w| w.starts_with("--"))
                .map(|w| w.split('=').next().unwrap_or(w).to_string())
                .collect();
            out.push((cmd.to_string(), flags));
        }
    }
    out
}

fn help(command: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args([command, "--help"])
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{command} --help");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every `keeper-azmon` command line in `script` uses a command and flags the binary has; returns the commands.
fn check_invocations(rel: &str, script: &str) -> BTreeSet<String> {
    let mut commands = BTreeSet::new();
    for (cmd, flags) in invocations(script) {
        let h = help(&cmd);
        for f in flags {
            assert!(
                h.contains(&format!("{f} ")) || h.contains(&format!("{f}\n")),
                "{rel}: `keeper-azmon {cmd}` has no flag {f}"
            );
        }
        commands.insert(cmd);
    }
    commands
}

/// Every `KEEPER_AZMON_*` variable an example sets is one that the commands it runs read.
fn check_env_vars(rel: &str, keys: &[String], commands: &BTreeSet<String>) {
    let helps: String = commands.iter().map(|c| help(c)).collect();
    for k in keys.iter().filter(|k| k.starts_with("KEEPER_AZMON_")) {
        // Read by the tool, or only by the example itself (where to download the release from).
        if matches!(k.as_str(), "KEEPER_AZMON_REPO" | "KEEPER_AZMON_VERSION") {
            continue;
        }
        assert!(
            helps.contains(&format!("[env: {k}")),
            "{rel}: {k} is read by none of {commands:?}"
        );
    }
}

fn mapping_keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_github_example_signs_in_to_us_government_with_oidc_and_uses_real_flags() {
    let rel = "examples/github-actions/keeper-azmon.yml";
    let wf = yaml(rel);
    let mut commands = BTreeSet::new();
    for job in ["setup", "status"] {
        let j = &wf["jobs"][job];
        assert_eq!(
            j["environment"].as_str(),
            Some("AzureUSGovernment"),
            "{job}"
        );
        assert_eq!(
            j["permissions"]["id-token"].as_str(),
            Some("write"),
            "{job}"
        );
        let login = steps(&wf, job)
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("azure/login@"))
            })
            .unwrap_or_else(|| panic!("{job} signs in with azure/login"));
        assert_eq!(
            login["with"]["environment"].as_str(),
            Some("AzureUSGovernment")
        );
        assert!(
            login["with"]["client-id"].as_str().is_some(),
            "a federated credential: no secret"
        );
        assert!(
            login["with"].get("creds").is_none() && login["with"].get("client-secret").is_none()
        );
        commands.extend(check_invocations(rel, &runs(&wf, job)));
    }
    assert!(runs(&wf, "setup").contains("keeper-azmon setup --yes"));
    assert!(
        runs(&wf, "setup").contains("--keeper-record"),
        "the secret goes to Keeper"
    );
    let status = runs(&wf, "status");
    assert!(status.contains("keeper-azmon status"));
    assert!(
        status.contains("4)") && status.contains("5)"),
        "fails on 4 and 5"
    );
    assert!(
        wf["on"]["schedule"][0]["cron"].as_str().is_some(),
        "scheduled"
    );
    let mut keys = mapping_keys(&wf["env"]);
    for job in ["setup", "status"] {
        for s in steps(&wf, job) {
            keys.extend(mapping_keys(&s["env"]));
        }
    }
    check_env_vars(rel, &keys, &commands);
    assert!(
        keys.iter().any(|k| k == "KSM_CONFIG"),
        "the KSM config from a secret"
    );
}

#[test]
fn the_azure_devops_example_signs_in_through_a_service_connection_and_uses_real_flags() {
    let pipeline = yaml(DEVOPS);
    let stages = pipeline["stages"].as_sequence().expect("stages");
    let mut commands = BTreeSet::new();
    let mut scripts = String::new();
    for stage in stages {
        for job in stage["jobs"].as_sequence().expect("jobs") {
            for step in job["steps"].as_sequence().expect("steps") {
                if let Some(s) = step["bash"].as_str() {
                    scripts.push_str(s);
                }
                if step["task"].as_str() == Some("AzureCLI@2") {
                    let inputs = &step["inputs"];
                    assert!(
                        inputs["azureSubscription"].as_str().is_some(),
                        "a service connection"
                    );
                    let s = inputs["inlineScript"].as_str().expect("an inline script");
                    commands.extend(check_invocations(DEVOPS, s));
                    scripts.push_str(s);
                }
            }
        }
    }
    assert!(scripts.contains("keeper-azmon setup --yes"));
    assert!(scripts.contains("--keeper-record"));
    assert!(
        scripts.contains("keeper-azmon status") && scripts.contains("4)") && scripts.contains("5)")
    );
    assert!(
        pipeline["schedules"][0]["cron"].as_str().is_some(),
        "scheduled"
    );
    let keys: Vec<String> = pipeline["variables"]
        .as_sequence()
        .expect("variables")
        .iter()
        .filter_map(|v| v["name"].as_str().map(String::from))
        .collect();
    check_env_vars(DEVOPS, &keys, &commands);
    assert_eq!(
        commands,
        ["setup", "status"].map(String::from).into_iter().collect()
    );
}

#[test]
fn the_dockerfile_builds_the_static_binary_and_runs_it_as_a_non_root_user() {
    let file = text("Dockerfile");
    let from: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(from.len() >= 2, "multi-stage: {from:?}");
    assert!(from[0].contains("rust"), "a Rust builder: {}", from[0]);
    let last = from[from.len() - 1];
    assert!(
        last.contains("distroless/static") || last.contains("scratch"),
        "{last}"
    );
    assert!(file.contains("x86_64-unknown-linux-musl") && file.contains("--no-default-features"));
    let user = file
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    let name = user.split(':').next().unwrap_or(user).trim();
    assert!(!matches!(name, "root" | "0"), "runs as {user}");
    assert!(
        file.contains(r#"ENTRYPOINT ["/usr/local/bin/keeper-azmon"]"#)
            || file.contains(r#"ENTRYPOINT ["keeper-azmon"]"#)
    );
    let ignore = text(".dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "the build context leaves target/ out"
    );
}
