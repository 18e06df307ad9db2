"""Media for the agent (CONTRACT.md "Channels and media", docs/media.md): each inbound
media entry carries a fetch_url to smsrouter that streams the file from Twilio (the
stand-in) with the account's credentials; tampered, expired or foreign links are refused;
never an open proxy; memory stays bounded while files stream."""

import concurrent.futures
import hashlib
import hmac
import http.client
import signal
import sys
import threading
import time
import urllib.parse

from harness import (ACCOUNT_SID, AUTH_TOKEN, SANITIZED, ServerTest, new_phone, new_sid)
from standins import AGENT_SECRET, AgentCore, TwilioApi, wait_until

MIB = 1024 * 1024


def media_path(account=ACCOUNT_SID, message=None, media=None):
    return "/2010-04-01/Accounts/%s/Messages/%s/Media/%s" % (
        account, message or new_sid("MM"), media or new_sid("ME"))


def pattern(n):
    return bytes(i % 251 for i in range(n))


def link_key(token=AUTH_TOKEN):
    """The documented derivation: HMAC-SHA256(TWILIO_AUTH_TOKEN, "smsrouter media link v1")."""
    return hmac.new(token.encode(), b"smsrouter media link v1", hashlib.sha256).digest()


def make_link(user_id, uid, index, expires, token=AUTH_TOKEN):
    text = "v1/%s/%s/%d/%d" % (user_id, uid, index, expires)
    sig = hmac.new(link_key(token), text.encode(), hashlib.sha256).hexdigest()
    return "/sms-router/media/%s/%s/%d/%d/%s" % (user_id, uid, index, expires, sig)


class Fetched:
    def __init__(self, status, headers, body, complete):
        self.status = status
        self.headers = headers
        self.body = body
        self.complete = complete  # False: the connection was cut before the end

    def header(self, name):
        return self.headers.get(name.lower())


def fetch(port, target, timeout=30, slow=0.0, chunk=65536):
    """GET target, reading the body whole or up to a cut (never raising on one); slow:
    seconds slept between chunks."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        headers = {k.lower(): v for k, v in r.getheaders()}
        parts = []
        complete = True
        while True:
            try:
                piece = r.read(chunk)
            except http.client.IncompleteRead as e:
                parts.append(e.partial)
                complete = False
                break
            except (ConnectionError, OSError):
                complete = False
                break
            if not piece:
                break
            parts.append(piece)
            if slow:
                time.sleep(slow)
        body = b"".join(parts)
        length = headers.get("content-length")
        if length is not None and len(body) != int(length):
            complete = False
        return Fetched(r.status, headers, body, complete)
    finally:
        conn.close()


class MediaTest(ServerTest):
    start_server = False
    extra_env = {}

    def setUp(self):
        super().setUp()
        self.agent = AgentCore()
        self.addCleanup(self.agent.close)
        self.twilio = TwilioApi()
        self.addCleanup(self.twilio.close)
        env = {"SMSROUTER_AGENT_URL": self.agent.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "SMSROUTER_SENDER_LIMIT": "0",
               "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE": self.twilio.url}
        env.update(self.extra_env)
        self.server = self.make_server(env=env)
        self.phone = new_phone()
        self.user = self.server.add_user("Pic", [self.phone])

    def mms(self, urls, types=None):
        """Sends an MMS with urls; returns the agent's message (with media and fetch_url)."""
        extra = {"NumMedia": str(len(urls))}
        for i, u in enumerate(urls):
            extra["MediaUrl%d" % i] = u
            extra["MediaContentType%d" % i] = (types or ["image/jpeg"] * len(urls))[i]
        before = len(self.agent.requests())
        self.server.say(self.phone, "look", extra=extra)
        reqs = self.agent.requests()
        self.assertEqual(len(reqs), before + 1)
        return reqs[-1]["body"]["message"]

    def target(self, fetch_url):
        """fetch_url is absolute, on this server: its path."""
        u = urllib.parse.urlsplit(fetch_url)
        self.assertEqual("%s://%s" % (u.scheme, u.netloc), self.server.origin)
        self.assertFalse(u.query)
        return u.path

    def one(self, path, **kw):
        """Registers media at path, sends it in an MMS, returns its fetch_url's path."""
        self.twilio.add_media(path, **kw)
        m = self.mms([self.twilio.url + path])
        return self.target(m["media"][0]["fetch_url"])

    def get(self, target, **kw):
        return fetch(self.server.port, target, **kw)

    def metric(self, result):
        text = self.server.request("GET", "/metrics").text
        line = 'smsrouter_media_fetches_total{result="%s"} ' % result
        return int(next(l for l in text.splitlines() if l.startswith(line)).split()[-1])


