"""Events (SMSROUTER_EVENTS_URL): rest replies' status changes and opt-outs POSTed to a
local receiver, signed, in order per user, retried with the same id, kept across a
restart while the receiver is down; and serve's refusal of an unsigned configuration."""

import re
import time

from harness import ServerTest, free_port, new_phone
from standins import AGENT_SECRET, EventsReceiver, wait_until
from test_rest import RestTest

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def metric(server, name):
    r = server.request("GET", "/metrics")
    for line in r.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class EventsTest(RestTest):
    receiver_fail = 0
    receiver_port = 0

    def setUp(self):
        self.receiver = self.start_receiver()
        super().setUp()

    def start_receiver(self):
        r = EventsReceiver(fail=self.receiver_fail, port=self.receiver_port)
        self.addCleanup(r.close)
        return r

    def env(self, port):
        e = super().env(port)
        e["SMSROUTER_EVENTS_URL"] = "http://127.0.0.1:%d/events" % self.receiver.port
        return e

    def events_of(self, user_id, n, timeout=20):
        """The first n events the receiver accepted for user_id (asserting they came)."""
        got = wait_until(lambda: len(self.mine(user_id)) >= n and self.mine(user_id), timeout)
        self.assertTrue(got, "events for %s: %r" % (user_id, self.mine(user_id)))
        return got[:n]

    def mine(self, user_id):
        return [e for e in self.receiver.events() if e["user"]["id"] == user_id]

    def reply_sent(self, phone, body):
        """Sends body from phone; the reply's message as the Messages API got it."""
        self.assertEmptyTwiml(self.server.sms(phone, body))
        got = wait_until(lambda: self.sent_to(phone), 15)
        self.assertTrue(got, "no reply sent")
        return got[-1]


class TestEventsDelivery(EventsTest):
    receiver_fail = 2

    def test_status_changes_arrive_in_order_with_the_same_id_on_every_retry(self):
        phone = new_phone()
        user = self.server.add_user("Eve", [phone])
        m = self.reply_sent(phone, "hello")
        self.assertEqual(self.twilio.callback(m["sid"], "sent"), 204)
        self.assertEqual(self.twilio.callback(m["sid"], "delivered"), 204)
        self.assertEqual(self.twilio.callback(m["sid"], "sent"), 204)  # backwards: nothing
        events = self.events_of(user["id"], 3)
        self.assertEqual([e["message"]["status"] for e in events],
                         ["queued", "sent", "delivered"])
        for e in events:
            self.assertEqual(e["type"], "message.status")
            self.assertEqual(set(e), {"id", "type", "at", "user", "message"})
            self.assertEqual(e["user"], {"id": user["id"]})
            self.assertRegex(e["at"], RFC3339)
            self.assertEqual(e["message"]["sid"], m["sid"])
            self.assertIsNone(e["message"]["error_code"])
            self.assertEqual(e["message"]["id"], events[0]["message"]["id"])
        self.assertEqual(len({e["id"] for e in events}), 3)
        # The receiver failed the first two attempts: the first event came three times,
        # the same body (the same id) each time, and nothing overtook it.
        attempts = self.receiver.attempts()
        self.assertTrue(all(a["signed"] for a in attempts), attempts)
        self.assertTrue(all(a["content_type"] == "application/json" for a in attempts))
        self.assertEqual([a["status"] for a in attempts[:3]], [500, 500, 200])
        self.assertEqual(len({a["body"] for a in attempts[:3]}), 1)
        self.assertIn('"id":"%s"' % events[0]["id"], attempts[0]["body"])
        time.sleep(0.5)
        self.assertEqual(len(self.mine(user["id"])), 3)  # the backwards callback made none
        self.assertGreaterEqual(metric(self.server, "smsrouter_events_retries_total"), 2)
        self.assertGreaterEqual(metric(self.server, "smsrouter_events_delivered_total"), 3)
        self.assertEqual(metric(self.server, "smsrouter_events_failed_total"), 0)
        self.assertEqual(metric(self.server, "smsrouter_events_pending"), 0)
        self.assertTrue(self.server.wait_log("events.retry"))

    def test_an_error_code_is_carried_and_users_do_not_wait_for_each_other(self):
        phones = [new_phone() for _ in range(3)]
        users = [self.server.add_user("U%d" % i, [p]) for i, p in enumerate(phones)]
        sent = [self.reply_sent(p, "hi") for p in phones]
        for m in sent:
            self.assertEqual(self.twilio.callback(m["sid"], "undelivered", "30003"), 204)
        for u in users:
            events = self.events_of(u["id"], 2)
            self.assertEqual([e["message"]["status"] for e in events],
                             ["queued", "undelivered"])
            self.assertEqual(events[1]["message"]["error_code"], "30003")


class TestEventsOptOut(EventsTest):
    def test_stop_and_start_are_delivered_with_the_number(self):
        phone = new_phone()
        user = self.server.add_user("Opt", [phone])
        self.server.sms(phone, "STOP")
        self.server.sms(phone, "STOP")  # no change: no event
        self.server.sms(phone, "START")
        events = self.events_of(user["id"], 2)
        self.assertEqual([e["type"] for e in events], ["user.opted_out", "user.opted_in"])
        for e in events:
            self.assertEqual(set(e), {"id", "type", "at", "user", "phone"})
            self.assertEqual(e["phone"], phone)
        time.sleep(0.5)
        self.assertEqual(len(self.mine(user["id"])), 2)
        # Logs never hold the number whole.
        self.assertFalse([l for l in self.server.log_lines() if phone in l])


