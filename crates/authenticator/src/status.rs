//! CTAP status codes the authenticator answers with (CTAP 2.1 §8.2): the `ctap` crate's
//! [`StatusCode`](latchkey_ctap::StatusCode), and how our own failures map onto it.

pub use latchkey_ctap::StatusCode as Status;

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
