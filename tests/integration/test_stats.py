"""GET /sms-router/admin/stats?since=RFC3339&bucket=hour|day: the traffic per hour or UTC
day, by outcome, from the store's hourly counts: known traffic through signed webhooks
gives exact numbers that agree with usage and the metrics; every bucket of the range is
listed; retention and a user's erasure leave the counts; bad input is refused and changes
nothing; the admin token guards it, and without one it does not exist."""

import re
import time

from harness import ServerTest, Server, new_phone
from dbrows import DAY, add_messages, is_pg, execute

HOUR = 3600
OUTCOMES = ["routed", "unrouted", "rate_limited", "opted_out", "opted_in", "help", "blocked",
            "over_budget", "paused", "human"]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse(s):
    return int(time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)


def metric(text, outcome):
    m = re.search(r'^smsrouter_messages_total\{outcome="%s"\} (\d+)$' % outcome, text, re.M)
    return int(m.group(1)) if m else 0


def undo_migration_10(server):
    """Takes the server's stopped database back to schema version 9 (version 11, the
    outbox's heads, 12 to 15 go too: both stores migrate from the newest version they
    hold; 15 dropped PostgreSQL's stats trigger)."""
    heads = ("DROP INDEX outbox_pending; DROP INDEX outbox_head_agent; "
             "DROP INDEX outbox_head_send; ALTER TABLE outbox DROP COLUMN head; "
             "DROP INDEX outbox_lane1_due; DROP INDEX outbox_lane1_sending; ")
    if is_pg(server):
        execute(server, "DROP TABLE stats_hourly; "
                "DROP TRIGGER outbox_head_insert ON outbox; "
                "DROP TRIGGER outbox_head_state ON outbox; "
                "DROP TRIGGER outbox_head_delete ON outbox; " + heads +
                "SET ROLE smsrouter_system; DROP FUNCTION sr_webhook_lookup(text, text); "
                "DROP FUNCTION sr_stats_add(bigint[], integer[], text, bigint[], bigint[], "
                "bigint[], bigint[]); "
                "DROP FUNCTION sr_stats(bigint, bigint, bigint); "
                "DROP FUNCTION sr_outbox_head_insert(); DROP FUNCTION sr_outbox_head_move(); "
                "DROP FUNCTION sr_import_users(text[], text[], text[], integer[], "
                "bigint); RESET ROLE; DELETE FROM schema_migrations WHERE version >= 10;")
    else:
        execute(server, "DROP TABLE stats_hourly; DROP TRIGGER outbox_head_insert; "
                "DROP TRIGGER outbox_head_state; DROP TRIGGER outbox_head_delete; " + heads +
                "PRAGMA user_version = 9;")


