"""Modes (CONTRACT.md "Users: attributes and modes"): paused users' messages are stored
'paused' and answered <Response/>; human users' go to the operator URL (signed, in order,
retried, with the same shapes as the Agent Core's user and message); an agent's hand-off
delivers its reply and moves the user to human; PATCH back to agent routes again; STOP,
START and HELP work in every mode."""

from harness import ServerTest, new_phone
from standins import AGENT_SECRET, AgentCore, EventsReceiver, wait_until


class ModesTest(ServerTest):
    start_server = False
    operator_fail = 0

    def setUp(self):
        super().setUp()
        self.agent = AgentCore()
        self.addCleanup(self.agent.close)
        self.operator = EventsReceiver(fail=self.operator_fail)
        self.addCleanup(self.operator.close)
        self.events = EventsReceiver()
        self.addCleanup(self.events.close)
        env = {"SMSROUTER_AGENT_URL": self.agent.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET,
               "SMSROUTER_OPERATOR_URL": "http://127.0.0.1:%d/operator" % self.operator.port,
               "SMSROUTER_EVENTS_URL": "http://127.0.0.1:%d/events" % self.events.port,
               "SMSROUTER_SENDER_LIMIT": "0"}
        self.server = self.make_server(env=env)
        self.phone = new_phone()
        self.user = self.server.add_user("Mo", [self.phone])

    def set_mode(self, mode):
        r = self.server.admin("PATCH", "/users/" + self.user["id"], {"mode": mode})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["mode"], mode)

    def user_now(self):
        return self.server.admin("GET", "/users/" + self.user["id"]).json()

    def inbound_statuses(self):
        return [m["status"] for m in reversed(self.server.messages(self.user["id"]))
                if m["direction"] == "inbound"]

    def mode_events(self, n):
        got = wait_until(lambda: [e for e in self.events.events()
                                  if e["type"] == "user.mode"][n - 1:] and
                         [e["mode"] for e in self.events.events() if e["type"] == "user.mode"],
                         15)
        self.assertTrue(got, self.events.events())
        return got


class TestPaused(ModesTest):
    def test_paused_messages_are_stored_not_routed_and_answered_empty(self):
        self.set_mode("paused")
        self.assertEmptyTwiml(self.server.sms(self.phone, "anyone there?"))
        self.assertEqual(self.agent.requests(), [])
        self.assertEqual(self.inbound_statuses(), ["paused"])
        # HELP still answers; STOP still opts out.
        self.assertIsNotNone(self.server.say(self.phone, "HELP"))
        self.assertEmptyTwiml(self.server.sms(self.phone, "STOP"))
        self.assertTrue(self.user_now()["opted_out"])
        self.assertEqual(self.agent.requests(), [])
        self.server.sms(self.phone, "START")
        self.assertFalse(self.user_now()["opted_out"])
        # Back to agent: routed again.
        self.set_mode("agent")
        self.assertEqual(self.server.say(self.phone, "back"), "echo: back")
        self.assertEqual(self.mode_events(2), ["paused", "agent"])


class TestHuman(ModesTest):
    operator_fail = 2

    def test_human_messages_reach_the_operator_in_order_signed_and_retried(self):
        self.set_mode("human")
        bodies = ["one", "two", "three"]
        for b in bodies:
            self.assertEmptyTwiml(self.server.sms(self.phone, b))
        got = wait_until(lambda: len(self.operator.events()) >= 3 and self.operator.events(), 20)
        self.assertTrue(got, self.operator.attempts())
        self.assertEqual([e["message"]["body"] for e in got], bodies)
        for e in got:
            self.assertEqual(e["type"], "message.inbound")
            self.assertEqual(e["user"]["id"], self.user["id"])
            self.assertEqual(e["user"]["name"], "Mo")
            self.assertEqual(e["user"]["mode"], "human")
            self.assertEqual(e["message"]["from"], self.phone)
            self.assertTrue(e["message"]["id"])
        ids = {m["id"] for m in self.server.messages(self.user["id"])}
        self.assertTrue({e["message"]["id"] for e in got} <= ids)
        # The first two signed attempts failed (500) and were retried; all were signed.
        attempts = self.operator.attempts()
        self.assertTrue(all(a["signed"] for a in attempts))
        self.assertEqual([a["status"] for a in attempts][:2], [500, 500])
        self.assertEqual(self.agent.requests(), [])
        self.assertEqual(self.inbound_statuses(), ["human"] * 3)
        # STOP still opts out in human mode.
        self.server.sms(self.phone, "STOP")
        self.assertTrue(self.user_now()["opted_out"])
        # Back to agent: routed again, not sent to the operator.
        self.server.sms(self.phone, "START")
        self.set_mode("agent")
        self.assertEqual(self.server.say(self.phone, "bot?"), "echo: bot?")
        self.assertEqual(len(self.operator.events()), 3)


