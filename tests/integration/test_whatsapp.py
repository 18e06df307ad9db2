"""WhatsApp on the same webhook, and media both ways: one user across channels, the answer
on the channel asked on, opt-out per channel, other address forms unrouted, NumMedia
bounds, and an agent's pictures in TwiML and through the Messages API (rest mode)."""

import json
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET

from harness import EMPTY_TWIML, ServerTest, TWILIO_NUMBER, new_phone, twiml_message
from standins import AGENT_SECRET, AgentCore, TwilioApi, wait_until
from proactive import ProactiveTest
from test_webhook_sms import metric

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
WA = "whatsapp:"
PICTURE = "https://media.example/receipt.jpg?size=large&v=2"


def wa(phone):
    return WA + phone


def twiml_media(body):
    """The <Media> URLs of a TwiML answer's <Message>, and its <Body> text (None if none)."""
    root = ET.fromstring(body)
    msg = root.find("Message")
    if msg is None:
        return [], None
    b = msg.find("Body")
    return [m.text for m in msg.findall("Media")], (b.text if b is not None else None)


class WhatsAppTest(ServerTest):
    def whatsapp(self, phone, body, **kw):
        """A WhatsApp message from phone to our number, as Twilio sends it."""
        return self.server.sms(wa(phone), body, to=wa(TWILIO_NUMBER), **kw)

    def channels_of(self, user_id):
        return [(m["direction"], m["channel"], m["body"])
                for m in reversed(self.server.messages(user_id))]


class TestOneUserEveryChannel(WhatsAppTest):
    def test_sms_and_whatsapp_are_one_user_with_one_history(self):
        phone = new_phone()
        user = self.server.add_user("Wen", [phone])
        r = self.whatsapp(phone, "remember the blue folder")
        self.assertTwiml(r, "Noted.")
        # The same notes answer on SMS: one user, one agent context.
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. the blue folder")
        self.assertEqual(self.channels_of(user["id"]), [
            ("inbound", "whatsapp", "remember the blue folder"),
            ("outbound", "whatsapp", "Noted."),
            ("inbound", "sms", "recall"),
            ("outbound", "sms", "Your notes:\n1. the blue folder")])
        msgs = {m["body"]: m for m in self.server.messages(user["id"])}
        self.assertEqual(msgs["remember the blue folder"]["from"], wa(phone))
        self.assertEqual(msgs["Noted."]["to"], wa(phone))
        self.assertEqual(msgs["recall"]["from"], phone)

    def test_stop_on_whatsapp_leaves_sms_and_start_brings_whatsapp_back(self):
        phone = new_phone()
        self.server.add_user("Sol", [phone])
        self.assertEmptyTwiml(self.whatsapp(phone, "STOP"))
        self.assertEmptyTwiml(self.whatsapp(phone, "recall"))  # opted out there: silence
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")
        self.assertFalse(self.server.user_by_phone(phone).json()["opted_out"])
        self.whatsapp(phone, "START")
        self.assertTwiml(self.whatsapp(phone, "recall"), "You have no notes.")

    def test_stop_on_sms_leaves_whatsapp(self):
        phone = new_phone()
        self.server.add_user("Ira", [phone])
        self.assertEmptyTwiml(self.server.sms(phone, "STOP"))
        self.assertTrue(self.server.user_by_phone(phone).json()["opted_out"])
        self.assertTwiml(self.whatsapp(phone, "recall"), "You have no notes.")

    def test_other_address_forms_are_stored_unrouted_and_answered_with_nothing(self):
        phone = new_phone()
        user = self.server.add_user("Oz", [phone])
        before = metric(self.server, 'smsrouter_messages_total{outcome="unrouted"}')
        senders = ["messenger:1234567890", "rcs:" + phone, "whatsapp:" + phone[1:],
                   "whatsapp:+1", "WhatsApp:" + phone, "whatsapp: " + phone, "sms:" + phone]
        for s in senders:
            r = self.server.sms(s, "recall")
            self.assertEqual(r.status, 200, (s, r.body))
            self.assertEqual(r.body.decode(), EMPTY_TWIML, s)  # not even the onboarding text
        after = metric(self.server, 'smsrouter_messages_total{outcome="unrouted"}')
        self.assertEqual(after, before + len(senders))
        self.assertEqual(self.server.messages(user["id"]), [])  # never a user
        # Logged once durable, which may be just after the answer.
        def reasons():
            got = [e.get("reason") for e in self.server.log_events()
                   if e.get("event") == "inbound.unrouted"]
            return got if len(got) >= len(senders) else None
        self.assertEqual(wait_until(reasons, 10), ["address"] * len(senders))
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(usage["total"]["inbound"], len(senders))  # stored, unrouted


