"""Proactive messages: POST /sms-router/admin/users/{id}/messages (the agent or an
operator speaks first), GET and DELETE of one message, the send token, idempotency keys,
the proactive limit, replies (reply_to) ahead of every proactive message, kill -9 while
a send is in flight, two routers on PostgreSQL, and the send/scheduled/cancel commands.
Quiet hours are in test_quiet_hours.py. Every send is observed at the Messages API
stand-in (tests/standins/twilio_api.py)."""

import concurrent.futures
import threading
import time
import unittest

from harness import (PG_DIR, PG_URL, TWILIO_NUMBER, drop_pg_database,
                     new_phone, new_pg_database, pg_database_url)
from proactive import (SEND_TOKEN, ProactiveTest, parse_time, q, rfc3339)
from standins import wait_until

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


class TestProactiveRefusals(ProactiveTest):
    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ada", [self.phone])["id"]
        self.other_phone = new_phone()
        self.other = self.server.add_user("Bob", [self.other_phone])["id"]

    def test_each_bad_request_is_refused_stores_nothing_and_sends_nothing(self):
        other_inbound = self.inbound_id(self.other, self.other_phone)
        now = time.time()
        ok = {"body": "fine"}
        cases = [
            ({"body": "x" * 1601}, 422, "invalid_body"),
            ({"body": "é" * 1601}, 422, "invalid_body"),
            ({"body": ""}, 422, "invalid_body"),
            ({"body": "", "media": []}, 422, "invalid_body"),
            ({"body": 5}, 422, "invalid_body"),
            (dict(ok, media=["https://example.com/m%d.jpg" % i for i in range(11)]), 422,
             "invalid_media"),
            (dict(ok, media=["ftp://example.com/a.jpg"]), 422, "invalid_media"),
            (dict(ok, media=["https://example.com/a.jpg", "ftp://example.com/b.jpg"]), 422,
             "invalid_media"),
            (dict(ok, media="https://example.com/a.jpg"), 422, "invalid_media"),
            (dict(ok, send_at=rfc3339(now + 36 * 86400)), 422, "invalid_send_at"),
            (dict(ok, send_at="tomorrow"), 422, "invalid_send_at"),
            (dict(ok, send_at="2026-13-01T00:00:00Z"), 422, "invalid_send_at"),
            (dict(ok, send_at=rfc3339(now + 3600)[:-1]), 422, "invalid_send_at"),  # no offset
            (dict(ok, send_at=12345), 422, "invalid_send_at"),
            (dict(ok, to=self.other_phone), 422, "invalid_to"),
            (dict(ok, to=new_phone()), 422, "invalid_to"),
            (dict(ok, to="123"), 422, "invalid_to"),
            (dict(ok, channel="fax"), 422, "invalid_channel"),
            (dict(ok, reply_to=other_inbound), 404, "not_found"),
            (dict(ok, reply_to=UNKNOWN_ID), 404, "not_found"),
        ]
        users = (self.uid, self.other)
        for obj, status, code in cases:
            with self.subTest(obj=str(obj)[:120]):
                self.assertRefused(self.uid, status, code, obj=obj, users=users)
        # Malformed bodies and unknown keys: 400.
        self.assertRefused(self.uid, 400, obj={"body": "x", "colour": "blue"}, users=users)
        for raw in [b"{", b"[]", b"", b'"x"', b"null", b'{"body": "x",}']:
            with self.subTest(raw=raw):
                self.assertRefused(self.uid, 400, raw=raw, users=users)
        # No such user.
        self.assertRefused(UNKNOWN_ID, 404, "not_found", obj=ok, users=users)
        # No token, a wrong token.
        self.assertRefused(self.uid, 401, obj=ok, token=None, users=users)
        self.assertRefused(self.uid, 401, obj=ok, token="wrong-token", users=users)
        # A bad Idempotency-Key.
        for key in ["", "x" * 256, "a b", "tab\there", "é".encode("utf-8"),
                    "ключ".encode("utf-8")]:
            with self.subTest(key=key):
                self.assertRefused(self.uid, 422, "invalid_idempotency_key", obj=ok, key=key,
                                   users=users)
        # Nothing of all this reached Twilio.
        time.sleep(1.0)
        self.assertEqual(self.twilio.attempts(), [])

    def test_an_opted_out_number_is_409_and_the_users_other_phone_is_not(self):
        second = new_phone()
        r = self.server.admin("POST", "/users/%s/phones" % self.uid, {"phone": second})
        self.assertEqual(r.status, 201, r.body)
        r = self.server.sms(self.phone, "STOP")
        self.assertEqual(r.status, 200, r.body)
        self.assertRefused(self.uid, 409, "opted_out", obj={"body": "are you there?"})
        self.assertRefused(self.uid, 409, "opted_out", obj={"body": "to the first",
                                                            "to": self.phone})
        m = self.send(self.uid, {"body": "to the second", "to": second})
        self.assertMessage(m, self.uid, second, "to the second", status="queued")
        self.wait_sent(second)
        time.sleep(0.5)
        self.assertEqual(self.sent_to(self.phone), [])
        self.assertEqual(self.attempts_to(self.phone), [])
        # START: sends to it are allowed again.
        self.assertEqual(self.server.sms(self.phone, "START").status, 200)
        self.send(self.uid, {"body": "welcome back"})
        self.assertEqual(self.wait_sent(self.phone)[0]["Body"], "welcome back")

    def test_whatsapp_without_a_session_window_is_409_and_auto_is_sms(self):
        self.assertRefused(self.uid, 409, "outside_whatsapp_window",
                           obj={"body": "hi", "channel": "whatsapp"})
        m = self.send(self.uid, {"body": "auto", "channel": "auto"})
        self.assertEqual(m["channel"], "sms")
        m = self.send(self.uid, {"body": "sms", "channel": "sms"})
        self.assertEqual(m["channel"], "sms")
        self.assertEqual(sorted(x["To"] for x in self.wait_sent(self.phone, 2)),
                         [self.phone, self.phone])


