"""Admin API: Bearer token, users, phones, messages, usage."""

import json
import re
import sqlite3
import urllib.parse

from harness import requires_sqlite, ADMIN_TOKEN, ServerTest, TWILIO_NUMBER, new_phone, new_sid

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
USER_KEYS = {"id", "name", "phones", "opted_out", "created_at", "timezone", "locale",
             "tags", "agent", "mode"}
# The contract's message fields, "id", "channel" and "media" on every message, and the
# fields of a message sent through the API (null on the others).
MESSAGE_KEYS = {"sid", "direction", "from", "to", "body", "status", "encoding", "segments",
                "created_at", "id", "channel", "media", "user_id", "kind", "error_code",
                "send_at", "not_before"}


def q(s):
    return urllib.parse.quote(s, safe="")


class AdminAuthTest(ServerTest):
    def test_missing_token_is_401(self):
        r = self.server.admin("GET", "/users?phone=%2B15550100101", token=None)
        self.assertJsonError(r, 401)

    def test_wrong_token_is_401(self):
        for tok in ["wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1], ""]:
            with self.subTest(token=tok):
                r = self.server.admin("POST", "/users", {"name": "X", "phones": []}, token=tok)
                self.assertJsonError(r, 401)
        r = self.server.admin("GET", "/usage")
        self.assertEqual(r.json()["total"]["inbound"], 0)

    def test_401_names_the_bearer_scheme(self):
        r = self.server.admin("GET", "/usage", token=None)
        self.assertEqual(r.status, 401)
        self.assertIn("Bearer", r.header("WWW-Authenticate") or "")

    def test_bearer_scheme_name_is_case_insensitive_but_the_token_is_not(self):
        for scheme in ["bearer", "BEARER", "bEaReR"]:
            with self.subTest(scheme=scheme):
                r = self.server.request("GET", "/sms-router/admin/usage",
                                        headers={"Authorization": scheme + " " + ADMIN_TOKEN})
                self.assertEqual(r.status, 200, r.text)
        r = self.server.request("GET", "/sms-router/admin/usage",
                                headers={"Authorization": "Bearer " + ADMIN_TOKEN.upper()})
        self.assertJsonError(r, 401)

    def test_non_bearer_authorization_is_401(self):
        r = self.server.request("GET", "/sms-router/admin/usage",
                                headers={"Authorization": "Basic " + ADMIN_TOKEN})
        self.assertJsonError(r, 401)

    def test_every_admin_route_requires_the_token(self):
        uid = self.server.add_user("Ann", [new_phone()])["id"]
        routes = [("GET", "/users?phone=%2B15550100101"), ("POST", "/users"),
                  ("GET", "/users/" + uid), ("DELETE", "/users/" + uid),
                  ("POST", "/users/%s/phones" % uid),
                  ("DELETE", "/users/%s/phones/%%2B15550100101" % uid),
                  ("GET", "/users/%s/messages" % uid), ("GET", "/usage"),
                  ("PATCH", "/users/" + uid), ("GET", "/users?limit=5")]
        for method, path in routes:
            with self.subTest(route=(method, path)):
                r = self.server.admin(method, path, {"phone": "+15550100999"}, token="bad")
                self.assertJsonError(r, 401)
        self.assertEqual(self.server.admin("GET", "/users/" + uid).status, 200)


class AdminDisabledTest(ServerTest):
    def setUp(self):
        self.server = self.make_server(admin_token=None)

    def test_admin_api_is_404_without_admin_token(self):
        for method, path in [("GET", "/users?phone=%2B15550100101"), ("POST", "/users"),
                             ("GET", "/users/abc"), ("GET", "/usage"),
                             ("GET", "/users/abc/messages")]:
            with self.subTest(route=(method, path)):
                r = self.server.admin(method, path, {"name": "x", "phones": []},
                                      token="anything")
                self.assertJsonError(r, 404)
                r = self.server.admin(method, path, token=None)
                self.assertJsonError(r, 404)

    def test_webhooks_still_work_without_admin_token(self):
        self.assertIsNotNone(self.server.say(new_phone(), "hi"))


class AdminEmptyTokenFlagTest(ServerTest):
    """An empty --admin-token is the variable left empty: the admin API is off (404),
    whatever SMSROUTER_ADMIN_TOKEN says, and an empty bearer token opens nothing."""

    def check_off(self, server):
        for token in ["", "anything", None]:
            with self.subTest(token=token):
                self.assertJsonError(server.admin("GET", "/usage", token=token), 404)
                r = server.admin("POST", "/users", {"name": "Eve", "phones": [new_phone()]},
                                 token=token)
                self.assertJsonError(r, 404)
        self.assertIn('"admin_api":"off"', "\n".join(server.log_lines()))

    def test_empty_admin_token_flag_turns_the_admin_api_off(self):
        self.check_off(self.make_server(admin_token=None, args=["--admin-token", ""]))

    def test_empty_admin_token_flag_with_equals_sign_overrides_the_variable(self):
        self.check_off(self.make_server(args=["--admin-token="]))


class AdminUsersTest(ServerTest):
    def test_create_user_returns_201_user(self):
        p1, p2 = new_phone(), new_phone()
        r = self.server.admin("POST", "/users", {"name": "Ann Lee", "phones": [p1, p2]})
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        u = r.json()
        self.assertEqual(set(u), USER_KEYS)
        self.assertIsInstance(u["id"], str)
        self.assertGreaterEqual(len(u["id"]), 16)
        self.assertEqual(u["name"], "Ann Lee")
        self.assertEqual(sorted(u["phones"]), sorted([p1, p2]))
        self.assertIs(u["opted_out"], False)
        self.assertRegex(u["created_at"], RFC3339)

    def test_user_ids_are_unique_and_not_sequential(self):
        ids = [self.server.add_user("U%d" % i, [new_phone()])["id"] for i in range(5)]
        self.assertEqual(len(set(ids)), 5)
        for i in ids:
            self.assertFalse(i.isdigit(), i)
            self.assertGreaterEqual(len(i), 16)

    def test_create_user_without_phones(self):
        r = self.server.admin("POST", "/users", {"name": "Nobody", "phones": []})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["phones"], [])

    def test_invalid_e164_is_422(self):
        bad = ["15550100101", "+1", "+1234567", "+1234567890123456", "+0155501001",
               "+1555010010a", "+1 555 010 0101", "", "+", "tel:+15550100101"]
        for ph in bad:
            with self.subTest(phone=ph):
                r = self.server.admin("POST", "/users", {"name": "Bad", "phones": [ph]})
                self.assertJsonError(r, 422)

    def test_a_phone_that_is_not_a_json_string_is_400_in_both_places(self):
        # A malformed body (400), whereas a string that is not E.164 is 422.
        u = self.server.add_user("Ann", [new_phone()])
        for ph in [15550100199, None, True, {}, ["+15550100199"], 1.5]:
            with self.subTest(phone=ph):
                r = self.server.admin("POST", "/users", {"name": "Bad", "phones": [ph]})
                self.assertJsonError(r, 400)
                r = self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": ph})
                self.assertJsonError(r, 400)
        self.assertEqual(self.server.user_by_phone("+15550100199").status, 404)

    def test_a_phone_given_twice_is_400_naming_it_and_stores_nothing(self):
        # As user add and import refuse it.
        p, other = new_phone(), new_phone()
        for phones in [[p, p], [other, p, p], [p, other, p]]:
            with self.subTest(phones=phones):
                r = self.server.admin("POST", "/users", {"name": "A", "phones": phones})
                self.assertIn(p, self.assertJsonError(r, 400)["message"])
        self.assertEqual(self.server.user_by_phone(p).status, 404)
        self.assertEqual(self.server.user_by_phone(other).status, 404)

    def test_valid_e164_lengths_are_accepted(self):
        for ph in ["+12345678", "+123456789012345"]:
            with self.subTest(phone=ph):
                r = self.server.admin("POST", "/users", {"name": "Edge", "phones": [ph]})
                self.assertEqual(r.status, 201, r.body)

    def test_phone_of_another_user_is_409(self):
        p = new_phone()
        self.server.add_user("Ann", [p])
        r = self.server.admin("POST", "/users", {"name": "Bob", "phones": [new_phone(), p]})
        self.assertJsonError(r, 409)
        self.assertEqual(self.server.user_by_phone(p).json()["name"], "Ann")

    def test_failed_create_leaves_no_partial_user(self):
        taken = new_phone()
        fresh = new_phone()
        self.server.add_user("Ann", [taken])
        r = self.server.admin("POST", "/users", {"name": "Bob", "phones": [fresh, taken]})
        self.assertEqual(r.status, 409)
        self.assertEqual(self.server.user_by_phone(fresh).status, 404)

    def test_bad_json_body_is_400(self):
        for raw in [b"{", b"not json", b"[]", b'"x"', b"", b'{"name": "a", "name": "b"}']:
            with self.subTest(body=raw):
                r = self.server.admin("POST", "/users", raw=raw)
                self.assertJsonError(r, 400)

    def test_missing_name_is_400(self):
        r = self.server.admin("POST", "/users", {"phones": [new_phone()]})
        self.assertJsonError(r, 400)

    def test_bad_name_is_400_and_stores_nothing(self):
        # The rule of every entry point (store_name_check): UTF-8, 1 to 200 bytes, not
        # only white space, no control character (C0, DEL, C1).
        p = new_phone()
        for name in ["", "   ", "\u00a0\u3000", "Tab\tName", "LF\nName", "Ctl\x01Name",
                     "Del\x7fName", "Nel\u0085Name", "a" * 201, "\u00e9" * 101, 5, None]:
            with self.subTest(name=name):
                r = self.server.admin("POST", "/users", {"name": name, "phones": [p]})
                self.assertIn("name", self.assertJsonError(r, 400)["message"])
        r = self.server.admin("POST", "/users", raw=b'{"name": "Bad\xffName", "phones": []}')
        self.assertJsonError(r, 400)
        self.assertEqual(self.server.user_by_phone(p).status, 404)

    def test_a_utf8_name_of_200_bytes_is_kept_as_given(self):
        for name in ["\u00e9" * 100, " Zo\u00eb \U0001F600 "]:
            with self.subTest(name=name):
                p = new_phone()
                u = self.server.add_user(name, [p])
                self.assertEqual(u["name"], name)
                self.assertEqual(self.server.user_by_phone(p).json()["name"], name)

    def test_get_user_by_id(self):
        u = self.server.add_user("Ann", [new_phone()])
        r = self.server.admin("GET", "/users/" + u["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), u)

    def test_get_unknown_user_is_404(self):
        self.assertJsonError(self.server.admin("GET", "/users/0123456789abcdef0123456789abcdef"),
                             404)
        self.assertJsonError(self.server.admin("GET", "/users/nope"), 404)

    def test_escaped_id_is_decoded_and_an_escaped_nul_matches_nothing(self):
        u = self.server.add_user("Ann", [new_phone()])
        # %61 is "a"; an id whose letters come escaped is the same id.
        escaped = "".join("%%%02X" % ord(ch) for ch in u["id"])
        r = self.server.admin("GET", "/users/" + escaped)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["id"], u["id"])
        for bad in [u["id"] + "%00", "%00", u["id"][:4] + "%zz", "%"]:
            with self.subTest(segment=bad):
                self.assertJsonError(self.server.admin("GET", "/users/" + bad), 404)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).status, 200)

    def test_get_user_by_phone(self):
        p = new_phone()
        u = self.server.add_user("Ann", [new_phone(), p])
        r = self.server.admin("GET", "/users?phone=" + q(p))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), u)

    def test_get_user_by_unencoded_plus_phone(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        r = self.server.admin("GET", "/users?phone=" + p)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["id"], u["id"])

    def test_get_user_by_unknown_phone_is_404(self):
        self.assertJsonError(self.server.admin("GET", "/users?phone=" + q(new_phone())), 404)

    def test_add_phone_returns_201_user(self):
        u = self.server.add_user("Ann", [new_phone()])
        p = new_phone()
        r = self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": p})
        self.assertEqual(r.status, 201, r.body)
        j = r.json()
        self.assertEqual(j["id"], u["id"])
        self.assertEqual(sorted(j["phones"]), sorted(u["phones"] + [p]))
        self.assertEqual(self.server.user_by_phone(p).json()["id"], u["id"])

    def test_phones_keep_the_order_given_and_an_added_one_comes_last(self):
        phones = ["+15559999999", "+15551111111", "+15555555555"]
        r = self.server.admin("POST", "/users", {"name": "Ann", "phones": phones})
        self.assertEqual(r.status, 201, r.body)
        u = r.json()
        self.assertEqual(u["phones"], phones)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json()["phones"], phones)
        self.assertEqual(self.server.user_by_phone(phones[1]).json()["phones"], phones)
        r = self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": "+15550000000"})
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json()["phones"], phones + ["+15550000000"])
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json()["phones"],
                         phones + ["+15550000000"])

    def test_added_phone_is_routed_to_the_user(self):
        u = self.server.add_user("Ann", [new_phone()])
        self.server.say(u["phones"][0], "remember shared")
        p = new_phone()
        self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": p})
        self.assertEqual(self.server.say(p, "recall"), "Your notes:\n1. shared")

    def test_add_invalid_phone_is_422(self):
        u = self.server.add_user("Ann", [new_phone()])
        r = self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": "5550100"})
        self.assertJsonError(r, 422)

    def test_add_phone_of_another_user_is_409(self):
        p = new_phone()
        self.server.add_user("Ann", [p])
        b = self.server.add_user("Bob", [new_phone()])
        r = self.server.admin("POST", "/users/%s/phones" % b["id"], {"phone": p})
        self.assertJsonError(r, 409)

    def test_add_phone_to_unknown_user_is_404(self):
        r = self.server.admin("POST", "/users/%s/phones" % ("f" * 32), {"phone": new_phone()})
        self.assertJsonError(r, 404)

    def test_add_phone_bad_json_is_400(self):
        u = self.server.add_user("Ann", [new_phone()])
        r = self.server.admin("POST", "/users/%s/phones" % u["id"], raw=b"{phone:")
        self.assertJsonError(r, 400)

    def test_remove_phone_is_204_and_number_becomes_unknown(self):
        keep, drop = new_phone(), new_phone()
        u = self.server.add_user("Ann", [keep, drop])
        r = self.server.admin("DELETE", "/users/%s/phones/%s" % (u["id"], q(drop)))
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        self.assertEqual(self.server.user_by_phone(drop).status, 404)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json()["phones"], [keep])
        self.assertIn("not registered", self.server.say(drop, "recall"))

    def test_remove_phone_with_unencoded_plus_in_path(self):
        keep, drop = new_phone(), new_phone()
        u = self.server.add_user("Ann", [keep, drop])
        r = self.server.admin("DELETE", "/users/%s/phones/%s" % (u["id"], drop))
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.server.user_by_phone(drop).status, 404)

    def test_remove_phone_not_owned_is_404(self):
        a = self.server.add_user("Ann", [new_phone()])
        b = self.server.add_user("Bob", [new_phone()])
        r = self.server.admin("DELETE", "/users/%s/phones/%s" % (a["id"], q(b["phones"][0])))
        self.assertJsonError(r, 404)
        self.assertEqual(self.server.user_by_phone(b["phones"][0]).json()["id"], b["id"])

    def test_remove_invalid_phone_is_422_like_the_lookup(self):
        u = self.server.add_user("Ann", [new_phone()])
        lookup = self.assertJsonError(self.server.admin("GET", "/users?phone=garbage"), 422)
        for seg in ["garbage", "15550100101", q("+1"), q("+0155501001"), q("+1555010010a"),
                    q("+1 555 010 0101"), q("tel:+15550100101")]:
            for uid in [u["id"], "f" * 32]:  # validated before the user is looked up
                with self.subTest(phone=seg, user=uid):
                    r = self.server.admin("DELETE", "/users/%s/phones/%s" % (uid, seg))
                    self.assertEqual(self.assertJsonError(r, 422), lookup)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json(), u)

    def test_delete_user_is_204_then_404(self):
        u = self.server.add_user("Ann", [new_phone()])
        r = self.server.admin("DELETE", "/users/" + u["id"])
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).status, 404)
        self.assertEqual(self.server.user_by_phone(u["phones"][0]).status, 404)
        self.assertJsonError(self.server.admin("DELETE", "/users/" + u["id"]), 404)
        self.assertJsonError(self.server.admin("GET", "/users/%s/messages" % u["id"]), 404)

    @requires_sqlite
    def test_delete_user_erases_messages_and_notes(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        secret = "secret-to-erase-" + new_sid()
        self.assertEqual(self.server.say(p, "remember " + secret), "Noted.")
        self.assertEqual(self.server.admin("DELETE", "/users/" + u["id"]).status, 204)
        v = self.server.add_user("Newcomer", [p])
        self.assertNotEqual(v["id"], u["id"])
        self.assertEqual(self.server.messages(v["id"]), [])
        self.assertEqual(self.server.say(p, "recall"), "You have no notes.")
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertNotIn(u["id"], [x["user_id"] for x in usage["users"]])
        # The text is gone from the store itself, not just hidden.
        db = sqlite3.connect("file:%s?mode=ro" % self.server.db_path, uri=True)
        try:
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for t in tables:
                for row in db.execute('SELECT * FROM "%s"' % t.replace('"', '""')):
                    self.assertNotIn(secret, repr(row), "table %s still holds it" % t)
        finally:
            db.close()


class AdminMessagesTest(ServerTest):
    def test_messages_newest_first_with_all_fields(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        s1, s2 = new_sid(), new_sid()
        self.server.say(p, "remember one", sid=s1)
        self.server.say(p, "recall", sid=s2)
        msgs = self.server.messages(u["id"])
        self.assertEqual(len(msgs), 4)
        for m in msgs:
            self.assertEqual(set(m), MESSAGE_KEYS)
            self.assertRegex(m["created_at"], RFC3339)
            self.assertEqual(m["encoding"], "GSM-7")
            self.assertEqual(m["segments"], 1)
            self.assertRegex(m["id"], r"^[0-9a-f]{32}$")
            self.assertEqual((m["channel"], m["media"], m["kind"]), ("sms", [], None))
            self.assertEqual(m["user_id"], u["id"])
        self.assertEqual(len({m["id"] for m in msgs}), 4, "each message has its own id")
        self.assertEqual([m["direction"] for m in msgs],
                         ["outbound", "inbound", "outbound", "inbound"])
        self.assertEqual([m["body"] for m in msgs],
                         ["Your notes:\n1. one", "recall", "Noted.", "remember one"])
        self.assertEqual([m["sid"] for m in msgs], [None, s2, None, s1])
        for m in msgs:
            if m["direction"] == "inbound":
                self.assertEqual((m["from"], m["to"], m["status"]), (p, TWILIO_NUMBER, "received"))
            else:
                self.assertEqual((m["from"], m["to"]), (TWILIO_NUMBER, p))
                self.assertIsNone(m["sid"])

    def test_limit_returns_the_newest(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        for i in range(3):
            self.server.say(p, "remember %d" % i)
        msgs = self.server.messages(u["id"], limit=2)
        self.assertEqual([m["body"] for m in msgs], ["Noted.", "remember 2"])
        self.assertEqual(len(self.server.messages(u["id"], limit=1)), 1)
        self.assertEqual(len(self.server.messages(u["id"], limit=1000)), 6)

    def test_bad_limit_is_400(self):
        u = self.server.add_user("Ann", [new_phone()])
        for lim in ["0", "-1", "abc", "", "1001", "99999999999999999999", "%2B5", "+5",
                    "%205", "%095", "5%20", "0x10", "5.0", "1e2", "%EF%BC%95", "00000"]:
            with self.subTest(limit=lim):
                r = self.server.admin("GET", "/users/%s/messages?limit=%s" % (u["id"], lim))
                self.assertJsonError(r, 400)

    def test_limit_of_ascii_digits_is_accepted(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        self.server.say(p, "recall")
        for lim in ["1", "0002", "1000"]:
            with self.subTest(limit=lim):
                r = self.server.admin("GET", "/users/%s/messages?limit=%s" % (u["id"], lim))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(len(r.json()["messages"]), min(int(lim), 2))

    def test_messages_of_unknown_user_is_404(self):
        self.assertJsonError(self.server.admin("GET", "/users/%s/messages" % ("a" * 32)), 404)

    def test_messages_are_only_that_users(self):
        pa, pb = new_phone(), new_phone()
        a = self.server.add_user("Ann", [pa])
        b = self.server.add_user("Bob", [pb])
        self.server.say(pa, "remember ann-only")
        self.server.say(pb, "remember bob-only")
        self.server.say(new_phone(), "stranger")
        for u, p, other in [(a, pa, "bob-only"), (b, pb, "ann-only")]:
            msgs = self.server.messages(u["id"])
            self.assertEqual(len(msgs), 2)
            for m in msgs:
                self.assertIn(p, (m["from"], m["to"]))
                self.assertNotIn(other, m["body"])

    def test_unicode_message_is_ucs2(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        self.server.say(p, "remember \U0001F600", extra={"NumSegments": "1"})
        inbound = [m for m in self.server.messages(u["id"]) if m["direction"] == "inbound"]
        self.assertEqual(inbound[0]["encoding"], "UCS-2")
        self.assertEqual(inbound[0]["body"], "remember \U0001F600")

    def test_reply_segments_follow_gsm7_rules(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        self.server.say(p, "remember " + "a" * 150)
        reply = self.server.messages(u["id"], limit=1)[0]
        self.assertEqual(reply["body"], "Noted.")
        text = self.server.say(p, "recall")  # "Your notes:\n1. " + 150 chars = 165 > 160
        self.assertGreater(len(text), 160)
        reply = self.server.messages(u["id"], limit=1)[0]
        self.assertEqual((reply["encoding"], reply["segments"]), ("GSM-7", 2))


class ReplySegmentsTest(ServerTest):
    """Segments of a reply (recall of one note: "Your notes:\n1. " is 15 characters)."""

    PREFIX = len("Your notes:\n1. ")

    def reply_of(self, note):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        self.assertEqual(self.server.say(p, "remember " + note), "Noted.")
        self.assertEqual(self.server.say(p, "recall"), "Your notes:\n1. " + note)
        m = self.server.messages(u["id"], limit=1)[0]
        return m["encoding"], m["segments"]

    def test_gsm7_160_characters_is_one_segment(self):
        self.assertEqual(self.reply_of("a" * (160 - self.PREFIX)), ("GSM-7", 1))

    def test_gsm7_161_characters_is_two_segments(self):
        self.assertEqual(self.reply_of("a" * (161 - self.PREFIX)), ("GSM-7", 2))

    def test_gsm7_306_characters_is_two_segments_307_three(self):
        self.assertEqual(self.reply_of("a" * (306 - self.PREFIX)), ("GSM-7", 2))
        self.assertEqual(self.reply_of("a" * (307 - self.PREFIX)), ("GSM-7", 3))

    def test_gsm7_extension_characters_count_two(self):
        # 15 + 2 * 72 + 1 = 160 septets; one more brace makes 162.
        self.assertEqual(self.reply_of("{" * 72 + "a"), ("GSM-7", 1))
        self.assertEqual(self.reply_of("{" * 73), ("GSM-7", 2))

    def test_ucs2_70_units_is_one_segment_71_two(self):
        self.assertEqual(self.reply_of("\u0105" * (70 - self.PREFIX)), ("UCS-2", 1))
        self.assertEqual(self.reply_of("\u0105" * (71 - self.PREFIX)), ("UCS-2", 2))

    def test_ucs2_counts_utf16_units(self):
        # An emoji is two UTF-16 units: 15 + 2 * 27 = 69, 15 + 2 * 28 = 71.
        self.assertEqual(self.reply_of("\U0001F600" * 27), ("UCS-2", 1))
        self.assertEqual(self.reply_of("\U0001F600" * 28), ("UCS-2", 2))

    def test_ucs2_134_units_is_two_segments_135_three(self):
        self.assertEqual(self.reply_of("\u0105" * (134 - self.PREFIX)), ("UCS-2", 2))
        self.assertEqual(self.reply_of("\u0105" * (135 - self.PREFIX)), ("UCS-2", 3))


class AdminUsageTest(ServerTest):
    def assertUsage(self, got, want):
        """got has every field of want with want's value (more fields may follow)."""
        self.assertEqual({k: got.get(k) for k in want}, want, got)
        self.assertIsInstance(got["cost"], str)
        self.assertRegex(got["cost"], r"^\d+\.\d{4}$")

    def test_usage_counts_and_costs_per_user(self):
        pa, pb = new_phone(), new_phone()
        a = self.server.add_user("Ann", [pa])
        b = self.server.add_user("Bob", [pb])
        self.server.say(pa, "remember x")
        self.server.say(pa, "recall")
        self.server.say(pb, "recall")
        r = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z")
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertLessEqual({"since", "currency", "users", "total"}, set(j))
        self.assertEqual(j["since"], "2000-01-01T00:00:00Z")
        self.assertEqual(j["currency"], "USD")
        by_user = {x["user_id"]: x for x in j["users"]}
        self.assertEqual(set(by_user), {a["id"], b["id"]})
        self.assertUsage(by_user[a["id"]], {"user_id": a["id"], "inbound": 2, "outbound": 2,
                                            "segments": 4, "cost": "0.0332"})
        self.assertUsage(by_user[b["id"]], {"user_id": b["id"], "inbound": 1, "outbound": 1,
                                            "segments": 2, "cost": "0.0166"})
        self.assertUsage(j["total"], {"inbound": 3, "outbound": 3, "segments": 6,
                                      "cost": "0.0498"})

    def test_usage_has_exactly_the_contract_keys(self):
        p = new_phone()
        a = self.server.add_user("Ann", [p])
        self.server.say(p, "recall")
        self.server.say(new_phone(), "hi")  # an unknown sender: in the total only
        for query in ["?since=2000-01-01T00:00:00Z", "", "?since=2000-01-01T00:00:00Z&detail=0"]:
            with self.subTest(query=query):
                r = self.server.admin("GET", "/usage" + query)
                self.assertEqual(r.status, 200, r.body)
                j = r.json()
                self.assertEqual(set(j), {"since", "currency", "users", "total"})
                self.assertEqual(j["users"], [{"user_id": a["id"], "inbound": 1, "outbound": 1,
                                               "segments": 2, "cost": "0.0166"}])
                self.assertEqual(j["total"], {"inbound": 2, "outbound": 2, "segments": 4,
                                              "cost": "0.0332"})

    def test_usage_detail_adds_the_cost_control_counts(self):
        p = new_phone()
        a = self.server.add_user("Ann", [p])
        self.server.say(p, "recall")
        r = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z&detail=1")
        self.assertEqual(r.status, 200, r.body)
        j = r.json()
        self.assertEqual(set(j), {"since", "currency", "users", "total"})
        self.assertEqual(j["users"], [{"user_id": a["id"], "inbound": 1, "outbound": 1,
                                       "segments": 2, "cost": "0.0166", "over_budget": 0,
                                       "truncated": 0, "smart_encoded": 0, "proactive": 0,
                                       "mms": 0, "whatsapp": 0}])
        self.assertEqual(j["total"], {"inbound": 1, "outbound": 1, "segments": 2,
                                      "cost": "0.0166", "over_budget": 0, "truncated": 0,
                                      "smart_encoded": 0, "proactive": 0, "mms": 0,
                                      "whatsapp": 0})

    def test_usage_bad_detail_is_400(self):
        for d in ["yes", "2", "", "true"]:
            with self.subTest(detail=d):
                r = self.server.admin("GET", "/usage?detail=" + q(d))
                self.assertEqual(self.assertJsonError(r, 400)["error"], "bad_detail")

    def test_usage_counts_inbound_segments_from_twilio(self):
        p = new_phone()
        a = self.server.add_user("Ann", [p])
        self.server.say(p, "remember " + "b" * 300, extra={"NumSegments": "2"})
        j = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(len(j["users"]), 1)
        self.assertUsage(j["users"][0], {"user_id": a["id"], "inbound": 1, "outbound": 1,
                                         "segments": 3, "cost": "0.0249"})

    def test_usage_since_the_future_is_empty(self):
        p = new_phone()
        self.server.add_user("Ann", [p])
        self.server.say(p, "recall")
        j = self.server.admin("GET", "/usage?since=2999-01-01T00:00:00Z").json()
        self.assertEqual(j["users"], [])
        self.assertUsage(j["total"], {"inbound": 0, "outbound": 0, "segments": 0,
                                      "cost": "0.0000"})

    def test_usage_since_with_offset(self):
        p = new_phone()
        self.server.add_user("Ann", [p])
        self.server.say(p, "recall")
        j = self.server.admin("GET", "/usage?since=" + q("2000-01-01T02:00:00+02:00")).json()
        self.assertEqual(j["total"]["inbound"], 1)

    def test_usage_bad_since_is_400(self):
        for s in ["yesterday", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z", "",
                  "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                  "1900-02-29T00:00:00Z", "2026-11-24", "2026-11-24T00:00Z",
                  "2026-11-24T00:00:00"]:
            with self.subTest(since=s):
                self.assertJsonError(self.server.admin("GET", "/usage?since=" + q(s)), 400)

    def test_usage_since_a_leap_day_is_that_day(self):
        j = self.server.admin("GET", "/usage?since=2028-02-29T00:00:00Z").json()
        self.assertEqual(j["since"], "2028-02-29T00:00:00Z")

    def test_usage_cost_is_exact_at_the_largest_prices(self):
        # 999999999.999999999 is a price the configuration accepts; its units times ten
        # segments pass INT64_MAX, where the cost used to read "overflow".
        srv = self.make_server(env={"SMSROUTER_SEGMENT_PRICE": "999999999.999999999"})
        p = new_phone()
        u = srv.add_user("Ann", [p])
        for i in range(5):
            srv.say(p, "remember %d" % i)  # a segment in, a segment out
        want = {"inbound": 5, "outbound": 5, "segments": 10, "cost": "9999999999.999999990"}
        j = srv.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(j["users"], [dict(user_id=u["id"], **want)])
        self.assertEqual(j["total"], want)
        code, out, err = srv.cli("usage", "--since", "2000-01-01T00:00:00Z")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["total"]["cost"], "9999999999.999999990")

    def test_usage_since_before_the_year_1000_is_written_with_four_digits(self):
        for since in ["0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0099-01-01T00:00:00Z",
                      "0999-12-31T23:59:59Z"]:
            with self.subTest(since=since):
                r = self.server.admin("GET", "/usage?since=" + q(since))
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["since"], since)
        # An offset that moves the time out of years 0000-9999 is refused, as RFC 3339
        # could not write it.
        for since in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"]:
            with self.subTest(since=since):
                self.assertJsonError(self.server.admin("GET", "/usage?since=" + q(since)), 400)

    def test_usage_segment_price_is_configurable(self):
        srv = self.make_server(env={"SMSROUTER_SEGMENT_PRICE": "0.01"})
        p = new_phone()
        srv.add_user("Ann", [p])
        srv.say(p, "recall")
        j = srv.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(j["total"]["segments"], 2)
        self.assertEqual(float(j["total"]["cost"]), 0.02)


class AdminNulTest(ServerTest):
    """JSON's \\u0000 is valid JSON and an invalid character in every value; an encoded NUL
    in a query never ends a value early (issue 18)."""

    def test_a_nul_in_a_phone_is_422_invalid_phone(self):
        p = new_phone()
        for ph in ["+1555\x000101", p + "\x00", p + "\x00junk"]:
            with self.subTest(phone=ph):
                r = self.server.admin("POST", "/users", {"name": "Nul", "phones": [ph]})
                self.assertEqual(self.assertJsonError(r, 422)["error"], "invalid_phone")
        self.assertEqual(self.server.admin("GET", "/users?phone=" + urllib.parse.quote(p)).status,
                         404)
        u = self.server.add_user("Ann", [new_phone()])
        r = self.server.admin("POST", "/users/%s/phones" % u["id"], {"phone": p + "\x00"})
        self.assertEqual(self.assertJsonError(r, 422)["error"], "invalid_phone")
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json()["phones"],
                         u["phones"])

    def test_a_nul_in_a_name_is_refused_as_a_control_character(self):
        r = self.server.admin("POST", "/users", {"name": "Ann\x00Bob", "phones": []})
        self.assertIn('"name"', self.assertJsonError(r, 400)["message"])

    def test_a_nul_in_each_patched_value_is_422_naming_the_field(self):
        u = self.server.add_user("Ann", [new_phone()])
        path = "/users/" + u["id"]
        before = self.server.admin("GET", path).json()
        cases = [({"name": "Ann\x00"}, "name"), ({"timezone": "Europe/Paris\x00x"}, "timezone"),
                 ({"locale": "de-DE\x00"}, "locale"), ({"tags": ["ok", "v\x00ip"]}, "tags")]
        for body, key in cases:
            with self.subTest(key=key):
                j = self.assertJsonError(self.server.admin("PATCH", path, body), 422)
                self.assertEqual(j["error"], "invalid_" + key)
                self.assertIn('"%s"' % key, j["message"])
        self.assertEqual(self.server.admin("GET", path).json(), before)

    def test_an_encoded_nul_in_a_query_value_finds_nothing(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        q = urllib.parse.quote(p)
        self.assertEqual(self.server.admin("GET", "/users?phone=" + q).json()["id"], u["id"])
        for target in ["/users?phone=%s%%00junk" % q, "/users?phone=%s%%00" % q,
                       "/users/%s/messages?limit=5%%00" % u["id"], "/usage?since=0%00"]:
            with self.subTest(target=target):
                self.assertJsonError(self.server.admin("GET", target), 400)

    def test_an_encoded_nul_in_a_path_segment_matches_nothing(self):
        p = new_phone()
        u = self.server.add_user("Ann", [p])
        r = self.server.admin("DELETE", "/users/%s/phones/%s%%00" % (u["id"], urllib.parse.quote(p)))
        self.assertEqual(r.status, 404, r.body)
        self.assertEqual(self.server.admin("DELETE", "/users/%s%%00" % u["id"]).status, 404)
        self.assertEqual(self.server.admin("GET", "/users/" + u["id"]).json()["phones"], [p])
