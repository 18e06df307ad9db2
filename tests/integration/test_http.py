"""HTTP surface: exact paths, 404/405/413 errors (JSON, TwiML on the two webhooks), /health,
/ready, /metrics."""

import http.client
import re
import socket
import urllib.parse

from twilio.request_validator import RequestValidator

from harness import AUTH_TOKEN, ServerTest, new_phone, requires_sqlite, twiml_message
from standins import wait_until


class RoutingTest(ServerTest):
    def test_unknown_path_is_404_json(self):
        for path in ["/", "/nope", "/sms-router", "/sms-router/webhook", "/health/",
                     "/sms-router/webhook/sms/", "/sms-router/webhook/SMS", "//health",
                     "/sms-router/admin/users/a/b/c"]:
            with self.subTest(path=path):
                r = self.server.request("GET", path)
                self.assertJsonError(r, 404)

    def test_wrong_method_is_405_with_allow(self):
        cases = [("POST", "/health", "GET"),
                 ("DELETE", "/metrics", "GET"),
                 ("POST", "/ready", "GET")]
        for method, path, allow in cases:
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path, body=b"" if method != "GET" else None)
                self.assertJsonError(r, 405)
                self.assertEqual(r.header("Allow"), allow)

    def test_wrong_method_on_a_webhook_is_405_twiml_with_allow(self):
        # Twilio reads TwiML on the two webhooks, errors included.
        for method, path in [("GET", "/sms-router/webhook/sms"),
                             ("GET", "/sms-router/webhook/sms?probe=1"),
                             ("PUT", "/sms-router/webhook/status"),
                             ("GET", "/sms-router/webhook/status?ob=1")]:
            with self.subTest(method=method, path=path):
                r = self.server.request(method, path, body=b"" if method != "GET" else None)
                self.assertEmptyTwiml(r, 405)
                self.assertEqual(r.header("Allow"), "POST")

    def test_405_on_admin_path_lists_every_method(self):
        r = self.server.admin("PUT", "/users", {"name": "x"})
        self.assertJsonError(r, 405)
        self.assertEqual(sorted(m.strip() for m in r.header("Allow").split(",")),
                         ["GET", "POST"])

    def test_query_string_does_not_change_the_route(self):
        r = self.server.request("GET", "/health?probe=1")
        self.assertEqual(r.status, 200)

    def test_body_over_64_kib_on_admin_is_413_json(self):
        big = b'{"name": "' + b"n" * (70 * 1024) + b'", "phones": []}'
        r = self.server.admin("POST", "/users", raw=big)
        self.assertJsonError(r, 413)

    def test_body_over_64_kib_is_twiml_only_on_the_two_webhooks(self):
        big = b"Body=" + b"x" * (70 * 1024)
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        for path, route in [("/sms-router/webhook/sms", "webhook_sms"),
                            ("/sms-router/webhook/status?ob=1", "webhook_status")]:
            with self.subTest(path=path):
                self.assertEmptyTwiml(self.server.request("POST", path, body=big, headers=h),
                                      413)
                # Counted under its webhook, and logged as a rejected webhook.
                text = self.server.request("GET", "/metrics").text
                self.assertIn('smsrouter_http_requests_total{route="%s",status="413"} 1'
                              % route, text)
                # The log is read from the server's stderr by another thread: wait for it.
                self.assertTrue(wait_until(lambda: any(
                    e.get("event") == "webhook.rejected" and e.get("path") == path.split("?")[0]
                    for e in self.server.log_events()), 5))
        # Other paths under the same prefix are no webhook: JSON like everywhere else.
        for path in ["/sms-router/webhook/other", "/sms-router/webhook/sms/",
                     "/sms-router/webhook/smsx?ob=1"]:
            with self.subTest(path=path):
                self.assertJsonError(self.server.request("POST", path, body=big, headers=h), 413)

    def test_server_keeps_serving_after_an_oversized_body(self):
        p = self.server.sms_params(new_phone(), "x" * (200 * 1024))
        try:
            self.server.post_signed(self.server.sms_url, p)
        except (ConnectionError, socket.timeout):
            pass
        self.assertEqual(self.server.request("GET", "/health").status, 200)

    def test_garbage_request_line_does_not_kill_the_server(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=1) as s:
            s.sendall(b"\x00\xff GARBAGE \r\n\r\n")
            try:
                s.recv(4096)
            except OSError:
                pass
        self.assertEqual(self.server.request("GET", "/health").status, 200)


