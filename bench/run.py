#!/usr/bin/python3
"""smsrouter benchmark: smsrouter against an nginx ceiling, side by side. Run through
bench/run.sh (or `make bench`); bench/README.md explains the figures.

Settings (environment):
  QUICK=1          smoke run: 10000 users, 64 connections, 5 s rounds (about 1 min)
  USERS            user counts, default "10000 1000000"
  CONNS            connection counts, default "16 64 256"
  DURATION         seconds per measured wrk run, default 10
  WARMUP           seconds of warm-up per server start, default 3
  ROUNDS           nginx/smsrouter round pairs per configuration, default 3
  LIGHT_CONNS      connections of the light-load rounds, default 4 (0: skip)
  LIGHT_AT         run the light-load and half-load rounds in the configuration with
                   this many connections, default 64
  HALF             0: skip the half-load rounds (LIGHT_AT connections, each paced so
                   that together they offer half of smsrouter's measured rate)
  FORGED           0: skip the forged rounds (LIGHT_AT connections against a second
                   smsrouter on another port, where every signature fails: the HTTP and
                   signature path alone, every request answered 403, nothing stored)
  WRK_THREADS      wrk -t, default 2
  SERVER_THREADS   SMSROUTER_THREADS and nginx worker_processes, default 2
  SMSROUTER_SQLITE_SYNC  passed to the server (unset: the product default, group)
  PERF=1           profile the server for PERF_SECONDS (10) with perf in an extra,
                   unscored run at the largest user count and LIGHT_AT connections
  KEEP=1           keep the work directory (databases, logs, corpus)
  SMSROUTER_BIN    default build-release/smsrouter
"""
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from procs import free_port, stop_proc  # noqa: E402 (bench/procs.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
TOKEN = "bench-auth-token-0123456789abcdef"
PATH = "/sms-router/webhook/sms"
NGINX_BODY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
CLK_TCK = os.sysconf("SC_CLK_TCK")


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def env_list(name, default):
    v = os.environ.get(name, "")
    return [int(x) for x in v.replace(",", " ").split()] if v.strip() else default


QUICK = os.environ.get("QUICK", "") not in ("", "0")
USERS = env_list("USERS", [10000] if QUICK else [10000, 1000000])
CONNS = env_list("CONNS", [64] if QUICK else [16, 64, 256])
DURATION = env_int("DURATION", 5 if QUICK else 10)
WARMUP = env_int("WARMUP", 2 if QUICK else 3)
ROUNDS = env_int("ROUNDS", 3)
LIGHT_CONNS = env_int("LIGHT_CONNS", 4)
LIGHT_AT = env_int("LIGHT_AT", 64)
HALF = env_int("HALF", 1)
FORGED = env_int("FORGED", 1)
WRK_THREADS = env_int("WRK_THREADS", 2)
SERVER_THREADS = env_int("SERVER_THREADS", 2)
SYNC = os.environ.get("SMSROUTER_SQLITE_SYNC", "")
PERF = os.environ.get("PERF", "") not in ("", "0")
PERF_SECONDS = env_int("PERF_SECONDS", 10)
KEEP = os.environ.get("KEEP", "") not in ("", "0")
BIN = os.environ.get("SMSROUTER_BIN", os.path.join(ROOT, "build-release", "smsrouter"))
OUT = os.path.join(HERE, "out")

started = []  # Popen objects of every process this run started (server, nginx, wrk, perf)


def log(msg):
    print(msg, flush=True)


class Stop(Exception):
    pass


def on_signal(signum, _frame):
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)  # one stop is enough; let the clean-up finish
    raise Stop("signal %d" % signum)


# ---------------------------------------------------------------- processes

