"""The operator console's serving (issue 16): the page and its assets come from the
binary itself, only while the admin API is on, each answer with the console's security
headers. What the page does is tested in a real browser by tests/browser/run.py."""

from harness import ServerTest

CONSOLE = "/sms-router/console/"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "overview.js": "text/javascript; charset=utf-8",
    "users.js": "text/javascript; charset=utf-8",
    "user.js": "text/javascript; charset=utf-8",
    "optouts.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
}


class ConsoleTest(ServerTest):
    def assertSecurityHeaders(self, r):
        csp = r.header("Content-Security-Policy") or ""
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        self.assertEqual(directives.get("default-src"), ["'self'"], csp)
        self.assertEqual(directives.get("script-src"), ["'self'"], csp)
        self.assertEqual(directives.get("style-src"), ["'self'"], csp)
        self.assertEqual(directives.get("connect-src"), ["'self'"], csp)
        self.assertEqual(directives.get("frame-ancestors"), ["'none'"], csp)
        self.assertEqual(directives.get("base-uri"), ["'none'"], csp)
        self.assertNotIn("unsafe", csp)
        self.assertEqual(r.header("Referrer-Policy"), "no-referrer")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertIsNone(r.header("Set-Cookie"))

    def test_page_and_assets_with_security_headers(self):
        r = self.server.request("GET", CONSOLE)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertSecurityHeaders(r)
        self.assertIn(b'<script type="module" src="app.js">', r.body)
        self.assertNotIn(b"http://", r.body)
        self.assertNotIn(b"https://", r.body)
        for name, ctype in ASSETS.items():
            with self.subTest(asset=name):
                r = self.server.request("GET", CONSOLE + name)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Content-Type"), ctype)
                self.assertEqual(int(r.header("Content-Length")), len(r.body))
                self.assertGreater(len(r.body), 200)
                self.assertSecurityHeaders(r)
        # Chart.js is Debian's, whole (its UMD build sets window.Chart).
        r = self.server.request("GET", CONSOLE + "chart.js")
        self.assertIn(b"Chart.js v", r.body[:200])
        self.assertGreater(len(r.body), 100000)

    def test_assets_need_no_token_and_hold_no_data(self):
        user = self.server.add_user("Zed Secret", ["+15550109999"])
        for name in ["", "index.html", "app.js", "user.js"]:
            r = self.server.request("GET", CONSOLE + name)
            self.assertEqual(r.status, 200)
            self.assertNotIn(user["id"].encode(), r.body)
            self.assertNotIn(b"Zed Secret", r.body)
            self.assertNotIn(self.server.admin_token.encode(), r.body)

    def test_unknown_asset_404_and_redirect(self):
        for path in ["nope.js", "..%2Fadmin", "chart.js%00", "index.html/x", "a/b"]:
            with self.subTest(path=path):
                r = self.server.request("GET", CONSOLE + path)
                self.assertEqual(r.status, 404)
                self.assertEqual(r.json()["error"], "not_found")
        r = self.server.request("GET", CONSOLE + "nope.js")
        self.assertSecurityHeaders(r)
        r = self.server.request("GET", "/sms-router/console")
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("Location"), CONSOLE)
        self.assertSecurityHeaders(r)
        r = self.server.request("POST", CONSOLE, body=b"")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET")

    def test_console_counted_in_metrics(self):
        self.server.request("GET", CONSOLE)
        text = self.server.request("GET", "/metrics").text
        self.assertIn('smsrouter_http_requests_total{route="console",status="200"} 1', text)


class ConsoleOffTest(ServerTest):
    """Without SMSROUTER_ADMIN_TOKEN the console does not exist, like the admin API."""

    def setUp(self):
        self.server = self.make_server(admin_token=None)

    def test_404_while_admin_api_is_off(self):
        for path in ["/sms-router/console", CONSOLE, CONSOLE + "index.html",
                     CONSOLE + "chart.js", CONSOLE + "app.js"]:
            with self.subTest(path=path):
                r = self.server.request("GET", path)
                self.assertEqual(r.status, 404)
                self.assertEqual(r.json()["error"], "not_found")
                self.assertIsNone(r.header("Content-Security-Policy"))