class TestEventsReceiverDown(EventsTest):
    receiver_port = free_port()

    def test_events_survive_a_restart_while_the_receiver_is_down(self):
        self.receiver.close()
        phone = new_phone()
        user = self.server.add_user("Down", [phone])
        self.server.sms(phone, "STOP")
        self.assertTrue(self.server.wait_log("events.retry", timeout=10))
        self.assertEqual(metric(self.server, "smsrouter_events_pending"), 1)
        # A down receiver does not slow routing.
        t0 = time.monotonic()
        self.server.sms(phone, "START")
        self.assertLess(time.monotonic() - t0, 2)
        self.server.restart()
        self.assertEqual(metric(self.server, "smsrouter_events_pending"), 2)
        self.receiver = self.start_receiver()
        events = self.events_of(user["id"], 2, timeout=40)
        self.assertEqual([e["type"] for e in events], ["user.opted_out", "user.opted_in"])
        self.assertTrue(wait_until(
            lambda: metric(self.server, "smsrouter_events_pending") == 0, 5))


class TestEventsWrongSecret(EventsTest):
    def env(self, port):
        e = super().env(port)
        e["SMSROUTER_AGENT_SECRET"] = "not-the-receivers-secret"
        e.pop("SMSROUTER_AGENT_URL")  # the Agent Core checks the secret too: the memo agent
        return e

    def test_a_receiver_refuses_a_wrong_signature_and_it_is_retried(self):
        phone = new_phone()
        self.server.add_user("Sig", [phone])
        self.server.sms(phone, "STOP")
        self.assertTrue(wait_until(lambda: len(self.receiver.attempts()) >= 2, 10))
        attempts = self.receiver.attempts()
        self.assertFalse(any(a["signed"] for a in attempts))
        self.assertEqual({a["status"] for a in attempts}, {401})
        self.assertEqual(self.receiver.events(), [])
        self.assertEqual(len({a["body"] for a in attempts}), 1)


class TestEventsConfig(ServerTest):
    start_server = False

    def refusal(self, env):
        srv = self.make_server(start=False, env=env)
        code, out, err = srv.cli("serve", timeout=20)
        self.assertNotEqual(code, 0, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        return err

    def test_an_events_url_without_a_secret_is_refused(self):
        err = self.refusal({"SMSROUTER_EVENTS_URL": "http://127.0.0.1:9/events"})
        self.assertIn("SMSROUTER_EVENTS_URL is set but SMSROUTER_AGENT_SECRET is not", err)

    def test_an_events_url_that_is_not_http_is_refused(self):
        err = self.refusal({"SMSROUTER_EVENTS_URL": "ftp://127.0.0.1/events",
                            "SMSROUTER_AGENT_SECRET": AGENT_SECRET})
        self.assertIn("SMSROUTER_EVENTS_URL must be an http:// or https:// URL.", err)


class TestProactiveEvents(EventsTest):
    """Messages smsrouter starts itself tell every status change after the 202, in order
    with the user's other events: Twilio's callbacks, a cancel, and a suppression."""

    def env(self, port):
        from harness import TWILIO_NUMBER
        e = super().env(port)
        e.update({"TWILIO_FROM": TWILIO_NUMBER, "SMSROUTER_QUIET_HOURS": "off",
                  "SMSROUTER_PROACTIVE_LIMIT": "0"})
        return e

    def send(self, user_id, body, **fields):
        r = self.server.admin("POST", "/users/%s/messages" % user_id,
                              json_body=dict(body=body, **fields))
        self.assertEqual(r.status, 202, r.body)
        return r.json()

    def test_sent_delivered_canceled_opted_out_and_suppressed_in_order(self):
        phone = new_phone()
        user = self.server.add_user("Pia", [phone])
        first = self.send(user["id"], "your package arrived")
        got = wait_until(lambda: self.sent_to(phone), 15)
        self.assertTrue(got, "the proactive message was not sent")
        self.assertEqual(self.twilio.callback(got[0]["sid"], "sent"), 204)
        self.assertEqual(self.twilio.callback(got[0]["sid"], "delivered"), 204)
        later = time.time() + 3600
        scheduled = self.send(user["id"], "tomorrow",
                              send_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(later)))
        r = self.server.admin("DELETE", "/users/%s/messages/%s" % (user["id"], scheduled["id"]))
        self.assertEqual(r.status, 204, r.body)
        soon = self.send(user["id"], "in a moment", send_at=time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3)))
        self.server.sms(phone, "STOP")
        events = self.events_of(user["id"], 5, timeout=30)
        self.assertEqual([(e["type"], (e.get("message") or {}).get("status")) for e in events],
                         [("message.status", "sent"), ("message.status", "delivered"),
                          ("message.status", "canceled"), ("user.opted_out", None),
                          ("message.status", "suppressed")])
        self.assertEqual([e["message"]["id"] for e in events if "message" in e],
                         [first["id"], first["id"], scheduled["id"], soon["id"]])
        self.assertEqual(events[0]["message"]["sid"], got[0]["sid"])
        self.assertIsNone(events[2]["message"]["sid"])
        self.assertEqual(len(self.sent_to(phone)), 1, "nothing after the STOP")
