//! The store's binary encoding: fixed-width big-endian integers and length-prefixed byte strings.
//!
//! Hand-rolled rather than CBOR or JSON because load time matters (10,000 records are parsed at
//! every open) and because every length is bounded here, once, for data read back from disk.

use latchkey_authenticator::store::Damage;
use latchkey_authenticator::store::StoreError;

/// Appends encoded fields to a buffer.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Writer::default()
    }

    /// A writer that will not reallocate below `n` bytes (for secrets: no stray copies).
    pub(crate) fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes, no length (for fixed-size fields and magic numbers).
    pub(crate) fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// A byte string with a 4-byte length. Lengths above `u32::MAX` cannot occur: every field
    /// written is bounded far below that by the types that carry it.
    pub(crate) fn bytes(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(len);
        self.buf.extend_from_slice(v);
        self
    }

    /// An optional byte string: a presence byte, then [`Writer::bytes`].
    pub(crate) fn opt_bytes(&mut self, v: Option<&[u8]>) -> &mut Self {
        match v {
            None => self.u8(0),
            Some(b) => self.u8(1).bytes(b),
        }
    }

    pub(crate) fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        self.opt_bytes(v.map(str::as_bytes))
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields back, failing with [`StoreError::Corrupt`] on any short or oversized field.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// `what` names the structure in error messages.
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { rest: bytes, what }
    }

    fn corrupt(&self, damage: Damage) -> StoreError {
        StoreError::corrupt(self.what, damage)
    }

    pub(crate) fn raw(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.rest.len() < n {
            return Err(self.corrupt(Damage::Truncated));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.raw(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, StoreError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, StoreError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt(Damage::Invalid("a boolean"))),
        }
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub(crate) fn bytes(&mut self, max: usize) -> Result<&'a [u8], StoreError> {
        let len =
            usize::try_from(self.u32()?).map_err(|_| self.corrupt(Damage::TooLong("a length")))?;
        if len > max {
            return Err(self.corrupt(Damage::TooLong("a field")));
        }
        self.raw(len)
    }

    pub(crate) fn opt_bytes(&mut self, max: usize) -> Result<Option<&'a [u8]>, StoreError> {
        if self.bool()? {
            self.bytes(max).map(Some)
        } else {
            Ok(None)
        }
    }

    pub(crate) fn string(&mut self, max: usize) -> Result<String, StoreError> {
        let b = self.bytes(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt(Damage::Invalid("a UTF-8 string")))
    }

    pub(crate) fn opt_string(&mut self, max: usize) -> Result<Option<String>, StoreError> {
        if self.bool()? {
            self.string(max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<(), StoreError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(Damage::Trailing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut w = Writer::new();
        w.u8(7)
            .u32(0x01020304)
            .u64(9)
            .bytes(b"abc")
            .opt_bytes(None)
            .opt_str(Some("é"))
            .raw(b"XY");
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes, "t");
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 0x01020304);
        assert_eq!(r.u64().unwrap(), 9);
        assert_eq!(r.bytes(3).unwrap(), b"abc");
        assert_eq!(r.opt_bytes(10).unwrap(), None);
        assert_eq!(r.opt_string(10).unwrap().as_deref(), Some("é"));
        assert_eq!(r.raw(2).unwrap(), b"XY");
        r.finish().unwrap();
    }

    #[test]
    fn bounds_and_truncation_are_corrupt() {
        let mut w = Writer::new();
        w.bytes(b"abcd");
        let bytes = w.into_vec();
        assert!(matches!(
            Reader::new(&bytes, "t").bytes(3),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            Reader::new(&bytes[..6], "t").bytes(10),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            Reader::new(&[2], "t").bool(),
            Err(StoreError::Corrupt(_))
        ));
        let mut r = Reader::new(&bytes, "t");
        r.u8().unwrap();
        assert!(matches!(r.finish(), Err(StoreError::Corrupt(_))));
        // A huge declared length is refused before any allocation.
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff], "t")
            .bytes(usize::MAX)
            .is_err());
    }
}
