"""Drives the Latchkey authenticator with python-fido2's CTAP2 client classes.

The Rust test runs this script with pipes: each message goes to stdout as a 4-byte big-endian
length, a kind byte (0x10 CTAPHID_CBOR: command byte + CBOR; 0x03 CTAPHID_MSG: a U2F APDU) and
the bytes; the response comes back as a length and the bytes on stdin. Assertions failing here exit non-zero with the traceback on stderr.
"""

import hashlib
import struct
import sys

from fido2.attestation import AttestationType, PackedAttestation
from fido2.cose import CoseKey
from fido2.ctap import CtapDevice, CtapError
from fido2.ctap1 import ApduError, Ctap1
from fido2.ctap2 import Config, Ctap2, ClientPin, CredentialManagement, LargeBlobs
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.hid import CAPABILITY, CTAPHID


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


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except CtapError as e:
        assert e.code == code, (e.code, code)
        return
    raise AssertionError(f"expected {code!r}")


ctap = Ctap2(Pipe())
info = ctap.info
assert info.versions == ["U2F_V2", "FIDO_2_0", "FIDO_2_1", "FIDO_2_2"], info.versions
assert info.pin_uv_protocols == [2, 1], info.pin_uv_protocols
assert info.options["clientPin"] is False
assert info.max_msg_size == 7609
assert "hmac-secret" in info.extensions and "credProtect" in info.extensions

cdh = hashlib.sha256(b"client data").digest()
rp = {"id": "fido2.example", "name": "Example"}
user = {"id": b"user-1", "name": "alice", "displayName": "Alice"}
es256 = [{"type": "public-key", "alg": -7}]

# No PIN yet: a non-discoverable credential, packed self attestation verified by fido2.
att = ctap.make_credential(cdh, rp, user, es256)
assert att.fmt == "packed", att.fmt
result = PackedAttestation().verify(att.att_stmt, att.auth_data, cdh)
assert result.attestation_type == AttestationType.SELF
cred = att.auth_data.credential_data
assert att.auth_data.flags == 0x41, att.auth_data.flags

a = ctap.get_assertion("fido2.example", cdh, [{"type": "public-key", "id": cred.credential_id}])
CoseKey.parse(cred.public_key).verify(a.auth_data + cdh, a.signature)
assert a.auth_data.counter == 1

# U2F through python-fido2's Ctap1: it checks our self-signed attestation certificate's
# signature over the registration, and the assertion signatures.
u2f = Ctap1(Pipe())
assert u2f.get_version() == "U2F_V2"
app = hashlib.sha256(b"https://u2f.example").digest()
chal = hashlib.sha256(b"challenge").digest()
reg = u2f.register(chal, app)
reg.verify(app, chal)
for n in (1, 2):
    sig = u2f.authenticate(chal, app, reg.key_handle)
    sig.verify(app, chal, reg.public_key)
    assert sig.counter == n and sig.user_presence & 1
try:
    u2f.authenticate(chal, app, reg.key_handle, check_only=True)
    raise AssertionError("check-only signed")
except ApduError as e:
    assert e.code == 0x6985, hex(e.code)
try:
    u2f.authenticate(chal, hashlib.sha256(b"other").digest(), reg.key_handle)
    raise AssertionError("wrong app signed")
except ApduError as e:
    assert e.code == 0x6A80, hex(e.code)

# Set a PIN with protocol 1, get tokens with both protocols.
ClientPin(ctap, PinProtocolV1()).set_pin("1234")
assert Ctap2(Pipe()).info.options["clientPin"] is True
for protocol in (PinProtocolV2(), PinProtocolV1()):
    pin = ClientPin(ctap, protocol)
    token = pin.get_pin_token(
        "1234", ClientPin.PERMISSION.MAKE_CREDENTIAL, permissions_rpid="fido2.example"
    )
    param = protocol.authenticate(token, cdh)
    att = ctap.make_credential(
        cdh, rp, {"id": b"user-2", "name": "bob", "displayName": "Bob"}, es256,
        options={"rk": True}, extensions={"credProtect": 2, "hmac-secret": True},
        pin_uv_param=param, pin_uv_protocol=protocol.VERSION,
    )
    assert att.auth_data.flags & 0x05 == 0x05, att.auth_data.flags
    assert att.auth_data.extensions == {"credProtect": 2, "hmac-secret": True}, att.auth_data.extensions

