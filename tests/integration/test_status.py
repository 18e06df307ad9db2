"""POST /sms-router/webhook/status: Twilio's status callbacks for TwiML replies."""

from harness import ServerTest, new_phone, new_sid, twiml_action


class StatusCallbackTest(ServerTest):
    def setUp(self):
        super().setUp()
        self.phone = new_phone()
        self.uid = self.server.add_user("Ann", [self.phone])["id"]
        r = self.server.sms(self.phone, "remember x")
        self.assertTwiml(r, "Noted.")
        self.action = twiml_action(r.body)
        self.assertTrue(self.action.startswith(self.server.status_url + "?ob="), self.action)
        self.reply_sid = new_sid()

    def reply(self):
        return [m for m in self.server.messages(self.uid) if m["direction"] == "outbound"][0]

    def callback(self, status, **kw):
        return self.server.status(self.reply_sid, status, url=self.action, to=self.phone, **kw)

    def test_reply_starts_queued_without_sid(self):
        m = self.reply()
        self.assertIsNone(m["sid"])
        self.assertEqual(m["status"], "queued")

    def test_sent_callback_is_204_and_names_the_reply(self):
        r = self.callback("sent")
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        m = self.reply()
        self.assertEqual((m["sid"], m["status"]), (self.reply_sid, "sent"))

    def test_statuses_move_forward_only(self):
        self.assertEqual(self.callback("sent").status, 204)
        self.assertEqual(self.callback("delivered").status, 204)
        self.assertEqual(self.callback("sent").status, 204)
        m = self.reply()
        self.assertEqual((m["sid"], m["status"]), (self.reply_sid, "delivered"))

    def test_out_of_order_callbacks_keep_the_final_status(self):
        self.assertEqual(self.callback("delivered").status, 204)
        for st in ["queued", "sending", "sent", "accepted"]:
            self.assertEqual(self.callback(st).status, 204)
        self.assertEqual(self.reply()["status"], "delivered")

    def test_read_moves_past_delivered(self):
        self.assertEqual(self.callback("delivered").status, 204)
        self.assertEqual(self.callback("read").status, 204)
        self.assertEqual(self.callback("delivered").status, 204)
        self.assertEqual(self.reply()["status"], "read")

    def test_later_callbacks_found_by_sid_without_ob(self):
        self.assertEqual(self.callback("sent").status, 204)
        r = self.server.status(self.reply_sid, "delivered", to=self.phone)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.reply()["status"], "delivered")

    def test_failed_with_21610_opts_the_recipient_out(self):
        r = self.callback("failed", error_code=21610)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.reply()["status"], "failed")
        self.assertTrue(self.server.user_by_phone(self.phone).json()["opted_out"])
        self.assertEmptyTwiml(self.server.sms(self.phone, "recall"))

    def test_other_error_codes_do_not_opt_out(self):
        self.assertEqual(self.callback("undelivered", error_code=30003).status, 204)
        self.assertEqual(self.reply()["status"], "undelivered")
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_unsigned_callback_is_403_and_changes_nothing(self):
        p = {"MessageSid": self.reply_sid, "MessageStatus": "delivered", "To": self.phone}
        r = self.server.post_signed(self.action, p, signature=False)
        self.assertEmptyTwiml(r, 403)
        m = self.reply()
        self.assertEqual((m["sid"], m["status"]), (None, "queued"))

    def test_callback_signed_without_the_query_is_403(self):
        r = self.callback("delivered", sign_url=self.server.status_url)
        self.assertEmptyTwiml(r, 403)
        self.assertEqual(self.reply()["status"], "queued")

    def test_forged_21610_does_not_opt_out(self):
        r = self.callback("failed", error_code=21610, token="wrong-token")
        self.assertEqual(r.status, 403)
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_callback_for_unknown_message_is_accepted_quietly(self):
        r = self.server.status(new_sid(), "delivered", to=self.phone)
        self.assertIn(r.status, (200, 204), r.body)
        r = self.server.status(new_sid(), "delivered", to=self.phone,
                               url=self.server.status_url + "?ob=999999")
        self.assertIn(r.status, (200, 204), r.body)
        self.assertEqual(self.reply()["status"], "queued")

    def test_21610_for_an_unknown_message_opts_the_recipient_out(self):
        other = new_phone()
        other_uid = self.server.add_user("Bob", [other])["id"]
        r = self.server.status(new_sid(), "failed", error_code=21610, to=other)
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertTrue(self.server.user_by_phone(other).json()["opted_out"])
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])
        sid = new_sid()
        self.assertEmptyTwiml(self.server.sms(other, "remember not-routed", sid=sid))
        m = self.server.messages(other_uid)
        self.assertEqual([(x["sid"], x["status"]) for x in m], [(sid, "opted_out")])

    def test_21610_for_an_unknown_message_with_a_bad_to_is_ignored(self):
        r = self.server.status(new_sid(), "failed", error_code=21610, to="whatsapp:" + self.phone)
        self.assertEqual(r.status, 204, r.body)
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])
        self.assertTwiml(self.server.sms(self.phone, "recall"), "Your notes:\n1. x")

    def test_callback_without_status_is_400(self):
        p = {"MessageSid": self.reply_sid, "To": self.phone}
        r = self.server.post_signed(self.action, p)
        self.assertEmptyTwiml(r, 400)

    def test_unknown_status_value_is_accepted(self):
        r = self.callback("some_future_status")
        self.assertIn(r.status, (200, 204), r.body)
