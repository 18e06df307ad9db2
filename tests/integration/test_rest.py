"""rest reply mode: the durable outbox, the Messages API client (checked against
Twilio's own request schema by the stand-in), retries, reconciliation, pacing and
fairness, dead letters, and kill -9 during delivery."""

import concurrent.futures
import time
import urllib.parse

from harness import ServerTest, TWILIO_NUMBER, new_phone
from standins import AGENT_SECRET, AgentCore, TwilioApi, wait_until


class RestTest(ServerTest):
    start_server = False
    agent_latency_ms = 0
    send_rate = "50"
    extra_env = {}

    def setUp(self):
        super().setUp()
        self.agent = AgentCore(latency_ms=self.agent_latency_ms)
        self.addCleanup(self.agent.close)
        self.twilio = TwilioApi()
        self.addCleanup(self.twilio.close)
        self.server = self.start_rest()

    def env(self, port):
        from harness import ACCOUNT_SID
        e = {"SMSROUTER_REPLY_MODE": "rest", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
             "TWILIO_API_BASE": self.twilio.url,
             "SMSROUTER_AGENT_URL": self.agent.url + "/agent",
             "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "SMSROUTER_SENDER_LIMIT": "0",
             "SMSROUTER_SEND_RATE": self.send_rate, "SMSROUTER_AGENT_TIMEOUT_MS": "2000",
             "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
             "SMSROUTER_PUBLIC_URL": "http://127.0.0.1:%d" % port}
        e.update(self.extra_env)
        return e

    def start_rest(self, **kw):
        from harness import free_port
        port = free_port()
        return self.make_server(env=self.env(port), **kw)

    def sent_to(self, phone):
        return [m for m in self.twilio.sent() if m["To"] == phone]


class TestRestDelivery(RestTest):
    def test_webhook_answers_empty_at_once_and_the_reply_goes_through_the_api(self):
        phone = new_phone()
        user = self.server.add_user("Rae", [phone])
        r = self.server.sms(phone, "hello")
        self.assertEmptyTwiml(r)
        sent = wait_until(lambda: self.sent_to(phone), 10)
        self.assertTrue(sent, "nothing reached the Messages API")
        self.assertEqual(len(sent), 1)
        m = sent[0]
        self.assertEqual((m["To"], m["From"], m["Body"]), (phone, TWILIO_NUMBER, "echo: hello"))
        cb = urllib.parse.urlsplit(m["StatusCallback"])
        self.assertEqual(cb.path, "/sms-router/webhook/status")
        self.assertRegex(cb.query, r"^ob=\d+$")
        # The stored reply carries Twilio's sid once the API named it.
        msgs = wait_until(lambda: [x for x in self.server.messages(user["id"])
                                   if x["direction"] == "outbound" and x["sid"]], 5)
        self.assertEqual(msgs[0]["sid"], m["sid"])
        self.assertEqual(msgs[0]["body"], "echo: hello")

    def test_no_reply_null_or_blank_sends_nothing(self):
        phone = new_phone()
        uid = self.server.add_user("Quiet", [phone])["id"]
        for k, mode in enumerate(("null", "empty", "blank")):
            self.agent.set_mode(mode)
            self.server.sms(phone, mode)
            # The agent is called after the webhook's answer: wait for it in this mode.
            self.assertTrue(wait_until(lambda: len(self.agent.requests()) == k + 1, 10))
        self.agent.set_mode("echo")
        self.server.sms(phone, "and now")
        # The last one's reply goes out; one user's messages are handled in order, so the
        # three before it are done by then, and nothing was sent for them.
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 15))
        time.sleep(0.5)
        self.assertEqual([m["Body"] for m in self.sent_to(phone)], ["echo: and now"])
        out = [m for m in self.server.messages(uid) if m["direction"] == "outbound"]
        self.assertEqual([m["body"] for m in out], ["echo: and now"])

    def test_a_twilio_retry_gets_the_first_answer_not_the_reply_again(self):
        # The first answer was <Response/>: the reply went through the Messages API. A
        # retry of the same MessageSid (Twilio's, or after a lost answer) must get that
        # answer again, not the reply as TwiML, or the user would get it twice.
        phone = new_phone()
        self.server.add_user("Retry", [phone])
        sid = "SM" + "7" * 32
        self.assertEmptyTwiml(self.server.sms(phone, "hello", sid=sid))
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 15))
        for _ in range(2):
            self.assertEmptyTwiml(self.server.sms(phone, "hello", sid=sid))
        time.sleep(0.5)
        self.assertEqual([m["Body"] for m in self.sent_to(phone)], ["echo: hello"])
        self.assertEqual(len(self.agent.requests()), 1)

    def test_status_callbacks_out_of_order_never_move_backwards(self):
        phone = new_phone()
        user = self.server.add_user("Cal", [phone])
        self.server.sms(phone, "track me")
        m = wait_until(lambda: self.sent_to(phone), 10)[0]
        self.assertEqual(self.twilio.callback(m["sid"], "delivered"), 204)
        self.assertEqual(self.twilio.callback(m["sid"], "sent"), 204)
        out = [x for x in self.server.messages(user["id"]) if x["direction"] == "outbound"]
        self.assertEqual(out[0]["status"], "delivered")

    def test_one_users_replies_keep_arrival_order_while_users_run_in_parallel(self):
        users = [new_phone() for _ in range(5)]
        for i, p in enumerate(users):
            self.server.add_user("O%d" % i, [p])

        def burst(p):
            for k in range(8):
                self.assertEmptyTwiml(self.server.sms(p, "%s #%d" % (p, k)))

        with concurrent.futures.ThreadPoolExecutor(5) as ex:
            list(ex.map(burst, users))
        ok = wait_until(lambda: len(self.twilio.sent()) >= 40, 30)
        self.assertTrue(ok, "only %d of 40 replies sent" % len(self.twilio.sent()))
        for p in users:
            self.assertEqual([m["Body"] for m in self.sent_to(p)],
                             ["echo: %s #%d" % (p, k) for k in range(8)])
        # And the agent saw each user's messages in that order too.
        for p in users:
            seen = [r["body"]["message"]["body"] for r in self.agent.requests()
                    if r["body"]["message"]["from"] == p]
            self.assertEqual(seen, ["%s #%d" % (p, k) for k in range(8)])


