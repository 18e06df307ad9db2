#!/usr/bin/python3
"""Browser tests of the operator console: Debian's chromium, headless, driven by
chromedriver through python3-selenium, against the real binary (a temporary SQLite store,
webhooks signed with Twilio's own library, the Messages API stand-in).

    /usr/bin/python3 tests/browser/run.py --binary build/smsrouter \
        --screenshots build/console-screenshots [-k PATTERN]

One server and one browser serve the whole run (both stopped by their PIDs at the end).
Every page's network requests are read from Chrome's performance log (the DevTools
protocol's Network events) and must all be to the server's own origin; a script run
before each document records any Content-Security-Policy violation, and there must be
none. A screenshot of each page is written to --screenshots for a person to look at.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import harness  # noqa: E402
from harness import ACCOUNT_SID, TWILIO_NUMBER, Server  # noqa: E402
from dbrows import add_messages  # noqa: E402
from test_stats import undo_migration_10  # noqa: E402
from standins import TwilioApi  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (NoAlertPresentException,  # noqa: E402
                                        NoSuchElementException,
                                        StaleElementReferenceException, TimeoutException)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20  # seconds for any one thing to appear in the page
SCREENSHOTS = os.path.join(ROOT, "build", "console-screenshots")

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_BODY = "<script>alert('body')</script> and <b>bold</b>"
# Runs before any script of each document (not subject to the page's CSP): records CSP
# violations and every alert/confirm/prompt call, so that a test can see them.
PROBE = """
window.__csp = [];
window.__alerts = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
for (const f of ['alert', 'confirm', 'prompt']) {
  const orig = window[f];
  window[f] = function (m) { window.__alerts.push(f + ':' + m); return orig.apply(this, arguments); };
}
"""


def rfc3339(ts):
    return datetime.datetime.fromtimestamp(int(ts), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def q(s):
    return urllib.parse.quote(s, safe="")


class Console(unittest.TestCase):
    """The console against one server with known users and traffic."""

    server = None
    driver = None
    service = None
    twilio = None

    @classmethod
    def setUpClass(cls):
        cls.twilio = TwilioApi()
        cls.server = Server(start=False, env={
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE": cls.twilio.url,
            "TWILIO_FROM": TWILIO_NUMBER, "SMSROUTER_QUIET_HOURS": "off",
            "SMSROUTER_PROACTIVE_LIMIT": "0", "SMSROUTER_SEND_RATE": "50"})
        try:
            cls.server.start()
            cls.seed()
            cls.start_browser()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.requests = []  # every URL the browser asked for, whole run

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.driver is not None:
                try:
                    cls.driver.quit()
                except Exception:  # noqa: BLE001 - the PID check below stops it anyway
                    pass
            proc = cls.service.process if cls.service is not None else None
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
        finally:
            if cls.server is not None:
                cls.server.close()
            if cls.twilio is not None:
                cls.twilio.close()

    # ---- the data ----
    @classmethod
    def seed(cls):
        s = cls.server
        cls.ada = s.add_user("Ada Lovelace", ["+14445550123"])
        cls.bob = s.add_user("Bob Marley", [harness.new_phone()])
        cls.xss = s.add_user(XSS_NAME, [harness.new_phone()])
        cls.quiet = s.add_user("Quinn Quit", [harness.new_phone()])
        s.admin("PATCH", "/users/" + q(cls.ada["id"]), {"tags": ["vip", "beta"]})
        # Known traffic: 3 routed from Ada, 2 routed from Bob, 1 with XSS_BODY from the
        # XSS user (routed), 1 from a stranger (unrouted), 1 STOP (opted out), 1 media.
        for body in ("remember milk", "recall", "hello"):
            s.say(cls.ada["phones"][0], body)
        for body in ("hi", "remember eggs"):
            s.say(cls.bob["phones"][0], body)
        s.say(cls.xss["phones"][0], XSS_BODY)
        s.say(harness.new_phone(), "who is this")
        s.say(cls.quiet["phones"][0], "STOP")
        r = s.sms(cls.ada["phones"][0], "a photo", extra={
            "NumMedia": "1", "MediaContentType0": "image/jpeg",
            "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/%s/Messages/MM1/Media/ME1"
                         % ACCOUNT_SID})
        assert r.status == 200, r
        # Older traffic, straight into the stopped store: 5 messages of Bob's 30 hours ago
        # and 3 of Ada's 100 hours ago, each well inside its hour, counted in their hours
        # by the upgrade to the stats' schema (as test_stats.py does).
        now = int(time.time())
        cls.older = {}
        s.stop()
        for user, n, hours in ((cls.bob, 5, 30), (cls.ada, 3, 100)):
            start = (now - hours * 3600) // 3600 * 3600
            add_messages(s, user["id"], user["phones"][0], n, start + 60)
            cls.older[start] = n
        undo_migration_10(s)
        s.start()
        # A proactive message a day ahead: scheduled, for the cancel test.
        r = s.admin("POST", "/users/%s/messages" % q(cls.bob["id"]),
                    {"body": "Your appointment is tomorrow.",
                     "send_at": rfc3339(time.time() + 86400)})
        assert r.status == 202, r
        cls.scheduled = r.json()

    # ---- the browser ----
    @classmethod
    def start_browser(cls):
        o = Options()
        o.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--window-size=1280,900", "--no-first-run", "--no-default-browser-check",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-default-apps", "--disable-extensions",
                  "--lang=en-US"):
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        cls.service = Service(CHROMEDRIVER, log_path=os.devnull)
        cls.driver = webdriver.Chrome(service=cls.service, options=o)
        cls.driver.set_page_load_timeout(WAIT)
        cls.driver.set_script_timeout(WAIT)
        cls.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})

    def setUp(self):
        self.d = self.driver
        self.d.set_window_size(1280, 900)
        self.origin = self.server.origin
        self.console = self.origin + "/sms-router/console/"

    def tearDown(self):
        # Every request of this test went to the server's own origin, and the page met no
        # CSP violation and called no alert.
        urls = self.drain_requests()
        foreign = [u for u in urls if not self.own(u)]
        self.assertEqual(foreign, [], "requests to another origin")
        try:
            csp = self.d.execute_script("return window.__csp || []")
            alerts = self.d.execute_script("return window.__alerts || []")
        except Exception as e:  # noqa: BLE001 - an open alert makes this raise
            self.fail("the page cannot be read (an alert open?): %s" % e)
        self.assertEqual(csp, [], "Content-Security-Policy violations")
        self.assertEqual(alerts, [], "alert/confirm/prompt called")

    # ---- helpers ----
    def own(self, url):
        return (url.startswith(self.origin + "/") or url.startswith("data:") or
                url.startswith("blob:" + self.origin + "/"))

    def drain_requests(self):
        urls = []
        for entry in self.d.get_log("performance"):
            msg = json.loads(entry["message"])["message"]
            if msg.get("method") == "Network.requestWillBeSent":
                urls.append(msg["params"]["request"]["url"])
        type(self).requests.extend(urls)
        return urls

    def wait(self, cond, what, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(
                lambda d: cond(d))
        except TimeoutException:
            self.shot("timeout-" + self.id().rsplit(".", 1)[-1])
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))

    def ready(self, page):
        return self.wait(lambda d: d.execute_script(
            "return document.getElementById('main').dataset.ready") == page, "page " + page)

    def open(self, hash_):
        """Opens the console at hash_ (signed in with the right token) and waits for it."""
        self.d.get(self.console + "#/sign-in")
        self.d.execute_script("sessionStorage.setItem('smsrouter.adminToken', arguments[0])",
                              self.server.admin_token)
        self.d.get(self.console + hash_)
        self.d.refresh()

    def go(self, hash_, page):
        self.open(hash_)
        self.ready(page)

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def els(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def shot(self, name):
        """The whole page (the window stretched to its height, at most 4000 px)."""
        os.makedirs(SCREENSHOTS, exist_ok=True)
        size = self.d.get_window_size()
        self.d.execute_script("window.scrollTo(0, 0)")
        inner = self.d.execute_script("return [innerHeight, document.documentElement.scrollHeight]")
        if inner[1] > inner[0]:
            self.d.set_window_size(size["width"],
                                   min(4000, size["height"] + inner[1] - inner[0]))
            time.sleep(0.3)  # Chart.js redraws on resize
        self.d.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))
        self.d.set_window_size(size["width"], size["height"])

    def no_alert(self):
        try:
            a = self.d.switch_to.alert
            text = a.text
            a.dismiss()
            self.fail("an alert opened: %r" % text)
        except NoAlertPresentException:
            pass

    # ---- the tests ----
    def test_00_sign_in_wrong_then_right(self):
        self.d.get(self.console)
        self.d.execute_script("sessionStorage.clear()")
        self.d.refresh()
        self.ready("sign-in")
        self.el("#token").send_keys("not-the-token")
        self.el("#sign-in button[type=submit]").click()
        msg = self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#sign-in-status .error"),
                        "the wrong-token message")
        self.assertIn("Wrong token", msg.text)
        self.assertIsNone(self.d.execute_script(
            "return sessionStorage.getItem('smsrouter.adminToken')"))
        self.shot("01-sign-in-wrong-token")
        tok = self.el("#token")
        tok.clear()
        tok.send_keys(self.server.admin_token)
        self.el("#sign-in button[type=submit]").click()
        self.ready("overview")
        self.assertFalse(self.el("#nav").get_attribute("hidden"))
        self.assertEqual(self.d.execute_script(
            "return sessionStorage.getItem('smsrouter.adminToken')"), self.server.admin_token)
        self.assertEqual(self.d.get_cookies(), [])
        # Signing out forgets the token.
        self.el("#sign-out").click()
        self.ready("sign-in")
        self.assertIsNone(self.d.execute_script(
            "return sessionStorage.getItem('smsrouter.adminToken')"))
        self.shot("00-sign-in")

    def test_10_overview_chart_equals_stats(self):
        self.go("#/overview", "overview")
        data = self.wait(lambda d: d.execute_script(
            "const c = window.Chart && Chart.getChart(document.getElementById('chart-hourly'));"
            "return c ? {labels: c.data.labels, datasets: c.data.datasets.map("
            "x => ({label: x.label, data: x.data}))} : null;"), "the hourly chart")
        labels = data["labels"]
        self.assertEqual(len(labels), 168)  # 7 days of hours, the current one last
        since = labels[0]
        r = self.server.admin("GET", "/stats?since=%s&bucket=hour" % q(since))
        self.assertEqual(r.status, 200, r.body)
        series = r.json()["series"]
        at = {self.epoch(e["t"]): e for e in series}
        by_label = {d["label"]: d["data"] for d in data["datasets"]}
        # Every outcome the endpoint counted in the window is a series of the chart, point
        # for point; the chart leaves out those that are zero throughout.
        counted = sorted({k for e in series for k, n in e["outcomes"].items() if n})
        self.assertTrue(counted, "the stats endpoint counted no outcome")
        self.assertEqual(sorted(set(by_label) - {"outbound"}), counted)
        for k in counted:
            want = [at.get(self.epoch(l), {}).get("outcomes", {}).get(k, 0) for l in labels]
            self.assertEqual(by_label[k], want, "outcome %s" % k)
        self.assertEqual(by_label["outbound"],
                         [at.get(self.epoch(l), {}).get("outbound", 0) for l in labels])
        # The known traffic is in the chart: through the webhook 7 routed (Ada 4 with the
        # photo, Bob 2, the XSS user 1), 1 unrouted, 1 opted out, all a moment ago; and the
        # older messages in their hours.
        index = {self.epoch(l): i for i, l in enumerate(labels)}
        for start, n in self.older.items():
            self.assertEqual(by_label["routed"][index[start]], n)
        self.assertEqual(sum(by_label.get("routed", [])), 7 + sum(self.older.values()))
        self.assertEqual(sum(by_label.get("unrouted", [])), 1)
        self.assertEqual(sum(by_label.get("opted_out", [])), 1)
        # ... in the last hour or two of the axis (the page may have loaded in the next).
        self.assertEqual(sum(by_label["routed"][-2:]), 7)
        # The outbox tiles come from /metrics.
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#tile-outbox .value").text != "",
                  "the outbox tile")
        self.shot("02-overview")
        self.d.set_window_size(390, 844)
        time.sleep(0.5)  # Chart.js redraws on resize
        self.shot("07-overview-phone")

    @staticmethod
    def epoch(s):
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

    def test_20_search_by_phone_prefix(self):
        self.go("#/users", "users")
        self.assertGreaterEqual(len(self.els("#users tbody tr")), 4)
        self.shot("03-users")
        box = self.el("#search-q")
        box.send_keys("+1444555")
        self.el("#search button[type=submit]").click()
        self.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#users tbody tr")) == 1 and
                  "Ada" in d.find_element(By.CSS_SELECTOR, "#users tbody tr").text,
                  "one result, Ada")
        row = self.el("#users tbody tr")
        self.assertEqual(row.get_attribute("data-user"), self.ada["id"])
        self.assertIn("+14445550123", row.text)
        self.assertIn("vip", row.text)
        self.shot("04-users-search-phone")
        # By name, and by tag.
        self.go("#/users?q=marley", "users")
        self.assertEqual([r.get_attribute("data-user") for r in self.els("#users tbody tr")],
                         [self.bob["id"]])
        self.go("#/users?tag=vip", "users")
        self.assertEqual([r.get_attribute("data-user") for r in self.els("#users tbody tr")],
                         [self.ada["id"]])

    def test_25_pages(self):
        # 30 users with a tag of their own: 25 on the first page, 5 on the next, and back.
        made = []
        for i in range(30):
            u = self.server.add_user("Paged %02d" % i, [harness.new_phone()])
            r = self.server.admin("PATCH", "/users/" + q(u["id"]), {"tags": ["paged"]})
            self.assertEqual(r.status, 200, r.body)
            made.append(u["id"])
        # The list's order (created_at, then id) as the API gives it.
        r = self.server.admin("GET", "/users?tag=paged&limit=25").json()
        page1 = [u["id"] for u in r["users"]]
        page2 = [u["id"] for u in self.server.admin(
            "GET", "/users?tag=paged&limit=25&after=" + q(r["next"])).json()["users"]]
        self.assertEqual(sorted(page1 + page2), sorted(made))
        self.go("#/users?tag=paged", "users")
        first = [r.get_attribute("data-user") for r in self.els("#users tbody tr")]
        self.assertEqual(first, page1)
        self.assertEqual(self.els("#prev"), [])
        self.el("#next").click()
        self.wait(lambda d: [r.get_attribute("data-user") for r in
                             d.find_elements(By.CSS_SELECTOR, "#users tbody tr")] == page2,
                  "the second page")
        self.assertEqual(self.els("#next"), [])
        self.el("#prev").click()
        self.wait(lambda d: [r.get_attribute("data-user") for r in
                             d.find_elements(By.CSS_SELECTOR, "#users tbody tr")] == page1,
                  "the first page again")

    def test_30_hostile_text_is_text(self):
        self.go("#/users", "users")
        link = [a for a in self.els("#users tbody a") if a.text == XSS_NAME]
        self.assertEqual(len(link), 1, "the hostile name shown as text in the list")
        self.assertEqual(self.d.execute_script(
            "return document.querySelectorAll('#main img').length"), 0)
        link[0].click()
        self.ready("user")
        self.assertEqual(self.el("#user-name").text, XSS_NAME)
        bodies = [b.text for b in self.els("#thread .msg.in .body")]
        self.assertIn(XSS_BODY, bodies)
        # Nothing of it became markup: no img, script or b element inside the page's view.
        counts = self.d.execute_script(
            "const m = document.getElementById('main');"
            "return [m.querySelectorAll('img').length, m.querySelectorAll('script').length,"
            " m.querySelectorAll('b').length];")
        self.assertEqual(counts, [0, 0, 0])
        self.assertEqual(self.d.title, XSS_NAME + " · smsrouter console")
        time.sleep(0.5)  # an onerror would have fired by now
        self.no_alert()
        self.shot("05-user-hostile-text")

    def test_40_user_page_cancel_scheduled(self):
        mid = self.scheduled["id"]
        self.go("#/user/" + q(self.bob["id"]), "user")
        self.assertEqual(self.el("#user-name").text, "Bob Marley")
        item = self.el('#scheduled li[data-id="%s"]' % mid)
        self.assertIn("Your appointment is tomorrow.", item.text)
        self.assertIn("scheduled", item.text)
        # The thread is in time order: the messages stored 30 hours ago come first.
        bodies = [b.text for b in self.els("#thread .msg .body")]
        self.assertEqual(bodies[:5], ["history %d" % i for i in range(1, 6)])
        self.assertEqual(bodies[-1], "Your appointment is tomorrow.")
        self.shot("06-user")
        item.find_element(By.CSS_SELECTOR, "button[data-cancel]").click()
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR,
                                                '#scheduled li[data-id="%s"]' % mid),
                  "the canceled message to leave the scheduled list")
        r = self.server.admin("GET", "/users/%s/messages/%s" % (q(self.bob["id"]), q(mid)))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["status"], "canceled")
        # The thread shows it as canceled.
        self.assertEqual(self.el('#thread li[data-id="%s"]' % mid).get_attribute("data-status"),
                         "canceled")

    def test_45_user_page_send_and_edit(self):
        self.go("#/user/" + q(self.ada["id"]), "user")
        # The inbound photo is a link to Twilio (another origin), never loaded by the page.
        media = [a for a in self.els("#thread a.media")]
        self.assertEqual(len(media), 1)
        self.assertTrue(media[0].get_attribute("href").startswith("https://api.twilio.com/"))
        self.assertEqual(media[0].get_attribute("rel"), "noopener noreferrer")
        # Schedule a message from the page, two days ahead.
        self.el("#send-body").send_keys("See you Thursday.")
        when = (datetime.datetime.now() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        self.d.execute_script("arguments[0].value = arguments[1]", self.el("#send-at"), when)
        self.el("#send button[type=submit]").click()
        self.wait(lambda d: any("See you Thursday." in li.text for li in
                                d.find_elements(By.CSS_SELECTOR, "#scheduled li")),
                  "the new scheduled message")
        msgs = self.server.messages(self.ada["id"])
        sent = [m for m in msgs if m["body"] == "See you Thursday."]
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0]["status"], "scheduled")
        self.assertGreater(self.epoch(sent[0]["send_at"]), time.time() + 86400)
        # Edit the mode and tags.
        mode = self.el("#attr-mode")
        mode.find_element(By.CSS_SELECTOR, 'option[value="paused"]').click()
        tags = self.el("#attr-tags")
        tags.clear()
        tags.send_keys("vip, beta, night owl")
        self.el("#attributes button[type=submit]").click()
        self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#user-mode").text == "paused",
                  "the mode to read paused")
        u = self.server.admin("GET", "/users/" + q(self.ada["id"])).json()
        self.assertEqual(u["mode"], "paused")
        self.assertEqual(u["tags"], ["vip", "beta", "night owl"])
        # A bad value: the server's sentence is shown, nothing changes.
        tz = self.el("#attr-timezone")
        tz.clear()
        tz.send_keys("Mars/Olympus")
        self.el("#attributes button[type=submit]").click()
        err = self.wait(lambda d: d.find_element(By.CSS_SELECTOR, "#attributes .error"),
                        "the invalid timezone message")
        self.assertIn("timezone", err.text)
        self.assertIsNone(self.server.admin("GET", "/users/" + q(self.ada["id"])).json()
                          ["timezone"])
        self.d.set_window_size(390, 844)
        self.go("#/user/" + q(self.ada["id"]), "user")
        self.shot("08-user-phone")

    def test_50_export_and_erase(self):
        victim = self.server.add_user("Eve Erased", [harness.new_phone()])
        self.server.say(victim["phones"][0], "remember secret")
        self.go("#/user/" + q(victim["id"]), "user")
        self.el("#export").click()
        self.wait(lambda d: "Exported" in d.find_element(By.CSS_SELECTOR, ".actions").text,
                  "the export to finish")
        self.el("#erase summary").click()
        button = self.el("#erase button[type=submit]")
        self.assertFalse(button.is_enabled())
        self.el("#erase-confirm").send_keys("erase")
        self.assertTrue(button.is_enabled())
        self.shot("09-user-erase-confirm")
        button.click()
        self.ready("users")
        self.assertEqual(self.server.admin("GET", "/users/" + q(victim["id"])).status, 404)

    def test_60_opt_outs(self):
        self.go("#/opt-outs", "opt-outs")
        ids = [r.get_attribute("data-user") for r in self.els("#opt-outs tbody tr")]
        self.assertEqual(ids, [self.quiet["id"]])
        self.assertIn("1 opted out among", self.el("#opt-outs-status").text)
        self.assertIn("(all of them)", self.el("#opt-outs-status").text)
        self.assertFalse(self.el("#opt-outs-more").is_displayed())
        self.shot("10-opt-outs")

    def test_70_requests_seen(self):
        # The request log is not empty (the same-origin check above is not vacuous): the
        # page, Chart.js, the stats and the admin API were all fetched through it.
        self.go("#/overview", "overview")
        self.drain_requests()
        paths = {urllib.parse.urlsplit(u).path for u in type(self).requests}
        for p in ("/sms-router/console/", "/sms-router/console/chart.js",
                  "/sms-router/console/app.js", "/sms-router/admin/stats",
                  "/sms-router/admin/users", "/metrics"):
            self.assertIn(p, paths)


def main():
    global SCREENSHOTS
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--screenshots", default=SCREENSHOTS)
    ap.add_argument("-k", dest="patterns", action="append", default=[])
    args = ap.parse_args()
    SCREENSHOTS = os.path.abspath(args.screenshots)
    harness.BINARY = os.path.abspath(args.binary)
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            print("run.py: %s is missing (scripts/install-deps.sh installs chromium and "
                  "chromium-driver)" % tool, file=sys.stderr)
            return 2
    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in args.patterns]
    suite = loader.loadTestsFromTestCase(Console)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    print("screenshots in %s" % SCREENSHOTS)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