class TestFetchUrl(MediaTest):
    def test_the_agent_gets_a_fetch_url_that_streams_the_file_without_credentials(self):
        path = media_path()
        data = pattern(200 * 1000)
        self.twilio.add_media(path, content_type="image/jpeg", body=data)
        t0 = int(time.time())
        m = self.mms([self.twilio.url + path])
        entry = m["media"][0]
        self.assertEqual(entry["url"], self.twilio.url + path)
        self.assertEqual(entry["content_type"], "image/jpeg")
        url = entry["fetch_url"]
        self.assertNotIn(AUTH_TOKEN, url)
        parts = self.target(url).split("/")
        # /sms-router/media/{user}/{message}/{index}/{expires}/{sig}
        self.assertEqual(parts[1:3], ["sms-router", "media"])
        self.assertEqual((parts[3], parts[4], parts[5]), (self.user["id"], m["id"], "0"))
        self.assertTrue(t0 + 3600 - 5 <= int(parts[6]) <= int(time.time()) + 3600)
        self.assertRegex(parts[7], r"^[0-9a-f]{64}$")

        r = self.get(self.target(url))  # no credentials of any kind
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        self.assertEqual(r.body, data)
        self.assertEqual(r.header("Content-Type"), "image/jpeg")
        self.assertEqual(r.header("Content-Length"), str(len(data)))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("Cache-Control"), "private, no-store")
        # Twilio was asked with the account's credentials.
        log = [x for x in self.twilio.media_log() if x["path"] == path]
        self.assertEqual(log, [{"path": path, "auth": True}])
        # The link works again while it lives.
        self.assertEqual(self.get(self.target(url)).body, data)
        self.assertTrue(wait_until(lambda: self.metric("ok") == 2, 5))
        ev = [e for e in self.server.log_events() if e.get("event") == "media.fetch"]
        self.assertEqual(ev[-1]["message"], m["id"])
        self.assertEqual((ev[-1]["status"], ev[-1]["bytes"], ev[-1]["result"]),
                         (200, len(data), "ok"))
        self.assertNotIn(self.phone, "".join(self.server.log_lines()[-5:]))

    def test_each_media_entry_has_its_own_link(self):
        paths = [media_path(), media_path(), media_path()]
        for i, p in enumerate(paths):
            self.twilio.add_media(p, content_type="image/png", body=b"file %d" % i)
        m = self.mms([self.twilio.url + p for p in paths], ["image/png"] * 3)
        for i, e in enumerate(m["media"]):
            r = self.get(self.target(e["fetch_url"]))
            self.assertEqual((r.status, r.body), (200, b"file %d" % i))

    def test_twilios_redirect_to_storage_is_followed_without_the_credentials(self):
        path = media_path()
        data = pattern(100 * 1000)
        target = self.one(path, content_type="image/gif", body=data, redirect=True)
        r = self.get(target)
        self.assertEqual((r.status, r.header("Content-Type")), (200, "image/gif"))
        self.assertEqual(r.body, data)
        log = self.twilio.media_log()
        self.assertEqual(log[0], {"path": path, "auth": True})
        self.assertTrue(log[1]["path"].startswith("/_storage/"))
        self.assertFalse(log[1]["auth"], "the credentials went to another host")

    def test_a_chunked_body_streams_whole(self):
        data = pattern(3 * MIB)
        target = self.one(media_path(), body=data, chunked=True)
        r = self.get(target)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_content_type_is_passed_on_as_type_and_subtype_only(self):
        for given, want in [("text/plain; charset=utf-8", "text/plain"),
                            ("image/jpeg junk", "application/octet-stream"),
                            ("nonsense", "application/octet-stream"),
                            ("audio/amr", "audio/amr")]:
            r = self.get(self.one(media_path(), content_type=given, body=b"x"))
            self.assertEqual((r.status, r.header("Content-Type")), (200, want), given)

    def test_an_empty_file_is_an_empty_200(self):
        r = self.get(self.one(media_path(), content_type="image/png", body=b""))
        self.assertEqual((r.status, r.body, r.header("Content-Type")), (200, b"", "image/png"))


