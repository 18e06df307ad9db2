#!/usr/bin/python3
"""One bounded load run for before/after comparisons on PostgreSQL or SQLite
(docs/postgres-performance.md):

    bench/pg_ab.py BINARY DATABASE_URL PREFIX:PORT [PREFIX:PORT ...]

starts one router (BINARY serve, 2 threads, log level warn) per PREFIX:PORT on DATABASE_URL,
drives each with wrk and bench/walk.lua over the pre-signed corpus PREFIX (bench/gen_corpus.py
--out PREFIX --url http://127.0.0.1:PORT, token below), CONNS connections split between them
(default 64), for SECS seconds (default 8), continuing at PREFIX.cursor so that no MessageSid
is sent twice; then prints one JSON line: requests per second, the worst p50 and p99 of the
wrk runs, the routers' CPU per request and the cluster's (PGDATA: its postmaster and its
children, from postmaster.pid) CPU per request, in ms. Stops only the routers it started."""
import json, os, subprocess, sys, time, socket
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from procs import stop_proc  # noqa: E402
BIN, URL = sys.argv[1], sys.argv[2]
PAIRS = [(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in sys.argv[3:]]
CONNS = int(os.environ.get("CONNS", "64")); SECS = int(os.environ.get("SECS", "8"))
TOKEN = "bench-auth-token-0123456789abcdef"
CLK = os.sysconf("SC_CLK_TCK")
def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        x = f.read().rsplit(")", 1)[1].split()
    return (int(x[11]) + int(x[12])) / CLK
def pg_cpu():
    t = 0.0
    pm = open(os.path.join(os.environ["PGDATA"], "postmaster.pid")).readline().strip()
    for p in [pm] + subprocess.run(["pgrep", "-P", pm], capture_output=True, text=True).stdout.split():
        try: t += cpu(int(p))
        except OSError: pass
    return t
procs = []
try:
    for prefix, port in PAIRS:
        env = dict(os.environ, TWILIO_AUTH_TOKEN=TOKEN, SMSROUTER_LISTEN="127.0.0.1:%d" % port,
                   SMSROUTER_DATABASE_URL=URL, SMSROUTER_SENDER_LIMIT="0", SMSROUTER_UNKNOWN_LIMIT="0",
                   SMSROUTER_THREADS="2", SMSROUTER_LOG_LEVEL="warn")
        log = open(prefix + ".server.log", "a")
        procs.append(subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=log, start_new_session=True))
    for prefix, port in PAIRS:
        dl = time.time() + 30
        while time.time() < dl:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
            except OSError: time.sleep(0.1)
    time.sleep(0.5)
    pg = URL.startswith("postgres") and "PGDATA" in os.environ
    c0 = sum(cpu(p.pid) for p in procs); s0 = pg_cpu() if pg else 0.0
    wrks = []
    for prefix, port in PAIRS:
        cur = prefix + ".cursor"
        cursors = open(cur).read().strip() if os.path.exists(cur) else "-"
        wrks.append(subprocess.Popen(["wrk", "-t2", "-c%d" % (CONNS // len(PAIRS)), "-d%ds" % SECS, "--timeout", "30s", "-s",
                        os.path.join(HERE, "walk.lua"), "http://127.0.0.1:%d/sms-router/webhook/sms" % port,
                        "--", prefix, cursors], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    res = []
    for w, (prefix, port) in zip(wrks, PAIRS):
        out, err = w.communicate(timeout=SECS + 60)
        r = None
        for line in out.splitlines():
            if line.startswith("WALK_JSON "):
                r = json.loads(line[10:])
        if not r:
            print("no result", out[-400:], err[-400:]); sys.exit(1)
        open(prefix + ".cursor", "w").write(r["cursors"])
        res.append(r)
    c1 = sum(cpu(p.pid) for p in procs); s1 = pg_cpu() if pg else 0.0
    n = sum(r["requests"] for r in res)
    print(json.dumps({"bin": os.path.basename(BIN), "db": URL.rsplit("/", 1)[1][:12], "routers": len(PAIRS),
        "rps": round(n / SECS), "non2xx": sum(r["non2xx"] for r in res),
        "p50_ms": max(r["lat_us"]["p50"] for r in res) / 1000, "p99_ms": max(r["lat_us"]["p99"] for r in res) / 1000,
        "router_ms_req": round((c1 - c0) * 1000 / max(n, 1), 3), "server_ms_req": round((s1 - s0) * 1000 / max(n, 1), 3),
        "replayed": sum(r["replayed"] for r in res), "load1": os.getloadavg()[0]}), flush=True)
finally:
    for p in procs:
        stop_proc(p)
