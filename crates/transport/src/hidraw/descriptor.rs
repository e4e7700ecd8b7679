//! A small, bounded HID report descriptor parser: enough to find the FIDO CTAPHID collection
//! (usage page 0xF1D0, usage 0x01) and the sizes of its input and output reports.
//!
//! Spec: USB Device Class Definition for HID 1.11 §6.2.2 "Report Descriptor" (short items
//! §6.2.2.2, long items §6.2.2.3, main items §6.2.2.4-6, global items §6.2.2.7, local items
//! §6.2.2.8); the FIDO usage page is HID Usage Tables §"FIDO Alliance Page (0xF1D0)" (HUTRR48)
//! and CTAP 2.1 §11.2.8.1.
//!
//! Written by hand: the Rust crates that parse report descriptors either come with hidapi or
//! libudev bindings or decode far more (every usage table) than this one question needs, and a
//! device-supplied descriptor is untrusted input, so the parser is kept small enough to audit:
//! every length is bounded, arithmetic saturates, and it never panics.

use std::fmt;

/// The FIDO Alliance usage page (HUTRR48).
pub const FIDO_USAGE_PAGE: u16 = 0xF1D0;
/// Usage 0x01 on the FIDO page: the CTAPHID (U2F authenticator) device.
pub const FIDO_USAGE_CTAPHID: u16 = 0x01;
/// Linux's `HID_MAX_DESCRIPTOR_SIZE`: no real descriptor is longer.
pub const MAX_DESCRIPTOR_LEN: usize = 4096;
/// Deepest collection nesting accepted.
const MAX_DEPTH: usize = 32;
/// Most top-level collections recorded.
const MAX_COLLECTIONS: usize = 64;
/// Most global-state pushes accepted (Push/Pop, HID 1.11 §6.2.2.7).
const MAX_PUSH: usize = 8;

/// Why a descriptor could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorError {
    /// Longer than [`MAX_DESCRIPTOR_LEN`].
    TooLong(usize),
    /// An item's data runs past the end; `offset` is where the item starts.
    Truncated {
        /// Byte offset of the item's prefix.
        offset: usize,
    },
    /// Collections nested deeper than the parser accepts.
    TooDeep {
        /// Byte offset of the item.
        offset: usize,
    },
    /// An End Collection without a Collection.
    UnbalancedEnd {
        /// Byte offset of the item.
        offset: usize,
    },
    /// More top-level collections than the parser records.
    TooManyCollections,
    /// A Push beyond the bounded stack, or a Pop with nothing pushed.
    PushPop {
        /// Byte offset of the item.
        offset: usize,
    },
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(n) => write!(
                f,
                "report descriptor of {n} bytes exceeds {MAX_DESCRIPTOR_LEN}"
            ),
            Self::Truncated { offset } => write!(f, "item at byte {offset} runs past the end"),
            Self::TooDeep { offset } => write!(
                f,
                "collections nest deeper than {MAX_DEPTH} at byte {offset}"
            ),
            Self::UnbalancedEnd { offset } => {
                write!(f, "End Collection without Collection at byte {offset}")
            }
            Self::TooManyCollections => {
                write!(f, "more than {MAX_COLLECTIONS} top-level collections")
            }
            Self::PushPop { offset } => write!(f, "unbalanced Push/Pop at byte {offset}"),
        }
    }
}

impl std::error::Error for DescriptorError {}

/// One top-level (outermost) collection and the reports declared inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Its usage page.
    pub usage_page: u16,
    /// Its usage on that page.
    pub usage: u16,
    /// Bits of all Input items inside it (Report Size × Report Count, summed).
    pub input_bits: u32,
    /// Bits of all Output items inside it.
    pub output_bits: u32,
    /// Bits of all Feature items inside it.
    pub feature_bits: u32,
    /// Whether any Report ID item applies inside it (reports then carry a leading ID byte).
    pub uses_report_ids: bool,
}

impl Collection {
    /// Whether this is the FIDO CTAPHID collection (usage page 0xF1D0, usage 0x01).
    pub fn is_ctaphid(&self) -> bool {
        self.usage_page == FIDO_USAGE_PAGE && self.usage == FIDO_USAGE_CTAPHID
    }

    /// The input report length in bytes (rounded up).
    pub fn input_len(&self) -> usize {
        bits_to_bytes(self.input_bits)
    }

    /// The output report length in bytes (rounded up).
    pub fn output_len(&self) -> usize {
        bits_to_bytes(self.output_bits)
    }
}

fn bits_to_bytes(bits: u32) -> usize {
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// A parsed report descriptor: its top-level collections, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportDescriptor {
    /// The top-level collections.
    pub collections: Vec<Collection>,
}

