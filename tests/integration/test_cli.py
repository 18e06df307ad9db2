"""The command line: user, phone, import, usage, migrate, simulate."""

import json
import os

from harness import PG_URL, ServerTest, new_phone

# Names no command may store (store_name_check): not UTF-8, blank, or with a control
# character (C0, DEL, C1), as the bytes of an argument.
BAD_NAMES = [b"Bad\xffName", b"", b"   ", b"\xc2\xa0\xe3\x80\x80", b"Tab\tName",
             b"LF\nName", b"CR\rName", b"Ctl\x01Name", b"Del\x7fName", b"Nel\xc2\x85Name"]


class CliTest(ServerTest):
    start_server = False

    def setUp(self):
        self.srv = self.make_server(start=False)

    def cli(self, *args, **kw):
        return self.srv.cli(*args, **kw)

    def ok(self, *args):
        code, out, err = self.cli(*args)
        self.assertEqual(code, 0, "%r: %s" % (args, err))
        return out

    def assertOneSentence(self, err):
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertTrue(lines[0].rstrip().endswith("."), err)

    def assertUsageError(self, args, env=None):
        """args is a usage error: exit 2, nothing on stdout, one sentence on stderr, and
        no store touched."""
        code, out, err = self.cli(*args, env=env)
        self.assertEqual(code, 2, "%r: %s" % (args, err))
        self.assertEqual(out, "", args)
        self.assertOneSentence(err)
        if not PG_URL:
            self.assertFalse(os.path.exists(self.srv.db_path), args)
        return err

    def write(self, name, text):
        """Writes text (str: as UTF-8; bytes: as they are) to a file of the server's tmp."""
        path = os.path.join(self.srv.tmp, name)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8") if isinstance(text, str) else text)
        return path

    def show(self, key):
        code, out, err = self.cli("user", "show", key)
        return code, (json.loads(out) if code == 0 else None)

    def user_ids(self):
        out = self.ok("user", "list")
        return [l.split("\t")[0] for l in out.splitlines() if l.strip()]


