"""CTAP 2.2 on `latchkey virtual-key`, driven by python-fido2 over UDP through its own CTAPHID
stack, and checked by python-fido2's server: the persistent pinUvAuthToken with read-only
credential management (pcmr) and the getInfo members sealed under it, ES384 and ML-DSA
credentials (with `--post-quantum`), thirdPartyPayment, and attestationFormatsPreference.
"""

import hashlib
import secrets

import pytest
from fido2.cose import CoseKey
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.base import AttestationResponse, args
from fido2.ctap2.credman import CredentialManagement
from fido2.ctap2.pin import ClientPin
from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestationConveyancePreference,
    AuthenticatorData,
    PublicKeyCredentialParameters,
    PublicKeyCredentialType,
    PublicKeyCredentialUserEntity,
)

from test_ctap_conformance import (  # noqa: F401 (vk is a fixture)
    PIN,
    RP,
    VirtualKey,
    client,
    register,
    set_pin,
    vk,
)

PCMR = ClientPin.PERMISSION.PERSISTENT_CREDENTIAL_MGMT


@pytest.fixture
def pq(tmp_path):
    key = VirtualKey(tmp_path, "--post-quantum")
    yield key
    key.stop()


def persistent_token(device, pin=PIN):
    ctap = Ctap2(device)
    pin_client = ClientPin(ctap)
    return ctap, pin_client.protocol, pin_client.get_pin_token(pin, PCMR)


def test_get_info_announces_ctap22(tmp_path):
    key = VirtualKey(tmp_path)
    try:
        info = Ctap2(key.device).get_info()
        assert "FIDO_2_2" in info.versions
        assert "thirdPartyPayment" in info.extensions
        assert "hmac-secret-mc" in info.extensions
        assert CredentialManagement.is_readonly_supported(info)
        assert info.attestation_formats == ["packed", "none"], "packed self attestation first"
        assert info.max_pin_length == 63
        assert info.pin_complexity_policy is False
        assert [a["alg"] for a in info.algorithms] == [-7, -8, -35]
        assert info.enc_identifier is None, "no persistent token yet"
    finally:
        key.stop()


def test_persistent_token_lists_credentials_but_never_changes_them(vk):
    set_pin(vk.device)
    register(vk.device, user_id=b"u1", name="alice", rk="required", uv="required")
    register(vk.device, user_id=b"u2", name="bob", rk="required", uv="required")
    ctap, protocol, token = persistent_token(vk.device)
    # pcmr goes alone.
    with pytest.raises(CtapError) as e:
        ClientPin(ctap).get_pin_token(PIN, PCMR | ClientPin.PERMISSION.CREDENTIAL_MGMT)
    assert e.value.code == CtapError.ERR.UNAUTHORIZED_PERMISSION

    cm = CredentialManagement(ctap, protocol, token)
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2
    rps = cm.enumerate_rps()
    assert [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps] == ["example.com"]
    creds = cm.enumerate_creds(hashlib.sha256(b"example.com").digest())
    assert {c[CredentialManagement.RESULT.USER]["id"] for c in creds} == {b"u1", b"u2"}
    for c in creds:
        assert c[CredentialManagement.RESULT.THIRD_PARTY_PAYMENT] is False
    bob = next(
        c[CredentialManagement.RESULT.CREDENTIAL_ID]
        for c in creds
        if c[CredentialManagement.RESULT.USER]["id"] == b"u2"
    )
    with pytest.raises(CtapError) as e:
        cm.delete_cred(bob)
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    with pytest.raises(CtapError) as e:
        cm.update_user_info(bob, PublicKeyCredentialUserEntity(id=b"u2", name="robert"))
    assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
    assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 2


def test_persistent_token_survives_power_cycles_and_restarts_until_the_pin_changes(tmp_path):
    key = VirtualKey(tmp_path)
    set_pin(key.device)
    register(key.device, user_id=b"u1", rk="required", uv="required")
    _, _, token = persistent_token(key.device)
    info = Ctap2(key.device).get_info()
    identifier = info.get_identifier(token)
    state = info.get_cred_store_state(token)
    assert len(identifier) == 16 and len(state) == 16
    again = Ctap2(key.device).get_info()
    assert again.enc_identifier != info.enc_identifier, "a fresh IV every time"
    assert again.get_identifier(token) == identifier
    assert again.get_cred_store_state(token) == state

    register(key.device, user_id=b"u2", rk="required", uv="required")
    changed = Ctap2(key.device).get_info().get_cred_store_state(token)
    assert changed != state, "a new discoverable credential changes encCredStoreState"

    def metadata(device):
        ctap = Ctap2(device)
        cm = CredentialManagement(ctap, ClientPin(ctap).protocol, token)
        return cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT]

    key.power_cycle()
    assert metadata(key.device) == 2
    key.stop()
    key = VirtualKey(tmp_path)  # the same --state directory: a new process
    try:
        assert metadata(key.device) == 2
        assert Ctap2(key.device).get_info().get_identifier(token) == identifier
        ClientPin(Ctap2(key.device)).change_pin(PIN, "87654321")
        with pytest.raises(CtapError) as e:
            metadata(key.device)
        assert e.value.code == CtapError.ERR.PIN_AUTH_INVALID
        _, _, renewed = persistent_token(key.device, "87654321")
        assert renewed != token
        assert Ctap2(key.device).get_info().get_identifier(renewed) == identifier
    finally:
        key.stop()


