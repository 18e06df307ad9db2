"""POST /sms-router/webhook/sms: TwiML answers, the built-in agent, unknown senders,
opt-out/opt-in/help keywords, duplicates, hostile bytes and malformed requests."""

import concurrent.futures
import re
import urllib.parse

from harness import (EMPTY_TWIML, ServerTest, new_phone, new_sid, twiml_action,
                     twiml_message)

ONBOARDING = ("This number is not registered with this service yet. "
              "Ask the service's administrator to add it.")
HELP = ("This is an automated assistant. Reply STOP to unsubscribe, START to resubscribe. "
        "Msg&data rates may apply.")


def hello(name):
    return 'Hi %s. Text "remember <note>", "recall" or "forget".' % name


class WebhookTest(ServerTest):
    def user(self, name="Ann", phones=None):
        phones = phones or [new_phone()]
        u = self.server.add_user(name, phones)
        return u, phones[0]

    def opted_out(self, phone):
        r = self.server.user_by_phone(phone)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["opted_out"]


class TwimlFormatTest(WebhookTest):
    def test_reply_is_exact_twiml_message_with_status_action_url(self):
        _, phone = self.user()
        r = self.server.sms(phone, "remember milk")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/xml")  # exactly as CONTRACT.md
        m = re.fullmatch(
            r'<\?xml version="1\.0" encoding="UTF-8"\?><Response><Message action="'
            + re.escape("http://127.0.0.1:%d/sms-router/webhook/status?ob=" % self.server.port)
            + r'([1-9][0-9]*)">Noted\.</Message></Response>', r.text)
        self.assertIsNotNone(m, r.text)

    def test_nothing_to_say_is_exact_empty_response(self):
        _, phone = self.user()
        r = self.server.sms(phone, "STOP")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/xml")
        self.assertEqual(r.text, EMPTY_TWIML)

    def test_each_reply_gets_its_own_action_url(self):
        _, phone = self.user()
        a1 = twiml_action(self.server.sms(phone, "recall").body)
        a2 = twiml_action(self.server.sms(phone, "recall").body)
        self.assertNotEqual(a1, a2)


class BuiltinAgentTest(WebhookTest):
    def test_remember_answers_noted(self):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "remember buy milk"), "Noted.")

    def test_recall_without_notes_answers_you_have_no_notes(self):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_recall_lists_notes_oldest_first_numbered(self):
        _, phone = self.user()
        self.server.say(phone, "remember a")
        self.server.say(phone, "remember b")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. a\n2. b")

    def test_forget_erases_notes(self):
        _, phone = self.user()
        self.server.say(phone, "remember a")
        self.assertEqual(self.server.say(phone, "forget"), "Forgotten.")
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_anything_else_answers_hello_with_the_users_name(self):
        _, phone = self.user("Ann")
        self.assertEqual(self.server.say(phone, "what can you do?"), hello("Ann"))

    def test_hello_escapes_xml_special_characters_of_the_name(self):
        _, phone = self.user("O'Brien & <Co> \"x\"")
        r = self.server.sms(phone, "hi")
        self.assertTwiml(r, hello("O'Brien & <Co> \"x\""))

    def test_keywords_are_case_insensitive(self):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "REMEMBER Upper"), "Noted.")
        self.assertEqual(self.server.say(phone, "ReMeMbEr mixed"), "Noted.")
        self.assertEqual(self.server.say(phone, "RECALL"), "Your notes:\n1. Upper\n2. mixed")
        self.assertEqual(self.server.say(phone, "Forget"), "Forgotten.")
        self.assertEqual(self.server.say(phone, "Recall"), "You have no notes.")

    def test_body_is_trimmed(self):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "  remember padded note \n"), "Noted.")
        self.assertEqual(self.server.say(phone, "\trecall  \r\n"), "Your notes:\n1. padded note")
        self.assertEqual(self.server.say(phone, " forget "), "Forgotten.")

    def test_note_text_round_trips_exactly(self):
        _, phone = self.user()
        note = "Buy milk & eggs <3 \"today\" 'now'"
        self.assertEqual(self.server.say(phone, "remember " + note), "Noted.")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. " + note)

    def test_notes_are_per_user_even_with_two_phones(self):
        a, pa = self.user("Ann", [new_phone(), new_phone()])
        _, pb = self.user("Bob")
        self.server.say(a["phones"][0], "remember from-first-phone")
        self.server.say(a["phones"][1], "remember from-second-phone")
        self.server.say(pb, "remember bobs")
        self.assertEqual(self.server.say(a["phones"][1], "recall"),
                         "Your notes:\n1. from-first-phone\n2. from-second-phone")
        self.assertEqual(self.server.say(pb, "recall"), "Your notes:\n1. bobs")

    def test_concurrent_remembers_of_one_user_are_all_kept(self):
        _, phone = self.user()
        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            texts = list(ex.map(lambda i: self.server.say(phone, "remember c%02d" % i),
                                range(20)))
        self.assertEqual(texts, ["Noted."] * 20)
        lines = self.server.say(phone, "recall").split("\n")
        self.assertEqual(lines[0], "Your notes:")
        self.assertEqual(sorted(l.split(". ", 1)[1] for l in lines[1:]),
                         ["c%02d" % i for i in range(20)])
        self.assertEqual([l.split(". ", 1)[0] for l in lines[1:]],
                         [str(i) for i in range(1, 21)])

    def test_phone_moved_to_another_user_does_not_carry_notes(self):
        a, phone = self.user("Ann")
        self.server.say(phone, "remember anns-note")
        r = self.server.admin("DELETE", "/users/%s/phones/%s"
                              % (a["id"], urllib.parse.quote(phone, safe="")))
        self.assertEqual(r.status, 204)
        b = self.server.add_user("Bob", [phone])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")
        self.assertEqual(self.server.say(phone, "hello"), hello("Bob"))
        for m in self.server.messages(b["id"]):
            self.assertNotIn("anns-note", m["body"])
        self.assertIn("anns-note", [m["body"][9:] for m in self.server.messages(a["id"])])

    def test_reply_never_exceeds_1600_characters(self):
        _, phone = self.user()
        for i in range(20):
            self.server.say(phone, "remember %02d %s" % (i, "x" * 95))
        text = self.server.say(phone, "recall")
        self.assertTrue(text.startswith("Your notes:\n1. 00 "), text[:40])
        self.assertLessEqual(len(text), 1600)