class StatsTest(ServerTest):
    server_env = {"SMSROUTER_SENDER_LIMIT": "3/min", "SMSROUTER_SEGMENT_PRICE": "0.0100"}

    def stats(self, query):
        r = self.server.admin("GET", "/stats" + query)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def traffic(self):
        """Known traffic; the number of inbound messages and their segments, by outcome."""
        s = self.server
        ann, bob, stranger = new_phone(), new_phone(), new_phone()
        s.add_user("Ann", [ann])
        s.add_user("Bob", [bob])
        self.assertEqual(s.say(ann, "remember a", extra={"NumSegments": "2"}), "Noted.")
        s.say(ann, "remember b")
        s.say(ann, "recall")
        self.assertIsNone(s.say(ann, "remember over the limit", extra={"NumSegments": "3"}))
        s.say(stranger, "hello")
        s.say(bob, "HELP")
        s.say(bob, "STOP")
        s.say(bob, "are you there")
        return 8, 2 + 1 + 1 + 3 + 1 + 1 + 1 + 1, {"routed": 3, "rate_limited": 1,
                                                   "unrouted": 1, "help": 1, "opted_out": 1,
                                                   "blocked": 1}

    def test_known_traffic_gives_exact_numbers_per_hour_and_day(self):
        t0 = int(time.time())
        inbound, in_segments, outcomes = self.traffic()
        t1 = int(time.time())
        if t0 // DAY != t1 // DAY:
            self.skipTest("the traffic crossed midnight (UTC)")
        hour = t1 // HOUR * HOUR
        day = t1 // DAY * DAY
        since = t0 // HOUR * HOUR
        usage = self.server.admin("GET", "/usage?since=" + rfc3339(since)).json()["total"]
        metrics = self.server.request("GET", "/metrics").text

        j = self.stats("?since=%s&bucket=hour" % rfc3339(since))
        self.assertEqual(j["since"], rfc3339(since))
        self.assertEqual(j["bucket"], "hour")
        self.assertEqual([parse(b["t"]) for b in j["series"]],
                         list(range(since, hour + 1, HOUR)))
        for b in j["series"]:
            self.assertEqual(set(b), {"t", "inbound", "outbound", "segments", "cost", "outcomes"})
            self.assertEqual(list(b["outcomes"]), OUTCOMES)
            self.assertEqual(sum(b["outcomes"].values()), b["inbound"])
        total = {k: sum(b[k] for b in j["series"]) for k in ("inbound", "outbound", "segments")}
        self.assertEqual(total["inbound"], inbound)
        self.assertEqual(total, {k: usage[k] for k in total})
        self.assertGreaterEqual(total["segments"], in_segments + total["outbound"])
        for name in OUTCOMES:
            n = sum(b["outcomes"][name] for b in j["series"])
            self.assertEqual(n, outcomes.get(name, 0), name)
            self.assertEqual(n, metric(metrics, name), name)
        if len(j["series"]) == 1:
            self.assertEqual(j["series"][0]["cost"], usage["cost"])
            self.assertEqual(j["series"][0]["cost"], "%.4f" % (total["segments"] / 100))

        d = self.stats("?since=%s&bucket=day" % rfc3339(t1))
        self.assertEqual(d["since"], rfc3339(day))
        self.assertEqual(d["bucket"], "day")
        self.assertEqual(len(d["series"]), 1)
        b = d["series"][0]
        self.assertEqual(parse(b["t"]), day)
        self.assertEqual({k: b[k] for k in total}, total)
        self.assertEqual(b["cost"], "%.4f" % (total["segments"] / 100))
        self.assertEqual({k: v for k, v in b["outcomes"].items() if v}, outcomes)

    def test_an_upgrade_counts_the_history_in_its_hours_and_days(self):
        s = self.server
        ann = new_phone()
        a = s.add_user("Ann", [ann])["id"]
        now = int(time.time())
        hour = now // HOUR * HOUR
        # A version-9 database holding 5 messages of 3 hours ago and 2 of 30 hours ago (its
        # own UTC day, or the one before); none in between: those hours are listed with
        # zeros. Its upgrade to 9 counts them.
        s.stop()
        add_messages(s, a, ann, 5, hour - 3 * HOUR - 1)
        add_messages(s, a, ann, 2, hour - 30 * HOUR - 1)
        undo_migration_10(s)
        s.start()
        j = self.stats("?since=%s" % rfc3339(now - 2 * DAY))
        self.assertEqual(j["bucket"], "hour")
        series = {parse(b["t"]): b for b in j["series"]}
        self.assertEqual(len(series), 49)
        self.assertEqual(series[hour - 3 * HOUR]["inbound"], 5)
        self.assertEqual(series[hour - 3 * HOUR]["outcomes"]["routed"], 5)
        self.assertEqual(series[hour - 3 * HOUR]["segments"], 5)
        self.assertEqual(series[hour - 30 * HOUR]["inbound"], 2)
        self.assertEqual(sum(b["inbound"] for b in j["series"]), 7)
        zero = series[hour - 2 * HOUR]
        self.assertEqual((zero["inbound"], zero["outbound"], zero["segments"], zero["cost"]),
                         (0, 0, 0, "0.0000"))
        self.assertEqual(zero["outcomes"], {k: 0 for k in OUTCOMES})

        days = self.stats("?since=%s&bucket=day" % rfc3339(now - 2 * DAY))
        self.assertEqual(len(days["series"]), 3)
        by_day = {}
        for t, n in ((hour - 3 * HOUR, 5), (hour - 30 * HOUR, 2)):
            by_day[t // DAY * DAY] = by_day.get(t // DAY * DAY, 0) + n
        self.assertEqual({parse(b["t"]): b["inbound"] for b in days["series"] if b["inbound"]},
                         by_day)

        # The counts outlive the messages: erasing the user leaves them.
        self.assertEqual(s.admin("DELETE", "/users/" + a).status, 204)
        again = {parse(b["t"]): b for b in self.stats("?since=%s" % rfc3339(now - 2 * DAY))[
            "series"]}
        for t in (hour - 30 * HOUR, hour - 3 * HOUR, hour - 2 * HOUR):
            self.assertEqual(again[t], series[t])

    def test_default_is_the_last_seven_days_of_hours(self):
        now = int(time.time())
        j = self.stats("")
        self.assertEqual(j["bucket"], "hour")
        first = parse(j["series"][0]["t"])
        last = parse(j["series"][-1]["t"])
        self.assertIn(first, ((now - 7 * DAY) // HOUR * HOUR,
                              (now - 7 * DAY) // HOUR * HOUR + HOUR))
        self.assertEqual(last - first, (len(j["series"]) - 1) * HOUR)
        self.assertIn(len(j["series"]), (169, 170))

    def test_a_time_offset_is_read_and_answered_in_utc(self):
        now = int(time.time())
        t = now - 5 * HOUR
        local = time.strftime("%Y-%m-%dT%H:%M:%S+02:00", time.gmtime(t + 2 * HOUR))
        for since in (local, local.replace("+", "%2B")):
            j = self.stats("?since=" + since)
            self.assertEqual(j["since"], rfc3339(t // HOUR * HOUR))

    def test_bad_input_is_refused_and_changes_nothing(self):
        self.traffic()
        before = self.stats("?since=%s" % rfc3339(int(time.time()) - DAY))
        usage = self.server.admin("GET", "/usage").json()
        cases = [("?bucket=week", 422, "invalid_bucket"),
                 ("?bucket=", 422, "invalid_bucket"),
                 ("?since=yesterday", 422, "invalid_since"),
                 ("?since=2026-13-01T00:00:00Z", 422, "invalid_since"),
                 ("?since=" + rfc3339(int(time.time()) - 401 * DAY), 422, "invalid_since"),
                 ("?since=" + rfc3339(int(time.time()) - DAY) + "&limit=5", 400,
                  "unknown_parameter"),
                 ("?buckets=day", 400, "unknown_parameter")]
        for query, status, code in cases:
            with self.subTest(query=query):
                r = self.server.admin("GET", "/stats" + query)
                self.assertJsonError(r, status)
                self.assertEqual(r.json()["error"], code)
                self.assertTrue(r.json()["message"])
        self.assertEqual(self.stats("?since=%s" % before["since"]), before)
        self.assertEqual(self.server.admin("GET", "/usage").json(), usage)

    def test_since_to_come_lists_nothing(self):
        j = self.stats("?since=%s&bucket=day" % rfc3339(int(time.time()) + 3 * DAY))
        self.assertEqual(j["series"], [])

    def test_the_admin_token_is_required(self):
        for token in (None, "wrong"):
            with self.subTest(token=token):
                self.assertJsonError(self.server.admin("GET", "/stats", token=token), 401)

    def test_without_an_admin_token_it_does_not_exist(self):
        s = self.make_server(admin_token=None)
        self.assertJsonError(s.admin("GET", "/stats", token="anything"), 404)
