#!/usr/bin/python3
"""Generate the benchmark's users and pre-signed Twilio webhook requests.

    gen_corpus.py --users N [--users-csv users.csv]
                  [--requests M --out PREFIX --url http://127.0.0.1:PORT
                   [--shards T] [--start K] [--token TOKEN] [--seed S] [--jobs J]]

users.csv   N lines "name,phone"; the phone of user j is +1555 followed by the 7 digits
            of (j * 7919 + 1234567) mod 10^7, a bijection on 0..10^7-1, so the numbers
            are distinct, valid E.164 and spread over the whole +1555 block.
PREFIX.0 .. PREFIX.<T-1>
            the requests, record i in shard i mod T (one shard per wrk thread), each a
            line "SIGNATURE<TAB>FORM-BODY". FORM-BODY is the urlencoded body Twilio would
            POST to URL/sms-router/webhook/sms (its parameter set, its wire order);
            SIGNATURE is its X-Twilio-Signature, computed by Twilio's own library
            (python3-twilio RequestValidator.compute_signature). Every MessageSid is
            distinct: SM + 32 hex = a per-corpus 64-bit prefix (from --seed and N) and a
            bijective scramble of the record index i. Senders are drawn uniformly from
            all N users. Bodies: 35 % "remember <note>", 15 % "recall", 50 % other text
            (some of it non-GSM: emoji, accents; one of them is "yes", an opt-in word).
--start K   appends records K..K+M-1 to existing shards (K must be a multiple of T), so
            a run can grow the corpus without disturbing what it already walked.
PREFIX.json the metadata (url, token, counts, body mix).

Records depend only on --seed, N and their index, never on --jobs or on how the corpus
was grown.
"""
import argparse
import json
import os
import random
import sys
import time
from multiprocessing import Pool
from urllib.parse import quote_plus

from twilio.request_validator import RequestValidator

PATH = "/sms-router/webhook/sms"
TO = "+18005550100"
MASK64 = (1 << 64) - 1

# (city, state, zip) as Twilio's lookup fills them; empty strings are common too.
GEO = [
    ("SAN FRANCISCO", "CA", "94105"),
    ("NEW YORK", "NY", "10001"),
    ("CHICAGO", "IL", "60601"),
    ("AUSTIN", "TX", "73301"),
    ("SEATTLE", "WA", "98101"),
    ("", "", ""),
    ("", "", ""),
]

NOTES = [
    "buy milk", "call mom at 5", "dentist Tuesday 3pm", "pick up dry cleaning",
    "pay the electricity bill", "book flights to Lisbon", "renew passport",
    "water the plants", "Sam's birthday on the 14th", "gate code 4821#",
    "parking level P3 spot 118", "return library books", "oil change at 45k miles",
    "wifi password is in the drawer", "meeting moved to 10:30", "order printer ink",
    "café with Zoë on Friday", "ask about the invoice #2231", "gym 7am",
    "lunch: 2 eggs & toast",
]
OTHER = [
    "hi", "Hello!", "what can you do?", "help me", "Running 10 min late",
    "ok thanks", "Who is this?", "yes", "no", "👍", "Can you remind me tomorrow?",
    "What's the weather like", "thanks 🙏", "¿Qué tal?", "see you at 8",
    "I'll be there in 5", "lol", "Got it, thanks. Talk later.", "test 123",
    "Is this the right number for support?",
]
# Share of each kind of body: remember / recall / other.
MIX = (0.35, 0.15, 0.50)


def phone(j):
    return "+1555%07d" % ((j * 7919 + 1234567) % 10_000_000)