class TestProactiveSendingDisabled(ProactiveTest):
    def check_disabled(self, env):
        srv = self.start_proactive(env=env)
        phone = new_phone()
        uid = srv.add_user("Ada", [phone])["id"]
        before = self.ids(uid, server=srv)
        r = self.post(uid, {"body": "hello"}, server=srv)
        j = self.assertJsonError(r, 409)
        self.assertEqual(j["error"], "sending_disabled", j)
        self.assertEqual(self.ids(uid, server=srv), before)
        # The CLI refuses it too, with exit 1 and one sentence.
        code, out, err = srv.cli("send", uid, "--body", "hello")
        self.assertEqual((code, out), (1, ""), err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(self.ids(uid, server=srv), before)

    def test_without_twilio_from_it_is_409_sending_disabled(self):
        self.server.stop()
        self.check_disabled({"TWILIO_FROM": None})
        time.sleep(0.5)
        self.assertEqual(self.twilio.attempts(), [])

    def test_without_an_account_sid_it_is_409_sending_disabled(self):
        self.server.stop()
        self.check_disabled({"TWILIO_ACCOUNT_SID": None})
        time.sleep(0.5)
        self.assertEqual(self.twilio.attempts(), [])


class TestProactiveLimit(ProactiveTest):
    extra_env = {"SMSROUTER_PROACTIVE_LIMIT": "2/day"}

    def test_past_the_limit_429_with_retry_after_but_replies_and_repeats_pass(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        other_phone = new_phone()
        other = self.server.add_user("Bob", [other_phone])["id"]
        inbound = self.inbound_id(uid, phone)
        first = self.send(uid, {"body": "one"}, key="k-one")
        self.send(uid, {"body": "two"})
        r = self.assertRefused(uid, 429, "proactive_limit", obj={"body": "three"})
        ra = r.header("Retry-After")
        self.assertIsNotNone(ra, r.headers)
        self.assertRegex(ra, r"^\d+$")
        self.assertTrue(0 < int(ra) <= 86400, ra)
        # Scheduled for later counts too: still refused.
        self.assertRefused(uid, 429, "proactive_limit",
                           obj={"body": "later", "send_at": rfc3339(time.time() + 3600)})
        # A repeat of the first request is answered with the first message, not refused.
        r = self.post(uid, {"body": "one"}, key="k-one")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["id"], first["id"])
        # A reply never counts and is never refused by the limit.
        rep = self.send(uid, {"body": "a reply", "reply_to": inbound})
        self.assertMessage(rep, uid, phone, "a reply", kind="reply", status="queued")
        rep2 = self.send(uid, {"body": "another reply", "reply_to": inbound})
        self.assertEqual(rep2["kind"], "reply")
        # Another user has a limit of their own.
        self.send(other, {"body": "for Bob"})
        self.wait_sent(phone, 4)
        self.wait_sent(other_phone, 1)
        time.sleep(0.5)
        self.assertEqual(sorted(self.bodies_to(phone)),
                         sorted(["one", "two", "a reply", "another reply"]))
        self.assertEqual(len(self.attempts_to(phone)), 4)


class TestSendToken(ProactiveTest):
    def test_the_send_token_may_send_get_and_delete_messages_and_nothing_else(self):
        phone = new_phone()
        user = self.server.add_user("Ada", [phone])
        uid = user["id"]
        m = self.post(uid, {"body": "via the send token"}, token=SEND_TOKEN)
        self.assertEqual(m.status, 202, m.body)
        m = m.json()
        self.assertMessage(m, uid, phone, "via the send token")
        r = self.get(uid, m["id"], token=SEND_TOKEN)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["id"], m["id"])
        later = self.post(uid, {"body": "later", "send_at": rfc3339(time.time() + 3600)},
                          token=SEND_TOKEN)
        self.assertEqual(later.status, 202, later.body)
        r = self.delete(uid, later.json()["id"], token=SEND_TOKEN)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.get_ok(uid, later.json()["id"])["status"], "canceled")

        before = self.ids(uid)
        for method, path, body in [
                ("GET", "/users", None),
                ("GET", "/users?phone=" + q(phone), None),
                ("GET", "/users/" + uid, None),
                ("GET", "/users/%s/messages" % uid, None),
                ("GET", "/usage?since=2000-01-01T00:00:00Z", None),
                ("POST", "/users", {"name": "Eve", "phones": [new_phone()]}),
                ("PATCH", "/users/" + uid, {"name": "Changed"}),
                ("POST", "/users/%s/phones" % uid, {"phone": new_phone()}),
                ("DELETE", "/users/%s/phones/%s" % (uid, q(phone)), None),
                ("DELETE", "/users/" + uid, None)]:
            with self.subTest(method=method, path=path):
                r = self.server.admin(method, path, body, token=SEND_TOKEN)
                self.assertJsonError(r, 401)
        # Nothing changed.
        r = self.server.admin("GET", "/users/" + uid)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["name"], r.json()["phones"]), ("Ada", [phone]))
        self.assertEqual(self.ids(uid), before)
        self.assertEqual(self.server.admin("GET", "/users?q=Eve").json()["users"], [])

    def test_another_users_message_is_404_to_get_and_delete(self):
        pa, pb = new_phone(), new_phone()
        a = self.server.add_user("Ada", [pa])["id"]
        b = self.server.add_user("Bob", [pb])["id"]
        m = self.send(a, {"body": "Ada's", "send_at": rfc3339(time.time() + 3600)})
        for token in (True, SEND_TOKEN):
            with self.subTest(token=token):
                self.assertJsonError(self.get(b, m["id"], token=token), 404)
                self.assertJsonError(self.delete(b, m["id"], token=token), 404)
                self.assertJsonError(self.get(a, UNKNOWN_ID, token=token), 404)
                self.assertJsonError(self.delete(a, UNKNOWN_ID, token=token), 404)
                self.assertJsonError(self.get(UNKNOWN_ID, m["id"], token=token), 404)
        self.assertEqual(self.get_ok(a, m["id"])["status"], "scheduled")
        for token in (None, "wrong-token"):
            self.assertJsonError(self.get(a, m["id"], token=token), 401)
            self.assertJsonError(self.delete(a, m["id"], token=token), 401)
        self.assertEqual(self.get_ok(a, m["id"])["status"], "scheduled")


