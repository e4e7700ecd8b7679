//! Why a credential store operation failed: [`StoreError`], typed down to what was damaged, which
//! operation failed and the operating system's or the TPM's own error as `source()`, and its
//! [`StoreErrorKind`], the field-less summary that crosses the platform worker's socket.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::Arc;

use crate::algorithm::Algorithm;

/// A cause kept as `source()`; shared so that the error can be cloned (an authenticator keeps
/// the last store failure for its host while the CTAP status goes out).
pub type Cause = Arc<dyn StdError + Send + Sync + 'static>;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No room for another credential (CTAP2_ERR_KEY_STORE_FULL).
    #[error("the credential store is full")]
    Full,
    /// The key material needs a user verification that has not happened (or has expired).
    #[error("the store is locked: user verification is needed to use its keys")]
    Locked,
    /// The algorithm is not supported by this store (e.g. by this TPM).
    #[error("algorithm {0:?} is not supported by this store")]
    UnsupportedAlgorithm(Algorithm),
    /// Data on disk or in the TPM is damaged or was tampered with.
    #[error("stored data is corrupt: {0}")]
    Corrupt(Corruption),
    /// A file or directory of the store could not be read or written; the operating system's
    /// error is the `source()` (its kind tells a read-only or full file system apart).
    #[error("storage failed: {action} {}", path.display())]
    File {
        /// What was being done ("writing", "renaming onto", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file system of the store offers no locks (NFS without its lock service), and the
    /// store is not opened without one.
    #[error(
        "cannot lock {}: the file system offers no locks (NFS without its lock service?), and \
         the store is not opened without one",
        path.display()
    )]
    NoLocks {
        /// The lock file.
        path: PathBuf,
    },
    /// The TPM refused or failed a command; its error is the `source()`.
    #[error("the TPM failed: {command}")]
    Tpm {
        /// The command or step ("TPM2_Sign", "setting the key authValue", ...).
        command: &'static str,
        /// The TPM stack's error.
        #[source]
        source: Cause,
    },
    /// The TPM answered something other than what was asked for.
    #[error("the TPM answered unexpectedly: {0}")]
    TpmAnswer(&'static str),
    /// The TPM is in dictionary-attack lockout after too many wrong PINs.
    #[error("the TPM is in dictionary-attack lockout: too many wrong PINs")]
    TpmLockout,
    /// A cryptographic operation failed.
    #[error("cryptographic operation failed: {operation}")]
    Crypto {
        /// Which one.
        operation: CryptoOperation,
        /// The library's error, where it gives one.
        #[source]
        source: Option<Cause>,
    },
    /// An update named a credential the store does not hold (the caller read it before).
    #[error("the store holds no credential with that ID")]
    NoSuchCredential,
    /// Another opener holds the store (one owner at a time): another process, such as
    /// latchkeyd's platform worker, or another open store in this one. Nothing was read or
    /// changed.
    #[error("the store is in use by {}", match holder {
        Some(pid) => format!("process {pid}"),
        None => "another process".to_owned(),
    })]
    InUse {
        /// The holder's process ID as it wrote it when it took the store, if readable
        /// (informative only: it may be stale or from another PID namespace).
        holder: Option<u32>,
    },
}

impl StoreError {
    /// Stored data is damaged: `part` names it, `damage` says how.
    pub fn corrupt(part: &'static str, damage: Damage) -> Self {
        Self::Corrupt(Corruption {
            part,
            damage,
            file: None,
        })
    }

    /// A cryptographic `operation` failed (the library said no more).
    pub fn crypto(operation: CryptoOperation) -> Self {
        Self::Crypto {
            operation,
            source: None,
        }
    }

    /// A cryptographic `operation` failed with the library's `source`.
    pub fn crypto_because(
        operation: CryptoOperation,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Crypto {
            operation,
            source: Some(Arc::new(source)),
        }
    }

    /// The file `path` could not be used for `action`.
    pub fn file(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::File {
            action,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// The TPM failed `command` with `source`.
    pub fn tpm(command: &'static str, source: impl StdError + Send + Sync + 'static) -> Self {
        Self::Tpm {
            command,
            source: Arc::new(source),
        }
    }

    /// The same corruption, found in the file `path` (other errors are returned unchanged).
    pub fn in_file(self, path: impl Into<PathBuf>) -> Self {
        match self {
            Self::Corrupt(c) => Self::Corrupt(Corruption {
                file: Some(path.into()),
                ..c
            }),
            other => other,
        }
    }

    /// What kind of failure this is (what the platform worker tells latchkeyd).
    pub fn kind(&self) -> StoreErrorKind {
        use std::io::ErrorKind as Io;
        match self {
            Self::Full => StoreErrorKind::Full,
            Self::Locked => StoreErrorKind::Locked,
            Self::UnsupportedAlgorithm(_) => StoreErrorKind::Unsupported,
            Self::Corrupt(_) | Self::NoSuchCredential => StoreErrorKind::Corrupt,
            Self::File { source, .. } => match source.kind() {
                Io::ReadOnlyFilesystem => StoreErrorKind::ReadOnly,
                Io::StorageFull | Io::QuotaExceeded => StoreErrorKind::NoSpace,
                Io::PermissionDenied => StoreErrorKind::Denied,
                _ => StoreErrorKind::Io,
            },
            Self::NoLocks { .. } => StoreErrorKind::Io,
            Self::Tpm { .. } | Self::TpmAnswer(_) | Self::TpmLockout => StoreErrorKind::Tpm,
            Self::Crypto { .. } => StoreErrorKind::Crypto,
            Self::InUse { .. } => StoreErrorKind::InUse,
        }
    }

    /// This error and its causes, joined by ": " (for messages that show one line).
    pub fn with_causes(&self) -> String {
        let mut out = self.to_string();
        let mut next = StdError::source(self);
        while let Some(cause) = next {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            next = cause.source();
        }
        out
    }
}

/// What of the stored data is damaged, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{part}: {damage}", match file {
    Some(path) => format!("{}: ", path.display()),
    None => String::new(),
})]
pub struct Corruption {
    /// The data ("credential record", "persistent state", "TPM key blob", ...).
    pub part: &'static str,
    /// How it is damaged.
    pub damage: Damage,
    /// The file it was read from, where one is known.
    pub file: Option<PathBuf>,
}