class UserCommandsTest(CliTest):
    def test_user_add_prints_the_new_id(self):
        p = new_phone()
        out = self.ok("user", "add", "Ann", p)
        uid = out.strip()
        self.assertEqual(len(out.strip().splitlines()), 1)
        self.assertGreaterEqual(len(uid), 16)
        code, u = self.show(uid)
        self.assertEqual(code, 0)
        self.assertEqual((u["id"], u["name"], u["phones"]), (uid, "Ann", [p]))

    def test_user_add_with_several_phones(self):
        p1, p2 = new_phone(), new_phone()
        uid = self.ok("user", "add", "Ann", p1, p2).strip()
        self.assertEqual(self.show(p2)[1]["id"], uid)
        self.assertEqual(sorted(self.show(uid)[1]["phones"]), sorted([p1, p2]))

    def test_user_add_invalid_phone_is_a_usage_error_with_one_sentence(self):
        for bad in ["5550100101", "+1", "+0123456789", "+1555abc0101"]:
            with self.subTest(phone=bad):
                code, out, err = self.cli("user", "add", "Bad", bad)
                self.assertEqual(code, 2)
                self.assertEqual(out, "")
                self.assertOneSentence(err)
        self.assertEqual(self.user_ids(), [])

    def test_user_add_taken_phone_exits_1(self):
        p = new_phone()
        self.ok("user", "add", "Ann", p)
        code, out, err = self.cli("user", "add", "Bob", new_phone(), p)
        self.assertEqual(code, 1)
        self.assertOneSentence(err)
        self.assertEqual(len(self.user_ids()), 1)

    def test_user_add_without_phone_is_usage_error_or_failure(self):
        code, _, err = self.cli("user", "add")
        self.assertEqual(code, 2)
        self.assertTrue(err.strip())

    def test_user_add_with_a_name_but_no_phone_is_a_usage_error(self):
        code, out, err = self.cli("user", "add", "Ann")
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertIn("PHONE", err)
        self.assertEqual(self.user_ids(), [])

    def test_user_add_with_a_bad_name_is_a_usage_error_and_adds_nothing(self):
        for name in BAD_NAMES:
            with self.subTest(name=name):
                self.assertIn("name", self.assertUsageError(("user", "add", name, new_phone())))
        self.assertEqual(self.user_ids(), [])

    def test_a_utf8_name_is_shown_and_listed_as_given(self):
        p = new_phone()
        uid = self.ok("user", "add", "Zoë 李", p).strip()
        self.assertEqual(self.show(p)[1]["name"], "Zoë 李")
        self.assertEqual(self.ok("user", "list").split("\t")[:2], [uid, "Zoë 李"])

    def test_unknown_command_exits_2(self):
        code, out, err = self.cli("frobnicate")
        self.assertEqual(code, 2)
        self.assertTrue(err.strip())

    def test_unknown_subcommand_exits_2(self):
        self.assertEqual(self.cli("user", "frob")[0], 2)
        self.assertEqual(self.cli("phone", "frob")[0], 2)

    def test_no_command_exits_2(self):
        self.assertEqual(self.cli()[0], 2)

    def test_user_list_lists_every_user(self):
        ids = {self.ok("user", "add", "U%d" % i, new_phone()).strip() for i in range(3)}
        self.assertEqual(set(self.user_ids()), ids)

    def test_user_show_by_id_and_phone_prints_json(self):
        p = new_phone()
        uid = self.ok("user", "add", "Ann", p).strip()
        c1, by_id = self.show(uid)
        c2, by_phone = self.show(p)
        self.assertEqual((c1, c2), (0, 0))
        self.assertEqual(by_id, by_phone)
        self.assertEqual(set(by_id), {"id", "name", "phones", "opted_out", "created_at",
                                      "timezone", "locale", "tags", "agent", "mode"})
        self.assertIs(by_id["opted_out"], False)

    def test_phones_are_shown_and_listed_in_the_order_given(self):
        p1, p2, p3 = "+15559999999", "+15551111111", "+15550000000"
        uid = self.ok("user", "add", "Ann", p1, p2).strip()
        self.assertEqual(self.show(uid)[1]["phones"], [p1, p2])
        self.ok("phone", "add", uid, p3)
        self.assertEqual(self.show(p2)[1]["phones"], [p1, p2, p3])
        line = [l for l in self.ok("user", "list").splitlines() if l.startswith(uid)][0]
        self.assertEqual(line.split("\t")[2], ",".join([p1, p2, p3]))
        path = self.write("users.csv", "name,phone\nBob,+15558888888,+15552222222\n")
        self.ok("import", path)
        self.assertEqual(self.show("+15552222222")[1]["phones"], ["+15558888888", "+15552222222"])

    def test_user_show_unknown_exits_1(self):
        code, out, err = self.cli("user", "show", new_phone())
        self.assertEqual(code, 1)
        self.assertOneSentence(err)
        self.assertEqual(self.cli("user", "show", "f" * 32)[0], 1)

    def test_user_show_of_a_number_that_is_not_e164_says_so_like_user_add(self):
        for bad in ["+0123", "+1", "+1555abc0101", "+1234567890123456"]:
            with self.subTest(phone=bad):
                add = self.cli("user", "add", "Ann", bad)
                code, out, err = self.cli("user", "show", bad)
                self.assertEqual((code, out), (add[0], ""))
                self.assertEqual(code, 2)
                self.assertIn("%s is not an E.164 number" % bad, err)
                self.assertOneSentence(err)

    def test_user_rm_removes_the_user(self):
        p = new_phone()
        uid = self.ok("user", "add", "Ann", p).strip()
        self.ok("user", "rm", uid)
        self.assertEqual(self.show(uid)[0], 1)
        self.assertEqual(self.show(p)[0], 1)
        self.assertEqual(self.user_ids(), [])
        code, _, err = self.cli("user", "rm", uid)
        self.assertEqual(code, 1)
        self.assertOneSentence(err)

    def test_phone_add_and_rm(self):
        p1, p2 = new_phone(), new_phone()
        uid = self.ok("user", "add", "Ann", p1).strip()
        self.ok("phone", "add", uid, p2)
        self.assertEqual(self.show(p2)[1]["id"], uid)
        self.ok("phone", "rm", p1)
        self.assertEqual(self.show(p1)[0], 1)
        self.assertEqual(self.show(uid)[1]["phones"], [p2])

    def test_phone_add_taken_exits_1_and_invalid_is_a_usage_error(self):
        p1 = new_phone()
        a = self.ok("user", "add", "Ann", p1).strip()
        b = self.ok("user", "add", "Bob", new_phone()).strip()
        for args, want in [(("phone", "add", b, p1), 1), (("phone", "add", b, "12345"), 2),
                           (("phone", "rm", "12345"), 2),
                           (("phone", "add", "f" * 32, new_phone()), 1),
                           (("phone", "rm", new_phone()), 1)]:
            with self.subTest(args=args):
                code, _, err = self.cli(*args)
                self.assertEqual(code, want, err)
                self.assertOneSentence(err)
        self.assertEqual(self.show(p1)[1]["id"], a)

    def test_database_url_flag_wins_over_environment(self):
        other = os.path.join(self.srv.tmp, "other.sqlite")
        p = new_phone()
        self.ok("--database-url", "sqlite:" + other, "user", "add", "Flag", p)
        self.assertEqual(self.show(p)[0], 1)
        code, out, err = self.cli("user", "show", p, "--database-url=sqlite:" + other)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["name"], "Flag")

    def test_configuration_flags_before_and_after_the_command(self):
        other = "sqlite:" + os.path.join(self.srv.tmp, "other.sqlite")
        p = new_phone()
        uid = self.ok("--database-url", other, "user", "add", "Flag", p).strip()
        for args in [("--database-url", other, "user", "show", p),
                     ("user", "show", p, "--database-url", other),
                     ("user", "--database-url=" + other, "show", uid),
                     ("--log-level", "debug", "user", "show", uid, "--database-url", other)]:
            with self.subTest(args=args):
                code, out, err = self.cli(*args)
                self.assertEqual(code, 0, err)
                self.assertEqual(json.loads(out)["id"], uid)

    def test_user_add_with_a_flag_for_a_name_is_a_usage_error_unless_after_dashdash(self):
        # --dev is a configuration flag wherever it stands (it is not the NAME), which
        # leaves user add without a NAME; after "--" it is the NAME.
        p = new_phone()
        code, out, err = self.cli("user", "add", "--dev", p)
        self.assertEqual(code, 2, err)
        self.assertEqual(out, "")
        self.assertEqual(self.user_ids(), [])
        uid = self.ok("user", "add", "--", "--dev", p).strip()
        self.assertEqual(self.show(p)[1]["name"], "--dev")
        self.assertEqual(self.show(p)[1]["id"], uid)

    def test_outbox_state_value_is_not_taken_for_a_flag(self):
        # "--dev" is the option's value (not the flag), and no state: a usage error.
        code, out, err = self.cli("outbox", "list", "--state", "--dev")
        self.assertEqual((code, out), (2, ""), err)
        self.assertIn("--state takes agent, send, sending, done or dead", err)
        self.assertOneSentence(err)

    def test_outbox_list_takes_each_state(self):
        for state in ("agent", "send", "sending", "done", "dead"):
            with self.subTest(state=state):
                self.assertEqual(self.cli("outbox", "list", "--state", state)[:2], (0, ""))

    def test_every_usage_error_is_one_sentence_and_exit_2(self):
        for args in [(), ("frobnicate",), ("user",), ("user", "frob"), ("user", "add"),
                     ("user", "add", "Ann"), ("user", "list", "x"), ("user", "show"),
                     ("user", "rm", "a", "b"), ("phone",), ("phone", "frob"),
                     ("phone", "add", "x"), ("phone", "rm"), ("import",), ("import", "a", "b"),
                     ("simulate", "--body", "hi"), ("simulate", "--from"),
                     ("simulate", "--frob", "x"), ("usage", "--since", "yesterday"),
                     ("usage", "x"), ("migrate", "x"), ("outbox",), ("outbox", "retry", "x"),
                     ("outbox", "frob"), ("serve", "x"), ("--listen",), ("user", "list", "--threads")]:
            with self.subTest(args=args):
                self.assertUsageError(args)

    def test_help_prints_the_usage_block_on_stdout(self):
        for flag in ["--help", "help", "-h"]:
            with self.subTest(flag=flag):
                code, out, err = self.cli(flag)
                self.assertEqual((code, err), (0, ""))
                self.assertTrue(out.startswith("usage: smsrouter serve"), out)
                self.assertIn("smsrouter user add NAME PHONE...", out)

    def test_bad_listen_or_database_url_is_a_usage_error_like_other_bad_settings(self):
        cases = [({"SMSROUTER_LISTEN": "not-an-address"}, ("user", "list"), "SMSROUTER_LISTEN"),
                 ({"SMSROUTER_LISTEN": "127.0.0.1:65536"}, ("migrate",), "SMSROUTER_LISTEN"),
                 ({}, ("--listen", "localhost:8000", "migrate"), "SMSROUTER_LISTEN"),
                 ({"SMSROUTER_DATABASE_URL": "mysql://db/x"}, ("user", "list"),
                  "SMSROUTER_DATABASE_URL"),
                 ({}, ("migrate", "--database-url", "sqlite:"), "SMSROUTER_DATABASE_URL"),
                 ({"SMSROUTER_SENDER_LIMIT": "lots"}, ("user", "list"),
                  "SMSROUTER_SENDER_LIMIT")]
        for env, args, name in cases:
            with self.subTest(env=env, args=args):
                self.assertIn(name, self.assertUsageError(args, env=env))

    def test_a_currency_other_than_an_iso_4217_code_is_a_usage_error(self):
        # Every usage answer names it: three capital letters, or nothing starts.
        for cur in ["usd", "\u20ac", "US", "USDX", "U5D", "US ", "\u00c9UR"]:
            for env, args in [({"SMSROUTER_CURRENCY": cur}, ("usage",)),
                              ({}, ("usage", "--currency", cur))]:
                with self.subTest(env=env, args=args):
                    self.assertIn("SMSROUTER_CURRENCY", self.assertUsageError(args, env=env))

    def test_errors_stay_on_one_line_whatever_the_arguments_hold(self):
        code, out, err = self.cli("user", "show", "+1555\nsecond line")
        self.assertEqual(code, 2)  # not an E.164 number: a usage error
        self.assertOneSentence(err)
        code, out, err = self.cli("import", os.path.join(self.srv.tmp, "no\nsuch.csv"))
        self.assertEqual(code, 1)
        self.assertOneSentence(err)

    def test_migrate_prints_schema_version(self):
        # Both at 8 (one migration list): SQLite's migration 2 added the phones' order
        # (PostgreSQL had it in its first), PostgreSQL's the shared sender limit (SQLite keeps
        # it in the process); 3 split PostgreSQL's status function (nothing in SQLite); 4
        # added users' attributes (timezone, locale, tags); 5 messages sent through the API;
        # 6 added events; 7 users' agent and mode; 8 retention's usage_daily; 9 usage per
        # channel; 10 the hourly stats; 11 the outbox's heads; 12 PostgreSQL's functions
        # planned once and its bulk import; 13 the proactive lane's indexes; 14 PostgreSQL's
        # bulk import naming each phone's user by its place; 15 PostgreSQL's webhook lookup.
        want = "schema at version 15"
        out = self.ok("migrate")
        self.assertEqual(out.strip(), want)
        self.assertEqual(self.ok("migrate").strip(), want)

    def test_usage_names_the_currency_set(self):
        j = json.loads(self.ok("usage", "--currency", "EUR"))
        self.assertEqual(j["currency"], "EUR")

    def test_usage_prints_json(self):
        out = self.ok("usage")
        j = json.loads(out)
        self.assertEqual(j["currency"], "USD")
        self.assertEqual(j["users"], [])
        self.assertEqual(j["total"]["inbound"], 0)
        j = json.loads(self.ok("usage", "--since", "2000-01-01T00:00:00Z"))
        self.assertEqual(j["since"], "2000-01-01T00:00:00Z")

    def test_usage_bad_since_is_usage_error(self):
        for since in ["yesterday", "2026-11-24", "2026-11-24T00:00:00"]:
            with self.subTest(since=since):
                self.assertUsageError(("usage", "--since", since))

    def test_usage_since_before_the_year_1000_is_written_with_four_digits(self):
        for since in ["0001-01-01T00:00:00Z", "0099-01-01T00:00:00Z"]:
            with self.subTest(since=since):
                self.assertEqual(json.loads(self.ok("usage", "--since", since))["since"], since)
        code, out, err = self.cli("usage", "--since", "0000-01-01T00:00:00+01:00")  # year -1
        self.assertEqual((code, out), (2, ""), err)
        self.assertOneSentence(err)