class TestProactiveDelivery(ProactiveTest):
    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ada", [self.phone])["id"]

    def test_202_then_one_send_then_statuses_forward_to_delivered(self):
        t0 = time.time()
        r = self.post(self.uid, {"body": "Your appointment is at 3 pm."})
        self.assertEqual(r.status, 202, r.body)
        self.assertTrue(r.header("Content-Type").startswith("application/json"), r.headers)
        m = r.json()
        self.assertMessage(m, self.uid, self.phone, "Your appointment is at 3 pm.",
                           status="queued")
        self.assertIsNone(m["sid"])
        self.assertNow(m["send_at"], what="send_at")
        self.assertNow(m["created_at"], what="created_at")
        self.assertEqual(m["not_before"], m["send_at"])
        self.assertGreaterEqual(parse_time(m["created_at"]), int(t0) - 1)
        seen = [m["status"]]
        sent = self.wait_sent(self.phone)
        self.assertEqual(len(sent), 1)
        s = sent[0]
        self.assertEqual((s["From"], s["To"], s["Body"]),
                         (TWILIO_NUMBER, self.phone, "Your appointment is at 3 pm."))
        self.assertNotIn("MediaUrl", s)
        got = self.wait_status(self.uid, m["id"], lambda x: x["sid"] is not None)
        self.assertEqual(got["sid"], s["sid"])
        self.assertMessage(got, self.uid, self.phone, "Your appointment is at 3 pm.")
        self.assertEqual((got["id"], got["send_at"], got["not_before"], got["created_at"]),
                         (m["id"], m["send_at"], m["not_before"], m["created_at"]))
        seen.append(got["status"])
        # Twilio's status callbacks, signed by the stand-in as Twilio signs them.
        self.assertTrue(s.get("StatusCallback"), "the send carries no StatusCallback: %r" % s)
        self.assertIn("/sms-router/webhook/status", s["StatusCallback"])
        for st in ("sent", "delivered", "sent", "queued"):
            self.assertIn(self.twilio.callback(s["sid"], st), (200, 204))
            seen.append(self.get_ok(self.uid, m["id"])["status"])
        self.assertEqual(seen[-3:], ["delivered"] * 3)
        self.assertForward(seen)
        # It is in the user's list too, under the same id.
        listed = [x for x in self.server.messages(self.uid) if x["id"] == m["id"]]
        self.assertEqual(len(listed), 1)
        self.assertEqual((listed[0]["sid"], listed[0]["status"], listed[0]["direction"]),
                         (s["sid"], "delivered", "outbound"))
        time.sleep(0.5)
        self.assertEqual(len(self.attempts_to(self.phone)), 1)

    def test_a_callback_signed_by_hand_finds_it_by_sid(self):
        m = self.send(self.uid, {"body": "by sid"})
        s = self.wait_sent(self.phone)[0]
        self.wait_status(self.uid, m["id"], lambda x: x["sid"] == s["sid"])
        r = self.server.status(s["sid"], "delivered", to=self.phone)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.get_ok(self.uid, m["id"])["status"], "delivered")

    def test_media_goes_out_as_media_urls_and_an_empty_body_is_allowed_with_media(self):
        media = ["https://example.com/a.jpg", "https://example.com/b.png?x=1&y=2"]
        m = self.send(self.uid, {"body": "", "media": media})
        self.assertMessage(m, self.uid, self.phone, "", media=media)
        m2 = self.send(self.uid, {"body": "with ten", "media": [
            "http://example.com/%d.jpg" % i for i in range(10)]})
        self.assertEqual(len(m2["media"]), 10)
        sent = self.wait_sent(self.phone, 2)
        by_body = {x.get("Body", ""): x for x in sent}
        self.assertEqual(by_body[""]["MediaUrls"], media)
        self.assertEqual(by_body["with ten"]["MediaUrls"],
                         ["http://example.com/%d.jpg" % i for i in range(10)])
        got = self.get_ok(self.uid, m["id"])
        self.assertEqual(got["media"], media)

    def test_1600_characters_are_allowed_and_sent_whole(self):
        body = "é" * 1599 + "!"
        m = self.send(self.uid, {"body": body})
        self.assertEqual(m["body"], body)
        self.assertEqual(self.wait_sent(self.phone)[0]["Body"], body)

    def test_send_at_is_answered_in_utc_and_one_in_the_past_is_now(self):
        target = int(time.time()) + 7200
        # The same instant written with an offset of +02:00.
        import datetime
        local = datetime.datetime.fromtimestamp(
            target, datetime.timezone(datetime.timedelta(hours=2))).strftime(
            "%Y-%m-%dT%H:%M:%S+02:00")
        m = self.send(self.uid, {"body": "later", "send_at": local})
        self.assertMessage(m, self.uid, self.phone, "later", status="scheduled")
        self.assertEqual((m["send_at"], m["not_before"]), (rfc3339(target), rfc3339(target)))
        far = self.send(self.uid, {"body": "in 34 days",
                                   "send_at": rfc3339(time.time() + 34 * 86400)})
        self.assertEqual(far["status"], "scheduled")
        past = self.send(self.uid, {"body": "overdue", "send_at": "2020-01-01T00:00:00Z"})
        self.assertEqual(past["status"], "queued")
        self.assertNow(past["send_at"], what="a past send_at")
        self.assertEqual(self.wait_sent(self.phone)[0]["Body"], "overdue")
        time.sleep(1.0)
        self.assertEqual(self.bodies_to(self.phone), ["overdue"])
        self.assertEqual(self.get_ok(self.uid, m["id"])["status"], "scheduled")

    def test_to_picks_another_of_the_users_phones(self):
        second = new_phone()
        r = self.server.admin("POST", "/users/%s/phones" % self.uid, {"phone": second})
        self.assertEqual(r.status, 201, r.body)
        m = self.send(self.uid, {"body": "second phone", "to": second})
        self.assertEqual(m["to"], second)
        self.assertEqual(self.wait_sent(second)[0]["Body"], "second phone")
        self.assertEqual(self.sent_to(self.phone), [])

    def test_one_users_messages_go_out_when_due_in_the_order_they_fall_due(self):
        base = int(time.time()) + 3
        ms = [self.send(self.uid, {"body": "due +%d" % k, "send_at": rfc3339(base + k)})
              for k in (2, 1, 0)]
        for m in ms:
            self.assertEqual(m["status"], "scheduled", m)
        sent = self.wait_sent(self.phone, 3, timeout=15)
        self.assertEqual([x["Body"] for x in sent], ["due +0", "due +1", "due +2"])
        for x, k in zip(sent, (0, 1, 2)):
            self.assertGreaterEqual(x["at"], base + k, "sent before its send_at: %r" % x)
        for m in ms:
            self.wait_status(self.uid, m["id"], lambda x: x["sid"] is not None)

    def test_a_number_that_opts_out_after_the_202_is_suppressed_not_sent(self):
        m = self.send(self.uid, {"body": "soon", "send_at": rfc3339(time.time() + 3)})
        self.assertEqual(m["status"], "scheduled")
        self.assertEqual(self.server.sms(self.phone, "STOP").status, 200)
        got = self.wait_status(self.uid, m["id"], lambda x: x["status"] == "suppressed",
                               timeout=15)
        self.assertIsNone(got["sid"])
        time.sleep(1.0)
        self.assertEqual(self.attempts_to(self.phone), [])
        self.assertEqual(self.get_ok(self.uid, m["id"])["status"], "suppressed")


