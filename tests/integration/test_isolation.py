"""Routing isolation at scale: 1,000 users talking at once each see only their own notes
and their own messages."""

import concurrent.futures
import os

from harness import ServerTest, TWILIO_NUMBER

USERS = 1000
THREADS = 32


def phone_of(i):
    return "+1555%07d" % (8000000 + i)


class IsolationAtScaleTest(ServerTest):
    start_server = False

    def setUp(self):
        self.server = self.make_server(start=False)
        path = os.path.join(self.server.tmp, "users.csv")
        with open(path, "w") as f:
            f.write("name,phone\n")
            for i in range(USERS):
                f.write("user-%d,%s\n" % (i, phone_of(i)))
        code, out, err = self.server.cli("import", path)
        self.assertEqual(code, 0, err)
        self.server.start()

    def converse(self, i):
        phone = phone_of(i)
        a = self.server.say(phone, "remember secret-%d" % i)
        b = self.server.say(phone, "recall")
        return i, a, b

    def test_every_user_recalls_exactly_its_own_secret_under_concurrency(self):
        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            results = list(ex.map(self.converse, range(USERS)))
        wrong = [(i, a, b) for i, a, b in results
                 if a != "Noted." or b != "Your notes:\n1. secret-%d" % i]
        self.assertEqual(wrong[:5], [], "%d of %d conversations wrong" % (len(wrong), USERS))

        for i in (0, 1, 499, 998, 999):
            with self.subTest(user=i):
                r = self.server.user_by_phone(phone_of(i))
                self.assertEqual(r.status, 200)
                u = r.json()
                self.assertEqual(u["name"], "user-%d" % i)
                msgs = self.server.messages(u["id"])
                self.assertEqual(len(msgs), 4)
                for m in msgs:
                    self.assertEqual({m["from"], m["to"]}, {phone_of(i), TWILIO_NUMBER})
                    if "secret-" in m["body"]:
                        self.assertIn("secret-%d" % i, m["body"])
                        self.assertEqual(m["body"].count("secret-"), 1)
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(len(usage["users"]), USERS)
        self.assertEqual(usage["total"]["inbound"], 2 * USERS)
        self.assertEqual(usage["total"]["outbound"], 2 * USERS)
