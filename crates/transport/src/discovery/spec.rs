//! `--device` arguments and config-file entries naming one device: a virtual key on a Unix
//! socket or UDP, a USB key's hidraw node, or the card on a PC/SC reader. Virtual keys thereby
//! join the same device list as the keys [`crate::discovery::enumerate`] finds.
//!
//! Forms: `unix:PATH`, `udp:HOST:PORT` (`udp:[::1]:8111` for IPv6), `/dev/hidrawN` (any path
//! whose last component is `hidrawN`), `hidraw:N`, `hidraw:PATH`, `pcsc:READER NAME` (the
//! reader's name as pcscd gives it, e.g. `pcsc:Virtual PCD 00 00`). The config file form is a TOML
//! list of the same strings: `devices = ["unix:/run/user/1000/latchkey/key", "hidraw:3"]`.

use std::fmt;
use std::io;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::connection::{HidConnection, UdpConnection, UnixConnection};
use crate::hidraw::HidrawConnection;
use crate::seqpacket::SeqpacketStream;

use super::HidrawNode;

/// Reaches a `unix:` virtual key's socket for [`DeviceSpec::open_via`]: connected by another
/// process and passed in (the device worker, whose filesystem holds no socket of the user's, has
/// latchkeyd connect its keys).
pub trait UnixConnector: std::fmt::Debug + Send + Sync {
    /// The `SOCK_SEQPACKET` socket connected to the key at `path`.
    fn connect(&self, path: &Path) -> io::Result<std::os::fd::OwnedFd>;
}

/// Most entries a config file may list.
pub const MAX_CONFIG_DEVICES: usize = 64;
/// Longest spec string accepted.
const MAX_SPEC_LEN: usize = 4096;

/// One device, as named by the user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// A virtual key on a Unix `SOCK_SEQPACKET` socket.
    Unix(PathBuf),
    /// A virtual key on UDP (one datagram per report).
    Udp {
        /// Host name or address literal (IPv6 without brackets).
        host: String,
        /// Port, not 0.
        port: u16,
    },
    /// A USB key's hidraw node.
    Hidraw(PathBuf),
    /// The card on a PC/SC reader (an NFC key), by the reader's name.
    Pcsc(String),
}

/// Why a device spec or config file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecError {
    /// Empty, or longer than 4096 bytes.
    Length,
    /// `unix:` with no path.
    EmptyPath,
    /// `udp:` without `HOST:PORT`, an empty host, or a bad or zero port.
    BadUdp(String),
    /// `hidraw:` with neither a number nor a path, or a path not ending in `hidrawN`.
    BadHidraw(String),
    /// `pcsc:` without a reader name, or with a NUL or a line break in it.
    BadPcsc(String),
    /// No known prefix, and not a hidraw path.
    UnknownForm(String),
    /// The config file is not TOML of the expected shape.
    Config(String),
    /// Entry `index` (0-based) of the config file's `devices` list is bad.
    ConfigEntry {
        /// Its position.
        index: usize,
        /// What is wrong with it.
        error: Box<SpecError>,
    },
    /// The config file lists more than [`MAX_CONFIG_DEVICES`].
    TooMany(usize),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length => write!(f, "a device spec must have 1 to {MAX_SPEC_LEN} bytes"),
            Self::EmptyPath => f.write_str("unix: needs a socket path"),
            Self::BadUdp(s) => write!(f, "{s:?}: expected udp:HOST:PORT with a port 1-65535"),
            Self::BadHidraw(s) => {
                write!(f, "{s:?}: expected hidraw:N, hidraw:PATH or /dev/hidrawN")
            }
            Self::BadPcsc(s) => write!(f, "{s:?}: expected pcsc:READER NAME"),
            Self::UnknownForm(s) => write!(
                f,
                "{s:?}: expected unix:PATH, udp:HOST:PORT, hidraw:N, /dev/hidrawN or pcsc:READER"
            ),
            Self::Config(e) => write!(f, "device list: {e}"),
            Self::ConfigEntry { index, error } => write!(f, "devices[{index}]: {error}"),
            Self::TooMany(n) => write!(f, "{n} devices listed; at most {MAX_CONFIG_DEVICES}"),
        }
    }
}

impl std::error::Error for SpecError {}

