#!/usr/bin/python3
"""smsrouter benchmark of the deployed configurations (issue 17), each measured in
alternating rounds against nginx and against its own baseline in the same run:

  pg     PostgreSQL (a private cluster this script starts and removes): SQLite, one router
         on PostgreSQL, and two routers on the same PostgreSQL database
  agent  an external Agent Core (nginx answering every POST {"reply": "Noted."}) against
         the built-in memo agent
  rest   SMSROUTER_REPLY_MODE=rest (a Twilio stand-in in nginx answering the Messages API
         at once) against twiml, and rest with OUTBOX rows already waiting

    bench/run.sh --only pg|agent|rest       one configuration (make release first)
    QUICK=1 bench/run.sh --only pg          smoke run (10,000 users, 5 s rounds)

bench/README.md ("Deployed configurations") explains the figures. Reuses run.py's pieces
(corpus, wrk, nginx, /proc readings). Settings (environment) besides run.py's
(DURATION, WARMUP, ROUNDS, WRK_THREADS, SERVER_THREADS, KEEP, SMSROUTER_BIN):
  CONFIGS        which configurations, default "pg agent rest"
  CFG_CONNS      connections (one count), default 64
  PG_USERS       users of the pg configuration, default 1000000 (QUICK: 10000)
  CFG_USERS      users of agent and rest, default 10000
  OUTBOX         rows waiting before the rest-full rounds, default 100000 (QUICK: 20000)
  PREFILL_API    of those, how many are made through webhooks (the rest are SQL copies of
                 them), default 10000
  REST_SEND_RATE SMSROUTER_SEND_RATE in rest mode, default 1 (the product default)
Only 127.0.0.1; every process started is stopped by its PID; the cluster is stopped and
its directory removed at the end whatever happens.
"""
import datetime
import glob
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

import run as R  # bench/run.py: corpus, wrk, nginx, /proc readings
from procs import free_port, stop_proc

QUICK = R.QUICK
CONFIGS = os.environ.get("CONFIGS", "pg agent rest").replace(",", " ").split()
CONNS = R.env_int("CFG_CONNS", 64)
PG_USERS = R.env_int("PG_USERS", 10000 if QUICK else 1000000)
CFG_USERS = R.env_int("CFG_USERS", 10000)
OUTBOX = R.env_int("OUTBOX", 20000 if QUICK else 100000)
REST_SEND_RATE = os.environ.get("REST_SEND_RATE", "1")
PREFILL_API = R.env_int("PREFILL_API", 10000)
ROUNDS = R.ROUNDS
DURATION = R.DURATION
WARMUP = R.WARMUP
ACCOUNT = "AC" + "5e" * 16
AGENT_SECRET = "bench-agent-secret-0123456789abcdef"
AGENT_REPLY = '{"reply": "Noted."}'
# The Messages API's answer: a distinct SID per send ($request_id is 32 hex digits).
TWILIO_REPLY = '{"sid": "SM$request_id", "status": "queued"}'
log = R.log


# ---------------------------------------------------------------- PostgreSQL cluster

class Cluster:
    """A private cluster (scripts/pg-cluster.sh) in its own temporary directory."""

    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="smsrouter-bench-pg.")
        os.chmod(self.top, 0o711)  # the server runs as `postgres` when we are root
        self.dir = os.path.join(self.top, "cluster")
        self.up = False

    def start(self):
        self.up = True  # from here on, stop() must run
        subprocess.run([os.path.join(R.ROOT, "scripts", "pg-cluster.sh"), "start", self.dir],
                       check=True, stdin=subprocess.DEVNULL, timeout=120)
        self.url = subprocess.run([os.path.join(R.ROOT, "scripts", "pg-cluster.sh"), "url",
                                   self.dir], check=True, capture_output=True, text=True
                                  ).stdout.strip()
        with open(os.path.join(self.dir, "port")) as f:
            self.port = f.read().strip()

    def stop(self):
        if self.up:
            subprocess.run([os.path.join(R.ROOT, "scripts", "pg-cluster.sh"), "stop", self.dir],
                           stdin=subprocess.DEVNULL, timeout=120)
            self.up = False
        shutil.rmtree(self.top, ignore_errors=True)

    def postmaster(self):
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            return int(f.readline())

    def cpu(self):
        """utime+stime of every process of this cluster: the postmaster and its children."""
        pm = self.postmaster()
        total = 0.0
        for pid in [pm] + R.children_of(pm):
            try:
                total += R.cpu_seconds(pid)
            except OSError:
                pass
        return total

    def query(self, sql):
        """One value, as the superuser over the cluster's socket (row-level security would
        hide the rows from the smsrouter role)."""
        psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
        r = subprocess.run([psql, "-X", "-At", "-h", os.path.join(self.dir, "sock"), "-p",
                            self.port, "-U", "postgres", "-d", "smsrouter", "-c", sql],
                           check=True, capture_output=True, text=True, timeout=120)
        return r.stdout.strip()