class TestUsagePerChannel(WhatsAppTest):
    server_env = {"SMSROUTER_MMS_PRICE": "0.0300", "SMSROUTER_SENDER_LIMIT": "0"}

    def test_whatsapp_has_no_segments_and_a_picture_is_an_mms(self):
        phone = new_phone()
        user = self.server.add_user("Uma", [phone])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")  # 1 + 1
        self.assertTwiml(self.whatsapp(phone, "recall"), "You have no notes.")
        mms = {"NumMedia": "1", "MediaContentType0": "image/jpeg",
               "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"}
        self.assertEqual(self.server.say(phone, "recall", extra=mms), "You have no notes.")
        u = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z&detail=1").json()
        mine = [x for x in u["users"] if x["user_id"] == user["id"]][0]
        self.assertEqual((mine["inbound"], mine["outbound"]), (3, 3))
        # SMS segments: two replies and one inbound text; the picture counts as one MMS.
        self.assertEqual((mine["segments"], mine["mms"], mine["whatsapp"]), (3, 1, 2))
        # 3 x 0.0083 + 1 x 0.0300 (SMSROUTER_MMS_PRICE) + 2 x 0.0050 (the default)
        self.assertEqual(mine["cost"], "0.0649")
        self.assertEqual((u["total"]["mms"], u["total"]["whatsapp"]), (1, 2))
        plain = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertNotIn("whatsapp", plain["total"])  # the contract's shape without detail
        self.assertEqual(plain["total"]["cost"], "0.0649")
        # The console's stats price the day the same way.
        day = self.server.admin("GET", "/stats?bucket=day").json()["series"][-1]
        self.assertEqual((day["segments"], day["cost"]), (3, "0.0649"))

    def test_a_bad_price_stops_the_server_with_a_clear_error(self):
        for name in ("SMSROUTER_MMS_PRICE", "SMSROUTER_WHATSAPP_PRICE"):
            code, out, err = self.server.cli("serve", env={name: "-1"}, timeout=30)
            self.assertNotEqual(code, 0)
            self.assertIn(name, err)


class TestInboundMediaBounds(WhatsAppTest):
    def test_num_media_out_of_range_or_with_gaps_is_refused_and_stores_nothing(self):
        phone = new_phone()
        user = self.server.add_user("Nu", [phone])
        url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME%d"
        eleven = {"NumMedia": "11"}
        for i in range(11):
            eleven["MediaUrl%d" % i] = url % i
        cases = [
            eleven,
            {"NumMedia": "-1"},
            {"NumMedia": "1x", "MediaUrl0": url % 0},
            {"NumMedia": "", "MediaUrl0": url % 0},
            {"NumMedia": "4", "MediaUrl3": url % 3},           # MediaUrl3 without 0..2
            {"NumMedia": "0", "MediaUrl0": url % 0},           # a picture NumMedia denies
            {"NumMedia": "1", "MediaUrl0": "javascript:alert(1)"},
        ]
        for extra in cases:
            r = self.server.sms(phone, "look", extra=extra)
            self.assertEqual(r.status, 400, (extra, r.body))
        self.assertEqual(self.server.messages(user["id"]), [])
        # Ten is Twilio's most, and is taken.
        ten = {"NumMedia": "10"}
        for i in range(10):
            ten["MediaUrl%d" % i] = url % i
            ten["MediaContentType%d" % i] = "image/jpeg"
        self.assertEqual(self.server.sms(phone, "ten", extra=ten).status, 200)
        inbound = [m for m in self.server.messages(user["id"]) if m["direction"] == "inbound"]
        self.assertEqual(len(inbound), 1)
        self.assertEqual(inbound[0]["media"], [url % i for i in range(10)])