impl DeviceSpec {
    /// Parses one spec; `hidraw:N` means `<dev_root>/hidrawN`.
    pub fn parse_with_dev_root(s: &str, dev_root: &Path) -> Result<Self, SpecError> {
        if s.is_empty() || s.len() > MAX_SPEC_LEN {
            return Err(SpecError::Length);
        }
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(SpecError::EmptyPath);
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("udp:") {
            let bad = || SpecError::BadUdp(s.to_string());
            let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
            let host = match host.strip_prefix('[') {
                Some(h) => h.strip_suffix(']').ok_or_else(bad)?,
                None if host.contains(':') => return Err(bad()),
                None => host,
            };
            let port: u16 = port.parse().map_err(|_| bad())?;
            if host.is_empty() || port == 0 || host.chars().any(|c| c.is_whitespace()) {
                return Err(bad());
            }
            return Ok(Self::Udp {
                host: host.to_string(),
                port,
            });
        }
        if let Some(rest) = s.strip_prefix("hidraw:") {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                let node = HidrawNode::parse(&format!("hidraw{rest}"))
                    .ok_or_else(|| SpecError::BadHidraw(s.to_string()))?;
                return Ok(Self::Hidraw(dev_root.join(node.to_string())));
            }
            return hidraw_path(rest).ok_or_else(|| SpecError::BadHidraw(s.to_string()));
        }
        if let Some(reader) = s.strip_prefix("pcsc:") {
            if reader.trim().is_empty() || reader.chars().any(|c| c == '\0' || c == '\n') {
                return Err(SpecError::BadPcsc(s.to_string()));
            }
            return Ok(Self::Pcsc(reader.to_string()));
        }
        if s.starts_with('/') {
            return hidraw_path(s).ok_or_else(|| SpecError::UnknownForm(s.to_string()));
        }
        Err(SpecError::UnknownForm(s.to_string()))
    }

    /// Parses a config file's device list: a TOML document with `devices = ["spec", …]`
    /// (a missing key is an empty list); `hidraw:N` entries mean `/dev/hidrawN`.
    pub fn parse_config(toml_text: &str) -> Result<Vec<Self>, SpecError> {
        Self::parse_config_with_dev_root(toml_text, Path::new("/dev"))
    }

    /// [`DeviceSpec::parse_config`] with `hidraw:N` under `dev_root`.
    pub fn parse_config_with_dev_root(
        toml_text: &str,
        dev_root: &Path,
    ) -> Result<Vec<Self>, SpecError> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            devices: Vec<String>,
        }
        let file: File =
            toml::from_str(toml_text).map_err(|e| SpecError::Config(e.message().to_string()))?;
        if file.devices.len() > MAX_CONFIG_DEVICES {
            return Err(SpecError::TooMany(file.devices.len()));
        }
        file.devices
            .iter()
            .enumerate()
            .map(|(index, s)| {
                Self::parse_with_dev_root(s, dev_root).map_err(|e| SpecError::ConfigEntry {
                    index,
                    error: Box::new(e),
                })
            })
            .collect()
    }

    /// Whether this names a USB key (as opposed to a virtual one).
    pub fn is_usb(&self) -> bool {
        matches!(self, Self::Hidraw(_))
    }

    /// The reader's name, if this names the card on a PC/SC reader (not a CTAPHID device).
    pub fn pcsc_reader(&self) -> Option<&str> {
        match self {
            Self::Pcsc(reader) => Some(reader),
            _ => None,
        }
    }

    /// Opens the device. UDP hosts are resolved and the first address is used. A PC/SC card is
    /// not a CTAPHID device: it is opened through [`crate::nfc`] (an `Unsupported` error here).
    pub fn open(&self) -> io::Result<Box<dyn HidConnection>> {
        self.open_via(None)
    }

    /// [`Self::open`], a `unix:` key's socket connected through `unix` when there is one.
    pub fn open_via(&self, unix: Option<&dyn UnixConnector>) -> io::Result<Box<dyn HidConnection>> {
        Ok(match self {
            Self::Unix(path) => {
                let connected = match unix {
                    Some(unix) => unix
                        .connect(path)
                        .and_then(SeqpacketStream::from_fd)
                        .map(UnixConnection::from_stream),
                    None => UnixConnection::connect(path),
                };
                Box::new(
                    connected.map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
                    })?,
                )
            }
            Self::Udp { host, port } => {
                let addr = (host.as_str(), *port)
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| {
                        io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"))
                    })?;
                Box::new(UdpConnection::connect(addr)?)
            }
            Self::Hidraw(path) => Box::new(HidrawConnection::open(path)?),
            Self::Pcsc(reader) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("pcsc:{reader} is a smart card, not a CTAPHID device"),
                ))
            }
        })
    }
}

fn hidraw_path(s: &str) -> Option<DeviceSpec> {
    let path = PathBuf::from(s);
    HidrawNode::from_path(&path)?;
    Some(DeviceSpec::Hidraw(path))
}

impl FromStr for DeviceSpec {
    type Err = SpecError;

    /// Parses one spec; `hidraw:N` means `/dev/hidrawN`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_with_dev_root(s, Path::new("/dev"))
    }
}

impl fmt::Display for DeviceSpec {
    /// The canonical spec string: it parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
            Self::Udp { host, port } if host.contains(':') => write!(f, "udp:[{host}]:{port}"),
            Self::Udp { host, port } => write!(f, "udp:{host}:{port}"),
            Self::Hidraw(p) if p.is_absolute() => write!(f, "{}", p.display()),
            Self::Hidraw(p) => write!(f, "hidraw:{}", p.display()),
            Self::Pcsc(reader) => write!(f, "pcsc:{reader}"),
        }
    }
}
