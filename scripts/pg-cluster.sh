#!/bin/sh
# A private PostgreSQL cluster for tests and local runs, kept in one directory:
#   scripts/pg-cluster.sh start DIR   creates the cluster on first use, then starts it
#   scripts/pg-cluster.sh stop DIR    stops that cluster only (pg_ctl and its own pid file)
#   scripts/pg-cluster.sh url DIR     prints postgresql://smsrouter:PASS@127.0.0.1:PORT/smsrouter
# Installs nothing (scripts/install-deps.sh installs postgresql). As root, the server runs as
# the `postgres` system user (initdb refuses root) and DIR is given to it. The server listens
# on 127.0.0.1 only, on a free port chosen at creation and kept in DIR; its unix socket
# directory is inside DIR; fsync is on. Roles, as the store wants them (src/store/postgres.c):
#   smsrouter         LOGIN NOINHERIT CREATEDB, a random password, owns database smsrouter;
#                     not a superuser, so row-level security applies to it
#   smsrouter_system  NOLOGIN; smsrouter is a member (NOINHERIT: it does not get its rights)
#                     so that migrations can make it the owner of the cross-user functions
# Idempotent: start on a running cluster, or stop on a stopped one, does nothing.
set -eu

usage() {
	echo "usage: $0 start|stop|url DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
case $2 in
/*) dir=$2 ;;
*) dir=$(pwd)/$2 ;;
esac
data=$dir/data
sock=$dir/sock

bindir() {
	# shellcheck disable=SC2012 # the newest version's directory, by name
	b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	if [ -z "$b" ] || [ ! -x "$b/pg_ctl" ]; then
		echo "pg-cluster: PostgreSQL is not installed (run scripts/install-deps.sh)" >&2
		exit 1
	fi
	echo "$b"
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A TCP port no socket uses, between 20000 and 32767: below Linux's ephemeral range
# (32768-60999), where a client connection could hold the port we pick.
free_port() {
	i=0
	while [ $i -lt 100 ]; do
		p=$(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12768 + 20000))
		if ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
		i=$((i + 1))
	done
	echo "pg-cluster: no free port found" >&2
	exit 1
}

running() {
	[ -f "$data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

create() {
	mkdir -p "$dir"
	chmod 0700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$dir"
	fi
	umask 077
	if [ ! -f "$dir/password" ]; then
		od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/password.tmp"
		mv "$dir/password.tmp" "$dir/password"
	fi
	as_owner mkdir -p "$sock"
	as_owner "$BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	port=$(free_port)
	as_owner sh -c "cat >>'$data/postgresql.conf'" <<EOF
# pg-cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
fsync = on
synchronous_commit = on
max_connections = 200
log_min_messages = warning
EOF
	echo "$port" >"$dir/port"
}

# The roles and the database, made or brought up to date; the password is set each time.
provision() {
	pass=$(cat "$dir/password")
	port=$(cat "$dir/port")
	as_owner "$BIN/psql" -X -q -h "$sock" -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 -v pass="$pass" >/dev/null <<'EOF'
SET client_min_messages = warning;
SELECT 'CREATE ROLE smsrouter_system NOLOGIN'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'smsrouter_system') \gexec
SELECT 'CREATE ROLE smsrouter LOGIN'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'smsrouter') \gexec
ALTER ROLE smsrouter LOGIN NOINHERIT CREATEDB NOSUPERUSER NOBYPASSRLS NOCREATEROLE
	PASSWORD :'pass';
GRANT smsrouter_system TO smsrouter;
SELECT 'CREATE DATABASE smsrouter OWNER smsrouter'
	WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'smsrouter') \gexec
EOF
}

start() {
	if [ ! -f "$data/PG_VERSION" ]; then
		create
	fi
	if ! running; then
		as_owner "$BIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 30 start \
			>/dev/null || {
			tail -n 20 "$dir/server.log" >&2
			exit 1
		}
	fi
	provision
}

stop() {
	if running; then
		as_owner "$BIN/pg_ctl" -D "$data" -w -t 30 stop -m fast >/dev/null
	fi
}

url() {
	if [ ! -f "$dir/port" ] || [ ! -f "$dir/password" ]; then
		echo "pg-cluster: no cluster in $dir (run: $0 start $dir)" >&2
		exit 1
	fi
	echo "postgresql://smsrouter:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/smsrouter"
}

case $cmd in
start)
	BIN=$(bindir)
	start
	;;
stop)
	BIN=$(bindir)
	stop
	;;
url) url ;;
*) usage ;;
esac