def children_of(pid):
    """PIDs whose parent is pid (nginx workers of our master)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        if int(s[s.rindex(")") + 2:].split()[1]) == pid:
            out.append(int(d))
    return out


def cleanup():
    for p in reversed(started):
        if p.poll() is None:
            kids = children_of(p.pid) if getattr(p, "is_nginx", False) else []
            stop_proc(p, wait=10)
            for k in kids:  # only if the master died without taking its workers along
                try:
                    os.kill(k, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_http(port, deadline):
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- pieces

class Corpus:
    """The pre-signed requests for one user count, grown on demand (gen_corpus --start)."""

    def __init__(self, work, users, port):
        self.users = users
        self.prefix = os.path.join(work, "corpus-%d" % users)
        self.url = "http://127.0.0.1:%d" % port
        self.total = 0
        self.seconds = 0.0

    def grow(self, n):
        n = -(-n // WRK_THREADS) * WRK_THREADS
        t = time.time()
        subprocess.run([PY, os.path.join(HERE, "gen_corpus.py"), "--users", str(self.users),
                        "--requests", str(n), "--start", str(self.total), "--out", self.prefix,
                        "--shards", str(WRK_THREADS), "--url", self.url, "--token", TOKEN],
                       check=True)
        self.seconds += time.time() - t
        self.total += n

    def per_thread(self):
        return self.total // WRK_THREADS


def wrk(url, conns, seconds, prefix, cursors="-", delay_ms=None):
    return wrk_result(wrk_start(url, conns, seconds, prefix, cursors, delay_ms))


def wrk_start(url, conns, seconds, prefix, cursors="-", delay_ms=None, threads=None):
    """Starts one wrk run (walk.lua over the corpus PREFIX); wrk_result waits for it.
    threads: wrk -t (default WRK_THREADS, at most conns); thread k walks PREFIX.k."""
    t = min(threads or WRK_THREADS, conns)
    cmd = ["wrk", "-t%d" % t, "-c%d" % conns, "-d%ds" % seconds,
           "--timeout", "30s", "-s", os.path.join(HERE, "walk.lua"), url, "--", prefix, cursors]
    env = dict(os.environ)
    env.pop("WALK_DELAY_MS", None)
    if delay_ms:
        env["WALK_DELAY_MS"] = "%.3f" % delay_ms  # paced: see walk.lua
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    started.append(p)
    return p


def wrk_result(p):
    out, err = p.communicate()
    started.remove(p)
    for line in out.splitlines():
        if line.startswith("WALK_JSON "):
            r = json.loads(line[len("WALK_JSON "):])
            r["loadavg_1m"] = loadavg()  # includes our own load (about 2 while wrk runs)
            return r
    raise RuntimeError("wrk gave no result (exit %s): %s %s" % (p.returncode, out[-500:], err[-500:]))


def start_nginx(work, port, extra=""):
    """nginx with the fixed-<Response/> server on port; extra: more server blocks (the
    configurations' stand-ins, bench/configs.py)."""
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process on;
worker_processes %(w)d;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path %(d)s/tmp/body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
    uwsgi_temp_path %(d)s/tmp/uwsgi;
    scgi_temp_path %(d)s/tmp/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / { default_type text/xml; return 200 '%(body)s'; }
    }
