#!/usr/bin/python3
"""A local Agent Core stand-in for tests: checks X-SMSRouter-Signature, records every
request it accepted, and answers by knobs. Loopback only.

    agent_core.py --port 0 --secret S [--latency-ms N] [--mode MODE] [--record FILE]

Prints {"port": N} on stdout once listening. MODE: echo (reply "echo: <body>"), null
({"reply": null}), empty (204), blank (a reply of blanks only),
error (500), badjson (200 "not json"), handoff ("handing over: <body>" with
"handoff": true), hang (never answers within the deadline), flaky (500 for a user's first attempt at each message,
then echo), json:<TEXT> (200 with TEXT, as given, as the body). The mode can be changed at run time: POST /_mode with the new mode as body.
GET /_requests returns the recorded requests as a JSON array; POST /_reset clears them.
"""
import argparse
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

from loopback import serve


class State:
    def __init__(self, secret, latency_ms, mode, record):
        self.secret = secret.encode()
        self.latency_ms = latency_ms
        self.mode = mode
        self.record = record
        self.lock = threading.Lock()
        self.requests = []
        self.attempts = {}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send(self, code, body=b"", ctype="application/json"):
            self.send_response(code)
            if body:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_requests":
                with state.lock:
                    body = json.dumps(state.requests).encode()
                self.send(200, body)
            else:
                self.send(404)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            if self.path == "/_mode":
                with state.lock:
                    state.mode = raw.decode().strip()
                self.send(204)
                return
            if self.path == "/_reset":
                with state.lock:
                    state.requests.clear()
                    state.attempts.clear()
                self.send(204)
                return
            want = "sha256=" + hmac.new(state.secret, raw, hashlib.sha256).hexdigest()
            got = self.headers.get("X-SMSRouter-Signature", "")
            if not hmac.compare_digest(want, got):
                self.send(401, b'{"error":"bad signature"}')
                return
            try:
                req = json.loads(raw)
            except ValueError:
                self.send(400, b'{"error":"bad json"}')
                return
            with state.lock:
                mode = state.mode
                state.requests.append({"at": time.time(), "body": req,
                                       "content_type": self.headers.get("Content-Type")})
                key = req["message"]["sid"]
                state.attempts[key] = state.attempts.get(key, 0) + 1
                attempt = state.attempts[key]
            if state.latency_ms:
                time.sleep(state.latency_ms / 1000.0)
            if mode == "hang":
                time.sleep(3600)
                return
            if mode == "error" or (mode == "flaky" and attempt == 1):
                self.send(500, b'{"error":"boom"}')
            elif mode == "badjson":
                self.send(200, b"not json", "text/plain")
            elif mode == "null":
                self.send(200, b'{"reply": null}')
            elif mode == "empty":
                self.send(204)
            elif mode == "blank":
                self.send(200, json.dumps({"reply": " \t\n "}).encode())
            elif mode.startswith("json:"):
                self.send(200, mode[len("json:"):].encode())
            elif mode == "handoff":
                reply = "handing over: " + req["message"]["body"]
                self.send(200, json.dumps({"reply": reply, "handoff": True}).encode())
            else:
                reply = "echo: " + req["message"]["body"]
                self.send(200, json.dumps({"reply": reply}).encode())

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--mode", default="echo")
    ap.add_argument("--record", default=None)
    a = ap.parse_args()
    state = State(a.secret, a.latency_ms, a.mode, a.record)
    serve(make_handler(state), a.port)


if __name__ == "__main__":
    sys.exit(main())