class ImportTest(CliTest):
    def test_import_creates_every_user(self):
        rows = [("Ann", [new_phone()]), ("Bob", [new_phone(), new_phone()]),
                ("Carl \"C\" Smith, Jr.", [new_phone()])]
        text = "".join("%s,%s\n" % ('"%s"' % n.replace('"', '""') if "," in n or '"' in n
                                    else n, ",".join(ps)) for n, ps in rows)
        path = self.write("users.csv", text)
        self.ok("import", path)
        for name, phones in rows:
            for p in phones:
                code, u = self.show(p)
                self.assertEqual(code, 0, p)
                self.assertEqual(u["name"], name)
                self.assertEqual(sorted(u["phones"]), sorted(phones))

    def test_import_with_a_bad_row_on_line_3_imports_nothing(self):
        good = [new_phone() for _ in range(3)]
        path = self.write("bad.csv", "Ann,%s\nBob,%s\nCarl,5550100\nDan,%s\n" % tuple(good))
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 1)
        self.assertIn("line 3", err)
        self.assertEqual(self.user_ids(), [])
        for p in good:
            self.assertEqual(self.show(p)[0], 1)

    def test_import_bad_row_line_counts_the_header(self):
        path = self.write("bad.csv", "name,phone\nAnn,%s\nBob,not-a-phone\n" % new_phone())
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 1)
        self.assertIn("line 3", err)
        self.assertEqual(self.user_ids(), [])

    def test_import_repeating_a_phone_already_owned_is_refused_whole(self):
        owned = new_phone()
        self.ok("user", "add", "Owner", owned)
        fresh = new_phone()
        path = self.write("dup.csv", "Ann,%s\nBob,%s\n" % (fresh, owned))
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 1)
        self.assertTrue(err.strip())
        self.assertEqual(self.show(fresh)[0], 1)
        self.assertEqual(self.show(owned)[1]["name"], "Owner")
        self.assertEqual(len(self.user_ids()), 1)

    def test_import_repeating_a_phone_within_the_file_is_refused_whole(self):
        p, q = new_phone(), new_phone()
        path = self.write("dup.csv", "Ann,%s\nBob,%s\nCy,%s\n" % (q, p, p))
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 1)
        self.assertIn("line 3", err)
        self.assertEqual(self.user_ids(), [])

    def test_import_refuses_a_bad_name_naming_its_line_and_imports_nothing(self):
        for name in BAD_NAMES:
            if b"\n" in name or b"\r" in name:
                name = b'"' + name + b'"'  # quoted: the line break is in the field
            with self.subTest(name=name):
                text = b"name,phone\nAnn,%s\n%s,%s\n" % (new_phone().encode(), name,
                                                         new_phone().encode())
                code, out, err = self.cli("import", self.write("bad.csv", text))
                self.assertEqual(code, 1, err)
                self.assertIn("line 3: the name", err)
                self.assertOneSentence(err)
        self.assertEqual(self.user_ids(), [])

    def test_import_says_how_many_users_it_imported_one_in_the_singular(self):
        for n, want in [(1, "imported 1 user\n"), (2, "imported 2 users\n"),
                        (0, "imported 0 users\n")]:
            with self.subTest(n=n):
                text = "name,phone\n" + "".join("U%d,%s\n" % (i, new_phone()) for i in range(n))
                self.assertEqual(self.ok("import", self.write("n.csv", text)), want)

    def test_import_with_crlf_line_ends(self):
        p1, p2 = new_phone(), new_phone()
        path = self.write("crlf.csv", "name,phone\r\nAnn,%s\r\nBob,%s\r\n" % (p1, p2))
        self.ok("import", path)
        self.assertEqual(self.show(p1)[1]["name"], "Ann")
        self.assertEqual(self.show(p2)[1]["name"], "Bob")

    def test_import_with_utf8_bom_and_header(self):
        # Spreadsheet programs save "CSV UTF-8" with a byte-order mark.
        p = new_phone()
        path = self.write("bom.csv", "\ufeffname,phone\nAnn,%s\n" % p)
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.show(p)[1]["name"], "Ann")

    def test_import_with_utf8_bom_does_not_put_it_in_the_name(self):
        p = new_phone()
        path = self.write("bom.csv", "\ufeffDee,%s\n" % p)
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.show(p)[1]["name"], "Dee")

    def test_import_skips_blank_lines_but_counts_them(self):
        p1, p2 = new_phone(), new_phone()
        path = self.write("blank.csv", "Ann,%s\n\nBob,%s\nCarl,bad\n" % (p1, p2))
        code, out, err = self.cli("import", path)
        self.assertEqual(code, 1)
        self.assertIn("line 4", err)
        self.assertEqual(self.user_ids(), [])

    def test_import_of_a_missing_file_exits_1(self):
        code, _, err = self.cli("import", os.path.join(self.srv.tmp, "nope.csv"))
        self.assertEqual(code, 1)
        self.assertOneSentence(err)

    def test_import_10000_rows(self):
        lines = ["user%05d,+1444%07d\n" % (i, i) for i in range(10000)]
        path = self.write("big.csv", "".join(lines))
        code, out, err = self.cli("import", path, timeout=300)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(self.user_ids()), 10000)
        for i in (0, 4321, 9999):
            code, u = self.show("+1444%07d" % i)
            self.assertEqual(code, 0)
            self.assertEqual(u["name"], "user%05d" % i)


