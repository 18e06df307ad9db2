"""serve --dev opens the door to the console: without SMSROUTER_ADMIN_TOKEN it makes a local
admin token once (var/dev-admin-token, 0600), turns the admin API on with it, and says on
stderr where the console is and where the token is; a restart keeps the token. With
SMSROUTER_ADMIN_TOKEN it uses that and writes no file; without --dev nothing changes."""

import os
import stat
import time

from harness import ServerTest, ADMIN_TOKEN


def wait_line(srv, text, timeout=5.0):
    """The first stderr line of the current run that holds text, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with srv.lines_lock:
            found = [line for line in srv.run_lines if text in line]
        if found:
            return found[0]
        time.sleep(0.05)
    return None


class DevAdminTokenTest(ServerTest):
    start_server = False

    def test_dev_makes_an_admin_token_once_and_says_where_the_console_is(self):
        srv = self.make_server(auth_token=None, admin_token=None, args=["--dev"])
        path = os.path.join(srv.tmp, "var", "dev-admin-token")
        self.assertTrue(os.path.isfile(path))
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            token = f.read().strip()
        self.assertGreaterEqual(len(token), 16)
        with open(os.path.join(srv.tmp, "var", "dev-auth-token")) as f:
            self.assertNotEqual(f.read().strip(), token)

        url = "http://127.0.0.1:%d/sms-router/console/" % srv.port
        self.assertIsNotNone(wait_line(srv, url), "\n".join(srv.run_lines))
        self.assertIsNotNone(wait_line(srv, os.path.realpath(path)),
                             "\n".join(srv.run_lines))

        r = srv.admin("GET", "/stats?bucket=day", token=token)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["bucket"], "day")
        self.assertJsonError(srv.admin("GET", "/stats", token=token + "x"), 401)
        self.assertJsonError(srv.admin("GET", "/stats", token=None), 401)

        srv.restart()
        with open(path) as f:
            self.assertEqual(f.read().strip(), token)
        self.assertEqual(srv.admin("GET", "/usage", token=token).status, 200)
        self.assertIsNotNone(wait_line(srv, "http://127.0.0.1:%d/sms-router/console/"
                                       % srv.port))

    def test_dev_with_an_admin_token_uses_it_and_writes_none(self):
        srv = self.make_server(auth_token=None, args=["--dev"])
        self.assertFalse(os.path.exists(os.path.join(srv.tmp, "var", "dev-admin-token")))
        self.assertEqual(srv.admin("GET", "/stats", token=ADMIN_TOKEN).status, 200)
        line = wait_line(srv, "/sms-router/console/")
        self.assertIsNotNone(line, "\n".join(srv.run_lines))
        self.assertIsNotNone(wait_line(srv, "SMSROUTER_ADMIN_TOKEN"))
        self.assertNotIn(ADMIN_TOKEN, "\n".join(srv.run_lines))

    def test_without_dev_there_is_no_admin_token_file_and_no_admin_api(self):
        srv = self.make_server(admin_token=None)
        self.assertFalse(os.path.exists(os.path.join(srv.tmp, "var", "dev-admin-token")))
        self.assertJsonError(srv.admin("GET", "/stats", token="x"), 404)
        self.assertIsNone(wait_line(srv, "/sms-router/console/", timeout=0.5))
