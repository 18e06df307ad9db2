"""Integration-test harness for smsrouter: starts the real binary on loopback and
talks HTTP to it, signing webhooks with Twilio's own library (python3-twilio).

Only the standard library and `twilio` are used. Every process started here is
stopped by its PID; every wait is bounded.
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

from twilio.request_validator import RequestValidator

# Set by run.py from the command line.
BINARY = os.environ.get("SMSROUTER_TEST_BINARY", "build/smsrouter")
# Set: every server gets a fresh database of this PostgreSQL cluster instead of SQLite.
PG_URL = os.environ.get("SMSROUTER_TEST_PG_URL")
PG_DIR = os.environ.get("SMSROUTER_TEST_PG_DIR")  # the cluster's directory (to stop it)
SANITIZED = os.environ.get("SMSROUTER_TEST_SANITIZED") == "1"

AUTH_TOKEN = "12345678901234567890123456789012"
ADMIN_TOKEN = "admin-token-for-integration-tests"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_NUMBER = "+15005550006"

ASAN_OPTIONS = "detect_leaks=0:abort_on_error=1"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:")

XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>'
EMPTY_TWIML = XML_DECL + "<Response/>"

START_TIMEOUT = 10.0
HTTP_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

_phone_lock = threading.Lock()
_phone_next = [0]


def new_phone():
    """A fresh, valid, process-unique E.164 number (+1555 01xxxxx)."""
    with _phone_lock:
        _phone_next[0] += 1
        n = _phone_next[0]
    return "+1555%07d" % (100000 + n)


def new_sid(prefix="SM"):
    return prefix + secrets.token_hex(16)


def base_env(extra=None):
    """The process environment without any inherited smsrouter/Twilio setting."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SMSROUTER_", "TWILIO_", "ASAN_", "UBSAN_"))}
    if SANITIZED:
        env["ASAN_OPTIONS"] = ASAN_OPTIONS
        env["UBSAN_OPTIONS"] = UBSAN_OPTIONS
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


def psql(url, sql):
    """Runs one SQL command with psql against url; raises on failure."""
    r = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql failed: %s" % r.stderr.decode("utf-8", "replace"))


def pg_database_url(name):
    """PG_URL with its database replaced by name."""
    u = urllib.parse.urlsplit(PG_URL)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def new_pg_database():
    """Creates a fresh database on the test cluster; returns its name."""
    name = "it_" + secrets.token_hex(8)
    psql(PG_URL, "CREATE DATABASE %s" % name)
    return name


def drop_pg_database(name):
    """Drops a test database once its server has stopped. Without FORCE, which needs the
    right to end other roles' sessions (an autovacuum worker's): the server ends autovacuum
    itself. A database that still will not go is left to the cluster's removal at the end."""
    for _ in range(5):
        try:
            psql(PG_URL, "DROP DATABASE IF EXISTS %s" % name)
            return
        except AssertionError:
            time.sleep(1)


def requires_sqlite(test):
    """For tests that look inside the SQLite file itself."""
    return unittest.skipIf(PG_URL, "looks inside the SQLite file")(test)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_report(text):
    """The sanitizer lines in text, or '' when there are none."""
    bad = [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKERS)]
    return "\n".join(bad)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case keys
        self.body = body  # bytes

    @property
    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


