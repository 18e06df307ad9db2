"""Users' attributes (timezone, locale, tags): PATCH, the paginated and searchable list,
what the Agent Core is told, and `user set`; each bad input answered and nothing changed."""

import json
import urllib.parse

from harness import PG_URL, ServerTest, new_phone
from standins import AGENT_SECRET, AgentCore


def q(s):
    return urllib.parse.quote(s, safe="")


class PatchTest(ServerTest):
    def setUp(self):
        super().setUp()
        self.user = self.server.add_user("Ada", [new_phone()])
        self.path = "/users/" + self.user["id"]

    def get(self):
        r = self.server.admin("GET", self.path)
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def test_a_new_user_has_no_attributes_in_every_answer(self):
        self.assertEqual((self.user["timezone"], self.user["locale"], self.user["tags"]),
                         (None, None, []))
        by_phone = self.server.user_by_phone(self.user["phones"][0]).json()
        self.assertEqual(by_phone, self.user)
        r = self.server.admin("POST", self.path + "/phones", {"phone": new_phone()})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual((r.json()["timezone"], r.json()["tags"]), (None, []))

    def test_patch_round_trip_changes_only_the_keys_given(self):
        r = self.server.admin("PATCH", self.path, {"timezone": "America/Chicago",
                                                   "locale": "es-MX",
                                                   "tags": ["vip", "beta tester", "café"]})
        self.assertEqual(r.status, 200, r.body)
        u = r.json()
        self.assertEqual((u["timezone"], u["locale"], u["tags"], u["name"]),
                         ("America/Chicago", "es-MX", ["vip", "beta tester", "café"], "Ada"))
        self.assertEqual(self.get(), u)

        r = self.server.admin("PATCH", self.path, {"name": "Ada L."})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), dict(u, name="Ada L."))

        r = self.server.admin("PATCH", self.path, {"timezone": None, "tags": []})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), dict(u, name="Ada L.", timezone=None, tags=[]))
        self.assertEqual(self.get(), r.json())

    def assertRefusedUnchanged(self, body, status, key=None, raw=None):
        before = self.server.admin("PATCH", self.path, {"timezone": "Europe/Paris",
                                                        "tags": ["keep"]}).json()
        r = self.server.admin("PATCH", self.path, body, raw=raw)
        j = self.assertJsonError(r, status)
        if key:
            self.assertIn('"%s"' % key, j["message"])
        self.assertEqual(self.get(), before)
        return j

    def test_each_bad_input_is_refused_and_changes_nothing(self):
        cases = [
            ({"tags": ["t%d" % i for i in range(21)], "locale": "de-DE"}, 422, "tags"),
            ({"tags": ["ok", "two\nlines"]}, 422, "tags"),
            ({"tags": ["a", "a"]}, 422, "tags"),
            ({"tags": [""]}, 422, "tags"),
            ({"tags": ["x" * 65]}, 422, "tags"),
            ({"tags": [1]}, 422, "tags"),
            ({"tags": "vip"}, 422, "tags"),
            ({"timezone": "Mars/Olympus_Mons", "name": "Changed"}, 422, "timezone"),
            ({"timezone": "GMT+5"}, 422, "timezone"),
            ({"timezone": 5}, 422, "timezone"),
            ({"locale": "not a locale!"}, 422, "locale"),
            ({"name": " "}, 422, "name"),
            ({"name": None}, 422, "name"),
            ({"colour": "blue", "tags": ["x"]}, 400, "colour"),
            ({"agent": "nosuch", "name": "Changed"}, 422, "agent"),
            ({"agent": "Not A Name"}, 422, "agent"),
            ({"agent": 5}, 422, "agent"),
            ({"mode": "asleep", "tags": ["x"]}, 422, "mode"),
            ({"mode": None}, 422, "mode"),
        ]
        for body, status, key in cases:
            with self.subTest(body=body):
                self.assertRefusedUnchanged(body, status, key)
        # An unknown key wins over a bad value: the request is malformed.
        self.assertRefusedUnchanged({"tags": [""] * 30, "colour": 1}, 400, "colour")
        for raw in [b"[]", b'"x"', b"{", b"", b'{"tags": [], "tags": []}']:
            with self.subTest(raw=raw):
                self.assertRefusedUnchanged(None, 400, raw=raw)

    def test_agent_and_mode_are_set_and_shown(self):
        self.assertEqual((self.get()["agent"], self.get()["mode"]), (None, "agent"))
        r = self.server.admin("PATCH", self.path, {"agent": "default", "mode": "paused"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.json()["agent"], r.json()["mode"]), ("default", "paused"))
        self.assertEqual(self.get(), r.json())
        r = self.server.admin("PATCH", self.path, {"agent": None, "mode": "agent"})
        self.assertEqual((r.json()["agent"], r.json()["mode"]), (None, "agent"))

    def test_patch_of_an_unknown_user_is_404(self):
        r = self.server.admin("PATCH", "/users/0123456789abcdef0123456789abcdef",
                              {"tags": ["x"]})
        self.assertJsonError(r, 404)

    def test_patch_needs_the_token(self):
        r = self.server.admin("PATCH", self.path, {"tags": ["x"]}, token=None)
        self.assertJsonError(r, 401)
        self.assertEqual(self.get()["tags"], [])


