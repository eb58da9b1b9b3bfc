//! Files only the operator may read (the client secret, events refused by ingestion, the state file): never
//! written through a symbolic link or into someone else's file, always mode 0600 (on Windows an ACL granting
//! the current user alone, in `private_file/windows.rs`), replaced whole through a temporary file in the same
//! directory, and checked writable before the run's first write.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[cfg(windows)]
mod windows;
/// Whether an open file grants the current user alone (the tests' read-back of the owner-only ACL).
#[cfg(all(windows, test))]
pub use windows::is_owner_only;

/// What "private" means on this platform, for messages.
#[cfg(windows)]
const PRIVATE: &str = "an ACL granting only the current user";
#[cfg(not(windows))]
const PRIVATE: &str = "mode 0600";

/// Makes a file just created readable and writable by its owner alone, and reads that back: `false` when it
/// could not be set (a file system without modes or ACLs). Called before anything is written to it.
fn make_private(f: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let enforced = f
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .and_then(|_| f.metadata())
            .map(|m| m.permissions().mode() & 0o777 == 0o600);
        matches!(enforced, Ok(true))
    }
    #[cfg(windows)]
    {
        let enforced = windows::restrict_to_owner(f).and_then(|_| windows::is_owner_only(f));
        matches!(enforced, Ok(true))
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = f;
        true
    }
}

/// Options that open a private file: made with mode 0600 on unix (the umask can only take bits away); on
/// Windows with the right to set its DACL, and never through a symbolic link (the link itself is opened, and
/// is then refused as not a regular file).
fn private_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        opts.access_mode(windows::OPEN_ACCESS)
            .custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT);
    }
    opts
}

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

/// A new, empty temporary file beside `path`, mode 0600 or owner-only ACL (enforced and read back).
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
    let f = private_options()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| refused(flag, path, format!("cannot create a file beside it: {e}")))?;
    if !make_private(&f) {
        drop(f);
        let _ = std::fs::remove_file(&tmp);
        return Err(refused(
            flag,
            path,
            format!("{PRIVATE} cannot be set there"),
        ));
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
            #[cfg(windows)]
            {
                use std::os::windows::fs::OpenOptionsExt;
                // The owner of the file there against the owner of the file this process just made.
                let same = OpenOptions::new()
                    .access_mode(windows::READ_SECURITY)
                    .custom_flags(
                        windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT,
                    )
                    .open(path)
                    .and_then(|there| windows::same_owner(&there, temp));
                match same {
                    Ok(true) => {}
                    Ok(false) => return Err(refused(flag, path, "belongs to another user")),
                    Err(e) => {
                        return Err(refused(flag, path, format!("cannot read its owner: {e}")))
                    }
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
    let mut opts = private_options();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOFOLLOW);
    }
    let linked = || std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let link_refused = || {
        std::io::Error::other(
            "it is a symbolic link, and a lock is never taken through one; remove the link",
        )
    };
    // On unix O_NOFOLLOW makes the open fail on a link; on Windows the link itself is opened.
    let f = open_lock_file(&opts, path).map_err(|e| if linked() { link_refused() } else { e })?;
    if !f.metadata()?.is_file() {
        if linked() {
            return Err(link_refused());
        }
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(f)
}

/// Opens the lock file; on Windows a lock file this call makes gets the owner-only ACL (unix has the mode from
/// the options).
fn open_lock_file(opts: &OpenOptions, path: &Path) -> std::io::Result<File> {
    #[cfg(windows)]
    {
        match opts.clone().create_new(true).open(path) {
            Ok(f) => {
                if !make_private(&f) {
                    return Err(std::io::Error::other(format!(
                        "{PRIVATE} cannot be set on it"
                    )));
                }
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    opts.open(path)
}

/// Creates `path` anew for writing, never through a symbolic link: whatever is at that path (a file a crash
/// left, a planted link) is removed first (a link itself, not what it points to), then the file is made with
/// `O_EXCL`, which follows no link. For temporary files whose name is fixed (the state file's `.tmp`): private
/// like the others (mode 0600, or the owner-only ACL), enforced before anything is written.
pub fn create_replacing(path: &Path) -> std::io::Result<File> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let f = private_options().write(true).create_new(true).open(path)?;
    if !make_private(&f) {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(std::io::Error::other(format!(
            "{PRIVATE} cannot be set on {}",
            path.display()
        )));
    }
    Ok(f)
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
    #[cfg(not(unix))]
    let _ = dir;
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
        #[cfg(windows)]
        {
            let f = std::fs::File::open(&p).expect("open");
            assert!(
                windows::is_owner_only(&f).expect("read the ACL"),
                "the secret file grants the current user alone"
            );
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

/// The Windows side of the promises above; they run in the Windows CI job.
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    fn a_file_made_in_a_folder_everyone_may_read_still_grants_only_its_owner() {
        // A temporary folder inherits its parent's entries (users, administrators): the file must not.
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("secret.txt");
        write(&p, "--secret-file", b"value").expect("write");
        let f = File::open(&p).expect("open");
        assert!(windows::is_owner_only(&f).expect("read the ACL"));
        // A plain file there inherits the folder's entries: the check tells the two apart.
        let plain = dir.path().join("plain.txt");
        std::fs::write(&plain, "x").expect("plain");
        let f = File::open(&plain).expect("open");
        assert!(!windows::is_owner_only(&f).expect("read the ACL"));
    }

    #[test]
    fn lock_and_replaced_files_grant_only_their_owner() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = open_lock(&dir.path().join("s.json.lock")).expect("lock");
        assert!(windows::is_owner_only(&lock).expect("read the ACL"));
        let tmp = create_replacing(&dir.path().join("s.json.tmp")).expect("tmp");
        assert!(windows::is_owner_only(&tmp).expect("read the ACL"));
    }

    #[test]
    fn a_file_the_user_made_is_theirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("mine.txt");
        std::fs::write(&p, "x").expect("mine");
        // Replacing the user's own file is allowed (the owner check passes), and the new one is private.
        write(&p, "--secret-file", b"value").expect("replace my own file");
        let f = File::open(&p).expect("open");
        assert!(windows::is_owner_only(&f).expect("read the ACL"));
    }

    #[test]
    fn a_symbolic_link_is_refused_where_links_can_be_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").expect("target");
        let link = dir.path().join("link");
        // Making a link needs Developer Mode or the privilege: where it cannot be made there is nothing to test.
        if std::os::windows::fs::symlink_file(&target, &link).is_err() {
            return;
        }
        let err = write(&link, "--secret-file", b"value").expect_err("symlink refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
        let err = open_lock(&link).expect_err("a linked lock is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
}
