//! Atomic file replacement in a directory other users' programs (browsers, other native hosts)
//! share with us. Used by the installers of the native host and of latchkeyd (its unit and
//! activation file, `latchkey install --user`).
//!
//! The new contents go to a temp file whose name is unique to this call (process ID, time and a
//! counter) and which is opened with `O_CREAT | O_EXCL` (`create_new`): an existing path,
//! including a symbolic link planted at that name, makes the open fail instead of being followed
//! or truncated (open(2): "If O_CREAT and O_EXCL are set, open() fails if the file exists …
//! symbolic links are not followed"). Concurrent installs therefore never share a temp file. On
//! any failure after the temp file is created, it is removed.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many unique names are tried before giving up (each collision needs another process to
/// have created exactly that name).
const ATTEMPTS: u32 = 16;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp file name for `name` that no other call in any process produces.
pub fn temp_name(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{name}.{}.{nanos:x}.{n}.tmp", std::process::id())
}

/// Creates a fresh temp file in `dir` (never an existing path, never through a symlink).
fn create_temp(dir: &Path, name: &str, mode: u32) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let tmp = dir.join(temp_name(name));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no temp file name was free")))
}

/// Replaces `dir/name` with `bytes` (mode `mode`, whatever the umask) atomically. On error
/// returns the path that failed: the temp file, or the destination if the rename failed.
pub fn write(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    let path = dir.join(name);
    let (tmp, mut f) = create_temp(dir, name, mode).map_err(|e| (dir.to_owned(), e))?;
    let filled = (|| {
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    drop(f);
    let result = filled
        .map_err(|e| (tmp.clone(), e))
        .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| (path.clone(), e)));
    match result {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
