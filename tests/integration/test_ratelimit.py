"""SMSROUTER_SENDER_LIMIT: a sender over its limit gets 200 <Response/>, its message is
stored as rate_limited and not routed; opt-out words are honoured over the limit, help
words are not (a help text costs a send like any reply)."""

from harness import ServerTest, new_phone, new_sid

HELP = ("This is an automated assistant. Reply STOP to unsubscribe, START to resubscribe. "
        "Msg&data rates may apply.")


class SenderRateLimitTest(ServerTest):
    server_env = {"SMSROUTER_SENDER_LIMIT": "3/min"}

    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ann", [self.phone])["id"]
        for i in range(3):
            self.assertEqual(self.server.say(self.phone, "remember n%d" % i), "Noted.")

    def test_fourth_message_is_empty_answer_stored_rate_limited_not_routed(self):
        sid = new_sid()
        r = self.server.sms(self.phone, "remember over-the-limit", sid=sid)
        self.assertEmptyTwiml(r)
        msgs = self.server.messages(self.uid)
        self.assertEqual(len(msgs), 7)  # 3 inbound + 3 replies + the limited one
        self.assertEqual(msgs[0]["sid"], sid)
        self.assertEqual(msgs[0]["direction"], "inbound")
        self.assertEqual(msgs[0]["status"], "rate_limited")
        self.assertEqual(msgs[0]["body"], "remember over-the-limit")
        self.assertEqual(sum(m["direction"] == "outbound" for m in msgs), 3)

    def test_limited_message_is_counted_in_metrics(self):
        self.server.sms(self.phone, "recall")
        text = self.server.request("GET", "/metrics").text
        self.assertIn('smsrouter_messages_total{outcome="rate_limited"} 1', text)

    def test_stop_is_honoured_over_the_limit(self):
        self.assertEmptyTwiml(self.server.sms(self.phone, "STOP"))
        self.assertTrue(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_start_is_honoured_over_the_limit(self):
        self.assertEmptyTwiml(self.server.sms(self.phone, "STOP"))
        self.assertEmptyTwiml(self.server.sms(self.phone, "START"))
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_another_number_is_not_limited(self):
        other = new_phone()
        self.server.add_user("Bob", [other])
        for i in range(3):
            self.assertEqual(self.server.say(other, "remember b%d" % i), "Noted.")

    def test_limit_is_per_number_not_per_user(self):
        second = new_phone()
        r = self.server.admin("POST", "/users/%s/phones" % self.uid, {"phone": second})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(self.server.say(second, "recall"),
                         "Your notes:\n1. n0\n2. n1\n3. n2")

    def test_duplicate_of_a_routed_message_is_answered_over_the_limit(self):
        # A Twilio retry of an already-answered message is not a new message.
        sid = new_sid()
        srv = self.make_server(env={"SMSROUTER_SENDER_LIMIT": "1/min"})
        phone = new_phone()
        srv.add_user("Cy", [phone])
        r1 = srv.sms(phone, "remember once", sid=sid)
        r2 = srv.sms(phone, "remember once", sid=sid)
        self.assertTwiml(r1, "Noted.")
        self.assertEqual(r2.body, r1.body)


class HelpRateLimitTest(ServerTest):
    server_env = {"SMSROUTER_SENDER_LIMIT": "2/min"}

    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ann", [self.phone])["id"]

    def test_help_over_the_limit_is_empty_answer_stored_rate_limited(self):
        for i in range(2):
            self.assertEqual(self.server.say(self.phone, "remember n%d" % i), "Noted.")
        for body, extra in [("HELP", None), ("info", None),
                            ("what now", {"OptOutType": "HELP"})]:
            sid = new_sid()
            r = self.server.sms(self.phone, body, sid=sid, extra=extra)
            self.assertEmptyTwiml(r)
            newest = self.server.messages(self.uid, limit=1)[0]
            self.assertEqual((newest["sid"], newest["direction"], newest["status"]),
                             (sid, "inbound", "rate_limited"), body)
        msgs = self.server.messages(self.uid)
        self.assertEqual(sum(m["direction"] == "outbound" for m in msgs), 2)  # no help text
        text = self.server.request("GET", "/metrics").text
        self.assertIn('smsrouter_messages_total{outcome="rate_limited"} 3', text)

    def test_help_messages_use_up_the_limit(self):
        self.assertEqual(self.server.say(self.phone, "HELP"), HELP)
        self.assertEqual(self.server.say(self.phone, "INFO"), HELP)
        r = self.server.sms(self.phone, "remember after-two-helps")
        self.assertEmptyTwiml(r)
        self.assertEqual(self.server.messages(self.uid, limit=1)[0]["status"], "rate_limited")
        # Opt-out words still pass.
        self.assertEmptyTwiml(self.server.sms(self.phone, "STOP"))
        self.assertTrue(self.server.user_by_phone(self.phone).json()["opted_out"])


class RateLimitOffTest(ServerTest):
    server_env = {"SMSROUTER_SENDER_LIMIT": "0"}

    def test_zero_turns_the_limit_off(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        for i in range(40):
            self.assertEqual(self.server.say(phone, "recall" if i else "remember x"),
                             "Noted." if i == 0 else "Your notes:\n1. x")


class DefaultRateLimitTest(ServerTest):
    def test_default_limit_is_30_per_minute(self):
        phone = new_phone()
        uid = self.server.add_user("Ann", [phone])["id"]
        for i in range(30):
            self.assertIsNotNone(self.server.say(phone, "recall"), "message %d" % (i + 1))
        self.assertEmptyTwiml(self.server.sms(phone, "recall"))
        self.assertEqual(self.server.messages(uid, limit=1)[0]["status"], "rate_limited")
