"""CTAPHID corner cases (CTAP 2.1 §11.2.9) on `latchkey virtual-key --udp`, with raw 64-byte
reports the way the conformance suites written for the firmware simulators send them: several
channels on one socket, channels the host picks itself, packets of different messages
interleaved, a message left unfinished, and the simulators' reboot report, after which
python-fido2's own CTAPHID stack goes on using the channel it had. (Busy while a request is
processed needs a request that takes its time: crates/transport/tests/ctaphid_corner_cases.rs.)"""

import os
import socket
import struct
import time

import pytest
from fido2.ctap2 import Ctap2

from virtual_key_transport import start_virtual_key, stop_virtual_key, udp_device

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)

BROADCAST = b"\xff\xff\xff\xff"
PING, INIT, CBOR, KEEPALIVE, ERROR = 0x01, 0x06, 0x10, 0x3B, 0x3F
ERR_INVALID_SEQ, ERR_MSG_TIMEOUT, ERR_CHANNEL_BUSY = 0x04, 0x05, 0x06
MAGIC_REBOOT = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc"
)


class Host:
    """One UDP socket talking raw CTAPHID reports to the key."""

    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((host, int(port)))
        self.sock.settimeout(3)

    def send(self, cid, body):
        self.sock.send((cid + body).ljust(64, b"\x00"))

    def init_packet(self, cid, cmd, length, data=b""):
        self.send(cid, bytes([0x80 | cmd]) + struct.pack(">H", length) + data[:57])

    def cont_packet(self, cid, seq, data=b""):
        self.send(cid, bytes([seq]) + data[:59])

    def recv(self):
        """The next report that is not a keepalive: (cid, cmd, first payload bytes)."""
        while True:
            r = self.sock.recv(65)
            assert len(r) == 64
            if r[4] != 0x80 | KEEPALIVE:
                length = struct.unpack(">H", r[5:7])[0]
                return r[:4], r[4] & 0x7F, r[7 : 7 + min(length, 57)], length

    def init(self, cid):
        """CTAPHID_INIT on `cid`; the channel the answer names."""
        nonce = os.urandom(8)
        self.init_packet(cid, INIT, 8, nonce)
        got_cid, cmd, data, _ = self.recv()
        assert (got_cid, cmd, data[:8]) == (cid, INIT, nonce)
        return data[8:12]


@pytest.fixture
def key():
    proc, addr = start_virtual_key(LATCHKEY, "--udp", "127.0.0.1:0")
    yield addr
    stop_virtual_key(proc)


def test_init_on_another_channel_is_answered_while_a_message_is_partly_received(key):
    host = Host(key)
    a = host.init(BROADCAST)
    payload = os.urandom(150)
    host.init_packet(a, PING, len(payload), payload)
    host.cont_packet(a, 0, payload[57:])
    # A channel the host made up: answered at once, not after the first message.
    assert host.init(b"\x11\x22\x33\x44") == b"\x11\x22\x33\x44"
    host.cont_packet(a, 1, payload[116:])
    cid, cmd, data, length = host.recv()
    assert (cid, cmd, length, data) == (a, PING, 150, payload[:57])


def test_a_partial_message_times_out_between_half_a_second_and_a_second(key):
    host = Host(key)
    a = host.init(BROADCAST)
    start = time.monotonic()
    host.init_packet(a, PING, 1024, b"\x44" * 57)
    host.cont_packet(a, 0, b"\x44" * 59)
    assert host.recv()[:3] == (a, ERROR, bytes([ERR_MSG_TIMEOUT]))
    assert time.monotonic() - start >= 0.5


def test_an_initialization_packet_where_a_continuation_is_due_is_invalid_seq(key):
    host = Host(key)
    a = host.init(BROADCAST)
    host.init_packet(a, PING, 1024, b"\x44" * 57)
    host.cont_packet(a, 0)
    host.cont_packet(a, 1)
    host.init_packet(a, CBOR, 1, b"\x04")
    assert host.recv()[:3] == (a, ERROR, bytes([ERR_INVALID_SEQ]))
    # And a skipped sequence number.
    host.init_packet(a, PING, 200, b"\x44" * 57)
    host.cont_packet(a, 0)
    host.cont_packet(a, 2)
    assert host.recv()[:3] == (a, ERROR, bytes([ERR_INVALID_SEQ]))


def test_another_channel_is_busy_interleaved_and_the_first_completes(key):
    host = Host(key)
    first, second = b"\x11\x22\x33\x44", b"\x01\x22\x33\x44"
    host.init(second)
    host.init(first)
    payload = os.urandom(99)
    host.init_packet(first, PING, 99, payload)
    host.init_packet(second, PING, 99, payload)
    host.cont_packet(second, 0, payload[57:])
    assert host.recv()[:3] == (second, ERROR, bytes([ERR_CHANNEL_BUSY]))
    host.cont_packet(first, 0, payload[57:])
    assert host.recv()[:2] == (first, PING)


def test_the_reboot_report_keeps_python_fido2s_channel(key):
    host, port = key.rsplit(":", 1)
    dev = udp_device(host, int(port))
    ctap = Ctap2(dev)
    ctap.get_info()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(MAGIC_REBOOT, (host, int(port)))
    time.sleep(0.1)
    # The same CtapHidDevice, the same channel, no new CTAPHID_INIT.
    assert ctap.get_info().versions
    dev.close()