class UnknownSenderTest(WebhookTest):
    def test_first_message_gets_onboarding_text_then_silence(self):
        phone = new_phone()
        self.assertTwiml(self.server.sms(phone, "hello"), ONBOARDING)
        self.assertEmptyTwiml(self.server.sms(phone, "hello again"))
        self.assertEmptyTwiml(self.server.sms(phone, "recall"))

    def test_onboarding_is_per_number(self):
        p1, p2 = new_phone(), new_phone()
        self.assertEqual(self.server.say(p1, "hi"), ONBOARDING)
        self.assertEqual(self.server.say(p2, "hi"), ONBOARDING)

    def test_unknown_sender_message_is_stored_as_unrouted(self):
        before = metric(self.server, 'smsrouter_messages_total{outcome="unrouted"}')
        self.server.say(new_phone(), "remember nothing")
        after = metric(self.server, 'smsrouter_messages_total{outcome="unrouted"}')
        self.assertEqual(after, before + 1)
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(usage["users"], [])
        self.assertEqual(usage["total"]["inbound"], 1)

    def test_number_registered_later_is_routed(self):
        phone = new_phone()
        self.assertEqual(self.server.say(phone, "hi"), ONBOARDING)
        self.server.add_user("Late", [phone])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_concurrent_first_messages_get_one_onboarding_text(self):
        phone = new_phone()
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            texts = list(ex.map(lambda i: self.server.say(phone, "hi %d" % i), range(8)))
        self.assertEqual(texts.count(ONBOARDING), 1, texts)
        self.assertEqual(texts.count(None), 7, texts)

    def test_unknown_sender_that_opted_out_gets_no_onboarding(self):
        phone = new_phone()
        self.assertEmptyTwiml(self.server.sms(phone, "STOP"))
        self.assertEmptyTwiml(self.server.sms(phone, "hello"))


def metric(server, name):
    r = server.request("GET", "/metrics")
    for line in r.text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError("metric %s not found" % name)