class TestRestConfig(ServerTest):
    start_server = False

    def test_rest_without_an_account_sid_is_a_usage_error(self):
        srv = self.make_server(start=False, env={"SMSROUTER_REPLY_MODE": "rest"})
        code, out, err = srv.cli("serve", timeout=20)
        self.assertEqual(code, 2, err)
        self.assertIn("TWILIO_ACCOUNT_SID", err)
        self.assertEqual(len(err.strip().splitlines()), 1)


class TestRestTwilioFailures(RestTest):
    def test_429_is_retried_after_retry_after(self):
        phone = new_phone()
        self.server.add_user("Lim", [phone])
        self.twilio.set_mode("429", count=1, retry_after=2)
        self.server.sms(phone, "patience")
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 15))
        tries = [a for a in self.twilio.attempts() if a["fields"]["To"] == phone]
        self.assertEqual(len(tries), 2)
        self.assertGreaterEqual(tries[1]["at"] - tries[0]["at"], 1.9)
        self.assertEqual(len(self.sent_to(phone)), 1)

    def test_retry_after_as_an_http_date_is_honoured(self):
        from email.utils import formatdate
        phone = new_phone()
        self.server.add_user("Date", [phone])
        self.twilio.set_mode("429", count=1, retry_after=formatdate(time.time() + 3,
                                                                    usegmt=True))
        self.server.sms(phone, "later")
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 15))
        tries = [a for a in self.twilio.attempts() if a["fields"]["To"] == phone]
        self.assertEqual(len(tries), 2)
        # The date has whole seconds: at least 2 s after the first try.
        self.assertGreaterEqual(tries[1]["at"] - tries[0]["at"], 1.9)

    def test_a_retry_after_of_a_day_waits_not_one_second(self):
        # Capped at 10 minutes, not dropped in favour of a 1 s backoff.
        phone = new_phone()
        self.server.add_user("Day", [phone])
        self.twilio.set_mode("429", count=1, retry_after=100000)
        self.server.sms(phone, "tomorrow")
        time.sleep(3)
        tries = [a for a in self.twilio.attempts() if a["fields"]["To"] == phone]
        self.assertEqual(len(tries), 1)
        code, out, err = self.server.cli("outbox", "list")
        self.assertEqual(code, 0, err)
        self.assertIn("HTTP 429", out)

    def test_an_ambiguous_500_that_did_send_is_not_sent_again(self):
        phone = new_phone()
        self.server.add_user("Amb", [phone])
        self.twilio.set_mode("500_sent", count=1)
        self.server.sms(phone, "once only")
        # The stand-in recorded the message, then answered 500: reconciliation must find
        # it (by listing) and never POST it again.
        self.assertTrue(self.server.wait_log("outbox.reconciled", timeout=20))
        tries = [a for a in self.twilio.attempts() if a["fields"]["To"] == phone]
        self.assertEqual(len(tries), 1)
        self.assertEqual(len(self.sent_to(phone)), 1)

    def test_an_ambiguous_500_that_did_not_send_is_sent_once_after_reconciling(self):
        phone = new_phone()
        self.server.add_user("Amb2", [phone])
        self.twilio.set_mode("500_unsent", count=1)
        self.server.sms(phone, "try again")
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 25))
        time.sleep(1)
        self.assertEqual(len(self.sent_to(phone)), 1)
        tries = [a for a in self.twilio.attempts() if a["fields"]["To"] == phone]
        self.assertEqual(len(tries), 2)

    def test_an_earlier_reply_with_the_same_text_is_not_taken_for_an_ambiguous_one(self):
        # The same text twice: the same reply twice. The first is sent; the second's POST
        # gets a 500 without being sent. Twilio's list then holds the first, with the same
        # body, minutes within the attempt: it is ours already (its SID is stored), so
        # the second must be sent, not marked as reconciled with the first one's SID.
        phone = new_phone()
        uid = self.server.add_user("Twice", [phone])["id"]
        self.server.sms(phone, "same again")
        self.assertTrue(wait_until(lambda: len(self.sent_to(phone)) == 1, 15))
        self.twilio.set_mode("500_unsent", count=1)
        self.server.sms(phone, "same again")
        self.assertTrue(wait_until(lambda: len(self.sent_to(phone)) == 2, 30))
        sent = self.sent_to(phone)
        self.assertEqual(sent[0]["Body"], sent[1]["Body"])
        out = [m for m in self.server.messages(uid) if m["direction"] == "outbound"]
        self.assertEqual(sorted(m["sid"] for m in out), sorted(x["sid"] for x in sent))
        self.assertFalse(self.server.wait_log("outbox.reconciled", timeout=0.5))

    def test_21610_marks_the_number_opted_out_and_nothing_more_is_sent(self):
        phone = new_phone()
        user = self.server.add_user("Stop", [phone])
        self.twilio.set_mode("21610", numbers=[phone])
        self.server.sms(phone, "are you there")
        self.assertTrue(wait_until(
            lambda: self.server.admin("GET", "/users/" + user["id"]).json()["opted_out"], 10))
        self.twilio.set_mode("ok")
        self.server.sms(phone, "hello again")
        time.sleep(1.5)
        self.assertEqual(self.sent_to(phone), [])
        code, out, err = self.server.cli("outbox", "list", "--state", "dead")
        self.assertEqual(code, 0, err)
        self.assertIn("21610", out)
        # The log counts the attempts as the list does: the one refused POST.
        self.assertEqual(self.server.wait_log("outbox.dead")["attempts"], 1)