class ListTest(ServerTest):
    def page(self, query, status=200):
        r = self.server.admin("GET", "/users?" + query)
        self.assertEqual(r.status, status, r.body)
        return r.json()

    def walk(self, query, limit):
        """Every page of query, limit at a time: the ids, in order, and the page count."""
        ids, after, pages = [], None, 0
        while True:
            qs = query + "&limit=%d" % limit + ("&after=" + q(after) if after else "")
            j = self.page(qs)
            self.assertEqual(set(j), {"users", "next"})
            self.assertLessEqual(len(j["users"]), limit)
            ids += [u["id"] for u in j["users"]]
            pages += 1
            after = j["next"]
            if after is None:
                return ids, pages
            self.assertEqual(len(j["users"]), limit)
            self.assertLess(pages, 100)

    def test_pages_give_every_user_once_oldest_first(self):
        users = [self.server.add_user("User %d" % i, [new_phone()]) for i in range(7)]
        everyone = self.page("limit=500")
        self.assertIsNone(everyone["next"])
        order = [u["id"] for u in everyone["users"]]
        self.assertEqual(sorted(order), sorted(u["id"] for u in users))
        keys = [(u["created_at"], u["id"]) for u in everyone["users"]]
        self.assertEqual(keys, sorted(keys))
        for limit in (1, 2, 3, 7):
            with self.subTest(limit=limit):
                ids, pages = self.walk("", limit)
                self.assertEqual(ids, order)
                self.assertEqual(pages, -(-7 // limit))
        # The default page is 50; each user is the one the other endpoints show.
        j = self.page("")
        self.assertEqual(j["users"], everyone["users"])

    def test_q_by_name_and_by_phone_prefix_and_tag(self):
        ada = self.server.add_user("Ada Lovelace", ["+15550100101", "+442071838750"])
        bob = self.server.add_user("Bob", ["+15550100102"])
        adam = self.server.add_user("ADAM", ["+33612345678"])
        zoe = self.server.add_user("Zoë", ["+15550200103"])
        for u, tags in [(ada, ["vip"]), (zoe, ["beta", "vip"])]:
            r = self.server.admin("PATCH", "/users/" + u["id"], {"tags": tags})
            self.assertEqual(r.status, 200, r.body)
        order = [u["id"] for u in self.page("limit=500")["users"]]

        def expect(*users):
            return [i for i in order if i in {u["id"] for u in users}]

        for query, want in [("q=aDa", expect(ada, adam)), ("q=" + q("oë"), expect(zoe)),
                            ("q=" + q("+1555010"), expect(ada, bob)),
                            ("q=" + q("+44"), expect(ada)), ("q=%2B0100", []),
                            ("q=+1555020", expect(zoe)),  # an unencoded '+'
                            ("tag=vip", expect(ada, zoe)), ("tag=VIP", []),
                            ("tag=beta", expect(zoe)),
                            ("tag=vip&q=" + q("+155502"), expect(zoe)),
                            ("q=nobody", [])]:
            with self.subTest(query=query):
                self.assertEqual(self.walk(query, 1)[0], want)
                self.assertEqual(self.walk(query, 500)[0], want)

    def test_a_bad_limit_or_a_foreign_cursor_is_400(self):
        self.server.add_user("Ada", [new_phone()])
        for query in ["limit=0", "limit=501", "limit=x", "limit=", "limit=-1", "limit=+5",
                      "after=nope", "after=u1.1.ZZ", "after=" + q("u1.1.ab'; --"),
                      "phone=%2B15550100101&limit=5"]:
            with self.subTest(query=query):
                self.assertJsonError(self.server.admin("GET", "/users?" + query), 400)

    def test_phone_alone_keeps_its_answer(self):
        phone = new_phone()
        u = self.server.add_user("Ada", [phone])
        r = self.server.user_by_phone(phone)
        self.assertEqual((r.status, r.json()), (200, u))
        self.assertJsonError(self.server.user_by_phone(new_phone()), 404)
        self.assertJsonError(self.server.admin("GET", "/users?phone=123"), 422)


class AgentSeesAttributesTest(ServerTest):
    start_server = False

    def test_the_agent_core_gets_timezone_locale_and_tags(self):
        agent = AgentCore(mode="echo")
        self.addCleanup(agent.close)
        server = self.make_server(env={"SMSROUTER_AGENT_URL": agent.url + "/agent",
                                       "SMSROUTER_AGENT_SECRET": AGENT_SECRET,
                                       "SMSROUTER_SENDER_LIMIT": "0"})
        phone = new_phone()
        u = server.add_user("Ada", [phone])
        self.assertEqual(server.say(phone, "one"), "echo: one")
        r = server.admin("PATCH", "/users/" + u["id"], {"timezone": "Asia/Tokyo",
                                                        "locale": "ja-JP",
                                                        "tags": ["vip", "early"]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(server.say(phone, "two"), "echo: two")
        users = [req["body"]["user"] for req in agent.requests()]
        base = {"id": u["id"], "name": "Ada", "agent": None, "mode": "agent"}
        self.assertEqual(users, [dict(base, timezone=None, locale=None, tags=[]),
                                 dict(base, timezone="Asia/Tokyo", locale="ja-JP",
                                      tags=["vip", "early"])])


class UserSetCommandTest(ServerTest):
    start_server = False

    def setUp(self):
        self.srv = self.make_server(start=False)
        code, out, err = self.srv.cli("user", "add", "Ada", new_phone())
        self.assertEqual(code, 0, err)
        self.uid = out.strip()

    def show(self):
        code, out, err = self.srv.cli("user", "show", self.uid)
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def test_user_set_changes_the_options_given_and_show_prints_them(self):
        code, out, err = self.srv.cli("user", "set", self.uid, "--timezone", "Europe/Paris",
                                      "--locale", "fr-FR", "--tag", "vip", "--tag", "a b")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), self.show())
        u = self.show()
        self.assertEqual((u["timezone"], u["locale"], u["tags"]),
                         ("Europe/Paris", "fr-FR", ["vip", "a b"]))
        # Repeated --tag replaces the list; one empty --tag empties it; '' clears a zone.
        code, _, err = self.srv.cli("user", "set", self.uid, "--tag", "solo")
        self.assertEqual((code, self.show()["tags"], self.show()["locale"]),
                         (0, ["solo"], "fr-FR"), err)
        code, _, err = self.srv.cli("user", "set", self.uid, "--tag", "", "--timezone", "")
        self.assertEqual(code, 0, err)
        u = self.show()
        self.assertEqual((u["tags"], u["timezone"], u["locale"]), ([], None, "fr-FR"))

    def test_bad_values_exit_2_with_one_sentence_and_change_nothing(self):
        before = self.show()
        for args in [["--timezone", "Mars/Base"], ["--locale", "not a locale!"],
                     ["--tag", "two\nlines"], ["--tag", "a", "--tag", "a"],
                     ["--tag", "x" * 65], sum([["--tag", "t%d" % i] for i in range(21)], []),
                     ["--mode", "asleep"], ["--agent", "x"], ["--agent", "Not ok"],
                     ["--colour", "blue"],
                     ["--tag"]]:
            with self.subTest(args=args):
                code, out, err = self.srv.cli("user", "set", self.uid, *args)
                self.assertEqual((code, out), (2, ""), err)
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertTrue(lines[0].endswith("."), err)
        self.assertEqual(self.show(), before)

    def test_agent_and_mode_are_set_and_cleared(self):
        code, out, err = self.srv.cli("user", "set", self.uid, "--agent", "default",
                                      "--mode", "paused")
        self.assertEqual(code, 0, err)
        self.assertEqual((self.show()["agent"], self.show()["mode"]), ("default", "paused"))
        code, out, err = self.srv.cli("user", "set", self.uid, "--agent", "", "--mode", "agent")
        self.assertEqual(code, 0, err)
        self.assertEqual((self.show()["agent"], self.show()["mode"]), (None, "agent"))

    def test_an_unknown_user_exits_1(self):
        code, out, err = self.srv.cli("user", "set", "0123456789abcdef0123456789abcdef",
                                      "--tag", "x")
        self.assertEqual((code, out), (1, ""), err)
        self.assertIn("no user", err)
