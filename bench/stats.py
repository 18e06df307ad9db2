#!/usr/bin/python3
"""The stats endpoint's answer time for a year of hours (docs/stats.md):

    /usr/bin/python3 bench/stats.py [--binary build/smsrouter] [--pg-url URL]

Makes a fresh store (SQLite in a temporary directory, or the empty PostgreSQL database
--pg-url names), fills its rollup (stats_hourly) with 400 days of hours, five inbound
outcomes and outbound in each (on PostgreSQL in all 8 shards: the worst case), starts
`serve` on a free loopback port, asks GET /sms-router/admin/stats for a year of hours five
times and of days three times, and prints each answer's status, size, wall time and the
server's CPU time (from /proc). Stops the server by its PID. Users do not matter: the
rollup holds none."""

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procs import free_port, stop_proc  # noqa: E402

TOKEN = "bench-admin-token-0123456789abcdef"
KEYS = [("inbound", "received"), ("inbound", "unrouted"), ("inbound", "rate_limited"),
        ("inbound", "help"), ("inbound", "opt_out"), ("outbound", "")]
DAYS = 400


def fill_sqlite(path):
    db = sqlite3.connect(path)
    now = int(time.time()) // 3600 * 3600
    db.executemany("INSERT INTO stats_hourly (hour, shard, direction, outcome, messages, "
                   "segments) VALUES (?, 0, ?, ?, 1000, 1500)",
                   [(now - h * 3600, d, o) for h in range(DAYS * 24 + 1) for d, o in KEYS])
    db.commit()
    n = db.execute("SELECT count(*) FROM stats_hourly").fetchone()[0]
    db.close()
    return n


def fill_pg(url):
    values = ", ".join("('%s', '%s')" % k for k in KEYS)
    sql = ("SET search_path = smsrouter; SET ROLE smsrouter_system; "
           "INSERT INTO stats_hourly SELECT (extract(epoch FROM now())::bigint / 3600 - h) "
           "* 3600, s, k.d, k.o, 1000, 1500 FROM generate_series(0, %d) h, "
           "generate_series(0, 7) s, (VALUES %s) k(d, o); RESET ROLE; "
           "ANALYZE stats_hourly;" % (DAYS * 24, values))
    subprocess.run(["psql", "-qtA", url, "-c", sql], check=True, capture_output=True)
    # Only smsrouter_system sees the rows (row-level security).
    out = subprocess.run(["psql", "-qtA", url, "-c", "SET search_path = smsrouter; SET ROLE "
                          "smsrouter_system; SELECT count(*) FROM stats_hourly;"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


def cpu_ms(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")


def ask(port, pid, bucket):
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 365 * 86400))
    req = urllib.request.Request(
        "http://127.0.0.1:%d/sms-router/admin/stats?since=%s&bucket=%s" % (port, since, bucket),
        headers={"Authorization": "Bearer " + TOKEN})
    c0, t0 = cpu_ms(pid), time.monotonic()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
        status = r.status
    wall = time.monotonic() - t0
    return status, len(body), wall, cpu_ms(pid) - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/smsrouter")
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (scripts/pg-cluster.sh)")
    a = ap.parse_args()
    a.binary = os.path.abspath(a.binary)
    work = tempfile.mkdtemp(prefix="smsrouter-stats-bench-")
    url = a.pg_url or "sqlite:" + os.path.join(work, "db.sqlite")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMSROUTER_", "TWILIO_"))}
    env.update({"SMSROUTER_DATABASE_URL": url, "TWILIO_AUTH_TOKEN": "bench",
                "SMSROUTER_ADMIN_TOKEN": TOKEN, "SMSROUTER_LOG_LEVEL": "warn"})
    subprocess.run([a.binary, "migrate"], env=env, cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    rows = fill_pg(a.pg_url) if a.pg_url else fill_sqlite(url[len("sqlite:"):])
    port = free_port()
    env["SMSROUTER_LISTEN"] = "127.0.0.1:%d" % port
    p = subprocess.Popen([a.binary, "serve"], env=env, cwd=work, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or p.poll() is not None:
                    raise SystemExit("serve did not start")
                time.sleep(0.1)
        print("%s, %d rollup rows" % ("PostgreSQL" if a.pg_url else "SQLite", rows))
        for bucket in ["hour"] * 5 + ["day"] * 3:
            status, size, wall, cpu = ask(port, p.pid, bucket)
            print("bucket=%-4s %d %8d B  wall %6.3f s  server CPU %4d ms"
                  % (bucket, status, size, wall, cpu))
    finally:
        stop_proc(p)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
