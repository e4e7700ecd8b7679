//! What the sandboxed worker still needs from its TPM interface (TCTI) once the store is open.
//!
//! The worker opens the store, and with it libtss2's TCTI, before it applies its sandbox. What
//! the TCTI does per command afterwards decides what the sandbox must leave open (the `swtpm`
//! TCTI traced with strace against libtss2 3.2; `tcti-device.c` and `tcti-mssim.c` read):
//!
//! - `device` (`/dev/tpmrm0`, the default) opens the device once and then only reads, writes and
//!   polls that descriptor: nothing.
//! - `mssim` connects to the command and platform ports once, at initialisation: nothing.
//! - `swtpm` connects to the command port (`port`) anew for every command, and to the control
//!   port (`port + 1`) whenever it sets the locality: TCP connections to those two ports.
//!   Over a Unix socket (`path=`) it would need new Unix sockets, which the sandbox never
//!   grants: refused.
//!
//! The configuration is the one the TPM store uses (`latchkey_client::store::configured_tcti`):
//! `$TPM2TOOLS_TCTI`, else `$TCTI`; libtss2 reads it as `NAME[:CONF]`, `CONF` a
//! comma-separated `key=value` list (`host`, `port`, `path`).

/// The port libtss2's `swtpm` and `mssim` TCTIs use when none is configured.
pub const DEFAULT_PORT: u16 = 2321;

/// What a TCTI needs after it was opened, parsed from its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TctiNeeds {
    /// Nothing beyond the descriptors it already holds (`device`, `mssim`, `tabrmd`, …).
    Nothing,
    /// TCP connections to `port` and `port + 1` for every command (`swtpm` over TCP).
    TcpPorts {
        /// The command port; the control port is the next one.
        port: u16,
    },
}

impl TctiNeeds {
    /// The TCP ports the worker must be able to connect to.
    pub fn tcp_ports(self) -> Vec<u16> {
        match self {
            Self::Nothing => Vec::new(),
            // `parse` refuses a port whose successor does not fit.
            Self::TcpPorts { port } => vec![port, port.saturating_add(1)],
        }
    }
}

/// Why a TCTI configuration cannot be used from the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TctiError {
    /// The port is not a number, or is 0 or 65535 (the control port is the next one).
    #[error("the TPM interface {conf:?} has no usable port")]
    BadPort {
        /// The configuration.
        conf: String,
    },
    /// `swtpm` over a Unix socket: a new socket per command, which the sandbox forbids.
    #[error(
        "the TPM interface {conf:?} connects a new Unix socket for every command, which the \
         sandbox forbids; use a TCP port"
    )]
    UnixSocket {
        /// The configuration.
        conf: String,
    },
}

/// The TCTI's name without libtss2's optional `libtss2-tcti-`/`tcti-` prefix and `.so…` suffix.
fn short_name(name: &str) -> &str {
    let name = name
        .strip_prefix("libtss2-tcti-")
        .or_else(|| name.strip_prefix("tcti-"))
        .unwrap_or(name);
    name.split_once(".so").map_or(name, |(n, _)| n)
}

impl TctiNeeds {
    /// Parses a TCTI configuration (`swtpm:host=127.0.0.1,port=2321`, `device:/dev/tpmrm0`, …).
    pub fn parse(conf: &str) -> Result<Self, TctiError> {
        let (name, rest) = conf.split_once(':').unwrap_or((conf, ""));
        if short_name(name) != "swtpm" {
            return Ok(Self::Nothing);
        }
        let mut port = None;
        for pair in rest.split(',').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("port", value)) => port = Some(value),
                Some(("path", _)) => {
                    return Err(TctiError::UnixSocket {
                        conf: conf.to_owned(),
                    })
                }
                // `host` and anything else libtss2 may read: the host is not confined (Landlock
                // rules name ports only), so it does not matter here.
                _ => {}
            }
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0 && p != u16::MAX)
                .ok_or_else(|| TctiError::BadPort {
                    conf: conf.to_owned(),
                })?,
        };
        Ok(Self::TcpPorts { port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swtpm_over_tcp_needs_its_command_and_control_ports() {
        let needs = TctiNeeds::parse("swtpm:host=127.0.0.1,port=40000").unwrap();
        assert_eq!(needs, TctiNeeds::TcpPorts { port: 40000 });
        assert_eq!(needs.tcp_ports(), vec![40000, 40001]);
        assert_eq!(
            TctiNeeds::parse("swtpm:port=2400,host=::1").unwrap(),
            TctiNeeds::TcpPorts { port: 2400 }
        );
        for bare in ["swtpm", "swtpm:", "swtpm:host=localhost"] {
            assert_eq!(
                TctiNeeds::parse(bare).unwrap().tcp_ports(),
                vec![2321, 2322],
                "{bare}"
            );
        }
        assert_eq!(
            TctiNeeds::parse("libtss2-tcti-swtpm.so.0:port=5000").unwrap(),
            TctiNeeds::TcpPorts { port: 5000 }
        );
    }

    #[test]
    fn interfaces_that_keep_their_descriptor_need_nothing() {
        for conf in [
            "device:/dev/tpmrm0",
            "device",
            "mssim:host=127.0.0.1,port=2321",
            "mssim:path=/run/tpm.sock",
            "tabrmd:bus_type=session",
            "libtss2-tcti-device.so.0:/dev/tpm0",
        ] {
            assert_eq!(
                TctiNeeds::parse(conf).unwrap(),
                TctiNeeds::Nothing,
                "{conf}"
            );
            assert!(TctiNeeds::parse(conf).unwrap().tcp_ports().is_empty());
        }
    }

    #[test]
    fn unusable_swtpm_configurations_are_refused() {
        for conf in [
            "swtpm:port=x",
            "swtpm:port=0",
            "swtpm:port=65535",
            "swtpm:port=70000",
        ] {
            assert_eq!(
                TctiNeeds::parse(conf),
                Err(TctiError::BadPort { conf: conf.into() }),
                "{conf}"
            );
        }
        assert_eq!(
            TctiNeeds::parse("swtpm:path=/tmp/swtpm.sock"),
            Err(TctiError::UnixSocket {
                conf: "swtpm:path=/tmp/swtpm.sock".into()
            })
        );
    }
}
