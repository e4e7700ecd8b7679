"""Smoke test of `latchkey virtual-key` through python-fido2's own CTAPHID stack, over UDP and
over the Unix seqpacket socket: getInfo, makeCredential, getAssertion (the assertion verified
by python-fido2's server), U2F version over CTAPHID_MSG, and a clean exit on SIGTERM."""

import os
import re
import subprocess
import time

import pytest
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity

from virtual_key_transport import udp_device, unix_device

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)
ORIGIN = "https://example.com"
RP = PublicKeyCredentialRpEntity(id="example.com", name="Example")


class NoPin(UserInteraction):
    def request_pin(self, permissions, rp_id):
        raise AssertionError("no PIN is set on a fresh virtual key")


def start(*listen):
    """Starts the virtual key; returns the process and the address it announced."""
    proc = subprocess.Popen(
        [LATCHKEY, "virtual-key", *listen],
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


def stop(proc):
    proc.terminate()
    assert proc.wait(timeout=5) == 0, proc.stderr.read()


@pytest.fixture(params=["udp", "unix"])
def device(request, tmp_path):
    if request.param == "udp":
        proc, addr = start("--udp", "127.0.0.1:0")
        host, port = addr.rsplit(":", 1)
        dev = udp_device(host, int(port))
    else:
        path = tmp_path / "vk.sock"
        proc, announced = start("--unix", str(path))
        assert announced == str(path)
        dev = unix_device(path)
    yield dev
    dev.close()
    stop(proc)
    if request.param == "unix":
        assert not path.exists(), "socket file left behind"


def test_get_info_make_credential_get_assertion(device):
    assert device.capabilities & 0x04, "CBOR capability"
    info = Ctap2(device).get_info()
    assert "FIDO_2_0" in info.versions
    assert info.max_msg_size >= 1200

    server = Fido2Server(RP)
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=NoPin())
    user = PublicKeyCredentialUserEntity(id=b"user-1", name="alice", display_name="Alice")
    options, state = server.register_begin(user, user_verification="discouraged")
    reg = client.make_credential(options.public_key)
    auth_data = server.register_complete(state, reg)
    cred = auth_data.credential_data

    options, state = server.authenticate_begin([cred], user_verification="discouraged")
    result = client.get_assertion(options.public_key)
    response = result.get_response(0)
    server.authenticate_complete(state, [cred], response)


def test_u2f_version_over_msg(device):
    assert Ctap1(device).get_version() == "U2F_V2"


def test_ping_round_trips_a_long_message(device):
    from fido2.hid import CTAPHID

    payload = bytes(range(256)) * 29  # 7424 bytes, 126 continuation packets
    assert device.call(CTAPHID.PING, payload) == payload