pin = ClientPin(ctap, PinProtocolV2())
expect_error(CtapError.ERR.PIN_INVALID, pin.get_pin_token, "9999", ClientPin.PERMISSION.GET_ASSERTION, "x")
assert pin.get_pin_retries()[0] == 7
pin.change_pin("1234", "43210")
assert pin.get_pin_retries()[0] == 8

# Discoverable credentials with UV: the last one (same user ID) replaced the first.
token = pin.get_pin_token("43210", ClientPin.PERMISSION.GET_ASSERTION, "fido2.example")
a = ctap.get_assertion(
    "fido2.example", cdh, pin_uv_param=pin.protocol.authenticate(token, cdh), pin_uv_protocol=2
)
assert a.number_of_credentials is None, a.number_of_credentials
assert a.user == {"id": b"user-2", "name": "bob", "displayName": "Bob"}, a.user
# Without UV, the credProtect=2 credential is not discoverable.
expect_error(CtapError.ERR.NO_CREDENTIALS, ctap.get_assertion, "fido2.example", cdh)

# Credential management.
token = pin.get_pin_token("43210", ClientPin.PERMISSION.CREDENTIAL_MGMT)
cm = CredentialManagement(ctap, pin.protocol, token)
meta = cm.get_metadata()
assert meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 1, meta
rps = cm.enumerate_rps()
assert [r[CredentialManagement.RESULT.RP]["id"] for r in rps] == ["fido2.example"]
creds = cm.enumerate_creds(hashlib.sha256(b"fido2.example").digest())
assert len(creds) == 1
assert creds[0][CredentialManagement.RESULT.CRED_PROTECT] == 2
cm.update_user_info(
    creds[0][CredentialManagement.RESULT.CREDENTIAL_ID],
    {"id": b"user-2", "name": "robert", "displayName": "Robert"},
)
creds = cm.enumerate_creds(hashlib.sha256(b"fido2.example").digest())
assert creds[0][CredentialManagement.RESULT.USER]["name"] == "robert", creds[0]
cm.delete_cred(creds[0][CredentialManagement.RESULT.CREDENTIAL_ID])
assert cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == 0

# Large blobs: an lbw token writes, anyone reads.
token = pin.get_pin_token("43210", ClientPin.PERMISSION.LARGE_BLOB_WRITE)
blobs = LargeBlobs(ctap, pin.protocol, token)
key = bytes(range(32))
blobs.put_blob(key, b"hello large blob" * 100)
assert LargeBlobs(ctap).get_blob(key) == b"hello large blob" * 100

# Config: minimum PIN length and alwaysUv.
token = pin.get_pin_token("43210", ClientPin.PERMISSION.AUTHENTICATOR_CFG)
Config(ctap, pin.protocol, token).set_min_pin_length(min_pin_length=5)
assert ctap.get_info().min_pin_length == 5
token = pin.get_pin_token("43210", ClientPin.PERMISSION.AUTHENTICATOR_CFG)
Config(ctap, pin.protocol, token).toggle_always_uv()
info = ctap.get_info()
assert info.options["alwaysUv"] is True and info.options["makeCredUvNotRqd"] is False
expect_error(CtapError.ERR.PUAT_REQUIRED, ctap.make_credential, cdh, rp, user, es256)

print("python-fido2 drove every command", file=sys.stderr)
sys.stdout.buffer.write(struct.pack(">I", 0))
sys.stdout.buffer.flush()
