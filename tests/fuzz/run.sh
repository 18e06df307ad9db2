#!/usr/bin/env bash
# Builds the libFuzzer harnesses tests/fuzz/fuzz_*.c into build-fuzz/ and runs each one for
# SECONDS (default 20), two at a time: first every saved reproducer of tests/fuzz/regressions/
# that belongs to it, then new inputs grown from a temporary copy of its corpus (nothing the
# fuzzer generates lands in the repository). One summary line per harness; exits 1 if any
# harness crashed, leaked, timed out or ran out of memory, 2 if the build failed.
#
#   tests/fuzz/run.sh [SECONDS [HARNESS...]]    e.g. tests/fuzz/run.sh 300, run.sh 60 csv phone
#
# The build is make-style: an object is recompiled when its source or any header of src/ is
# newer, a harness relinked when its source, tests/fuzz/*.h or the library is newer, and
# everything is rebuilt when the flags change. Crash inputs go to build-fuzz/artifacts/,
# each harness's output to build-fuzz/logs/<harness>.log.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"

DURATION=${1:-20}
shift || true
if ! [[ $DURATION =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: tests/fuzz/run.sh [SECONDS [HARNESS...]] (SECONDS >= 1)" >&2
	exit 2
fi

OUT=build-fuzz
FUZZ=tests/fuzz
LIB=$OUT/libsmsrouter-fuzz.a
ARTIFACTS=$OUT/artifacts
LOGS=$OUT/logs
JOBS=2 # the machine has 2 cores
CC=${FUZZ_CC:-clang}
PKGS="libmicrohttpd jansson libcurl sqlite3 libpq expat icu-i18n icu-uc"

if ! command -v "$CC" >/dev/null; then
	echo "run.sh: $CC not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
PKG_CFLAGS=$(pkg-config --cflags $PKGS)
PKG_LIBS=$(pkg-config --libs $PKGS)

# Unquoted on purpose where used: pkg-config output is a list of words.
COMMON="-g -O1 -fno-sanitize-recover=all -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
COMMON="$COMMON -DSMSROUTER_VERSION=\"fuzz\" -Isrc $PKG_CFLAGS"
SRC_FLAGS="$COMMON -fsanitize=fuzzer-no-link,address,undefined"
HARNESS_FLAGS="$COMMON -fsanitize=fuzzer,address,undefined -Wall -Wextra"
LDLIBS="$PKG_LIBS -lcrypto -lpthread"

mkdir -p "$OUT/obj" "$ARTIFACTS" "$LOGS"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/smsrouter-fuzz.XXXXXX")
cleanup() {
	local pids

	pids=$(jobs -p)
	if [ -n "$pids" ]; then
		kill $pids 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs "$@" in the background, never more than JOBS at once.
running=0
spawn() {
	if [ "$running" -ge "$JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	"$@" &
	running=$((running + 1))
}
wait_all() {
	wait || true
	running=0
}

# ---- Build -----------------------------------------------------------------------------------

# New flags, new compiler: nothing built before can be trusted.
stamp="$("$CC" --version | head -n 1) | $SRC_FLAGS | $HARNESS_FLAGS | $LDLIBS"
if [ ! -f "$OUT/flags" ] || [ "$(cat "$OUT/flags")" != "$stamp" ]; then
	rm -rf "$OUT/obj" "$LIB" "$OUT"/fuzz_*
	mkdir -p "$OUT/obj"
	printf '%s\n' "$stamp" >"$OUT/flags"
fi

compile() { # src obj
	mkdir -p "$(dirname "$2")"
	# shellcheck disable=SC2086
	if ! "$CC" $SRC_FLAGS -c "$1" -o "$2.tmp"; then
		rm -f "$2.tmp"
		touch "$TMP/build-failed"
		return 1
	fi
	mv "$2.tmp" "$2"
}

link() { # src bin
	# shellcheck disable=SC2086
	if ! "$CC" $HARNESS_FLAGS "$1" "$LIB" $LDLIBS -o "$2.tmp"; then
		rm -f "$2.tmp"
		touch "$TMP/build-failed"
		return 1
	fi
	mv "$2.tmp" "$2"
}

newest_header=$(find src -name '*.h' -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
mapfile -t sources < <(find src -name '*.c' ! -path src/main.c | sort)
objects=()
rebuilt=0
for src in "${sources[@]}"; do
	obj="$OUT/obj/${src#src/}"
	obj="${obj%.c}.o"
	objects+=("$obj")
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
		{ [ -n "$newest_header" ] && [ "$newest_header" -nt "$obj" ]; }; then
		spawn compile "$src" "$obj"
		rebuilt=1
	fi
done
wait_all
if [ -f "$TMP/build-failed" ]; then
	echo "run.sh: compiling src/ failed" >&2
	exit 2
fi

# Objects of sources that are gone must leave the library too.
while IFS= read -r obj; do
	keep=0
	for o in "${objects[@]}"; do
		if [ "$o" = "$obj" ]; then
			keep=1
			break
		fi
	done
	if [ "$keep" = 0 ]; then
		rm -f "$obj"
		rebuilt=1
	fi
done < <(find "$OUT/obj" -name '*.o')

if [ "$rebuilt" = 1 ] || [ ! -f "$LIB" ]; then
	rm -f "$LIB"
	ar rcs "$LIB" "${objects[@]}"
fi

mapfile -t all_harnesses < <(cd "$FUZZ" && ls fuzz_*.c | sed 's/\.c$//')
if [ "$#" -gt 0 ]; then
	harnesses=()
	for want in "$@"; do
		want="fuzz_${want#fuzz_}"
		if [ ! -f "$FUZZ/$want.c" ]; then
			echo "run.sh: no harness $FUZZ/$want.c" >&2
			exit 2
		fi
		harnesses+=("$want")
	done
else
	harnesses=("${all_harnesses[@]}")
fi

for name in "${harnesses[@]}"; do
	bin="$OUT/$name"
	stale=0
	if [ ! -x "$bin" ] || [ "$FUZZ/$name.c" -nt "$bin" ] || [ "$LIB" -nt "$bin" ]; then
		stale=1
	fi
	for h in "$FUZZ"/*.h; do
		if [ -f "$h" ] && [ "$h" -nt "$bin" ]; then
			stale=1
		fi
	done
	if [ "$stale" = 1 ]; then
		spawn link "$FUZZ/$name.c" "$bin"
	fi
done
wait_all
if [ -f "$TMP/build-failed" ]; then
	echo "run.sh: building the harnesses failed" >&2
	exit 2
fi

# ---- Run -------------------------------------------------------------------------------------

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LIBFUZZER_OPTS=(-max_len=8192 -timeout=10 -rss_limit_mb=2048)

# What a failed libFuzzer run was, from its log.
verdict() { # log
	if grep -qa 'ERROR: libFuzzer: timeout' "$1"; then
		echo timeout
	elif grep -qa 'ERROR: LeakSanitizer' "$1"; then
		echo leak
	elif grep -qa 'ERROR: libFuzzer: out-of-memory' "$1"; then
		echo out-of-memory
	else
		echo crash
	fi
}

fuzz_one() { # harness
	local name=$1
	local short=${name#fuzz_}
	local bin="$OUT/$name"
	local log="$LOGS/$name.log"
	local corpus="$TMP/corpus-$short"
	local result=ok
	local detail=""
	local execs
	local rc=0
	local f

	: >"$log"
	# Saved reproducers first: regressions/<harness>-<short-name> (fuzz_csv-x or csv-x).
	for f in "$FUZZ"/regressions/"$name"-* "$FUZZ"/regressions/"$short"-*; do
		[ -f "$f" ] || continue
		echo "== regression $f" >>"$log"
		if ! "$bin" "${LIBFUZZER_OPTS[@]}" "$f" >>"$log" 2>&1; then
			result="regression $(verdict "$log")"
			detail="$detail $f"
		fi
	done

	mkdir -p "$corpus"
	if [ -d "$FUZZ/corpus/$short" ]; then
		cp -R "$FUZZ/corpus/$short/." "$corpus/"
	fi
	echo "== fuzzing for ${DURATION}s on a copy of $FUZZ/corpus/$short" >>"$log"
	"$bin" "${LIBFUZZER_OPTS[@]}" -max_total_time="$DURATION" -print_final_stats=1 \
		-artifact_prefix="$ARTIFACTS/$name-" "$corpus" >>"$log" 2>&1 || rc=$?
	execs=$(grep -a 'stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
	if [ -z "$execs" ]; then
		# No final stats (the run died): the last status line's count.
		execs=$(grep -ao '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
	fi
	if [ "$rc" -ne 0 ]; then
		f=$(grep -ao 'Test unit written to [^ ]*' "$log" | tail -n 1 |
			sed 's/^Test unit written to //')
		if [ "$result" = ok ]; then
			result=$(verdict "$log")
		else
			result="$result, $(verdict "$log")"
		fi
		detail="$detail ${f:-"(exit $rc)"}"
	fi
	printf '%s\t%s\t%s\t%s\n' "$name" "${execs:-?}" "$result" "${detail# }" >"$TMP/$name.result"
}

echo "fuzzing ${#harnesses[@]} harnesses for ${DURATION}s each, $JOBS at a time (logs: $LOGS/)"
for name in "${harnesses[@]}"; do
	spawn fuzz_one "$name"
done
wait_all

status=0
printf '%-20s %14s  %s\n' harness executions result
for name in "${harnesses[@]}"; do
	if [ ! -f "$TMP/$name.result" ]; then
		printf '%-20s %14s  %s\n' "$name" "?" "did not finish"
		status=1
		continue
	fi
	IFS=$'\t' read -r n execs result detail <"$TMP/$name.result"
	if [ "$result" = ok ]; then
		printf '%-20s %14s  %s\n' "$n" "$execs" ok
	else
		printf '%-20s %14s  %s: %s (log: %s)\n' "$n" "$execs" "$result" "$detail" \
			"$LOGS/$n.log"
		status=1
	fi
done
exit "$status"