class TestProactiveCancel(ProactiveTest):
    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ada", [self.phone])["id"]

    def test_delete_of_a_scheduled_message_is_204_and_it_is_never_sent(self):
        due = int(time.time()) + 3
        m = self.send(self.uid, {"body": "never", "send_at": rfc3339(due)})
        keep = self.send(self.uid, {"body": "kept", "send_at": rfc3339(due)})
        r = self.delete(self.uid, m["id"])
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        got = self.get_ok(self.uid, m["id"])
        self.assertEqual((got["status"], got["sid"]), ("canceled", None))
        self.wait_sent(self.phone, 1, timeout=15)
        time.sleep(1.5)
        self.assertEqual(self.bodies_to(self.phone), ["kept"])
        self.assertEqual(self.get_ok(self.uid, m["id"])["status"], "canceled")
        self.wait_status(self.uid, keep["id"], lambda x: x["sid"] is not None)

    def test_delete_after_the_send_is_409_already_sent(self):
        m = self.send(self.uid, {"body": "gone already"})
        s = self.wait_sent(self.phone)[0]
        got = self.wait_status(self.uid, m["id"], lambda x: x["sid"] == s["sid"])
        r = self.delete(self.uid, m["id"])
        j = self.assertJsonError(r, 409)
        self.assertEqual(j["error"], "already_sent")
        after = self.get_ok(self.uid, m["id"])
        self.assertEqual((after["status"], after["sid"]), (got["status"], s["sid"]))
        self.assertNotEqual(after["status"], "canceled")

    def test_a_deleted_users_scheduled_message_is_never_sent(self):
        due = int(time.time()) + 3
        self.send(self.uid, {"body": "for a user who is gone", "send_at": rfc3339(due)})
        other_phone = new_phone()
        other = self.server.add_user("Bob", [other_phone])["id"]
        self.send(other, {"body": "for Bob", "send_at": rfc3339(due)})
        r = self.server.admin("DELETE", "/users/" + self.uid)
        self.assertEqual(r.status, 204, r.body)
        self.wait_sent(other_phone, timeout=15)
        time.sleep(1.5)
        self.assertEqual(self.attempts_to(self.phone), [])


