"""Retention (SMSROUTER_RETENTION_DAYS): the sweep erases messages older than the setting
at start, keeps users, numbers, opt-outs and notes, leaves usage since any UTC midnight as
it was, and counts what it erased; a bad setting is refused."""

import time

from harness import ServerTest, new_phone, run_cli, base_env, BINARY
from dbrows import DAY, age_messages
from standins import wait_until


def usage_windows(server):
    """Usage since each UTC midnight of the last 45 days, and of all time."""
    midnight = int(time.time()) // DAY * DAY
    out = {}
    for d in list(range(0, 46)) + [20000]:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(0, midnight - d * DAY)))
        r = server.admin("GET", "/usage?detail=1&since=" + since)
        assert r.status == 200, r.body
        j = r.json()
        out[since] = (sorted(j["users"], key=lambda e: e["user_id"]), j["total"])
    return out


class TestRetention(ServerTest):
    def test_sweep_erases_old_messages_keeps_the_rest_and_usage(self):
        s = self.server
        ann, bob = new_phone(), new_phone()
        a = s.add_user("Ann", [ann])["id"]
        b = s.add_user("Bob", [bob])["id"]
        for i in range(3):
            s.say(ann, "remember note %d" % i)
            s.say(bob, "hello %d" % i)
        s.say(bob, "STOP")
        old_bob = len(s.messages(b))
        s.stop()
        # Ann's history 40 days back, Bob's split: 35 days back, then two fresh ones.
        age_messages(s, a, 40 * DAY)
        age_messages(s, b, 35 * DAY)
        s.start()
        s.say(bob, "START")
        before = usage_windows(s)
        self.assertEqual(len(s.messages(a)), 6)
        s.stop()

        s.overrides["SMSROUTER_RETENTION_DAYS"] = "30"
        s.start()
        swept = s.wait_log("retention.swept", timeout=30)
        self.assertIsNotNone(swept)
        self.assertEqual(swept["erased"], 6 + old_bob)
        self.assertNotIn("body", swept)
        self.assertEqual(s.messages(a), [])
        left = [m["body"] for m in reversed(s.messages(b))]
        self.assertEqual(left[:1], ["START"])
        self.assertFalse([m for m in left if m.startswith("hello")], left)
        # Users, numbers, opt-outs (Bob's STOP was swept, his opt-out state is his START's),
        # and the memo's notes are kept.
        self.assertEqual(s.admin("GET", "/users/" + a).json()["phones"], [ann])
        after = usage_windows(s)
        for k in before:
            self.assertEqual(after[k], before[k], k)
        self.assertTwiml(s.sms(ann, "recall"),
                         "Your notes:\n1. note 0\n2. note 1\n3. note 2")
        r = s.request("GET", "/metrics")
        self.assertIn("smsrouter_retention_erased_total %d\n" % (6 + old_bob), r.text)

    def test_keep_for_ever_by_default(self):
        s = self.server
        ann = new_phone()
        a = s.add_user("Ann", [ann])["id"]
        s.say(ann, "hello")
        s.stop()
        age_messages(s, a, 4000 * DAY)
        s.start()
        self.assertEqual(len(s.messages(a)), 2)
        self.assertIsNone(s.wait_log("retention.swept", timeout=1))


class TestRetentionSetting(ServerTest):
    start_server = False

    def test_a_negative_or_non_integer_value_is_refused(self):
        d = self.make_tmpdir()
        for bad in ("-1", "x", "1.5"):
            env = base_env({"SMSROUTER_RETENTION_DAYS": bad, "TWILIO_AUTH_TOKEN": "t",
                            "SMSROUTER_DATABASE_URL": "sqlite:" + d + "/db.sqlite",
                            "SMSROUTER_LISTEN": "127.0.0.1:0"})
            code, out, err = run_cli(BINARY, ["serve"], cwd=d, env=env, timeout=20)
            self.assertEqual(code, 2, (bad, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("SMSROUTER_RETENTION_DAYS", err)
