"""python-fido2, a client we did not write, sees `latchkey virtual-key` answer as shipped keys
do where CTAP leaves room, and announce the policies its flags set: getPINRetries without a PIN,
packed self attestation by default (none by flag), getInfo extensions in canonical order, a
non-text rp.icon, the superseded getPinToken, forcePINChange, noMcGaPermissionsWithClientPin
and a CTAP 2.0 key."""

import os
import secrets

import pytest
from fido2.attestation import AttestationType, PackedAttestation
from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.config import Config
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)

from virtual_key_transport import start_virtual_key, stop_virtual_key, udp_device

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)
ORIGIN = "https://example.com"
RP = {"id": "example.com", "name": "Example"}
USER = {"id": b"user-1", "name": "alice", "displayName": "Alice"}
ES256 = [{"type": "public-key", "alg": -7}]
PIN = "12345678"


@pytest.fixture
def key(request):
    """A virtual key on a free UDP port, started with the flags a test passes indirectly."""
    args = getattr(request, "param", ())
    proc, addr = start_virtual_key(LATCHKEY, "--udp", "127.0.0.1:0", *args)
    host, port = addr.rsplit(":", 1)
    dev = udp_device(host, int(port))
    yield dev
    dev.close()
    stop_virtual_key(proc)


class Pin(UserInteraction):
    def request_pin(self, permissions, rp_id):
        return PIN


def test_get_pin_retries_without_a_pin_is_pin_not_set(key):
    pin = ClientPin(Ctap2(key))
    with pytest.raises(CtapError) as e:
        pin.get_pin_retries()
    assert e.value.code == CtapError.ERR.PIN_NOT_SET
    pin.set_pin(PIN)
    assert pin.get_pin_retries()[0] == 8


def register_direct(device):
    server = Fido2Server(
        PublicKeyCredentialRpEntity(**RP), attestation=AttestationConveyancePreference.DIRECT
    )
    user = PublicKeyCredentialUserEntity(id=secrets.token_bytes(16), name="bob", display_name="Bob")
    options, state = server.register_begin(user, user_verification="discouraged")
    client = Fido2Client(device, DefaultClientDataCollector(ORIGIN), user_interaction=Pin())
    result = client.make_credential(options.public_key)
    server.register_complete(state, result)
    return result.response.attestation_object


def test_attestation_is_packed_self_attestation_by_default(key):
    obj = register_direct(key)
    assert obj.fmt == "packed"
    assert "x5c" not in obj.att_stmt
    cdh = secrets.token_bytes(32)
    att = Ctap2(key).make_credential(cdh, RP, USER, ES256)
    result = PackedAttestation().verify(att.att_stmt, att.auth_data, cdh)
    assert result.attestation_type == AttestationType.SELF


@pytest.mark.parametrize("key", [("--attestation", "none")], indirect=True)
def test_attestation_none_by_flag(key):
    obj = register_direct(key)
    assert obj.fmt == "none"
    assert obj.att_stmt == {}


def test_get_info_lists_extensions_in_canonical_order(key):
    extensions = Ctap2(key).get_info().extensions
    assert extensions == sorted(extensions, key=lambda e: (len(e), e.encode()))
    # Canonical, not bytewise: a shorter name first, so "largeBlobKey" (12 bytes) comes before
    # "hmac-secret-mc" (14), which bytewise order would put first.
    assert extensions.index("largeBlobKey") < extensions.index("hmac-secret-mc")
    assert extensions[-1] == "thirdPartyPayment"


def test_a_non_text_rp_icon_is_cbor_unexpected_type(key):
    ctap = Ctap2(key)
    with pytest.raises(CtapError) as e:
        ctap.make_credential(b"\x01" * 32, {**RP, "icon": 8}, USER, ES256)
    assert e.value.code == CtapError.ERR.CBOR_UNEXPECTED_TYPE
    with pytest.raises(CtapError) as e:
        ctap.make_credential(b"\x01" * 32, RP, {**USER, "icon": b"\x00"}, ES256)
    assert e.value.code == CtapError.ERR.CBOR_UNEXPECTED_TYPE
    # A text icon, as WebAuthn L1 had it, is accepted and ignored.
    ctap.make_credential(b"\x01" * 32, {**RP, "icon": "https://example.com/i.png"}, USER, ES256)


