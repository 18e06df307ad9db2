#!/usr/bin/python3
"""smsrouter benchmark of the proactive-message API: how fast messages are accepted
(202, committed) when scheduled a day ahead. bench/README.md ("Scheduling proactive
messages") explains it.

    bench/scheduled.py                       # SQLite: 1,000 users, 100,000 messages, 3 rounds
    QUICK=1 bench/scheduled.py               # 10,000 messages, 1 round
    PG_URL=postgresql://… bench/scheduled.py # also on PostgreSQL (a role that may CREATE DATABASE)

Each round: a fresh database with the same 1,000 users (imported once, copied for SQLite; a
new database on PostgreSQL), `smsrouter serve` (release build), then MESSAGES POSTs to
/sms-router/admin/users/{id}/messages, spread round-robin over the users, each with
send_at a day ahead, from CONNS keep-alive connections (one asyncio client process). The
round's time runs from the first request to the last answer. Then the server is stopped
and `smsrouter scheduled` must list exactly MESSAGES messages.

Settings (environment): MESSAGES (100000), SCHED_USERS (1000), SCHED_CONNS (64), ROUNDS (3),
SERVER_THREADS (2: SMSROUTER_THREADS), KEYS=1 (an Idempotency-Key on every request),
PG_URL, SMSROUTER_SQLITE_SYNC (passed on), KEEP=1 (keep the work directory), SMSROUTER_BIN
(default build-release/smsrouter), CLIENT (wrk, or asyncio), and for the sender's cost
per send: SENDER (1; 0 skips it), WAITING ("1000 1000000"; QUICK "1000 100000"),
SEND_RATE (50), SEND_SECONDS (10). Only 127.0.0.1; every process started is stopped by
its PID.
"""
import asyncio
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from procs import free_port, stop_proc  # noqa: E402 (bench/procs.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ADMIN = "bench-admin-token-0123456789abcdef"
AUTH = "bench-auth-token-0123456789abcdef"
ACCOUNT = "AC" + "0123456789abcdef" * 2
FROM = "+15005550006"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("QUICK", "") not in ("", "0")
MESSAGES = env_int("MESSAGES", 10000 if QUICK else 100000)
USERS = env_int("SCHED_USERS", 1000)
CONNS = env_int("SCHED_CONNS", 64)
# The client: wrk with bench/schedule.lua (default), or "asyncio" (one Python process,
# about 9,000 requests/s at most on this box: the limit near 10,000/s).
CLIENT = os.environ.get("CLIENT", "wrk" if shutil.which("wrk") else "asyncio")
# The sender's cost per send with this many proactive messages due (SENDER=0: skip).
SENDER = os.environ.get("SENDER", "1") not in ("", "0")
WAITING = [int(x) for x in os.environ.get(
    "WAITING", "1000 100000" if QUICK else "1000 1000000").replace(",", " ").split()]
SEND_RATE = env_int("SEND_RATE", 50)
SEND_SECONDS = env_int("SEND_SECONDS", 5 if QUICK else 10)
VIA_API = env_int("VIA_API", 10000)
ROUNDS = env_int("ROUNDS", 1 if QUICK else 3)
SERVER_THREADS = env_int("SERVER_THREADS", 2)
KEYS = os.environ.get("KEYS", "") not in ("", "0")
PG_URL = os.environ.get("PG_URL", "")
SYNC = os.environ.get("SMSROUTER_SQLITE_SYNC", "")
KEEP = os.environ.get("KEEP", "") not in ("", "0")
BIN = os.environ.get("SMSROUTER_BIN", os.path.join(ROOT, "build-release", "smsrouter"))
OUT = os.path.join(HERE, "out")

started = []  # Popen objects of the servers this run started


def log(msg):
    print(msg, flush=True)


class Stop(Exception):
    pass


def on_signal(signum, _frame):
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Stop("signal %d" % signum)