class TestLimits(MediaTest):
    def test_exactly_5_mib_streams_and_one_byte_more_is_refused_before_any_body(self):
        r = self.get(self.one(media_path(), size=5 * MIB))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.complete)
        self.assertEqual(len(r.body), 5 * MIB)
        r = self.get(self.one(media_path(), size=5 * MIB + 1))
        self.assertEqual(r.status, 502)
        self.assertEqual(r.headers.get("content-type"), "application/json")
        self.assertIn(b"too_large", r.body)

    def test_a_body_growing_past_5_mib_is_cut(self):
        r = self.get(self.one(media_path(), size=5 * MIB + 1, chunked=True))
        self.assertEqual(r.status, 200)  # the answer began before the body grew too big
        self.assertFalse(r.complete)
        self.assertLessEqual(len(r.body), 5 * MIB)
        self.assertTrue(wait_until(lambda: self.metric("too_large") == 1, 5))

    def test_memory_stays_bounded_while_8_clients_stream_3_mib_each(self):
        if SANITIZED:
            self.skipTest("the sanitizer's allocator makes RSS meaningless")
        data_len = 3 * MIB
        target = self.one(media_path(), size=data_len)
        self.assertEqual(len(self.get(target).body), data_len)  # warm: pools, TLS-free curl

        def rss_kib():
            with open("/proc/%d/status" % self.server.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])

        base = rss_kib()
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                # Slow readers: every fetch is in flight at once, Twilio's side paused.
                results = list(pool.map(
                    lambda _: self.get(target, slow=0.01, chunk=32768), range(8)))
        finally:
            done.set()
            sampler.join()
        for r in results:
            self.assertEqual((r.status, len(r.body), r.complete), (200, data_len, True))
        grown_mib = (peak[0] - base) / 1024.0
        sys.stderr.write("[media RSS: base %d KiB, peak %d KiB, grown %.2f MiB] " %
                         (base, peak[0], grown_mib))
        # Buffering whole files would be 24 MiB; each fetch holds at most 64 KiB.
        self.assertLess(grown_mib, 8, "RSS grew by %.1f MiB" % grown_mib)


