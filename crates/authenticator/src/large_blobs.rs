//! authenticatorLargeBlobs (CTAP 2.1 §6.10): the serialized large-blob array, read and written
//! in fragments, checked by its 16-byte SHA-256 trailer before it replaces the stored one.

use crate::authenticator::{sha256, Authenticator};
use crate::env::{Clock, Rng, UserPresence};
use crate::request::LargeBlobsRequest;
use crate::status::Status;
use crate::store::CredentialStore;
use crate::token::Permissions;

/// The smallest valid serialized array: a CBOR array header and the 16-byte trailer.
const MIN_ARRAY_LEN: u64 = 17;

/// A write in progress.
#[derive(Debug)]
pub(crate) struct PendingWrite {
    expected_length: usize,
    buffer: Vec<u8>,
}

impl<S: CredentialStore, U: UserPresence, C: Clock, R: Rng> Authenticator<S, U, C, R> {
    /// authenticatorLargeBlobs on a parsed request: `Some(bytes)` for a get, `None` for a set.
    pub fn large_blobs(&mut self, req: &LargeBlobsRequest) -> Result<Option<Vec<u8>>, Status> {
        let max_fragment = self.config.max_fragment_length();
        let offset = req.offset.ok_or(Status::MissingParameter)?;
        match (&req.get, &req.set) {
            (Some(_), Some(_)) | (None, None) => Err(Status::InvalidParameter),
            (Some(get), None) => {
                if req.length.is_some() {
                    return Err(Status::InvalidParameter);
                }
                if *get > max_fragment as u64 {
                    return Err(Status::InvalidLength);
                }
                let array = self.state()?.large_blob_array;
                let start = usize::try_from(offset).map_err(|_| Status::InvalidParameter)?;
                if start > array.len() {
                    return Err(Status::InvalidParameter);
                }
                let end = start.saturating_add(*get as usize).min(array.len());
                Ok(Some(array.get(start..end).unwrap_or_default().to_vec()))
            }
            (None, Some(set)) => {
                self.write_fragment(req, offset, set, max_fragment)?;
                Ok(None)
            }
        }
    }

    fn write_fragment(
        &mut self,
        req: &LargeBlobsRequest,
        offset: u64,
        set: &[u8],
        max_fragment: usize,
    ) -> Result<(), Status> {
        if set.len() > max_fragment {
            return Err(Status::InvalidLength);
        }
        let expected_length = if offset == 0 {
            let length = req.length.ok_or(Status::InvalidParameter)?;
            if length > self.config.max_serialized_large_blob_array as u64 {
                return Err(Status::LargeBlobStorageFull);
            }
            if length < MIN_ARRAY_LEN {
                return Err(Status::InvalidParameter);
            }
            length as usize
        } else {
            if req.length.is_some() {
                return Err(Status::InvalidParameter);
            }
            let Some(pending) = &self.large_blob_write else {
                return Err(Status::InvalidSeq);
            };
            if offset != pending.buffer.len() as u64 {
                return Err(Status::InvalidSeq);
            }
            pending.expected_length
        };
        let protected = self.pin_is_set()? || self.state()?.always_uv;
        if protected {
            let param = req.pin_uv_auth_param.as_ref().ok_or(Status::PuatRequired)?;
            let offset32 = u32::try_from(offset).map_err(|_| Status::InvalidParameter)?;
            let message = latchkey_ctap::pin::large_blobs_message(offset32, set);
            self.check_token(
                req.protocol,
                param,
                &message,
                Permissions::LARGE_BLOB_WRITE,
                None,
                false,
            )?;
        }
        if (offset as usize).saturating_add(set.len()) > expected_length {
            return Err(Status::InvalidParameter);
        }
        let pending = if offset == 0 {
            self.large_blob_write.insert(PendingWrite {
                expected_length,
                buffer: Vec::with_capacity(expected_length),
            })
        } else {
            match &mut self.large_blob_write {
                Some(p) => p,
                None => return Err(Status::InvalidSeq),
            }
        };
        pending.buffer.extend_from_slice(set);
        if pending.buffer.len() < pending.expected_length {
            return Ok(());
        }
        let Some(done) = self.large_blob_write.take() else {
            return Err(Status::Other);
        };
        let split = done.buffer.len().saturating_sub(16);
        let (body, trailer) = done.buffer.split_at(split);
        if sha256(body).get(..16) != Some(trailer) {
            return Err(Status::IntegrityFailure);
        }
        let mut state = self.state()?;
        state.large_blob_array = done.buffer;
        self.save_state(&state)
    }
}