@pytest.mark.parametrize("alg", [-35, -48, -49])
def test_es384_and_ml_dsa_credentials_verified_by_python_fido2_server(pq, alg):
    assert alg in CoseKey.supported_algorithms(), "python-fido2 verifies this algorithm"
    info = Ctap2(pq.device).get_info()
    assert [a["alg"] for a in info.algorithms] == [-7, -8, -35, -49, -48]
    srv = Fido2Server(RP, attestation=AttestationConveyancePreference.DIRECT)
    srv.allowed_algorithms = [
        PublicKeyCredentialParameters(type=PublicKeyCredentialType.PUBLIC_KEY, alg=alg)
    ]
    user = PublicKeyCredentialUserEntity(id=secrets.token_bytes(16), name="pq", display_name="PQ")
    options, state = srv.register_begin(user, user_verification="discouraged")
    result = client(pq.device).make_credential(options.public_key)
    auth_data = srv.register_complete(state, result)
    cred = auth_data.credential_data
    assert cred.public_key[3] == alg
    att = result.response.attestation_object
    assert att.fmt == "packed" and att.att_stmt["alg"] == alg
    # The server checked the packed self attestation with the credential key; check it again.
    cred.public_key.verify(
        bytes(att.auth_data) + hashlib.sha256(result.response.client_data).digest(),
        att.att_stmt["sig"],
    )
    for _ in range(2):
        request, state = srv.authenticate_begin([cred], user_verification="discouraged")
        response = client(pq.device).get_assertion(request.public_key).get_response(0)
        srv.authenticate_complete(state, [cred], response)


def test_ml_dsa_needs_the_opt_in(vk):
    with pytest.raises(CtapError) as e:
        Ctap2(vk.device).make_credential(
            b"\x01" * 32,
            {"id": "example.com"},
            {"id": b"u", "name": "u"},
            [{"type": "public-key", "alg": -49}],
        )
    assert e.value.code == CtapError.ERR.UNSUPPORTED_ALGORITHM


def test_third_party_payment(vk):
    ctap = Ctap2(vk.device)
    made = ctap.make_credential(
        b"\x01" * 32,
        {"id": "pay.example"},
        {"id": b"payer", "name": "payer"},
        [{"type": "public-key", "alg": -7}],
        extensions={"thirdPartyPayment": True},
        options={"rk": True},
    )
    assert made.auth_data.extensions == {"thirdPartyPayment": True}
    asserted = ctap.get_assertion(
        "pay.example", b"\x02" * 32, extensions={"thirdPartyPayment": True}
    )
    assert asserted.auth_data.extensions == {"thirdPartyPayment": True}
    ctap.make_credential(
        b"\x01" * 32,
        {"id": "shop.example"},
        {"id": b"shopper", "name": "shopper"},
        [{"type": "public-key", "alg": -7}],
        options={"rk": True},
    )
    asserted = ctap.get_assertion(
        "shop.example", b"\x02" * 32, extensions={"thirdPartyPayment": True}
    )
    assert asserted.auth_data.extensions == {"thirdPartyPayment": False}
    set_pin(vk.device)
    _, protocol, token = persistent_token(vk.device)
    cm = CredentialManagement(ctap, protocol, token)
    listed = cm.enumerate_creds(hashlib.sha256(b"pay.example").digest())
    assert listed[0][CredentialManagement.RESULT.THIRD_PARTY_PAYMENT] is True


@pytest.mark.parametrize(
    "preference, fmt",
    [(None, "packed"), (["none"], "none"), (["tpm", "none"], "none"), (["apple", "packed"], "packed")],
)
def test_attestation_formats_preference(vk, preference, fmt):
    ctap = Ctap2(vk.device)
    cdh = b"\x03" * 32
    request = args(
        cdh,
        {"id": "example.com"},
        {"id": b"u", "name": "u"},
        [{"type": "public-key", "alg": -35}],
        None, None, None, None, None, None,
        preference,
    )
    att = AttestationResponse.from_dict(ctap.send_cbor(Ctap2.CMD.MAKE_CREDENTIAL, request))
    assert att.fmt == fmt
    if fmt == "packed":
        key = att.auth_data.credential_data.public_key
        assert att.att_stmt["alg"] == -35
        key.verify(bytes(att.auth_data) + cdh, att.att_stmt["sig"])
        assert "x5c" not in att.att_stmt
    else:
        assert att.att_stmt == {}
    assert isinstance(att.auth_data, AuthenticatorData)
