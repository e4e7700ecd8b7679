"""A relying party for the browser tests: python-fido2's Fido2Server behind a small HTTP server.

Serves the sign-in page (rp_page.html) and JSON endpoints the page's own JavaScript calls:
POST /register/begin, /register/complete, /login/begin, /login/complete. Verification is
python-fido2's, not ours. Usage: rp_server.py PORT (0 picks one; prints "port=N" when ready).
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fido2.server import Fido2Server
from fido2.webauthn import (
    PublicKeyCredentialRpEntity,
    PublicKeyCredentialUserEntity,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

HERE = os.path.dirname(os.path.abspath(__file__))
server = Fido2Server(PublicKeyCredentialRpEntity(name="Latchkey test RP", id="localhost"))
state = {"credentials": [], "signed_in": None}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path in ("/", "/index.html"):
            with open(os.path.join(HERE, "rp_page.html"), "rb") as f:
                self.reply(200, f.read(), "text/html; charset=utf-8")
        elif self.path == "/status":
            self.reply(200, {"credentials": len(state["credentials"]), "signed_in": state["signed_in"]})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        try:
            if self.path == "/register/begin":
                user = PublicKeyCredentialUserEntity(id=b"user-alice", name="alice", display_name="Alice")
                options, st = server.register_begin(
                    user,
                    state["credentials"],
                    resident_key_requirement=ResidentKeyRequirement.REQUIRED,
                    user_verification=UserVerificationRequirement.PREFERRED,
                )
                state["reg"] = st
                self.reply(200, dict(options)["publicKey"])
            elif self.path == "/register/complete":
                auth_data = server.register_complete(state.pop("reg"), body)
                state["credentials"].append(auth_data.credential_data)
                self.reply(200, {"ok": True, "uv": auth_data.is_user_verified()})
            elif self.path == "/login/begin":
                options, st = server.authenticate_begin(
                    state["credentials"], user_verification=UserVerificationRequirement.PREFERRED
                )
                state["auth"] = st
                self.reply(200, dict(options)["publicKey"])
            elif self.path == "/login/complete":
                server.authenticate_complete(state.pop("auth"), state["credentials"], body)
                state["signed_in"] = "alice"
                self.reply(200, {"ok": True, "user": "alice"})
            else:
                self.reply(404, {"error": "not found"})
        except Exception as e:  # the page shows what the RP refused
            self.reply(400, {"ok": False, "error": f"{type(e).__name__}: {e}"})


def main():
    httpd = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    print(f"port={httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
