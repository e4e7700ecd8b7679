//! Finding FIDO security keys among the `/dev/hidrawN` nodes, by their HID report descriptor
//! (CTAP 2.1 §11.2.8.1: usage page 0xF1D0, usage 0x01), without libudev.
//!
//! For each `hidrawN` under `<sysfs>/class/hidraw/`, [`probe`] reads
//! `device/report_descriptor` (falling back to `HIDIOCGRDESC` on the node if sysfs cannot be
//! read), keeps the node only if the descriptor has a CTAPHID collection with 64-byte reports,
//! and takes the name, IDs and serial from `device/uevent` (`HID_ID`, `HID_NAME`, `HID_UNIQ`).
//! Both roots are parameters ([`Roots`]) so tests run over a fake tree. A node that can't be
//! read is skipped and the reason logged and returned in [`Enumeration::skipped`].
//!
//! [`spec`] turns `--device` arguments and config-file entries into [`DeviceSpec`]s, so virtual
//! keys and USB keys share one device list.

pub mod spec;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use latchkey_ctap::hid::REPORT_SIZE;

use crate::hidraw::descriptor::{self, DescriptorError};
use crate::hidraw::HidrawConnection;

pub use spec::{DeviceSpec, SpecError, UnixConnector};

/// Where sysfs and the device nodes are (`/sys` and `/dev` on a real system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// The sysfs mount: `<sysfs>/class/hidraw/hidrawN/device/…` is read.
    pub sysfs: PathBuf,
    /// The device directory: `<dev>/hidrawN` is opened.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            sysfs: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

impl Roots {
    /// `<sysfs>/class/hidraw`.
    pub fn class_dir(&self) -> PathBuf {
        self.sysfs.join("class/hidraw")
    }

    /// `<dev>/hidrawN`.
    pub fn dev_path(&self, node: HidrawNode) -> PathBuf {
        self.dev.join(node.to_string())
    }
}

/// A hidraw node's name, `hidrawN`, checked once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HidrawNode(pub u32);

impl HidrawNode {
    /// Parses `hidrawN` (no sign, no padding, no path).
    pub fn parse(name: &str) -> Option<Self> {
        let digits = name.strip_prefix("hidraw")?;
        if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().map(Self)
    }

    /// The node whose path is `path` (by file name).
    pub fn from_path(path: &Path) -> Option<Self> {
        Self::parse(path.file_name()?.to_str()?)
    }
}

impl fmt::Display for HidrawNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hidraw{}", self.0)
    }
}

/// A FIDO security key found under hidraw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Its node.
    pub node: HidrawNode,
    /// `<dev>/hidrawN`, to open with [`HidrawConnection::open`].
    pub path: PathBuf,
    /// `HID_NAME`, the USB manufacturer and product strings ("Yubico YubiKey OTP+FIDO+CCID").
    pub product: Option<String>,
    /// The bus from `HID_ID` (3 = USB, 5 = Bluetooth).
    pub bus_type: u16,
    /// USB vendor ID.
    pub vendor_id: u16,
    /// USB product ID.
    pub product_id: u16,
    /// `HID_UNIQ`, the serial number string, if the device has one.
    pub serial: Option<String>,
    /// Input report length in bytes, from the descriptor.
    pub input_report_len: usize,
    /// Output report length in bytes, from the descriptor.
    pub output_report_len: usize,
}

impl DeviceInfo {
    /// A name to show: the product string, else the IDs.
    pub fn display_name(&self) -> String {
        match &self.product {
            Some(p) => p.clone(),
            None => format!("USB key {:04x}:{:04x}", self.vendor_id, self.product_id),
        }
    }

    /// Opens it.
    pub fn open(&self) -> io::Result<HidrawConnection> {
        HidrawConnection::open(&self.path)
    }

    /// The spec naming it, to put it in one list with virtual keys.
    pub fn spec(&self) -> DeviceSpec {
        DeviceSpec::Hidraw(self.path.clone())
    }
}

/// Why a hidraw node was not listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// The descriptor has no FIDO CTAPHID collection: a keyboard, a mouse, a vendor interface.
    NotFido,
    /// Neither sysfs nor the node gave a descriptor; both failures as text.
    Unreadable {
        /// Why sysfs failed.
        sysfs: String,
        /// Why the `HIDIOCGRDESC` fallback failed.
        ioctl: String,
    },
    /// The descriptor is malformed.
    Malformed(DescriptorError),
    /// A FIDO collection whose reports are not 64 bytes or are numbered: not usable as CTAPHID.
    UnsupportedReports {
        /// Input report bytes.
        input: usize,
        /// Output report bytes.
        output: usize,
        /// Whether report IDs are used.
        report_ids: bool,
    },
    /// `device/uevent` is missing or has no valid `HID_ID`.
    NoIds(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFido => f.write_str("not a FIDO device (no usage page 0xF1D0 usage 0x01)"),
            Self::Unreadable { sysfs, ioctl } => {
                write!(
                    f,
                    "report descriptor unreadable: sysfs: {sysfs}; HIDIOCGRDESC: {ioctl}"
                )
            }
            Self::Malformed(e) => write!(f, "malformed report descriptor: {e}"),
            Self::UnsupportedReports {
                input,
                output,
                report_ids,
            } => write!(
                f,
                "FIDO reports of {input}/{output} bytes{} are not CTAPHID's {REPORT_SIZE}",
                if *report_ids { " with report IDs" } else { "" }
            ),
            Self::NoIds(why) => write!(f, "no HID_ID: {why}"),
        }
    }
}

