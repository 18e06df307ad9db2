"""Connections under pressure: a deadline for the whole request counted from the accept
(a client dribbling a byte at a time is cut off and counted), a signed webhook answered
while slow clients fill every slot, and stopping: on SIGTERM a new connection is refused
or answered 503 at once while the request in flight gets its answer."""

import os
import signal
import socket
import threading
import time

from harness import ServerTest, new_phone
from slowclients import SlowClients
from standins import AGENT_SECRET, AgentCore, wait_until
from test_operations import families, value


def dribble(port, head, seconds, step=0.5):
    """Sends head, then a byte every step (quicker than any idle timeout) for at most
    seconds; returns how long until the server ended the connection (None: it did not)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head)
        while time.monotonic() - start < seconds:
            try:
                if s.recv(1, socket.MSG_DONTWAIT) == b"":
                    return time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                return time.monotonic() - start
            try:
                s.send(b"a")
            except OSError:
                return time.monotonic() - start
            time.sleep(step)
    return None


class TestRequestDeadline(ServerTest):
    server_env = {"SMSROUTER_CONNECTION_TIMEOUT": "3"}

    def test_a_client_dribbling_its_head_or_body_is_cut_off_at_the_deadline(self):
        before = value(families(self.server), "smsrouter_http_timeouts")
        heads = {
            "head": b"POST /sms-router/webhook/sms HTTP/1.1\r\nHost: x\r\nX-Slow: ",
            "body": (b"POST /sms-router/webhook/sms HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 1000\r\n\r\nBody="),
        }
        for name, head in heads.items():
            took = dribble(self.server.port, head, seconds=12)
            self.assertIsNotNone(took, "%s: still open after 12 s" % name)
            # 3 s from the accept, however often a byte came.
            self.assertGreater(took, 2.5, name)
            self.assertLess(took, 6, name)
        after = value(families(self.server), "smsrouter_http_timeouts")
        self.assertGreaterEqual(after - before, 2)


class TestDeadlineSparesAnswers(ServerTest):
    start_server = False

    def test_a_webhook_waiting_for_a_slow_agent_is_not_cut_at_the_deadline(self):
        agent = AgentCore(latency_ms=3500)
        self.addCleanup(agent.close)
        s = self.make_server(env={"SMSROUTER_AGENT_URL": agent.url + "/",
                                  "SMSROUTER_AGENT_SECRET": AGENT_SECRET,
                                  "SMSROUTER_CONNECTION_TIMEOUT": "2",
                                  "SMSROUTER_MAX_CONNECTIONS": "4",
                                  "SMSROUTER_THREADS": "2"})
        phone = new_phone()
        s.add_user("Ann", [phone])
        answers = []
        t = threading.Thread(target=lambda: answers.append(s.sms(phone, "slow one")))
        t.start()
        self.assertTrue(wait_until(lambda: agent.requests(), 10), "the agent was not called")
        # Past the limit too: the connections cut to make room are the waiting ones.
        with SlowClients(s.port, 20, seconds=10):
            t.join(15)
        self.assertEqual(answers[0].status, 200, answers[0].body)
        self.assertIn(b"slow one", answers[0].body)


class TestSlotsFilledBySlowClients(ServerTest):
    server_env = {"SMSROUTER_MAX_CONNECTIONS": "20", "SMSROUTER_THREADS": "2"}

    def test_a_signed_webhook_is_answered_within_15_s(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        with SlowClients(self.server.port, 300, seconds=40) as crowd:
            time.sleep(2)  # every slot taken, the rest in the accept queue
            start = time.monotonic()
            r = self.server.sms(phone, "recall")
            took = time.monotonic() - start
            self.assertEqual(r.status, 200, r.body)
            self.assertLess(took, 15)
            self.assertGreater(crowd.cut, 0)  # they were cut to make room
        self.assertGreater(value(families(self.server), "smsrouter_http_timeouts"), 0)


class TestStopping(ServerTest):
    start_server = False

    def test_a_connection_during_the_drain_is_refused_or_503_at_once(self):
        agent = AgentCore(latency_ms=4000)
        self.addCleanup(agent.close)
        s = self.make_server(env={"SMSROUTER_AGENT_URL": agent.url + "/",
                                  "SMSROUTER_AGENT_SECRET": AGENT_SECRET})
        phone = new_phone()
        s.add_user("Ann", [phone])
        answers = []
        t = threading.Thread(target=lambda: answers.append(s.sms(phone, "in flight")))
        t.start()
        self.assertTrue(wait_until(lambda: agent.requests(), 10), "the agent was not called")
        os.kill(s.proc.pid, signal.SIGTERM)
        s.wait_log("serve.stopping")
        time.sleep(0.3)
        start = time.monotonic()
        try:
            r = s.sms(new_phone(), "late")
            outcome = r.status
        except (ConnectionRefusedError, ConnectionResetError):
            outcome = "refused"
        took = time.monotonic() - start
        self.assertIn(outcome, (503, "refused"))
        self.assertLess(took, 1.5, "the new webhook waited for the drain")
        t.join(20)
        self.assertEqual(answers[0].status, 200)  # the request in flight got its answer
        self.assertEqual(s.stop(), 0)
