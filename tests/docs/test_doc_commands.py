#!/usr/bin/python3
"""Every shell command in README.md and docs/*.md, run, so that none goes stale:

    /usr/bin/python3 tests/docs/test_doc_commands.py --binary build/smsrouter

The convention (docs/development.md, "Commands in the docs"):
- ```sh blocks are run, one command a line (a trailing backslash continues it). The blocks
  of one page run in order in one `bash -e`, in a fresh directory whose `build/` is the
  build under test, as a reader would type them. Each command must exit 0; one whose
  comment is `# prints "TEXT"` must also print TEXT (stdout or stderr).
- `make run` and `build/smsrouter serve …` keep running: started in the background, waited
  for until /health answers, stopped by PID (starting one stops the one before, as the
  reader's Ctrl-C does). `make run` runs the Makefile's own `run` recipe without the
  build (checked to be `$(BUILD)/smsrouter serve --dev`). The make commands in
  MAKE_NOT_RUN are not run (the reasons are there); any other make command fails.
- Network only on loopback: SMSROUTER_LISTEN is a free 127.0.0.1 port (written in place of
  127.0.0.1:8000), TWILIO_API_BASE the Twilio stand-in (tests/standins/twilio_api.py),
  and the reader's placeholders (PLACEHOLDERS) become the stand-ins' values.
- PostgreSQL administration (docs/operations.md): the ```sql blocks run as a superuser of
  a private cluster (scripts/pg-cluster.sh, its own roles dropped first), then the service
  migrates as the role they made, then the ```sh postgres blocks run as that superuser
  (PGHOST, PGPORT, PGUSER); the restored copy must hold the data, and the service role's
  own pg_dump must fail as the page says.
- Other blocks (```text, ```json, ```python, unmarked) are not run, and a line in one that
  starts like a command (COMMAND_STARTS) fails: commands go in ```sh blocks.
- Relative links between the pages lead to a file that exists and to one of its headings.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
import standins  # noqa: E402

BINARY = os.path.join(ROOT, "build", "smsrouter")
PAGES = ["README.md"] + sorted(os.path.relpath(p, ROOT)
                               for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))

# make commands the docs show that this test does not run, and why.
MAKE_NOT_RUN = {
    "make test": "this test is part of make test: running it here would recurse",
    "make deploy-check": "a part of make test of its own, run there",
    "make bench": "a measurement of minutes (bench/README.md), not a check",
    "make fuzz": "300 s a harness; make test runs every harness for 20 s",
}
# Pages other branches write (the stats endpoint, the console, WhatsApp and media): links
# to them may lead nowhere until those branches are merged.
PAGES_TO_COME = set()
# A line that starts so, outside a ```sh block, is a command the test would not run.
COMMAND_STARTS = ("build/smsrouter ", "curl ", "make ", "$ ")
DOC_LISTEN = "127.0.0.1:8000"
PAGE_TIMEOUT = 180
READY_TIMEOUT = 10

PRINTS = re.compile(r'\s#\s*prints "((?:[^"\\]|\\.)*)"\s*$')
SERVE = re.compile(r"^build/smsrouter serve\b")


def fenced_blocks(text):
    """[(info, first line number, [lines])] of the page's fenced blocks."""
    blocks, cur = [], None
    for n, line in enumerate(text.split("\n"), 1):
        m = re.match(r"^```(.*)$", line)
        if cur is None and m:
            cur = (m.group(1).strip(), n + 1, [])
        elif cur is not None and line.startswith("```"):
            blocks.append(cur)
            cur = None
        elif cur is not None:
            cur[2].append(line)
    assert cur is None, "an unclosed ``` block from line %d" % cur[1]
    return blocks


