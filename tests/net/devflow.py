"""devflow.py: a stand-in for the edge's machine endpoints (doc/identity.md, "HTTP") for
tests/integration/login.sh, until the edge serves them itself: RFC 8628 device flow, /token/app
and /oauth/revoke over TLS 1.3 with ALPN http/1.1, the edge's own certificate.

    devflow.py DIR CERT KEY PORTFILE

DIR/decision: absent = pending, "approve" or "deny" (what the "browser" decided);
DIR/login.jwt: the login token handed out on approval; DIR/polls: one line per /oauth/token
poll (monotonic time and the answer); DIR/revoked: one line per revoked token (its length, not
the token); DIR/requests: "METHOD PATH" per request. Every answer is JSON, Cache-Control:
no-store, with a Content-Length.
"""
import os
import sys

# tests/net/http.py would shadow the standard library's http package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import json  # noqa: E402
import secrets  # noqa: E402
import ssl  # noqa: E402
import time  # noqa: E402
import urllib.parse  # noqa: E402
from http.server import BaseHTTPRequestHandler, HTTPServer

D, CERT, KEY, PORTFILE = sys.argv[1:5]
PORT = int(os.environ.get("DEVFLOW_PORT", "0"))
STATE = {"device": None, "polls": 0, "user_code": "BCDF-GHJK"}
APP_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJlY2hvLnRlc3QifQ.c2lnbmF0dXJl"


def note(name, line):
    with open(os.path.join(D, name), "a") as f:
        f.write(line + "\n")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, desc=None):
        o = {"error": code}
        if desc:
            o["error_description"] = desc
        self.answer(status, o)

    def do_POST(self):
        note("requests", "POST " + self.path)
        n = int(self.headers.get("Content-Length", "0"))
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self.error(400, "invalid_request", "not a form")
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(), strict_parsing=True)
        f = {k: v[0] for k, v in form.items() if len(v) == 1}
        if self.path == "/oauth/device/code":
            if f.get("client_id") != "zt":
                return self.error(400, "invalid_client")
            STATE["device"] = secrets.token_urlsafe(32)
            STATE["polls"] = 0
            base = "https://%s" % self.headers["Host"]
            return self.answer(200, {
                "device_code": STATE["device"], "user_code": STATE["user_code"],
                "verification_uri": base + "/device",
                "verification_uri_complete": base + "/device?user_code=" + STATE["user_code"],
                "expires_in": 600, "interval": 1})
        if self.path == "/oauth/token":
            if f.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code":
                return self.error(400, "unsupported_grant_type")
            if f.get("client_id") != "zt" or f.get("device_code") != STATE["device"]:
                return self.error(400, "invalid_grant")
            STATE["polls"] += 1
            dec = open(os.path.join(D, "decision")).read().strip() \
                if os.path.exists(os.path.join(D, "decision")) else ""
            # The second poll is told to slow down (the interval grows by 5 s).
            if STATE["polls"] == 2:
                what = "slow_down"
            elif dec == "approve":
                what = "ok"
            elif dec == "deny":
                what = "access_denied"
            elif dec == "expire":
                what = "expired_token"
            else:
                what = "authorization_pending"
            note("polls", "%.3f %s" % (time.monotonic(), what))
            if what != "ok":
                return self.error(400, what)
            STATE["device"] = None
            tok = open(os.path.join(D, "login.jwt")).read().strip()
            return self.answer(200, {"access_token": tok, "token_type": "Bearer",
                                     "expires_in": 3600})
        if self.path == "/token/app":
            auth = self.headers.get("Authorization", "")
            tok = open(os.path.join(D, "login.jwt")).read().strip()
            if auth != "Bearer " + tok:
                return self.error(401, "invalid_token", "the login is not valid")
            app = f.get("app")
            if app == "echo.test":
                return self.answer(200, {"token": APP_TOKEN, "expires_in": 300})
            if app == "denied.test":
                return self.error(403, "access_denied", "no rule allows alice@example.com")
            return self.error(404, "unknown_app")
        if self.path == "/oauth/revoke":
            note("revoked", str(len(f.get("token", ""))))
            return self.answer(200, {})
        return self.error(404, "not_found")


srv = HTTPServer(("127.0.0.1", PORT), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE + ".new", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".new", PORTFILE)
srv.serve_forever()