/// A node that [`enumerate`] passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The node.
    pub node: HidrawNode,
    /// Why.
    pub reason: SkipReason,
}

/// What [`enumerate`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enumeration {
    /// FIDO keys, by node number.
    pub devices: Vec<DeviceInfo>,
    /// Other nodes, by node number.
    pub skipped: Vec<Skipped>,
}

/// Lists FIDO keys under `roots`. No hidraw class directory (no hidraw driver loaded) is an
/// empty list, not an error.
pub fn enumerate(roots: &Roots) -> io::Result<Enumeration> {
    let mut nodes = Vec::new();
    match std::fs::read_dir(roots.class_dir()) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry?;
                if let Some(node) = entry.file_name().to_str().and_then(HidrawNode::parse) {
                    nodes.push(node);
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    nodes.sort();
    let mut out = Enumeration::default();
    for node in nodes {
        match probe(roots, node) {
            Ok(info) => out.devices.push(info),
            Err(reason) => {
                tracing::debug!(%node, %reason, "hidraw node skipped");
                out.skipped.push(Skipped { node, reason });
            }
        }
    }
    Ok(out)
}

/// Most bytes read from one sysfs file (a report descriptor is at most 4096).
const MAX_SYSFS_FILE: u64 = 16 * 1024;

fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SYSFS_FILE)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Reads one node's descriptor and IDs; `Err` says why it is not a usable FIDO key.
pub fn probe(roots: &Roots, node: HidrawNode) -> Result<DeviceInfo, SkipReason> {
    let sys = roots.class_dir().join(node.to_string()).join("device");
    let path = roots.dev_path(node);
    let bytes = match read_bounded(&sys.join("report_descriptor")) {
        Ok(b) => b,
        Err(sysfs) => HidrawConnection::open(&path)
            .and_then(|c| c.report_descriptor())
            .map_err(|ioctl| SkipReason::Unreadable {
                sysfs: sysfs.to_string(),
                ioctl: ioctl.to_string(),
            })?,
    };
    let parsed = descriptor::parse(&bytes).map_err(SkipReason::Malformed)?;
    let fido = parsed.ctaphid().ok_or(SkipReason::NotFido)?;
    let (input, output) = (fido.input_len(), fido.output_len());
    if input != REPORT_SIZE || output != REPORT_SIZE || fido.uses_report_ids {
        return Err(SkipReason::UnsupportedReports {
            input,
            output,
            report_ids: fido.uses_report_ids,
        });
    }
    let text = read_bounded(&sys.join("uevent")).map_err(|e| SkipReason::NoIds(e.to_string()))?;
    let ids = HidUevent::parse(&String::from_utf8_lossy(&text))
        .ok_or_else(|| SkipReason::NoIds("no valid HID_ID line".into()))?;
    Ok(DeviceInfo {
        node,
        path,
        product: ids.name,
        bus_type: ids.bus_type,
        vendor_id: ids.vendor_id,
        product_id: ids.product_id,
        serial: ids.serial,
        input_report_len: input,
        output_report_len: output,
    })
}

/// The fields of a HID device's sysfs `uevent` file (drivers/hid/hid-core.c `hid_uevent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidUevent {
    /// Bus from `HID_ID`.
    pub bus_type: u16,
    /// Vendor from `HID_ID`.
    pub vendor_id: u16,
    /// Product from `HID_ID`.
    pub product_id: u16,
    /// `HID_NAME`, if present and not empty.
    pub name: Option<String>,
    /// `HID_UNIQ`, if present and not empty.
    pub serial: Option<String>,
}

/// Longest `HID_NAME`/`HID_UNIQ` kept (the kernel's own buffers are 128 and 64 bytes).
const MAX_FIELD: usize = 256;

impl HidUevent {
    /// Parses `KEY=VALUE` lines; `None` without a valid `HID_ID=BBBB:VVVVVVVV:PPPPPPPP`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut ids = None;
        let mut name = None;
        let mut serial = None;
        for line in text.lines().take(256) {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            let field = || {
                (!value.is_empty()
                    && value.len() <= MAX_FIELD
                    && !value.chars().any(char::is_control))
                .then(|| value.to_string())
            };
            match key {
                "HID_ID" => ids = parse_hid_id(value),
                "HID_NAME" => name = field(),
                "HID_UNIQ" => serial = field(),
                _ => {}
            }
        }
        let (bus_type, vendor_id, product_id) = ids?;
        Some(Self {
            bus_type,
            vendor_id,
            product_id,
            name,
            serial,
        })
    }
}

/// `0003:00001050:00000407` → (3, 0x1050, 0x0407): hex fields, IDs zero-extended to 32 bits.
fn parse_hid_id(value: &str) -> Option<(u16, u16, u16)> {
    let mut parts = value.split(':');
    let field = |s: Option<&str>| -> Option<u16> {
        let s = s?;
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(s, 16)
            .ok()
            .and_then(|v| u16::try_from(v).ok())
    };
    let out = (
        field(parts.next())?,
        field(parts.next())?,
        field(parts.next())?,
    );
    parts.next().is_none().then_some(out)
}