class TestRefused(MediaTest):
    def test_a_tampered_link_is_403(self):
        target = self.one(media_path(), body=b"secret picture")
        head, sig = target.rsplit("/", 1)
        flipped = head + "/" + ("0" if sig[0] != "0" else "1") + sig[1:]
        r = self.get(flipped)
        self.assertEqual(r.status, 403)
        self.assertIn(b"forbidden", r.body)
        parts = target.split("/")
        for i, value in [(5, "1"), (6, str(int(parts[6]) + 1)), (4, new_sid("")[:32])]:
            changed = list(parts)
            changed[i] = value
            self.assertEqual(self.get("/".join(changed)).status, 403, value)
        for bad in ["x", "-1", "01", "99"]:
            changed = list(parts)
            changed[5] = bad
            self.assertEqual(self.get("/".join(changed)).status, 403, bad)
        self.assertEqual(self.get(target).status, 200)
        self.assertEqual(self.metric("refused"), 8)

    def test_an_expired_link_is_403_and_the_derivation_is_the_documented_one(self):
        m_path = media_path()
        self.twilio.add_media(m_path, body=b"old")
        m = self.mms([self.twilio.url + m_path])
        now = int(time.time())
        fresh = make_link(self.user["id"], m["id"], 0, now + 100)
        self.assertEqual(self.get(fresh).body, b"old")  # our own HMAC: the documented key
        self.assertEqual(self.get(make_link(self.user["id"], m["id"], 0, now - 1)).status, 403)
        other = make_link(self.user["id"], m["id"], 0, now + 100, token="another-token")
        self.assertEqual(self.get(other).status, 403)
        self.assertTrue(any(e.get("event") == "media.refused" and e.get("reason") == "expired"
                            for e in self.server.log_events()))

    def test_an_index_beyond_the_messages_media_or_an_unknown_message_is_404(self):
        m_path = media_path()
        self.twilio.add_media(m_path, body=b"one")
        m = self.mms([self.twilio.url + m_path])
        later = int(time.time()) + 100
        r = self.get(make_link(self.user["id"], m["id"], 1, later))
        self.assertEqual(r.status, 404)
        self.assertEqual(self.get(make_link(self.user["id"], "0" * 32, 0, later)).status, 404)
        # Another user's id with this message: not theirs.
        other = self.server.add_user("Other", [new_phone()])
        self.assertEqual(self.get(make_link(other["id"], m["id"], 0, later)).status, 404)

    def test_twilio_404_is_404_and_twilio_401_is_502(self):
        # Nothing registered at the path: the stand-in answers Twilio's 404.
        m = self.mms([self.twilio.url + media_path()])
        r = self.get(self.target(m["media"][0]["fetch_url"]))
        self.assertEqual(r.status, 404)
        self.assertIn(b"not_found", r.body)
        wrong = self.make_server(env={
            "SMSROUTER_AGENT_URL": self.agent.url + "/agent",
            "SMSROUTER_AGENT_SECRET": AGENT_SECRET, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_API_BASE": self.twilio.url}, auth_token="not-the-accounts-token")
        phone = new_phone()
        wrong.add_user("Wrong", [phone])
        path = media_path()
        self.twilio.add_media(path, body=b"x")
        extra = {"NumMedia": "1", "MediaUrl0": self.twilio.url + path,
                 "MediaContentType0": "image/jpeg"}
        wrong.say(phone, "x", extra=extra)
        url = self.agent.requests()[-1]["body"]["message"]["media"][0]["fetch_url"]
        r = fetch(wrong.port, urllib.parse.urlsplit(url).path)
        self.assertEqual(r.status, 502)
        self.assertIn(b"upstream_error", r.body)

    def test_twilio_closing_or_down_is_502(self):
        r = self.get(self.one(media_path(), body=b"x", mode="close"))
        self.assertEqual(r.status, 502)
        cut = self.get(self.one(media_path(), size=300 * 1000, mode="cut"))
        self.assertEqual(cut.status, 200)
        self.assertFalse(cut.complete)
        target = self.one(media_path(), body=b"x")
        self.twilio.close()
        t0 = time.monotonic()
        r = self.get(target)
        self.assertEqual(r.status, 502)
        self.assertIn(b"upstream_unreachable", r.body)
        self.assertLess(time.monotonic() - t0, 10)

    def test_never_an_open_proxy(self):
        # Stored URLs that are not Twilio's media of this account on TWILIO_API_BASE get a
        # fetch_url too, and it is refused with 403 without any request going out.
        other_account = "AC" + "f" * 32
        self.twilio.add_media(media_path(account=other_account, message="MM1", media="ME1"),
                              body=b"theirs")
        base = self.twilio.url
        host_alias = base.replace("127.0.0.1", "localhost")
        evil = [
            "http://127.0.0.1:1/evil",
            base + media_path(account=other_account, message="MM1", media="ME1"),
            base + "/2010-04-01/Accounts/%s/Messages.json" % ACCOUNT_SID,
            base + media_path() + "?x=1",
            base + media_path() + "/../../../../../_media_log",
            base.replace("http://", "http://user:pw@") + media_path(),
            host_alias + media_path(),
            base.replace("http://", "https://") + media_path(),
            base + "/2010-04-01/Accounts/%s/Messages/MM%%2f/Media/ME1" % ACCOUNT_SID,
        ]
        before = len(self.twilio.media_log())
        for u in evil:
            m = self.mms([u])
            r = self.get(self.target(m["media"][0]["fetch_url"]))
            self.assertEqual(r.status, 403, u)
            self.assertIn(b"not_twilio_media", r.body, u)
        self.assertEqual(len(self.twilio.media_log()), before)


class TestShortTtl(MediaTest):
    extra_env = {"SMSROUTER_MEDIA_URL_TTL": "60"}

    def test_the_link_lives_the_configured_ttl(self):
        t0 = int(time.time())
        target = self.one(media_path(), body=b"brief")
        expires = int(target.split("/")[6])
        self.assertTrue(t0 + 60 <= expires <= int(time.time()) + 60)
        self.assertEqual(self.get(target).body, b"brief")


class TestWithoutAccountSid(ServerTest):
    start_server = False

    def test_no_fetch_url_without_an_account_sid_and_a_bad_ttl_is_refused(self):
        agent = AgentCore()
        self.addCleanup(agent.close)
        env = {"SMSROUTER_AGENT_URL": agent.url + "/agent",
               "SMSROUTER_AGENT_SECRET": AGENT_SECRET}
        server = self.make_server(env=env)
        phone = new_phone()
        server.add_user("NoSid", [phone])
        extra = {"NumMedia": "1", "MediaUrl0": "https://api.twilio.com" + media_path(),
                 "MediaContentType0": "image/jpeg"}
        server.say(phone, "x", extra=extra)
        entry = agent.requests()[-1]["body"]["message"]["media"][0]
        self.assertNotIn("fetch_url", entry)
        bad = self.make_server(start=False, env=dict(env, SMSROUTER_MEDIA_URL_TTL="59"))
        with self.assertRaises(Exception):
            bad.start()
        self.assertTrue(any("SMSROUTER_MEDIA_URL_TTL" in l for l in bad.lines))


class TestStopping(MediaTest):
    def test_stopping_cuts_streams_and_answers_waiting_fetches(self):
        # One fetch streaming slowly (its connection waits for Twilio's bytes), one
        # waiting for Twilio's headers: SIGTERM ends both and the server exits cleanly.
        slow = self.one(media_path(), size=2 * MIB, mode="slow")
        late = self.one(media_path(), body=b"late", mode="late")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(self.get, slow)
            b = pool.submit(self.get, late)
            time.sleep(1.0)
            t0 = time.monotonic()
            code = self.server.stop(signal.SIGTERM)
            ra, rb = a.result(timeout=30), b.result(timeout=30)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - t0, 25)
        self.assertEqual(ra.status, 200)
        self.assertFalse(ra.complete)
        self.assertLess(len(ra.body), 2 * MIB)
        self.assertIn(rb.status, (200, 503))  # answered, either way


class TestRestMode(MediaTest):
    extra_env = {"SMSROUTER_REPLY_MODE": "rest"}

    def test_the_agent_called_from_the_outbox_gets_working_links_too(self):
        path = media_path()
        data = pattern(70 * 1000)
        self.twilio.add_media(path, content_type="image/png", body=data)
        extra = {"NumMedia": "1", "MediaUrl0": self.twilio.url + path,
                 "MediaContentType0": "image/png"}
        r = self.server.sms(self.phone, "rest pic", extra=extra)
        self.assertEqual(r.status, 200)
        self.assertTrue(wait_until(lambda: self.agent.requests(), 10))
        m = self.agent.requests()[-1]["body"]["message"]
        self.assertRegex(m["id"], r"^[0-9a-f]{32}$")
        got = self.get(self.target(m["media"][0]["fetch_url"]))
        self.assertEqual((got.status, got.header("Content-Type"), got.body),
                         (200, "image/png", data))
