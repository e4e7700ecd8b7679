//! Kernel uevent messages as they arrive on a `NETLINK_KOBJECT_UEVENT` socket (multicast group
//! 1): `ACTION@DEVPATH` then `KEY=VALUE` fields, each NUL-terminated
//! (lib/kobject_uevent.c, Documentation/ABI/testing/sysfs-uevent).
//!
//! Only the kernel's own format is parsed. udev re-broadcasts processed events on group 2 behind
//! a binary `libudev\0` header whose layout is a udev implementation detail (it changed between
//! versions and systemd says not to rely on it); those messages are refused with
//! [`UeventError::Libudev`]. The kernel's events need no udev running at all, which also holds in
//! containers and minimal sessions; the cost is that an `add` can arrive before udev has set the
//! node's permissions, which the caller copes with by retrying `open` (or using `Rescan`).

use std::fmt;

/// Largest message parsed: the kernel's own limit for one uevent is 2048 bytes of environment
/// (`UEVENT_BUFFER_SIZE`) plus the header.
pub const MAX_UEVENT_LEN: usize = 8192;
/// Most `KEY=VALUE` fields accepted (the kernel's `UEVENT_NUM_ENVP` is 64).
const MAX_FIELDS: usize = 64;

/// What happened to the device (`ACTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `add`.
    Add,
    /// `remove`.
    Remove,
    /// `change`.
    Change,
    /// Anything else (`bind`, `unbind`, `move`, `online`, `offline`).
    Other(String),
}

impl Action {
    fn parse(s: &str) -> Self {
        match s {
            "add" => Self::Add,
            "remove" => Self::Remove,
            "change" => Self::Change,
            other => Self::Other(other.to_string()),
        }
    }
}

/// One parsed kernel uevent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uevent {
    /// `ACTION`.
    pub action: Action,
    /// `DEVPATH`, below `/sys`.
    pub devpath: String,
    /// `SUBSYSTEM`.
    pub subsystem: String,
    /// `DEVNAME`, relative to `/dev`, if the device has a node.
    pub devname: Option<String>,
    /// `SEQNUM`.
    pub seqnum: Option<u64>,
}

/// Why a message is not a kernel uevent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UeventError {
    /// Empty, or longer than [`MAX_UEVENT_LEN`].
    Length(usize),
    /// A udev (group 2) message, `libudev\0` header first.
    Libudev,
    /// The first field is not `ACTION@DEVPATH`.
    NoHeader,
    /// A field is not UTF-8 or not `KEY=VALUE`.
    BadField(usize),
    /// More than 64 fields.
    TooManyFields,
    /// A required key (`ACTION`, `DEVPATH`, `SUBSYSTEM`) is missing.
    Missing(&'static str),
    /// The header's action or path disagrees with the `ACTION`/`DEVPATH` fields.
    HeaderMismatch,
}

impl fmt::Display for UeventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "uevent of {n} bytes (1 to {MAX_UEVENT_LEN} accepted)"),
            Self::Libudev => f.write_str("a udev message, not a kernel uevent"),
            Self::NoHeader => f.write_str("no ACTION@DEVPATH header"),
            Self::BadField(i) => write!(f, "field {i} is not UTF-8 KEY=VALUE"),
            Self::TooManyFields => write!(f, "more than {MAX_FIELDS} fields"),
            Self::Missing(k) => write!(f, "no {k} field"),
            Self::HeaderMismatch => f.write_str("header and fields disagree"),
        }
    }
}

impl std::error::Error for UeventError {}

/// Parses one netlink message's payload.
pub fn parse(buf: &[u8]) -> Result<Uevent, UeventError> {
    if buf.is_empty() || buf.len() > MAX_UEVENT_LEN {
        return Err(UeventError::Length(buf.len()));
    }
    if buf.starts_with(b"libudev\0") {
        return Err(UeventError::Libudev);
    }
    // A trailing NUL ends the last field; empty pieces (double NULs) are ignored.
    let mut pieces = buf.split(|b| *b == 0).filter(|p| !p.is_empty());
    let header = pieces
        .next()
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or(UeventError::NoHeader)?;
    let (head_action, head_path) = header.split_once('@').ok_or(UeventError::NoHeader)?;
    if head_action.is_empty() || !head_path.starts_with('/') {
        return Err(UeventError::NoHeader);
    }
    let (mut action, mut devpath, mut subsystem, mut devname, mut seqnum) =
        (None, None, None, None, None);
    for (i, piece) in pieces.enumerate() {
        if i >= MAX_FIELDS {
            return Err(UeventError::TooManyFields);
        }
        let field = std::str::from_utf8(piece).map_err(|_| UeventError::BadField(i + 1))?;
        let (key, value) = field.split_once('=').ok_or(UeventError::BadField(i + 1))?;
        match key {
            "ACTION" => action = Some(value),
            "DEVPATH" => devpath = Some(value),
            "SUBSYSTEM" => subsystem = Some(value),
            "DEVNAME" => devname = Some(value),
            "SEQNUM" => seqnum = value.parse().ok(),
            _ => {}
        }
    }
    let action = action.ok_or(UeventError::Missing("ACTION"))?;
    let devpath = devpath.ok_or(UeventError::Missing("DEVPATH"))?;
    let subsystem = subsystem.ok_or(UeventError::Missing("SUBSYSTEM"))?;
    if action != head_action || devpath != head_path {
        return Err(UeventError::HeaderMismatch);
    }
    Ok(Uevent {
        action: Action::parse(action),
        devpath: devpath.to_string(),
        subsystem: subsystem.to_string(),
        devname: devname.map(str::to_string),
        seqnum,
    })
}
