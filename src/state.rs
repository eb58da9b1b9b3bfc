//! The state file: what setup made or reused, written atomically after every step, locked while a run holds it; never a secret value.

use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::azure::roles::Role;
use crate::error::{Error, Result};

pub const FORMAT: &str = "keeper-azmon-state/1";

/// One Azure or Entra resource the deployment uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// True if this tool created it (teardown deletes only these).
    pub created: bool,
}

/// A client secret's metadata; its value is never written here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecretRecord {
    pub key_id: String,
    pub description: String,
    pub end_date_time: String,
    /// False until its value has been shown to the admin; an undelivered secret is replaced on the next run.
    pub delivered: bool,
}

/// A role assignment the deployment needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RoleRecord {
    pub id: String,
    pub role: Role,
    /// `workspace`, `dcr` or `dce`.
    pub on: String,
    pub created: bool,
    /// When setup made the assignment (RFC 3339): for an hour after it, a 403 may be Azure still propagating it
    /// (`send` waits through it). None for an assignment setup found made, and in files from before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<String>,
}

/// What the Keeper Admin Console needs, minus the secret value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Outputs {
    pub tenant_id: String,
    pub client_id: String,
    pub endpoint_url: String,
    pub logs_ingestion_endpoint: String,
    pub dcr_immutable_id: String,
    pub stream: String,
    pub table: String,
    pub workspace_customer_id: String,
}

/// How far `import-classic` has moved a classic table into the deployment's table.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportProgress {
    /// The time range imported (RFC 3339, `until` excluded), fixed by the first run: a resumed run neither
    /// moves its end nor takes its own rows for the live stream's.
    pub since: String,
    pub until: String,
    /// Every row of the classic table before this time is in the deployment's table.
    pub done_until: String,
    /// The slice being sent when the run stopped, `[start, end)`: a resumed run sends only what of it is not in
    /// the deployment's table yet.
    #[serde(default)]
    pub slice: Option<(String, String)>,
    #[serde(default)]
    pub imported: u64,
    /// The import's id, in every row it sends (`data.keeper_azmon_backfill`, src/marks.rs); kept for a resumed run
    /// so that its rows and the ones already there are told apart alike. Empty for an import begun before ids
    /// were kept (its rows carry none, and its resumption adds none).
    #[serde(default)]
    pub id: String,
}

/// The Keeper record that holds the Admin Console values (issue 14): where it is, never what is in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeeperLink {
    /// The record's UID.
    pub record_uid: String,
    /// Whether the tool created the record (`--keeper-folder`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created: bool,
    /// The path of the KSM config file, when it was given as a file; never the config itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// The key id of the client secret whose value the record holds; behind the state's secret, the next setup
    /// makes a new secret for the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// The whole state of one deployment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    pub format: String,
    pub deployment: String,
    pub cloud: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    /// Keyed by kind: resource_group, application, service_principal, workspace, table, dce, dcr; with
    /// `--sentinel` also sentinel_onboarding (created = setup onboarded it), sentinel_function, sentinel_workbook and
    /// one `sentinel_rule:<template id>` per rule. Older files simply lack the new keys.
    #[serde(default)]
    pub resources: BTreeMap<String, Resource>,
    #[serde(default)]
    pub role_assignments: Vec<RoleRecord>,
    #[serde(default)]
    pub secret: Option<SecretRecord>,
    /// Key ids of secrets replaced by `rotate-secret` and not removed yet.
    #[serde(default)]
    pub retired_secrets: Vec<String>,
    /// Set just before addPassword: a secret created after this moment and not recorded is an orphan.
    #[serde(default)]
    pub secret_pending_since: Option<String>,
    /// The key ids the app had when that addPassword was announced: none of them is an orphan, whatever its
    /// description (the owner of an adopted app may have named a secret of its own like the tool's). Empty in
    /// older files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_pending_known: Vec<String>,
    /// Set just before the app registration is created, cleared once Graph shows it: a re-run that finds no app
    /// while this is recent looks again (Graph may not show a new object yet) before creating one more.
    #[serde(default)]
    pub app_pending_since: Option<String>,
    #[serde(default)]
    pub outputs: Option<Outputs>,
    /// `--keeper-record`: the Keeper record setup and rotate-secret write the secret into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper: Option<KeeperLink>,
    /// `import-classic` progress by classic table name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imports: BTreeMap<String, ImportProgress>,
    #[serde(default)]
    pub updated_at: String,
    /// When `rotate-secret` last made a new secret (RFC 3339): `--finish` wants a sign-in with it after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<String>,
    /// When setup first ran for this deployment (RFC 3339): how long Keeper has been silent when it never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// `--alert-silence-hours` of the last setup with `--alert-email`: status's window for "silent too long".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_silence_hours: Option<u32>,
}

