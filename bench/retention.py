#!/usr/bin/python3
"""smsrouter benchmark of retention and the export. bench/README.md ("Retention and
export") explains it.

    bench/retention.py            # 1,000,000 old messages, 3 rounds; export of 200,000
    QUICK=1 bench/retention.py    # 100,000 old messages, 1 round; export of 20,000

(1) Webhook latency with and without the retention sweep, side by side: a template SQLite
database (migrated, USERS users) gets OLD messages 60 days old written straight into it
with sqlite3; each round copies it twice and runs `smsrouter serve` (release build) on
each copy in turn, once with SMSROUTER_RETENTION_DAYS=0 (no sweep) and once with 30 (the
sweep starts at once and is still erasing while the round runs: it is checked in the
log), and sends REQUESTS signed webhooks (Twilio's RequestValidator), RATE per second from
CONNS threads with keep-alive connections, from the users' numbers (built-in memo agent,
TwiML replies). p50 and p99 of each round; medians over the rounds.
(2) The export's peak memory: one user with EXPORT messages written the same way; VmHWM
of the server before and after GET …/users/{id}/export (read and thrown away).

Settings (environment): OLD (1000000), USERS (100), REQUESTS (3000), RATE (200), CONNS (4),
ROUNDS (3), EXPORT (200000; several, comma-separated, each measured on its own server),
PARTS (sweep,export: either or both), SMSROUTER_BIN (build-release/smsrouter), KEEP=1. Only
127.0.0.1; every process started is stopped by its PID.
"""
import http.client
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from twilio.request_validator import RequestValidator
from procs import free_port, stop_proc  # noqa: E402 (bench/procs.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ADMIN = "bench-admin-token-0123456789abcdef"
AUTH = "bench-auth-token-0123456789abcdef"
TO = "+15005550006"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("QUICK", "") not in ("", "0")
OLD = env_int("OLD", 100000 if QUICK else 1000000)
USERS = env_int("USERS", 100)
REQUESTS = env_int("REQUESTS", 1000 if QUICK else 3000)
RATE = env_int("RATE", 200)
CONNS = env_int("CONNS", 4)
ROUNDS = env_int("ROUNDS", 1 if QUICK else 3)
EXPORT = [int(x) for x in (os.environ.get("EXPORT", "").strip() or
                             ("20000" if QUICK else "200000")).split(",")]
PARTS = (os.environ.get("PARTS", "").strip() or "sweep,export").split(",")
KEEP = os.environ.get("KEEP", "") not in ("", "0")
BIN = os.path.abspath(os.environ.get("SMSROUTER_BIN", os.path.join(ROOT, "build-release",
                                                                    "smsrouter")))
procs = []


def log(msg):
    print(msg, file=sys.stderr, flush=True)




def hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def env_for(db, port, days):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SMSROUTER_", "TWILIO_"))}
    e.update({"SMSROUTER_LISTEN": "127.0.0.1:%d" % port, "SMSROUTER_DATABASE_URL": "sqlite:" + db,
              "SMSROUTER_ADMIN_TOKEN": ADMIN, "TWILIO_AUTH_TOKEN": AUTH,
              "SMSROUTER_RETENTION_DAYS": str(days), "SMSROUTER_SENDER_LIMIT": "0",
              "SMSROUTER_LOG_LEVEL": "info"})
    return e


def start(db, days, logpath):
    port = free_port()
    with open(logpath, "ab") as lf:
        p = subprocess.Popen([BIN, "serve"], env=env_for(db, port, days), cwd=os.path.dirname(db),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=lf)
    procs.append(p)
    for _ in range(500):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return p, port
        except OSError:
            time.sleep(0.02)
    raise SystemExit("server did not start")


def template(work, n_old, export_user=False):
    """A migrated database with USERS users (and their phones) and n_old old messages."""
    db = os.path.join(work, "template.db")
    env = env_for(db, 0, 0)
    phones = ["+1555%07d" % (1000000 + i) for i in range(USERS)]
    csv = os.path.join(work, "users.csv")
    with open(csv, "w") as f:
        for i, ph in enumerate(phones):
            f.write("user%d,%s\n" % (i, ph))
    subprocess.run([BIN, "import", csv], env=env, check=True, stdout=subprocess.DEVNULL)
    con = sqlite3.connect(db)
    users = con.execute("SELECT p.user_id, p.phone FROM phones p ORDER BY p.phone").fetchall()
    t0 = int(time.time()) - 60 * 86400
    if export_user:
        rows = ((users[0][0], users[0][1], i) for i in range(n_old))
    else:
        rows = ((users[i % len(users)][0], users[i % len(users)][1], i) for i in range(n_old))
    con.executemany(
        "INSERT INTO messages (user_id, direction, from_addr, to_addr, body, status, encoding, "
        "segments, created_at, uid) VALUES (?, 'inbound', ?, '" + TO + "', 'an old message "
        "of about sixty bytes, kept too long', 'received', 'GSM-7', 1, %d + ?, "
        "lower(hex(randomblob(16))))" % t0, rows)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return db, users