def commands(page):
    """[(line number, command)] of the page's ```sh blocks, continuations joined."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        text = f.read()
    out = []
    for info, first, lines in fenced_blocks(text):
        if info != "sh":
            continue
        pending, start = "", None
        for i, line in enumerate(lines):
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if start is None:
                start = first + i
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            out.append((start, pending + line))
            pending, start = "", None
    return out


def makefile_run_recipe():
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
        m = re.search(r"^run:.*\n\t(.+)$", f.read(), re.M)
    return m.group(1).strip() if m else None


PRELUDE = r"""
set -e
__pids=$__DOC_DIR/pids
: > "$__pids"
__stop_servers() {
	for p in $(cat "$__pids"); do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	: > "$__pids"
}
__start_server() {
	__stop_servers
	echo "+ (background) $*" >> "$__DOC_DIR/server.log"
	"$@" >> "$__DOC_DIR/server.log" 2>&1 &
	echo $! >> "$__pids"
	local pid=$! i=0
	while ! curl -sf -o /dev/null "http://$SMSROUTER_LISTEN/health"; do
		kill -0 "$pid" 2>/dev/null || { echo "the server exited: $*" >&2; return 1; }
		i=$((i + 1)); [ $i -lt $((__READY_TIMEOUT * 10)) ] || { echo "not ready: $*" >&2; return 1; }
		sleep 0.1
	done
}
__expect() {
	local out rc=0
	out=$(eval "$1" 2>&1) || rc=$?
	printf '%s\n' "$out"
	[ $rc -eq 0 ] || { echo "exit $rc: $1" >&2; return 1; }
	case "$out" in *"$2"*) ;; *) echo "did not print \"$2\": $1" >&2; return 1 ;; esac
}
trap 'echo "failed at $__where" >&2' ERR
trap '__stop_servers' EXIT
"""


def script(page, cmds, substitutions):
    """The bash script that runs a page's commands."""
    lines = [PRELUDE]
    run_recipe = makefile_run_recipe()
    for n, cmd in cmds:
        for old, new in substitutions.items():
            cmd = cmd.replace(old, new)
        where = "%s:%d: %s" % (page, n, cmd)
        lines.append("__where=%s" % shlex.quote(where))
        lines.append("echo %s" % shlex.quote("+ " + where))
        bare = cmd.split(" #")[0].strip()
        if bare == "make run":
            # The Makefile's recipe, without its build (done before this test runs).
            lines.append("__start_server " + run_recipe.replace("$(BUILD)", "build"))
        elif bare.startswith("make "):
            if bare not in MAKE_NOT_RUN:
                raise AssertionError("%s: %s is neither run nor in MAKE_NOT_RUN" % (where, bare))
            lines.append("echo %s" % shlex.quote("  not run: " + MAKE_NOT_RUN[bare]))
        elif SERVE.match(bare):
            lines.append("__start_server " + bare)
        else:
            m = PRINTS.search(cmd)
            if m:
                want = m.group(1).replace('\\"', '"')
                lines.append("__expect %s %s" % (shlex.quote(bare), shlex.quote(want)))
            else:
                lines.append(cmd)
    return "\n".join(lines) + "\n"


def slug(heading):
    """GitHub's anchor of a heading."""
    s = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    inside = False
    out = set()
    for line in text.split("\n"):
        if line.startswith("```"):
            inside = not inside
        elif not inside and line.startswith("#"):
            out.add(slug(line.lstrip("#")))
    return out


