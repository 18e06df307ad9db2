#!/usr/bin/python3
"""Webhook latency with slow clients connected: starts build/smsrouter (or --binary) on a
free 127.0.0.1 port with the defaults (SMSROUTER_MAX_CONNECTIONS 1024), connects --slow
slowloris clients (a request line, then a header byte every 0.5 s; each reconnects when
the server cuts it), then sends --webhooks signed webhooks one after another, each on a
new connection, and prints their p50/p99/max. Bounded: --seconds for the whole crowd,
30 s per webhook. Run as:

    /usr/bin/python3 bench/slow_clients.py --slow 2000 --webhooks 200
"""

import argparse
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/integration"))

import harness  # noqa: E402
from slowclients import SlowClients  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/smsrouter"))
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--webhooks", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=120)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, a.slow + 512)), hard))

    server = harness.Server(binary=a.binary, start=False)
    server.start()
    try:
        phone = harness.new_phone()
        server.add_user("Bench", [phone])
        with SlowClients(server.port, a.slow, seconds=a.seconds) as crowd:
            time.sleep(3)  # the crowd connected: every slot taken, the rest queued
            took = []
            end = time.monotonic() + a.seconds - 5
            for i in range(a.webhooks):
                if time.monotonic() > end:
                    break
                t0 = time.monotonic()
                try:
                    r = server.sms(phone, "recall")
                    status = r.status
                except OSError as e:  # no answer within 30 s, or a reset
                    status = repr(e)
                took.append(time.monotonic() - t0)
                if status != 200:
                    print("webhook %d: %s after %.1f s" % (i, status, took[-1]))
            connects, cut = crowd.connects, crowd.cut
        took.sort()
        pick = lambda q: took[min(len(took) - 1, int(q * len(took)))]  # noqa: E731
        print("slow clients %d (connections opened %d, cut by the server %d)"
              % (a.slow, connects, cut))
        print("webhooks %d: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (len(took), pick(0.50) * 1e3, pick(0.99) * 1e3, took[-1] * 1e3))
    finally:
        server.close()


if __name__ == "__main__":
    main()
