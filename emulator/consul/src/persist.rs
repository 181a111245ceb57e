//! The state directory: where a durable store keeps its ACL state between runs.
//!
//! [`StateDir`] owns `DIR/state.json` (the snapshot document of `store::snapshot`) and
//! `DIR/state.lock` (an advisory lock, so two servers never write the same file). Every save
//! is atomic and durable before it returns: the bytes go to `DIR/state.json.tmp` (mode 0600,
//! because the document holds SecretIDs), the temp file is fsynced, renamed over
//! `state.json`, and the directory is fsynced so the rename itself survives a power cut. A
//! crash at any point leaves either the old or the new document, never a torn one.
//!
//! The store calls [`StateDir::save`] while it holds its table lock, so saves happen in the
//! order of the index and an older document can never replace a newer one. Policy and error
//! handling live in the store (`Store::open`, the write path); this module only does I/O.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::store::snapshot::RestoreError;

/// Name of the state document inside the state directory.
pub const STATE_FILE: &str = "state.json";
const TEMP_FILE: &str = "state.json.tmp";
const LOCK_FILE: &str = "state.lock";
/// The largest state file read back (a bound on memory at start; a dev emulator's state is
/// far smaller).
pub const MAX_STATE_BYTES: u64 = 512 * 1024 * 1024;

/// An open, locked state directory.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    path: PathBuf,
    temp: PathBuf,
    // Held for the life of the store: the advisory lock is released when the file closes,
    // including when the process is killed.
    _lock: File,
}

/// Why the state directory could not be used; names the file and the cause in one line.
#[derive(Debug, thiserror::Error)]
#[error("state file {}: {kind}", path.display())]
pub struct PersistError {
    /// The file concerned.
    pub path: PathBuf,
    /// What went wrong.
    pub kind: PersistErrorKind,
}

/// The cause of a [`PersistError`].
#[derive(Debug, thiserror::Error)]
pub enum PersistErrorKind {
    /// Creating, reading, writing or syncing failed.
    #[error("cannot {op}: {}", describe_io(.source))]
    Io {
        /// What was being done (`read`, `write`, `create the directory`, …).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Another process holds the directory's lock.
    #[error("the state directory is in use by another iamconform serve (lock held on state.lock)")]
    Locked,
    /// Larger than [`MAX_STATE_BYTES`].
    #[error("larger than {MAX_STATE_BYTES} bytes")]
    TooLarge,
    /// The document could not be restored.
    #[error("cannot restore: {0}")]
    Restore(#[from] RestoreError),
    /// The state could not be rendered (an internal bug: please file it).
    #[error("cannot render the state document: {0}")]
    Render(String),
}

/// An OS error as `permission denied (os error 13)`: the lower-case kind, never the OS's
/// own sentence. Consul's HTTP layer turns any error text containing `Permission denied`
/// into a 403, and a failed write must stay a 500.
pub fn describe_io(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => format!("{} (os error {code})", e.kind()),
        None => e.kind().to_string(),
    }
}

impl StateDir {
    /// Opens (creating when missing, mode 0700) and locks `dir`.
    pub fn open(dir: &Path) -> Result<Self, PersistError> {
        let io_err = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| PersistError {
                path,
                kind: PersistErrorKind::Io { op, source },
            }
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(io_err("create the directory", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("open the lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(PersistError {
                    path: dir.join(STATE_FILE),
                    kind: PersistErrorKind::Locked,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            path: dir.join(STATE_FILE),
            temp: dir.join(TEMP_FILE),
            _lock: lock,
        })
    }

    /// `DIR/state.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved document, or `None` when there is none yet (first start).
    pub fn load(&self) -> Result<Option<Vec<u8>>, PersistError> {
        let err = |op, source| PersistError {
            path: self.path.clone(),
            kind: PersistErrorKind::Io { op, source },
        };
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err("open", e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_STATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err("read", e))?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_STATE_BYTES {
            return Err(PersistError {
                path: self.path.clone(),
                kind: PersistErrorKind::TooLarge,
            });
        }
        Ok(Some(bytes))
    }

    /// Replaces the document atomically and durably (see the module docs).
    pub fn save(&self, bytes: &[u8]) -> Result<(), PersistError> {
        self.save_steps(bytes).map_err(|(op, source)| PersistError {
            path: self.path.clone(),
            kind: PersistErrorKind::Io { op, source },
        })
    }

    fn save_steps(&self, bytes: &[u8]) -> Result<(), (&'static str, io::Error)> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&self.temp)
            .map_err(|e| ("create the temporary file", e))?;
        // `mode` applies only when the file is created; a temp file left by a crash keeps
        // whatever mode it had, so set it every time.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| ("restrict the temporary file to its owner", e))?;
        }
        file.write_all(bytes).map_err(|e| ("write", e))?;
        file.sync_all().map_err(|e| ("fsync", e))?;
        drop(file);
        fs::rename(&self.temp, &self.path).map_err(|e| ("rename the temporary file", e))?;
        sync_dir(&self.dir).map_err(|e| ("fsync the directory", e))
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; the rename is what it offers.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_replaces_atomically_with_owner_only_mode() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let sd = StateDir::open(&dir).unwrap();
        assert_eq!(sd.load().unwrap(), None);
        sd.save(b"{\"a\":1}").unwrap();
        sd.save(b"{\"a\":2}").unwrap();
        assert_eq!(sd.load().unwrap().unwrap(), b"{\"a\":2}");
        assert!(!dir.join(TEMP_FILE).exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(sd.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_second_opener_is_refused_while_the_first_holds_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let first = StateDir::open(tmp.path()).unwrap();
        let e = StateDir::open(tmp.path()).unwrap_err();
        assert!(matches!(e.kind, PersistErrorKind::Locked), "{e}");
        assert!(e.to_string().contains("in use by another"), "{e}");
        drop(first);
        StateDir::open(tmp.path()).unwrap();
    }

    #[test]
    fn io_errors_never_say_permission_denied_in_consuls_spelling() {
        let e = io::Error::from_raw_os_error(13);
        let text = describe_io(&e);
        assert_eq!(text, "permission denied (os error 13)");
        assert!(!text.contains(crate::error::PERMISSION_DENIED));
    }
}