class OptOutTest(WebhookTest):
    WORDS = ["STOP", "stop", " Stop ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT",
             "REVOKE", "OPTOUT", "optout", "Unsubscribe\n"]

    def test_every_opt_out_word_answers_empty_and_opts_out(self):
        for word in self.WORDS:
            with self.subTest(word=word):
                _, phone = self.user()
                self.assertEmptyTwiml(self.server.sms(phone, word))
                self.assertTrue(self.opted_out(phone))

    def test_opted_out_number_is_not_routed_until_start(self):
        _, phone = self.user()
        self.server.say(phone, "remember before")
        self.assertEmptyTwiml(self.server.sms(phone, "STOP"))
        self.assertEmptyTwiml(self.server.sms(phone, "remember while-opted-out"))
        self.assertEmptyTwiml(self.server.sms(phone, "recall"))
        self.assertEmptyTwiml(self.server.sms(phone, "START"))
        self.assertFalse(self.opted_out(phone))
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. before")

    def test_opted_out_messages_are_stored_but_not_answered(self):
        u, phone = self.user()
        self.server.sms(phone, "stop")
        sid = new_sid()
        self.assertEmptyTwiml(self.server.sms(phone, "remember x", sid=sid))
        msgs = self.server.messages(u["id"])
        self.assertEqual([m["direction"] for m in msgs], ["inbound", "inbound"])
        self.assertEqual(msgs[0]["sid"], sid)

    def test_every_opt_in_word_resumes_routing(self):
        for word in ["START", "UNSTOP", "YES", "start", " yes "]:
            with self.subTest(word=word):
                _, phone = self.user()
                self.server.sms(phone, "STOP")
                self.assertTrue(self.opted_out(phone))
                self.assertEmptyTwiml(self.server.sms(phone, word))
                self.assertFalse(self.opted_out(phone))
                self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_opt_out_type_stop_decides_over_the_body(self):
        _, phone = self.user()
        self.assertEmptyTwiml(self.server.sms(phone, "please stop",
                                              extra={"OptOutType": "STOP"}))
        self.assertTrue(self.opted_out(phone))

    def test_opt_out_type_start_decides_over_the_body(self):
        _, phone = self.user()
        self.server.sms(phone, "STOP")
        self.assertEmptyTwiml(self.server.sms(phone, "ok fine, go",
                                              extra={"OptOutType": "START"}))
        self.assertFalse(self.opted_out(phone))

    def test_opt_out_type_help_answers_help(self):
        _, phone = self.user()
        self.assertTwiml(self.server.sms(phone, "what is this",
                                         extra={"OptOutType": "HELP"}), HELP)

    def test_stop_inside_a_sentence_is_not_an_opt_out(self):
        _, phone = self.user("Ann")
        self.assertEqual(self.server.say(phone, "please stop"), hello("Ann"))
        self.assertFalse(self.opted_out(phone))

    def test_help_and_info_answer_the_help_text(self):
        _, phone = self.user()
        for word in ["HELP", "help", " Info "]:
            with self.subTest(word=word):
                self.assertTwiml(self.server.sms(phone, word), HELP)

    def test_help_to_unknown_sender_answers_help_text(self):
        self.assertTwiml(self.server.sms(new_phone(), "HELP"), HELP)


class DuplicateTest(WebhookTest):
    def test_same_message_sid_twice_gives_identical_answer_and_routes_once(self):
        u, phone = self.user()
        sid = new_sid()
        r1 = self.server.sms(phone, "remember once", sid=sid)
        r2 = self.server.sms(phone, "remember once", sid=sid)
        self.assertTwiml(r1, "Noted.")
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. once")
        inbound = [m for m in self.server.messages(u["id"]) if m["direction"] == "inbound"]
        self.assertEqual([m["sid"] for m in inbound].count(sid), 1)
        self.assertEqual(len(inbound), 2)  # the remember and the recall

    def test_duplicate_of_an_empty_answer_is_empty(self):
        _, phone = self.user()
        sid = new_sid()
        self.assertEmptyTwiml(self.server.sms(phone, "STOP", sid=sid))
        self.assertEmptyTwiml(self.server.sms(phone, "STOP", sid=sid))

    def test_duplicate_of_onboarding_repeats_it(self):
        phone = new_phone()
        sid = new_sid()
        r1 = self.server.sms(phone, "hi", sid=sid)
        r2 = self.server.sms(phone, "hi", sid=sid)
        self.assertTwiml(r1, ONBOARDING)
        self.assertEqual(r2.body, r1.body)

    def test_concurrent_retries_of_one_sid_get_the_same_answer_and_route_once(self):
        # Twilio may retry (or call the fallback URL) while the first request is still
        # being answered: every copy gets the first answer, and the note is added once.
        self.server = self.make_server(env={"SMSROUTER_SENDER_LIMIT": "0"})
        u, phone = self.user()
        rounds = 20
        for round_ in range(rounds):
            sid = new_sid()
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                rs = list(ex.map(
                    lambda _: self.server.sms(phone, "remember race%d" % round_, sid=sid),
                    range(8)))
            for r in rs:
                self.assertTwiml(r, "Noted.")
                self.assertEqual(r.body, rs[0].body)
            inbound = [m for m in self.server.messages(u["id"]) if m["sid"] == sid]
            self.assertEqual(len(inbound), 1)
        self.assertEqual(self.server.say(phone, "recall"),
                         "Your notes:\n" + "\n".join("%d. race%d" % (i + 1, i)
                                                      for i in range(rounds)))