class DocCommands(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.twilio = standins.TwilioApi()
        cls.agent = standins.AgentCore()

    @classmethod
    def tearDownClass(cls):
        cls.twilio.close()
        cls.agent.close()

    def run_page(self, page):
        cmds = commands(page)
        if not cmds:
            self.skipTest("no ```sh block")
        work = tempfile.mkdtemp(prefix="smsrouter-docs-")
        self.addCleanup(shutil.rmtree, work, True)
        os.symlink(os.path.dirname(BINARY), os.path.join(work, "build"))
        # The repository's files the pages name (deploy/alerts.yml, …), read-only in use;
        # var/ and the build directories stay the page's own.
        for name in os.listdir(ROOT):
            if not (name.startswith((".", "build", "var")) or name.endswith(".md")):
                os.symlink(os.path.join(ROOT, name), os.path.join(work, name))
        listen = "127.0.0.1:%d" % harness.free_port()
        subs = {
            DOC_LISTEN: listen,
            "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx": harness.ACCOUNT_SID,
            "your_auth_token": harness.AUTH_TOKEN,
            "https://agent.example.com/sms": self.agent.url,
            "your_agent_secret": standins.AGENT_SECRET,
        }
        text = script(page, cmds, subs)
        path = os.path.join(work, ".doc-commands.sh")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        env = harness.base_env({
            "SMSROUTER_LISTEN": listen,
            "TWILIO_API_BASE": self.twilio.url,
            "__DOC_DIR": work,
            "__READY_TIMEOUT": str(READY_TIMEOUT),
        })
        p = subprocess.Popen(["bash", path], cwd=work, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            out, _ = p.communicate(timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            out, _ = p.communicate(timeout=10)
        finally:
            self.stop_left_over(work)
        log = ""
        if os.path.exists(os.path.join(work, "server.log")):
            with open(os.path.join(work, "server.log"), encoding="utf-8",
                      errors="replace") as f:
                log = f.read()
        self.assertEqual(p.returncode, 0, "%s:\n%s\n--- server log ---\n%s"
                         % (page, out.decode("utf-8", "replace"), log[-4000:]))

    @staticmethod
    def stop_left_over(work):
        """Servers a killed script left running: stopped by the PIDs it recorded."""
        try:
            with open(os.path.join(work, "pids"), encoding="ascii") as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def test_postgresql_roles_and_backup(self):
        page = "docs/operations.md"
        with open(os.path.join(ROOT, page), encoding="utf-8") as f:
            blocks = fenced_blocks(f.read())
        sql = [b for b in blocks if b[0] == "sql"]
        shell = [b for b in blocks if b[0] == "sh postgres"]
        self.assertEqual((len(sql), len(shell)), (1, 1))
        work = tempfile.mkdtemp(prefix="smsrouter-docs-pg-")
        os.chmod(work, 0o755)  # the cluster's owner (postgres, under root) walks into it
        self.addCleanup(shutil.rmtree, work, True)
        cluster = os.path.join(work, "cluster")
        pgc = os.path.join(ROOT, "scripts", "pg-cluster.sh")
        subprocess.run([pgc, "start", cluster], check=True, stdout=subprocess.DEVNULL,
                       timeout=120)
        self.addCleanup(subprocess.run, [pgc, "stop", cluster], stdout=subprocess.DEVNULL,
                        timeout=120)
        with open(os.path.join(cluster, "port"), encoding="ascii") as f:
            port = f.read().strip()
        env = harness.base_env({"PGHOST": os.path.join(cluster, "sock"), "PGPORT": port,
                                "PGUSER": "postgres"})

        def run(args, stdin=None, ok=True, extra=None):
            p = subprocess.run(args, cwd=work, env=dict(env, **(extra or {})), input=stdin,
                               capture_output=True, text=True, timeout=120)
            if ok:
                self.assertEqual(p.returncode, 0, "%s: %s%s" % (args, p.stdout, p.stderr))
            return p

        psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres"]
        # The cluster comes with the roles the page makes: gone first, made by the page.
        run(psql + ["-c", "DROP DATABASE smsrouter", "-c", "DROP ROLE smsrouter",
                    "-c", "DROP ROLE smsrouter_system"])
        password = "docs-" + os.urandom(8).hex()
        run(psql, stdin="\n".join(sql[0][2]).replace("'…'", "'%s'" % password))
        url = "postgresql://smsrouter:%s@127.0.0.1:%s/" % (password, port)
        out = run([BINARY, "--database-url", url + "smsrouter", "migrate"]).stdout
        self.assertIn("schema at version", out)
        uid = run([BINARY, "--database-url", url + "smsrouter", "user", "add", "Ada",
                   "+15550100101"]).stdout.strip()
        # The backup, as the page gives it, by the superuser.
        run(["bash", "-e"], stdin="\n".join(shell[0][2]) + "\n")
        out = run([BINARY, "--database-url", url + "smsrouter_restored", "user", "show",
                   "+15550100101"]).stdout
        self.assertIn(uid, out)
        # The service role's own dump stops at row-level security.
        p = run(["pg_dump", "-h", "127.0.0.1", "-U", "smsrouter", "-Fc", "-d", "smsrouter",
                 "-f", "service.dump"], ok=False, extra={"PGPASSWORD": password})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("row-level security", p.stderr)

    def test_make_run_is_serve_dev(self):
        self.assertEqual(makefile_run_recipe(), "$(BUILD)/smsrouter serve --dev")

    def test_no_command_outside_sh_blocks(self):
        for page in PAGES:
            with open(os.path.join(ROOT, page), encoding="utf-8") as f:
                blocks = fenced_blocks(f.read())
            for info, first, lines in blocks:
                if info == "sh":
                    continue
                for i, line in enumerate(lines):
                    self.assertFalse(line.startswith(COMMAND_STARTS),
                                     "%s:%d: a command in a ```%s block is never run"
                                     % (page, first + i, info))

    def test_links_lead_somewhere(self):
        for page in PAGES:
            with open(os.path.join(ROOT, page), encoding="utf-8") as f:
                text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"^[a-z]+:", target):
                    continue
                file, _, anchor = target.partition("#")
                path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), file)) \
                    if file else os.path.join(ROOT, page)
                rel = os.path.relpath(path, ROOT)
                if rel in PAGES_TO_COME and not os.path.exists(path):
                    continue
                self.assertTrue(os.path.exists(path), "%s: %s leads nowhere" % (page, target))
                if anchor and path.endswith(".md"):
                    self.assertIn(anchor, anchors(path), "%s: no heading for %s"
                                  % (page, target))

    def test_every_setting_is_in_configuration_md(self):
        with open(os.path.join(ROOT, "src", "config.c"), encoding="utf-8") as f:
            names = set(re.findall(r'^\s*\{"((?:SMSROUTER|TWILIO)_[A-Z0-9_]+)"', f.read(),
                                   re.M))
        with open(os.path.join(ROOT, "docs", "configuration.md"), encoding="utf-8") as f:
            rows = set(re.findall(r"^\| `([A-Z0-9_]+)`", f.read(), re.M))
        self.assertGreater(len(names), 30)
        self.assertEqual(names - rows, set())


def add_page_tests():
    for page in PAGES:
        name = "test_commands_of_" + re.sub(r"\W", "_", page)
        setattr(DocCommands, name, lambda self, page=page: self.run_page(page))


add_page_tests()


def main():
    global BINARY
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    args, rest = ap.parse_known_args()
    BINARY = os.path.abspath(args.binary)
    harness.BINARY = BINARY
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
