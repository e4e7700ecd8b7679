"""python-fido2's Fido2Server as a relying party, one step per invocation, for tests that run
the client in another process (crates/cli/tests/daemon.rs). State lives in files in DIR.

  fido2_rp_steps.py register-begin DIR        -> DIR/options.json, DIR/state.json
  fido2_rp_steps.py register-complete DIR     <- DIR/response.json -> DIR/credential.hex
  fido2_rp_steps.py authenticate-begin DIR    -> DIR/options.json, DIR/state.json
  fido2_rp_steps.py authenticate-complete DIR <- DIR/response.json
"""

import json
import sys
from pathlib import Path

from fido2.server import Fido2Server
from fido2.webauthn import (
    AttestedCredentialData,
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
)

SERVER = Fido2Server(PublicKeyCredentialRpEntity(id="example.com", name="Example"))


def main(step: str, out: Path) -> None:
    if step == "register-begin":
        user = PublicKeyCredentialUserEntity(id=b"bob-0001", name="bob", display_name="Bob")
        options, state = SERVER.register_begin(
            user, resident_key_requirement="required", user_verification="required"
        )
    elif step == "authenticate-begin":
        options, state = SERVER.authenticate_begin(None, user_verification="required")
    elif step == "register-complete":
        state = json.loads((out / "state.json").read_text())
        response = json.loads((out / "response.json").read_text())
        auth_data = SERVER.register_complete(state, response)
        (out / "credential.hex").write_text(bytes(auth_data.credential_data).hex())
        print("registered")
        return
    elif step == "authenticate-complete":
        state = json.loads((out / "state.json").read_text())
        response = json.loads((out / "response.json").read_text())
        cred = AttestedCredentialData(bytes.fromhex((out / "credential.hex").read_text()))
        SERVER.authenticate_complete(state, [cred], response)
        print("authenticated")
        return
    else:
        raise SystemExit(f"unknown step {step}")
    (out / "options.json").write_text(json.dumps(dict(options)["publicKey"]))
    (out / "state.json").write_text(json.dumps(state))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
