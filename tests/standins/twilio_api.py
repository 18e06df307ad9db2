#!/usr/bin/python3
"""A local stand-in for Twilio's Messages API, for tests. Loopback only.

    twilio_api.py --port 0 --account AC… --token T [--schema tests/data/twilio-create-message.json]

Prints {"port": N} once listening.
- POST /2010-04-01/Accounts/{AC}/Messages.json: checks HTTP Basic auth, the AccountSid
  pattern and the form against Twilio's own request schema (unknown fields, types, uri
  format, To required, From or MessagingServiceSid, Body or MediaUrl); answers 201 with
  Twilio's JSON, or as the current mode says.
- GET  /2010-04-01/Accounts/{AC}/Messages.json?To=&From=: the messages created, newest
  first, in Twilio's list shape.
- Knobs (JSON bodies): POST /_mode {"mode": M, "count": N, "retry_after": S,
  "numbers": [...]}: the next N creates (all, if count is absent) get M:
  ok | 429 (not recorded; Retry-After: S) | 500_unsent | 500_sent (recorded, then 500:
  the ambiguous case) | 21610 (400 with code 21610, for `numbers` or everyone) |
  slow_sent (recorded, then sleeps 40 s: the client times out) | slow_unsent (sleeps
  40 s, then closes the connection without recording anything: never sent).
  GET /_sent: every accepted create with its time, fields and sid (and MediaUrls: every
  MediaUrl value, in order; the MediaUrl field holds only the first).
  GET /_attempts: every create request seen (also refused ones).
  POST /_callback {"sid": S, "status": ST, "error_code": E}: sends a status callback for
  message S to its StatusCallback, signed with the token like Twilio does.
- Media, like Twilio's MediaUrl: GET /2010-04-01/Accounts/{AC}/Messages/{MM}/Media/{ME}
  (HTTP Basic auth, else 401; unknown: 404) serves what the test registered with
  POST /_media {"path": P, "content_type": T, "body_b64": B | "size": N (N bytes of
  byte i = i % 251), "redirect": true (307 to /_storage/… on host "localhost", as Twilio
  redirects to its storage: the credentials must not follow), "chunked": true (no
  Content-Length), "mode": "close" (the connection closed without an answer) | "cut"
  (half the body, then closed) | "slow" (16 KiB every 0.2 s) | "late" (answers after
  3 s)}. GET /_media_log: every media and storage request with
  whether it carried an Authorization header.
"""
import argparse
import base64
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler

from twilio.request_validator import RequestValidator

from loopback import serve


class State:
    def __init__(self, account, token, schema):
        self.account = account
        self.token = token
        self.schema = schema
        self.lock = threading.Lock()
        self.sent = []
        self.attempts = []
        self.mode = "ok"
        self.count = None
        self.retry_after = None
        self.numbers = None
        self.media = {}      # path → what POST /_media registered
        self.media_log = []  # {"path", "auth"} of every media and storage request


def check_form(state, account, fields):
    """Problems with a create request, by Twilio's schema; [] when fine."""
    problems = []
    pat = state.schema["account_sid"].get("pattern")
    if pat and not re.match(pat, account):
        problems.append("AccountSid does not match " + pat)
    props = state.schema["body"]["properties"]
    for k, vals in fields.items():
        if k not in props:
            problems.append("unknown field " + k)
            continue
        t = props[k].get("type")
        for v in vals:
            if t == "integer" and not re.fullmatch(r"-?\d+", v):
                problems.append(k + " must be an integer")
            if t == "boolean" and v not in ("true", "false"):
                problems.append(k + " must be a boolean")
            if props[k].get("format") == "uri":
                u = urllib.parse.urlparse(v)
                if u.scheme not in ("http", "https") or not u.hostname or "_" in u.hostname:
                    problems.append(k + " must be a URL with a valid hostname")
            if props[k].get("format") == "phone-number" and not re.fullmatch(
                    r"(\+[1-9]\d{7,14}|[a-z]+:.+)", v):
                problems.append(k + " must be a phone number")
    for k in state.schema["body"].get("required", []):
        if k not in fields:
            problems.append("missing required field " + k)
    if "From" not in fields and "MessagingServiceSid" not in fields:
        problems.append("From or MessagingServiceSid is required")
    if "Body" not in fields and "MediaUrl" not in fields and "ContentSid" not in fields:
        problems.append("Body, MediaUrl or ContentSid is required")
    if len(fields.get("Body", [""])[0]) > 1600:
        problems.append("Body over 1600 characters")
    return problems


