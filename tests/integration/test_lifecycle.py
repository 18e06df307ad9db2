"""Process life: refusing to start without a token, --dev, crash safety (kill -9 after
the 200), graceful SIGTERM, and what the logs may contain."""

import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import threading
import time
import urllib.parse

from twilio.request_validator import RequestValidator

from harness import requires_sqlite, AUTH_TOKEN, HTTP_TIMEOUT, ServerTest, new_phone, new_sid, twiml_message


def talk_then(phones, talk, answered, then, enough=40):
    """Runs talk(phone) for each phone on a thread of its own; once `enough` messages are
    in answered (or after 10 s) calls then(), and waits for every talker to finish."""
    with concurrent.futures.ThreadPoolExecutor(len(phones)) as ex:
        futs = [ex.submit(talk, p) for p in phones]
        deadline = time.monotonic() + 10
        while len(answered) < enough and time.monotonic() < deadline:
            time.sleep(0.01)
        then()
        for f in futs:
            f.result(timeout=60)


def stored_sids(server, phones):
    """The MessageSids stored for the users of these phones (the server running)."""
    stored = set()
    for p in phones:
        uid = server.user_by_phone(p).json()["id"]
        stored |= {m["sid"] for m in server.messages(uid, limit=1000)}
    return stored


class StartupTest(ServerTest):
    start_server = False

    def test_serve_without_auth_token_refuses_to_start(self):
        srv = self.make_server(auth_token=None, start=False)
        code, out, err = srv.cli("serve", timeout=20)
        self.assertEqual(code, 2, err)  # a missing setting is a usage error
        self.assertIn("TWILIO_AUTH_TOKEN", err)
        self.assertFalse(os.path.exists(os.path.join(srv.tmp, "var", "dev-auth-token")))

    def test_serve_with_empty_auth_token_flag_refuses_to_start(self):
        # An empty flag is the variable left empty, and wins over a set one.
        for args in [("--twilio-auth-token", ""), ("--twilio-auth-token=",)]:
            for token in [None, AUTH_TOKEN]:
                with self.subTest(args=args, env_token=token):
                    srv = self.make_server(auth_token=token, start=False)
                    code, out, err = srv.cli("serve", *args, timeout=20)
                    self.assertEqual(code, 2, err)
                    self.assertIn("TWILIO_AUTH_TOKEN is not set", err)

    def test_empty_agent_secret_flag_is_refused_with_an_agent_url(self):
        srv = self.make_server(start=False, env={"SMSROUTER_AGENT_URL": "http://127.0.0.1:9/",
                                                 "SMSROUTER_AGENT_SECRET": "s"})
        code, out, err = srv.cli("serve", "--agent-secret", "", timeout=20)
        self.assertEqual(code, 2, err)
        self.assertIn("SMSROUTER_AGENT_SECRET", err)

    def test_serve_with_bad_listen_address_exits_non_zero(self):
        srv = self.make_server(start=False, env={"SMSROUTER_LISTEN": "not-an-address"})
        code, out, err = srv.cli("serve", timeout=20)
        self.assertNotEqual(code, 0)
        self.assertTrue(err.strip())

    def test_serve_with_bad_setting_exits_2(self):
        for name, value in [("SMSROUTER_SENDER_LIMIT", "lots"), ("SMSROUTER_CURRENCY", "usd"),
                            ("SMSROUTER_AGENT_URL", "notaurl"),
                            ("SMSROUTER_AGENT_URL", "ftp://127.0.0.1/agent"),
                            ("TWILIO_API_BASE", "notaurl"),
                            ("TWILIO_API_BASE", "https://api.twilio.com/"),
                            ("TWILIO_ACCOUNT_SID", "bogus"),
                            ("TWILIO_ACCOUNT_SID", "AC" + "0" * 31 + "g"),
                            ("SMSROUTER_PUBLIC_URL", "https://example.com/path")]:
            with self.subTest(name=name, value=value):
                srv = self.make_server(start=False, env={name: value,
                                                         "SMSROUTER_AGENT_SECRET": "s"})
                code, out, err = srv.cli("serve", timeout=20)
                self.assertEqual(code, 2, (name, value, err))
                self.assertIn(name, err)

    def test_dev_mode_writes_a_token_and_simulate_uses_it(self):
        srv = self.make_server(auth_token=None, args=["--dev"])
        path = os.path.join(srv.tmp, "var", "dev-auth-token")
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode) & 0o077, 0,
                         "the token file is readable by others")
        with open(path) as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 16)
        phone = new_phone()
        srv.add_user("Dev", [phone])
        code, out, err = srv.cli("simulate", "--listen", "127.0.0.1:%d" % srv.port,
                                 "--from", phone, "--body", "recall")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "You have no notes.\n")
        # Webhooks are still checked, against the dev token.
        srv.auth_token = token
        self.assertEqual(srv.say(phone, "remember dev"), "Noted.")
        r = srv.sms(phone, "remember forged", token=AUTH_TOKEN)
        self.assertEqual(r.status, 403)

    def test_dev_token_survives_a_restart(self):
        srv = self.make_server(auth_token=None, args=["--dev"])
        path = os.path.join(srv.tmp, "var", "dev-auth-token")
        with open(path) as f:
            before = f.read()
        srv.restart()
        with open(path) as f:
            self.assertEqual(f.read(), before)

    def test_explicit_listen_flag_wins_over_environment(self):
        srv = self.make_server(start=False, env={"SMSROUTER_LISTEN": "127.0.0.1:1"},
                               args=["--listen", "127.0.0.1:0"])
        srv.start()
        self.assertNotEqual(srv.port, 1)
        self.assertEqual(srv.request("GET", "/health").status, 200)