def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def server_env(db_url, port, dead_port):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SMSROUTER_", "TWILIO_"))}
    e.update({
        "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
        "SMSROUTER_DATABASE_URL": db_url,
        "SMSROUTER_ADMIN_TOKEN": ADMIN,
        "TWILIO_AUTH_TOKEN": AUTH,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_FROM": FROM,
        # Nothing falls due during a round (a day ahead); should anything try, it finds
        # a closed port on loopback, never the real Twilio.
        "TWILIO_API_BASE": "http://127.0.0.1:%d" % dead_port,
        "SMSROUTER_PROACTIVE_LIMIT": "0",
        "SMSROUTER_QUIET_HOURS": "off",
        "SMSROUTER_THREADS": str(SERVER_THREADS),
        "SMSROUTER_LOG_LEVEL": "warn",
    })
    if SYNC:
        e["SMSROUTER_SQLITE_SYNC"] = SYNC
    return e


def run_cli(env, *args):
    r = subprocess.run([BIN] + list(args), env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("smsrouter %s failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def http(port, method, path, body=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        h = {"Authorization": "Bearer " + ADMIN}
        if body is not None:
            h["Content-Type"] = "application/json"
            body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start_server(env, port, logpath):
    logf = open(logpath, "w")
    p = subprocess.Popen([BIN, "serve"], env=env, stdout=logf, stderr=logf,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    started.append(p)
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        try:
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/ready")
            if c.getresponse().status == 200:
                c.close()
                return p
            c.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server did not start; see " + logpath)


def user_ids(port):
    ids, after = [], None
    while True:
        q = "/sms-router/admin/users?limit=500" + ("&after=" + urllib.parse.quote(after, safe="")
                                                   if after else "")
        st, body = http(port, "GET", q)
        if st != 200:
            raise RuntimeError("GET users answered %d: %r" % (st, body[:200]))
        j = json.loads(body)
        ids += [u["id"] for u in j["users"]]
        after = j["next"]
        if not after:
            return ids


def requests(ids, n, tag):
    """n ready-made request byte strings, round-robin over the users, a day ahead."""
    send_at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
               ).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for i in range(n):
        body = json.dumps({"body": "Reminder %d: your appointment is tomorrow at 3 pm." % i,
                           "send_at": send_at}).encode()
        head = ("POST /sms-router/admin/users/%s/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n" % (ids[i % len(ids)], ADMIN, len(body)))
        if KEYS:
            head += "Idempotency-Key: %s-%d\r\n" % (tag, i)
        out.append(head.encode() + b"\r\n" + body)
    return out


async def client(port, reqs, conns):
    """Sends every request once over conns keep-alive connections; returns (statuses,
    latencies in seconds, errors)."""
    nxt = [0]
    statuses = {}
    lat = []
    errors = [0]

    async def conn():
        r = w = None
        while True:
            i = nxt[0]
            if i >= len(reqs):
                break
            nxt[0] += 1
            if w is None:
                r, w = await asyncio.open_connection("127.0.0.1", port)
            t = time.perf_counter()
            try:
                w.write(reqs[i])
                head = await r.readuntil(b"\r\n\r\n")
                lines = head.split(b"\r\n")
                status = int(lines[0].split()[1])
                length = 0
                close = False
                for h in lines[1:]:
                    k, _, v = h.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        length = int(v)
                    elif k == b"connection" and v.strip().lower() == b"close":
                        close = True
                if length:
                    await r.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
                errors[0] += 1  # not retried: a POST without a key must not be sent twice
                w.close()
                r = w = None
                continue
            lat.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
            if close:
                w.close()
                r = w = None
        if w is not None:
            w.close()

    await asyncio.gather(*(conn() for _ in range(conns)))
    return statuses, lat, errors[0]


def wrk_client(work, port, ids, n, tag):
    """Sends the n messages with wrk (bench/schedule.lua), CONNS connections, 2 threads; the
    time runs from wrk's start to the last thread's last answer. Returns (statuses,
    latencies (p50, p99, max only), socket errors, seconds)."""
    path = os.path.join(work, "ids.txt")
    with open(path, "w") as f:
        f.write("\n".join(ids) + "\n")
    send_at = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
               ).strftime("%Y-%m-%dT%H:%M:%SZ")
    threads = 2
    cmd = ["wrk", "-t%d" % threads, "-c%d" % CONNS, "-d600s", "--timeout", "30s", "-s",
           os.path.join(HERE, "schedule.lua"), "http://127.0.0.1:%d" % port, "--", path, str(n),
           str(threads), send_at, ADMIN] + ([tag] if KEYS else [])
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(p)
    done = 0
    while done < threads:  # bounded: wrk's own -d600s ends the stream
        line = p.stderr.readline()
        if not line:
            break
        if line.startswith("SCHEDULE_DONE"):
            done += 1
    took = time.perf_counter() - t0
    if p.poll() is None:
        os.kill(p.pid, signal.SIGINT)  # wrk prints its summary and done() on SIGINT
    out, err = p.communicate(timeout=60)
    started.remove(p)
    j = None
    for line in out.splitlines():
        if line.startswith("SCHEDULE_JSON "):
            j = json.loads(line[len("SCHEDULE_JSON "):])
    if j is None or done < threads:
        raise RuntimeError("wrk did not finish: %s %s" % (out[-300:], err[-300:]))
    statuses = {202: j["accepted"]}
    if j["refused"]:
        statuses["other"] = j["refused"]
    lat = [j["lat_us"]["p50"] / 1e6] * 50 + [j["lat_us"]["p99"] / 1e6] * 49 + [
        j["lat_us"]["max"] / 1e6]  # so that pct() gives wrk's percentiles back
    errors = j["err_connect"] + j["err_read"] + j["err_write"] + j["err_timeout"]
    # A request schedule.lua built but that was never answered: in our runs one in 20,000
    # to 100,000, with no socket error and nothing in the server's log or database. Most
    # likely wrk 4.1 built it and then built another in its place before writing a byte
    # (it asks the script anew while nothing of a request is written). Counted apart; the
    # check allows one in 10,000.
    statuses["unanswered"] = n - j["answered"]
    return statuses, lat, errors, took


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))] if xs else 0.0