def message_json(state, m):
    return {
        "account_sid": state.account, "api_version": "2010-04-01", "body": m.get("Body", ""),
        "date_created": formatdate(m["at"], usegmt=False).replace("-0000", "+0000"),
        "date_sent": None, "date_updated": formatdate(m["at"]).replace("-0000", "+0000"),
        "direction": "outbound-api", "error_code": None, "error_message": None,
        "from": m.get("From"), "messaging_service_sid": m.get("MessagingServiceSid"),
        "num_media": str(len(m.get("MediaUrls", []))),
        "num_segments": "1", "price": None, "price_unit": None, "sid": m["sid"],
        "status": "queued", "to": m["To"],
        "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (state.account, m["sid"]),
    }


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send(self, code, obj=None, headers=None):
            body = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def twilio_error(self, status, code, message, headers=None):
            self.send(status, {"code": code, "message": message, "status": status,
                               "more_info": "https://www.twilio.com/docs/errors/%d" % code},
                      headers)

        def authorized(self):
            want = "Basic " + base64.b64encode(
                ("%s:%s" % (state.account, state.token)).encode()).decode()
            return self.headers.get("Authorization") == want

        def media_body(self, item):
            if "body_b64" in item:
                return base64.b64decode(item["body_b64"])
            return bytes(i % 251 for i in range(item["size"]))

        def serve_media(self, item):
            body = self.media_body(item)
            mode = item.get("mode")
            if mode == "late":
                time.sleep(3)
            if mode == "close":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(200)
            self.send_header("Content-Type", item.get("content_type", "application/octet-stream"))
            if item.get("chunked"):
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for at in range(0, len(body), 65536):
                    piece = body[at:at + 65536]
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if mode == "slow":
                for at in range(0, len(body), 16384):
                    self.wfile.write(body[at:at + 16384])
                    self.wfile.flush()
                    time.sleep(0.2)
                return
            if mode == "cut":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def media_get(self, path):
            with state.lock:
                state.media_log.append({"path": path,
                                        "auth": "Authorization" in self.headers})
                item = state.media.get(path)
            if path.startswith("/_storage/"):
                if item is None:
                    self.send(404, {"message": "no such object"})
                else:
                    self.serve_media(item)
                return
            if not self.authorized():
                self.twilio_error(401, 20003, "Authenticate")
                return
            if item is None:
                self.twilio_error(404, 20404, "The requested resource was not found")
                return
            if item.get("redirect"):
                key = "/_storage/" + secrets.token_hex(8)
                with state.lock:
                    state.media[key] = dict(item, redirect=False)
                port = self.server.server_address[1]
                self.send_response(307)
                self.send_header("Location", "http://localhost:%d%s" % (port, key))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.serve_media(item)

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            if u.path == "/_media_log":
                with state.lock:
                    self.send(200, state.media_log)
                return
            if re.fullmatch(r"/2010-04-01/Accounts/[^/]+/Messages/[^/]+/Media/[^/]+", u.path) \
                    or u.path.startswith("/_storage/"):
                self.media_get(u.path)
                return
            if u.path == "/_sent":
                with state.lock:
                    self.send(200, state.sent)
                return
            if u.path == "/_attempts":
                with state.lock:
                    self.send(200, state.attempts)
                return
            m = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", u.path)
            if not m:
                self.send(404, {"message": "not found"})
                return
            if not self.authorized():
                self.twilio_error(401, 20003, "Authenticate")
                return
            q = urllib.parse.parse_qs(u.query)
            with state.lock:
                msgs = [x for x in state.sent
                        if ("To" not in q or x["To"] == q["To"][0])
                        and ("From" not in q or x.get("From") == q["From"][0])]
            msgs = sorted(msgs, key=lambda x: -x["at"])[: int(q.get("PageSize", ["50"])[0])]
            self.send(200, {"messages": [message_json(state, x) for x in msgs],
                            "page": 0, "page_size": len(msgs)})

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            u = urllib.parse.urlparse(self.path)
            if u.path == "/_mode":
                k = json.loads(raw)
                with state.lock:
                    state.mode = k.get("mode", "ok")
                    state.count = k.get("count")
                    state.retry_after = k.get("retry_after")
                    state.numbers = k.get("numbers")
                self.send(204)
                return
            if u.path == "/_callback":
                self.callback(json.loads(raw))
                return
            if u.path == "/_media":
                k = json.loads(raw)
                with state.lock:
                    state.media[k["path"]] = k
                self.send(204)
                return
            m = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", u.path)
            if not m:
                self.send(404, {"message": "not found"})
                return
            fields = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
            one = {k: v[0] for k, v in fields.items()}
            with state.lock:
                state.attempts.append({"at": time.time(), "fields": one})
            if not self.authorized():
                self.twilio_error(401, 20003, "Authenticate")
                return
            if not self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"):
                self.send(415, {"message": "form-encoded body required"})
                return
            problems = check_form(state, m.group(1), fields)
            if problems:
                self.send(422, {"message": "; ".join(problems)})
                return
            with state.lock:
                mode = state.mode
                if state.count is not None:
                    if state.count <= 0:
                        mode = "ok"
                    else:
                        state.count -= 1
                numbers = state.numbers
                retry_after = state.retry_after
            if mode == "21610" and (numbers is None or one["To"] in numbers):
                self.twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
                return
            if mode == "429":
                h = {"Retry-After": str(retry_after)} if retry_after is not None else None
                self.twilio_error(429, 20429, "Too Many Requests", h)
                return
            if mode == "500_unsent":
                self.twilio_error(500, 20500, "Internal Server Error")
                return
            if mode == "slow_unsent":
                time.sleep(40)
                self.close_connection = True
                return
            msg = dict(one)
            msg["MediaUrls"] = fields.get("MediaUrl", [])
            msg["sid"] = "SM" + secrets.token_hex(16)
            msg["at"] = time.time()
            with state.lock:
                state.sent.append(msg)
            if mode == "500_sent":
                self.twilio_error(500, 20500, "Internal Server Error")
                return
            if mode == "slow_sent":
                time.sleep(40)
                return
            self.send(201, message_json(state, msg))

        def callback(self, k):
            with state.lock:
                msg = next((x for x in state.sent if x["sid"] == k["sid"]), None)
            if not msg or not msg.get("StatusCallback"):
                self.send(404, {"message": "no such message or no StatusCallback"})
                return
            params = {"MessageSid": msg["sid"], "SmsSid": msg["sid"],
                      "MessageStatus": k["status"], "SmsStatus": k["status"],
                      "AccountSid": state.account, "From": msg.get("From", ""), "To": msg["To"],
                      "ApiVersion": "2010-04-01"}
            if k.get("error_code"):
                params["ErrorCode"] = str(k["error_code"])
            url = msg["StatusCallback"]
            sig = RequestValidator(state.token).compute_signature(url, params)
            req = urllib.request.Request(url, data=urllib.parse.urlencode(params).encode(),
                                         headers={"X-Twilio-Signature": sig, "Content-Type":
                                                  "application/x-www-form-urlencoded"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            self.send(200, {"status": code})

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--account", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--schema", default="tests/data/twilio-create-message.json")
    a = ap.parse_args()
    state = State(a.account, a.token, json.load(open(a.schema)))
    serve(make_handler(state), a.port)


if __name__ == "__main__":
    sys.exit(main())