impl ReportDescriptor {
    /// The FIDO CTAPHID collection, if the device has one.
    pub fn ctaphid(&self) -> Option<&Collection> {
        self.collections.iter().find(|c| c.is_ctaphid())
    }
}

/// The global items that matter here (HID 1.11 §6.2.2.7).
#[derive(Debug, Clone, Copy, Default)]
struct Globals {
    usage_page: u16,
    report_size: u32,
    report_count: u32,
    report_id: bool,
}

/// One short item: its type, tag and little-endian unsigned data.
struct Item {
    kind: u8,
    tag: u8,
    data: u32,
}

const MAIN: u8 = 0;
const GLOBAL: u8 = 1;
const LOCAL: u8 = 2;

/// Parses `bytes` as a report descriptor.
pub fn parse(bytes: &[u8]) -> Result<ReportDescriptor, DescriptorError> {
    if bytes.len() > MAX_DESCRIPTOR_LEN {
        return Err(DescriptorError::TooLong(bytes.len()));
    }
    let mut out = ReportDescriptor::default();
    let mut globals = Globals::default();
    let mut stack: Vec<Globals> = Vec::new();
    // The first usage declared since the last main item, with its page if it was extended.
    let mut first_usage: Option<(Option<u16>, u16)> = None;
    let mut depth = 0usize;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let offset = pos;
        let prefix = bytes[pos];
        if prefix == 0xFE {
            // Long item (§6.2.2.3): prefix, bDataSize, bLongItemTag, data. None are defined.
            let size = *bytes
                .get(pos + 1)
                .ok_or(DescriptorError::Truncated { offset })?;
            pos = pos + 3 + usize::from(size);
            if pos > bytes.len() {
                return Err(DescriptorError::Truncated { offset });
            }
            continue;
        }
        let size = match prefix & 0x03 {
            3 => 4,
            n => usize::from(n),
        };
        let data_bytes = bytes
            .get(pos + 1..pos + 1 + size)
            .ok_or(DescriptorError::Truncated { offset })?;
        let data = data_bytes
            .iter()
            .rev()
            .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        pos += 1 + size;
        let item = Item {
            kind: (prefix >> 2) & 0x03,
            tag: prefix >> 4,
            data,
        };
        match item.kind {
            MAIN => {
                match item.tag {
                    // Collection
                    0x0A => {
                        if depth >= MAX_DEPTH {
                            return Err(DescriptorError::TooDeep { offset });
                        }
                        if depth == 0 {
                            if out.collections.len() >= MAX_COLLECTIONS {
                                return Err(DescriptorError::TooManyCollections);
                            }
                            let (page, usage) = match first_usage {
                                Some((page, usage)) => (page.unwrap_or(globals.usage_page), usage),
                                None => (globals.usage_page, 0),
                            };
                            out.collections.push(Collection {
                                usage_page: page,
                                usage,
                                uses_report_ids: globals.report_id,
                                ..Collection::default()
                            });
                        }
                        depth += 1;
                    }
                    // End Collection
                    0x0C => {
                        depth = depth
                            .checked_sub(1)
                            .ok_or(DescriptorError::UnbalancedEnd { offset })?;
                    }
                    // Input, Output, Feature
                    0x08 | 0x09 | 0x0B => {
                        if let Some(current) = out.collections.last_mut().filter(|_| depth > 0) {
                            let bits = globals.report_size.saturating_mul(globals.report_count);
                            let field = match item.tag {
                                0x08 => &mut current.input_bits,
                                0x09 => &mut current.output_bits,
                                _ => &mut current.feature_bits,
                            };
                            *field = field.saturating_add(bits);
                            current.uses_report_ids |= globals.report_id;
                        }
                    }
                    _ => {}
                }
                first_usage = None;
            }
            GLOBAL => match item.tag {
                0x00 => globals.usage_page = (item.data & 0xFFFF) as u16,
                0x07 => globals.report_size = item.data,
                0x08 => globals.report_id = true,
                0x09 => globals.report_count = item.data,
                0x0A => {
                    if stack.len() >= MAX_PUSH {
                        return Err(DescriptorError::PushPop { offset });
                    }
                    stack.push(globals);
                }
                0x0B => globals = stack.pop().ok_or(DescriptorError::PushPop { offset })?,
                _ => {}
            },
            // A 4-byte usage carries its page in the upper half (§6.2.2.8).
            LOCAL if item.tag == 0x00 && first_usage.is_none() => {
                let page = (size == 4).then_some((item.data >> 16) as u16);
                first_usage = Some((page, (item.data & 0xFFFF) as u16));
            }
            _ => {}
        }
    }
    // An unclosed collection at the end is tolerated, as the kernel does: its sizes still count.
    Ok(out)
}