class HostileBytesTest(WebhookTest):
    def roundtrip(self, note):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "remember " + note), "Noted.")
        r = self.server.sms(phone, "recall")
        self.assertTwiml(r, "Your notes:\n1. " + note)

    def test_emoji_round_trips(self):
        self.roundtrip("party \U0001F389\U0001F600 time")

    def test_chinese_round_trips(self):
        self.roundtrip("\u4f60\u597d\uff0c\u4e16\u754c")

    def test_xml_specials_round_trip(self):
        self.roundtrip("& < > \" ' ]]> <![CDATA[x]]> &amp; <Message>")

    def test_crlf_and_tab_inside_a_note_round_trip(self):
        self.roundtrip("line1\r\nline2\tend")

    def test_control_characters_give_well_formed_twiml(self):
        _, phone = self.user()
        r = self.server.sms(phone, "remember a\x01b\x1fc\x7fd")
        self.assertTwiml(r, "Noted.")
        r = self.server.sms(phone, "recall")
        self.assertEqual(r.status, 200)
        text = twiml_message(r.body)  # parses, or raises
        self.assertTrue(text.startswith("Your notes:\n1. a"), text)

    def test_control_characters_in_the_name_give_well_formed_twiml(self):
        u, phone = self.user("Ann")
        r = self.server.sms(phone, "\x01\x02\x03 \x0b")
        self.assertEqual(r.status, 200)
        twiml_message(r.body)

    def test_unicode_from_unknown_sender_gives_well_formed_twiml(self):
        r = self.server.sms(new_phone(), "\U0001F600 \u4f60\u597d & <x>")
        self.assertTwiml(r, ONBOARDING)

    def test_long_gsm_body_is_accepted(self):
        _, phone = self.user()
        self.assertEqual(self.server.say(phone, "remember " + "y" * 1590), "Noted.")

    def test_mms_without_body_is_answered(self):
        _, phone = self.user("Ann")
        sid = new_sid("MM")
        r = self.server.sms(phone, "", sid=sid, extra={
            "NumMedia": "1",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/%s/Media/ME1"
                         % sid,
            "MediaContentType0": "image/jpeg"})
        self.assertTwiml(r, hello("Ann"))