class TestHandoff(ModesTest):
    def test_the_agents_handoff_delivers_its_reply_and_moves_the_user_to_human(self):
        self.agent.set_mode("handoff")
        self.assertEqual(self.server.say(self.phone, "I want a person"),
                         "handing over: I want a person")
        self.assertEqual(self.user_now()["mode"], "human")
        self.assertEmptyTwiml(self.server.sms(self.phone, "hello?"))
        got = wait_until(lambda: self.operator.events(), 15)
        self.assertTrue(got)
        self.assertEqual(got[0]["message"]["body"], "hello?")
        self.assertEqual(len(self.agent.requests()), 1)
        self.assertEqual(self.mode_events(1), ["human"])
        self.agent.set_mode("echo")
        self.set_mode("agent")
        self.assertEqual(self.server.say(self.phone, "again"), "echo: again")
        self.assertEqual(self.mode_events(2), ["human", "agent"])


class TestOperatorConfig(ServerTest):
    start_server = False

    def test_an_operator_url_without_a_secret_or_not_http_is_refused(self):
        for env, want in [({"SMSROUTER_OPERATOR_URL": "http://127.0.0.1:9/op"},
                           "SMSROUTER_OPERATOR_URL is set but SMSROUTER_AGENT_SECRET is not"),
                          ({"SMSROUTER_OPERATOR_URL": "ftp://127.0.0.1/op",
                            "SMSROUTER_AGENT_SECRET": AGENT_SECRET},
                           "SMSROUTER_OPERATOR_URL must be an http:// or https:// URL.")]:
            with self.subTest(env=env):
                srv = self.make_server(start=False, env=env)
                code, out, err = srv.cli("serve", timeout=20)
                self.assertEqual(code, 2, err)
                self.assertIn(want, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)


class TestHandoffRestOperatorReplies(ServerTest):
    """The whole loop in rest mode: the agent hands off (its reply still goes out through
    the Messages API), the next message reaches the operator with its id, the operator
    answers it through the send endpoint with reply_to (a reply: sent at once, no quiet
    hours), and PATCH gives the user back to the agent."""

    start_server = False

    def setUp(self):
        from harness import ACCOUNT_SID, TWILIO_NUMBER, free_port
        from standins import TwilioApi
        super().setUp()
        self.agent = AgentCore()
        self.addCleanup(self.agent.close)
        self.operator = EventsReceiver()
        self.addCleanup(self.operator.close)
        self.twilio = TwilioApi()
        self.addCleanup(self.twilio.close)
        port = free_port()
        env = {"SMSROUTER_AGENT_URL": self.agent.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "SMSROUTER_REPLY_MODE": "rest",
               "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE": self.twilio.url,
               "TWILIO_FROM": TWILIO_NUMBER, "SMSROUTER_SEND_RATE": "50",
               "SMSROUTER_QUIET_HOURS": "00:00-23:59",  # a reply never waits for them
               "SMSROUTER_OPERATOR_URL": "http://127.0.0.1:%d/operator" % self.operator.port,
               "SMSROUTER_SENDER_LIMIT": "0", "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
               "SMSROUTER_PUBLIC_URL": "http://127.0.0.1:%d" % port}
        self.server = self.make_server(env=env)

    def bodies_sent_to(self, phone):
        return [m["Body"] for m in self.twilio.sent() if m["To"] == phone]

    def test_handoff_then_an_operator_reply_with_reply_to_then_back_to_the_agent(self):
        phone = new_phone()
        user = self.server.add_user("Rex", [phone])
        self.agent.set_mode("handoff")
        self.assertEmptyTwiml(self.server.sms(phone, "I want a person"))
        self.assertTrue(wait_until(lambda: self.bodies_sent_to(phone), 15))
        self.assertEqual(self.bodies_sent_to(phone), ["handing over: I want a person"])
        self.assertTrue(wait_until(lambda: self.server.admin(
            "GET", "/users/" + user["id"]).json()["mode"] == "human", 10))

        self.assertEmptyTwiml(self.server.sms(phone, "my order is late"))
        got = wait_until(lambda: self.operator.events(), 15)
        self.assertTrue(got, "nothing reached the operator")
        self.assertEqual(got[0]["type"], "message.inbound")
        self.assertEqual(got[0]["message"]["body"], "my order is late")
        inbound_id = got[0]["message"]["id"]
        self.assertEqual(len(self.agent.requests()), 1, "the agent is not asked in human mode")

        r = self.server.admin("POST", "/users/%s/messages" % user["id"],
                              {"body": "Sorry! It ships today.", "reply_to": inbound_id})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.json()["kind"], "reply")
        self.assertEqual(r.json()["not_before"], r.json()["send_at"])
        self.assertTrue(wait_until(lambda: len(self.bodies_sent_to(phone)) == 2, 15),
                        self.bodies_sent_to(phone))
        self.assertEqual(self.bodies_sent_to(phone)[1], "Sorry! It ships today.")

        self.agent.set_mode("echo")
        r = self.server.admin("PATCH", "/users/" + user["id"], {"mode": "agent"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEmptyTwiml(self.server.sms(phone, "thanks"))
        self.assertTrue(wait_until(lambda: len(self.bodies_sent_to(phone)) == 3, 15),
                        self.bodies_sent_to(phone))
        self.assertEqual(self.bodies_sent_to(phone)[2], "echo: thanks")