def segments(text):
    try:
        text.encode("ascii")
        n, one, many = len(text), 160, 153
    except UnicodeEncodeError:
        n = len(text.encode("utf-16-le")) // 2
        one, many = 70, 67
    return 1 if n <= one else -(-n // many)


def write_users(path, n):
    with open(path, "w", encoding="utf-8", newline="") as f:
        chunk = 100_000
        for a in range(0, n, chunk):
            f.write("".join("user%d,%s\n" % (j, phone(j)) for j in range(a, min(n, a + chunk))))


_G = {}


def _init(cfg):
    _G.update(cfg)
    _G["validator"] = RequestValidator(cfg["token"])
    _G["url"] = cfg["base"].rstrip("/") + PATH


def _chunk(bounds):
    a, b = bounds
    g = _G
    rnd = random.Random((g["seed"] << 32) ^ a)
    sign = g["validator"].compute_signature
    url, users, prefix, acct = g["url"], g["users"], g["prefix"], g["account"]
    r_remember, r_recall = MIX[0], MIX[0] + MIX[1]
    shards = g["shards"]
    out = [[] for _ in range(shards)]
    for i in range(a, b):
        sid = "SM%s%016x" % (prefix, ((i + 1) * 0x9E3779B97F4A7C15) & MASK64)
        j = rnd.randrange(users)
        frm = phone(j)
        city, state, zipc = GEO[j % len(GEO)]
        x = rnd.random()
        if x < r_remember:
            body = "remember " + rnd.choice(NOTES)
            if rnd.random() < 0.5:
                body += " (%d)" % rnd.randrange(1000)
        elif x < r_recall:
            body = rnd.choice(("recall", "Recall", "recall "))
        else:
            body = rnd.choice(OTHER)
        segs = str(segments(body))
        # Decoded parameters, for the signature; the body below carries the same ones
        # in the order Twilio sends them.
        params = {
            "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0",
            "ToCity": "", "FromZip": zipc, "SmsSid": sid, "FromState": state,
            "SmsStatus": "received", "FromCity": city, "Body": body, "FromCountry": "US",
            "To": TO, "ToZip": "", "NumSegments": segs, "MessageSid": sid,
            "AccountSid": acct, "From": frm, "ApiVersion": "2010-04-01",
        }
        form = (
            "ToCountry=US&ToState=CA&SmsMessageSid=%s&NumMedia=0&ToCity=&FromZip=%s"
            "&SmsSid=%s&FromState=%s&SmsStatus=received&FromCity=%s&Body=%s"
            "&FromCountry=US&To=%%2B18005550100&ToZip=&NumSegments=%s&MessageSid=%s"
            "&AccountSid=%s&From=%%2B%s&ApiVersion=2010-04-01"
            % (sid, zipc, sid, state, quote_plus(city), quote_plus(body), segs, sid, acct,
               frm[1:])
        )
        out[i % shards].append("%s\t%s\n" % (sign(url, params), form))
    return [("".join(o)).encode("utf-8") for o in out]


def self_check(cfg, path, n):
    """Re-parse the first n records of a shard: validate() must accept each signature
    (the library's own check, with its port variants) and no MessageSid may repeat."""
    from urllib.parse import parse_qsl
    v = RequestValidator(cfg["token"])
    url = cfg["base"].rstrip("/") + PATH
    sids, seen = set(), 0
    with open(path, "rb") as f:
        for line in f:
            if seen >= n:
                break
            sig, form = line.decode("utf-8").rstrip("\n").split("\t")
            params = dict(parse_qsl(form, keep_blank_values=True))
            if not v.validate(url, params, sig):
                sys.exit("gen_corpus: self-check: signature rejected on record %d" % seen)
            sids.add(params["MessageSid"])
            seen += 1
    if len(sids) != seen:
        sys.exit("gen_corpus: self-check: a MessageSid repeats in the first %d records" % seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, required=True)
    ap.add_argument("--users-csv")
    ap.add_argument("--requests", type=int, default=0)
    ap.add_argument("--out", help="prefix of the shard files PREFIX.0 ..")
    ap.add_argument("--shards", type=int, default=2, help="one per wrk thread (default 2)")
    ap.add_argument("--start", type=int, default=0, help="first record index; > 0 appends")
    ap.add_argument("--url", help="base URL the server is reached at, e.g. http://127.0.0.1:8123")
    ap.add_argument("--token", default="bench-auth-token-0123456789abcdef")
    ap.add_argument("--account", default="AC" + "5e" * 16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    if not 1 <= a.users <= 10_000_000:
        sys.exit("gen_corpus: --users must be 1..10000000 (the +1555 block)")
    if a.shards < 1 or a.start < 0 or a.start % a.shards:
        sys.exit("gen_corpus: --start must be a multiple of --shards")

    t0 = time.time()
    if a.users_csv:
        write_users(a.users_csv, a.users)
        print("gen_corpus: %d users -> %s in %.1f s" % (a.users, a.users_csv, time.time() - t0),
              file=sys.stderr)
    if a.requests <= 0:
        return
    if not a.out or not a.url:
        sys.exit("gen_corpus: --requests needs --out and --url")

    t1 = time.time()
    cfg = {
        "token": a.token, "base": a.url, "users": a.users, "seed": a.seed,
        "account": a.account, "shards": a.shards,
        "prefix": "%016x" % random.Random(a.seed * 1_000_003 + a.users).getrandbits(64),
    }
    end = a.start + a.requests
    step = 20_000  # a multiple of any small shard count keeps chunks aligned
    bounds = [(s, min(end, s + step)) for s in range(a.start, end, step)]
    mode = "ab" if a.start > 0 else "wb"
    files = [open("%s.%d" % (a.out, t), mode) for t in range(a.shards)]
    try:
        if a.jobs > 1 and len(bounds) > 1:
            with Pool(min(a.jobs, len(bounds)), initializer=_init, initargs=(cfg,)) as pool:
                for blobs in pool.imap(_chunk, bounds):
                    for f, blob in zip(files, blobs):
                        f.write(blob)
        else:
            _init(cfg)
            for bnd in bounds:
                for f, blob in zip(files, _chunk(bnd)):
                    f.write(blob)
    finally:
        for f in files:
            f.close()
    dt = time.time() - t1
    if a.start == 0:
        self_check(cfg, a.out + ".0", 1000)
    meta = {
        "url": a.url.rstrip("/") + PATH, "token": a.token, "account": a.account,
        "users": a.users, "requests": end, "shards": a.shards, "seed": a.seed,
        "mix": {"remember": MIX[0], "recall": MIX[1], "other": MIX[2]},
        "bytes": sum(os.path.getsize("%s.%d" % (a.out, t)) for t in range(a.shards)),
        "distinct_message_sids": True,
    }
    with open(a.out + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    print("gen_corpus: %d signed requests (%d..%d) -> %s.[0-%d] in %.1f s (%.0f/s)"
          % (a.requests, a.start, end - 1, a.out, a.shards - 1, dt,
             a.requests / max(dt, 1e-9)), file=sys.stderr)


if __name__ == "__main__":
    main()
