//! One owner of a store directory at a time: [`StoreLock`].
//!
//! The engine keeps what it read in memory (the index, counters under their ceilings, the
//! persistent state) and writes counters back when it is dropped. Two openers of one directory
//! would each serve their own copy: a credential deleted through one stays usable through the
//! other, and the later of the two to close writes its counters over the other's, so a counter
//! can go back below a value an RP has seen. So whoever opens a store first takes an exclusive
//! `flock(LOCK_EX | LOCK_NB)` on `DIR/lock`, before reading or changing anything, and holds it
//! for the store's lifetime; a second opener, in this process or another, gets
//! [`StoreError::InUse`] at once and has changed nothing.
//!
//! - `flock`, not `fcntl` record locks: a `flock` lock belongs to the open file description, so
//!   two opens in one process exclude each other, and closing some other descriptor of the file
//!   does not drop it (POSIX record locks have both faults).
//! - The lock file is opened `O_CLOEXEC`: a program the holder executes does not inherit it. A
//!   child forked without exec shares the description; the lock is released explicitly when the
//!   store is dropped, so such a child cannot keep it past its owner. When the holder dies, even by
//!   SIGKILL, the kernel closes its descriptors and the lock goes with them: no stale lock file
//!   to clean up, and the file itself is never deleted (deleting lock files races with openers).
//! - The holder writes its process ID into the file, so that a refusal can say who holds the
//!   store. It is informative only: it may be stale for a moment while a new holder writes it,
//!   and means nothing in another PID namespace.
//! - The platform worker opens the store before its sandbox is applied: the lock is taken then,
//!   and holding it needs no filesystem access afterwards.
//! - On NFS, Linux emulates `flock` with byte-range locks that the server arbitrates, so openers on
//!   other machines are excluded too — unless the mount keeps locks local (`local_lock=flock` or
//!   `all`, NFSv3 `nolock`), when only this machine's openers are. A client cut off from the
//!   server for longer than its lease can lose the lock without being told. A filesystem without
//!   locks (`ENOLCK`: NFSv3 without its lock service) refuses to open the store rather than open it
//!   unguarded.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use latchkey_authenticator::store::StoreError;
use rustix::fs::{flock, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::fsutil::{self, io_err};

/// The lock file's name in the store directory.
pub(crate) const LOCK_FILE: &str = "lock";

/// The longest holder record read back (a process ID and a newline).
const MAX_HOLDER: usize = 16;

/// The exclusive hold on a store directory, released when dropped (or when the process ends).
#[derive(Debug)]
pub(crate) struct StoreLock {
    file: File,
}

impl StoreLock {
    /// Creates `dir` if needed (mode 0700) and takes its lock, without waiting:
    /// [`StoreError::InUse`] if another opener holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        fsutil::ensure_private_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let base = OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let (fd, writable) = match rustix::fs::open(
            &path,
            base | OFlags::RDWR | OFlags::CREATE,
            Mode::RUSR | Mode::WUSR,
        ) {
            Ok(fd) => (fd, true),
            // A store on a read-only filesystem can still be read, by one opener at a time:
            // `flock` needs no write access.
            Err(Errno::ROFS | Errno::ACCESS) => (
                rustix::fs::open(&path, base | OFlags::RDONLY, Mode::empty())
                    .map_err(|e| io_err("opening", &path, e.into()))?,
                false,
            ),
            Err(e) => return Err(io_err("opening", &path, e.into())),
        };
        let file = File::from(fd);
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(Errno::WOULDBLOCK) => {
                return Err(StoreError::InUse {
                    holder: read_holder(&file),
                })
            }
            Err(Errno::NOLCK) => return Err(StoreError::NoLocks { path }),
            Err(e) => return Err(io_err("locking", &path, e.into())),
        }
        if writable {
            // Best effort: the record only names the holder in a refusal; without it the
            // refusal says "another process".
            let record = format!("{}\n", std::process::id());
            let _ = file
                .set_len(0)
                .and_then(|()| file.write_all_at(record.as_bytes(), 0));
        }
        Ok(StoreLock { file })
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock too, unless a child forked meanwhile shares
        // it: unlocking first ends the hold with the store, whoever else has the descriptor.
        let _ = flock(&self.file, FlockOperation::NonBlockingUnlock);
    }
}

/// The process ID the holder wrote, if the file holds one.
fn read_holder(file: &File) -> Option<u32> {
    let mut buf = [0u8; MAX_HOLDER];
    let n = file.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(buf.get(..n)?).ok()?;
    text.trim().parse::<u32>().ok().filter(|pid| *pid != 0)
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