class TestProactiveIdempotency(ProactiveTest):
    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ada", [self.phone])["id"]

    def test_20_concurrent_requests_with_one_key_make_one_message_and_one_send(self):
        barrier = threading.Barrier(20)

        def one(_):
            barrier.wait(10)
            return self.post(self.uid, {"body": "exactly once"}, key="order-4711")

        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            answers = list(ex.map(one, range(20)))
        statuses = sorted(r.status for r in answers)
        self.assertEqual(statuses, [200] * 19 + [202], [r.body for r in answers])
        ids = {r.json()["id"] for r in answers}
        self.assertEqual(len(ids), 1, ids)
        self.assertEqual([m["id"] for m in self.server.messages(self.uid)], list(ids))
        self.wait_sent(self.phone)
        time.sleep(1.5)
        self.assertEqual(self.bodies_to(self.phone), ["exactly once"])
        self.assertEqual(len(self.attempts_to(self.phone)), 1)

    def test_a_repeat_answers_200_with_the_first_message_and_another_body_is_409(self):
        first = self.send(self.uid, {"body": "hello"}, key="k1")
        self.wait_sent(self.phone)
        r = self.post(self.uid, {"body": "hello"}, key="k1")
        self.assertEqual(r.status, 200, r.body)
        again = r.json()
        self.assertEqual(again["id"], first["id"])
        self.assertEqual((again["body"], again["created_at"]), ("hello", first["created_at"]))
        self.assertRefused(self.uid, 409, "idempotency_conflict", obj={"body": "goodbye"},
                           key="k1")
        # The key is the user's: another user may use it.
        other_phone = new_phone()
        other = self.server.add_user("Bob", [other_phone])["id"]
        o = self.send(other, {"body": "hello"}, key="k1")
        self.assertNotEqual(o["id"], first["id"])
        # The longest key is fine; another key is another message.
        self.send(self.uid, {"body": "long key"}, key="K" * 255)
        self.send(self.uid, {"body": "hello"}, key="k2")
        self.wait_sent(other_phone)
        self.wait_sent(self.phone, 3)
        time.sleep(1.0)
        self.assertEqual(sorted(self.bodies_to(self.phone)), ["hello", "hello", "long key"])
        self.assertEqual(len(self.ids(self.uid)), 3)


