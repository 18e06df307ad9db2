#!/usr/bin/python3
"""Side-by-side rounds for issue 17's rest-mode and Agent Core paths (docs/performance-rest-agent.md).

    bench/restpath.py --bins OLD[,NEW] [--modes twiml,rest,rest100k,memo,agent]
                      [--users 10000] [--conns 64] [--seconds 8] [--rounds 3]

Each round runs every (mode, binary) pair once, in alternating order, on a fresh copy of a
database with --users users imported by that binary; wrk walks one pre-signed corpus
(bench/gen_corpus.py, walk.lua) from its start each time (every database copy is fresh, so
no MessageSid repeats in one run). Modes:
  twiml     the memo agent, answered in the webhook's TwiML
  rest      SMSROUTER_REPLY_MODE=rest, the Twilio stand-in (tests/standins/twilio_api.py)
            answering the Messages API, SMSROUTER_SEND_RATE 1 (the default)
  rest100k  rest with 100,000 reply rows already waiting in the outbox (sent by the
            router itself in a 'send' state, 10 per user)
  memo      same as twiml (the memo agent's figure the agent mode is compared with)
  agent     SMSROUTER_AGENT_URL: an nginx server block answering {"reply":"Noted."}
Prints one JSON line per run and the medians per (mode, binary). Every process is ours,
stopped by its PID; only 127.0.0.1.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from procs import free_port, stop_proc  # noqa: E402

TOKEN = "bench-token-0123456789abcdef"
ACCOUNT = "AC" + "5e" * 16  # gen_corpus.py's default
PY = "/usr/bin/python3"
started = []


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(port, proc, deadline=30):
    import urllib.request
    end = time.time() + deadline
    while time.time() < end and proc.poll() is None:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ready" % port, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def start_nginx_agent(work, port):
    d = os.path.join(work, "nginx")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off; master_process on; worker_processes 1; pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn; events { worker_connections 4096; }
http { access_log off; client_body_temp_path %(d)s/tmp/body; proxy_temp_path %(d)s/tmp/p;
 fastcgi_temp_path %(d)s/tmp/f; uwsgi_temp_path %(d)s/tmp/u; scgi_temp_path %(d)s/tmp/s;
 client_body_buffer_size 64k;
 server { listen 127.0.0.1:%(port)d;
  location / { default_type application/json; return 200 '{"reply":"Noted."}'; } } }
""" % {"d": d, "port": port})
    p = subprocess.Popen(["/usr/sbin/nginx", "-p", d + "/", "-e", d + "/error.log", "-c", conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    started.append(p)
    time.sleep(0.5)
    return p


def start_twilio(work):
    p = subprocess.Popen([PY, os.path.join(ROOT, "tests/standins/twilio_api.py"), "--port", "0",
                          "--account", ACCOUNT, "--token", TOKEN], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                         cwd=ROOT)
    started.append(p)
    port = json.loads(p.stdout.readline())["port"]
    return p, port


def env_for(binary_db, port, mode, twilio_port, agent_port):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("SMSROUTER_") or k.startswith("TWILIO_"):
            del e[k]
    e.update({"TWILIO_AUTH_TOKEN": TOKEN, "SMSROUTER_LISTEN": "127.0.0.1:%d" % port,
              "SMSROUTER_DATABASE_URL": "sqlite:" + binary_db, "SMSROUTER_SENDER_LIMIT": "0",
              "SMSROUTER_UNKNOWN_LIMIT": "0", "SMSROUTER_LOG_LEVEL": "warn"})
    if mode.startswith("rest"):
        e.update({"SMSROUTER_REPLY_MODE": "rest", "TWILIO_ACCOUNT_SID": ACCOUNT,
                  "TWILIO_API_BASE": "http://127.0.0.1:%d" % twilio_port})
    if mode == "agent":
        e.update({"SMSROUTER_AGENT_URL": "http://127.0.0.1:%d/agent" % agent_port,
                  "SMSROUTER_AGENT_SECRET": "bench-agent-secret"})
    return e


def prefill(db, per_user):
    """per_user reply rows per user waiting in the outbox (state send), as if answered."""
    c = sqlite3.connect(db)
    now = int(time.time() * 1000)
    users = [r[0] for r in c.execute("SELECT id FROM users")]
    phone = dict(c.execute("SELECT user_id, phone FROM phones"))
    cols = [r[1] for r in c.execute("PRAGMA table_info(messages)")]
    n = 0
    for k in range(per_user):
        for u in users:
            n += 1
            row = {"user_id": u, "direction": "outbound", "from_addr": "+18005550100",
                   "to_addr": phone[u], "body": "Noted.", "status": "queued",
                   "encoding": "GSM-7", "segments": 1, "created_at": now // 1000}
            if "uid" in cols:
                row["uid"] = "%032x" % (n + (1 << 100))
            ks = [x for x in row if x in cols]
            cur = c.execute("INSERT INTO messages (%s) VALUES (%s)" % (
                ",".join(ks), ",".join("?" * len(ks))), [row[x] for x in ks])
            c.execute("INSERT INTO outbox (user_id, inbound_id, outbound_id, state, next_at, "
                      "created_at, updated_at) VALUES (?, 0, ?, 'send', ?, ?, ?)",
                      (u, cur.lastrowid, now, now, now))
    c.commit()
    c.close()
    return n


def depth(db):
    c = sqlite3.connect(db)
    try:
        return dict(c.execute("SELECT state, count(*) FROM outbox GROUP BY state"))
    finally:
        c.close()


# The sender's replies query and the agent stage's claim, before (OB_HEAD: "no earlier
# pending row of this user", proved for every row walked) and after (the heads' indexes).
OLD_HEAD = (" AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = o.user_id AND p.lane = 0"
            " AND p.id < o.id AND p.state IN ('agent', 'send', 'sending'))")
QUERIES = {
    "old": {"ready": "SELECT o.id, m.body FROM outbox o JOIN messages m ON m.id = o.outbound_id"
                     " LEFT JOIN users u ON u.id = o.user_id WHERE o.lane = 0 AND o.state IN"
                     " ('send', 'sending') AND o.next_at <= ?" + OLD_HEAD +
                     " ORDER BY o.id LIMIT 256",
            "claim": "SELECT o.id FROM outbox o LEFT JOIN messages m ON m.id = o.outbound_id"
                     " WHERE o.state = 'agent' AND o.next_at <= ?" + OLD_HEAD +
                     " ORDER BY o.next_at, o.id LIMIT 1"},
    "new": {"ready": "SELECT o.id, m.body FROM outbox o INDEXED BY outbox_head_send JOIN"
                     " messages m ON m.id = o.outbound_id LEFT JOIN users u ON u.id ="
                     " o.user_id WHERE o.head = 1 AND o.state IN ('send', 'sending') AND"
                     " o.next_at <= ? ORDER BY o.next_at, o.id LIMIT 256",
            "claim": "SELECT o.id FROM outbox o INDEXED BY outbox_head_agent LEFT JOIN messages"
                     " m ON m.id = o.outbound_id WHERE o.head = 1 AND o.state = 'agent' AND"
                     " o.next_at <= ? ORDER BY o.next_at, o.id LIMIT 1"},
}


def query_cost(bins, users, waiting):
    """Milliseconds per sender turn (the replies query) and per claim, with waiting reply
    rows queued (waiting // users per user) and one agent row behind each user's."""
    work = tempfile.mkdtemp(prefix="restpath-q.")
    try:
        csv = os.path.join(work, "users.csv")
        subprocess.run([PY, os.path.join(HERE, "gen_corpus.py"), "--users", str(users),
                        "--users-csv", csv], check=True, capture_output=True)
        for i, b in enumerate(bins):
            db = os.path.join(work, "q%d.db" % i)
            subprocess.run([b, "import", csv], env=env_for(db, 0, "twiml", 0, 0), check=True,
                           capture_output=True)
            prefill(db, max(waiting // users, 1))
            c = sqlite3.connect(db)
            now = int(time.time() * 1000) + 1000
            c.execute("INSERT INTO outbox (user_id, inbound_id, state, next_at, created_at,"
                      " updated_at) SELECT id, 0, 'agent', ?, ?, ? FROM users", (now, now, now))
            c.commit()
            q = QUERIES["new" if c.execute("PRAGMA user_version").fetchone()[0] >= 11 else "old"]
            for name in ("ready", "claim"):
                n, t0 = 0, time.perf_counter()
                while n < 3 or (time.perf_counter() - t0 < 2 and n < 1000):
                    c.execute(q[name], (now,)).fetchall()
                    n += 1
                print(json.dumps({"bin": b, "waiting": waiting, "users": users, "query": name,
                                  "ms": round(1000 * (time.perf_counter() - t0) / n, 3),
                                  "runs": n}), flush=True)
            c.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--query-cost", default="",
                    help="waiting rows, e.g. 1000,1000000: time the claim and the replies "
                         "query instead of the load rounds")
    ap.add_argument("--bins", required=True)
    ap.add_argument("--modes", default="twiml,rest,rest100k,agent")
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=160000)
    ap.add_argument("--perf", default="", help="mode:binary-index to record with perf")
    a = ap.parse_args()
    bins = [os.path.abspath(b) for b in a.bins.split(",")]
    if a.query_cost:
        for w in map(int, a.query_cost.split(",")):
            query_cost(bins, min(a.users, w), w)
        return
    modes = a.modes.split(",")
    work = tempfile.mkdtemp(prefix="restpath.")
    port, agent_port = free_port(), free_port()
    results = []
    try:
        csv = os.path.join(work, "users.csv")
        subprocess.run([PY, os.path.join(HERE, "gen_corpus.py"), "--users", str(a.users),
                        "--users-csv", csv], check=True)
        prefix = os.path.join(work, "corpus")
        subprocess.run([PY, os.path.join(HERE, "gen_corpus.py"), "--users", str(a.users),
                        "--requests", str(a.requests), "--out", prefix, "--shards", "2",
                        "--url", "http://127.0.0.1:%d" % port, "--token", TOKEN], check=True)
        pristine = {}
        for i, b in enumerate(bins):
            for m in ("plain", "rest100k") if "rest100k" in modes else ("plain",):
                db = os.path.join(work, "pristine-%d-%s.db" % (i, m))
                env = env_for(db, 0, "twiml", 0, 0)
                subprocess.run([b, "import", csv], env=env, check=True, capture_output=True)
                if m == "rest100k":
                    prefill(db, 100000 // a.users)
                pristine[(i, m)] = db
        twilio, twilio_port = start_twilio(work) if any(m.startswith("rest") for m in modes) \
            else (None, 0)
        if "agent" in modes:
            start_nginx_agent(work, agent_port)
        for rnd in range(a.rounds):
            order = [(m, i) for m in modes for i in range(len(bins))]
            if rnd % 2:
                order = [(m, i) for m in modes for i in reversed(range(len(bins)))]
            for mode, i in order:
                db = os.path.join(work, "run.db")
                for s in ("", "-wal", "-shm"):
                    if os.path.exists(db + s):
                        os.unlink(db + s)
                shutil.copy(pristine[(i, "rest100k" if mode == "rest100k" else "plain")], db)
                env = env_for(db, port, mode, twilio_port, agent_port)
                logf = open(os.path.join(work, "server.log"), "a")
                p = subprocess.Popen([bins[i], "serve"], env=env, stdout=logf, stderr=logf,
                                     start_new_session=True)
                started.append(p)
                wait_ready(port, p)
                before = depth(db)
                c0 = ticks(p.pid)
                pf = None
                if a.perf == "%s:%d" % (mode, i) and rnd == 0:
                    pf = subprocess.Popen(["perf", "record", "-g", "-p", str(p.pid), "-o",
                                           os.path.join(work, "perf.data"), "--",
                                           "sleep", str(a.seconds)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                out = subprocess.run(["wrk", "-t2", "-c%d" % a.conns, "-d%ds" % a.seconds,
                                      "--timeout", "30s", "-s", os.path.join(HERE, "walk.lua"),
                                      "http://127.0.0.1:%d/sms-router/webhook/sms" % port,
                                      "--", prefix, "-"], capture_output=True, text=True,
                                     timeout=a.seconds + 60).stdout
                cpu = ticks(p.pid) - c0
                if pf:
                    pf.wait(timeout=60)
                    subprocess.run("perf report -i %s --no-children --sort comm "
                                   "--stdio -g none 2>/dev/null | grep '%%' | head -12; "
                                   "perf report -i %s --children --sort symbol -g none "
                                   "--stdio 2>/dev/null | grep '%%' | head -60"
                                   % ((os.path.join(work, "perf.data"),) * 2), shell=True)
                stop_proc(p)
                started.remove(p)
                w = json.loads([x for x in out.splitlines() if x.startswith("WALK_JSON ")][0][10:])
                after = depth(db)
                r = {"round": rnd, "mode": mode, "bin": i, "rps": w["requests"] / a.seconds,
                     "p99_ms": w["lat_us"]["p99"] / 1000 if "lat_us" in w else None,
                     "non2xx": w.get("non2xx"), "cpu_ms_per_req":
                         1000 * cpu / max(w["requests"], 1),
                     "outbox_before": before, "outbox_after": after}
                if "lat_us" not in w:
                    r["walk"] = {k: v for k, v in w.items() if k != "threads"}
                results.append(r)
                print(json.dumps(r), flush=True)
    finally:
        for p in reversed(started):
            stop_proc(p)
        shutil.rmtree(work, ignore_errors=True)
    print("\nmedians (%d rounds of %d s, %d users, %d connections):" % (
        a.rounds, a.seconds, a.users, a.conns))
    for mode in modes:
        for i, b in enumerate(bins):
            rs = [r for r in results if r["mode"] == mode and r["bin"] == i]
            med = lambda k: sorted(x[k] for x in rs)[len(rs) // 2] if rs else float("nan")
            print("  %-9s %-40s %8.0f req/s  p99 %7.1f ms  cpu %.3f ms/req" % (
                mode, b[-40:], med("rps"), med("p99_ms"), med("cpu_ms_per_req")))


if __name__ == "__main__":
    main()
