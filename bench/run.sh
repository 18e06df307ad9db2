#!/bin/sh
# smsrouter benchmark: `make bench` (= `make release` then this script), or directly
# after `make release`. QUICK=1 for a smoke run; `--only sqlite|pg|agent|rest|proactive`
# (comma-separated) for some parts only; bench/README.md has the rest.
# The work happens in bench/run.py; this wrapper checks the tools and makes sure that on
# Ctrl-C or an error the run stops the processes it started (run.py stops them by PID).
set -eu
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
# `bench/run.sh scheduled`: the proactive-message benchmark (needs no wrk or nginx).
if [ "${1:-}" = "scheduled" ]; then
	exec "$PY" bench/scheduled.py
fi
# `bench/run.sh --only CONFIG`: one part of the benchmark (bench/README.md):
#   sqlite (run.py: SQLite against nginx), pg, agent, rest (configs.py), proactive
#   (scheduled.py); `--only pg,rest` runs several. Without --only: all of them.
only="sqlite pg agent rest proactive"
if [ "${1:-}" = "--only" ]; then
	[ -n "${2:-}" ] || { echo "bench: --only needs sqlite|pg|agent|rest|proactive" >&2; exit 2; }
	only=$(echo "$2" | tr ',' ' ')
	for c in $only; do
		case $c in
		sqlite | pg | agent | rest | proactive) ;;
		*) echo "bench: unknown part $c (sqlite|pg|agent|rest|proactive)" >&2; exit 2 ;;
		esac
	done
fi
has() { case " $only " in *" $1 "*) return 0 ;; esac; return 1; }
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
	if [ "${1:-}" = "--only" ]; then BENCH_COMMAND="$BENCH_COMMAND --only $2"; fi
fi
export BENCH_COMMAND

# Each part in turn; each stops the processes it started. The exit status is the first
# failure's (a part that fails does not stop the next).
status=0
part() {
	"$PY" "$@" &
	pid=$!
	trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 130' INT TERM HUP
	wait "$pid" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
	trap - INT TERM HUP
}
if has sqlite; then part bench/run.py; fi
cfgs=""
for c in pg agent rest; do if has $c; then cfgs="$cfgs $c"; fi; done
if [ -n "$cfgs" ]; then
	CONFIGS=$cfgs
	export CONFIGS
	part bench/configs.py
fi
if has proactive; then part bench/scheduled.py; fi
exit "$status"