class CrashSafetyTest(ServerTest):
    def test_message_answered_200_survives_kill_9(self):
        phone = new_phone()
        uid = self.server.add_user("Ann", [phone])["id"]
        sid = new_sid()
        r = self.server.sms(phone, "remember survives-the-crash", sid=sid)
        self.assertTwiml(r, "Noted.")
        self.server.kill9()
        self.server.start()
        inbound = [m for m in self.server.messages(uid) if m["direction"] == "inbound"]
        self.assertEqual([m["sid"] for m in inbound], [sid])
        self.assertEqual(inbound[0]["body"], "remember survives-the-crash")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. survives-the-crash")

    def test_retry_after_crash_is_answered_as_duplicate(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        sid = new_sid()
        r1 = self.server.sms(phone, "remember once", sid=sid)
        self.assertTwiml(r1, "Noted.")
        self.server.kill9()
        self.server.start()
        r2 = self.server.sms(phone, "remember once", sid=sid)
        self.assertEqual(twiml_message(r2.body), "Noted.")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. once")

    def test_every_answered_message_survives_kill_9_under_load(self):
        phones = [new_phone() for _ in range(8)]
        for i, p in enumerate(phones):
            self.server.add_user("U%d" % i, [p])
        answered = []
        lock = threading.Lock()
        stop = threading.Event()

        def talk(p):
            for k in range(200):
                if stop.is_set():
                    return
                sid = new_sid()
                try:
                    r = self.server.sms(p, "remember k%d" % k, sid=sid)
                except OSError:
                    return
                if r.status == 200:
                    with lock:
                        answered.append((p, sid))

        def crash():
            self.server.kill9()
            stop.set()

        talk_then(phones, talk, answered, crash)
        self.assertGreater(len(answered), 0)
        self.server.start()
        stored = stored_sids(self.server, phones)
        lost = [sid for _, sid in answered if sid not in stored]
        self.assertEqual(lost, [], "%d answered messages lost" % len(lost))


class PersistenceTest(ServerTest):
    def test_opt_out_onboarding_and_notes_survive_a_restart(self):
        known, stranger = new_phone(), new_phone()
        self.server.add_user("Ann", [known])
        self.server.say(known, "remember kept")
        self.assertIn("not registered", self.server.say(stranger, "hi"))
        opted = new_phone()
        self.server.add_user("Opt", [opted])
        self.server.sms(opted, "STOP")
        self.server.restart()
        self.assertEqual(self.server.say(known, "recall"), "Your notes:\n1. kept")
        self.assertEmptyTwiml(self.server.sms(stranger, "hi again"))
        self.assertTrue(self.server.user_by_phone(opted).json()["opted_out"])
        self.assertEmptyTwiml(self.server.sms(opted, "recall"))


@requires_sqlite
class StoreFailureTest(ServerTest):
    def test_store_failure_is_503_twiml_and_the_retry_is_routed(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        sid = new_sid()
        db = sqlite3.connect(self.server.db_path, timeout=30, isolation_level=None)
        self.addCleanup(db.close)
        db.execute("BEGIN EXCLUSIVE")  # writers of the server time out behind this lock
        try:
            r = self.server.sms(phone, "remember blocked", sid=sid)
        finally:
            db.execute("ROLLBACK")
        self.assertEmptyTwiml(r, 503)
        # Twilio's fallback/retry carries the same MessageSid: it is routed, once.
        self.assertTwiml(self.server.sms(phone, "remember blocked", sid=sid), "Noted.")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. blocked")
        text = self.server.request("GET", "/metrics").text
        self.assertRegex(text, r"(?m)^smsrouter_store_errors_total [1-9]")


class GracefulShutdownTest(ServerTest):
    def test_sigterm_with_requests_in_flight_exits_0_and_answers_them(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        # A request whose body is still arriving when SIGTERM comes.
        p = self.server.sms_params(phone, "remember in-flight")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        body = urllib.parse.urlencode(p).encode()
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=HTTP_TIMEOUT)
        self.addCleanup(sock.close)
        head = ("POST /sms-router/webhook/sms HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "X-Twilio-Signature: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (self.server.port, sig, len(body))).encode()
        sock.sendall(head + body[:20])
        time.sleep(0.3)
        os.kill(self.server.proc.pid, signal.SIGTERM)
        self.assertIsNotNone(self.server.wait_log("serve.stopping", timeout=10))
        time.sleep(0.2)
        sock.sendall(body[20:])
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        self.assertTrue(answer.startswith(b"HTTP/1.1 200"), answer[:200])
        self.assertIn(b"Noted.", answer)
        code = self.server.stop()
        self.assertEqual(code, 0)
        events = [e.get("event") for e in self.server.log_events()]
        self.assertIn("serve.stopped", events)
        self.server.start()
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. in-flight")

    def test_sigterm_under_load_exits_0_and_loses_nothing_answered(self):
        phones = [new_phone() for _ in range(8)]
        for i, p in enumerate(phones):
            self.server.add_user("U%d" % i, [p])
        answered = []
        lock = threading.Lock()

        def talk(p):
            for k in range(200):
                sid = new_sid()
                try:
                    r = self.server.sms(p, "remember k%d" % k, sid=sid)
                except OSError:
                    return
                if r.status == 200:
                    with lock:
                        answered.append(sid)

        talk_then(phones, talk, answered,
                  lambda: os.kill(self.server.proc.pid, signal.SIGTERM))
        code = self.server.stop()
        self.assertEqual(code, 0)
        self.assertIn("serve.stopped", [e.get("event") for e in self.server.log_events()])
        self.server.start()
        stored = stored_sids(self.server, phones)
        self.assertEqual([s for s in answered if s not in stored], [])

    def test_sigterm_with_kept_alive_connections_answers_or_refuses_each_request(self):
        # Clients that keep their connection open go on sending after SIGTERM. Each such
        # request is either answered (200, stored, and the answer closes the connection) or
        # refused (503, nothing stored); the process never dies under them. Three rounds,
        # because the request that races the stop is a matter of timing.
        for round_ in range(3):
            phones = [new_phone() for _ in range(8)]
            for i, p in enumerate(phones):
                self.server.add_user("K%d-%d" % (round_, i), [p])
            answered, refused, bad = [], [], []
            lock = threading.Lock()
            stop_at = time.monotonic() + 20

            def talk(p):
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                  timeout=HTTP_TIMEOUT)
                try:
                    for k in range(400):
                        if time.monotonic() > stop_at:
                            return
                        params = self.server.sms_params(p, "remember r%d" % k)
                        sig = RequestValidator(AUTH_TOKEN).compute_signature(
                            self.server.sms_url, params)
                        try:
                            conn.request("POST", "/sms-router/webhook/sms",
                                         body=urllib.parse.urlencode(params),
                                         headers={"Content-Type":
                                                  "application/x-www-form-urlencoded",
                                                  "X-Twilio-Signature": sig})
                            r = conn.getresponse()
                            r.read()
                        except (OSError, http.client.HTTPException):
                            return  # the server closed the connection or is gone
                        with lock:
                            if r.status == 200:
                                answered.append(params["MessageSid"])
                            elif r.status == 503:
                                refused.append(params["MessageSid"])
                            else:
                                bad.append(r.status)
                        if r.getheader("Connection", "").lower() == "close":
                            return
                finally:
                    conn.close()

            talk_then(phones, talk, answered,
                      lambda: os.kill(self.server.proc.pid, signal.SIGTERM))
            self.assertEqual(self.server.stop(), 0)
            self.assertEqual(bad, [])
            self.server.start()
            stored = stored_sids(self.server, phones)
            self.assertEqual([s for s in answered if s not in stored], [])
            self.assertEqual([s for s in refused if s in stored], [])

    def test_sigint_also_stops_cleanly(self):
        code = self.server.stop(signal.SIGINT)
        self.assertEqual(code, 0)
        self.assertIn("serve.stopped", [e.get("event") for e in self.server.log_events()])


class LogHygieneTest(ServerTest):
    def test_logs_are_json_and_hold_no_full_number_or_body(self):
        known = "+15550100101"
        stranger = "+15550100199"
        self.server.add_user("Ann", [known])
        bodies = ["remember zebra-kumquat-secret", "recall", "tell me about aardvark-xylophone",
                  "forget"]
        for b in bodies:
            self.server.say(known, b)
        self.server.say(stranger, "stranger-danger-text")
        self.server.sms(stranger, "STOP")
        self.server.sms(known, "HELP")
        self.server.sms(known, "remember forged-walrus-body", token="wrong")
        r = self.server.sms(known, "remember with-reply")
        self.server.status(new_sid(), "failed", error_code=21610, to=known,
                           url=re.search(r'action="([^"]+)"', r.text).group(1))
        self.server.admin("POST", "/users", {"name": "Bob", "phones": ["+15550100202"]})
        uid = self.server.user_by_phone("+15550100202").json()["id"]
        self.server.admin("DELETE", "/users/%s/phones/%%2B15550100202" % uid)
        self.server.stop()
        lines = [l for l in self.server.log_lines() if l.strip()]
        self.assertGreater(len(lines), 5)
        secrets_ = [known, stranger, "+15550100202", "15550100101", "5550100101",
                    "zebra-kumquat-secret", "aardvark-xylophone", "stranger-danger-text",
                    "forged-walrus-body", "with-reply", AUTH_TOKEN]
        for line in lines:
            obj = json.loads(line)  # every line is one JSON object
            self.assertIsInstance(obj, dict, line)
            self.assertIn("event", obj, line)
            for s in secrets_:
                self.assertNotIn(s, line)
        masked = [l for l in lines if "+1555***0101" in l]
        self.assertTrue(masked, "phone numbers should appear masked")

    def test_warn_level_shows_no_body_or_number(self):
        srv = self.make_server(env={"SMSROUTER_LOG_LEVEL": "warn"}, fixed_port=True)
        phone = new_phone()
        srv.add_user("Ann", [phone])
        srv.say(phone, "remember warn-level-body")
        srv.stop()
        for line in srv.log_lines():
            self.assertNotIn("warn-level-body", line)
            self.assertNotIn(phone, line)
