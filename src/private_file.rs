//! Files only the operator may read (the client secret, events refused by ingestion): never written through a
//! symbolic link or into someone else's file, always mode 0600, replaced whole through a temporary file in the
//! same directory, and checked writable before the run's first write.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

fn refused(flag: &str, path: &Path, why: impl std::fmt::Display) -> Error {
    Error::input(
        format!("{flag} {}: {why}", path.display()),
        "pass the path of a new file, or of a regular file you own, in a directory you can write to",
    )
}

/// The directory a file of `path` lives in (`.` for a bare name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A new, empty temporary file beside `path`, mode 0600 (enforced and read back).
fn create_temp(path: &Path, flag: &str) -> Result<(File, PathBuf)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir_of(path).join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&tmp)
        .map_err(|e| refused(flag, path, format!("cannot create a file beside it: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let enforced = f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .and_then(|_| f.metadata())
            .map(|m| m.permissions().mode() & 0o777 == 0o600);
        if !matches!(enforced, Ok(true)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(refused(flag, path, "mode 0600 cannot be set there"));
        }
    }
    Ok((f, tmp))
}

/// Refuses a symbolic link, something that is not a regular file, or a file another user owns.
fn check_target(path: &Path, flag: &str, temp: &File) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(refused(flag, path, e)),
        Ok(m) if m.file_type().is_symlink() => Err(refused(
            flag,
            path,
            "is a symbolic link; its target is not written through",
        )),
        Ok(m) if !m.is_file() => Err(refused(flag, path, "is not a regular file")),
        Ok(_m) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                // The temporary file was just made by this process: its owner is who we are.
                let me = temp.metadata().map(|t| t.uid()).unwrap_or(u32::MAX);
                if _m.uid() != me {
                    return Err(refused(
                        flag,
                        path,
                        format!("belongs to another user (uid {})", _m.uid()),
                    ));
                }
            }
            let _ = temp;
            Ok(())
        }
    }
}

/// Checks, before any write of the run, that `path` can be written as a private file.
pub fn check_writable(path: &Path, flag: &str) -> Result<()> {
    let (f, tmp) = create_temp(path, flag)?;
    let checked = check_target(path, flag, &f);
    drop(f);
    let _ = std::fs::remove_file(&tmp);
    checked
}

/// A private file being written: its content goes to a temporary file beside it until [`PrivateFile::commit`]
/// renames it into place.
pub struct PrivateFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<File>>,
    flag: String,
}

impl PrivateFile {
    pub fn create(path: &Path, flag: &str) -> Result<PrivateFile> {
        let (f, tmp) = create_temp(path, flag)?;
        if let Err(e) = check_target(path, flag, &f) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(PrivateFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::new(f)),
            flag: flag.to_string(),
        })
    }

    fn io_err(&self, e: impl std::fmt::Display) -> Error {
        Error::Other(format!(
            "cannot write {} {}: {e}",
            self.flag,
            self.path.display()
        ))
    }

    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let r = match self.file.as_mut() {
            Some(f) => f.write_all(bytes),
            None => Ok(()),
        };
        r.map_err(|e| self.io_err(e))
    }

    /// Flushes, syncs and renames the file into place (checked again just before), then syncs the directory.
    /// On failure the temporary file is removed.
    pub fn commit(mut self) -> Result<()> {
        let Some(w) = self.file.take() else {
            return Ok(());
        };
        let done = (|| {
            let f = w.into_inner().map_err(|e| self.io_err(e.error()))?;
            f.sync_all().map_err(|e| self.io_err(e))?;
            check_target(&self.path, &self.flag, &f)?;
            std::fs::rename(&self.tmp, &self.path).map_err(|e| self.io_err(e))
        })();
        match done {
            Ok(()) => {
                sync_dir(&dir_of(&self.path));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                Err(e)
            }
        }
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Opens the lock file `path` to read and write, making it (mode 0600) if it is not there, and never through a
/// symbolic link (`O_NOFOLLOW`): a link planted at that path would have the lock truncate and write the file it
/// points to, or make one where it points. Something that is not a regular file is refused too.
pub fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW).mode(0o600);
    }
    let f = opts.open(path).map_err(|e| {
        let linked = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if linked {
            std::io::Error::other(
                "it is a symbolic link, and a lock is never taken through one; remove the link",
            )
        } else {
            e
        }
    })?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(f)
}

/// Creates `path` anew for writing, never through a symbolic link: whatever is at that path (a file a crash
/// left, a planted link) is removed first (a link itself, not what it points to), then the file is made with
/// `O_EXCL`, which follows no link. For temporary files whose name is fixed (the state file's `.tmp`).
pub fn create_replacing(path: &Path) -> std::io::Result<File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Writes `bytes` as the whole content of the private file `path`.
pub fn write(path: &Path, flag: &str, bytes: &[u8]) -> Result<()> {
    let mut f = PrivateFile::create(path, flag)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Makes a rename in `dir` durable (best effort where directories cannot be opened).
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_mode_0600_and_refuses_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("secret.txt");
        write(&p, "--secret-file", b"value").expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "value");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let target = dir.path().join("elsewhere");
            std::fs::write(&target, "keep").expect("target");
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&target, &link).expect("symlink");
            let err = write(&link, "--secret-file", b"value").expect_err("symlink refused");
            assert!(err.to_string().contains("symbolic link"), "{err}");
            assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
        }
        let leftovers = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .map(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                    .unwrap_or(false)
            })
            .count();
        assert_eq!(leftovers, 0, "no temporary file is left behind");
    }
}
