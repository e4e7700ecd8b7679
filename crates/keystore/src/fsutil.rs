//! Durable file operations: private modes and atomic replacement.
//!
//! Every file the store writes goes through [`write_atomic`]: a temporary file in the same
//! directory (mode 0600), the bytes, `fsync` of the file, `rename` over the target, `fsync` of the
//! directory. A crash at any point leaves either the old file or the new one, never a mix; the
//! only debris is a `.tmp-*` file, which [`remove_stale_temps`] clears at the next open.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use latchkey_authenticator::store::StoreError;
use latchkey_authenticator::store::{CryptoOperation, Damage};

/// Prefix of temporary files; never a valid name for a store file.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

/// Maps an I/O error to the store's error, naming what was being done.
pub(crate) fn io_err(what: &'static str, path: &Path, err: io::Error) -> StoreError {
    StoreError::file(what, path, err)
}

/// Creates `dir` (and missing parents) with mode 0700, and tightens an existing one to 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    let existed = dir.is_dir();
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err("creating directory", dir, e))?;
    let meta = fs::metadata(dir).map_err(|e| io_err("inspecting directory", dir, e))?;
    if meta.permissions().mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_err("restricting directory", dir, e))?;
    }
    if !existed {
        // Make the new directory's own entry durable, not only what is written inside it.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Flushes a directory's entries (a rename or unlink in it) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("syncing directory", dir, e))
}

/// Atomically replaces `dir/name` with `bytes` (mode 0600), durable when this returns.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let mut suffix = [0u8; 8];
    aws_lc_rs::rand::fill(&mut suffix)
        .map_err(|e| StoreError::crypto_because(CryptoOperation::Random, e))?;
    let tmp = dir.join(format!("{TEMP_PREFIX}{}", hex(&suffix)));
    let target = dir.join(name);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_err("creating", &tmp, e))?;
        file.write_all(bytes)
            .map_err(|e| io_err("writing", &tmp, e))?;
        file.sync_all().map_err(|e| io_err("syncing", &tmp, e))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(|e| io_err("renaming onto", &target, e))
    })();
    if result.is_err() {
        // Best effort: the temp file is debris either way and is cleared at the next open.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

/// Removes `dir/name` durably; `false` if it did not exist.
pub(crate) fn remove_durable(dir: &Path, name: &str) -> Result<bool, StoreError> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(dir)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("removing", &path, e)),
    }
}

/// Reads `path`, at most `limit` bytes; `None` if it does not exist.
pub(crate) fn read_bounded(path: &Path, limit: usize) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("opening", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err("reading", path, e))?;
    if bytes.len() > limit {
        return Err(StoreError::corrupt("file", Damage::TooLong("the file")).in_file(path));
    }
    Ok(Some(bytes))
}

/// Deletes temporary files left by a crash in the middle of [`write_atomic`].
pub(crate) fn remove_stale_temps(dir: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_err("listing", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("listing", dir, e))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| io_err("removing stale", &path, e))?;
        }
    }
    Ok(())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_0600_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        write_atomic(&dir, "f", b"one").unwrap();
        write_atomic(&dir, "f", b"two!").unwrap();
        assert_eq!(fs::read(dir.join("f")).unwrap(), b"two!");
        assert_eq!(
            fs::metadata(dir.join("f")).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp debris");
    }

    #[test]
    fn loose_directory_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }

    #[test]
    fn bounded_read_and_stale_temps() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("big"), [0u8; 10]).unwrap();
        assert!(matches!(
            read_bounded(&tmp.path().join("big"), 9),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            read_bounded(&tmp.path().join("big"), 10)
                .unwrap()
                .unwrap()
                .len(),
            10
        );
        assert!(read_bounded(&tmp.path().join("none"), 10)
            .unwrap()
            .is_none());
        fs::write(tmp.path().join(".tmp-1234"), b"x").unwrap();
        remove_stale_temps(tmp.path()).unwrap();
        assert!(!tmp.path().join(".tmp-1234").exists());
        assert!(tmp.path().join("big").exists());
        assert!(remove_durable(tmp.path(), "big").unwrap());
        assert!(!remove_durable(tmp.path(), "big").unwrap());
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
    }
}