class TestProactiveBurst(ProactiveTest):
    """Many sends at once: the server stores the sends waiting at one moment together (one
    transaction, one fsync), and each must still get the answer it would get alone."""
    extra_env = {"SMSROUTER_PROACTIVE_LIMIT": "3/day"}

    def burst(self, calls):
        """Runs calls (each a function making one request) at once; their answers."""
        barrier = threading.Barrier(len(calls))

        def one(call):
            barrier.wait(10)
            return call()

        with concurrent.futures.ThreadPoolExecutor(len(calls)) as ex:
            return list(ex.map(one, calls))

    def later(self, body):
        return {"body": body, "send_at": rfc3339(time.time() + 3600)}

    def test_a_burst_past_the_limit_is_exactly_the_limit_in_202s_and_the_rest_429(self):
        users = [self.server.add_user("U%d" % i, [new_phone()])["id"] for i in range(3)]
        owners = [u for _ in range(12) for u in users]
        answers = self.burst([lambda u=u: self.post(u, self.later("m")) for u in owners])
        for u in users:
            mine = [r for (r, owner) in zip(answers, owners) if owner == u]
            statuses = sorted(r.status for r in mine)
            self.assertEqual(statuses, [202] * 3 + [429] * 9, [r.body for r in mine])
            for r in mine:
                if r.status == 429:
                    self.assertEqual(r.json()["error"], "proactive_limit")
                    self.assertRegex(r.header("Retry-After") or "", r"^[1-9]\d*$")
            accepted = sorted(r.json()["id"] for r in mine if r.status == 202)
            self.assertEqual(self.ids(u), accepted)

    def test_refusals_in_a_burst_leave_the_others_stored_each_once(self):
        stopped = new_phone()
        opted = self.server.add_user("Opted", [stopped])["id"]
        self.assertEqual(self.server.sms(stopped, "STOP").status, 200)
        users = [self.server.add_user("U%d" % i, [new_phone()])["id"] for i in range(3)]
        calls, expect = [], []
        for i in range(8):
            for u in users:
                calls.append(lambda u=u, i=i: self.post(u, self.later("%s %d" % (u, i))
                                                        if i < 2 else self.later("keyed"),
                                                        key=None if i < 2 else "same-key"))
                expect.append((u, 202 if i < 2 else None))
            bad = [(lambda: self.post(opted, self.later("stopped")), 409, "opted_out"),
                   (lambda: self.post(users[0], dict(self.later("r"), reply_to=UNKNOWN_ID)),
                    404, "not_found"),
                   (lambda: self.post(UNKNOWN_ID, self.later("nobody")), 404, "not_found"),
                   (lambda: self.post(users[1], dict(self.later("t"), to=new_phone())), 422,
                    "invalid_to"),
                   (lambda: self.post(users[2], self.later("x" * 1601)), 422, "invalid_body")]
            call, status, code = bad[i % len(bad)]
            calls.append(call)
            expect.append((None, (status, code)))
        answers = self.burst(calls)
        keyed = {u: [] for u in users}
        for r, (u, want) in zip(answers, expect):
            if u is None:
                self.assertEqual((r.status, r.json()["error"]), want, r.body)
            elif want == 202:
                self.assertEqual(r.status, 202, r.body)
            else:
                self.assertIn(r.status, (200, 202), r.body)
                keyed[u].append(r)
        for u in users:
            # The keyed requests: one 202 and five 200, all naming one message.
            self.assertEqual(sorted(r.status for r in keyed[u]), [200] * 5 + [202])
            self.assertEqual(len({r.json()["id"] for r in keyed[u]}), 1)
            bodies = sorted(m["body"] for m in self.server.messages(u)
                            if m["direction"] == "outbound")
            self.assertEqual(bodies, sorted(["%s 0" % u, "%s 1" % u, "keyed"]))
        self.assertNotIn("stopped", [m["body"] for m in self.server.messages(opted)])


class TestReplyOvertakesProactive(ProactiveTest):
    # 1,000 queued sends take 50 s at 20 a second: the reply must not wait for them.
    send_rate = "20"

    def test_a_reply_overtakes_1000_queued_proactive_messages_and_another_user_is_served(self):
        p1, p2 = new_phone(), new_phone()
        u1 = self.server.add_user("Busy", [p1])["id"]
        u2 = self.server.add_user("Other", [p2])["id"]
        inbound = self.inbound_id(u1, p1, "can you call me?")

        def one(k):
            return self.post(u1, {"body": "p%04d" % k}).status

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            statuses = list(ex.map(one, range(1000)))
        self.assertEqual(statuses, [202] * 1000)
        before = len(self.sent_to(p1))
        self.assertLess(before, 700, "the queue drained before the reply could overtake it")
        r = self.post(u1, {"body": "the reply", "reply_to": inbound})
        self.assertEqual(r.status, 202, r.body)
        rep = r.json()
        self.assertMessage(rep, u1, p1, "the reply", kind="reply", status="queued")
        self.assertTrue(wait_until(lambda: "the reply" in self.bodies_to(p1), 10),
                        "the reply was not sent within 10 s")
        order = self.bodies_to(p1)
        at = order.index("the reply")
        self.assertLessEqual(at - before, 5,
                             "the reply went out after %d proactive sends that were queued "
                             "before it" % (at - before))
        # A second user's one proactive message is not held back behind the 1,000.
        before_all = len(self.twilio.sent())
        self.send(u2, {"body": "just one"})
        self.assertTrue(wait_until(lambda: self.sent_to(p2), 10),
                        "the second user's message was not sent within 10 s")
        everything = self.twilio.sent()
        pos = [m["To"] for m in everything].index(p2)
        self.assertLessEqual(pos - before_all, 5, "sent after %d of the first user's"
                             % (pos - before_all))
        busy_done = len([m for m in everything[:pos] if m["To"] == p1])
        self.assertLess(busy_done, 1001)
        # The first user's own proactive messages went out once each, none twice.
        got = [b for b in self.bodies_to(p1) if b.startswith("p")]
        self.assertEqual(len(got), len(set(got)))