class SimulateTest(CliTest):
    def test_simulate_prints_the_reply(self):
        self.srv.start()
        p = new_phone()
        self.srv.add_user("Ann", [p])
        listen = "127.0.0.1:%d" % self.srv.port
        code, out, err = self.cli("simulate", "--listen", listen, "--from", p, "--body", "recall")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "You have no notes.\n")
        code, out, err = self.cli("simulate", "--listen", listen, "--from", p,
                                  "--body", "remember a & <b>")
        self.assertEqual((code, out), (0, "Noted.\n"), err)
        code, out, err = self.cli("simulate", "--url", self.srv.sms_url, "--from", p,
                                  "--body", "recall")
        self.assertEqual((code, out), (0, "Your notes:\n1. a & <b>\n"), err)

    def test_simulate_from_unknown_number_prints_onboarding(self):
        self.srv.start()
        code, out, err = self.cli("simulate", "--url", self.srv.sms_url, "--from", new_phone(),
                                  "--body", "hi")
        self.assertEqual(code, 0, err)
        self.assertIn("not registered", out)

    def test_simulate_with_wrong_token_fails(self):
        self.srv.start()
        code, out, err = self.cli("simulate", "--url", self.srv.sms_url, "--from", new_phone(),
                                  "--body", "hi", env={"TWILIO_AUTH_TOKEN": "wrong"})
        self.assertEqual(code, 1)
        self.assertIn("403", err)

    def test_simulate_without_a_server_exits_1(self):
        code, out, err = self.cli("simulate", "--url", "http://127.0.0.1:9/sms-router/webhook/sms",
                                  "--from", new_phone(), "--body", "hi")
        self.assertEqual(code, 1)
        self.assertOneSentence(err)

    def test_simulate_body_that_looks_like_a_flag_is_sent_as_the_body(self):
        # A command's own option keeps its value, even one spelled like a configuration
        # flag; configuration flags around it still work.
        self.srv.start()
        p = new_phone()
        uid = self.srv.add_user("Ann", [p])["id"]
        listen = "127.0.0.1:%d" % self.srv.port
        for args in [("--from", p, "--body", "--dev"),
                     ("--from", p, "--body", "--listen"),
                     ("--body", "--database-url=sqlite:elsewhere", "--from", p),
                     ("--from", p, "--body", "--")]:
            with self.subTest(args=args):
                code, out, err = self.cli("simulate", "--listen", listen, *args)
                self.assertEqual(code, 0, err)
                self.assertEqual(out, "Hi Ann. Text \"remember <note>\", \"recall\" or "
                                      "\"forget\".\n")
        bodies = [m["body"] for m in self.srv.messages(uid) if m["direction"] == "inbound"]
        self.assertEqual(bodies, ["--", "--database-url=sqlite:elsewhere", "--listen", "--dev"])
        self.assertFalse(os.path.exists(os.path.join(self.srv.tmp, "elsewhere")))

    def test_simulate_prints_a_carriage_return_of_the_reply_as_itself(self):
        # TwiML carries CR as the reference &#13; (a parser would turn CR LF into LF).
        self.srv.start()
        p = new_phone()
        self.srv.add_user("Ann", [p])
        code, out, err = self.cli("simulate", "--url", self.srv.sms_url, "--from", p,
                                  "--body", "remember x\r\ny & z")
        self.assertEqual((code, out), (0, "Noted.\n"), err)
        code, out, err = self.cli("simulate", "--url", self.srv.sms_url, "--from", p,
                                  "--body", "recall")
        self.assertEqual((code, out), (0, "Your notes:\n1. x\r\ny & z\n"), err)

    def simulate_against(self, xml):
        """simulate against a stand-in that answers xml; (code, out, err)."""
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(xml)))
                self.end_headers()
                self.wfile.write(xml)

            def log_message(self, *a):
                pass

        httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            url = "http://127.0.0.1:%d/sms-router/webhook/sms" % httpd.server_address[1]
            return self.cli("simulate", "--url", url, "--from", new_phone(), "--body", "x",
                            env={"TWILIO_AUTH_TOKEN": "t"})
        finally:
            httpd.shutdown()
            httpd.server_close()
            t.join(10)

    def test_simulate_decodes_every_character_reference_and_nothing_else(self):
        message = "&#13;&#x1F600;&#xe9;&#169;&#9;|&amp;#13;|&lt;&gt;&quot;&apos;"
        xml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message action="x?a=1&amp;'
               'b=2">%s</Message></Response>' % message).encode()
        code, out, err = self.simulate_against(xml)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "\r\U0001F600\u00e9\u00a9\t|&#13;|<>\"'\n")

    def test_simulate_refuses_an_answer_that_is_not_twiml(self):
        # The answer is read by an XML parser: what is not well-formed TwiML is an error,
        # never printed half-decoded.
        for message in ["&#0;", "&#xD800;", "&#1114112;", "&#x;", "&#13", "&bogus;", "<b>"]:
            with self.subTest(message=message):
                xml = ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>%s'
                       '</Message></Response>' % message).encode()
                code, out, err = self.simulate_against(xml)
                self.assertEqual((code, out), (1, ""), err)
                self.assertOneSentence(err)
                self.assertIn("not TwiML", err)

    def test_simulate_without_from_is_usage_error(self):
        self.assertEqual(self.cli("simulate", "--body", "hi")[0], 2)