%(extra)s}
""" % {"w": SERVER_THREADS, "d": d, "port": port, "body": NGINX_BODY, "extra": extra})
    logf = open(os.path.join(d, "stderr.log"), "w")
    p = subprocess.Popen(["/usr/sbin/nginx", "-p", d + "/", "-e", os.path.join(d, "error.log"),
                          "-c", conf], stdout=logf, stderr=logf, start_new_session=True)
    p.is_nginx = True
    started.append(p)
    deadline = time.time() + 10
    while time.time() < deadline and p.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return p
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start; see %s/error.log" % d)


def nginx_cpu(p):
    total = 0.0
    for pid in [p.pid] + children_of(p.pid):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def server_env(db, port):
    e = dict(os.environ)
    e.update({
        "TWILIO_AUTH_TOKEN": TOKEN,
        "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
        "SMSROUTER_DATABASE_URL": "sqlite:" + db,
        "SMSROUTER_SENDER_LIMIT": "0",
        "SMSROUTER_UNKNOWN_LIMIT": "0",
        "SMSROUTER_THREADS": str(SERVER_THREADS),
        "SMSROUTER_LOG_LEVEL": "warn",
    })
    for k in ("SMSROUTER_PUBLIC_URL", "SMSROUTER_TRUST_PROXY", "TWILIO_ACCOUNT_SID",
              "SMSROUTER_AGENT_URL", "SMSROUTER_GLOBAL_LIMIT", "TWILIO_AUTH_TOKEN_PREVIOUS"):
        e.pop(k, None)
    if SYNC:
        e["SMSROUTER_SQLITE_SYNC"] = SYNC
    return e


def start_server(db, port, logpath):
    logf = open(logpath, "w")
    p = subprocess.Popen([BIN, "serve"], env=server_env(db, port), stdout=logf, stderr=logf,
                         start_new_session=True)
    started.append(p)
    # At SMSROUTER_LOG_LEVEL=warn the "serve.listening" line is not written; the port is
    # fixed (the signatures cover it), so wait until /ready answers 200 there.
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        if wait_http(port, time.time() + 0.2):
            return p
    raise RuntimeError("server did not start; see " + logpath)


def import_users(db, csv):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    t = time.monotonic()
    r = subprocess.run([BIN, "import", csv], env=server_env(db, 0), capture_output=True, text=True)
    dt = time.monotonic() - t
    if r.returncode != 0:
        raise RuntimeError("import failed: " + r.stderr.strip())
    return dt


def copy_db(src, dst):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.unlink(dst + suffix)
        if os.path.exists(src + suffix):
            shutil.copyfile(src + suffix, dst + suffix)


def remove_db(db):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)


def db_counts(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        inbound = c.execute("SELECT count(*) FROM messages WHERE direction='inbound'").fetchone()[0]
        outbound = c.execute("SELECT count(*) FROM messages WHERE direction='outbound'").fetchone()[0]
        statuses = dict(c.execute("SELECT status, count(*) FROM messages WHERE direction='inbound'"
                                  " GROUP BY status").fetchall())
        users = c.execute("SELECT count(*) FROM users").fetchone()[0]
    finally:
        c.close()
    return {"inbound": inbound, "outbound": outbound, "inbound_by_status": statuses, "users": users}


# ---------------------------------------------------------------- one configuration

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def run_config(work, users, conns, corpus, pristine, ngx, ngx_port, port, raw, light, perf):
    tag = "%d users, %d conns" % (users, conns)
    db = os.path.join(work, "db-%d-%d.db" % (users, conns))
    copy_db(pristine, db)
    srv = start_server(db, port, os.path.join(work, "server-%d-%d.log" % (users, conns)))
    url_ours = "http://127.0.0.1:%d%s" % (port, PATH)
    url_ngx = "http://127.0.0.1:%d%s" % (ngx_port, PATH)
    state = {"cursors": "-", "consumed": [0] * WRK_THREADS, "ok200": 0, "sent": 0,
             "replayed": 0, "rate": 8000.0 / WRK_THREADS}

    def ours(c, seconds, phase, rnd, delay_ms=None):
        # Enough unsent records for this run in every shard (1.5x the fastest rate seen).
        need = int(state["rate"] * seconds * 1.5) + 2000
        short = max(need - (corpus.per_thread() - k) for k in state["consumed"])
        if short > 0:
            corpus.grow(short * WRK_THREADS)
        if srv.poll() is not None:
            raise RuntimeError("the server exited (%s); see its log" % srv.returncode)
        cpu0 = cpu_seconds(srv.pid)
        r = wrk(url_ours, c, seconds, corpus.prefix, state["cursors"], delay_ms)
        cpu1 = cpu_seconds(srv.pid)
        if srv.poll() is not None:
            raise RuntimeError("the server exited during a run (%s)" % srv.returncode)
        state["cursors"] = r["cursors"]
        for t, n in enumerate(r["sent_per_thread"]):
            state["consumed"][t] += n
            state["rate"] = max(state["rate"], n / max(r["duration_s"], 0.001))
        state["ok200"] += r["requests"] - r["non2xx"]
        state["sent"] += r["sent"]
        state["replayed"] += r["replayed"]
        r.update({"server": "smsrouter", "users": users, "conns": c, "phase": phase, "round": rnd,
                  "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / r["requests"] if r["requests"] else None,
                  "cpu_s": round(cpu1 - cpu0, 3),
                  "rss_kb": status_kb(srv.pid, "VmRSS"), "hwm_kb": status_kb(srv.pid, "VmHWM")})
        raw.append(r)
        return r

    def theirs(c, seconds, phase, rnd, delay_ms=None):
        if ngx.poll() is not None:
            raise RuntimeError("nginx exited")
        cpu0 = nginx_cpu(ngx)
        r = wrk(url_ngx, c, seconds, corpus.prefix, "-", delay_ms)
        cpu1 = nginx_cpu(ngx)
        r.update({"server": "nginx", "users": users, "conns": c, "phase": phase, "round": rnd,
                  "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / r["requests"] if r["requests"] else None,
                  "cpu_s": round(cpu1 - cpu0, 3)})
        raw.append(r)
        return r

    def show(c, rnd, a, b, what=None):
        log("  [%d users, %d conns%s] round %d: nginx %7.0f rps p99 %7.2f ms | smsrouter %7.0f rps"
            " p99 %8.2f ms, non-200 %d | ratio %.3f" % (
                users, c, " " + what if what else "", rnd, a["rps"], a["lat_us"]["p99"] / 1e3,
                b["rps"], b["lat_us"]["p99"] / 1e3, b["non2xx"],
                b["rps"] / a["rps"] if a["rps"] else 0))

    log("[%s] warm-up %d s" % (tag, WARMUP))
    ours(conns, WARMUP, "warmup", 0)
    theirs(conns, 1, "warmup", 0)
    pairs = []
    for rnd in range(1, ROUNDS + 1):
        a = theirs(conns, DURATION, "main", rnd)
        b = ours(conns, DURATION, "main", rnd)
        show(conns, rnd, a, b)
        pairs.append((a, b))
    light_pairs = []
    if light and LIGHT_CONNS:
        for rnd in range(1, ROUNDS + 1):
            a = theirs(LIGHT_CONNS, DURATION, "light", rnd)
            b = ours(LIGHT_CONNS, DURATION, "light", rnd)
            show(LIGHT_CONNS, rnd, a, b, "light")
            light_pairs.append((a, b))
    # Half load: the same connections, each pacing itself so that together they offer
    # about half of smsrouter's median rate above. Both servers get the same pacing.
    half_pairs = []
    half_delay = None
    if light and HALF:
        top = med([b["rps"] for _, b in pairs])
        # Each connection's cycle is its wait plus the answer's time; at half load the
        # answer takes about the light-load p50 (or, without light rounds, nothing).
        answer_ms = med([b["lat_us"]["p50"] / 1e3 for _, b in light_pairs]) or 0.0
        half_delay = max(conns * 1000.0 / (top / 2.0) - answer_ms, 0.5)
        for rnd in range(1, ROUNDS + 1):
            a = theirs(conns, DURATION, "half", rnd, half_delay)
            b = ours(conns, DURATION, "half", rnd, half_delay)
            show(conns, rnd, a, b, "half load (%.0f %% of %.0f rps)" % (100.0 * b["rps"] / top, top))
            half_pairs.append((a, b))
    perf_file = None
    if perf:
        perf_file = profile(work, srv, ours, conns)
    hwm = status_kb(srv.pid, "VmHWM")
    stop_proc(srv, wait=20)
    rc = srv.returncode
    started.remove(srv)
    counts = db_counts(db)
    unanswered = state["sent"] - state["ok200"]
    check = {
        "users": users, "conns": conns, "db_inbound": counts["inbound"],
        "db_outbound": counts["outbound"], "inbound_by_status": counts["inbound_by_status"],
        "answered_200": state["ok200"], "sent": state["sent"], "replayed": state["replayed"],
        "in_flight_or_failed": unanswered, "server_exit": rc,
        "ok": state["ok200"] <= counts["inbound"] <= state["sent"] and state["replayed"] == 0,
    }
    log("  [%s] DB: %d inbound rows; %d answered 200 by wrk's count; %d sent (%d unanswered at"
        " wrk's stop); replays %d -> %s" % (tag, counts["inbound"], state["ok200"], state["sent"],
                                            unanswered, state["replayed"],
                                            "OK" if check["ok"] else "MISMATCH"))
    forged_pairs = []
    if light and FORGED:
        forged_pairs = forged_rounds(work, db, users, conns, corpus, theirs, raw, show, check)
    if not KEEP:
        remove_db(db)
    res = summarize(users, conns, pairs, hwm)
    lres = summarize(users, LIGHT_CONNS, light_pairs, hwm) if light_pairs else None
    if lres:
        lres["light"] = True
    hres = summarize(users, conns, half_pairs, hwm) if half_pairs else None
    if hres:
        top = res["ours_rps"]
        hres.update({"half": True, "delay_ms": half_delay,
                     "load": hres["ours_rps"] / top if top else None})
    fres = summarize(users, conns, forged_pairs, hwm) if forged_pairs else None
    if fres:
        fres["forged"] = True
    return res, [x for x in (lres, hres, fres) if x], check, perf_file


def forged_rounds(work, db, users, conns, corpus, theirs, raw, show, check):
    """The same requests to a second server on another port: the URL they were signed for
    is not the one it serves, so every signature fails. What is left is the HTTP and
    signature path alone (parse, HMAC-SHA1, a 403 answer), with no storage. The database
    must not change."""
    port = free_port()
    srv = start_server(db, port, os.path.join(work, "server-%d-%d-forged.log" % (users, conns)))
    url = "http://127.0.0.1:%d%s" % (port, PATH)
    before = db_counts(db)
    pairs = []
    try:
        wrk(url, conns, WARMUP, corpus.prefix, "-")
        for rnd in range(1, ROUNDS + 1):
            a = theirs(conns, DURATION, "forged", rnd)
            cpu0 = cpu_seconds(srv.pid)
            b = wrk(url, conns, DURATION, corpus.prefix, "-")
            cpu1 = cpu_seconds(srv.pid)
            b.update({"server": "smsrouter-forged", "users": users, "conns": conns,
                      "phase": "forged", "round": rnd,
                      "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / b["requests"] if b["requests"] else None,
                      "cpu_s": round(cpu1 - cpu0, 3)})
            raw.append(b)
            show(conns, rnd, a, b, "forged, every answer 403")
            pairs.append((a, b))
    finally:
        stop_proc(srv, wait=20)
        started.remove(srv)
    after = db_counts(db)
    answered = sum(b["requests"] for _, b in pairs)
    refused = sum(b["non2xx"] for _, b in pairs)
    check["forged_ok"] = before == after and refused == answered
    check["ok"] = check["ok"] and check["forged_ok"]
    log("  [%d users, %d conns] forged: %d answered, %d of them 403 or other non-2xx; database "
        "%s" % (users, conns, answered, refused, "unchanged" if before == after else "CHANGED"))
    return pairs


def summarize(users, conns, pairs, hwm_kb):
    ours = [b for _, b in pairs]
    theirs = [a for a, _ in pairs]
    ratio = [b["rps"] / a["rps"] for a, b in pairs if a["rps"]]
    p99r = [b["lat_us"]["p99"] / a["lat_us"]["p99"] for a, b in pairs if a["lat_us"]["p99"]]
    return {
        "users": users, "conns": conns, "rounds": len(pairs),
        "ours_rps": med([b["rps"] for b in ours]),
        "nginx_rps": med([a["rps"] for a in theirs]),
        "ratio": med(ratio),
        "ours_p50_ms": med([b["lat_us"]["p50"] / 1e3 for b in ours]),
        "ours_p90_ms": med([b["lat_us"]["p90"] / 1e3 for b in ours]),
        "ours_p99_ms": med([b["lat_us"]["p99"] / 1e3 for b in ours]),
        "nginx_p50_ms": med([a["lat_us"]["p50"] / 1e3 for a in theirs]),
        "nginx_p99_ms": med([a["lat_us"]["p99"] / 1e3 for a in theirs]),
        "p99_ratio": med(p99r),
        "ours_max_ms": med([b["lat_us"]["max"] / 1e3 for b in ours]),
        "ours_max_worst_ms": max(b["lat_us"]["max"] / 1e3 for b in ours),
        "nginx_max_ms": med([a["lat_us"]["max"] / 1e3 for a in theirs]),
        "ours_non200": sum(b["non2xx"] for b in ours),
        "ours_sock_errors": sum(b["err_connect"] + b["err_read"] + b["err_write"] + b["err_timeout"]
                                for b in ours),
        "nginx_non200": sum(a["non2xx"] for a in theirs),
        "ours_replayed": sum(b["replayed"] for b in ours),
        "rss_hwm_mib": hwm_kb / 1024.0,
        "ours_cpu_us": med([b["cpu_us_per_req"] for b in ours]),
        "nginx_cpu_us": med([a["cpu_us_per_req"] for a in theirs]),
        "per_round": [{"nginx_rps": a["rps"], "ours_rps": b["rps"],
                       "nginx_p99_ms": a["lat_us"]["p99"] / 1e3,
                       "ours_p99_ms": b["lat_us"]["p99"] / 1e3} for a, b in pairs],
    }


def profile(work, srv, ours, conns):
    """perf record on the server during one extra, unscored smsrouter run."""
    out = os.path.join(work, "perf.data")
    try:
        subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "true"],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        log("  perf does not work here; no profile")
        return None
    log("  profiling the server for %d s (extra run, not scored)" % PERF_SECONDS)
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-p",
                          str(srv.pid), "-o", out, "--", "sleep", str(PERF_SECONDS)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(p)
    ours(conns, PERF_SECONDS + 2, "perf", 0)
    p.wait()
    started.remove(p)
    os.makedirs(OUT, exist_ok=True)
    txt = os.path.join(OUT, "perf-%s.txt" % STAMP)
    with open(txt, "w") as f:
        for args in (["--no-children", "--sort", "comm"], ["--sort", "dso"],
                     ["--no-children", "--sort", "dso,sym"],
                     ["--children", "--sort", "sym"]):
            r = subprocess.run(["perf", "report", "-i", out, "--stdio", "-g", "none",
                                "--percent-limit", "0.7"] + args,
                               capture_output=True, text=True)
            f.write("### perf report %s\n%s\n" % (" ".join(args), r.stdout))
    log("  profile: " + os.path.relpath(txt, ROOT))
    return txt


# ---------------------------------------------------------------- report

def machine():
    m = {"hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            m["mem_gib"] = round(int(f.readline().split()[1]) / 1048576, 1)
    except OSError:
        pass
    for k, cmd in (("wrk", ["wrk", "--version"]), ("nginx", ["/usr/sbin/nginx", "-v"])):
        r = subprocess.run(cmd, capture_output=True, text=True)
        m[k] = (r.stdout + r.stderr).strip().splitlines()[0].split(" Copyright")[0] \
            if (r.stdout + r.stderr) else "?"
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    m["commit"] = r.stdout.strip() or "?"
    r = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"],
                       capture_output=True, text=True)
    m["src_dirty"] = bool(r.stdout.strip())
    return m


def fmt(v, spec=".0f"):
    return "—" if v is None else format(v, spec)


def label(r):
    if r.get("light"):
        return " (light)"
    if r.get("half"):
        return " (half load: %.0f %%)" % (100 * r["load"]) if r.get("load") else " (half load)"
    if r.get("forged"):
        return " (forged: all 403, no storage)"
    return ""


def table(rows):
    head = ("| users | conns | smsrouter rps | nginx rps | ratio | p50 ms | p99 ms | nginx p99 ms |"
            " p99 ratio | max ms | non-200 | RSS MiB | CPU µs/req | nginx CPU µs/req |")
    sep = "|" + "---|" * 14
    lines = [head, sep]
    for r in rows:
        lines.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |" % (
            "{:,}".format(r["users"]), r["conns"], label(r),
            fmt(r["ours_rps"]), fmt(r["nginx_rps"]), fmt(r["ratio"], ".3f"),
            fmt(r["ours_p50_ms"], ".2f"), fmt(r["ours_p99_ms"], ".2f"),
            fmt(r["nginx_p99_ms"], ".2f"), fmt(r["p99_ratio"], ".1f"), fmt(r["ours_max_ms"], ".1f"),
            r["ours_non200"], fmt(r["rss_hwm_mib"], ".1f"), fmt(r["ours_cpu_us"]),
            fmt(r["nginx_cpu_us"], ".1f")))
    return "\n".join(lines)


def targets(results, imports):
    main = {(r["users"], r["conns"]): r for r in results
            if not r.get("light") and not r.get("half") and not r.get("forged")}
    out = []

    def add(name, value, goal, ok, note=""):
        out.append({"target": name, "measured": value, "goal": goal, "met": ok, "note": note})

    big = main.get((1000000, 64))
    small = main.get((10000, 64))
    if big:
        add("throughput >= 0.5 x nginx @64 conns, 1M users", "%.3f x" % big["ratio"], ">= 0.5 x",
            big["ratio"] >= 0.5, "missed by %.0fx" % (0.5 / big["ratio"]) if big["ratio"] < 0.5 else "")
        add("p99 <= 2 x nginx p99 @64 conns, 1M users", "%.1f x (%.2f vs %.2f ms)" % (
            big["p99_ratio"], big["ours_p99_ms"], big["nginx_p99_ms"]), "<= 2 x",
            big["p99_ratio"] <= 2, "missed by %.0fx" % (big["p99_ratio"] / 2) if big["p99_ratio"] > 2 else "")
    else:
        add("throughput >= 0.5 x nginx @64 conns, 1M users", "not measured", ">= 0.5 x", None)
    for r in results:
        if r.get("half"):
            add("p99 at half load @%d conns, %s users (reported, no goal)" % (
                r["conns"], "{:,}".format(r["users"])),
                "%.2f ms at %.0f %% load (nginx %.2f ms at the same pacing)" % (
                    r["ours_p99_ms"], 100 * (r["load"] or 0), r["nginx_p99_ms"]), "-", None)
    for r in results:
        if r.get("forged"):
            add("forged requests (HTTP + signature, no storage) @%d conns, %s users (reported)" % (
                r["conns"], "{:,}".format(r["users"])), "%.3f x nginx" % r["ratio"], "-", None)
    if big and small:
        q = big["ours_rps"] / small["ours_rps"]
        add("1M-user throughput within 10% of 10k-user (@64)", "%.3f" % q, ">= 0.90", q >= 0.9)
    for u in sorted({r["users"] for r in results}):
        hwm = max(r["rss_hwm_mib"] for r in results if r["users"] == u)
        goal = 64 + 100 * u / 1048576.0
        add("RSS <= 64 MiB + 100 B/user (%s users)" % "{:,}".format(u), "%.1f MiB" % hwm,
            "<= %.1f MiB" % goal, hwm <= goal)
    if 1000000 in imports:
        t = imports[1000000]
        add("import 1M users <= 5 s", "%.1f s" % t, "<= 5 s", t <= 5,
            "missed by %.1fx" % (t / 5) if t > 5 else "")
    return out


def report(meta, results, imports, checks, tgt, perf_file, raw):
    # raw: every wrk run, for the load-average line
    def yes(v):
        return "—" if v is None else ("met" if v else "**missed**")

    head = headline(results)
    md = ["# smsrouter benchmark, %s" % meta["date"], "",
          "Command: `%s`  " % meta["command"],
          "Machine: %s, %s CPUs (%s), %s GiB, kernel %s; %s; %s  " % (
              meta["machine"]["hostname"], meta["machine"]["cpus"], meta["machine"].get("cpu", "?"),
              meta["machine"].get("mem_gib", "?"), meta["machine"]["kernel"],
              meta["machine"]["wrk"], meta["machine"]["nginx"]),
          "Code: commit %s%s; binary %s  " % (meta["machine"]["commit"],
                                              " + uncommitted changes in src/" if meta["machine"]["src_dirty"] else "",
                                              os.path.relpath(BIN, ROOT)),
          "Settings: %s  " % ", ".join("%s=%s" % kv for kv in meta["settings"].items()),
          "Load average (1 min) before the run: %.2f, after: %.2f; during the runs: %.1f to %.1f "
          "(wrk and the server alone make about 2)" % (
              meta["loadavg_before"], meta["loadavg_after"],
              min(r["loadavg_1m"] for r in raw), max(r["loadavg_1m"] for r in raw)), "",
          "**%s**" % head, "",
          "## Side by side (median of %d alternating rounds, %d s each)" % (ROUNDS, DURATION), "",
          table(results), "",
          "ratio, p99 ratio: median of the per-round ratios (smsrouter / nginx of the same round). "
          "non-200: total over the rounds. RSS: smsrouter's VmHWM (peak) in that configuration. "
          "CPU µs/req: process CPU time (user+system) during the run / answered requests. "
          "light: %d connections, closed loop. half load: the same connections as the row "
          "above it, each waiting a random time (mean %s) after each answer, so that together "
          "they offer about half of smsrouter's median rate in that row; the percentage is the "
          "rate smsrouter then answered, as a share of that median. nginx gets the same pacing "
          "(so it answers about the same rate, far below its own maximum). forged: the same "
          "requests to a second smsrouter on another port, so that every signature fails and "
          "every answer is 403: the HTTP and signature path alone, nothing stored (the "
          "database is checked unchanged)." % (
              LIGHT_CONNS, ", ".join("%.1f ms" % r["delay_ms"] for r in results if r.get("half"))
              or "-"), "",
          "## Import", ""]
    for u, t in sorted(imports.items()):
        md.append("- %s users: %.2f s (`smsrouter import`, one transaction, fresh database)" % (
            "{:,}".format(u), t))
    md += ["", "## Targets", "", "| target | measured | goal | |", "|---|---|---|---|"]
    for t in tgt:
        md.append("| %s | %s | %s | %s %s |" % (t["target"], t["measured"], t["goal"], yes(t["met"]),
                                                t["note"]))
    md += ["", "## Database check (after each configuration; the server stopped first)", "",
           "| users | conns | inbound rows | 200 answers (wrk) | requests sent | unanswered at wrk's stop | replays | |",
           "|---|---|---|---|---|---|---|---|"]
    for c in checks:
        md.append("| %s | %d | %d | %d | %d | %d | %d | %s |" % (
            "{:,}".format(c["users"]), c["conns"], c["db_inbound"], c["answered_200"], c["sent"],
            c["in_flight_or_failed"], c["replayed"], "ok" if c["ok"] else "**MISMATCH**"))
    md += ["", "ok: 200 answers <= inbound rows <= requests sent, and no request was replayed "
           "(a replay would be a dedupe hit, not a new message). Rows above the 200 answers are "
           "requests in flight when a wrk run stopped (at most one per connection per run): the "
           "server committed them after wrk stopped listening.", ""]
    md += ["## Corpus", ""]
    for u, c in sorted(meta["corpus"].items()):
        md.append("- %s users: %d distinct signed requests generated (%.1f s); every smsrouter "
                  "run walked fresh records (a fresh database per configuration)" % (
                      "{:,}".format(int(u)), c["requests"], c["seconds"]))
    if perf_file:
        md += ["", "Profile: `%s`" % os.path.relpath(perf_file, ROOT)]
    md.append("")
    return "\n".join(md), head


def headline(results):
    main = {(r["users"], r["conns"]): r for r in results
            if not r.get("light") and not r.get("half") and not r.get("forged")}
    r = main.get((1000000, 64))
    if r:
        return "throughput ratio smsrouter/nginx @64 conns, 1M users: %.2f (median of %d%s)" % (
            r["ratio"], r["rounds"], "; %.4f unrounded" % r["ratio"] if r["ratio"] < 0.1 else "")
    if main:
        k = max(main, key=lambda k: (k[1] == 64, k[0]))
        return ("throughput ratio smsrouter/nginx @%d conns, %s users: %.2f (median of %d; %.4f "
                "unrounded); 1M users not measured in this run" % (
                    k[1], "{:,}".format(k[0]), main[k]["ratio"], main[k]["rounds"], main[k]["ratio"]))
    return "no configuration measured"


# ---------------------------------------------------------------- main

STAMP = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def main():
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    if not os.access(BIN, os.X_OK):
        sys.exit("bench: %s is missing: run `make release` (or `make bench`)" % BIN)
    work = tempfile.mkdtemp(prefix="smsrouter-bench.")
    load0 = loadavg()
    if load0 > 1.0:
        log("bench: warning: load average %.2f before the start: other work shares this box"
            % load0)
    t_start = time.time()
    est = len(USERS) * (len(CONNS) * (WARMUP + 1 + 2 * ROUNDS * DURATION + 2)
                        + (2 * ROUNDS * DURATION if LIGHT_CONNS and LIGHT_AT in CONNS else 0)
                        + (2 * ROUNDS * DURATION if HALF and LIGHT_AT in CONNS else 0)
                        + (2 * ROUNDS * DURATION + WARMUP if FORGED and LIGHT_AT in CONNS else 0))
    log("bench: users %s, connections %s, %d rounds of %d s, light load %s; about %d min; work dir %s"
        % (USERS, CONNS, ROUNDS, DURATION, LIGHT_CONNS if LIGHT_CONNS and LIGHT_AT in CONNS else "off",
           round(est / 60.0 + 0.5), work))
    raw, results, checks, imports, corpora = [], [], [], {}, {}
    perf_file = None
    ok = False
    try:
        port, ngx_port = free_port(), free_port()
        while ngx_port == port:
            ngx_port = free_port()
        ngx = start_nginx(work, ngx_port)
        for ui, users in enumerate(USERS):
            csv = os.path.join(work, "users-%d.csv" % users)
            subprocess.run([PY, os.path.join(HERE, "gen_corpus.py"), "--users", str(users),
                            "--users-csv", csv], check=True)
            pristine = os.path.join(work, "pristine-%d.db" % users)
            imports[users] = import_users(pristine, csv)
            log("[%d users] import: %.2f s" % (users, imports[users]))
            corpus = Corpus(work, users, port)
            corpus.grow(100000)
            corpora[users] = corpus
            for conns in CONNS:
                light = bool(LIGHT_CONNS or HALF or FORGED) and conns == LIGHT_AT
                perf = PERF and ui == len(USERS) - 1 and conns == (LIGHT_AT if LIGHT_AT in CONNS else CONNS[-1])
                res, extra, check, pf = run_config(work, users, conns, corpus, pristine, ngx,
                                                  ngx_port, port, raw, light, perf)
                perf_file = pf or perf_file
                results.append(res)
                results.extend(extra)
                checks.append(check)
            if not KEEP:
                remove_db(pristine)
                for t in range(WRK_THREADS):
                    os.unlink("%s.%d" % (corpus.prefix, t))
        ok = True
    except Stop as e:
        log("bench: stopped (%s)" % e)
    finally:
        cleanup()
        if not KEEP:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log("bench: kept %s" % work)
    if not results:
        sys.exit(1)

    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": os.environ.get("BENCH_COMMAND", "bench/run.sh"),
        "complete": ok, "elapsed_s": round(time.time() - t_start),
        "loadavg_before": load0, "loadavg_after": loadavg(),
        "machine": machine(),
        "settings": {"users": " ".join(map(str, USERS)), "conns": " ".join(map(str, CONNS)),
                     "duration_s": DURATION, "warmup_s": WARMUP, "rounds": ROUNDS,
                     "light_conns": LIGHT_CONNS, "half": HALF, "wrk_threads": WRK_THREADS,
                     "server_threads": SERVER_THREADS,
                     "SMSROUTER_SQLITE_SYNC": SYNC or "group (default)",
                     "SMSROUTER_SENDER_LIMIT": 0, "SMSROUTER_UNKNOWN_LIMIT": 0},
        "corpus": {str(u): {"requests": c.total, "seconds": round(c.seconds, 1)}
                   for u, c in corpora.items()},
    }
    tgt = targets(results, imports)
    md, head = report(meta, results, imports, checks, tgt, perf_file, raw)
    os.makedirs(OUT, exist_ok=True)
    mdp = os.path.join(OUT, "results-%s.md" % STAMP)
    jsp = os.path.join(OUT, "results-%s.json" % STAMP)
    with open(mdp, "w") as f:
        f.write(md)
    with open(jsp, "w") as f:
        json.dump({"meta": meta, "imports": {str(k): v for k, v in imports.items()},
                   "results": results, "db_checks": checks, "targets": tgt, "headline": head,
                   "runs": raw}, f, indent=1)
    log("")
    log(table(results))
    log("")
    for t in tgt:
        log("  %-52s %-28s goal %-14s %s %s" % (t["target"], t["measured"], t["goal"],
                                             {True: "met", False: "MISSED", None: "—"}[t["met"]],
                                             t["note"]))
    log("")
    log(head)
    log("report: %s\n        %s  (%d s)" % (os.path.relpath(mdp, ROOT), os.path.relpath(jsp, ROOT),
                                         meta["elapsed_s"]))
    if not ok or not all(c["ok"] for c in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