# ---------------------------------------------------------------- servers and walks

class Walk:
    """Where one database's walk through the corpus stands: a request is never sent to the
    same database twice (a repeated MessageSid would be answered by the dedupe path)."""

    def __init__(self):
        self.cursors = [0] * R.WRK_THREADS
        self.consumed = [0] * R.WRK_THREADS
        self.ok200 = self.sent = self.replayed = 0
        self.rate = 8000.0 / R.WRK_THREADS


def server_env(db_url, port, public_url, extra):
    e = R.server_env("", port)
    e["SMSROUTER_DATABASE_URL"] = db_url
    # Every server checks signatures against the corpus's URL, so that several servers on
    # their own ports walk the same signed corpus.
    e["SMSROUTER_PUBLIC_URL"] = public_url
    e.update(extra)
    return e


def start_server(env, port, logpath):
    logf = open(logpath, "a")
    p = subprocess.Popen([R.BIN, "serve"], env=env, stdout=logf, stderr=logf,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    R.started.append(p)
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None:
        if R.wait_http(port, time.time() + 0.2):
            return p
    raise RuntimeError("server did not start; see " + logpath)


def stop_server(p):
    try:
        os.kill(p.pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    stop_proc(p, wait=30)
    if p in R.started:
        R.started.remove(p)


def sqlite_counts(path):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        one = lambda q: c.execute(q).fetchone()[0]  # noqa: E731
        return {"inbound": one("SELECT count(*) FROM messages WHERE direction='inbound'"),
                "waiting": one("SELECT count(*) FROM outbox WHERE state IN "
                               "('agent','send','sending')"),
                "done": one("SELECT count(*) FROM outbox WHERE state='done'")}
    finally:
        c.close()


class Variant:
    """One smsrouter setup in a configuration: its servers (one or two routers), its
    database, its walk. fresh: a template database copied before every round (the server
    restarted on it and warmed up), so each round starts from the same state. freeze:
    SIGSTOP the server between its rounds, so its background work (sender, agent
    workers) takes no CPU from the others' rounds."""

    def __init__(self, ctx, name, env_extra, db_url=None, sqlite_path=None, routers=1,
                 walk=None, fresh=None, freeze=False, cluster=None, share=None):
        self.ctx, self.name, self.env_extra = ctx, name, env_extra
        self.db_url = db_url or "sqlite:" + sqlite_path
        self.sqlite_path = sqlite_path
        self.routers = routers
        self.walk = walk or Walk()
        self.fresh = fresh
        self.freeze = freeze
        self.cluster = cluster
        self.share = share  # a Variant whose servers this one reuses (pg: router A)
        self.servers = []
        self.ports = []
        self.runs = []
        self.checks = []
        self.hwm_kb = 0

    def log_path(self):
        return os.path.join(self.ctx.work, "server-%s.log" % self.name)

    def start(self):
        if self.fresh:
            R.copy_db(self.fresh, self.sqlite_path)
        if self.share:
            self.servers, self.ports = list(self.share.servers), list(self.share.ports)
        while len(self.servers) < self.routers:
            port = free_port()
            p = start_server(server_env(self.db_url, port, self.ctx.public_url, self.env_extra),
                             port, self.log_path())
            self.servers.append(p)
            self.ports.append(port)
        self.before = sqlite_counts(self.sqlite_path) if self.sqlite_path else None

    def own(self):
        return self.servers[len(self.share.servers):] if self.share else self.servers

    def stop(self):
        for p in self.own():
            if p.poll() is None:
                self.hwm_kb = max(self.hwm_kb, R.status_kb(p.pid, "VmHWM"))
            stop_server(p)
        self.servers, self.ports = [], []

    def pause(self):
        if self.freeze:
            for p in self.own():
                os.kill(p.pid, signal.SIGSTOP)

    def resume(self):
        if self.freeze:
            for p in self.own():
                os.kill(p.pid, signal.SIGCONT)

    def check(self, ok200, sent):
        """After the server stopped: every 200 a committed inbound row, nothing invented."""
        if self.sqlite_path:
            after = sqlite_counts(self.sqlite_path)
            rows = after["inbound"] - self.before["inbound"]
        else:
            after = {"inbound": int(self.cluster.query(
                "SELECT count(*) FROM smsrouter.messages WHERE direction='inbound'"))}
            rows = after["inbound"] - self.ctx.pg_before
        c = {"variant": self.name, "rows": rows, "ok200": ok200, "sent": sent,
             "replayed": self.walk.replayed, "counts": after,
             "ok": ok200 <= rows <= sent and self.walk.replayed == 0}
        self.checks.append(c)
        log("  [%s] DB: %d new inbound rows; %d answered 200; %d sent -> %s%s" % (
            self.name, rows, ok200, sent, "OK" if c["ok"] else "MISMATCH",
            "; outbox waiting %d, done %d" % (after["waiting"], after["done"])
            if "waiting" in after else ""))
        return c

    def run(self, conns, seconds, phase, rnd):
        w, corpus = self.walk, self.ctx.corpus
        need = int(w.rate * seconds * 1.5) + 2000
        short = max(need - (corpus.per_thread() - k) for k in w.consumed)
        if short > 0:
            corpus.grow(short * R.WRK_THREADS)
        for p in self.servers:
            if p.poll() is not None:
                raise RuntimeError("%s: a server exited (%s); see %s" % (
                    self.name, p.returncode, self.log_path()))
        self.resume()
        cpu0 = sum(R.cpu_seconds(p.pid) for p in self.servers)
        pg0 = self.cluster.cpu() if self.cluster else 0.0
        if len(self.servers) == 1:
            ps = [R.wrk_start("http://127.0.0.1:%d%s" % (self.ports[0], R.PATH), conns, seconds,
                              corpus.prefix, ",".join(map(str, w.cursors)))]
        else:
            # Two routers: one wrk each, one thread and half the connections each; router
            # k walks shard k (ctx.shard_prefix(k).0 is the corpus's shard k).
            ps = [R.wrk_start("http://127.0.0.1:%d%s" % (port, R.PATH), conns // 2, seconds,
                              self.ctx.shard_prefix(k), str(w.cursors[k]), threads=1)
                  for k, port in enumerate(self.ports)]
        rs = [R.wrk_result(p) for p in ps]
        cpu1 = sum(R.cpu_seconds(p.pid) for p in self.servers)
        pg1 = self.cluster.cpu() if self.cluster else 0.0
        self.pause()
        for p in self.servers:
            if p.poll() is not None:
                raise RuntimeError("%s: a server exited during a run; see %s" % (
                    self.name, self.log_path()))
        r = combine(rs)
        cur = [int(x) for x in r["cursors"].split(",")]
        w.cursors = cur
        for t, n in enumerate(r["sent_per_thread"]):
            w.consumed[t] += n
            w.rate = max(w.rate, n / max(r["duration_s"], 0.001))
        w.ok200 += r["requests"] - r["non2xx"]
        w.sent += r["sent"]
        w.replayed += r["replayed"]
        n = r["requests"] or 1
        r.update({"server": self.name, "conns": conns, "phase": phase, "round": rnd,
                  "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / n,
                  "pg_cpu_us_per_req": (pg1 - pg0) * 1e6 / n if self.cluster else None,
                  "cpu_s": round(cpu1 - cpu0, 3)})
        self.ctx.raw.append(r)
        if phase != "warmup":
            self.runs.append(r)
        return r


def combine(rs):
    """One result from the wrk runs of one round (one per router)."""
    if len(rs) == 1:
        return rs[0]
    out = {"threads": sum(r["threads"] for r in rs),
           "duration_s": max(r["duration_s"] for r in rs),
           "loadavg_1m": rs[-1]["loadavg_1m"], "parts": rs}
    for k in ("requests", "rps", "bytes", "non2xx", "err_connect", "err_read", "err_write",
              "err_timeout", "sent", "replayed", "wraps"):
        out[k] = sum(r[k] for r in rs)
    # Both halves carry the same load; the slower half's percentiles stand for the whole.
    out["lat_us"] = {k: max(r["lat_us"][k] for r in rs) for k in rs[0]["lat_us"]}
    out["sent_per_thread"] = [r["sent_per_thread"][0] for r in rs]
    out["cursors"] = ",".join(r["cursors"] for r in rs)
    return out


# ---------------------------------------------------------------- one configuration

class Ctx:
    def __init__(self, work, users, ngx, ngx_port):
        self.work, self.users, self.ngx, self.ngx_port = work, users, ngx, ngx_port
        self.raw = []
        self.corpus_port = free_port()  # only in the signed URL: nothing listens there
        self.public_url = "http://127.0.0.1:%d" % self.corpus_port
        self.corpus = R.Corpus(work, users, self.corpus_port)
        self.corpus.prefix += "-%s" % os.path.basename(work)[-6:]
        self.corpus.grow(50000)
        self.pg_before = 0
        self.csv = os.path.join(work, "users-%d.csv" % users)
        subprocess.run([R.PY, os.path.join(R.HERE, "gen_corpus.py"), "--users", str(users),
                        "--users-csv", self.csv], check=True)

    def shard_prefix(self, k):
        p = "%s-s%d" % (self.corpus.prefix, k)
        if not os.path.lexists(p + ".0"):
            os.symlink("%s.%d" % (self.corpus.prefix, k), p + ".0")
        return p

    def nginx(self, conns, seconds, phase, rnd):
        if self.ngx.poll() is not None:
            raise RuntimeError("nginx exited")
        cpu0 = R.nginx_cpu(self.ngx)
        r = R.wrk("http://127.0.0.1:%d%s" % (self.ngx_port, R.PATH), conns, seconds,
                  self.corpus.prefix, "-")
        cpu1 = R.nginx_cpu(self.ngx)
        r.update({"server": "nginx", "conns": conns, "phase": phase, "round": rnd,
                  "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / r["requests"] if r["requests"] else None})
        self.raw.append(r)
        return r

    def import_sqlite(self, path):
        t = time.monotonic()
        r = subprocess.run([R.BIN, "import", self.csv],
                           env=server_env("sqlite:" + path, 0, self.public_url, {}),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("import failed: " + r.stderr.strip())
        return time.monotonic() - t


def show(name, rnd, a, r):
    log("  [%s] round %d: nginx %7.0f rps p99 %6.2f ms | %-10s %7.0f rps p99 %7.2f ms, non-200 %d,"
        " CPU %.0f us/req%s | ratio %.3f" % (
            name, rnd, a["rps"], a["lat_us"]["p99"] / 1e3, r["server"], r["rps"],
            r["lat_us"]["p99"] / 1e3, r["non2xx"], r["cpu_us_per_req"],
            " + PostgreSQL %.0f us/req" % r["pg_cpu_us_per_req"]
            if r.get("pg_cpu_us_per_req") is not None else "",
            r["rps"] / a["rps"] if a["rps"] else 0))


def rounds(ctx, name, variants):
    """Warm-up, then ROUNDS rounds of nginx, variant 1, variant 2, ... (the same order each
    round). A fresh variant is restarted on its template before each of its rounds."""
    nginx_runs = []
    for v in variants:
        if not v.fresh:
            v.start()
            v.run(CONNS, WARMUP, "warmup", 0)
            v.pause()
    ctx.nginx(CONNS, 1, "warmup", 0)
    for rnd in range(1, ROUNDS + 1):
        a = ctx.nginx(CONNS, DURATION, "main", rnd)
        nginx_runs.append(a)
        for v in variants:
            ok0, sent0 = v.walk.ok200, v.walk.sent  # the check counts the warm-up too
            if v.fresh:
                v.start()
                v.run(CONNS, WARMUP, "warmup", rnd)
            r = v.run(CONNS, DURATION, "main", rnd)
            show(name, rnd, a, r)
            if v.fresh:
                v.stop()
                v.check(v.walk.ok200 - ok0, v.walk.sent - sent0)
    return nginx_runs


def summary(name, variants, nginx_runs, base):
    """Per variant: medians, and per-round ratios against nginx and against base."""
    out = []
    for v in variants:
        s = R.summarize(0, CONNS, list(zip(nginx_runs, v.runs)), v.hwm_kb)
        b = [x for x in variants if x.name == base][0]
        s.update({"config": name, "variant": v.name, "routers": v.routers,
                  "vs": base,
                  "ratio_vs_base": R.med([r["rps"] / q["rps"] for r, q in zip(v.runs, b.runs)
                                          if q["rps"]]),
                  "p99_vs_base": R.med([r["lat_us"]["p99"] / q["lat_us"]["p99"]
                                        for r, q in zip(v.runs, b.runs) if q["lat_us"]["p99"]]),
                  "pg_cpu_us": R.med([r.get("pg_cpu_us_per_req") for r in v.runs]),
                  "checks_ok": all(c["ok"] for c in v.checks)})
        out.append(s)
    return out


def config_pg(ctx, results, extra):
    cluster = Cluster()
    try:
        cluster.start()
        t = time.monotonic()
        r = subprocess.run([R.BIN, "import", ctx.csv],
                           env=server_env(cluster.url, 0, ctx.public_url, {}),
                           capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            raise RuntimeError("import into PostgreSQL failed: " + r.stderr.strip())
        extra["pg_import_s"] = time.monotonic() - t
        log("[pg] import of %d users into PostgreSQL: %.1f s" % (ctx.users, extra["pg_import_s"]))
        lite = os.path.join(ctx.work, "pg-sqlite.db")
        extra["sqlite_import_s"] = ctx.import_sqlite(lite)
        log("[pg] import of %d users into SQLite: %.1f s" % (ctx.users, extra["sqlite_import_s"]))
        ctx.pg_before = 0
        walk = Walk()
        sq = Variant(ctx, "sqlite", {}, sqlite_path=lite)
        one = Variant(ctx, "pg-1router", {}, db_url=cluster.url, walk=walk, cluster=cluster)
        two = Variant(ctx, "pg-2routers", {}, db_url=cluster.url, walk=walk, cluster=cluster,
                      routers=2, share=one)
        variants = [sq, one, two]
        ok0, sent0 = walk.ok200, walk.sent
        try:
            nginx_runs = rounds(ctx, "pg", variants)
        finally:
            for v in (two, one, sq):
                v.stop()
        sq.check(sq.walk.ok200, sq.walk.sent)
        two.check(walk.ok200 - ok0, walk.sent - sent0)
        one.checks = two.checks
        results += summary("pg", variants, nginx_runs, "sqlite")
    finally:
        cluster.stop()


def config_agent(ctx, results, extra):
    pristine = os.path.join(ctx.work, "agent-pristine.db")
    ctx.import_sqlite(pristine)
    dbs = []
    for n in ("memo", "agent"):
        dbs.append(os.path.join(ctx.work, "agent-%s.db" % n))
        R.copy_db(pristine, dbs[-1])
    memo = Variant(ctx, "memo", {}, sqlite_path=dbs[0], freeze=True)
    agent = Variant(ctx, "agent-core", {
        "SMSROUTER_AGENT_URL": "http://127.0.0.1:%d/agent" % ctx.agent_port,
        "SMSROUTER_AGENT_SECRET": AGENT_SECRET}, sqlite_path=dbs[1], freeze=True)
    variants = [memo, agent]
    try:
        nginx_runs = rounds(ctx, "agent", variants)
    finally:
        for v in variants:
            v.stop()
    for v in variants:
        v.check(v.walk.ok200, v.walk.sent)
    results += summary("agent", variants, nginx_runs, "memo")


def rest_env(ctx):
    return {"SMSROUTER_REPLY_MODE": "rest", "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_API_BASE": "http://127.0.0.1:%d" % ctx.twilio_port,
            "SMSROUTER_SEND_RATE": REST_SEND_RATE}


def prefill(ctx, template, walk):
    """OUTBOX reply rows waiting in template, made the product's way: a rest-mode server
    accepts signed webhooks from the corpus (wrk, the same walk the rest-full rounds
    continue) while its sender sends at REST_SEND_RATE. Waiting: state agent, send or
    sending. Bounded: 600 s."""
    v = Variant(ctx, "prefill", rest_env(ctx), sqlite_path=template, walk=walk)
    v.start()
    t0 = time.time()
    try:
        while time.time() - t0 < 600:
            waiting = sqlite_counts(template)["waiting"]
            if waiting >= min(OUTBOX, PREFILL_API):
                break
            rate = max(walk.rate * R.WRK_THREADS / 2, 500)
            v.run(CONNS, int(min(max((min(OUTBOX, PREFILL_API) - waiting) / rate, 1), 10)) + 1,
                  "prefill", 0)
        # Rows in state 'agent' wait for the agent stage, which takes a user's next message
        # only once the previous reply is out; at REST_SEND_RATE they wait with the rest.
    finally:
        v.stop()
    c = sqlite_counts(template)
    c["api"] = c["waiting"]
    c["copied"] = copy_waiting(template, OUTBOX - c["waiting"]) if c["waiting"] < OUTBOX else 0
    c.update(sqlite_counts(template))
    log("[rest] prefilled in %.0f s: %d rows waiting in the outbox (%d through webhooks, %d "
        "copies of those by SQL; %d inbound)" % (time.time() - t0, c["waiting"], c["api"],
                                                c["copied"], c["inbound"]))
    return c


def copy_waiting(path, n):
    """n more rows waiting in the outbox, as copies of the template's own waiting rows in
    their proportions: a row waiting for the agent stage ('agent') is copied with a copy of
    its inbound message (new uid, new MessageSid), a reply waiting to be sent ('send') with
    a copy of its outbound message (new uid). Straight into the bench's own database copy
    with sqlite3: the webhook path slows down as the outbox grows (the very thing
    measured), so making 100,000 through it takes too long."""
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT id, CASE state WHEN 'agent' THEN inbound_id ELSE outbound_id "
                          "END, state FROM outbox WHERE state IN ('agent', 'send') ORDER BY id"
                          ).fetchall()
        if not rows:
            raise RuntimeError("no waiting row to copy in " + path)
        mcols = [r[1] for r in db.execute("PRAGMA table_info(messages)") if r[1] != "id"]
        ocols = [r[1] for r in db.execute("PRAGMA table_info(outbox)") if r[1] != "id"]
        made = 0
        with db:
            while made < n:
                for oid, mid, state in rows:
                    if made >= n:
                        break
                    m = dict(zip(mcols, db.execute("SELECT %s FROM messages WHERE id = ?" % (
                        ",".join(mcols)), (mid,)).fetchone()))
                    m["uid"] = os.urandom(16).hex()
                    if m["sid"]:
                        m["sid"] = m["sid"][:2] + os.urandom(16).hex()
                    cur = db.execute("INSERT INTO messages (%s) VALUES (%s)" % (
                        ",".join(mcols), ",".join("?" * len(mcols))), [m[k] for k in mcols])
                    o = dict(zip(ocols, db.execute("SELECT %s FROM outbox WHERE id = ?" % (
                        ",".join(ocols)), (oid,)).fetchone()))
                    o["inbound_id" if state == "agent" else "outbound_id"] = cur.lastrowid
                    db.execute("INSERT INTO outbox (%s) VALUES (%s)" % (
                        ",".join(ocols), ",".join("?" * len(ocols))), [o[k] for k in ocols])
                    made += 1
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return made


def config_rest(ctx, results, extra):
    pristine = os.path.join(ctx.work, "rest-pristine.db")
    ctx.import_sqlite(pristine)
    full = os.path.join(ctx.work, "rest-full-template.db")
    R.copy_db(pristine, full)
    full_walk = Walk()
    extra["outbox_prefill"] = prefill(ctx, full, full_walk)
    variants = [
        Variant(ctx, "twiml", {}, sqlite_path=os.path.join(ctx.work, "rest-twiml.db"),
                fresh=pristine, freeze=True),
        Variant(ctx, "rest", rest_env(ctx), sqlite_path=os.path.join(ctx.work, "rest-rest.db"),
                fresh=pristine, freeze=True),
        Variant(ctx, "rest-full", rest_env(ctx), walk=full_walk,
                sqlite_path=os.path.join(ctx.work, "rest-full.db"), fresh=full, freeze=True),
    ]
    try:
        nginx_runs = rounds(ctx, "rest", variants)
    finally:
        for v in variants:
            v.stop()
    res = summary("rest", variants, nginx_runs, "twiml")
    full_res = [r for r in res if r["variant"] == "rest-full"][0]
    empty = [v for v in variants if v.name == "rest"][0]
    fv = variants[2]
    full_res["ratio_vs_empty"] = R.med([r["rps"] / q["rps"] for r, q in zip(fv.runs, empty.runs)
                                        if q["rps"]])
    full_res["p99_vs_empty"] = R.med([r["lat_us"]["p99"] / q["lat_us"]["p99"]
                                      for r, q in zip(fv.runs, empty.runs) if q["lat_us"]["p99"]])
    for v in variants:
        full_res.setdefault("waiting_at_round_end", {})[v.name] = [
            c["counts"]["waiting"] for c in v.checks]
    results += res


# ---------------------------------------------------------------- report

def fmt(v, spec=".0f"):
    return "—" if v is None else format(v, spec)


def table(results):
    lines = ["| config | variant | rps | vs nginx | vs baseline | p50 ms | p99 ms | p99 vs baseline"
             " | router CPU µs/req | PostgreSQL CPU µs/req | non-200 | DB check |",
             "|" + "---|" * 12]
    for r in results:
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |" % (
            r["config"], r["variant"], fmt(r["ours_rps"]), fmt(r["ratio"], ".3f"),
            "%s × %s" % (fmt(r["ratio_vs_base"], ".3f"), r["vs"]) if r["variant"] != r["vs"] else "—",
            fmt(r["ours_p50_ms"], ".2f"), fmt(r["ours_p99_ms"], ".2f"),
            fmt(r["p99_vs_base"], ".2f") if r["variant"] != r["vs"] else "—",
            fmt(r["ours_cpu_us"]), fmt(r["pg_cpu_us"]), r["ours_non200"],
            "ok" if r["checks_ok"] else "**MISMATCH**"))
    return "\n".join(lines)


def targets(results, extra):
    by = {(r["config"], r["variant"]): r for r in results}
    out = []

    def add(name, measured, goal, ok):
        out.append({"target": name, "measured": measured, "goal": goal, "met": ok})

    a = by.get(("agent", "agent-core"))
    if a:
        add("Agent Core throughput vs memo", "%.3f ×" % a["ratio_vs_base"], ">= 0.8 ×",
            a["ratio_vs_base"] >= 0.8)
        add("Agent Core p99 vs memo", "%.2f ×" % a["p99_vs_base"], "<= 1.5 ×",
            a["p99_vs_base"] <= 1.5)
    r = by.get(("rest", "rest"))
    if r:
        add("rest vs twiml throughput", "%.3f ×" % r["ratio_vs_base"], ">= 0.9 ×",
            r["ratio_vs_base"] >= 0.9)
    f = by.get(("rest", "rest-full"))
    if f:
        n = extra.get("outbox_prefill", {}).get("waiting", 0)
        add("rest with %s rows waiting vs empty outbox" % "{:,}".format(n),
            "%.3f ×" % f["ratio_vs_empty"], ">= 0.9 × (within 10 %)",
            f["ratio_vs_empty"] >= 0.9 if n >= 100000 else None)
    p1, p2 = by.get(("pg", "pg-1router")), by.get(("pg", "pg-2routers"))
    if p1:
        add("PostgreSQL one router vs SQLite", "%.3f ×" % p1["ratio_vs_base"], ">= 0.6 ×",
            p1["ratio_vs_base"] >= 0.6)
        add("PostgreSQL one router p99", "%.1f ms" % p1["ours_p99_ms"], "< 100 ms",
            p1["ours_p99_ms"] < 100)
    if p1 and p2:
        q = R.med([b["ours_rps"] / a["ours_rps"] for a, b in zip(p1["per_round"], p2["per_round"])
                   if a["ours_rps"]])
        add("PostgreSQL two routers vs one (2 cores: contention, not scale)",
            "%.3f ×" % q, ">= 1.0 ×", q >= 1.0)
    if "pg_import_s" in extra:
        add("import of %s users into PostgreSQL" % "{:,}".format(extra["pg_users"]),
            "%.1f s" % extra["pg_import_s"], "<= 20 s (1M users)",
            extra["pg_import_s"] <= 20 if extra["pg_users"] >= 1000000 else None)
    return out


def main():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, R.on_signal)
    if not os.access(R.BIN, os.X_OK):
        sys.exit("bench: %s is missing: run `make release` (or `make bench`)" % R.BIN)
    unknown = [c for c in CONFIGS if c not in ("pg", "agent", "rest")]
    if unknown:
        sys.exit("bench/configs.py: unknown configuration %s (pg, agent, rest)" % unknown)
    if R.WRK_THREADS != 2:
        sys.exit("bench/configs.py: WRK_THREADS must be 2 (two routers walk a shard each)")
    work = tempfile.mkdtemp(prefix="smsrouter-bench-cfg.")
    load0 = R.loadavg()
    t_start = time.time()
    log("bench/configs: %s; %d connections, %d rounds of %d s (warm-up %d s); pg users %d, "
        "agent/rest users %d; work dir %s" % (" ".join(CONFIGS), CONNS, ROUNDS, DURATION, WARMUP,
                                              PG_USERS, CFG_USERS, work))
    results, extra, ok = [], {"pg_users": PG_USERS}, False
    raw = []
    try:
        ngx_port, agent_port, twilio_port = free_port(), free_port(), free_port()
        stand_ins = """    server {
        listen 127.0.0.1:%d;
        location / { default_type application/json; return 200 '%s'; }
    }
    server {
        listen 127.0.0.1:%d;
        location / { default_type application/json; return 201 '%s'; }
    }
""" % (agent_port, AGENT_REPLY, twilio_port, TWILIO_REPLY)
        ngx = R.start_nginx(work, ngx_port, stand_ins)
        ctxs = {}
        for name in CONFIGS:
            users = PG_USERS if name == "pg" else CFG_USERS
            if users not in ctxs:
                ctxs[users] = Ctx(work, users, ngx, ngx_port)
            ctx = ctxs[users]
            ctx.agent_port, ctx.twilio_port = agent_port, twilio_port
            log("[%s] %d users" % (name, users))
            {"pg": config_pg, "agent": config_agent, "rest": config_rest}[name](ctx, results, extra)
        raw = [r for c in ctxs.values() for r in c.raw]
        ok = True
    except R.Stop as e:
        log("bench: stopped (%s)" % e)
    finally:
        R.cleanup()
        if R.KEEP:
            log("bench: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not results:
        sys.exit(1)
    tgt = targets(results, extra)
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": os.environ.get("BENCH_COMMAND", "bench/configs.py"),
            "complete": ok, "elapsed_s": round(time.time() - t_start),
            "loadavg_before": load0, "loadavg_after": R.loadavg(),
            "loadavg_runs": [min((r["loadavg_1m"] for r in raw), default=0),
                             max((r["loadavg_1m"] for r in raw), default=0)],
            "machine": R.machine(), "configs": CONFIGS, "conns": CONNS, "rounds": ROUNDS,
            "duration_s": DURATION, "pg_users": PG_USERS, "cfg_users": CFG_USERS,
            "outbox": OUTBOX, "rest_send_rate": REST_SEND_RATE}
    lines = [table(results), ""]
    for k, label in (("pg_import_s", "import into PostgreSQL (%s users)" % "{:,}".format(PG_USERS)),
                     ("sqlite_import_s", "import into SQLite (same users)")):
        if k in extra:
            lines.append("%s: %.1f s" % (label, extra[k]))
    for r in results:
        if r.get("variant") == "pg-2routers":
            lines.append("two routers on one database: this box has 2 cores, so the second router "
                         "shows contention (CPU, locks), not scale-out")
        if "waiting_at_round_end" in r:
            lines.append("outbox rows waiting at each round's end: %s" % json.dumps(
                r["waiting_at_round_end"]))
    lines.append("")
    for t in tgt:
        lines.append("  %-62s %-12s goal %-22s %s" % (t["target"], t["measured"], t["goal"],
                                                     {True: "met", False: "MISSED",
                                                      None: "— (not at the target's size)"}[t["met"]]))
    for r in results:
        if r["variant"] != r["vs"]:
            lines.append("ratio %s/%s: %.3f (median of %d; p99 ratio %.2f); vs nginx %.3f" % (
                r["variant"], r["vs"], r["ratio_vs_base"], r["rounds"], r["p99_vs_base"],
                r["ratio"]))
        if "ratio_vs_empty" in r:
            lines.append("ratio rest-full/rest (outbox %d waiting vs empty): %.3f (p99 ratio %.2f)"
                         % (extra["outbox_prefill"]["waiting"], r["ratio_vs_empty"],
                            r["p99_vs_empty"]))
    text = "\n".join(lines)
    log("")
    log(text)
    os.makedirs(R.OUT, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    mdp = os.path.join(R.OUT, "configs-%s.md" % stamp)
    with open(mdp, "w") as f:
        f.write("# smsrouter configurations, %s\n\nCommand: `%s`  \nLoad average before %.2f, "
                "during %.1f to %.1f, after %.2f\n\n%s\n" % (
                    meta["date"], meta["command"], load0, meta["loadavg_runs"][0],
                    meta["loadavg_runs"][1], meta["loadavg_after"], text))
    with open(mdp[:-3] + ".json", "w") as f:
        json.dump({"meta": meta, "extra": extra, "results": results, "targets": tgt,
                   "runs": raw}, f, indent=1, default=str)
    log("report: %s (%d s)" % (os.path.relpath(mdp, R.ROOT), meta["elapsed_s"]))
    if not ok or not all(r["checks_ok"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