class MalformedTest(WebhookTest):
    """Errors on the webhook are TwiML: <Response/> with the status; nothing is stored."""

    def assertNothingStored(self, uid, phone):
        self.assertEqual(self.server.messages(uid), [])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_wrong_content_type_is_400(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember x")
        r = self.server.post_signed(self.server.sms_url, p,
                                    headers={"Content-Type": "application/json"})
        self.assertEmptyTwiml(r, 400)
        r = self.server.post_signed(self.server.sms_url, p,
                                    headers={"Content-Type": "text/plain"})
        self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_missing_content_type_is_400(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember x")
        r = self.server.post_signed(self.server.sms_url, p, headers={"Content-Type": None})
        self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_content_type_with_charset_is_accepted(self):
        _, phone = self.user()
        p = self.server.sms_params(phone, "recall")
        r = self.server.post_signed(
            self.server.sms_url, p,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"})
        self.assertTwiml(r, "You have no notes.")

    def test_content_type_must_be_the_form_type_in_utf8(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember x")
        for ct in ["application/x-www-form-urlencodedX", "application/x-www-form-urlencoded-x",
                   "application/x-www-form-urlencoded; charset=ISO-8859-1",
                   "application/x-www-form-urlencoded;charset=latin1"]:
            with self.subTest(content_type=ct):
                r = self.server.post_signed(self.server.sms_url, p,
                                            headers={"Content-Type": ct})
                self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)
        for ct in ["APPLICATION/X-WWW-FORM-URLENCODED", "application/x-www-form-urlencoded ",
                   'application/x-www-form-urlencoded; charset="utf-8"',
                   "application/x-www-form-urlencoded;charset=utf8; foo=bar"]:
            with self.subTest(content_type=ct):
                p = self.server.sms_params(phone, "recall")
                r = self.server.post_signed(self.server.sms_url, p,
                                            headers={"Content-Type": ct})
                self.assertTwiml(r, "You have no notes.")

    def test_a_parameter_that_decides_routing_given_twice_is_400(self):
        # Which of two From values counted would depend on their order, and a signature
        # over the sorted values would hold for either order: refused before anything.
        u, phone = self.user()
        other = new_phone()
        for key, extra in [("From", other), ("Body", "remember y"), ("MessageSid", "SM" + "1" * 32)]:
            with self.subTest(key=key):
                p = self.server.sms_params(phone, "remember x")
                body = urllib.parse.urlencode(p) + "&" + urllib.parse.urlencode({key: extra})
                r = self.server.post_signed(self.server.sms_url, p, raw_body=body)
                self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_bad_percent_escape_is_400(self):
        u, phone = self.user()
        for bad in ["%ZZ", "%4", "%", "%g0"]:
            with self.subTest(escape=bad):
                p = self.server.sms_params(phone, "remember x")
                body = urllib.parse.urlencode(p) + "&Extra=" + bad
                r = self.server.post_signed(self.server.sms_url, p, raw_body=body)
                self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_invalid_utf8_is_400(self):
        u, phone = self.user()
        for bad in ["%FF", "%C3%28", "%ED%A0%80", "%C0%AF", "%F0%9F%98"]:
            with self.subTest(bytes=bad):
                p = self.server.sms_params(phone, "remember x")
                del p["Body"]
                body = urllib.parse.urlencode(p) + "&Body=remember+" + bad
                r = self.server.post_signed(self.server.sms_url, p, raw_body=body)
                self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_nul_byte_is_400(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember a\x00b")
        r = self.server.post_signed(self.server.sms_url, p)
        self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_missing_message_sid_is_400(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember x",
                                   extra={"MessageSid": None, "SmsSid": None,
                                          "SmsMessageSid": None})
        r = self.server.post_signed(self.server.sms_url, p)
        self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_missing_from_is_400(self):
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember x", extra={"From": None})
        r = self.server.post_signed(self.server.sms_url, p)
        self.assertEmptyTwiml(r, 400)
        self.assertNothingStored(u["id"], phone)

    def test_signed_empty_body_is_400(self):
        r = self.server.post_signed(self.server.sms_url, {}, raw_body=b"")
        self.assertEmptyTwiml(r, 400)

    def test_body_over_64_kib_is_413_twiml(self):
        # Twilio reads TwiML on the webhooks, errors included (CONTRACT: HTTP endpoints).
        u, phone = self.user()
        p = self.server.sms_params(phone, "remember " + "z" * (70 * 1024))
        r = self.server.post_signed(self.server.sms_url, p)
        self.assertEmptyTwiml(r, 413)
        self.assertNothingStored(u["id"], phone)

    def test_body_just_under_64_kib_is_not_413(self):
        _, phone = self.user()
        p = self.server.sms_params(phone, "x")
        base = len(urllib.parse.urlencode(p))
        p["Body"] = "remember " + "z" * (64 * 1024 - base - 200)
        r = self.server.post_signed(self.server.sms_url, p)
        self.assertEqual(r.status, 200, r.body[:200])
        self.assertEqual(twiml_message(r.body), "Noted.")

    def test_status_webhook_errors_are_twiml_too(self):
        p = {"MessageSid": new_sid(), "MessageStatus": "sent"}
        r = self.server.post_signed(self.server.status_url, p,
                                    headers={"Content-Type": "application/json"})
        self.assertEmptyTwiml(r, 400)
        r = self.server.post_signed(self.server.status_url, p, signature=False)
        self.assertEmptyTwiml(r, 403)
