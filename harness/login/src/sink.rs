//! The token sink: the SecretID written atomically, mode 0600, no trailing newline.
//!
//! As Consul's `lib/file.WriteAtomicWithPerms(path, data, 0755, 0600)`: create the parent
//! directories (0755), write `<path>-<random>.tmp` with `O_CREAT|O_EXCL` and mode 0600, fsync,
//! then rename over `path` (removing the temporary file if the rename fails). Errors are worded
//! like Go's `*PathError` (`open <path>: permission denied`).

use std::io::Write as _;
use std::path::Path;

/// Writes `data` to `path` atomically with mode 0600.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), String> {
    let nonce = {
        use std::hash::{BuildHasher as _, Hasher as _};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        h.finish()
    };
    let tmp = {
        let mut s = path.as_os_str().to_owned();
        s.push(format!("-{nonce:016x}.tmp"));
        std::path::PathBuf::from(s)
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o755);
        b.create(dir).map_err(|e| go_path_error("mkdir", dir, &e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .map_err(|e| go_path_error("open", &tmp, &e))?;
    let written = file
        .write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| go_path_error("write", &tmp, &e));
    drop(file);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "rename {} {}: {}",
            tmp.display(),
            path.display(),
            go_errno_text(&e)
        ));
    }
    Ok(())
}

/// `op path: reason` as Go's `*fs.PathError` prints it.
pub(crate) fn go_path_error(op: &str, path: &Path, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), go_errno_text(e))
}

/// The errno text Go prints (lower-case strerror), where the kind is known.
pub(crate) fn go_errno_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file or directory".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        ErrorKind::AlreadyExists => "file exists".to_owned(),
        ErrorKind::IsADirectory => "is a directory".to_owned(),
        ErrorKind::NotADirectory => "not a directory".to_owned(),
        _ => {
            let s = e.to_string();
            // Rust appends " (os error N)"; Go does not.
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_bytes_with_mode_0600_and_creates_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/token");
        write_atomic(&path, b"secret-id").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"secret-id");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Overwrite replaces the file and leaves no temporary files behind.
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("token")]);
    }

    #[test]
    fn replaces_by_rename_so_readers_never_see_partial_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, b"old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let before = std::fs::metadata(&path).unwrap().ino();
            write_atomic(&path, b"new").unwrap();
            let after = std::fs::metadata(&path).unwrap().ino();
            assert_ne!(before, after, "a rename gives the path a new inode");
        }
    }

    #[test]
    fn errors_read_like_go() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"").unwrap();
        let err = write_atomic(&file.join("token"), b"x").unwrap_err();
        assert!(err.starts_with("mkdir "), "{err}");
        assert!(
            err.ends_with(": not a directory") || err.ends_with(": file exists"),
            "{err}"
        );
    }
}