class ConnectionTest(ServerTest):
    def signed(self, phone, body):
        p = self.server.sms_params(phone, body)
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        return urllib.parse.urlencode(p), {"Content-Type": "application/x-www-form-urlencoded",
                                           "X-Twilio-Signature": sig}

    def test_keep_alive_connection_serves_several_webhooks(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)
        answers = []
        for body in ["remember a", "remember b", "recall"]:
            b, h = self.signed(phone, body)
            conn.request("POST", "/sms-router/webhook/sms", body=b, headers=h)
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            answers.append(twiml_message(r.read()))
        self.assertEqual(answers, ["Noted.", "Noted.", "Your notes:\n1. a\n2. b"])

    def test_chunked_body_over_64_kib_is_413(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.addCleanup(conn.close)

        def chunks():
            for _ in range(100):
                yield b"Body=" + b"x" * 1019

        try:
            conn.request("POST", "/sms-router/webhook/sms", body=chunks(),
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         encode_chunked=True)
            r = conn.getresponse()
        except ConnectionError as e:
            self.fail("connection dropped instead of a 413: %r" % e)
        self.assertEqual(r.status, 413)
        self.assertEqual(twiml_message(r.read()), None)  # the webhooks answer errors in TwiML

    def test_expect_100_continue_is_honoured(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        b, h = self.signed(phone, "remember " + "q" * 3000)
        h["Expect"] = "100-continue"
        r = self.server.request("POST", "/sms-router/webhook/sms", body=b, headers=h)
        self.assertTwiml(r, "Noted.")

    def test_webhook_without_host_header_is_400(self):
        phone = new_phone()
        b, h = self.signed(phone, "recall")
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(("POST /sms-router/webhook/sms HTTP/1.0\r\nContent-Type: %s\r\n"
                       "X-Twilio-Signature: %s\r\nContent-Length: %d\r\n\r\n%s"
                       % (h["Content-Type"], h["X-Twilio-Signature"], len(b), b)).encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400") or head.startswith(b"HTTP/1.0 400"),
                        head)
        self.assertIsNone(twiml_message(body))


class HealthTest(ServerTest):
    def test_health_is_200_status_ok(self):
        r = self.server.request("GET", "/health")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        self.assertEqual(r.json(), {"status": "ok"})

    def test_ready_is_200(self):
        r = self.server.request("GET", "/ready")
        self.assertEqual(r.status, 200)

    @requires_sqlite
    def test_ready_is_503_once_the_database_file_is_damaged(self):
        # One HTTP thread: its store connection, warmed before the damage, answers /ready.
        srv = self.make_server(env={"SMSROUTER_THREADS": "1"})
        phone = new_phone()
        srv.add_user("Ann", [phone])
        self.assertIsNotNone(srv.say(phone, "recall"))
        srv.restart()  # the stop checkpoints: everything is in the file now
        self.assertEqual(srv.user_by_phone(phone).status, 200)
        self.assertEqual(srv.request("GET", "/ready").status, 200)
        # The test's own database, in its temporary directory: its first 8 KiB overwritten.
        with open(srv.db_path, "r+b") as f:
            f.write(b"\xa5" * 8192)
        for _ in range(3):
            r = srv.request("GET", "/ready")
            self.assertJsonError(r, 503)
            self.assertEqual(r.json()["error"], "store_unavailable")
        self.assertEqual(srv.request("GET", "/health").status, 200)

    def test_metrics_expose_requests_and_messages(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        self.server.say(phone, "recall")
        self.server.say(new_phone(), "hi")
        r = self.server.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r.headers)
        text = r.text
        self.assertIn("smsrouter_http_requests_total", text)
        self.assertIn('smsrouter_messages_total{outcome="routed"}', text)
        m = re.search(r'^smsrouter_messages_total\{outcome="routed"\} (\S+)$', text, re.M)
        self.assertEqual(float(m.group(1)), 1)
        m = re.search(r'^smsrouter_messages_total\{outcome="unrouted"\} (\S+)$', text, re.M)
        self.assertEqual(float(m.group(1)), 1)
        self.assertRegex(text, r'smsrouter_http_requests_total\{[^}]*status="200"[^}]*\} \d+')
        self.assertIn("smsrouter_webhook_duration_seconds_bucket", text)
        self.assertRegex(text, r"(?m)^smsrouter_users 1$")

    def test_metrics_are_valid_exposition_lines(self):
        text = self.server.request("GET", "/metrics").text
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+$')
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            self.assertRegex(line, sample)