/// How stored data is damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Damage {
    /// It does not start with its format's magic bytes.
    #[error("bad magic")]
    BadMagic,
    /// A format version this build does not read.
    #[error("unknown format version {0}")]
    UnknownVersion(u64),
    /// It ends before its last field.
    #[error("truncated")]
    Truncated,
    /// Bytes follow its last field.
    #[error("trailing bytes")]
    Trailing,
    /// A field is longer than the store allows.
    #[error("{0} is too long")]
    TooLong(&'static str),
    /// A field that must not be empty is.
    #[error("{0} is empty")]
    Empty(&'static str),
    /// A field has the wrong length.
    #[error("{field} is {got} bytes, not {expected}")]
    WrongLength {
        /// The field.
        field: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it had.
        got: usize,
    },
    /// A field's value names nothing this build knows.
    #[error("{field}: unknown value {value}")]
    UnknownValue {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A field's bytes are not a valid value of its type (a boolean, UTF-8).
    #[error("{0} is not valid")]
    Invalid(&'static str),
    /// A value outside the range the store accepts.
    #[error("{0} is out of range")]
    OutOfRange(&'static str),
    /// Another kind of store, or another protection, made it.
    #[error("made by another kind of store: {0}")]
    Foreign(&'static str),
    /// Its authentication failed: it was changed, or sealed under another key.
    #[error("failed authentication")]
    Unauthentic,
    /// It contradicts itself or the rest of the store (a record under another's name, a key blob
    /// whose halves do not match, a key of another store).
    #[error("inconsistent: {0}")]
    Inconsistent(&'static str),
    /// A file the store's index lists is gone.
    #[error("vanished")]
    Vanished,
}

/// Which cryptographic operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoOperation {
    /// Drawing from the system's random generator.
    Random,
    /// Generating a key pair.
    KeyGeneration,
    /// Loading a private key (it is not valid for its algorithm).
    KeyLoading,
    /// Signing.
    Signing,
    /// Setting up an AEAD key.
    KeySetup,
    /// Sealing data with an AEAD.
    Sealing,
    /// Deriving a key with Argon2id.
    KeyDerivation,
}

impl std::fmt::Display for CryptoOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Random => "the system random generator failed",
            Self::KeyGeneration => "key generation failed",
            Self::KeyLoading => "the private key is not valid",
            Self::Signing => "signing failed",
            Self::KeySetup => "AEAD key setup failed",
            Self::Sealing => "sealing failed",
            Self::KeyDerivation => "Argon2id key derivation failed",
        })
    }
}

/// What kind of failure a [`StoreError`] is: what the platform worker's protocol carries to
/// latchkeyd (the words go with it for the log), and what decides whose fault it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreErrorKind {
    /// [`StoreError::Full`].
    Full = 1,
    /// [`StoreError::Locked`].
    Locked = 2,
    /// [`StoreError::UnsupportedAlgorithm`].
    Unsupported = 3,
    /// Damaged data ([`StoreError::Corrupt`]).
    Corrupt = 4,
    /// Another I/O failure of the store's files.
    Io = 5,
    /// The store's file system is read-only.
    ReadOnly = 6,
    /// The store's file system (or the user's quota) is full.
    NoSpace = 7,
    /// The operating system denied access to the store's files.
    Denied = 8,
    /// The TPM failed ([`StoreError::Tpm`], [`StoreError::TpmAnswer`], [`StoreError::TpmLockout`]).
    Tpm = 9,
    /// [`StoreError::Crypto`].
    Crypto = 10,
    /// [`StoreError::InUse`].
    InUse = 11,
}

impl StoreErrorKind {
    /// Every kind, for the wire's decoder and tests.
    pub const ALL: [Self; 11] = [
        Self::Full,
        Self::Locked,
        Self::Unsupported,
        Self::Corrupt,
        Self::Io,
        Self::ReadOnly,
        Self::NoSpace,
        Self::Denied,
        Self::Tpm,
        Self::Crypto,
        Self::InUse,
    ];

    /// Whether the CTAP status this failure becomes tells a CTAP peer what happened (a full or
    /// locked store, an unsupported algorithm); for the others it is `CTAP1_ERR_OTHER`, and only
    /// the kind tells.
    pub fn has_own_status(self) -> bool {
        matches!(self, Self::Full | Self::Locked | Self::Unsupported)
    }

    /// Its number on the wire.
    pub fn code(self) -> u64 {
        self as u64
    }

    /// The kind numbered `code`.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// What the caller may be told of it (no path, no detail).
    pub fn describe(self) -> &'static str {
        match self {
            Self::Full => "the credential store is full",
            Self::Locked => "the credential store is locked",
            Self::Unsupported => "the credential store does not support the algorithm",
            Self::Corrupt => "the credential store's data is damaged",
            Self::Io => "the credential store could not be read or written",
            Self::ReadOnly => "the credential store is on a read-only file system",
            Self::NoSpace => "the credential store's file system is full",
            Self::Denied => "the credential store's files may not be accessed",
            Self::Tpm => "the TPM failed",
            Self::Crypto => "a cryptographic operation of the credential store failed",
            Self::InUse => "the credential store is in use by another process",
        }
    }
}