impl State {
    /// When setup assigned the app Monitoring Metrics Publisher on the DCR, the role ingestion needs, if it
    /// recorded it.
    pub fn ingestion_role_assigned_at(&self) -> Option<time::OffsetDateTime> {
        self.role_assignments
            .iter()
            .find(|r| r.role == Role::MonitoringMetricsPublisher && r.on == "dcr")?
            .assigned_at
            .as_deref()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
    }
}

/// An open, locked state file.
pub struct StateFile {
    pub path: PathBuf,
    pub state: State,
    _lock: File,
}

fn state_err(path: &Path, what: impl Into<String>, hint: impl Into<crate::error::Hint>) -> Error {
    Error::State {
        path: path.display().to_string(),
        what: what.into(),
        hint: hint.into(),
    }
}

impl StateFile {
    /// Opens (or starts) the state file at `path` and takes its lock; a second run on it is refused.
    pub fn open(path: &Path) -> Result<StateFile> {
        let lock_path = beside(path, ".lock");
        let mut lock = crate::private_file::open_lock(&lock_path).map_err(|e| {
            state_err(
                path,
                format!("cannot open lock file {}: {e}", lock_path.display()),
                "check the directory is writable",
            )
        })?;
        // An advisory lock (flock on Unix) on the open file, released when the process ends however it ends.
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                return Err(state_err(
                    path,
                    format!("another keeper-azmon run holds it ({})", who_holds(&holder)),
                    "wait for that run to finish; two runs on one deployment would create things twice",
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(state_err(
                    path,
                    format!("cannot lock {}: {e}", lock_path.display()),
                    "put the state file on a local file system that supports file locks",
                ))
            }
        }
        let _ = lock.set_len(0);
        let _ = write!(lock, "pid {}", std::process::id());
        let state = StateFile::read_or_new(path)?;
        Ok(StateFile {
            path: path.to_path_buf(),
            state,
            _lock: lock,
        })
    }

    /// The state at `path` read without a lock, or a new one where there is no file: what a dry run plans from
    /// (it writes nothing, not even a lock file).
    pub fn read_or_new(path: &Path) -> Result<State> {
        if path.exists() {
            StateFile::read(path)
        } else {
            Ok(State {
                format: FORMAT.into(),
                ..State::default()
            })
        }
    }

