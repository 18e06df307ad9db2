#!/bin/sh
# Installs the Debian packages smsrouter needs to build, test and benchmark.
# Idempotent: asks apt-get only for what is missing. Runs as root (or sudo).
set -eu

PKGS="meson ninja-build pkg-config gcc clang libclang-rt-14-dev
libmicrohttpd-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev libjansson-dev
libpq-dev libexpat1-dev libicu-dev libcmocka-dev postgresql
python3 python3-twilio python3-prometheus-client python3-yaml prometheus
wrk nginx-light curl
chromium chromium-driver python3-selenium libjs-chart.js"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
