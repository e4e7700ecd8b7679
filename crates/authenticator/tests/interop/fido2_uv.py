"""Drives the Latchkey authenticator's built-in user verification (an emulated fingerprint
reader) with python-fido2: its ClientPin (getUVRetries, getPinUvAuthTokenUsingUvWithPermissions)
and its Fido2Client, which chooses built-in UV over the PIN on its own.

Same pipe protocol as fido2_client.py. The Rust side scripts the fingers: no match, then matches.
"""

import hashlib
import struct
import sys

from fido2.client import DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapDevice, CtapError
from fido2.ctap2 import ClientPin, Ctap2
from fido2.hid import CAPABILITY, CTAPHID
from fido2.server import Fido2Server
from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity


class Pipe(CtapDevice):
    @property
    def capabilities(self):
        return CAPABILITY.CBOR

    def call(self, cmd, data=b"", event=None, on_keepalive=None):
        assert cmd in (CTAPHID.CBOR, CTAPHID.MSG), cmd
        sys.stdout.buffer.write(struct.pack(">IB", len(data) + 1, cmd) + data)
        sys.stdout.buffer.flush()
        (n,) = struct.unpack(">I", sys.stdin.buffer.read(4))
        return sys.stdin.buffer.read(n)

    @classmethod
    def list_devices(cls):
        return iter(())


device = Pipe()
ctap = Ctap2(device)
info = ctap.info
assert info.options["uv"] is True, info.options
assert info.options["pinUvAuthToken"] is True
assert "bioEnroll" not in info.options and "uvBioEnroll" not in info.options
assert info.preferred_platform_uv_attempts == 3, info.preferred_platform_uv_attempts
assert info.uv_modality == 2, info.uv_modality

pin = ClientPin(ctap)
assert pin.get_uv_retries() == 4
try:
    pin.get_uv_token(ClientPin.PERMISSION.GET_ASSERTION, "fido2.example")
    raise AssertionError("the first finger should not match")
except CtapError as e:
    assert e.code == CtapError.ERR.UV_INVALID, e.code
assert pin.get_uv_retries() == 3

# A token from the finger signs a makeCredential that needs UV (a discoverable credential).
perms = ClientPin.PERMISSION.MAKE_CREDENTIAL
token = pin.get_uv_token(perms, "fido2.example")
assert pin.get_uv_retries() == 4, "a match restores uvRetries"
cdh = hashlib.sha256(b"client data").digest()
made = ctap.make_credential(
    cdh,
    {"id": "fido2.example", "name": "Example"},
    {"id": b"user-1", "name": "alice", "displayName": "Alice"},
    [{"type": "public-key", "alg": -7}],
    options={"rk": True},
    pin_uv_param=pin.protocol.authenticate(token, cdh),
    pin_uv_protocol=pin.protocol.VERSION,
)
assert made.auth_data.is_user_present() and made.auth_data.is_user_verified()


class NoPin(UserInteraction):
    def request_pin(self, permissions, rp_id):
        raise AssertionError("the client asked for a PIN although the key has a finger enrolled")

    def request_uv(self, permissions, rp_id):
        return True


# python-fido2's own client logic picks built-in UV and gets a token with it.
client = Fido2Client(
    device,
    client_data_collector=DefaultClientDataCollector("https://fido2.example"),
    user_interaction=NoPin(),
)
server = Fido2Server(PublicKeyCredentialRpEntity(id="fido2.example", name="Example"))
options, state = server.register_begin(
    PublicKeyCredentialUserEntity(id=b"user-2", name="bob", display_name="Bob"),
    user_verification="required",
)
result = client.make_credential(options.public_key)
auth_data = server.register_complete(state, result)
assert auth_data.is_user_verified()

print("python-fido2 verified the user by fingerprint", file=sys.stderr)
