"""python-fido2's PC/SC transport (`CtapPcscDevice`, over pyscard and libpcsclite) against
`latchkey virtual-key --vpcd`: a contactless card in vsmartcard's virtual reader, inside a
private pcscd this module starts. Registration and sign-in verified by python-fido2's server,
with and without a PIN; U2F over NFC; status updates and a cancel while the card waits for a
touch; PIN change and retries, credential management, large blobs and reset.

pcscd's socket path is fixed at build time; only clients honour PCSCLITE_CSOCK_NAME. So pcscd
runs in a mount namespace of its own (`unshare --user --map-root-user --mount`) whose /run is a
directory of the test's, and this process points libpcsclite there before its first call (it
reads the variable once per process: one pcscd for the whole module)."""

import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
READER = "Virtual PCD 00 00"
ORIGIN = "https://example.com"
PIN = "271828"


def missing():
    if not (shutil.which("pcscd") or os.path.exists("/usr/sbin/pcscd")):
        return "pcscd (Debian: pcscd)"
    if not os.path.exists(VPCD_DRIVER):
        return "vpcd (Debian: vsmartcard-vpcd)"
    if not shutil.which("unshare"):
        return "unshare (util-linux)"
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard (tests/python/requirements.txt)"
    return None


def skip_or_fail(why):
    if os.environ.get("LATCHKEY_REQUIRE_PEERS"):
        pytest.fail(f"{why} is required (LATCHKEY_REQUIRE_PEERS is set)")
    pytest.skip(f"{why} is missing")


def free_port_pair():
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("0.0.0.0", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("0.0.0.0", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two consecutive free ports")


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory):
    why = missing()
    if why:
        skip_or_fail(why)
    base = tmp_path_factory.mktemp("pcscd")
    run, conf = base / "run", base / "reader.conf.d"
    (run / "pcscd").mkdir(parents=True)
    conf.mkdir()
    port = free_port_pair()
    (conf / "vpcd").write_text(
        f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:{port}\n'
        f"LIBPATH {VPCD_DRIVER}\nCHANNELID {port}\n"
    )
    log = base / "pcscd.log"
    pcscd_bin = "/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd") else "pcscd"
    proc = subprocess.Popen(
        [
            "unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
            'mount --bind "$1" /run && exec "$2" --foreground --debug --config "$3"',
            "sh", str(run), pcscd_bin, str(conf),
        ],
        stdin=subprocess.DEVNULL,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while "daemon ready" not in log.read_text():
        if proc.poll() is not None:
            text = log.read_text()
            if "unshare" in text:
                skip_or_fail(f"user namespaces for a private pcscd ({text.strip()})")
            raise AssertionError(f"pcscd exited: {text}")
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.02)
    os.environ["PCSCLITE_CSOCK_NAME"] = str(run / "pcscd" / "pcscd.comm")
    yield port
    proc.kill()
    proc.wait()


