//! CTAP status codes (CTAP 2.1 §8.2 "Status codes").
//!
//! <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-errata-20220621.html#error-responses>
//!
//! [`StatusCode`] round-trips losslessly through `u8` for all 256 values: codes the
//! specification does not name are kept in [`StatusCode::Extension`], [`StatusCode::Vendor`] or
//! [`StatusCode::Unknown`].

use core::fmt;

macro_rules! status_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal => $name:literal, )*) => {
        /// A CTAP status byte: the first byte of every CTAP2 response (CTAP 2.1 §8.2).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum StatusCode {
            $( $(#[$doc])* $variant, )*
            /// `CTAP2_ERR_EXTENSION_FIRST`..=`CTAP2_ERR_EXTENSION_LAST` (0xE0..=0xEF):
            /// extension-specific errors.
            Extension(u8),
            /// `CTAP2_ERR_VENDOR_FIRST`..=`CTAP2_ERR_VENDOR_LAST` (0xF0..=0xFF):
            /// vendor-specific errors.
            Vendor(u8),
            /// A code the specification does not define; kept so it round-trips.
            Unknown(u8),
        }

        impl From<u8> for StatusCode {
            fn from(code: u8) -> Self {
                match code {
                    $( $code => Self::$variant, )*
                    0xE0..=0xEF => Self::Extension(code),
                    0xF0..=0xFF => Self::Vendor(code),
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<StatusCode> for u8 {
            fn from(status: StatusCode) -> u8 {
                match status {
                    $( StatusCode::$variant => $code, )*
                    StatusCode::Extension(c) | StatusCode::Vendor(c) | StatusCode::Unknown(c) => c,
                }
            }
        }

        impl StatusCode {
            /// The name the specification gives this code (`CTAP2_ERR_…`), or a range name.
            pub fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $name, )*
                    Self::Extension(_) => "CTAP2_ERR_EXTENSION",
                    Self::Vendor(_) => "CTAP2_ERR_VENDOR",
                    Self::Unknown(_) => "CTAP_ERR_UNKNOWN",
                }
            }
        }
    };
}

