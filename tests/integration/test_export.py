"""The export (GET /sms-router/admin/users/{id}/export, `smsrouter export ID`): the
contract's shape exactly, all of the user's messages oldest first and no one else's, notes,
opt-outs with their channel, usage of all time; 404; streamed, so that the server's memory
does not grow with a long history; the command line's the same JSON."""

import json
import os
import time

from harness import SANITIZED, ServerTest, new_phone
from dbrows import add_messages

from test_admin import USER_KEYS  # the user as every answer gives it


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


class TestExport(ServerTest):
    def export(self, user_id, token=True):
        return self.server.admin("GET", "/users/%s/export" % user_id, token=token)

    def test_shape_order_isolation_notes_optouts_usage(self):
        s = self.server
        ann, ann2, bob = new_phone(), new_phone(), new_phone()
        a = s.add_user("Ann", [ann, ann2])["id"]
        s.add_user("Bob", [bob])
        s.say(ann, "remember first")
        s.say(bob, "remember bob's secret")
        s.say(ann2, "remember second")
        s.say(bob, "hello")
        s.say(ann2, "STOP")

        r = self.export(a)
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertEqual((r.header("Transfer-Encoding") or "").lower(), "chunked")
        j = r.json()
        self.assertEqual(set(j), {"user", "messages", "notes", "opt_outs", "usage"})
        self.assertEqual(set(j["user"]), USER_KEYS)
        self.assertEqual(j["user"], s.admin("GET", "/users/" + a).json())
        # All of Ann's messages, oldest first, each as the messages API gives it.
        self.assertEqual(j["messages"], list(reversed(s.messages(a))))
        self.assertGreaterEqual(len(j["messages"]), 5)
        self.assertEqual(j["messages"][0]["body"], "remember first")
        for m in j["messages"]:
            self.assertEqual(m["user_id"], a)
            self.assertNotIn("bob", m["body"])
        self.assertEqual(j["notes"], ["first", "second"])
        self.assertEqual(len(j["opt_outs"]), 1)
        o = j["opt_outs"][0]
        self.assertEqual(set(o), {"phone", "channel", "at"})
        self.assertEqual((o["phone"], o["channel"]), (ann2, "sms"))
        u = j["usage"]
        self.assertEqual(set(u), {"user_id", "inbound", "outbound", "segments", "cost"})
        self.assertEqual(u["user_id"], a)
        inbound = sum(m["direction"] == "inbound" for m in j["messages"])
        self.assertEqual(u["inbound"], inbound)
        self.assertEqual(u["outbound"], len(j["messages"]) - inbound)

        # The command line prints the same JSON.
        code, out, err = s.cli("export", a)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), j)

    def test_unknown_user_and_token(self):
        self.assertJsonError(self.export("nosuchuser"), 404)
        a = self.server.add_user("Ann", [new_phone()])["id"]
        self.assertEqual(self.export(a, token=None).status, 401)
        self.assertEqual(self.export(a, token="wrong").status, 401)
        code, out, err = self.server.cli("export", "nosuchuser")
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        code, out, err = self.server.cli("export")
        self.assertEqual(code, 2, err)

    def test_a_long_history_is_streamed_in_flat_memory(self):
        s = self.server
        ann, bob = new_phone(), new_phone()
        a = s.add_user("Ann", [ann])["id"]
        b = s.add_user("Bob", [bob])["id"]
        s.say(ann, "remember x")
        s.stop()
        n = 20000
        add_messages(s, a, ann, n, int(time.time()) - 10 * 86400)
        add_messages(s, b, bob, 1000, int(time.time()) - 10 * 86400)
        s.start()
        self.export(b)  # warm up: the first export's one-off allocations
        before = vm_hwm_kib(s.proc.pid)
        r = self.export(a)
        after = vm_hwm_kib(s.proc.pid)
        self.assertEqual(r.status, 200)
        self.assertGreater(len(r.body), n * 200)
        j = r.json()
        msgs = j["messages"]
        self.assertEqual(len(msgs), n + 2)
        self.assertEqual(msgs[0]["body"], "remember x")
        self.assertEqual(msgs[1]["body"], "Noted.")
        self.assertEqual(msgs[2]["body"], "history 1")
        self.assertEqual(msgs[-1]["body"], "history %d" % n)
        self.assertFalse([m for m in msgs if m["user_id"] != a])
        self.assertEqual(j["usage"]["inbound"], n + 1)
        if not SANITIZED:  # ASan's quarantine keeps freed memory
            self.assertLess(after - before, 8 * 1024,
                            "peak RSS grew by %d KiB for a %d-byte export"
                            % (after - before, len(r.body)))