def webhooks(port, users, n):
    """n signed webhooks at RATE per second from CONNS threads; their latencies (s)."""
    v = RequestValidator(AUTH)
    url = "http://127.0.0.1:%d/sms-router/webhook/sms" % port
    lat, lock = [], threading.Lock()
    per = n // CONNS
    gap = CONNS / RATE

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        nxt = time.monotonic()
        for i in range(per):
            u = users[(k * per + i) % len(users)]
            params = {"MessageSid": "SM%032x" % (k * 10 ** 9 + i + int(time.time() * 1000)),
                      "AccountSid": "AC" + "0" * 32, "From": u[1], "To": TO, "Body": "hello",
                      "NumMedia": "0"}
            body = urllib.parse.urlencode(params)
            h = {"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": v.compute_signature(url, params)}
            nxt += gap
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            t = time.monotonic()
            c.request("POST", "/sms-router/webhook/sms", body=body, headers=h)
            r = c.getresponse()
            r.read()
            e = time.monotonic() - t
            assert r.status == 200, r.status
            with lock:
                lat.append(e)
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(CONNS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sorted(lat)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def sweep_part(work):
    log("template: %d users, %d old messages" % (USERS, OLD))
    t = time.monotonic()
    db, users = template(work, OLD)
    log("  written in %.1f s" % (time.monotonic() - t))
    res = {0: [], 30: []}
    rates = []
    for rnd in range(ROUNDS):
        # Alternate which goes first, so that neither always runs on a warmer machine.
        for days in ((0, 30) if rnd % 2 == 0 else (30, 0)):
            copy = os.path.join(work, "r%d-%d.db" % (rnd, days))
            shutil.copy(db, copy)
            logpath = copy + ".log"
            p, port = start(copy, days, logpath)
            time.sleep(1)
            t = time.monotonic()
            lat = webhooks(port, users, REQUESTS)
            took = time.monotonic() - t
            text = open(logpath).read()
            swept = text.count('"retention.swept"')
            stop_proc(p, wait=60)
            left = sqlite3.connect(copy).execute(
                "SELECT count(*) FROM messages WHERE body LIKE 'an old%'").fetchone()[0]
            res[days].append((pct(lat, 0.5), pct(lat, 0.99)))
            extra = ""
            if days:
                rate = (OLD - left) / (took + 1)
                rates.append(rate)
                holds = [int(x) for x in re.findall(r'"retention\.progress"[^\n]*?"max_us": ?(\d+)',
                                                   text)]
                extra = "; erased %d (%.0f/s)%s" % (
                    OLD - left, rate, ", batch hold max %d us" % max(holds) if holds else "")
            log("round %d, %s: p50 %.2f ms, p99 %.2f ms; old messages left %d%s%s" % (
                rnd + 1, "sweep running" if days else "no sweep", pct(lat, 0.5) * 1e3,
                pct(lat, 0.99) * 1e3, left, extra,
                " (the sweep had finished: not measured while running)" if days and swept
                else ""))
            os.unlink(copy)
    for days in (0, 30):
        print("webhook %-14s p50 %.2f ms  p99 %.2f ms  (median of %d rounds, %d webhooks "
              "at %d/s; rounds' p99 %s)" % (
                  "no sweep:" if days == 0 else "sweep running:",
                  statistics.median(x[0] for x in res[days]) * 1e3,
                  statistics.median(x[1] for x in res[days]) * 1e3, ROUNDS, REQUESTS, RATE,
                  ", ".join("%.2f" % (x[1] * 1e3) for x in res[days])))
    print("sweep: %.0f messages erased per second while serving (median of %d rounds)" % (
        statistics.median(rates), ROUNDS))
    os.unlink(db)


def export_part(work, n):
    log("export: one user with %d messages" % n)
    ework = os.path.join(work, "export-%d" % n)
    os.mkdir(ework)
    db, users = template(ework, n, export_user=True)
    p, port = start(db, 0, db + ".log")
    time.sleep(0.5)
    before = hwm_kb(p.pid)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.monotonic()
    c.request("GET", "/sms-router/admin/users/%s/export" % users[0][0],
              headers={"Authorization": "Bearer " + ADMIN})
    r = c.getresponse()
    size = 0
    while True:
        b = r.read(65536)
        if not b:
            break
        size += len(b)
    took = time.monotonic() - t
    after = hwm_kb(p.pid)
    stop_proc(p, wait=60)
    print("export of %d messages: %.1f MB in %.2f s; server peak RSS (VmHWM) %.1f MiB "
          "before, %.1f MiB after (+%.1f MiB)" % (n, size / 1e6, took, before / 1024,
                                                 after / 1024, (after - before) / 1024))
    shutil.rmtree(ework, True)


def main():
    if not os.path.exists(BIN):
        raise SystemExit("no %s: make release" % BIN)
    work = tempfile.mkdtemp(prefix="smsrouter-bench-retention-")
    try:
        if "sweep" in PARTS:
            sweep_part(work)
        if "export" in PARTS:
            for n in EXPORT:
                export_part(work, n)
    finally:
        for p in procs:
            stop_proc(p, wait=60)
        if KEEP:
            log("kept %s" % work)
        else:
            shutil.rmtree(work, True)


if __name__ == "__main__":
    main()