def test_a_legacy_pin_token_signs_one_registration_and_one_assertion(key):
    ctap = Ctap2(key)
    ClientPin(ctap).set_pin(PIN)
    proto = PinProtocolV1()
    pin = ClientPin(ctap, proto)
    # No permissions: python-fido2 asks getPinToken (0x05), as a CTAP 2.0 client does.
    token = pin.get_pin_token(PIN)
    cdh = secrets.token_bytes(32)
    att = ctap.make_credential(
        cdh, RP, USER, ES256, options={"rk": True},
        pin_uv_param=proto.authenticate(token, cdh), pin_uv_protocol=proto.VERSION,
    )
    assert att.auth_data.flags & 0x05 == 0x05
    # CTAP 2.2 §6.1.2 step 14.4: the use spent mc and ga.
    with pytest.raises(CtapError) as e:
        ctap.get_assertion("example.com", cdh, pin_uv_param=proto.authenticate(token, cdh),
                           pin_uv_protocol=proto.VERSION)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    token = pin.get_pin_token(PIN)
    a = ctap.get_assertion("example.com", cdh, pin_uv_param=proto.authenticate(token, cdh),
                           pin_uv_protocol=proto.VERSION)
    assert a.auth_data.flags & 0x05 == 0x05


def test_force_pin_change_refuses_tokens_until_the_pin_changes(key):
    ctap = Ctap2(key)
    ClientPin(ctap).set_pin(PIN)
    proto = PinProtocolV2()
    pin = ClientPin(ctap, proto)
    token = pin.get_pin_token(PIN, ClientPin.PERMISSION.AUTHENTICATOR_CFG)
    Config(ctap, proto, token).set_min_pin_length(force_change_pin=True)
    assert ctap.get_info().force_pin_change is True
    # CTAP 2.2 §6.5.5.7.1 step 11 and §6.5.5.7.2 step 11.
    with pytest.raises(CtapError) as e:
        pin.get_pin_token(PIN)
    assert e.value.code == CtapError.ERR.PIN_INVALID
    with pytest.raises(CtapError) as e:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.GET_ASSERTION, "example.com")
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    assert pin.get_pin_retries()[0] == 8, "a right PIN is not counted as wrong"
    with pytest.raises(CtapError) as e:
        pin.change_pin(PIN, PIN)
    assert e.value.code == CtapError.ERR.PIN_POLICY_VIOLATION
    pin.change_pin(PIN, "87654321")
    assert ctap.get_info().force_pin_change is False
    pin.get_pin_token("87654321", ClientPin.PERMISSION.GET_ASSERTION, "example.com")


@pytest.mark.parametrize("key", [("--no-mc-ga-permissions-with-client-pin", "--uv", "match")], indirect=True)
def test_no_mc_ga_permissions_with_client_pin_is_announced_and_enforced(key):
    ctap = Ctap2(key)
    assert ctap.get_info().options["noMcGaPermissionsWithClientPin"] is True
    ClientPin(ctap).set_pin(PIN)
    pin = ClientPin(ctap)
    with pytest.raises(CtapError) as e:
        pin.get_pin_token(PIN, ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
    assert e.value.code == CtapError.ERR.UNAUTHORIZED_PERMISSION
    pin.get_pin_token(PIN, ClientPin.PERMISSION.CREDENTIAL_MGMT)
    token = pin.get_uv_token(ClientPin.PERMISSION.MAKE_CREDENTIAL, "example.com")
    cdh = secrets.token_bytes(32)
    att = ctap.make_credential(
        cdh, RP, USER, ES256, options={"rk": True},
        pin_uv_param=pin.protocol.authenticate(token, cdh), pin_uv_protocol=pin.protocol.VERSION,
    )
    assert att.auth_data.flags & 0x05 == 0x05


@pytest.mark.parametrize("key", [("--ctap", "2.0")], indirect=True)
def test_a_ctap_2_0_key_serves_python_fido2s_client(key):
    info = Ctap2(key).get_info()
    assert info.versions == ["U2F_V2", "FIDO_2_0"]
    assert info.pin_uv_protocols == [1]
    assert "pinUvAuthToken" not in info.options
    ClientPin(Ctap2(key), PinProtocolV1()).set_pin(PIN)
    server = Fido2Server(PublicKeyCredentialRpEntity(**RP))
    user = PublicKeyCredentialUserEntity(id=b"user-2", name="carol", display_name="Carol")
    options, state = server.register_begin(user, user_verification="required")
    client = Fido2Client(key, DefaultClientDataCollector(ORIGIN), user_interaction=Pin())
    auth_data = server.register_complete(state, client.make_credential(options.public_key))
    assert auth_data.flags & 0x04, "UV from a getPinToken token"
    cred = auth_data.credential_data
    options, state = server.authenticate_begin([cred], user_verification="required")
    result = client.get_assertion(options.public_key).get_response(0)
    server.authenticate_complete(state, [cred], result)