    /// Reads a state file without locking it (verify and send only read the console values).
    pub fn read(path: &Path) -> Result<State> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| state_err(path, format!("cannot read: {e}"), "check the path"))?;
        let foreign = |e: String| {
            state_err(
                path,
                format!("is not a keeper-azmon state file: {e}"),
                "pass another --state path",
            )
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| foreign(e.to_string()))?;
        // The format first: a file of another version says so, rather than which field it lacks.
        match value.get("format").and_then(serde_json::Value::as_str) {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(state_err(
                    path,
                    format!("has format '{other}', expected '{FORMAT}'"),
                    "this keeper-azmon cannot read it; pass another --state path",
                ))
            }
            None => return Err(foreign("no \"format\" field".into())),
        }
        let s: State = serde_json::from_value(value).map_err(|e| foreign(e.to_string()))?;
        Ok(s)
    }

    /// Writes the state atomically: a temporary file beside it, synced, then renamed over it.
    pub fn save(&mut self) -> Result<()> {
        self.state.updated_at = crate::clock::now_rfc3339();
        let text = serde_json::to_string_pretty(&self.state).map_err(|e| {
            state_err(
                &self.path,
                format!("cannot serialize: {e}"),
                "report this bug",
            )
        })?;
        let tmp = beside(&self.path, ".tmp");
        let write = || -> std::io::Result<()> {
            let mut f = crate::private_file::create_replacing(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename itself must survive a power cut: sync the directory that holds it (unix; Windows
            // cannot open a directory as a file, and its rename is recorded by NTFS's journal).
            #[cfg(unix)]
            File::open(dir_of(&self.path))?.sync_all()?;
            Ok(())
        };
        write().map_err(|e| {
            state_err(
                &self.path,
                format!("cannot write: {e}"),
                "check the directory is writable and has space",
            )
        })
    }

    pub fn resource(&self, kind: &str) -> Option<&Resource> {
        self.state.resources.get(kind)
    }
}

/// What a held lock file says of its holder ("pid 123"). On Windows the holder's lock covers the file's bytes, so
/// another process cannot read them.
fn who_holds(text: &str) -> &str {
    match text.trim() {
        "" => "its process id cannot be read while it holds the lock",
        t => t,
    }
}

/// `path` with `suffix` added to its file name (`state.json` → `state.json.lock`), whatever its encoding.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The directory `path` is in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where the lock named `name` of a deployment lives: the user's runtime directory, else their cache directory
/// (on Windows `%LOCALAPPDATA%`), else (none of these set, as in some service accounts) beside the state file. Never a
/// directory every user shares, such as /tmp, where another user could hold the lock or plant a link.
fn lock_path(name: &str, state: &Path) -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = if let Some(d) = var("XDG_RUNTIME_DIR") {
        d.join("keeper-azmon")
    } else if let Some(d) = var("XDG_CACHE_HOME") {
        d.join("keeper-azmon").join("locks")
    } else if let Some(h) = var("HOME") {
        h.join(".cache").join("keeper-azmon").join("locks")
    } else if let Some(d) = var("LOCALAPPDATA").filter(|_| cfg!(windows)) {
        // Windows: the user's own local application data, which other users cannot read.
        d.join("keeper-azmon").join("locks")
    } else {
        return dir_of(state).join(format!(".keeper-azmon-{name}.lock"));
    };
    dir.join(format!("{name}.lock"))
}

/// A lock on one deployment (subscription + deployment name), whatever state file names it: two runs on one
/// deployment through two state paths would otherwise create things twice or delete what the other makes.
pub struct DeploymentLock {
    _file: File,
}