def pg_url_for(name):
    u = urllib.parse.urlsplit(PG_URL)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def psql(sql):
    subprocess.run(["psql", PG_URL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)


def one_round(work, backend, k, csv, pristine, keep_db=None):
    port, dead = free_port(), free_port()
    while dead == port:
        dead = free_port()
    pg_db = None
    if backend == "sqlite":
        db = os.path.join(work, "round%d.db" % k)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(pristine + suffix):
                shutil.copyfile(pristine + suffix, db + suffix)
        url = "sqlite:" + db
    else:
        pg_db = "bench_%s" % secrets.token_hex(6)
        psql("CREATE DATABASE %s" % pg_db)
        url = pg_url_for(pg_db)
    env = server_env(url, port, dead)
    try:
        if backend != "sqlite":
            run_cli(env, "import", csv)
        srv = start_server(env, port, os.path.join(work, "%s-round%d.log" % (backend, k)))
        ids = user_ids(port)
        if len(ids) != USERS:
            raise RuntimeError("%d users found, %d expected" % (len(ids), USERS))
        tag = "%s-%d-%s" % (backend, k, secrets.token_hex(4))
        cpu0 = cpu_seconds(srv.pid)
        c0 = os.times()
        if CLIENT == "wrk":
            statuses, lat, errors, took = wrk_client(work, port, ids, MESSAGES, tag)
        else:
            reqs = requests(ids, MESSAGES, tag)
            t0 = time.perf_counter()
            statuses, lat, errors = asyncio.run(client(port, reqs, CONNS))
            took = time.perf_counter() - t0
        c1 = os.times()
        cpu = cpu_seconds(srv.pid) - cpu0
        rss = hwm_kb(srv.pid)
        stop_proc(srv)
        # The check: every 202 is a stored message waiting to be sent, and nothing else.
        try:
            listed = len([l for l in run_cli(env, "scheduled").splitlines() if l.strip()])
        except RuntimeError as e:
            log("bench: %s" % e)
            listed = -1
        accepted = statuses.get(202, 0)
        res = {"backend": backend, "round": k, "messages": MESSAGES, "conns": CONNS,
               "seconds": took, "rate": accepted / took, "statuses": statuses,
               "errors": errors, "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000,
               "max_ms": max(lat) * 1000 if lat else 0,
               "server_cpu_us_per_msg": cpu / max(accepted, 1) * 1e6,
               "client_cpu_s": (c1.user + c1.system + c1.children_user + c1.children_system)
               - (c0.user + c0.system + c0.children_user + c0.children_system),
               "rss_mib": rss / 1024.0, "scheduled_listed": listed,
               "check": listed == accepted and errors == 0 and (
                   accepted == MESSAGES or CLIENT == "wrk" and accepted + statuses.get(
                       "unanswered", 0) == MESSAGES and not statuses.get("other")
                   and statuses.get("unanswered", 0) <= max(1, MESSAGES // 10000))}
        log("  %-8s round %d: %6d messages in %6.2f s = %7.0f /s, p50 %.1f ms, p99 %.1f ms, "
            "server CPU %.0f us/msg, client CPU %.1f s, RSS %.0f MiB, statuses %s, listed %d%s"
            % (backend, k, MESSAGES, took, res["rate"], res["p50_ms"], res["p99_ms"],
               res["server_cpu_us_per_msg"], res["client_cpu_s"], res["rss_mib"],
               json.dumps(statuses), listed, "" if res["check"] else "  CHECK FAILED"))
        if keep_db is not None:
            keep_db.append(db)
        return res
    finally:
        for p in started:
            stop_proc(p)
        if pg_db:
            try:
                psql("DROP DATABASE IF EXISTS %s" % pg_db)
            except subprocess.CalledProcessError:
                log("bench: could not drop database %s" % pg_db)


def make_due(path, total):
    """total proactive messages due now in the database at path: the ones the API accepted
    (a day ahead), plus copies of them by SQL up to total (each with a new uid), then every
    one made due a second ago. The bench's own database copy, written with sqlite3: making
    1,000,000 through the API would take ten minutes."""
    import sqlite3
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT id, outbound_id FROM outbox WHERE lane = 1 AND state = 'send'"
                          " ORDER BY id").fetchall()
        have = min(len(rows), total)
        mcols = [r[1] for r in db.execute("PRAGMA table_info(messages)") if r[1] != "id"]
        ocols = [r[1] for r in db.execute("PRAGMA table_info(outbox)") if r[1] != "id"]
        with db:
            for oid, mid in rows[total:]:  # more than wanted: the newest go
                db.execute("DELETE FROM outbox WHERE id = ?", (oid,))
                db.execute("DELETE FROM messages WHERE id = ?", (mid,))
            rows = rows[:total]
            made = 0
            while have + made < total:
                for oid, mid in rows:
                    if have + made >= total:
                        break
                    m = dict(zip(mcols, db.execute("SELECT %s FROM messages WHERE id = ?" % (
                        ",".join(mcols)), (mid,)).fetchone()))
                    m["uid"] = secrets.token_hex(16)
                    cur = db.execute("INSERT INTO messages (%s) VALUES (%s)" % (
                        ",".join(mcols), ",".join("?" * len(mcols))), [m[k] for k in mcols])
                    o = dict(zip(ocols, db.execute("SELECT %s FROM outbox WHERE id = ?" % (
                        ",".join(ocols)), (oid,)).fetchone()))
                    o["outbound_id"] = cur.lastrowid
                    db.execute("INSERT INTO outbox (%s) VALUES (%s)" % (
                        ",".join(ocols), ",".join("?" * len(ocols))), [o[k] for k in ocols])
                    made += 1
            now = int(time.time())
            db.execute("UPDATE outbox SET next_at = ? WHERE lane = 1 AND state = 'send'",
                       ((now - 1) * 1000,))
            db.execute("UPDATE messages SET send_at = ?1, not_before = ?1 WHERE id IN (SELECT "
                       "outbound_id FROM outbox WHERE lane = 1 AND state = 'send')", (now - 1,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return db.execute("SELECT count(*) FROM outbox WHERE lane = 1 AND state = 'send'"
                          " AND next_at <= ?", (now * 1000,)).fetchone()[0]
    finally:
        db.close()


def sent_count(path):
    import sqlite3
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return c.execute("SELECT count(*) FROM outbox WHERE lane = 1 AND state = 'done'"
                         ).fetchone()[0]
    finally:
        c.close()


def sender_round(work, template, waiting, stand_in):
    """The sender's CPU per send with `waiting` proactive messages due: a copy of template
    made due (make_due), the server started at SEND_RATE with the Twilio stand-in, then its
    CPU over SEND_SECONDS divided by the sends done (outbox rows that became 'done')."""
    db = os.path.join(work, "sender-%d.db" % waiting)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
        if os.path.exists(template + suffix):
            shutil.copyfile(template + suffix, db + suffix)
    due = make_due(db, waiting)
    port = free_port()
    env = server_env("sqlite:" + db, port, 1)
    env["TWILIO_API_BASE"] = stand_in
    env["SMSROUTER_SEND_RATE"] = str(SEND_RATE)
    srv = start_server(env, port, os.path.join(work, "sender-%d.log" % waiting))
    try:
        time.sleep(2)  # the sender's first turns: past the server's start
        cpu0, n0, t0 = cpu_seconds(srv.pid), sent_count(db), time.monotonic()
        time.sleep(SEND_SECONDS)
        cpu1, n1, t1 = cpu_seconds(srv.pid), sent_count(db), time.monotonic()
    finally:
        stop_proc(srv)
        started.remove(srv)
    sends = n1 - n0
    res = {"waiting": due, "sends": sends, "seconds": t1 - t0, "rate": sends / (t1 - t0),
           "cpu_us_total": (cpu1 - cpu0) * 1e6,
           "cpu_us_per_send": (cpu1 - cpu0) * 1e6 / sends if sends else None}
    log("  sender: %7d due: %d sent in %.1f s (%.0f/s, SMSROUTER_SEND_RATE=%d), server CPU "
        "%s us/send" % (due, sends, t1 - t0, res["rate"], SEND_RATE,
                        "%.0f" % res["cpu_us_per_send"] if sends else "—"))
    return res


def sender_part(work, template):
    """SMSROUTER_SEND_RATE sends a second against a Messages API stand-in (an nginx server
    block answering 201 at once, bench/run.py's nginx), with WAITING[0] and then WAITING[-1]
    due, alternating for ROUNDS rounds."""
    import run as R  # bench/run.py: its nginx, with a stand-in server block
    ngx_port, api_port = free_port(), free_port()
    block = """    server {
        listen 127.0.0.1:%d;
        location / { default_type application/json;
            return 201 '{"sid": "SM$request_id", "status": "queued"}'; }
    }
""" % api_port
    ngx = R.start_nginx(work, ngx_port, block)
    started.append(ngx)
    try:
        out = {w: [] for w in WAITING}
        for _ in range(ROUNDS):
            for w in WAITING:
                out[w].append(sender_round(work, template, w, "http://127.0.0.1:%d" % api_port))
    finally:
        stop_proc(ngx)
        R.started.remove(ngx)
    return out


def main():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    if not os.access(BIN, os.X_OK):
        sys.exit("bench: %s is missing: run `make release`" % BIN)
    backends = ["sqlite"] + (["postgresql"] if PG_URL else [])
    work = tempfile.mkdtemp(prefix="smsrouter-bench-sched.")
    log("bench/scheduled: %d users, %d messages a day ahead, %d connections, %d round(s), "
        "backends %s, server threads %d; work dir %s"
        % (USERS, MESSAGES, CONNS, ROUNDS, backends, SERVER_THREADS, work))
    results = []
    sender = {}
    ok = False
    try:
        csv = os.path.join(work, "users.csv")
        with open(csv, "w") as f:
            for j in range(USERS):
                f.write("user%05d,+1555%07d\n" % (j, (j * 7919 + 1234567) % 10 ** 7))
        pristine = os.path.join(work, "pristine.db")
        run_cli(server_env("sqlite:" + pristine, 0, 1), "import", csv)
        kept = []
        for backend in backends:
            for k in range(1, ROUNDS + 1):
                results.append(one_round(work, backend, k, csv, pristine,
                                         kept if backend == "sqlite" else None))
        ok = all(r["check"] for r in results)
        if SENDER and kept:
            # The first round's database holds MESSAGES accepted messages: the template.
            for db in kept[1:]:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        os.unlink(db + suffix)
            sender = sender_part(work, kept[0])
    except Stop as e:
        log("bench: stopped (%s)" % e)
    finally:
        for p in started:
            stop_proc(p)
        if KEEP:
            log("bench: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    summary = {}
    for backend in backends:
        rs = [r for r in results if r["backend"] == backend]
        if not rs:
            continue
        summary[backend] = {
            "rate": statistics.median(r["rate"] for r in rs),
            "seconds": statistics.median(r["seconds"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "rounds": len(rs)}
        log("scheduled %s: %d messages in %.2f s, %.0f accepted/s, p99 %.1f ms (median of %d)"
            % (backend, MESSAGES, summary[backend]["seconds"], summary[backend]["rate"],
               summary[backend]["p99_ms"], len(rs)))
    flat = None
    if sender:
        # A round without a single send has no cost per send: it counts as its whole CPU
        # time (a lower bound of the cost of the first send).
        med = {w: statistics.median([r["cpu_us_per_send"] if r["sends"] else
                                     r["cpu_us_total"] for r in rs]) for w, rs in sender.items()}
        none = {w for w, rs in sender.items() if any(not r["sends"] for r in rs)}
        lo, hi = WAITING[0], WAITING[-1]
        flat = med[hi] / med[lo] if med[lo] else None
        log("sender CPU per send: %s (median of %d); flatness %s/%s: %s%s (goal: flat, 1.0)" % (
            ", ".join("%s%.0f us with %d due" % (">= " if w in none else "", med[w], w)
                      for w in WAITING), ROUNDS, hi, lo, ">= " if hi in none else "",
            "%.2f" % flat if flat else "—"))
    if "sqlite" in summary:
        sq = summary["sqlite"]
        log("proactive acceptance: %d messages in %.1f s over %d connections (%s; goal "
            "100,000 in <= 10 s)" % (MESSAGES, sq["seconds"], CONNS, "met" if MESSAGES >= 100000
                                     and sq["seconds"] <= 10 else
                                     "MISSED" if MESSAGES >= 100000 else "not at full size"))
    os.makedirs(OUT, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(OUT, "scheduled-%s.json" % stamp)
    with open(path, "w") as f:
        json.dump({"binary": BIN, "users": USERS, "messages": MESSAGES, "conns": CONNS,
                   "keys": KEYS, "server_threads": SERVER_THREADS, "summary": summary,
                   "client": CLIENT, "sender": {str(k): v for k, v in sender.items()},
                   "sender_flatness": flat, "send_rate": SEND_RATE,
                   "rounds": results, "ok": ok}, f, indent=1)
    log("bench: wrote %s" % os.path.relpath(path, ROOT))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