class TestRestAgentFailures(RestTest):
    extra_env = {"SMSROUTER_DELIVERY_ATTEMPTS": "2"}

    def test_agent_failure_is_retried_then_dead_lettered_then_replayed(self):
        phone = new_phone()
        self.server.add_user("Dee", [phone])
        self.agent.set_mode("flaky")  # 500 on each message's first attempt
        self.server.sms(phone, "first")
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 15))
        self.assertEqual([m["Body"] for m in self.sent_to(phone)], ["echo: first"])

        self.agent.set_mode("error")
        self.server.sms(phone, "second")
        dead = wait_until(lambda: "dead" in self.server.cli("outbox", "list", "--state",
                                                            "dead")[1], 20)
        self.assertTrue(dead, "the failing message was not dead-lettered")
        self.assertEqual(len(self.sent_to(phone)), 1)

        self.agent.set_mode("echo")
        code, out, err = self.server.cli("outbox", "retry", "--all")
        self.assertEqual(code, 0, err)
        self.assertIn("revived 1", out)
        self.assertTrue(wait_until(lambda: len(self.sent_to(phone)) == 2, 15))
        self.assertEqual(self.sent_to(phone)[1]["Body"], "echo: second")


class TestRestHistory(RestTest):
    def test_a_retried_agent_call_carries_no_message_that_arrived_after_its_own(self):
        phone = new_phone()
        self.server.add_user("Hy", [phone])
        self.server.sms(phone, "zero")
        self.assertTrue(wait_until(lambda: self.sent_to(phone), 10))

        def calls(body):
            return [r["body"] for r in self.agent.requests()
                    if r["body"]["message"]["body"] == body]

        self.agent.set_mode("flaky")  # 500 on each message's first attempt
        self.server.sms(phone, "one")
        self.assertTrue(wait_until(lambda: calls("one"), 10))
        # "two" arrives while "one" waits for its retry (backoff: 0.5 s at least).
        self.server.sms(phone, "two")
        self.assertTrue(wait_until(lambda: len(self.sent_to(phone)) == 3, 30))
        self.assertEqual([m["Body"] for m in self.sent_to(phone)],
                         ["echo: zero", "echo: one", "echo: two"])

        def history(call):
            return [(h["direction"], h["body"]) for h in call["history"]]

        one = calls("one")
        self.assertEqual(len(one), 2)  # the failed call and its retry
        for call in one:
            self.assertEqual(history(call), [("inbound", "zero"), ("outbound", "echo: zero")])
        self.assertEqual(history(calls("two")[-1]),
                         [("inbound", "zero"), ("outbound", "echo: zero"), ("inbound", "one"),
                          ("outbound", "echo: one")])


