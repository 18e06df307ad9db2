"""Starts the local stand-ins of what lives outside (an Agent Core, Twilio's Messages
API, an events receiver) on loopback, for the integration tests. Every process is stopped by its PID."""

import json
import os
import signal
import subprocess
import time

from harness import ACCOUNT_SID, AUTH_TOKEN, http_request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
AGENT_SECRET = "agent-secret-for-tests"


class StandIn:
    def __init__(self, args):
        self.proc = subprocess.Popen([PY] + args, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise AssertionError("stand-in %s did not start" % args[0])
        self.port = json.loads(line)["port"]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def get(self, path):
        r = http_request(self.port, "GET", path, timeout=10)
        assert r.status == 200, (path, r.status, r.body)
        return r.json()

    def post(self, path, obj):
        body = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        return http_request(self.port, "POST", path, body=body, timeout=30)

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc.stdout.close()


class AgentCore(StandIn):
    def __init__(self, latency_ms=0, mode="echo"):
        super().__init__([os.path.join(ROOT, "tests/standins/agent_core.py"), "--secret",
                          AGENT_SECRET, "--latency-ms", str(latency_ms), "--mode", mode])

    def requests(self):
        return self.get("/_requests")

    def set_mode(self, mode):
        assert self.post("/_mode", mode).status == 204


class TwilioApi(StandIn):
    def __init__(self):
        super().__init__([os.path.join(ROOT, "tests/standins/twilio_api.py"), "--account",
                          ACCOUNT_SID, "--token", AUTH_TOKEN, "--schema",
                          os.path.join(ROOT, "tests/data/twilio-create-message.json")])

    def sent(self):
        return self.get("/_sent")

    def attempts(self):
        return self.get("/_attempts")

    def set_mode(self, mode, **kw):
        kw["mode"] = mode
        assert self.post("/_mode", kw).status == 204

    def callback(self, sid, status, error_code=None):
        r = self.post("/_callback", {"sid": sid, "status": status, "error_code": error_code})
        assert r.status == 200, r.body
        return r.json()["status"]


class EventsReceiver(StandIn):
    """The events URL's stand-in: checks the signature with secret, fails the first fail
    signed attempts with 500; port 0 picks a free one (a fixed one lets a test bring it
    back after stopping it)."""

    def __init__(self, secret=AGENT_SECRET, fail=0, port=0):
        super().__init__([os.path.join(ROOT, "tests/standins/events_receiver.py"), "--secret",
                          secret, "--fail", str(fail), "--port", str(port)])

    def events(self):
        return self.get("/_events")

    def attempts(self):
        return self.get("/_attempts")

    def set_fail(self, count):
        assert self.post("/_fail", {"count": count}).status == 204


def wait_until(pred, timeout, step=0.1):
    """Polls pred() until it is truthy (returned) or timeout seconds pass (None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)