class TestProactiveCrash(ProactiveTest):
    def test_kill_9_while_the_send_is_in_flight_is_reconciled_not_sent_again(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        # The stand-in records the message, then does not answer (40 s).
        self.twilio.set_mode("slow_sent", count=1)
        m = self.send(uid, {"body": "in flight"})
        self.wait_sent(phone)
        time.sleep(0.3)
        self.server.kill9()
        self.server.start()
        s = self.sent_to(phone)[0]
        got = self.wait_status(uid, m["id"], lambda x: x["sid"] is not None, timeout=25)
        self.assertEqual(got["sid"], s["sid"])
        time.sleep(2.0)
        self.assertEqual(self.bodies_to(phone), ["in flight"])
        self.assertEqual(len(self.attempts_to(phone)), 1)
        self.assertNotIn(self.get_ok(uid, m["id"])["status"], ("scheduled", "canceled"))

    def test_kill_9_while_a_send_that_never_arrived_is_in_flight_sends_it_once(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        # The stand-in holds the request and never records it: it was not sent.
        self.twilio.set_mode("slow_unsent", count=1)
        m = self.send(uid, {"body": "lost in flight"})
        self.assertTrue(wait_until(lambda: self.attempts_to(phone), 10), "no attempt")
        time.sleep(0.3)
        self.server.kill9()
        self.server.start()
        s = self.wait_sent(phone, 1, timeout=25)[0]
        got = self.wait_status(uid, m["id"], lambda x: x["sid"] is not None, timeout=10)
        self.assertEqual(got["sid"], s["sid"])
        time.sleep(2.0)
        self.assertEqual(self.bodies_to(phone), ["lost in flight"])

    def test_an_ambiguous_500_that_did_send_is_reconciled_not_sent_again(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        self.twilio.set_mode("500_sent", count=1)
        m = self.send(uid, {"body": "once only"})
        s = self.wait_sent(phone)[0]
        got = self.wait_status(uid, m["id"], lambda x: x["sid"] is not None, timeout=25)
        self.assertEqual(got["sid"], s["sid"])
        time.sleep(1.5)
        self.assertEqual(self.bodies_to(phone), ["once only"])
        self.assertEqual(len(self.attempts_to(phone)), 1)

    def test_an_ambiguous_500_that_did_not_send_then_stop_is_suppressed_not_retried(self):
        # Reconciled as never sent, the message meets the number's STOP at its next turn:
        # it ends suppressed, once, and the sender does not keep asking Twilio about it.
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        self.twilio.set_mode("500_unsent", count=1)
        m = self.send(uid, {"body": "not after a stop"})
        self.assertTrue(wait_until(lambda: self.attempts_to(phone), 10))
        self.assertEmptyTwiml(self.server.sms(phone, "STOP"))
        self.wait_status(uid, m["id"], lambda x: x["status"] == "suppressed", timeout=25)
        time.sleep(1.5)
        self.assertEqual(self.bodies_to(phone), [])
        self.assertEqual(len(self.attempts_to(phone)), 1)

    def test_a_202_survives_kill_9(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        due = int(time.time()) + 3
        m = self.send(uid, {"body": "durable", "send_at": rfc3339(due)})
        now = self.send(uid, {"body": "durable now"})
        self.server.kill9()
        self.server.start()
        sent = self.wait_sent(phone, 2, timeout=20)
        time.sleep(1.0)
        self.assertEqual(sorted(self.bodies_to(phone)), ["durable", "durable now"])
        late = [x for x in sent if x["Body"] == "durable"][0]
        self.assertGreaterEqual(late["at"], due)
        for x in (m, now):
            self.wait_status(uid, x["id"], lambda y: y["sid"] is not None)


@unittest.skipUnless(PG_URL and PG_DIR, "needs the PostgreSQL test cluster")
class TestProactiveTwoRouters(ProactiveTest):
    send_rate = "100"

    def test_two_routers_send_500_scheduled_messages_exactly_once(self):
        self.server.stop()
        db = new_pg_database()
        self.addCleanup(drop_pg_database, db)
        url = pg_database_url(db)
        a = self.start_proactive(db_url=url)
        b = self.start_proactive(db_url=url)
        phones = [new_phone() for _ in range(50)]
        uids = [a.add_user("U%02d" % i, [p])["id"] for i, p in enumerate(phones)]
        due = int(time.time()) + 5
        jobs = [(uids[k % 50], "scheduled #%03d" % k) for k in range(500)]

        def one(job):
            return self.post(job[0], {"body": job[1], "send_at": rfc3339(due)}, server=a)

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            answers = list(ex.map(one, jobs))
        self.assertEqual([r.status for r in answers], [202] * 500,
                         [r.body for r in answers if r.status != 202][:3])
        self.assertTrue(b.running() and a.running())
        ok = wait_until(lambda: len(self.twilio.sent()) >= 500, 40, step=0.25)
        self.assertTrue(ok, "only %d of 500 sent" % len(self.twilio.sent()))
        time.sleep(3.0)
        sent = self.twilio.sent()
        bodies = [m["Body"] for m in sent]
        dups = sorted({x for x in bodies if bodies.count(x) > 1})
        self.assertEqual(dups, [], "sent more than once")
        self.assertEqual(sorted(bodies), sorted(j[1] for j in jobs))
        self.assertEqual(len(self.twilio.attempts()), 500)
        for m in sent:
            self.assertGreaterEqual(m["at"], due, "sent before its send_at: %r" % m)
        # Each router answers for every message, with its sid.
        sample = answers[0].json()
        got = self.wait_status(sample["user_id"], sample["id"], lambda x: x["sid"] is not None,
                               server=b)
        self.assertIn(got["sid"], {m["sid"] for m in sent})


class TestProactiveCli(ProactiveTest):
    def test_send_scheduled_cancel_round_trip_and_a_running_server_sends(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        other = self.server.add_user("Bob", [new_phone()])["id"]
        at = rfc3339(time.time() + 3600)
        code, out, err = self.server.cli("send", uid, "--body", "from the CLI later",
                                         "--at", at)
        self.assertEqual(code, 0, err)
        later = out.strip()
        self.assertTrue(later and len(later.splitlines()) == 1, out)
        m = self.get_ok(uid, later)
        self.assertMessage(m, uid, phone, "from the CLI later", status="scheduled")
        self.assertEqual(m["send_at"], at)

        code, out, err = self.server.cli("scheduled")
        self.assertEqual(code, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if later in l]), 1, out)
        code, out, err = self.server.cli("scheduled", "--user", uid)
        self.assertEqual(code, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if later in l]), 1, out)
        code, out, err = self.server.cli("scheduled", "--user", other)
        self.assertEqual(code, 0, err)
        self.assertNotIn(later, out)

        code, out, err = self.server.cli("cancel", uid, later)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.get_ok(uid, later)["status"], "canceled")
        code, out, err = self.server.cli("scheduled")
        self.assertEqual(code, 0, err)
        self.assertNotIn(later, out)

        # By phone, now, with media: the running server sends it.
        code, out, err = self.server.cli("send", phone, "--body", "from the CLI now",
                                         "--media", "https://example.com/a.jpg",
                                         "--media", "https://example.com/b.jpg")
        self.assertEqual(code, 0, err)
        now_id = out.strip()
        s = self.wait_sent(phone, timeout=15)
        self.assertEqual(len(s), 1)
        self.assertEqual((s[0]["Body"], s[0]["From"], s[0]["MediaUrls"]),
                         ("from the CLI now", TWILIO_NUMBER,
                          ["https://example.com/a.jpg", "https://example.com/b.jpg"]))
        got = self.wait_status(uid, now_id, lambda x: x["sid"] is not None)
        self.assertEqual(got["sid"], s[0]["sid"])
        # Cancelling a sent one: exit 1, one sentence.
        code, out, err = self.server.cli("cancel", uid, now_id)
        self.assertEqual((code, out), (1, ""), err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertNotEqual(self.get_ok(uid, now_id)["status"], "canceled")

    def test_send_with_a_key_twice_prints_the_same_id_and_sends_once(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        outs = []
        for _ in range(2):
            code, out, err = self.server.cli("send", uid, "--body", "keyed", "--key", "cli-1")
            self.assertEqual(code, 0, err)
            outs.append(out.strip())
        self.assertEqual(outs[0], outs[1])
        self.wait_sent(phone)
        time.sleep(1.0)
        self.assertEqual(self.bodies_to(phone), ["keyed"])

    def test_bad_send_arguments_exit_2_and_unknown_users_exit_1(self):
        phone = new_phone()
        uid = self.server.add_user("Ada", [phone])["id"]
        for args in [("send", uid), ("send", uid, "--body"),
                     ("send", uid, "--body", "x", "--at", "tomorrow"),
                     ("send", uid, "--body", "x", "--media", "ftp://example.com/a"),
                     ("send", uid, "--body", "x", "--colour", "blue"),
                     ("cancel", uid), ("scheduled", "--user")]:
            with self.subTest(args=args):
                code, out, err = self.server.cli(*args)
                self.assertEqual((code, out), (2, ""), err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        for args in [("send", UNKNOWN_ID, "--body", "x"), ("send", new_phone(), "--body", "x"),
                     ("cancel", uid, UNKNOWN_ID)]:
            with self.subTest(args=args):
                code, out, err = self.server.cli(*args)
                self.assertEqual((code, out), (1, ""), err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(self.ids(uid), [])
        time.sleep(0.5)
        self.assertEqual(self.twilio.attempts(), [])


if __name__ == "__main__":
    unittest.main()