status_codes! {
    /// Success (`CTAP1_ERR_SUCCESS`, `CTAP2_OK`).
    Ok = 0x00 => "CTAP2_OK",
    /// The command is not a valid CTAP command.
    InvalidCommand = 0x01 => "CTAP1_ERR_INVALID_COMMAND",
    /// The command included an invalid parameter.
    InvalidParameter = 0x02 => "CTAP1_ERR_INVALID_PARAMETER",
    /// Invalid message or item length.
    InvalidLength = 0x03 => "CTAP1_ERR_INVALID_LENGTH",
    /// Invalid message sequencing.
    InvalidSeq = 0x04 => "CTAP1_ERR_INVALID_SEQ",
    /// Message timed out.
    Timeout = 0x05 => "CTAP1_ERR_TIMEOUT",
    /// Channel busy; the client should retry later.
    ChannelBusy = 0x06 => "CTAP1_ERR_CHANNEL_BUSY",
    /// Command requires channel lock.
    LockRequired = 0x0A => "CTAP1_ERR_LOCK_REQUIRED",
    /// Command not allowed on this channel ID.
    InvalidChannel = 0x0B => "CTAP1_ERR_INVALID_CHANNEL",
    /// A parameter has the wrong CBOR type.
    CborUnexpectedType = 0x11 => "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
    /// Error when parsing CBOR (malformed or not canonical).
    InvalidCbor = 0x12 => "CTAP2_ERR_INVALID_CBOR",
    /// A required parameter is missing.
    MissingParameter = 0x14 => "CTAP2_ERR_MISSING_PARAMETER",
    /// A limit of a parameter was exceeded.
    LimitExceeded = 0x15 => "CTAP2_ERR_LIMIT_EXCEEDED",
    /// Unsupported extension (CTAP 2.0; reserved in 2.1).
    UnsupportedExtension = 0x16 => "CTAP2_ERR_UNSUPPORTED_EXTENSION",
    /// The fingerprint database is full.
    FpDatabaseFull = 0x17 => "CTAP2_ERR_FP_DATABASE_FULL",
    /// The large-blob storage is full.
    LargeBlobStorageFull = 0x18 => "CTAP2_ERR_LARGE_BLOB_STORAGE_FULL",
    /// A credential in the exclude list is present on the authenticator.
    CredentialExcluded = 0x19 => "CTAP2_ERR_CREDENTIAL_EXCLUDED",
    /// Processing (lengthy operation in progress).
    Processing = 0x21 => "CTAP2_ERR_PROCESSING",
    /// The credential is not valid for this authenticator.
    InvalidCredential = 0x22 => "CTAP2_ERR_INVALID_CREDENTIAL",
    /// Authentication is waiting for user interaction.
    UserActionPending = 0x23 => "CTAP2_ERR_USER_ACTION_PENDING",
    /// Processing, lengthy operation in progress.
    OperationPending = 0x24 => "CTAP2_ERR_OPERATION_PENDING",
    /// No request is pending.
    NoOperations = 0x25 => "CTAP2_ERR_NO_OPERATIONS",
    /// The requested algorithm is not supported.
    UnsupportedAlgorithm = 0x26 => "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
    /// Not authorized for the requested operation.
    OperationDenied = 0x27 => "CTAP2_ERR_OPERATION_DENIED",
    /// Internal key storage is full.
    KeyStoreFull = 0x28 => "CTAP2_ERR_KEY_STORE_FULL",
    /// Not busy (CTAP 2.0; reserved in 2.1).
    NotBusy = 0x29 => "CTAP2_ERR_NOT_BUSY",
    /// No outstanding operation (CTAP 2.0; reserved in 2.1).
    NoOperationPending = 0x2A => "CTAP2_ERR_NO_OPERATION_PENDING",
    /// The requested option is not supported.
    UnsupportedOption = 0x2B => "CTAP2_ERR_UNSUPPORTED_OPTION",
    /// Not a valid option for the current operation.
    InvalidOption = 0x2C => "CTAP2_ERR_INVALID_OPTION",
    /// A pending keep-alive was cancelled.
    KeepaliveCancel = 0x2D => "CTAP2_ERR_KEEPALIVE_CANCEL",
    /// No valid credentials were provided.
    NoCredentials = 0x2E => "CTAP2_ERR_NO_CREDENTIALS",
    /// A user action timed out.
    UserActionTimeout = 0x2F => "CTAP2_ERR_USER_ACTION_TIMEOUT",
    /// Continuation command not allowed, such as getNextAssertion without getAssertion.
    NotAllowed = 0x30 => "CTAP2_ERR_NOT_ALLOWED",
    /// The PIN is invalid.
    PinInvalid = 0x31 => "CTAP2_ERR_PIN_INVALID",
    /// The PIN is blocked.
    PinBlocked = 0x32 => "CTAP2_ERR_PIN_BLOCKED",
    /// pinUvAuthParam verification failed.
    PinAuthInvalid = 0x33 => "CTAP2_ERR_PIN_AUTH_INVALID",
    /// PIN/UV auth is blocked until the next power cycle.
    PinAuthBlocked = 0x34 => "CTAP2_ERR_PIN_AUTH_BLOCKED",
    /// No PIN has been set.
    PinNotSet = 0x35 => "CTAP2_ERR_PIN_NOT_SET",
    /// A pinUvAuthToken is required for the selected operation.
    PuatRequired = 0x36 => "CTAP2_ERR_PUAT_REQUIRED",
    /// The PIN does not satisfy the PIN policy.
    PinPolicyViolation = 0x37 => "CTAP2_ERR_PIN_POLICY_VIOLATION",
    /// The PIN token expired (CTAP 2.0; reserved in 2.1).
    PinTokenExpired = 0x38 => "CTAP2_ERR_PIN_TOKEN_EXPIRED",
    /// The authenticator cannot handle this request due to memory constraints.
    RequestTooLarge = 0x39 => "CTAP2_ERR_REQUEST_TOO_LARGE",
    /// The current operation has timed out.
    ActionTimeout = 0x3A => "CTAP2_ERR_ACTION_TIMEOUT",
    /// User presence is required for the requested operation.
    UpRequired = 0x3B => "CTAP2_ERR_UP_REQUIRED",
    /// Built-in user verification is blocked.
    UvBlocked = 0x3C => "CTAP2_ERR_UV_BLOCKED",
    /// A check of the integrity of the large-blob array failed.
    IntegrityFailure = 0x3D => "CTAP2_ERR_INTEGRITY_FAILURE",
    /// The subcommand is invalid or unsupported.
    InvalidSubcommand = 0x3E => "CTAP2_ERR_INVALID_SUBCOMMAND",
    /// Built-in user verification failed (no match).
    UvInvalid = 0x3F => "CTAP2_ERR_UV_INVALID",
    /// The permissions parameter contains an unauthorized permission.
    UnauthorizedPermission = 0x40 => "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
    /// Other unspecified error.
    Other = 0x7F => "CTAP1_ERR_OTHER",
    /// The last CTAP2 specification error code.
    SpecLast = 0xDF => "CTAP2_ERR_SPEC_LAST",
}

impl StatusCode {
    /// Whether this is the success code 0x00.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), u8::from(*self))
    }
}

impl std::error::Error for StatusCode {}

#[cfg(test)]
mod tests {
    use super::StatusCode;

    #[test]
    fn every_byte_round_trips() {
        for code in 0..=255u8 {
            let status = StatusCode::from(code);
            assert_eq!(u8::from(status), code, "{status:?}");
        }
    }

    #[test]
    fn named_codes_map_to_variants() {
        assert_eq!(StatusCode::from(0x00), StatusCode::Ok);
        assert_eq!(StatusCode::from(0x12), StatusCode::InvalidCbor);
        assert_eq!(StatusCode::from(0x36), StatusCode::PuatRequired);
        assert_eq!(StatusCode::from(0x7F), StatusCode::Other);
        assert_eq!(StatusCode::from(0xE3), StatusCode::Extension(0xE3));
        assert_eq!(StatusCode::from(0xF1), StatusCode::Vendor(0xF1));
        assert_eq!(StatusCode::from(0x07), StatusCode::Unknown(0x07));
        // Every named code must have a distinct byte: count the named ones.
        let named = (0..=255u8)
            .filter(|c| {
                !matches!(
                    StatusCode::from(*c),
                    StatusCode::Unknown(_) | StatusCode::Extension(_) | StatusCode::Vendor(_)
                )
            })
            .count();
        assert_eq!(named, 51);
    }

    #[test]
    fn display_names_the_code() {
        assert_eq!(
            StatusCode::PinInvalid.to_string(),
            "CTAP2_ERR_PIN_INVALID (0x31)"
        );
        assert_eq!(
            StatusCode::from(0xF5).to_string(),
            "CTAP2_ERR_VENDOR (0xF5)"
        );
        let err: Box<dyn std::error::Error> = Box::new(StatusCode::InvalidLength);
        assert_eq!(err.to_string(), "CTAP1_ERR_INVALID_LENGTH (0x03)");
    }
}
