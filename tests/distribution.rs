//! What operators install besides the binary (issue 25): `--version` names the commit and whether the simulator
//! is in, and the hidden `completions` and `man` print what shells and `man` read, generated from the same flags.

use std::process::Command;

fn tool(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_keeper-azmon"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_names_the_release_the_commit_and_whether_the_simulator_is_built_in() {
    let (ok, out, err) = tool(&["--version"]);
    assert!(ok, "{err}");
    let demo = if cfg!(feature = "demo") {
        "demo"
    } else {
        "no demo"
    };
    let line = out.trim_end();
    let prefix = format!("keeper-azmon {} (", env!("CARGO_PKG_VERSION"));
    let inner = line
        .strip_prefix(&prefix)
        .and_then(|r| r.strip_suffix(&format!(", {demo})")))
        .unwrap_or_else(|| panic!("`{line}` is not `{prefix}<commit>, {demo})`"));
    // The commit this checkout is at, when git can say (a crate tarball has no git: then "unknown").
    let head = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(h) if std::env::var_os("KEEPER_AZMON_BUILD_COMMIT").is_none() => {
            assert_eq!(inner, h, "the commit is HEAD's")
        }
        _ => assert!(
            inner == "unknown"
                || (inner.len() >= 7 && inner.chars().all(|c| c.is_ascii_hexdigit())),
            "{inner}"
        ),
    }
    // -V says the same.
    assert_eq!(tool(&["-V"]).1, out);
}

#[test]
fn completions_for_each_shell_name_the_commands_and_their_flags() {
    for (shell, marker) in [
        ("bash", "complete -F _keeper__azmon"),
        ("zsh", "#compdef keeper-azmon"),
        ("fish", "complete -c keeper-azmon"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let (ok, out, err) = tool(&["completions", shell]);
        assert!(ok, "{shell}: {err}");
        assert!(out.contains(marker), "{shell} completion lacks `{marker}`");
        for word in [
            "setup",
            "status",
            "rotate-secret",
            "teardown",
            "--keeper-record",
        ] {
            assert!(out.contains(word), "{shell} completion lacks {word}");
        }
    }
    let (ok, _, err) = tool(&["completions", "tcsh"]);
    assert!(!ok, "an unknown shell is refused");
    assert!(err.contains("bash") && err.contains("powershell"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_bash_completion_is_valid_bash() {
    let (_, script, _) = tool(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("keeper-azmon.bash");
    std::fs::write(&file, script).expect("write");
    // Without bash there is nothing to check it with.
    let Ok(o) = Command::new("bash").arg("-n").arg(&file).output() else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_man_page_is_roff_and_names_the_commands() {
    let (ok, page, err) = tool(&["man"]);
    assert!(ok, "{err}");
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "{}",
        &page[..page.len().min(80)]
    );
    assert!(page.contains(".TH keeper-azmon 1"), "a section 1 title");
    assert!(page.contains(".SH NAME") && page.contains(".SH SYNOPSIS"));
    for cmd in [
        "setup",
        "verify",
        "status",
        "send",
        "rotate-secret",
        "teardown",
    ] {
        // The SUBCOMMANDS section names each page; roff escapes every hyphen.
        let entry = format!("keeper-azmon-{cmd}(1)").replace('-', "\\-");
        assert!(page.contains(&entry), "the man page lists {entry}");
    }
    assert!(page.contains("0.1.0"), "the version");
}

#[test]
fn completions_and_man_stay_out_of_the_main_help() {
    let (ok, help, _) = tool(&["--help"]);
    assert!(ok);
    assert!(help.contains("setup"));
    for hidden in ["completions", "  man "] {
        assert!(!help.contains(hidden), "`{hidden}` is listed:\n{help}");
    }
}
