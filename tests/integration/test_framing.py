"""Ambiguous HTTP framing (RFC 9112 §6.1, §6.3), over raw sockets: a request whose length
or host two readers could see differently gets one well-formed 400 (TwiML on the two
webhooks, JSON elsewhere), its connection is closed, and nothing of it is stored."""

import json
import socket
import time
import urllib.parse

from twilio.request_validator import RequestValidator

from harness import ADMIN_TOKEN, AUTH_TOKEN, EMPTY_TWIML, ServerTest, new_phone

# Each case: the framing headers and how the body is sent (raw bytes after the head).
CASES = {
    "content_length_with_chunked": lambda b: (
        ["Content-Length: %d" % len(b), "Transfer-Encoding: chunked"],
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b)),
    "two_content_lengths": lambda b: (
        ["Content-Length: %d" % len(b), "Content-Length: %d" % (len(b) - 5)], b),
    "gzip_then_chunked": lambda b: (
        ["Transfer-Encoding: gzip, chunked"], b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b)),
    "chunked_twice": lambda b: (
        ["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"],
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(b), b)),
    "two_hosts": lambda b: (["Host: evil.example", "Content-Length: %d" % len(b)], b),
}
# libmicrohttpd 0.9.75 answers these itself before any callback of ours runs (see
# src/http/server.c): a 400 and a closed connection, nothing stored, but with its own HTML
# body. Only what holds for that version is checked of them.
MALFORMED_LENGTHS = ["abc", "-1", "3, 3"]


def exchange(port, head, body, timeout=5.0):
    """Sends head and body at once; returns (everything read, closed by the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return data, True
            except socket.timeout:
                return data, False
            if not chunk:
                return data, True
            data += chunk
        return data, False


class FramingTest(ServerTest):
    def webhook(self, phone):
        p = self.server.sms_params(phone, "remember secret")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        host = urllib.parse.urlsplit(self.server.sms_url).netloc
        head = ["POST /sms-router/webhook/sms HTTP/1.1", "Host: " + host,
                "Content-Type: application/x-www-form-urlencoded",
                "X-Twilio-Signature: " + sig]
        return head, urllib.parse.urlencode(p).encode()

    def admin_post(self, phone):
        head = ["POST /sms-router/admin/users HTTP/1.1", "Host: 127.0.0.1",
                "Content-Type: application/json", "Authorization: Bearer " + ADMIN_TOKEN]
        return head, json.dumps({"name": "Eve", "phones": [phone]}).encode()

    def send(self, head, framing, body):
        raw = ("\r\n".join(head + framing) + "\r\n\r\n").encode()
        return exchange(self.server.port, raw, body)

    def assertOne400(self, name, data, closed, twiml):
        self.assertTrue(closed, "%s: connection left open: %r" % (name, data))
        self.assertEqual(data.count(b"HTTP/1."), 1, "%s: %r" % (name, data))
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), "%s: %r" % (name, head))
        if twiml:
            self.assertIn(b"Content-Type: text/xml", head, name)
            self.assertEqual(body.decode(), EMPTY_TWIML, name)
        else:
            self.assertIn(b"Content-Type: application/json", head, name)
            self.assertEqual(json.loads(body)["error"], "ambiguous_request", name)

    def test_ambiguous_webhooks_get_one_twiml_400_and_are_not_stored(self):
        phone = new_phone()
        user = self.server.add_user("Ann", [phone])
        for name, make in CASES.items():
            head, body = self.webhook(phone)
            framing, raw = make(body)
            data, closed = self.send(head, framing, raw)
            self.assertOne400(name, data, closed, twiml=True)
        self.assertEqual(self.server.messages(user["id"]), [])
        # The same request framed plainly is served: the 400s were the framing's.
        head, body = self.webhook(phone)
        data, _ = self.send(head, ["Content-Length: %d" % len(body), "Connection: close"],
                            body)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data)

    def test_ambiguous_admin_requests_get_one_json_400_and_store_nothing(self):
        for name, make in CASES.items():
            phone = new_phone()
            head, body = self.admin_post(phone)
            framing, raw = make(body)
            data, closed = self.send(head, framing, raw)
            self.assertOne400(name, data, closed, twiml=False)
            self.assertEqual(self.server.user_by_phone(phone).status, 404, name)

    def test_a_malformed_content_length_is_400_closed_and_not_stored(self):
        phone = new_phone()
        user = self.server.add_user("Bob", [phone])
        for value in MALFORMED_LENGTHS:
            head, body = self.webhook(phone)
            data, closed = self.send(head, ["Content-Length: " + value], body)
            self.assertTrue(closed, value)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 "), (value, data))
        self.assertEqual(self.server.messages(user["id"]), [])
