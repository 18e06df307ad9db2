"""Several router processes on one PostgreSQL (runs only with SMSROUTER_TEST_PG_URL):
two processes behind alternating requests, 1,000 users, every MessageSid sent to both
(a Twilio retry landing on the other instance), and PostgreSQL stopped and restarted
in the middle of the run."""

import concurrent.futures
import os
import subprocess
import time
import unittest

from harness import (PG_DIR, PG_URL, Server, ServerTest, drop_pg_database, new_phone,
                     new_pg_database, new_sid, pg_database_url, twiml_message)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cluster(cmd):
    subprocess.run([os.path.join(ROOT, "scripts/pg-cluster.sh"), cmd, PG_DIR], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


def two_routers(test, env):
    """Two serve processes on one fresh PostgreSQL database (dropped after the test)."""
    db = new_pg_database()
    test.addCleanup(drop_pg_database, db)
    url = pg_database_url(db)
    return test.make_server(db_url=url, env=env), test.make_server(db_url=url, env=env)


@unittest.skipUnless(PG_URL and PG_DIR, "needs the PostgreSQL test cluster")
class TwoProcessesTest(ServerTest):
    start_server = False

    def test_two_routers_1000_users_duplicates_and_a_database_restart(self):
        a, b = two_routers(self, {"SMSROUTER_SENDER_LIMIT": "0"})
        users = [(new_phone(), "user%04d" % i) for i in range(1000)]
        path = a.tmp + "/users.csv"
        with open(path, "w") as f:
            f.write("".join("%s,%s\n" % (n, p) for p, n in users))
        code, out, err = a.cli("import", path)
        self.assertEqual(code, 0, err)

        sids = [(new_sid(), users[i % 1000][0], "remember s%d" % i) for i in range(2000)]
        answered = {}  # sid -> first 200 answer
        refused = []   # (sid, server, status) answered non-200 (the outage)

        def send(job):
            sid, phone, body = job
            out = []
            # Alternate which instance sees a message first; the other gets the retry.
            order = (a, b) if hash(sid) % 2 else (b, a)
            for srv in order:
                r = srv.sms(phone, body, sid=sid)
                out.append((srv, r.status, r.body))
            return sid, out

        def run(batch):
            with concurrent.futures.ThreadPoolExecutor(16) as ex:
                for sid, out in ex.map(send, batch):
                    for srv, status, body in out:
                        if status == 200:
                            answered.setdefault(sid, []).append(twiml_message(body))
                        else:
                            refused.append((sid, status))

        run(sids[:800])
        # PostgreSQL goes away while messages keep arriving: webhooks answer 503 fast
        # (Twilio then uses the fallback URL) and nothing is half-written.
        import threading
        during = threading.Thread(target=run, args=(sids[800:1600],))
        during.start()
        time.sleep(0.3)
        cluster("stop")
        t = time.monotonic()
        r = a.sms(users[0][0], "during the outage")
        took = time.monotonic() - t
        self.assertEqual(r.status, 503)
        self.assertLess(took, 5.0)
        self.assertEqual(a.request("GET", "/ready").status, 503)
        time.sleep(1.0)
        cluster("start")
        ok = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if a.request("GET", "/ready").status == 200 and b.request("GET", "/ready").status == 200:
                ok = True
                break
            time.sleep(0.2)
        during.join(120)
        self.assertTrue(ok, "/ready did not come back without a restart")
        run(sids[1600:])
        # What the outage refused is delivered again (Twilio's fallback / a retry).
        retry = sorted({sid for sid, _ in refused})
        by_sid = {s[0]: s for s in sids}
        run([by_sid[s] for s in retry if s in by_sid])

        # Every message answered; each routed once; the copy got the same answer.
        self.assertEqual(len(answered), len(sids))
        dup_answers = 0
        for sid, replies in answered.items():
            self.assertEqual(replies[0], "Noted.")
            for rep in replies[1:]:
                self.assertIn(rep, ("Noted.", None))
            dup_answers += len(replies) - 1
        fams = {}
        for srv in (a, b):
            for line in srv.request("GET", "/metrics").text.splitlines():
                if line.startswith("smsrouter_messages_total{"):
                    k = line.split("outcome=\"")[1].split("\"")[0]
                    fams[k] = fams.get(k, 0) + float(line.split()[-1])
        routed = int(fams.get("routed", 0))
        duplicates = int(fams.get("duplicate", 0))
        # Each user's notes: exactly its own, each message once.
        code, out, err = a.cli("usage", "--since", "2000-01-01T00:00:00Z")
        self.assertEqual(code, 0, err)
        import json
        total = json.loads(out)["total"]
        self.assertEqual(total["inbound"], len(sids))
        for i in (0, 1, 999):
            phone, name = users[i]
            got = a.say(phone, "recall")
            self.assertTrue(got.startswith("Your notes:"), got)
            notes = [line.split(". ", 1)[1] for line in got.splitlines()[1:]]
            want = [s[2][len("remember "):] for s in sids if s[1] == phone]
            # Each note exactly once. A message the outage refused was stored when
            # its retry arrived, later than messages sent after it, so only the
            # messages never refused keep their sending order.
            self.assertEqual(sorted(notes), sorted(want))
            retried = {by_sid[s][2][len("remember "):] for s in retry}
            self.assertEqual([n for n in notes if n not in retried],
                             [w for w in want if w not in retried])
        print("\n    two routers: %d messages, %d routed, %d duplicates refused, "
              "%d refused during the outage and delivered again, lost 0"
              % (len(sids), routed, duplicates, len(retry)))
        # A COMMIT whose acknowledgement the outage cut off may have committed: that
        # message was answered 503, and its retry found it stored (counted as a duplicate,
        # answered with the stored reply). Only messages refused in the outage can be such.
        self.assertLessEqual(routed, len(sids))
        self.assertGreaterEqual(routed, len(sids) - len(retry))


@unittest.skipUnless(PG_URL and PG_DIR, "needs the PostgreSQL test cluster")
class SharedSenderLimitTest(ServerTest):
    """SMSROUTER_SENDER_LIMIT is what one number may send to the service, not to each
    process: on PostgreSQL the routers share one count, and it outlives a restart."""
    start_server = False

    def test_two_routers_share_one_count_and_a_restart_keeps_it(self):
        a, b = two_routers(self, {"SMSROUTER_SENDER_LIMIT": "3/min"})
        phone, other = new_phone(), new_phone()
        uid = a.add_user("Limited", [phone])["id"]
        a.add_user("Other", [other])

        # Six texts within a second, alternating between the routers: three pass.
        replies = [(a, b)[i % 2].say(phone, "t%d" % i) for i in range(6)]
        self.assertEqual([r is not None for r in replies], [True] * 3 + [False] * 3)
        statuses = [m["status"] for m in reversed(a.messages(uid))
                    if m["direction"] == "inbound"]
        self.assertEqual(statuses, ["received"] * 3 + ["rate_limited"] * 3)
        # Another number has its own count.
        self.assertIsNotNone(b.say(other, "hello"))
        # A restarted router still knows.
        a.restart()
        self.assertIsNone(a.say(phone, "after the restart"))
        self.assertEqual(a.messages(uid, limit=1)[0]["status"], "rate_limited")


@unittest.skipUnless(PG_URL and PG_DIR, "needs the PostgreSQL test cluster")
class SuperuserRefusedTest(ServerTest):
    start_server = False

    def test_serve_as_a_superuser_says_why_it_refuses(self):
        # Row-level security would not bind a superuser: the store refuses it, and the
        # operator is told that, not "check that the database answers".
        db = new_pg_database()
        self.addCleanup(drop_pg_database, db)
        with open(os.path.join(PG_DIR, "port")) as f:
            port = f.read().strip()
        url = "postgresql:///%s?host=%s/sock&port=%s&user=postgres" % (db, PG_DIR, port)
        srv = self.make_server(start=False, db_url=url)
        code, out, err = srv.cli("serve", timeout=20)
        self.assertEqual(code, 1, err)
        self.assertIn("superuser", err)
        self.assertIn("row-level security", err)
        self.assertEqual(len(err.strip().splitlines()), 1)