class Card:
    """`latchkey virtual-key --vpcd`: the card is on the reader until stopped."""

    def __init__(self, port, *extra):
        self.proc = subprocess.Popen(
            [LATCHKEY, "virtual-key", "--vpcd", f"127.0.0.1:{port}", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        if not re.match(r"latchkey virtual-key: serving on vpcd ", line):
            self.proc.kill()
            raise AssertionError(f"unexpected announcement {line!r}: {self.proc.stderr.read()}")

    def device(self):
        """The card through python-fido2, once pcscd has seen it."""
        from fido2.pcsc import CtapPcscDevice

        deadline = time.monotonic() + 30
        while True:
            devices = list(CtapPcscDevice.list_devices(READER))
            if devices:
                return devices[0]
            assert time.monotonic() < deadline, "the card never showed"
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0, self.proc.stderr.read()


@pytest.fixture
def card(pcscd):
    card = Card(pcscd)
    yield card
    card.stop()


def client(device, pin=None):
    from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction

    class Interaction(UserInteraction):
        def request_pin(self, permissions, rp_id):
            assert pin is not None, "no PIN was asked for"
            return pin

    return Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=Interaction())


def register_and_sign_in(device, pin=None, uv="discouraged"):
    from fido2.server import Fido2Server
    from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity

    server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Example"))
    user = PublicKeyCredentialUserEntity(id=b"user-nfc", name="dora", display_name="Dora")
    # Enough credentials to exclude that the request needs a command chain (over 250 bytes).
    exclude = [{"type": "public-key", "id": bytes([i]) * 64} for i in range(6)]
    options, state = server.register_begin(user, exclude, user_verification=uv)
    reg = client(device, pin).make_credential(options.public_key)
    auth_data = server.register_complete(state, reg)
    cred = auth_data.credential_data
    options, state = server.authenticate_begin([cred], user_verification=uv)
    result = client(device, pin).get_assertion(options.public_key)
    response = result.get_response(0)
    server.authenticate_complete(state, [cred], response)
    return auth_data, response


def test_make_credential_and_get_assertion_over_nfc(card):
    from fido2.ctap2 import Ctap2
    from fido2.hid import CAPABILITY

    device = card.device()
    assert device.capabilities & CAPABILITY.CBOR
    info = Ctap2(device).get_info()
    assert "FIDO_2_1" in info.versions
    assert "nfc" in info.transports, info.transports
    auth_data, _ = register_and_sign_in(device)
    assert auth_data.is_user_present()
    device.close(release=True)


def test_with_a_pin(card):
    from fido2.ctap2 import ClientPin, Ctap2

    device = card.device()
    ClientPin(Ctap2(device)).set_pin(PIN)
    assert ClientPin(Ctap2(device)).get_pin_retries()[0] == 8
    auth_data, response = register_and_sign_in(device, pin=PIN, uv="required")
    assert auth_data.is_user_verified()
    assert response.response.authenticator_data.is_user_verified()
    device.close(release=True)


def test_u2f_over_nfc(card):
    from fido2.ctap1 import Ctap1

    device = card.device()
    ctap1 = Ctap1(device)
    assert ctap1.get_version() == "U2F_V2"
    app, chal = b"\x44" * 32, b"\x55" * 32
    reg = ctap1.register(chal, app)  # over 255 bytes: fetched with GET RESPONSE
    reg.verify(app, chal)
    auth = ctap1.authenticate(chal, app, reg.key_handle)
    assert auth.user_presence & 1
    auth.verify(app, chal, reg.public_key)
    device.close(release=True)


def test_status_updates_then_cancel_while_the_card_waits_for_a_touch(pcscd):
    from fido2.ctap import STATUS, CtapError
    from fido2.ctap2 import Ctap2

    card = Card(pcscd, "--presence", "wait")
    try:
        device = card.device()
        seen, cancel = [], threading.Event()

        def on_keepalive(status):
            seen.append(status)
            if len(seen) >= 1:
                cancel.set()

        with pytest.raises(CtapError) as e:
            Ctap2(device).make_credential(
                b"\x01" * 32,
                {"id": "example.com", "name": "Example"},
                {"id": b"user-3", "name": "erin"},
                [{"type": "public-key", "alg": -7}],
                event=cancel,
                on_keepalive=on_keepalive,
            )
        assert e.value.code == CtapError.ERR.KEEPALIVE_CANCEL
        assert seen == [STATUS.UPNEEDED], seen
        device.close(release=True)
    finally:
        card.stop()


def power_cycle(device):
    """Takes the card out of the field and back (pcscd resets it: vpcd's reset code), as a
    card held to a reader again is, and closes `device`."""
    from smartcard.scard import SCARD_RESET_CARD

    device._conn.reconnect(disposition=SCARD_RESET_CARD)
    device.close(release=True)


def resident_registration(device, user_id, name, extensions=None):
    from fido2.server import Fido2Server
    from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity

    server = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Example"))
    user = PublicKeyCredentialUserEntity(id=user_id, name=name, display_name=name.title())
    options, state = server.register_begin(
        user, resident_key_requirement="required", user_verification="required"
    )
    opts = options.public_key
    if extensions:
        opts = type(opts).from_dict({**dict(opts), "extensions": extensions})
    result = client(device, PIN).make_credential(opts)
    return server, server.register_complete(state, result), result


def test_pin_credential_management_large_blobs_and_reset_over_nfc(card):
    """The card's management paths through python-fido2 over PC/SC: a PIN set, changed and
    retried; credential management; a large blob over several fragments (command chaining
    out, GET RESPONSE in); then a reset after the card is powered again wipes it all."""
    import hashlib
    import secrets

    from fido2.ctap import CtapError
    from fido2.ctap2 import ClientPin, Ctap2
    from fido2.ctap2.blob import LargeBlobs
    from fido2.ctap2.credman import CredentialManagement
    from fido2.utils import websafe_decode
    from fido2.webauthn import PublicKeyCredentialUserEntity

    device = card.device()
    ctap = Ctap2(device)
    assert ctap.info.options["clientPin"] is False
    ClientPin(ctap).set_pin("000000")
    ClientPin(ctap).change_pin("000000", PIN)
    with pytest.raises(CtapError) as e:
        ClientPin(ctap).get_pin_token("999999")
    assert e.value.code == CtapError.ERR.PIN_INVALID
    assert ClientPin(ctap).get_pin_retries()[0] == 7

    # Credential management: two discoverable credentials, one renamed, one deleted.
    resident_registration(device, b"nfc-u1", "alice")
    server, auth_data, result = resident_registration(
        device, b"nfc-u2", "bob", {"largeBlob": {"support": "required"}}
    )
    assert result.client_extension_results["largeBlob"]["supported"] is True
    token = ClientPin(ctap).get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, ClientPin(ctap).protocol, token)
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = cm.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == ["example.com"]
    rp_hash = hashlib.sha256(b"example.com").digest()
    users = {
        c[CredentialManagement.RESULT.USER]["id"]: c[CredentialManagement.RESULT.CREDENTIAL_ID]
        for c in cm.enumerate_creds(rp_hash)
    }
    assert set(users) == {b"nfc-u1", b"nfc-u2"}
    cm.update_user_info(
        users[b"nfc-u2"],
        PublicKeyCredentialUserEntity(id=b"nfc-u2", name="robert", display_name="Robert"),
    )
    names = {
        c[CredentialManagement.RESULT.USER]["id"]: c[CredentialManagement.RESULT.USER]["name"]
        for c in cm.enumerate_creds(rp_hash)
    }
    assert names == {b"nfc-u1": "alice", b"nfc-u2": "robert"}
    cm.delete_cred(users[b"nfc-u1"])
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 1

    # A large blob of 3000 bytes: written and read back through the extension.
    cred = auth_data.credential_data
    data = secrets.token_bytes(3000)
    request, _ = server.authenticate_begin([cred], user_verification="required")
    opts = type(request.public_key).from_dict(
        {**dict(request.public_key), "extensions": {"largeBlob": {"write": data}}}
    )
    written = client(device, PIN).get_assertion(opts).get_response(0)
    assert written.client_extension_results["largeBlob"]["written"] is True
    request, state = server.authenticate_begin([cred], user_verification="required")
    opts = type(request.public_key).from_dict(
        {**dict(request.public_key), "extensions": {"largeBlob": {"read": True}}}
    )
    read = client(device, PIN).get_assertion(opts).get_response(0)
    server.authenticate_complete(state, [cred], read)
    assert websafe_decode(read.client_extension_results["largeBlob"]["blob"]) == data
    assert len(LargeBlobs(Ctap2(device)).read_blob_array()) == 1

    # Reset, within 10 s of the card being powered again: PIN, credentials, blobs gone.
    power_cycle(device)
    device = card.device()
    Ctap2(device).reset()
    ctap = Ctap2(device)
    assert ctap.get_info().options["clientPin"] is False
    with pytest.raises(CtapError) as e:
        ctap.get_assertion("example.com", hashlib.sha256(b"x").digest())
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    assert LargeBlobs(ctap).read_blob_array() == []
    device.close(release=True)
