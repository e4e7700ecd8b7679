"""python-fido2 connections to `latchkey virtual-key`, over UDP and Unix seqpacket sockets.

`CtapHidDevice` speaks CTAPHID over any object with `read_packet()`, `write_packet(data)` and
`close()`; these classes move 64-byte reports over the virtual key's sockets exactly as a
hidraw node would, so python-fido2's own CTAPHID code (INIT, keepalives, CANCEL) is exercised.

    from virtual_key_transport import udp_device, unix_device
    dev = udp_device("127.0.0.1", 8111)        # latchkey virtual-key --udp 127.0.0.1:8111
    dev = unix_device("/run/user/1000/vk.sock")  # latchkey virtual-key --unix ...

A read that gets no report within `timeout` seconds raises `TimeoutError`, so a dead or absent
server fails a test instead of hanging it (keepalives arrive every 100 ms while a request runs).
"""

import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor

REPORT_SIZE = 64
# Vendor/product IDs for the descriptor: python-fido2 only displays them.
VENDOR_ID = 0x1209
PRODUCT_ID = 0x4C4B


def _descriptor(path):
    return HidDescriptor(
        path=path,
        vid=VENDOR_ID,
        pid=PRODUCT_ID,
        report_size_in=REPORT_SIZE,
        report_size_out=REPORT_SIZE,
        product_name="Latchkey virtual key",
        serial_number=None,
    )


class UdpConnection(CtapHidConnection):
    """One datagram per report, to and from the virtual key's UDP address."""

    def __init__(self, host, port, timeout=5.0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.connect((host, port))
        self.sock.settimeout(timeout)
        self.descriptor = _descriptor(f"udp://{host}:{port}")

    def read_packet(self):
        while True:
            try:
                data = self.sock.recv(REPORT_SIZE + 1)
            except socket.timeout as e:
                raise TimeoutError("no report from the virtual key") from e
            if len(data) == REPORT_SIZE:
                return data

    def write_packet(self, data):
        if len(data) != REPORT_SIZE:
            raise ValueError(f"a report is {REPORT_SIZE} bytes, not {len(data)}")
        self.sock.send(data)

    def close(self):
        self.sock.close()


class UnixConnection(CtapHidConnection):
    """One SOCK_SEQPACKET message per report on the virtual key's Unix socket."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.descriptor = _descriptor(f"unix:{path}")

    def read_packet(self):
        while True:
            try:
                data = self.sock.recv(REPORT_SIZE + 1)
            except socket.timeout as e:
                raise TimeoutError("no report from the virtual key") from e
            if not data:
                raise ConnectionError("the virtual key closed the connection")
            if len(data) == REPORT_SIZE:
                return data

    def write_packet(self, data):
        if len(data) != REPORT_SIZE:
            raise ValueError(f"a report is {REPORT_SIZE} bytes, not {len(data)}")
        self.sock.send(data)

    def close(self):
        self.sock.close()


def device(connection):
    """A python-fido2 CtapHidDevice over `connection` (runs CTAPHID_INIT)."""
    try:
        return CtapHidDevice(connection.descriptor, connection)
    except BaseException:
        connection.close()
        raise


def udp_device(host, port, timeout=5.0):
    """CtapHidDevice for `latchkey virtual-key --udp HOST:PORT`."""
    return device(UdpConnection(host, port, timeout))


def unix_device(path, timeout=5.0):
    """CtapHidDevice for `latchkey virtual-key --unix PATH`."""
    return device(UnixConnection(path, timeout))


def start_virtual_key(latchkey, *args):
    """Starts `latchkey virtual-key ARGS`; returns the process and the address it announced
    (`host:port` for --udp, the path for --unix)."""
    import re
    import subprocess

    proc = subprocess.Popen(
        [latchkey, "virtual-key", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    m = re.match(r"latchkey virtual-key: serving on (udp|unix) (.+)$", line.strip())
    if not m:
        proc.kill()
        raise AssertionError(f"unexpected announcement {line!r}: {proc.stderr.read()}")
    return proc, m.group(2)


def stop_virtual_key(proc):
    """Stops it with SIGTERM; it must exit cleanly."""
    proc.terminate()
    assert proc.wait(timeout=5) == 0, proc.stderr.read()