def http_request(port, method, target, body=None, headers=None, timeout=HTTP_TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return Response(r.status, hdrs, data)
    finally:
        conn.close()


def twiml_message(body):
    """The text of the TwiML answer's <Message>, or None for <Response/>. Parses the
    document (raises on malformed XML) and checks its shape."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    root = ET.fromstring(body.encode("utf-8"))
    if root.tag != "Response":
        raise AssertionError("root element is %r, not Response" % root.tag)
    msgs = list(root)
    if not msgs:
        return None
    if len(msgs) != 1 or msgs[0].tag != "Message":
        raise AssertionError("unexpected TwiML children: %r" % body)
    return msgs[0].text or ""


def twiml_action(body):
    """The action= URL of the <Message>, or None."""
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    root = ET.fromstring(body.encode("utf-8"))
    for m in root:
        return m.get("action")
    return None


class Server:
    """One `smsrouter serve` process in its own temporary directory."""

    def __init__(self, binary=None, env=None, args=(), admin_token=ADMIN_TOKEN,
                 auth_token=AUTH_TOKEN, tmpdir=None, db_path=None, start=True,
                 fixed_port=False, db_url=None):
        self.binary = os.path.abspath(binary or BINARY)
        self.owns_tmp = tmpdir is None
        self.tmp = tmpdir or tempfile.mkdtemp(prefix="smsrouter-it-")
        self.db_path = db_path or os.path.join(self.tmp, "db.sqlite")
        self.pg_db = None
        if PG_URL and db_path is None and db_url is None:
            self.pg_db = new_pg_database()
            db_url = pg_database_url(self.pg_db)
        self.db_url = db_url or "sqlite:" + self.db_path
        self.auth_token = auth_token
        self.admin_token = admin_token
        self.overrides = dict(env or {})
        self.args = list(args)
        self.proc = None
        self.port = None
        # Without the serve.listening line (log level above info): a port picked here,
        # and /health polled until it answers.
        self.fixed_port = fixed_port
        self.lines = []  # stderr lines of every run, in order
        self.run_lines = []  # stderr lines of the current run
        self.lines_lock = threading.Lock()
        self.reader = None
        self.exit_codes = []
        self.sanitizer_errors = []
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    # ---- environment ----
    def env(self, extra=None):
        e = {
            "SMSROUTER_LISTEN": "127.0.0.1:0",
            "SMSROUTER_DATABASE_URL": self.db_url,
            "SMSROUTER_LOG_FORMAT": "json",
        }
        if self.auth_token is not None:
            e["TWILIO_AUTH_TOKEN"] = self.auth_token
        if self.admin_token is not None:
            e["SMSROUTER_ADMIN_TOKEN"] = self.admin_token
        e.update(self.overrides)
        if extra:
            e.update(extra)
        return base_env(e)

    # ---- process control ----
    def start(self):
        assert self.proc is None, "already running"
        self.run_lines = []
        extra = None
        if self.fixed_port:
            extra = {"SMSROUTER_LISTEN": "127.0.0.1:%d" % free_port()}
        self.proc = subprocess.Popen(
            [self.binary, "serve"] + self.args, cwd=self.tmp, env=self.env(extra),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ready = threading.Event()
        port_box = []
        proc = self.proc

        def read():
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                with self.lines_lock:
                    self.lines.append(line)
                    self.run_lines.append(line)
                if not ready.is_set():
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(obj, dict) and obj.get("event") == "serve.listening":
                        port_box.append(int(obj["port"]))
                        ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if self.fixed_port:
            port = int(extra["SMSROUTER_LISTEN"].rsplit(":", 1)[1])
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if http_request(port, "GET", "/health", timeout=2).status == 200:
                        port_box.append(port)
                        break
                except OSError:
                    pass
                time.sleep(0.05)
        else:
            ready.wait(START_TIMEOUT)
        if not port_box:
            self._kill_quietly()
            raise AssertionError("smsrouter serve did not report serve.listening within %ss; "
                                 "stderr:\n%s" % (START_TIMEOUT, "\n".join(self.run_lines)))
        self.port = port_box[0]
        return self

    def _finish(self):
        """After the process has exited: drain stderr, record sanitizer reports."""
        if self.reader:
            self.reader.join(10)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.exit_codes.append(self.proc.returncode)
        rep = sanitizer_report("\n".join(self.run_lines))
        if rep:
            self.sanitizer_errors.append(rep)
        self.proc = None

    def _kill_quietly(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
        if self.proc:
            self._finish()

    def stop(self, sig=signal.SIGTERM):
        """Signals the process (by PID) and waits for it; returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
            self._finish()
            raise AssertionError("smsrouter did not stop within %ss of signal %d"
                                 % (STOP_TIMEOUT, sig))
        code = self.proc.returncode
        self._finish()
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        """Stops (SIGTERM) and starts again on the same database and directory."""
        self.stop()
        return self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """Stops the process if needed and removes the temporary directory. Raises
        AssertionError if a sanitizer reported anything during any run."""
        try:
            if self.proc is not None:
                self.stop()
        finally:
            if self.owns_tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
            if self.pg_db:
                drop_pg_database(self.pg_db)
                self.pg_db = None
        if self.sanitizer_errors:
            raise AssertionError("sanitizer report in smsrouter stderr:\n" +
                                 "\n".join(self.sanitizer_errors))

    # ---- logs ----
    def log_lines(self):
        with self.lines_lock:
            return list(self.lines)

    def log_events(self):
        out = []
        for l in self.log_lines():
            try:
                o = json.loads(l)
            except ValueError:
                continue
            if isinstance(o, dict):
                out.append(o)
        return out

    def wait_log(self, event, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.log_events():
                if e.get("event") == event:
                    return e
            time.sleep(0.02)
        return None

    # ---- HTTP ----
    @property
    def origin(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def sms_url(self):
        return self.origin + "/sms-router/webhook/sms"

    @property
    def status_url(self):
        return self.origin + "/sms-router/webhook/status"

    def request(self, method, target, body=None, headers=None, timeout=HTTP_TIMEOUT):
        return http_request(self.port, method, target, body=body, headers=headers,
                            timeout=timeout)

    def sms_params(self, from_, body, sid=None, to=TWILIO_NUMBER, extra=None):
        sid = sid or new_sid()
        p = {
            "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
            "FromCity": "", "Body": body, "FromCountry": "US", "To": to, "ToZip": "",
            "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": from_,
            "ApiVersion": "2010-04-01",
        }
        if extra:
            for k, v in extra.items():
                if v is None:
                    p.pop(k, None)
                else:
                    p[k] = v
        return p

    def post_signed(self, url, params, token=None, sign_url=None, headers=None,
                    raw_body=None, signature=None):
        """POSTs params form-encoded to url's path+query, signed over sign_url (default:
        url) with token (default: the server's auth token)."""
        token = self.auth_token if token is None else token
        sig = signature
        if sig is None:
            sig = RequestValidator(token).compute_signature(sign_url or url, params)
        u = urllib.parse.urlsplit(url)
        target = u.path + ("?" + u.query if u.query else "")
        h = {"Content-Type": "application/x-www-form-urlencoded",
             "User-Agent": "TwilioProxy/1.1"}
        if sig is not False:
            h["X-Twilio-Signature"] = sig
        if headers:
            for k, v in headers.items():
                if v is None:
                    h.pop(k, None)
                else:
                    h[k] = v
        body = raw_body if raw_body is not None else urllib.parse.urlencode(params)
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("POST", target, body=body, headers=h)

    def sms(self, from_, body, sid=None, extra=None, token=None, url_override=None,
            headers=None, to=TWILIO_NUMBER):
        params = self.sms_params(from_, body, sid=sid, to=to, extra=extra)
        return self.post_signed(self.sms_url, params, token=token, sign_url=url_override,
                                headers=headers)

    def say(self, from_, body, **kw):
        """Sends one SMS, asserts a well-formed 200 TwiML answer, returns the reply text
        (None for <Response/>)."""
        r = self.sms(from_, body, **kw)
        if r.status != 200:
            raise AssertionError("webhook answered %d: %r" % (r.status, r.body))
        return twiml_message(r.body)

    def status(self, message_sid, message_status, url=None, error_code=None, to=None,
               from_=TWILIO_NUMBER, token=None, extra=None, sign_url=None):
        url = url or self.status_url
        p = {"MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": message_status,
             "SmsStatus": message_status, "AccountSid": ACCOUNT_SID, "From": from_,
             "ApiVersion": "2010-04-01"}
        if to is not None:
            p["To"] = to
        if error_code is not None:
            p["ErrorCode"] = str(error_code)
        if extra:
            p.update(extra)
        return self.post_signed(url, p, token=token, sign_url=sign_url)

    def admin(self, method, path, json_body=None, token=True, raw=None, **kw):
        """path is relative to /sms-router/admin (e.g. "/users"). token=True uses the
        server's admin token, None sends no Authorization header, a string sends it."""
        if "json" in kw:
            json_body = kw.pop("json")
        h = {}
        if token is True:
            token = self.admin_token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        body = raw
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
        if body is not None:
            h["Content-Type"] = "application/json"
        return self.request(method, "/sms-router/admin" + path, body=body, headers=h)

    # convenience admin calls
    def add_user(self, name, phones):
        r = self.admin("POST", "/users", {"name": name, "phones": list(phones)})
        if r.status != 201:
            raise AssertionError("POST /users answered %d: %r" % (r.status, r.body))
        return r.json()

    def user_by_phone(self, phone):
        return self.admin("GET", "/users?phone=" + urllib.parse.quote(phone, safe=""))

    def messages(self, user_id, limit=None):
        q = "" if limit is None else "?limit=%d" % limit
        r = self.admin("GET", "/users/%s/messages%s" % (urllib.parse.quote(user_id, safe=""), q))
        if r.status != 200:
            raise AssertionError("GET messages answered %d: %r" % (r.status, r.body))
        return r.json()["messages"]

    # ---- CLI ----
    def cli(self, *args, env=None, timeout=120):
        return run_cli(self.binary, args, cwd=self.tmp, env=self.env(env), timeout=timeout,
                       sanitizer_sink=self.sanitizer_errors)


def run_cli(binary, args, cwd, env, timeout=120, sanitizer_sink=None):
    """Runs the binary with args; returns (code, stdout, stderr) as text."""
    p = subprocess.Popen([binary] + list(args), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError("%s %s did not finish within %ss" % (binary, args, timeout))
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    rep = sanitizer_report(err)
    if rep and sanitizer_sink is not None:
        sanitizer_sink.append("CLI %r:\n%s" % (list(args), rep))
    return p.returncode, out, err


class ServerTest(unittest.TestCase):
    """Base class: self.server is a fresh server per test (stopped in a cleanup that
    fails the test on any sanitizer report)."""

    server_env = {}
    server_args = ()
    start_server = True

    def setUp(self):
        if self.start_server:
            self.server = self.make_server(env=self.server_env, args=self.server_args)

    def make_server(self, start=True, **kw):
        """A Server stopped (and its directory removed) when the test ends, even if it
        fails to start."""
        s = Server(start=False, **kw)
        self.addCleanup(s.close)
        if start:
            s.start()
        return s

    def make_tmpdir(self):
        d = tempfile.mkdtemp(prefix="smsrouter-it-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    # assertions
    def assertTwiml(self, r, text, status=200):
        """r is a 200 text/xml answer whose <Message> is exactly text (None: <Response/>)."""
        self.assertEqual(r.status, status, r.body)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/xml"),
                        r.header("Content-Type"))
        self.assertEqual(twiml_message(r.body), text, r.body)

    def assertEmptyTwiml(self, r, status=200):
        self.assertEqual(r.status, status, r.body)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/xml"),
                        r.header("Content-Type"))
        self.assertEqual(r.body.decode("utf-8"), EMPTY_TWIML)

    def assertJsonError(self, r, status):
        self.assertEqual(r.status, status, r.body)
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"),
                        r.header("Content-Type"))
        j = r.json()
        self.assertIsInstance(j, dict)
        self.assertIsInstance(j.get("error"), str, j)
        self.assertTrue(j["error"], j)
        self.assertIsInstance(j.get("message"), str, j)
        self.assertTrue(j["message"].strip(), j)
        return j
