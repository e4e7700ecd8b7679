"""python-fido2 drives `latchkey virtual-key` through its own CTAPHID stack, as it drives a
hardware key, and python-fido2's server verifies what comes back.

Each test starts a fresh virtual key on a free UDP port (the Solo/Trezor simulator convention),
so no test sees another's credentials or PIN state.
"""

import hashlib
import os
import secrets
import socket
import subprocess
import time

import pytest
from fido2.client import (
    ClientError,
    DefaultClientDataCollector,
    Fido2Client,
    UserInteraction,
)
from fido2.ctap import CtapError
from fido2.ctap1 import Ctap1
from fido2.ctap2 import Ctap2
from fido2.ctap2.blob import LargeBlobs
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.hid import CtapHidDevice
from fido2.server import Fido2Server
from fido2.utils import websafe_decode
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)

from virtual_key_transport import udp_device

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)
ORIGIN = "https://example.com"
RP = PublicKeyCredentialRpEntity(id="example.com", name="Example")
PIN = "12345678"

# The Solo simulator's "magic reboot" report: a power cycle of the virtual key.
MAGIC_REBOOT = bytes.fromhex(
    "ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b"
    "394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc"
)


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VirtualKey:
    """A `latchkey virtual-key --udp` process and python-fido2 devices connected to it."""

    def __init__(self, tmp_path, *extra):
        self.port = free_udp_port()
        self.state = tmp_path / "state"
        self.proc = subprocess.Popen(
            [
                LATCHKEY,
                "virtual-key",
                "--udp",
                f"127.0.0.1:{self.port}",
                "--state",
                str(self.state),
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.started = time.monotonic()
        self.device = self.connect()

    def connect(self):
        deadline = time.monotonic() + 15
        while True:
            try:
                return udp_device("127.0.0.1", self.port)
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def power_cycle(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(MAGIC_REBOOT, ("127.0.0.1", self.port))
        time.sleep(0.2)
        self.started = time.monotonic()
        self.device = self.connect()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        assert self.proc.returncode == 0, self.proc.stderr.read().decode(errors="replace")


@pytest.fixture
def vk(tmp_path):
    key = VirtualKey(tmp_path)
    yield key
    key.stop()


class Pin(UserInteraction):
    def __init__(self, pin=PIN):
        self.pin = pin
        self.asked = 0

    def request_pin(self, permissions, rp_id):
        self.asked += 1
        return self.pin


def client(device, pin=PIN):
    return Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=Pin(pin))


def register(device, user_id=None, name="alice", rk="discouraged", uv="discouraged", extensions=None):
    srv = Fido2Server(RP, attestation=AttestationConveyancePreference.DIRECT)
    user = PublicKeyCredentialUserEntity(
        id=user_id or secrets.token_bytes(16), name=name, display_name=name.title()
    )
    options, state = srv.register_begin(
        user, resident_key_requirement=rk, user_verification=uv
    )
    opts = options.public_key
    if extensions:
        opts = type(opts).from_dict({**dict(opts), "extensions": extensions})
    result = client(device).make_credential(opts)
    auth_data = srv.register_complete(state, result)
    return srv, auth_data, result


def set_pin(device, pin=PIN):
    ClientPin(Ctap2(device)).set_pin(pin)


def test_get_info_tells_the_truth(vk):
    info = Ctap2(vk.device).get_info()
    assert {"U2F_V2", "FIDO_2_0", "FIDO_2_1"} <= set(info.versions)
    for ext in ["credProtect", "hmac-secret", "credBlob", "largeBlobKey", "minPinLength"]:
        assert ext in info.extensions
    assert info.options["rk"] is True
    assert info.options["up"] is True
    assert info.options["clientPin"] is False  # no PIN yet
    assert info.options["credMgmt"] is True
    assert info.options["largeBlobs"] is True
    assert info.options["pinUvAuthToken"] is True
    assert set(info.pin_uv_protocols) == {1, 2}
    assert info.max_msg_size == 7609
    assert len(info.aaguid) == 16
    set_pin(vk.device)
    assert Ctap2(vk.device).get_info().options["clientPin"] is True


@pytest.mark.parametrize("rk", ["discouraged", "required"])
def test_register_and_sign_in_verified_by_python_fido2_server(vk, rk):
    srv, auth_data, _ = register(vk.device, rk=rk)
    cred = auth_data.credential_data
    request, state = srv.authenticate_begin([cred], user_verification="discouraged")
    result = client(vk.device).get_assertion(request.public_key).get_response(0)
    srv.authenticate_complete(state, [cred], result)
    assert auth_data.flags & 0x01  # UP
    assert not auth_data.flags & 0x18  # device-bound: BE and BS clear


def test_discoverable_sign_in_without_allow_list_offers_every_account(vk):
    set_pin(vk.device)
    ids = [b"user-a", b"user-b"]
    creds = []
    for uid, name in zip(ids, ["alice", "bob"]):
        srv, auth_data, _ = register(vk.device, user_id=uid, name=name, rk="required", uv="required")
        creds.append(auth_data.credential_data)
    srv = Fido2Server(RP)
    request, state = srv.authenticate_begin(user_verification="required")
    selection = client(vk.device).get_assertion(request.public_key)
    responses = selection.get_assertions()
    assert len(responses) == 2
    assert {r.user["id"] for r in responses} == set(ids)
    for i in range(2):
        srv.authenticate_complete(state, creds, selection.get_response(i))


def test_set_change_pin_and_pin_token(vk):
    ctap = Ctap2(vk.device)
    pin = ClientPin(ctap)
    pin.set_pin("1234")
    assert pin.get_pin_retries()[0] == 8
    pin.change_pin("1234", "abcdef")
    with pytest.raises(CtapError) as e:
        pin.get_pin_token("1234")
    assert e.value.code == CtapError.ERR.PIN_INVALID
    for proto in (PinProtocolV1(), PinProtocolV2()):
        token = ClientPin(ctap, proto).get_pin_token(
            "abcdef", ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com"
        )
        assert len(token) == 32
    assert pin.get_pin_retries()[0] == 8  # a right PIN restores the counter


def raw_set_pin(ctap, pin_bytes):
    """setPIN without python-fido2's own length check, to test the authenticator's."""
    client_pin = ClientPin(ctap)
    key_agreement, shared_secret = client_pin._get_shared_secret()
    pin_enc = client_pin.protocol.encrypt(shared_secret, pin_bytes.ljust(64, b"\0"))
    pin_uv_param = client_pin.protocol.authenticate(shared_secret, pin_enc)
    ctap.client_pin(
        client_pin.protocol.VERSION,
        ClientPin.CMD.SET_PIN,
        key_agreement=key_agreement,
        new_pin_enc=pin_enc,
        pin_uv_param=pin_uv_param,
    )


@pytest.mark.parametrize("pin", [b"123", "\u00e9\u00e9\u00e9".encode()])
def test_setting_a_short_pin_is_refused(vk, pin):
    # Three code points are too short even when they take six bytes.
    ctap = Ctap2(vk.device)
    with pytest.raises(CtapError) as e:
        raw_set_pin(ctap, pin)
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    assert ctap.get_info().options["clientPin"] is False
    raw_set_pin(ctap, "\u00e9\u00e9\u00e9\u00e9".encode())  # four code points are enough
    assert ctap.get_info().options["clientPin"] is True


def test_wrong_pin_retries_per_boot_limit_and_lockout(vk):
    set_pin(vk.device)
    retries = 8
    while retries > 0:
        pin = ClientPin(Ctap2(vk.device))
        for attempt in range(3):
            with pytest.raises(CtapError) as e:
                pin.get_pin_token("00000000")
            retries -= 1
            if retries == 0:
                assert e.value.code == CtapError.ERR.PIN_BLOCKED
                break
            if attempt < 2:
                assert e.value.code == CtapError.ERR.PIN_INVALID
            else:
                assert e.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
            assert pin.get_pin_retries()[0] == retries
        if retries == 0:
            break
        # Blocked for this power cycle, even with the right PIN.
        with pytest.raises(CtapError) as e:
            pin.get_pin_token(PIN)
        assert e.value.code == CtapError.ERR.PIN_AUTH_BLOCKED
        vk.power_cycle()
    # Locked out for good: the right PIN no longer works, after a power cycle either.
    vk.power_cycle()
    with pytest.raises(CtapError) as e:
        ClientPin(Ctap2(vk.device)).get_pin_token(PIN)
    assert e.value.code == CtapError.ERR.PIN_BLOCKED
    assert ClientPin(Ctap2(vk.device)).get_pin_retries()[0] == 0


def test_credential_management(vk):
    set_pin(vk.device)
    register(vk.device, user_id=b"u1", name="alice", rk="required", uv="required")
    register(vk.device, user_id=b"u2", name="bob", rk="required", uv="required")
    ctap = Ctap2(vk.device)
    token = ClientPin(ctap).get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    cm = CredentialManagement(ctap, ClientPin(ctap).protocol, token)
    meta = cm.get_metadata()
    assert meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = cm.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == ["example.com"]
    rp_hash = hashlib.sha256(b"example.com").digest()
    assert rps[0][CredentialManagement.RESULT.RP_ID_HASH] == rp_hash
    creds = cm.enumerate_creds(rp_hash)
    users = {c[CredentialManagement.RESULT.USER]["id"]: c for c in creds}
    assert set(users) == {b"u1", b"u2"}
    bob = users[b"u2"][CredentialManagement.RESULT.CREDENTIAL_ID]
    cm.update_user_info(
        bob, PublicKeyCredentialUserEntity(id=b"u2", name="robert", display_name="Robert")
    )
    names = {
        c[CredentialManagement.RESULT.USER]["id"]: c[CredentialManagement.RESULT.USER].get("name")
        for c in cm.enumerate_creds(rp_hash)
    }
    assert names[b"u2"] == "robert"
    cm.delete_cred(bob)
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 1
    with pytest.raises(CtapError) as e:
        cm.delete_cred(bob)
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS


def test_credential_management_needs_the_cm_permission(vk):
    set_pin(vk.device)
    ctap = Ctap2(vk.device)
    token = ClientPin(ctap).get_pin_token(
        PIN, ClientPin.PERMISSION.GET_ASSERTION, "example.com"
    )
    cm = CredentialManagement(ctap, ClientPin(ctap).protocol, token)
    with pytest.raises(CtapError) as e:
        cm.get_metadata()
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID


def prf_eval(device, cred, salt, uv):
    srv = Fido2Server(RP)
    request, state = srv.authenticate_begin([cred], user_verification=uv)
    opts = request.public_key
    opts = type(opts).from_dict({**dict(opts), "extensions": {"prf": {"eval": {"first": salt}}}})
    response = client(device).get_assertion(opts).get_response(0)
    srv.authenticate_complete(state, [cred], response)
    return websafe_decode(response.client_extension_results["prf"]["results"]["first"])


def test_prf_over_hmac_secret(vk):
    set_pin(vk.device)
    _, auth_data, result = register(vk.device, uv="required", extensions={"prf": {}})
    assert result.client_extension_results["prf"]["enabled"] is True
    cred = auth_data.credential_data
    salt = b"\x01" * 32
    first = prf_eval(vk.device, cred, salt, "required")
    assert len(first) == 32
    assert prf_eval(vk.device, cred, salt, "required") == first  # stable
    assert prf_eval(vk.device, cred, b"\x02" * 32, "required") != first  # salt matters
    assert prf_eval(vk.device, cred, salt, "discouraged") != first  # with/without UV differ


def test_large_blobs(vk):
    set_pin(vk.device)
    _, auth_data, result = register(
        vk.device, rk="required", uv="required", extensions={"largeBlob": {"support": "required"}}
    )
    assert result.client_extension_results["largeBlob"]["supported"] is True
    cred = auth_data.credential_data
    srv = Fido2Server(RP)
    data = secrets.token_bytes(3000)  # more than one fragment
    request, state = srv.authenticate_begin([cred], user_verification="required")
    opts = type(request.public_key).from_dict(
        {**dict(request.public_key), "extensions": {"largeBlob": {"write": data}}}
    )
    written = client(vk.device).get_assertion(opts).get_response(0)
    assert written.client_extension_results["largeBlob"]["written"] is True
    request, state = srv.authenticate_begin([cred], user_verification="required")
    opts = type(request.public_key).from_dict(
        {**dict(request.public_key), "extensions": {"largeBlob": {"read": True}}}
    )
    read = client(vk.device).get_assertion(opts).get_response(0)
    assert websafe_decode(read.client_extension_results["largeBlob"]["blob"]) == data
    # The raw array is readable without a token and carries our one entry.
    ctap = Ctap2(vk.device)
    assert len(LargeBlobs(ctap).read_blob_array()) == 1


def test_cred_protect_required_hides_the_credential_without_uv(vk):
    set_pin(vk.device)
    _, auth_data, _ = register(
        vk.device,
        rk="required",
        uv="required",
        extensions={
            "credentialProtectionPolicy": "userVerificationRequired",
            "enforceCredentialProtectionPolicy": True,
        },
    )
    ctap = Ctap2(vk.device)
    rp_hash = hashlib.sha256(b"example.com").digest()
    cd = hashlib.sha256(b"client data").digest()
    descriptor = {"type": "public-key", "id": auth_data.credential_data.credential_id}
    # Without UV the credential does not exist, even with its ID in the allowList.
    with pytest.raises(CtapError) as e:
        ctap.get_assertion("example.com", cd, [descriptor])
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    with pytest.raises(CtapError) as e:
        ctap.get_assertion("example.com", cd)
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS
    # With UV it does.
    srv = Fido2Server(RP)
    request, state = srv.authenticate_begin(user_verification="required")
    response = client(vk.device).get_assertion(request.public_key).get_response(0)
    srv.authenticate_complete(state, [auth_data.credential_data], response)
    assert rp_hash == response.response.authenticator_data.rp_id_hash


def test_reset_only_within_ten_seconds_of_power_up(vk):
    set_pin(vk.device)
    register(vk.device, rk="required", uv="required")
    ctap = Ctap2(vk.device)
    remaining = 10.5 - (time.monotonic() - vk.started)
    if remaining > 0:
        time.sleep(remaining)
    with pytest.raises(CtapError) as e:
        ctap.reset()
    assert e.value.code == CtapError.ERR.NOT_ALLOWED
    assert Ctap2(vk.device).get_info().options["clientPin"] is True  # nothing wiped
    vk.power_cycle()
    Ctap2(vk.device).reset()
    info = Ctap2(vk.device).get_info()
    assert info.options["clientPin"] is False
    with pytest.raises(CtapError) as e:
        Ctap2(vk.device).get_assertion("example.com", hashlib.sha256(b"x").digest())
    assert e.value.code == CtapError.ERR.NO_CREDENTIALS


def test_state_survives_a_restart_of_the_key(tmp_path):
    key = VirtualKey(tmp_path)
    set_pin(key.device)
    _, auth_data, _ = register(key.device, rk="required", uv="required")
    key.stop()
    key = VirtualKey(tmp_path)
    try:
        assert Ctap2(key.device).get_info().options["clientPin"] is True
        srv = Fido2Server(RP)
        request, state = srv.authenticate_begin(user_verification="required")
        response = client(key.device).get_assertion(request.public_key).get_response(0)
        srv.authenticate_complete(state, [auth_data.credential_data], response)
    finally:
        key.stop()


def test_u2f_register_and_authenticate(vk):
    ctap1 = Ctap1(vk.device)
    assert ctap1.get_version() == "U2F_V2"
    app = hashlib.sha256(b"https://example.com").digest()
    chal = hashlib.sha256(b"challenge").digest()
    reg = ctap1.register(chal, app)
    reg.verify(app, chal)  # attestation signature over the U2F registration data
    auth = ctap1.authenticate(chal, app, reg.key_handle)
    auth.verify(app, chal, reg.public_key)
    assert auth.user_presence & 0x01
    auth2 = ctap1.authenticate(chal, app, reg.key_handle)
    assert auth2.counter > auth.counter
    # check-only of a known handle asks for presence: 6985 (conditions not satisfied)
    from fido2.ctap1 import ApduError, APDU

    with pytest.raises(ApduError) as e:
        ctap1.authenticate(chal, app, reg.key_handle, check_only=True)
    assert e.value.code == APDU.USE_NOT_SATISFIED
    with pytest.raises(ApduError) as e:
        ctap1.authenticate(chal, hashlib.sha256(b"other").digest(), reg.key_handle)
    assert e.value.code == APDU.WRONG_DATA


def test_excluded_credential_is_refused(vk):
    srv, auth_data, _ = register(vk.device)
    user = PublicKeyCredentialUserEntity(id=b"again", name="alice", display_name="Alice")
    options, _ = srv.register_begin(
        user, credentials=[auth_data.credential_data], user_verification="discouraged"
    )
    with pytest.raises(ClientError) as e:
        client(vk.device).make_credential(options.public_key)
    assert e.value.code == ClientError.ERR.DEVICE_INELIGIBLE


def test_cred_blob_is_stored_and_returned(vk):
    set_pin(vk.device)
    blob = b"hello credBlob"
    _, auth_data, result = register(
        vk.device, rk="required", uv="required", extensions={"credBlob": blob}
    )
    assert auth_data.extensions["credBlob"] is True
    srv = Fido2Server(RP)
    request, state = srv.authenticate_begin(
        [auth_data.credential_data], user_verification="required"
    )
    opts = type(request.public_key).from_dict(
        {**dict(request.public_key), "extensions": {"getCredBlob": True}}
    )
    response = client(vk.device).get_assertion(opts).get_response(0)
    assert response.response.authenticator_data.extensions["credBlob"] == blob


def test_silent_assertion_does_not_ask_for_presence(vk):
    _, auth_data, _ = register(vk.device)
    ctap = Ctap2(vk.device)
    cd = hashlib.sha256(b"probe").digest()
    descriptor = {"type": "public-key", "id": auth_data.credential_data.credential_id}
    assertion = ctap.get_assertion("example.com", cd, [descriptor], options={"up": False})
    assert assertion.auth_data.flags & 0x05 == 0  # neither UP nor UV
    assertion.verify(cd, auth_data.credential_data.public_key)


def test_unix_socket_transport(tmp_path):
    from virtual_key_transport import unix_device

    path = tmp_path / "vk.sock"
    proc = subprocess.Popen([LATCHKEY, "virtual-key", "--unix", str(path)])
    try:
        deadline = time.monotonic() + 15
        while not path.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        device = unix_device(path)
        _, auth_data, _ = register(device)
        assert auth_data.credential_data.public_key[3] == -7  # ES256
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    assert not path.exists()  # removed on exit
