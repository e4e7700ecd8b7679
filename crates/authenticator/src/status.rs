//! CTAP status codes the authenticator answers with (CTAP 2.1 §8.2).

/// A CTAP2 status code (CTAP 2.1 §8.2 "Status codes"). The discriminant is the wire byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// CTAP1_ERR_INVALID_COMMAND.
    InvalidCommand = 0x01,
    /// CTAP1_ERR_INVALID_PARAMETER.
    InvalidParameter = 0x02,
    /// CTAP1_ERR_INVALID_LENGTH.
    InvalidLength = 0x03,
    /// CTAP1_ERR_INVALID_SEQ.
    InvalidSeq = 0x04,
    /// CTAP2_ERR_CBOR_UNEXPECTED_TYPE.
    CborUnexpectedType = 0x11,
    /// CTAP2_ERR_INVALID_CBOR.
    InvalidCbor = 0x12,
    /// CTAP2_ERR_MISSING_PARAMETER.
    MissingParameter = 0x14,
    /// CTAP2_ERR_LIMIT_EXCEEDED.
    LimitExceeded = 0x15,
    /// CTAP2_ERR_LARGE_BLOB_STORAGE_FULL.
    LargeBlobStorageFull = 0x18,
    /// CTAP2_ERR_CREDENTIAL_EXCLUDED.
    CredentialExcluded = 0x19,
    /// CTAP2_ERR_UNSUPPORTED_ALGORITHM.
    UnsupportedAlgorithm = 0x26,
    /// CTAP2_ERR_OPERATION_DENIED.
    OperationDenied = 0x27,
    /// CTAP2_ERR_KEY_STORE_FULL.
    KeyStoreFull = 0x28,
    /// CTAP2_ERR_UNSUPPORTED_OPTION.
    UnsupportedOption = 0x2B,
    /// CTAP2_ERR_INVALID_OPTION.
    InvalidOption = 0x2C,
    /// CTAP2_ERR_KEEPALIVE_CANCEL.
    KeepaliveCancel = 0x2D,
    /// CTAP2_ERR_NO_CREDENTIALS.
    NoCredentials = 0x2E,
    /// CTAP2_ERR_USER_ACTION_TIMEOUT.
    UserActionTimeout = 0x2F,
    /// CTAP2_ERR_NOT_ALLOWED.
    NotAllowed = 0x30,
    /// CTAP2_ERR_PIN_INVALID.
    PinInvalid = 0x31,
    /// CTAP2_ERR_PIN_BLOCKED.
    PinBlocked = 0x32,
    /// CTAP2_ERR_PIN_AUTH_INVALID.
    PinAuthInvalid = 0x33,
    /// CTAP2_ERR_PIN_AUTH_BLOCKED.
    PinAuthBlocked = 0x34,
    /// CTAP2_ERR_PIN_NOT_SET.
    PinNotSet = 0x35,
    /// CTAP2_ERR_PUAT_REQUIRED.
    PuatRequired = 0x36,
    /// CTAP2_ERR_PIN_POLICY_VIOLATION.
    PinPolicyViolation = 0x37,
    /// CTAP2_ERR_REQUEST_TOO_LARGE.
    RequestTooLarge = 0x39,
    /// CTAP2_ERR_ACTION_TIMEOUT.
    ActionTimeout = 0x3A,
    /// CTAP2_ERR_UP_REQUIRED.
    UpRequired = 0x3B,
    /// CTAP2_ERR_UV_BLOCKED.
    UvBlocked = 0x3C,
    /// CTAP2_ERR_INTEGRITY_FAILURE.
    IntegrityFailure = 0x3D,
    /// CTAP2_ERR_INVALID_SUBCOMMAND.
    InvalidSubcommand = 0x3E,
    /// CTAP2_ERR_UV_INVALID.
    UvInvalid = 0x3F,
    /// CTAP2_ERR_UNAUTHORIZED_PERMISSION.
    UnauthorizedPermission = 0x40,
    /// CTAP1_ERR_OTHER: an internal failure (a store or crypto error).
    Other = 0x7F,
}

impl Status {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        self as u8
    }
}

impl From<crate::env::PresenceDenied> for Status {
    fn from(d: crate::env::PresenceDenied) -> Self {
        match d {
            crate::env::PresenceDenied::Denied => Status::OperationDenied,
            crate::env::PresenceDenied::Timeout => Status::UserActionTimeout,
            crate::env::PresenceDenied::Cancelled => Status::KeepaliveCancel,
        }
    }
}

impl From<crate::store::StoreError> for Status {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Full => Status::KeyStoreFull,
            crate::store::StoreError::UnsupportedAlgorithm(_) => Status::UnsupportedAlgorithm,
            crate::store::StoreError::Locked => Status::PuatRequired,
            _ => Status::Other,
        }
    }
}
