#!/usr/bin/python3
"""A local events receiver stand-in for tests (SMSROUTER_EVENTS_URL): checks
X-SMSRouter-Signature with the shared secret, records every attempt, and keeps the events
it accepted. Loopback only.

    events_receiver.py --secret S [--port N] [--fail N]

Prints {"port": N} on stdout once listening. --fail N: the first N signed attempts are
answered 500 (POST /_fail {"count": N} sets it again at run time). An attempt whose
signature does not match is answered 401. GET /_events: the accepted events, in the order
they came, as a JSON array; GET /_attempts: every POST as {"at", "body" (the raw text),
"signed" (the signature matched), "status" (the answer)}.
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from loopback import serve


class State:
    def __init__(self, secret, fail):
        self.secret = secret.encode()
        self.fail = fail
        self.lock = threading.Lock()
        self.events = []
        self.attempts = []


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send(self, code, body=b""):
            self.send_response(code)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            with state.lock:
                if self.path == "/_events":
                    body = json.dumps(state.events).encode()
                elif self.path == "/_attempts":
                    body = json.dumps(state.attempts).encode()
                else:
                    body = None
            self.send(200, body) if body is not None else self.send(404)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            if self.path == "/_fail":
                with state.lock:
                    state.fail = json.loads(raw)["count"]
                self.send(204)
                return
            want = "sha256=" + hmac.new(state.secret, raw, hashlib.sha256).hexdigest()
            signed = hmac.compare_digest(want, self.headers.get("X-SMSRouter-Signature", ""))
            with state.lock:
                if not signed:
                    status = 401
                elif state.fail > 0:
                    state.fail -= 1
                    status = 500
                else:
                    status = 200
                    state.events.append(json.loads(raw))
                state.attempts.append({"at": time.time(), "body": raw.decode(),
                                       "signed": signed, "status": status,
                                       "content_type": self.headers.get("Content-Type")})
            self.send(status, b'{"ok":true}' if status == 200 else b'{"error":"no"}')

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--fail", type=int, default=0)
    a = ap.parse_args()
    serve(make_handler(State(a.secret, a.fail)), a.port)


if __name__ == "__main__":
    main()