class AgentTest(WhatsAppTest):
    start_server = False

    def setUp(self):
        super().setUp()
        self.agent = AgentCore()
        self.addCleanup(self.agent.close)
        self.server = self.make_server(env={
            "SMSROUTER_AGENT_URL": self.agent.url + "/agent",
            "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "SMSROUTER_SENDER_LIMIT": "0"})


class TestMediaRepliesInTwiml(AgentTest):
    def test_the_agent_sees_the_channel(self):
        phone = new_phone()
        self.server.add_user("Cy", [phone])
        self.assertTwiml(self.whatsapp(phone, "hi"), "echo: hi")
        self.assertTwiml(self.server.sms(phone, "yo"), "echo: yo")
        got = [(r["body"]["message"]["channel"], r["body"]["message"]["from"])
               for r in self.agent.requests()]
        self.assertEqual(got, [("whatsapp", wa(phone)), ("sms", phone)])

    def test_a_picture_comes_back_in_media_nouns_and_is_stored_with_the_reply(self):
        phone = new_phone()
        user = self.server.add_user("Pia", [phone])
        self.agent.set_mode("json:" + json.dumps(
            {"reply": "Your receipt <scan> & total", "media": [PICTURE]}))
        r = self.server.sms(phone, "send my receipt")
        self.assertEqual(r.status, 200)
        media, body = twiml_media(r.body)
        self.assertEqual((media, body), ([PICTURE], "Your receipt <scan> & total"))
        self.assertIn(b"?size=large&amp;v=2</Media>", r.body)  # escaped on the wire
        out = [m for m in self.server.messages(user["id"]) if m["direction"] == "outbound"]
        self.assertEqual((out[0]["body"], out[0]["media"]),
                         ("Your receipt <scan> & total", [PICTURE]))
        # On WhatsApp too, and pictures without words.
        self.agent.set_mode("json:" + json.dumps({"reply": None, "media": [PICTURE, PICTURE]}))
        media, body = twiml_media(self.whatsapp(phone, "again").body)
        self.assertEqual((media, body), ([PICTURE, PICTURE], None))

    def test_eleven_pictures_or_a_script_url_are_a_bad_answer(self):
        phone = new_phone()
        user = self.server.add_user("Bad", [phone])
        answers = [{"reply": "x", "media": [PICTURE] * 11},
                   {"reply": "x", "media": ["javascript:alert(1)"]},
                   {"reply": "x", "media": ["ftp://media.example/a.jpg"]},
                   {"reply": "x", "media": PICTURE}]
        for a in answers:
            self.agent.set_mode("json:" + json.dumps(a))
            r = self.server.sms(phone, "pics")
            self.assertEqual(twiml_message(r.body), APOLOGY, a)
            self.assertNotIn(b"<Media>", r.body)
        out = [m for m in self.server.messages(user["id"]) if m["direction"] == "outbound"]
        self.assertEqual([m["media"] for m in out], [[]] * len(answers))
        failed = [e for e in self.server.log_events() if e.get("event") == "agent.failed"]
        self.assertEqual(len(failed), len(answers))


class RestModeTest(WhatsAppTest):
    start_server = False
    whatsapp_from = None
    builtin_agent = False  # True: the memo keeper, which answers inside the webhook's commit

    def setUp(self):
        super().setUp()
        from harness import ACCOUNT_SID, free_port
        self.agent = AgentCore()
        self.addCleanup(self.agent.close)
        self.twilio = TwilioApi()
        self.addCleanup(self.twilio.close)
        port = free_port()
        env = {"SMSROUTER_REPLY_MODE": "rest", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
               "TWILIO_API_BASE": self.twilio.url,
               "SMSROUTER_AGENT_URL": self.agent.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "SMSROUTER_SENDER_LIMIT": "0",
               "SMSROUTER_SEND_RATE": "50", "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
               "SMSROUTER_PUBLIC_URL": "http://127.0.0.1:%d" % port}
        if self.whatsapp_from:
            env["TWILIO_WHATSAPP_FROM"] = self.whatsapp_from
        if self.builtin_agent:
            del env["SMSROUTER_AGENT_URL"], env["SMSROUTER_AGENT_SECRET"]
        self.server = self.make_server(env=env)

    def sent_to(self, to, n=1):
        return wait_until(lambda: [m for m in self.twilio.sent() if m["To"] == to]
                          if len([m for m in self.twilio.sent() if m["To"] == to]) >= n
                          else None, 15)



class TestRestMode(RestModeTest):
    def test_each_answer_goes_back_on_the_channel_it_came_on(self):
        phone = new_phone()
        user = self.server.add_user("Rex", [phone])
        self.assertEmptyTwiml(self.whatsapp(phone, "on whatsapp"))
        self.assertEmptyTwiml(self.server.sms(phone, "on sms"))
        w = self.sent_to(wa(phone))
        s = self.sent_to(phone)
        self.assertTrue(w and s, self.twilio.sent())
        self.assertEqual((w[0]["From"], w[0]["Body"]),
                         (self.whatsapp_from and wa(self.whatsapp_from) or wa(TWILIO_NUMBER),
                          "echo: on whatsapp"))
        self.assertEqual((s[0]["From"], s[0]["Body"]), (TWILIO_NUMBER, "echo: on sms"))
        chans = wait_until(lambda: self.channels_of(user["id"])
                           if len(self.channels_of(user["id"])) == 4 else None, 10)
        self.assertEqual(sorted(chans), sorted([
            ("inbound", "whatsapp", "on whatsapp"), ("outbound", "whatsapp", "echo: on whatsapp"),
            ("inbound", "sms", "on sms"), ("outbound", "sms", "echo: on sms")]))

    def test_a_picture_goes_out_as_media_url(self):
        phone = new_phone()
        self.server.add_user("Mia", [phone])
        self.agent.set_mode("json:" + json.dumps({"reply": "here", "media": [PICTURE]}))
        self.server.sms(phone, "photo please")
        s = self.sent_to(phone)  # the agent is asked after the webhook's answer
        self.agent.set_mode("json:" + json.dumps({"reply": None, "media": [PICTURE]}))
        self.whatsapp(phone, "just the photo")
        w = self.sent_to(wa(phone))
        self.assertTrue(s and w, self.twilio.sent())
        self.assertEqual((s[0]["Body"], s[0]["MediaUrls"]), ("here", [PICTURE]))
        self.assertNotIn("Body", w[0])  # pictures alone: no empty Body
        self.assertEqual(w[0]["MediaUrls"], [PICTURE])

    def test_stop_on_whatsapp_sends_nothing_there(self):
        phone = new_phone()
        self.server.add_user("Ned", [phone])
        self.whatsapp(phone, "STOP")
        self.whatsapp(phone, "are you there")
        self.server.sms(phone, "still here")
        self.assertTrue(self.sent_to(phone))
        self.assertEqual([m for m in self.twilio.sent() if m["To"] == wa(phone)], [])



class TestRestModeBuiltinAgent(RestModeTest):
    """rest mode with the built-in memo keeper: it answers inside the webhook's transaction,
    and its reply is queued there to go out through the Messages API; the webhook still
    answers empty TwiML."""
    builtin_agent = True
    whatsapp_from = "+15550009999"

    def test_the_reply_goes_through_the_api_on_the_channel_it_came_on(self):
        phone = new_phone()
        user = self.server.add_user("Bea", [phone])
        self.assertEmptyTwiml(self.whatsapp(phone, "remember milk"))
        self.assertEmptyTwiml(self.server.sms(phone, "recall"))
        w = self.sent_to(wa(phone))
        s = self.sent_to(phone)
        self.assertTrue(w and s, self.twilio.sent())
        self.assertEqual((w[0]["From"], w[0]["Body"]), (wa(self.whatsapp_from), "Noted."))
        self.assertEqual((s[0]["From"], s[0]["Body"]), (TWILIO_NUMBER, "Your notes:\n1. milk"))
        self.assertRegex(urllib.parse.urlsplit(s[0]["StatusCallback"]).query, r"^ob=\d+$")
        out = wait_until(lambda: [m for m in self.server.messages(user["id"])
                                  if m["direction"] == "outbound" and m["sid"]]
                         if len([m for m in self.server.messages(user["id"])
                                 if m["direction"] == "outbound" and m["sid"]]) == 2 else None, 10)
        self.assertEqual(sorted(m["sid"] for m in out), sorted([w[0]["sid"], s[0]["sid"]]))

    def test_a_twilio_retry_gets_empty_twiml_and_nothing_is_sent_twice(self):
        phone = new_phone()
        self.server.add_user("Ray", [phone])
        sid = "SM" + "6" * 32
        self.assertEmptyTwiml(self.server.sms(phone, "remember once", sid=sid))
        self.assertTrue(self.sent_to(phone))
        for _ in range(2):
            self.assertEmptyTwiml(self.server.sms(phone, "remember once", sid=sid))
        time.sleep(0.5)
        self.assertEqual([m["Body"] for m in self.twilio.sent() if m["To"] == phone], ["Noted."])

class TestRestModeWhatsAppSender(TestRestMode):
    whatsapp_from = "+15005550009"


class TestProactiveOnWhatsApp(ProactiveTest):
    def test_auto_picks_whatsapp_inside_the_session_window_and_stop_there_refuses_it(self):
        phone = new_phone()
        uid = self.server.add_user("Ava", [phone])["id"]
        # A WhatsApp message opens Twilio's 24-hour session window.
        self.server.sms(wa(phone), "hi", to=wa(TWILIO_NUMBER))
        m = self.send(uid, {"body": "reminder", "channel": "auto", "media": [PICTURE]})
        self.assertEqual((m["channel"], m["to"]), ("whatsapp", wa(phone)))
        sent = self.wait_sent(wa(phone))
        self.assertEqual((sent[0]["From"], sent[0]["Body"], sent[0]["MediaUrls"]),
                         (wa(TWILIO_NUMBER), "reminder", [PICTURE]))
        # STOP on WhatsApp: a WhatsApp send is refused, an SMS one still goes.
        self.server.sms(wa(phone), "STOP", to=wa(TWILIO_NUMBER))
        self.assertRefused(uid, 409, "opted_out", obj={"body": "x", "channel": "whatsapp"})
        m = self.send(uid, {"body": "by sms", "channel": "sms"})
        self.assertEqual(m["to"], phone)
        self.assertEqual(self.wait_sent(phone)[0]["Body"], "by sms")
