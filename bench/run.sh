#!/bin/sh
# smsrouter benchmark: `make bench` (= `make release` then this script), or directly
# after `make release`. QUICK=1 for a smoke run of about a minute; bench/README.md has the rest.
# The work happens in bench/run.py; this wrapper checks the tools and makes sure that on
# Ctrl-C or an error the run stops the processes it started (run.py stops them by PID).
set -eu
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
# `bench/run.sh scheduled`: the proactive-message benchmark (needs no wrk or nginx).
if [ "${1:-}" = "scheduled" ]; then
	exec "$PY" bench/scheduled.py
fi
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
[ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
"$PY" -c 'import twilio.request_validator' 2>/dev/null || missing="$missing python3-twilio"
if [ -n "$missing" ]; then
	echo "bench: missing:$missing (scripts/install-deps.sh installs them)" >&2
	exit 2
fi
if ! wrk -v 2>&1 | head -1 | grep -q '^wrk'; then
	echo "bench: wrk does not run" >&2
	exit 2
fi

if [ -z "${BENCH_COMMAND:-}" ]; then
	BENCH_COMMAND="bench/run.sh"
	if [ -n "${MAKELEVEL:-}" ]; then BENCH_COMMAND="make bench"; fi
	for v in QUICK USERS CONNS DURATION WARMUP ROUNDS LIGHT_CONNS PERF SMSROUTER_SQLITE_SYNC; do
		eval "val=\${$v:-}"
		if [ -n "$val" ]; then BENCH_COMMAND="$v=$val $BENCH_COMMAND"; fi
	done
fi
export BENCH_COMMAND

"$PY" bench/run.py &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 130' INT TERM HUP
wait "$pid"