def make_resident(ctap2):
    return ctap2.make_credential(
        b"\x01" * 32,
        {"id": "example.com", "name": "Example"},
        {"id": b"user-2", "name": "bob"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
    )


def test_presence_deny_refuses_make_credential():
    from fido2.ctap import CtapError

    proc, addr = start("--udp", "127.0.0.1:0", "--presence", "deny")
    host, port = addr.rsplit(":", 1)
    dev = udp_device(host, int(port))
    try:
        with pytest.raises(CtapError) as e:
            make_resident(Ctap2(dev))
        assert e.value.code == CtapError.ERR.OPERATION_DENIED
    finally:
        dev.close()
        stop(proc)


def test_state_dir_keeps_credentials_across_restarts(tmp_path):
    state = tmp_path / "state"
    proc, addr = start("--udp", "127.0.0.1:0", "--state", str(state))
    host, port = addr.rsplit(":", 1)
    dev = udp_device(host, int(port))
    make_resident(Ctap2(dev))
    dev.close()
    stop(proc)
    assert any(state.iterdir()), "nothing written to the state directory"

    proc, addr = start("--udp", "127.0.0.1:0", "--state", str(state))
    host, port = addr.rsplit(":", 1)
    dev = udp_device(host, int(port))
    try:
        assertion = Ctap2(dev).get_assertion("example.com", b"\x02" * 32)
        assert assertion.user["id"] == b"user-2"
    finally:
        dev.close()
        stop(proc)


class PromptingKey:
    """`latchkey virtual-key --presence prompt` on a pseudo-terminal we can type into."""

    def __init__(self):
        import pty

        pid, fd = pty.fork()
        if pid == 0:  # child: the pty is now its controlling terminal
            os.execv(
                LATCHKEY,
                [LATCHKEY, "virtual-key", "--udp", "127.0.0.1:0", "--presence", "prompt"],
            )
        self.pid, self.fd, self.seen = pid, fd, b""
        m = re.search(rb"serving on udp (\S+):(\d+)", self.read_until(rb"serving on udp \S+:\d+\r?\n"))
        self.device = udp_device(m.group(1).decode(), int(m.group(2)))

    def read_until(self, pattern, timeout=10):
        import select

        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.seen):
            left = deadline - time.monotonic()
            assert left > 0, f"terminal never showed {pattern!r}: {self.seen!r}"
            if select.select([self.fd], [], [], left)[0]:
                self.seen += os.read(self.fd, 1024)
        return self.seen

    def type(self, text):
        os.write(self.fd, text)

    def stop(self):
        import signal

        self.device.close()
        os.kill(self.pid, signal.SIGTERM)
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        assert os.waitstatus_to_exitcode(status) == 0


def test_prompt_asks_on_the_terminal_and_keepalives_say_upneeded():
    import threading

    from fido2.ctap import STATUS

    key = PromptingKey()
    try:
        statuses, result = [], {}

        def register():
            result["ok"] = make_resident_with(Ctap2(key.device), statuses.append)

        t = threading.Thread(target=register)
        t.start()
        key.read_until(rb"Register a passkey for bob on example\.com\? Touch\? \[y/N\] ")
        time.sleep(0.3)  # let a few keepalives go out while the prompt waits
        key.type(b"y\n")
        t.join(10)
        assert result.get("ok") is not None
        assert STATUS.UPNEEDED in statuses, statuses
    finally:
        key.stop()


def test_cancel_while_the_prompt_waits():
    import threading

    from fido2.ctap import CtapError

    key = PromptingKey()
    try:
        cancel = threading.Event()
        with pytest.raises(CtapError) as e:
            make_resident_with(
                Ctap2(key.device), lambda status: cancel.set(), event=cancel
            )
        assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
        key.read_until(rb"\(cancelled by the client\)")
    finally:
        key.stop()


def make_resident_with(ctap2, on_keepalive, event=None):
    return ctap2.make_credential(
        b"\x01" * 32,
        {"id": "example.com", "name": "Example"},
        {"id": b"user-2", "name": "bob"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
        on_keepalive=on_keepalive,
        event=event,
    )


def test_u2f_register_and_authenticate_verify(device):
    """CTAP1 over CTAPHID_MSG; python-fido2 parses and verifies both responses."""
    from fido2.ctap1 import APDU, ApduError

    ctap1 = Ctap1(device)
    app, chal = b"\x11" * 32, b"\x22" * 32
    reg = ctap1.register(chal, app)
    reg.verify(app, chal)  # attestation signature over 00 ‖ app ‖ chal ‖ kh ‖ pk
    auth = ctap1.authenticate(chal, app, reg.key_handle)
    assert auth.user_presence & 1
    auth.verify(app, chal, reg.public_key)
    # Check-only: a valid handle answers "conditions not satisfied", a foreign one "wrong data".
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(chal, app, reg.key_handle, check_only=True)
    assert e.value.code == APDU.USE_NOT_SATISFIED
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(chal, b"\x33" * 32, reg.key_handle)
    assert e.value.code == APDU.WRONG_DATA
