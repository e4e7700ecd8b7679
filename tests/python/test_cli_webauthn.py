"""python-fido2's Fido2Server is the relying party for the `latchkey create` / `latchkey get`
commands: it makes the options, the `latchkey` binary runs the ceremony (on the platform
authenticator in a throwaway store, or on a `latchkey virtual-key` over a Unix socket) with PINs
given through --pin-fd, and Fido2Server verifies the responses.
"""

import json
import os
import secrets
import subprocess
import time

import pytest
from fido2.server import Fido2Server
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import PublicKeyCredentialRpEntity, PublicKeyCredentialUserEntity

LATCHKEY = os.environ.get(
    "LATCHKEY_BIN",
    os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "latchkey"),
)
ORIGIN = "https://example.com"
RP = PublicKeyCredentialRpEntity(id="example.com", name="Example")
PIN = "13572468"


class Authenticator:
    """Where `latchkey` runs its ceremonies: the platform store or a virtual key."""

    def __init__(self, kind, tmp_path):
        self.kind = kind
        self.proc = None
        if kind == "platform":
            self.args = ["--store", str(tmp_path / "store")]
        else:
            sock = tmp_path / "key.sock"
            self.proc = subprocess.Popen(
                [LATCHKEY, "virtual-key", "--unix", str(sock)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            line = self.proc.stdout.readline().decode()
            assert "serving on" in line, line + self.proc.stderr.read().decode(errors="replace")
            self.args = ["--device", f"unix:{sock}"]

    def run(self, command, options, pins=(PIN,), extra=()):
        r, w = os.pipe()
        os.write(w, "".join(p + "\n" for p in pins).encode())
        os.close(w)
        try:
            return subprocess.run(
                [LATCHKEY, command, "--origin", ORIGIN, *self.args, "--pin-fd", str(r), *extra],
                input=json.dumps(options).encode(),
                capture_output=True,
                pass_fds=(r,),
                timeout=60,
            )
        finally:
            os.close(r)

    def ok(self, command, options, pins=(PIN,)):
        proc = self.run(command, options, pins)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
        return json.loads(proc.stdout)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(params=["platform", "virtual-key"])
def auth(request, tmp_path):
    a = Authenticator(request.param, tmp_path)
    yield a
    a.stop()


def user():
    return PublicKeyCredentialUserEntity(
        id=secrets.token_bytes(16), name="alice@example.com", display_name="Alice"
    )


def register(auth, server, resident_key, uv, extensions=None, credentials=None):
    u = user()
    options, state = server.register_begin(
        u,
        credentials=credentials,
        resident_key_requirement=resident_key,
        user_verification=uv,
        extensions=extensions,
    )
    response = auth.ok("create", dict(options)["publicKey"])
    auth_data = server.register_complete(state, response)
    return u, auth_data, response


def authenticate(auth, server, credentials, allow, uv, extensions=None):
    options, state = server.authenticate_begin(
        credentials if allow else None, user_verification=uv, extensions=extensions
    )
    response = auth.ok("get", dict(options)["publicKey"])
    server.authenticate_complete(state, credentials, response)
    return response


def auth_data_flags(response):
    return websafe_decode(response["response"]["authenticatorData"])[32]


def test_discoverable_with_uv_and_cred_props(auth):
    server = Fido2Server(RP)
    u, auth_data, response = register(auth, server, "required", "required", {"credProps": True})
    assert auth_data.is_user_verified()
    assert response["clientExtensionResults"]["credProps"] == {"rk": True}
    creds = [auth_data.credential_data]
    got = authenticate(auth, server, creds, allow=False, uv="required")
    assert websafe_decode(got["response"]["userHandle"]) == u.id
    assert auth_data_flags(got) & 0x05 == 0x05


def test_non_discoverable_with_allow_credentials(auth):
    server = Fido2Server(RP)
    _, auth_data, response = register(auth, server, "discouraged", "required", {"credProps": True})
    assert response["clientExtensionResults"]["credProps"] == {"rk": False}
    creds = [auth_data.credential_data]
    got = authenticate(auth, server, creds, allow=True, uv="required")
    assert websafe_decode(got["rawId"]) == auth_data.credential_data.credential_id


def test_without_user_verification_on_a_key_without_pin(tmp_path):
    auth = Authenticator("virtual-key", tmp_path)
    try:
        server = Fido2Server(RP)
        _, auth_data, _ = register(auth, server, "discouraged", "discouraged")
        assert not auth_data.is_user_verified()
        creds = [auth_data.credential_data]
        got = authenticate(auth, server, creds, allow=True, uv="discouraged")
        assert auth_data_flags(got) & 0x05 == 0x01
    finally:
        auth.stop()


def test_prf_outputs_are_stable_per_salt(auth):
    server = Fido2Server(RP)
    _, auth_data, response = register(auth, server, "required", "required", {"prf": {}})
    assert response["clientExtensionResults"]["prf"]["enabled"] is True
    creds = [auth_data.credential_data]

    def prf(salt):
        ext = {"prf": {"eval": {"first": websafe_encode(salt)}}}
        got = authenticate(auth, server, creds, allow=True, uv="required", extensions=ext)
        return websafe_decode(got["clientExtensionResults"]["prf"]["results"]["first"])

    a1, a2, b = prf(b"salt a"), prf(b"salt a"), prf(b"salt b")
    assert len(a1) == 32
    assert a1 == a2
    assert a1 != b


def test_excluded_credential_is_refused_as_json_error(auth):
    server = Fido2Server(RP)
    u, auth_data, _ = register(auth, server, "required", "required")
    options, _ = server.register_begin(
        u, credentials=[auth_data.credential_data], resident_key_requirement="required",
        user_verification="required",
    )
    proc = auth.run("create", dict(options)["publicKey"], extra=["--json"])
    assert proc.returncode != 0
    err = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert err["name"] == "InvalidStateError", err


def test_wrong_origin_is_a_security_error(auth):
    server = Fido2Server(RP)
    options, _ = server.register_begin(user(), user_verification="required")
    proc = subprocess.run(
        [LATCHKEY, "create", "--origin", "https://evil.example.net", *auth.args, "--json"],
        input=json.dumps(dict(options)["publicKey"]).encode(),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert json.loads(proc.stderr)["name"] == "SecurityError"


def test_large_blob_written_then_read(auth):
    server = Fido2Server(RP)
    _, auth_data, response = register(
        auth, server, "required", "required", {"largeBlob": {"support": "required"}}
    )
    assert response["clientExtensionResults"]["largeBlob"] == {"supported": True}
    creds = [auth_data.credential_data]
    blob = secrets.token_bytes(300)
    got = authenticate(
        auth, server, creds, allow=True, uv="required",
        extensions={"largeBlob": {"write": websafe_encode(blob)}},
    )
    assert got["clientExtensionResults"]["largeBlob"] == {"written": True}
    got = authenticate(
        auth, server, creds, allow=True, uv="required", extensions={"largeBlob": {"read": True}}
    )
    assert websafe_decode(got["clientExtensionResults"]["largeBlob"]["blob"]) == blob


def test_wrong_pin_then_right_pin_from_the_pin_fd(tmp_path):
    auth = Authenticator("platform", tmp_path)
    server = Fido2Server(RP)
    _, auth_data, _ = register(auth, server, "required", "required")
    options, state = server.authenticate_begin(None, user_verification="required")
    proc = auth.run("get", dict(options)["publicKey"], pins=("00000000", PIN))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    server.authenticate_complete(state, [auth_data.credential_data], json.loads(proc.stdout))
    # Only wrong PINs: refused, and the message says so.
    options, _ = server.authenticate_begin(None, user_verification="required")
    proc = auth.run("get", dict(options)["publicKey"], pins=("00000000",), extra=["--json"])
    assert proc.returncode != 0
    err = json.loads(proc.stderr.decode().strip().splitlines()[-1])
    assert err["name"] == "NotAllowedError", err
