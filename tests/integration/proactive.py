"""Shared helpers of the proactive-message tests (test_proactive.py, test_quiet_hours.py):
a server with a sender configured (TWILIO_FROM, the Messages API stand-in), the send
endpoint, and the checks every answer gets."""

import datetime
import json
import re
import time
import urllib.parse

from harness import (ACCOUNT_SID, TWILIO_NUMBER, ServerTest, free_port)
from standins import TwilioApi, wait_until

SEND_TOKEN = "send-token-for-integration-tests"
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MESSAGE_KEYS = {"id", "user_id", "direction", "kind", "channel", "to", "body", "media",
                "status", "send_at", "not_before", "created_at", "sid"}
# Where a status may go from each one (forward only); the finals go nowhere.
ORDER = ["scheduled", "queued", "sending", "sent", "delivered", "read"]
FINAL = {"undelivered", "failed", "canceled", "suppressed", "over_budget"}


def rfc3339(ts):
    """ts (seconds since the epoch) as RFC 3339 UTC with whole seconds."""
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_time(s):
    """An RFC 3339 string as seconds since the epoch."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def q(s):
    return urllib.parse.quote(s, safe="")


class ProactiveTest(ServerTest):
    """A server in the default twiml reply mode with the proactive sender configured:
    TWILIO_FROM is the harness's number, the Messages API is the stand-in, quiet hours
    off, no proactive limit (unless a subclass says otherwise)."""

    start_server = False
    send_rate = "50"
    extra_env = {}

    def setUp(self):
        super().setUp()
        self.twilio = TwilioApi()
        self.addCleanup(self.twilio.close)
        self.server = self.start_proactive()

    def env(self, port, extra=None):
        e = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE": self.twilio.url,
             "TWILIO_FROM": TWILIO_NUMBER, "SMSROUTER_SEND_TOKEN": SEND_TOKEN,
             "SMSROUTER_SEND_RATE": self.send_rate, "SMSROUTER_PROACTIVE_LIMIT": "0",
             "SMSROUTER_QUIET_HOURS": "off", "SMSROUTER_SENDER_LIMIT": "0",
             "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
             "SMSROUTER_PUBLIC_URL": "http://127.0.0.1:%d" % port}
        e.update(self.extra_env)
        if extra:
            e.update(extra)
        return e

    def start_proactive(self, env=None, **kw):
        return self.make_server(env=self.env(free_port(), env), **kw)

    # ---- the endpoints ----
    def post(self, uid, obj=None, key=None, token=True, raw=None, server=None):
        """POST /users/{uid}/messages; key: an Idempotency-Key (str or bytes)."""
        srv = server or self.server
        h = {"Content-Type": "application/json"}
        if token is True:
            token = srv.admin_token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if key is not None:
            h["Idempotency-Key"] = key
        body = raw if raw is not None else json.dumps(obj).encode("utf-8")
        return srv.request("POST", "/sms-router/admin/users/%s/messages" % q(uid), body=body,
                           headers=h)

    def send(self, uid, obj, key=None, server=None, status=202):
        """POSTs and asserts the status; returns the message."""
        r = self.post(uid, obj, key=key, server=server)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def get(self, uid, mid, token=True, server=None):
        return (server or self.server).admin("GET", "/users/%s/messages/%s" % (q(uid), q(mid)),
                                             token=token)

    def get_ok(self, uid, mid, server=None):
        r = self.get(uid, mid, server=server)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def delete(self, uid, mid, token=True, server=None):
        return (server or self.server).admin("DELETE", "/users/%s/messages/%s" % (q(uid), q(mid)),
                                             token=token)

    # ---- what the stand-in saw ----
    def sent_to(self, phone):
        return [m for m in self.twilio.sent() if m["To"] == phone]

    def bodies_to(self, phone):
        return [m["Body"] for m in self.sent_to(phone)]

    def attempts_to(self, phone):
        return [a for a in self.twilio.attempts() if a["fields"].get("To") == phone]

    def wait_sent(self, phone, n=1, timeout=10):
        got = wait_until(lambda: len(self.sent_to(phone)) >= n, timeout)
        self.assertTrue(got, "%d send(s) to %s expected within %ss, saw %d"
                        % (n, phone, timeout, len(self.sent_to(phone))))
        return self.sent_to(phone)

    def wait_status(self, uid, mid, pred, timeout=10, server=None):
        """Polls GET until pred(message) holds; returns the message (fails otherwise)."""
        last = [None]

        def check():
            last[0] = self.get_ok(uid, mid, server=server)
            return pred(last[0])

        ok = wait_until(check, timeout, step=0.2)
        self.assertTrue(ok, "message %s did not get there within %ss: %r" % (mid, timeout, last[0]))
        return last[0]

    # ---- checks ----
    def ids(self, uid, server=None):
        return sorted(m["id"] for m in (server or self.server).messages(uid, limit=500))

    def inbound_id(self, uid, phone, text="hello there", server=None):
        """Sends text from phone through the webhook; returns the stored inbound's id."""
        srv = server or self.server
        r = srv.sms(phone, text)
        self.assertEqual(r.status, 200, r.body)
        ins = [m for m in srv.messages(uid) if m["direction"] == "inbound" and m["body"] == text]
        self.assertEqual(len(ins), 1, ins)
        return ins[0]["id"]

    def assertMessage(self, m, uid, to, body, kind="proactive", status=None, media=None):
        """m has the message shape of the 202 (and of GET)."""
        self.assertIsInstance(m, dict, m)
        self.assertTrue(MESSAGE_KEYS <= set(m), "missing keys %s in %r"
                        % (sorted(MESSAGE_KEYS - set(m)), m))
        self.assertIsInstance(m["id"], str)
        self.assertTrue(m["id"], m)
        self.assertEqual((m["user_id"], m["direction"], m["kind"], m["channel"], m["to"],
                          m["body"], m["media"]),
                         (uid, "outbound", kind, "sms", to, body, media or []), m)
        for k in ("send_at", "not_before", "created_at"):
            self.assertRegex(m[k], RFC3339_UTC, (k, m))
        if status is not None:
            self.assertEqual(m["status"], status, m)
        self.assertGreaterEqual(parse_time(m["not_before"]), parse_time(m["send_at"]), m)

    def assertNow(self, s, slack=5.0, what=""):
        t = parse_time(s)
        self.assertLess(abs(t - time.time()), slack, "%s %s is not now" % (what, s))

    def assertForward(self, seen):
        """seen: the statuses observed in order; each at or past the one before."""
        ranks = []
        for s in seen:
            if s in FINAL:
                ranks.append(len(ORDER))
            else:
                self.assertIn(s, ORDER, seen)
                ranks.append(ORDER.index(s))
        self.assertEqual(ranks, sorted(ranks), "statuses moved backwards: %r" % seen)

    def assertRefused(self, uid, status, code=None, obj=None, raw=None, key=None, token=True,
                      users=None):
        """The POST is refused with status and error code, and stores nothing: the message
        lists of users (default: uid's) are unchanged."""
        users = [uid] if users is None else list(users)
        before = {u: self.ids(u) for u in users}
        r = self.post(uid, obj, raw=raw, key=key, token=token)
        j = self.assertJsonError(r, status)
        if code is not None:
            self.assertEqual(j["error"], code, (obj, raw, key, j))
        for u in users:
            self.assertEqual(self.ids(u), before[u], "a refused request stored something: %r"
                             % ((obj, raw, key),))
        return r