impl DeploymentLock {
    /// Takes the lock of `deployment` in `subscription` of the cloud whose ARM endpoint is `arm`, or says which
    /// process holds it. `state` is the state file's path (the lock is beside it when the user has no
    /// directory of their own for it).
    pub fn acquire(
        arm: &str,
        subscription: &str,
        deployment: &str,
        state: &Path,
    ) -> Result<DeploymentLock> {
        let key = format!(
            "{}/{}/{}",
            arm.trim_end_matches('/').to_ascii_lowercase(),
            subscription.to_ascii_lowercase(),
            deployment.to_ascii_lowercase()
        );
        let name = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes());
        let path = lock_path(&name.to_string(), state);
        let fail = |what: String| Error::State {
            path: path.display().to_string(),
            what,
            hint: "check that the directory can be written (XDG_RUNTIME_DIR, or HOME/.cache)"
                .into(),
        };
        std::fs::create_dir_all(dir_of(&path))
            .map_err(|e| fail(format!("cannot create the lock directory: {e}")))?;
        let mut file = crate::private_file::open_lock(&path)
            .map_err(|e| fail(format!("cannot open the deployment lock: {e}")))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::input(
                    format!(
                        "deployment '{deployment}' in subscription {subscription} is being changed by another keeper-azmon run ({})",
                        who_holds(&holder)
                    ),
                    "wait for that run to finish (it may use another --state file); two runs on one deployment would create things twice",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock the deployment lock: {e}")))
            }
        }
        let _ = file.set_len(0);
        let _ = write!(file, "pid {} ({key})", std::process::id());
        Ok(DeploymentLock { _file: file })
    }

    /// The lock of the deployment a state file names; none while it names none yet.
    pub fn take(arm: &str, sf: &StateFile) -> Result<Option<DeploymentLock>> {
        let state = &sf.state;
        if state.deployment.is_empty() || state.subscription_id.is_empty() {
            return Ok(None);
        }
        DeploymentLock::acquire(arm, &state.subscription_id, &state.deployment, &sf.path).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_record_from_before_its_time_was_kept_reads_as_of_unknown_age() {
        let old = r#"{"id":"/x/providers/Microsoft.Authorization/roleAssignments/1","role":"MonitoringMetricsPublisher","on":"dcr","created":true}"#;
        let mut state = State {
            role_assignments: vec![serde_json::from_str(old).expect("an old record reads")],
            ..State::default()
        };
        assert_eq!(state.ingestion_role_assigned_at(), None);
        state.role_assignments[0].assigned_at = Some("2026-11-26T08:00:00Z".into());
        assert_eq!(
            state
                .ingestion_role_assigned_at()
                .map(|t| t.unix_timestamp()),
            Some(1_795_680_000)
        );
        // Another role, or the same role elsewhere, is not the one ingestion needs.
        state.role_assignments[0].on = "dce".into();
        assert_eq!(state.ingestion_role_assigned_at(), None);
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("s.json");
        let mut a = StateFile::open(&p).expect("first open");
        a.state.deployment = "d".into();
        a.save().expect("save");
        let err = StateFile::open(&p)
            .err()
            .expect("second open must fail")
            .to_string();
        assert!(err.contains("another keeper-azmon run holds it"), "{err}");
        drop(a);
        let b = StateFile::open(&p).expect("open after release");
        assert_eq!(b.state.deployment, "d");
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_and_the_temporary_file_never_follow_a_symbolic_link() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("s.json");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("victim");
        let lock = dir.path().join("s.json.lock");
        // A lock file that is a link to someone's file, or to where a new one would be made.
        let elsewhere = dir.path().join("made-elsewhere");
        for target in [&victim, &elsewhere] {
            symlink(target, &lock).expect("symlink");
            let err = StateFile::open(&p)
                .err()
                .expect("a linked lock file is refused")
                .to_string();
            assert!(err.contains("symbolic link"), "{err}");
            std::fs::remove_file(&lock).expect("unlink");
        }
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
        assert!(!elsewhere.exists(), "nothing made where the link pointed");
        // A temporary file that is a link: replaced, not written through.
        let mut sf = StateFile::open(&p).expect("open");
        symlink(&victim, dir.path().join("s.json.tmp")).expect("symlink");
        sf.state.deployment = "d".into();
        sf.save().expect("save");
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
        assert_eq!(StateFile::read(&p).expect("state").deployment, "d");
        assert!(!dir.path().join("s.json.tmp").exists());
    }

    #[test]
    fn the_state_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("s.json");
        let mut sf = StateFile::open(&p).expect("open");
        sf.state.deployment = "d".into();
        sf.save().expect("save");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [&p, &beside(&p, ".lock")] {
                let mode = std::fs::metadata(f).expect("meta").permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", f.display());
            }
        }
        #[cfg(windows)]
        for f in [&p, &beside(&p, ".lock")] {
            // The rename keeps the temporary file's ACL: the current user alone.
            let file = std::fs::File::open(f).expect("open");
            assert!(
                crate::private_file::is_owner_only(&file).expect("read the ACL"),
                "{}",
                f.display()
            );
        }
    }

    #[test]
    fn foreign_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("s.json");
        std::fs::write(&p, "{\"hello\": 1}").expect("write");
        assert!(StateFile::open(&p).is_err());
    }
}
