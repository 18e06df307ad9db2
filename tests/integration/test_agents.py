"""Named agents (SMSROUTER_AGENTS) and the canary (SMSROUTER_AGENT_CANARY): a user pinned
to an agent is answered by it, the others by default or the canary's, a user moved between
agents goes to the new one; metrics are labelled by agent; and serve refuses a bad
configuration in one sentence. The canary's share over 10,000 users is measured in the
unit test of agent_in_canary (tests/agent/test_http.c)."""

from harness import ServerTest, new_phone
from standins import AGENT_SECRET, AgentCore


class TwoAgentsTest(ServerTest):
    start_server = False
    canary = None

    def setUp(self):
        super().setUp()
        self.default = AgentCore()
        self.addCleanup(self.default.close)
        self.beta = AgentCore()
        self.addCleanup(self.beta.close)
        env = {"SMSROUTER_AGENT_URL": self.default.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET,
               "SMSROUTER_AGENTS": "beta=%s/agent" % self.beta.url,
               "SMSROUTER_AGENT_SECRET_BETA": AGENT_SECRET,
               "SMSROUTER_SENDER_LIMIT": "0"}
        if self.canary:
            env["SMSROUTER_AGENT_CANARY"] = self.canary
        self.server = self.make_server(env=env)

    def bodies(self, agent):
        return [r["body"]["message"]["body"] for r in agent.requests()]

    def patch(self, user, body, status=200):
        r = self.server.admin("PATCH", "/users/" + user["id"], body)
        self.assertEqual(r.status, status, r.body)
        return r.json()


class TestNamedAgents(TwoAgentsTest):
    def test_each_user_is_answered_by_its_own_agent(self):
        pa, pb = new_phone(), new_phone()
        a = self.server.add_user("Ann", [pa])
        b = self.server.add_user("Ben", [pb])
        self.assertEqual(self.patch(b, {"agent": "beta"})["agent"], "beta")
        for i in range(3):
            self.assertEqual(self.server.say(pa, "a%d" % i), "echo: a%d" % i)
            self.assertEqual(self.server.say(pb, "b%d" % i), "echo: b%d" % i)
        self.assertEqual(self.bodies(self.default), ["a0", "a1", "a2"])
        self.assertEqual(self.bodies(self.beta), ["b0", "b1", "b2"])
        self.assertEqual(self.beta.requests()[0]["body"]["user"]["agent"], "beta")
        # Moved back to default (null): the next message goes there, its history whole.
        self.assertIsNone(self.patch(b, {"agent": None})["agent"])
        self.assertEqual(self.server.say(pb, "b3"), "echo: b3")
        self.assertEqual(self.bodies(self.default)[-1], "b3")
        history = self.default.requests()[-1]["body"]["history"]
        self.assertEqual([h["body"] for h in history][-2:], ["b2", "echo: b2"])
        # Pinned to default by name works too.
        self.assertEqual(self.patch(a, {"agent": "default"})["agent"], "default")
        self.assertEqual(self.server.say(pa, "a3"), "echo: a3")
        self.assertEqual(self.bodies(self.default)[-1], "a3")

    def test_metrics_carry_the_agent_label(self):
        pb = new_phone()
        b = self.server.add_user("Ben", [pb])
        self.patch(b, {"agent": "beta"})
        self.server.say(pb, "hi")
        text = self.server.request("GET", "/metrics").text
        self.assertIn('smsrouter_agent_duration_seconds_count{agent="beta"} 1', text)
        self.assertIn('smsrouter_agent_failures_total{agent="beta"} 0', text)
        self.assertIn('smsrouter_agent_failures_total{agent="default"} 0', text)

    def test_an_unknown_agent_is_refused_and_changes_nothing(self):
        b = self.server.add_user("Ben", [new_phone()])
        r = self.server.admin("PATCH", "/users/" + b["id"], {"agent": "gamma", "mode": "paused"})
        j = self.assertJsonError(r, 422)
        self.assertEqual(j["error"], "invalid_agent")
        self.assertIn('"agent"', j["message"])
        got = self.server.admin("GET", "/users/" + b["id"]).json()
        self.assertEqual((got["agent"], got["mode"]), (None, "agent"))


class TestCanaryAll(TwoAgentsTest):
    canary = "beta:100"

    def test_the_canary_takes_users_without_an_agent_of_their_own(self):
        pa, pb = new_phone(), new_phone()
        self.server.add_user("Ann", [pa])
        b = self.server.add_user("Ben", [pb])
        self.patch(b, {"agent": "default"})
        self.assertEqual(self.server.say(pa, "canary"), "echo: canary")
        self.assertEqual(self.server.say(pb, "pinned"), "echo: pinned")
        self.assertEqual(self.bodies(self.beta), ["canary"])
        self.assertEqual(self.bodies(self.default), ["pinned"])


class TestCanaryNone(TwoAgentsTest):
    canary = "beta:0"

    def test_a_zero_canary_takes_nobody(self):
        phones = [new_phone() for _ in range(5)]
        for i, p in enumerate(phones):
            self.server.add_user("U%d" % i, [p])
            self.server.say(p, "x")
        self.assertEqual(len(self.default.requests()), 5)
        self.assertEqual(self.beta.requests(), [])


class TestAgentsConfig(ServerTest):
    start_server = False

    def refusal(self, env):
        base = {"SMSROUTER_AGENT_URL": "http://127.0.0.1:9/agent",
                "SMSROUTER_AGENT_SECRET": AGENT_SECRET,
                "SMSROUTER_AGENTS": "beta=http://127.0.0.1:9/beta",
                "SMSROUTER_AGENT_SECRET_BETA": "b"}
        base.update(env)
        srv = self.make_server(start=False, env=base)
        code, out, err = srv.cli("serve", timeout=20)
        self.assertEqual(code, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        return err

    def test_bad_configurations_are_refused_in_one_sentence(self):
        cases = [
            ({"SMSROUTER_AGENT_CANARY": "x:150"}, "SMSROUTER_AGENT_CANARY must be"),
            ({"SMSROUTER_AGENT_CANARY": "gamma:10"}, "names agent gamma"),
            ({"SMSROUTER_AGENTS": "beta=ftp://127.0.0.1/beta"}, "SMSROUTER_AGENTS must be"),
            ({"SMSROUTER_AGENT_SECRET_BETA": ""},
             "SMSROUTER_AGENT_SECRET_BETA is not set"),
            ({"SMSROUTER_AGENT_URL": ""}, "SMSROUTER_AGENT_URL is not"),
        ]
        for env, want in cases:
            with self.subTest(env=env):
                self.assertIn(want, self.refusal(env))