class TestRestFairness(RestTest):
    send_rate = "5"

    def test_a_flooding_user_does_not_hold_back_quiet_users(self):
        flooder = new_phone()
        self.server.add_user("Flood", [flooder])
        quiet = [new_phone() for _ in range(10)]
        for i, p in enumerate(quiet):
            self.server.add_user("Quiet%d" % i, [p])
        for k in range(40):
            self.assertEmptyTwiml(self.server.sms(flooder, "flood %d" % k))
        time.sleep(1.0)
        before = len(self.twilio.sent())
        for p in quiet:
            self.assertEmptyTwiml(self.server.sms(p, "just one"))
        ok = wait_until(lambda: all(self.sent_to(p) for p in quiet), 20)
        self.assertTrue(ok, "quiet users' replies did not go out")
        order = [m["To"] for m in self.twilio.sent()]
        for p in quiet:
            slot = order.index(p) - before
            # Round robin: at most one flooder reply per quiet reply ahead of it, plus
            # the one in flight.
            self.assertLessEqual(slot, 12, (p, slot, order[before:before + 15]))
        self.assertLess(len(self.sent_to(flooder)), 40)


class TestRestCrash(RestTest):
    agent_latency_ms = 800

    def test_kill_9_during_delivery_loses_nothing_and_sends_nothing_twice(self):
        phones = [new_phone() for _ in range(5)]
        for i, p in enumerate(phones):
            self.server.add_user("K%d" % i, [p])
        for k in range(3):
            for p in phones:
                r = self.server.sms(p, "%s n%d" % (p, k))
                self.assertEmptyTwiml(r)
        time.sleep(1.2)  # some replies sent, some agent calls in flight
        self.server.kill9()
        self.server.start()
        ok = wait_until(lambda: len(self.twilio.sent()) >= 15, 40, step=0.25)
        self.assertTrue(ok, "after restart only %d of 15 replies" % len(self.twilio.sent()))
        time.sleep(1)
        bodies = [m["Body"] for m in self.twilio.sent()]
        self.assertEqual(len(bodies), 15, bodies)
        self.assertEqual(len(set(bodies)), 15, "a reply was sent twice")
        for p in phones:
            self.assertEqual([m["Body"] for m in self.sent_to(p)],
                             ["echo: %s n%d" % (p, k) for k in range(3)])
        # Every message reached the agent (at least once: a call cut off by the kill is
        # made again, with the same MessageSid for the Agent Core to recognise).
        seen = {r["body"]["message"]["body"] for r in self.agent.requests()}
        self.assertEqual(len(seen), 15)


if __name__ == "__main__":
    import unittest
    unittest.main()


class TestRestDeleteDuringTheCall(RestTest):
    """A user deleted while the delivery worker's agent call runs (issue 18): the reply is
    neither stored nor sent, the outbox keeps nothing of theirs, usage does not list them."""
    agent_latency_ms = 1500

    def test_the_reply_of_a_user_deleted_during_the_call_is_dropped(self):
        phone = new_phone()
        user = self.server.add_user("Gone", [phone])
        self.assertEmptyTwiml(self.server.sms(phone, "my own words"))
        self.assertTrue(wait_until(lambda: self.agent.requests(), 10), "no agent call")
        self.assertEqual(self.server.admin("DELETE", "/users/" + user["id"]).status, 204)
        time.sleep(2.5)  # the agent answers (1.5 s), the worker stores what it may
        self.assertEqual(self.sent_to(phone), [])
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertNotIn(user["id"], [row["user_id"] for row in usage["users"]])
        r = self.server.request("GET", "/metrics").text
        self.assertRegex(r, r"(?m)^smsrouter_outbox_depth 0$")
