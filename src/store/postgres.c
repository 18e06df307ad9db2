/* store on PostgreSQL (libpq): several router processes share one database.
 *
 * Connections. One per thread (a pthread key, as in sqlite.c), opened on first use with
 * connect_timeout 2 s; each statement is prepared once per connection (PQprepare) and run
 * with PQexecPrepared. Before a call uses an idle connection it checks, without a round
 * trip, whether the server has said goodbye (a restart: the socket is readable, then EOF);
 * a broken connection is dropped and the call connects afresh and prepares again. While the
 * server is down a call fails at once with -EIO (the connection is refused), so /ready and
 * the webhook answer 503 quickly; when it is back the next call works. A call whose first
 * round trip, BEGIN, finds the connection broken retries it once on a new connection
 * (nothing was done yet); any later failure returns -EIO and the next call reconnects.
 * store_tx_begin opens a transaction around several calls of the thread (the router's
 * one commit per message): inside it, a call's own transaction is a savepoint.
 *
 * User isolation (DESIGN.md). Everything lives in schema `smsrouter`. The per-user tables
 * (users, phones, messages, notes, outbox) have row-level security, ENABLEd and FORCEd
 * (the service role owns them, and an owner is exempt without FORCE). Their `*_own` policy
 * shows and accepts a row only when its user id equals the transaction's setting
 * smsrouter.user_id; messages of unknown senders (user_id NULL) belong to the pseudo-user
 * "-", which no user id can be. Every per-user call here runs in a transaction that first
 * does set_config('smsrouter.user_id', <the id it was given>, true), so a query of such a
 * call that forgot its `WHERE user_id = $1`, or joined wrongly, still sees that one user's
 * rows and cannot write another's. Without the setting (or after the transaction, when it
 * reads '') no row is visible.
 * The calls that must cross users (answer_for and dedupe by MessageSid, user_by_phone and
 * route_lookup, user_list, counts, status callbacks by id or sid, the outbox's claim, ready,
 * update, sent, list, retry and depth, outbound_state, usage) each call one SQL function sr_*:
 * SECURITY DEFINER, owned by the NOLOGIN role smsrouter_system, the only role the `*_system`
 * policies (USING true) name. Each function does one fixed thing and returns only what its store
 * call returns (the phone lookup returns one user, usage returns sums, the outbox returns due
 * rows); EXECUTE is revoked from PUBLIC and granted to the service role. The service role does not
 * hold smsrouter_system's rights: it is NOINHERIT (PostgreSQL 15 sets inheritance per role), a
 * member only so that migrations can create the functions as smsrouter_system. Inserts that must
 * not collide across users (a phone number, a MessageSid) rely on unique constraints, which see
 * every row without reading any. Opt-outs and onboarding are keyed by phone number and belong to no
 * user: plain tables. So a bug above the store cannot read across users: each call it can make is
 * scoped to the user id it passes, or is one of the fixed functions. Row-level security does not
 * bind a superuser or a BYPASSRLS role, nor SQL that runs SET ROLE smsrouter_system (none here):
 * store_postgres_open refuses a role that is a superuser, has BYPASSRLS or inherits
 * smsrouter_system. The roles an operator creates (scripts/pg-cluster.sh does this):
 *   CREATE ROLE smsrouter_system NOLOGIN;
 *   CREATE ROLE smsrouter LOGIN NOINHERIT PASSWORD '…';
 *   GRANT smsrouter_system TO smsrouter;
 *   CREATE DATABASE smsrouter OWNER smsrouter;
 *
 * Migrations are versioned like sqlite.c's (version 1 is the whole current schema; the
 * table schema_migrations records each) and applied in one transaction under
 * pg_advisory_xact_lock, so two processes starting together apply each once. Times are
 * sqlite.c's units: seconds for messages, users, notes, opt-outs and onboarding,
 * milliseconds for the outbox. store_options.sync is SQLite's: here a commit is durable
 * when it returns (keep the server's synchronous_commit on; it does its own group commit).
 *
 * Several processes: MessageSid dedupe is the unique constraint; the agent stage claims
 * with FOR UPDATE SKIP LOCKED, one row per user at a time; a send attempt takes its row
 * only if it is still due (sr_outbox_update), so two senders never send one reply twice. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store/backend.h"

_Static_assert(STORE_FLAG_SENT_BY_API == 4, "the SQL below reads it as flags & 4");

#define SYSTEM_ROLE "smsrouter_system"
#define MIGRATE_LOCK "7310593858" /* pg_advisory_xact_lock key of the migrations */

/* Runs first, in the migrations' transaction: the lock, the schema and the version table. */
static const char migrate_prelude[] =
	"SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
	"CREATE SCHEMA IF NOT EXISTS smsrouter;"
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	"  version integer PRIMARY KEY,"
	"  applied_at bigint NOT NULL)";

/* Migration 1, the whole schema: tables (the shape of sqlite.c's), row-level security, then
 * the cross-user functions, created as smsrouter_system. Frozen once released: a change is
 * a new migration. In parts, each under the 4095 bytes ISO C promises for a literal. */
static const char *const migration_1[] = {
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE users ("
	"  id text PRIMARY KEY,"
	"  name text NOT NULL,"
	"  created_at bigint NOT NULL);"
	"CREATE TABLE phones ("
	"  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  phone text NOT NULL UNIQUE,"
	"  user_id text NOT NULL);"
	"CREATE INDEX phones_user ON phones (user_id, seq);"
	"CREATE TABLE optouts ("
	"  phone text PRIMARY KEY,"
	"  created_at bigint NOT NULL);"
	"CREATE TABLE messages ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  user_id text,"
	"  sid text UNIQUE,"
	"  direction text NOT NULL CHECK (direction IN ('inbound', 'outbound')),"
	"  from_addr text NOT NULL,"
	"  to_addr text NOT NULL,"
	"  body text NOT NULL,"
	"  status text NOT NULL,"
	"  status_rank integer NOT NULL DEFAULT 0,"
	"  error_code text,"
	"  encoding text NOT NULL,"
	"  segments integer NOT NULL,"
	"  media text,"
	"  reply_to bigint,"
	"  flags integer NOT NULL DEFAULT 0,"
	"  created_at bigint NOT NULL);"
	"CREATE INDEX messages_user ON messages (user_id, id);"
	"CREATE INDEX messages_reply ON messages (reply_to) WHERE reply_to IS NOT NULL;"
	"CREATE INDEX messages_created ON messages (created_at);"
	"CREATE TABLE notes ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  user_id text NOT NULL,"
	"  body text NOT NULL,"
	"  created_at bigint NOT NULL);"
	"CREATE INDEX notes_user ON notes (user_id, id);"
	"CREATE TABLE onboarding ("
	"  phone text PRIMARY KEY,"
	"  sent_at bigint NOT NULL);"
	"CREATE TABLE outbox ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  user_id text NOT NULL,"
	"  inbound_id bigint NOT NULL,"
	"  outbound_id bigint,"
	"  state text NOT NULL CHECK (state IN ('agent', 'send', 'sending', 'done', 'dead')),"
	"  attempts integer NOT NULL DEFAULT 0,"
	"  next_at bigint NOT NULL,"
	"  sent_at bigint,"
	"  last_error text,"
	"  created_at bigint NOT NULL,"
	"  updated_at bigint NOT NULL);"
	"CREATE INDEX outbox_due ON outbox (state, next_at);"
	"CREATE INDEX outbox_user ON outbox (user_id, id);",

	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE users ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE users FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY users_own ON users"
	"  USING (id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY users_system ON users TO " SYSTEM_ROLE " USING (true);"
	"ALTER TABLE phones ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE phones FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY phones_own ON phones"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY phones_system ON phones TO " SYSTEM_ROLE " USING (true);"
	"ALTER TABLE messages ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE messages FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY messages_own ON messages"
	"  USING (coalesce(user_id, '-') = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY messages_system ON messages TO " SYSTEM_ROLE " USING (true);"
	"ALTER TABLE notes ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE notes FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY notes_own ON notes"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE outbox FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY outbox_own ON outbox"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY outbox_system ON outbox TO " SYSTEM_ROLE " USING (true);"
	/* What the functions read and write; CREATE so that the role can own them. */
	"GRANT USAGE, CREATE ON SCHEMA smsrouter TO " SYSTEM_ROLE ";"
	"GRANT SELECT ON users, phones, optouts TO " SYSTEM_ROLE ";"
	"GRANT SELECT, UPDATE ON messages, outbox TO " SYSTEM_ROLE ";",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE TYPE sr_outbox_row AS ("
	"  id bigint, user_id text, inbound_id bigint, outbound_id bigint, state text,"
	"  attempts integer, next_at bigint, sent_at bigint, created_at bigint, last_error text,"
	"  to_addr text, from_addr text, body text, segments integer);"
	"CREATE FUNCTION sr_counts(OUT users bigint, OUT phones bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM phones) $$;"
	"CREATE FUNCTION sr_user_by_phone(p_phone text) RETURNS TABLE (id text, name text,"
	"  created_at bigint, phones text, opted_out boolean)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.id, u.name, u.created_at, coalesce((SELECT string_agg(p.phone, ' '"
	"    ORDER BY p.seq) FROM phones p WHERE p.user_id = u.id), ''),"
	"    EXISTS (SELECT 1 FROM phones p JOIN optouts o ON o.phone = p.phone"
	"    WHERE p.user_id = u.id)"
	"  FROM phones k JOIN users u ON u.id = k.user_id WHERE k.phone = p_phone $$;"
	/* Routing's one lookup: the sender's user, if any, and whether the number opted out. */
	"CREATE FUNCTION sr_route(p_phone text) RETURNS TABLE (id text, name text,"
	"  created_at bigint, opted_out boolean)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.id, u.name, u.created_at,"
	"    EXISTS (SELECT 1 FROM optouts o WHERE o.phone = p_phone)"
	"  FROM (SELECT 1) x LEFT JOIN phones k ON k.phone = p_phone"
	"    LEFT JOIN users u ON u.id = k.user_id $$;"
	"CREATE FUNCTION sr_users() RETURNS TABLE (id text, name text, created_at bigint,"
	"  phones text, opted_out boolean)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.id, u.name, u.created_at, coalesce((SELECT string_agg(p.phone, ' '"
	"    ORDER BY p.seq) FROM phones p WHERE p.user_id = u.id), ''),"
	"    EXISTS (SELECT 1 FROM phones p JOIN optouts o ON o.phone = p.phone"
	"    WHERE p.user_id = u.id)"
	"  FROM users u ORDER BY u.created_at, u.id $$;"
	"CREATE FUNCTION sr_answer_for(p_sid text) RETURNS TABLE (inbound_id bigint,"
	"  outbound_id bigint, body text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT i.id, o.id, o.body FROM messages i LEFT JOIN messages o"
	"    ON o.reply_to = i.id AND o.direction = 'outbound'"
	"  WHERE i.sid = p_sid AND i.direction = 'inbound' ORDER BY o.id LIMIT 1 $$;"
	"CREATE FUNCTION sr_outbound_state(p_id bigint) RETURNS TABLE (sid text, status text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT coalesce(m.sid, ''), m.status FROM messages m"
	"  WHERE m.id = p_id AND m.direction = 'outbound' $$;"
	"CREATE FUNCTION sr_usage(p_since bigint) RETURNS TABLE (user_id text, inbound bigint,"
	"  outbound bigint, segments bigint, over_budget bigint, truncated bigint,"
	"  smart_encoded bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT m.user_id, count(*) FILTER (WHERE m.direction = 'inbound'),"
	"    count(*) FILTER (WHERE m.direction = 'outbound'), coalesce(sum(m.segments), 0),"
	"    count(*) FILTER (WHERE m.status = 'over_budget'),"
	"    count(*) FILTER (WHERE m.flags & 2 <> 0), count(*) FILTER (WHERE m.flags & 1 <> 0)"
	"  FROM messages m WHERE m.created_at >= p_since"
	"  GROUP BY m.user_id ORDER BY m.user_id IS NULL, m.user_id $$;",

	/* A status callback names the message by our id or Twilio's sid: -1 no such outbound
	 * message, 0 unchanged, 1 moved forward. */
	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE FUNCTION sr_status_update(p_id bigint, p_sid text, p_status text,"
	"  p_rank integer, p_error text) RETURNS integer"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"DECLARE n integer := 0;"
	"BEGIN"
	"  IF p_id > 0 AND p_sid IS NOT NULL THEN"
	"    BEGIN"
	"      UPDATE messages SET sid = p_sid"
	"      WHERE id = p_id AND direction = 'outbound' AND sid IS NULL;"
	"    EXCEPTION WHEN unique_violation THEN NULL;" /* another message has it: keep ours */
	"    END;"
	"  END IF;"
	"  IF p_rank > 0 THEN"
	"    IF p_id > 0 THEN"
	"      UPDATE messages SET status = p_status, status_rank = p_rank,"
	"        error_code = coalesce(p_error, error_code)"
	"      WHERE id = p_id AND direction = 'outbound' AND status_rank < p_rank;"
	"    ELSE"
	"      UPDATE messages SET status = p_status, status_rank = p_rank,"
	"        error_code = coalesce(p_error, error_code)"
	"      WHERE sid = p_sid AND direction = 'outbound' AND status_rank < p_rank;"
	"    END IF;"
	"    GET DIAGNOSTICS n = ROW_COUNT;"
	"    IF n > 0 THEN RETURN 1; END IF;"
	"  END IF;"
	"  IF p_id > 0 THEN"
	"    PERFORM 1 FROM messages WHERE id = p_id AND direction = 'outbound';"
	"  ELSE"
	"    PERFORM 1 FROM messages WHERE sid = p_sid AND direction = 'outbound';"
	"  END IF;"
	"  RETURN CASE WHEN FOUND THEN 0 ELSE -1 END;"
	"END $$;"
	/* The agent stage: the oldest due row in state agent that is first in its user's line,
	 * leased. Rows locked by another claimer are skipped; the row a claim leases stays in
	 * state agent, so the next row of that user is not first in line meanwhile. */
	"CREATE FUNCTION sr_outbox_claim(p_now bigint, p_lease bigint)"
	" RETURNS SETOF sr_outbox_row"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH c AS (SELECT o.id, o.next_at FROM outbox o"
	"    WHERE o.state = 'agent' AND o.next_at <= p_now AND NOT EXISTS (SELECT 1 FROM outbox p"
	"      WHERE p.user_id = o.user_id AND p.id < o.id"
	"      AND p.state IN ('agent', 'send', 'sending'))"
	"    ORDER BY o.next_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED)"
	"  UPDATE outbox o SET next_at = p_lease, attempts = o.attempts + 1, updated_at = p_now"
	"  FROM c WHERE o.id = c.id"
	"  RETURNING o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"
	"    o.attempts, c.next_at, coalesce(o.sent_at, 0), o.created_at,"
	"    coalesce(o.last_error, ''), ''::text, ''::text, NULL::text, 0 $$;"
	"CREATE FUNCTION sr_outbox_ready(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_outbox_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"
	"    o.attempts, o.next_at, coalesce(o.sent_at, 0), o.created_at,"
	"    coalesce(o.last_error, ''), m.to_addr, m.from_addr, m.body, m.segments"
	"  FROM outbox o JOIN messages m ON m.id = o.outbound_id"
	"  WHERE o.state IN ('send', 'sending') AND o.next_at <= p_now"
	"    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = o.user_id AND p.id < o.id"
	"      AND p.state IN ('agent', 'send', 'sending'))"
	"  ORDER BY o.id LIMIT p_limit $$;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* A send attempt (to sending, counting an attempt) takes the row only while it is still
	 * waiting to be sent and due: of two processes that listed it, one sends, and a row
	 * another process finished is not sent again. 0 rows: someone else has it. */
	"CREATE FUNCTION sr_outbox_update(p_id bigint, p_state text, p_next bigint,"
	"  p_attempt integer, p_error text, p_now bigint) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH u AS (UPDATE outbox SET state = p_state, next_at = p_next,"
	"    attempts = attempts + p_attempt, last_error = coalesce(p_error, last_error),"
	"    sent_at = CASE WHEN p_state = 'sending' THEN p_now ELSE sent_at END,"
	"    updated_at = p_now WHERE id = p_id AND NOT (p_state = 'sending' AND p_attempt > 0"
	"    AND (state NOT IN ('send', 'sending') OR next_at > p_now)) RETURNING 1)"
	"  SELECT count(*) FROM u $$;"
	"CREATE FUNCTION sr_outbox_sent(p_id bigint, p_outbound_id bigint, p_sid text,"
	"  p_status text, p_rank integer, p_now bigint) RETURNS void"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN"
	"  BEGIN"
	"    UPDATE messages SET sid = coalesce(sid, p_sid),"
	"      status = CASE WHEN status_rank < p_rank THEN p_status ELSE status END,"
	"      status_rank = greatest(status_rank, p_rank)"
	"    WHERE id = p_outbound_id AND direction = 'outbound';"
	"  EXCEPTION WHEN unique_violation THEN" /* the sid names another message */
	"    UPDATE messages SET"
	"      status = CASE WHEN status_rank < p_rank THEN p_status ELSE status END,"
	"      status_rank = greatest(status_rank, p_rank)"
	"    WHERE id = p_outbound_id AND direction = 'outbound';"
	"  END;"
	"  UPDATE outbox SET state = 'done', updated_at = p_now WHERE id = p_id;"
	"END $$;"
	"CREATE FUNCTION sr_outbox_list(p_state text, p_limit integer)"
	" RETURNS SETOF sr_outbox_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"
	"    o.attempts, o.next_at, coalesce(o.sent_at, 0), o.created_at,"
	"    coalesce(o.last_error, ''), coalesce(m.to_addr, ''), coalesce(m.from_addr, ''),"
	"    coalesce(m.body, ''), coalesce(m.segments, 0)"
	"  FROM outbox o LEFT JOIN messages m ON m.id = o.outbound_id"
	"  WHERE (p_state IS NULL AND o.state <> 'done') OR o.state = p_state"
	"  ORDER BY o.id LIMIT p_limit $$;"
	"CREATE FUNCTION sr_outbox_retry(p_id bigint, p_now bigint) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH u AS (UPDATE outbox SET state = CASE WHEN outbound_id IS NULL THEN 'agent'"
	"    WHEN sent_at IS NULL THEN 'send' ELSE 'sending' END, attempts = 0,"
	"    next_at = p_now, updated_at = p_now"
	"    WHERE state = 'dead' AND (p_id = 0 OR id = p_id) RETURNING 1)"
	"  SELECT count(*) FROM u $$;"
	"CREATE FUNCTION sr_outbox_depth() RETURNS bigint"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT count(*) FROM outbox WHERE state IN ('agent', 'send', 'sending') $$;"
	/* Only the service role (the one migrating) may call them. */
	"DO $$ DECLARE f regprocedure;"
	"BEGIN"
	"  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p"
	"    WHERE p.pronamespace = 'smsrouter'::regnamespace"
	"    AND p.proowner = current_user::regrole LOOP"
	"    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);"
	"    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, session_user);"
	"  END LOOP;"
	"END $$;"
	"RESET ROLE;",
	NULL,
};

/* Migration 2: the sender rate limit, shared by every process on the database and kept
 * across restarts. One row per number that sent within its window: tat is the limit's
 * "theoretical arrival time" (GCRA) in microseconds of the server's clock. Keyed by number,
 * no user's rows: a plain table, like onboarding. */
static const char *const migration_2[] = {
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE sender_limits ("
	"  phone text PRIMARY KEY,"
	"  tat bigint NOT NULL);",
	/* A reply sent through the Messages API (flag 4, STORE_FLAG_SENT_BY_API) was no part
	 * of the webhook's answer: a retry must not get it as TwiML and send it again. Same
	 * signature, so the owner and the grants of migration 1 stay. */
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE OR REPLACE FUNCTION sr_answer_for(p_sid text) RETURNS TABLE (inbound_id bigint,"
	"  outbound_id bigint, body text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT i.id, o.id, o.body FROM messages i LEFT JOIN messages o"
	"    ON o.reply_to = i.id AND o.direction = 'outbound' AND (o.flags & 4) = 0"
	"  WHERE i.sid = p_sid AND i.direction = 'inbound' ORDER BY o.id LIMIT 1 $$;"
	"RESET ROLE;",
	NULL,
};

/* Versioned migrations: migrations[i] takes the schema from version i to i + 1. */
static const char *const *const migrations[] = {
	migration_1,
	migration_2,
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_SCOPE,
	ST_PING,
	ST_VERSION,
	ST_COUNTS,
	ST_USER_INSERT,
	ST_PHONE_INSERT,
	ST_USER_GET,
	ST_USER_BY_PHONE,
	ST_ROUTE,
	ST_USER_LIST,
	ST_USER_LOCK,
	ST_DEL_NOTES,
	ST_DEL_OUTBOX,
	ST_DEL_MESSAGES,
	ST_DEL_PHONES,
	ST_DEL_USER,
	ST_PHONE_MINE,
	ST_PHONE_COUNT,
	ST_PHONE_DELETE,
	ST_ANSWER_FOR,
	ST_MESSAGE_INSERT,
	ST_STATUS_UPDATE,
	ST_MESSAGE_GET,
	ST_MESSAGES_NEWEST,
	ST_MESSAGES_HISTORY,
	ST_NOTE_INSERT,
	ST_NOTES_LIST,
	ST_NOTES_CLEAR,
	ST_OPTOUT_INSERT,
	ST_OPTOUT_DELETE,
	ST_OPTOUT_GET,
	ST_ONBOARDING,
	ST_SENDER_TAKE,
	ST_SENDER_SWEEP,
	ST_USAGE,
	ST_OUT_SEGMENTS,
	ST_OB_INSERT,
	ST_OB_CLAIM,
	ST_OB_REPLIED,
	ST_OB_READY,
	ST_OB_UPDATE,
	ST_OB_SENT,
	ST_OB_LIST,
	ST_OB_RETRY,
	ST_OB_DEPTH,
	ST_OUTBOUND_STATE,
	ST_COUNT,
};

#define MSG_COLS                                                                           \
	"id, sid, direction, from_addr, to_addr, body, status, encoding, segments, media, " \
	"reply_to, created_at"

/* Per-user statements run after ST_SCOPE and keep their own user_id condition; the sr_*
 * functions are the cross-user ones (see the top). */
static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT nested",
	[ST_RELEASE] = "RELEASE nested",
	[ST_ROLLBACK_TO] = "ROLLBACK TO nested",
	[ST_SCOPE] = "SELECT set_config('smsrouter.user_id', $1, true)",
	[ST_PING] = "SELECT 1",
	[ST_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_migrations",
	[ST_COUNTS] = "SELECT users, phones FROM sr_counts()",
	[ST_USER_INSERT] = "INSERT INTO users (id, name, created_at) VALUES ($1, $2, $3)",
	[ST_PHONE_INSERT] = "INSERT INTO phones (phone, user_id) VALUES ($1, $2)",
	[ST_USER_GET] = "SELECT u.id, u.name, u.created_at, coalesce((SELECT string_agg(p.phone, "
			"' ' ORDER BY p.seq) FROM phones p WHERE p.user_id = u.id), ''), EXISTS "
			"(SELECT 1 FROM phones p JOIN optouts o ON o.phone = p.phone WHERE "
			"p.user_id = u.id) FROM users u WHERE u.id = $1",
	[ST_USER_BY_PHONE] = "SELECT * FROM sr_user_by_phone($1)",
	[ST_ROUTE] = "SELECT * FROM sr_route($1)",
	[ST_USER_LIST] = "SELECT * FROM sr_users()",
	[ST_USER_LOCK] = "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
	[ST_DEL_NOTES] = "DELETE FROM notes WHERE user_id = $1",
	[ST_DEL_OUTBOX] = "DELETE FROM outbox WHERE user_id = $1",
	[ST_DEL_MESSAGES] = "DELETE FROM messages WHERE user_id = $1",
	[ST_DEL_PHONES] = "DELETE FROM phones WHERE user_id = $1",
	[ST_DEL_USER] = "DELETE FROM users WHERE id = $1",
	[ST_PHONE_MINE] = "SELECT 1 FROM phones WHERE phone = $1 AND user_id = $2",
	[ST_PHONE_COUNT] = "SELECT count(*) FROM phones WHERE user_id = $1",
	[ST_PHONE_DELETE] = "DELETE FROM phones WHERE phone = $1 AND user_id = $2",
	[ST_ANSWER_FOR] = "SELECT inbound_id, outbound_id, body FROM sr_answer_for($1)",
	[ST_MESSAGE_INSERT] = "INSERT INTO messages (user_id, sid, direction, from_addr, to_addr, "
			      "body, status, status_rank, encoding, segments, media, reply_to, "
			      "created_at, flags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
			      "$11, $12, $13, $14) RETURNING id",
	[ST_STATUS_UPDATE] = "SELECT sr_status_update($1, $2, $3, $4, $5)",
	[ST_MESSAGE_GET] = "SELECT " MSG_COLS " FROM messages WHERE user_id = $1 AND id = $2",
	[ST_MESSAGES_NEWEST] = "SELECT " MSG_COLS " FROM messages WHERE user_id = $1 "
			       "ORDER BY id DESC LIMIT $2",
	/* Stored before $3, or the reply to a message that was (see store_history). */
	[ST_MESSAGES_HISTORY] = "SELECT * FROM (SELECT " MSG_COLS " FROM messages "
				"WHERE user_id = $1 AND least(id, coalesce(reply_to, id)) < $3 "
				"ORDER BY id DESC LIMIT $2) h ORDER BY id",
	[ST_NOTE_INSERT] = "INSERT INTO notes (user_id, body, created_at) VALUES ($1, $2, $3)",
	[ST_NOTES_LIST] = "SELECT body FROM notes WHERE user_id = $1 ORDER BY id",
	[ST_NOTES_CLEAR] = "DELETE FROM notes WHERE user_id = $1",
	[ST_OPTOUT_INSERT] = "INSERT INTO optouts (phone, created_at) VALUES ($1, $2) "
			     "ON CONFLICT (phone) DO NOTHING",
	[ST_OPTOUT_DELETE] = "DELETE FROM optouts WHERE phone = $1",
	[ST_OPTOUT_GET] = "SELECT 1 FROM optouts WHERE phone = $1",
	/* GCRA, one statement: a message may come when the number's tat is at most $3 (the
	 * burst: count - 1 intervals) ahead of now; taking it moves tat one interval ($2) on.
	 * The row's lock makes two processes take turns. A row comes back if it was taken. */
	[ST_SENDER_TAKE] = "INSERT INTO sender_limits AS l (phone, tat) SELECT $1, "
			   "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $2::bigint "
			   "ON CONFLICT (phone) DO UPDATE SET tat = greatest(l.tat, excluded.tat - "
			   "$2::bigint) + $2::bigint WHERE greatest(l.tat, excluded.tat - $2::bigint) "
			   "- (excluded.tat - $2::bigint) <= $3::bigint RETURNING 1",
	/* A row whose tat has passed is a full bucket: the same as no row. */
	[ST_SENDER_SWEEP] = "DELETE FROM sender_limits WHERE tat < "
			    "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
	[ST_ONBOARDING] = "INSERT INTO onboarding (phone, sent_at) VALUES ($1, $2) "
			  "ON CONFLICT (phone) DO UPDATE SET sent_at = excluded.sent_at "
			  "WHERE onboarding.sent_at <= $2::bigint - $3::bigint",
	[ST_USAGE] = "SELECT * FROM sr_usage($1)",
	[ST_OUT_SEGMENTS] = "SELECT coalesce(sum(segments), 0) FROM messages WHERE user_id = $1 "
			    "AND direction = 'outbound' AND created_at >= $2",
	[ST_OB_INSERT] = "INSERT INTO outbox (user_id, inbound_id, state, next_at, created_at, "
			 "updated_at) VALUES ($1, $2, 'agent', $3, $3, $3)",
	[ST_OB_CLAIM] = "SELECT * FROM sr_outbox_claim($1, $2)",
	[ST_OB_REPLIED] = "UPDATE outbox SET state = $2, outbound_id = $3, attempts = 0, "
			  "next_at = $4, updated_at = $4 WHERE id = $1 AND state = 'agent'",
	[ST_OB_READY] = "SELECT * FROM sr_outbox_ready($1, $2)",
	[ST_OB_UPDATE] = "SELECT sr_outbox_update($1, $2, $3, $4, $5, $6)",
	[ST_OB_SENT] = "SELECT sr_outbox_sent($1, $2, $3, $4, $5, $6)",
	[ST_OB_LIST] = "SELECT * FROM sr_outbox_list($1, $2)",
	[ST_OB_RETRY] = "SELECT sr_outbox_retry($1, $2)",
	[ST_OB_DEPTH] = "SELECT sr_outbox_depth()",
	[ST_OUTBOUND_STATE] = "SELECT sid, status FROM sr_outbound_state($1)",
};

struct conn {
	struct store_conn link; /* first: the registry's */
	PGconn *pg; /* NULL while disconnected */
	bool prepared[ST_COUNT];
	int depth; /* open transactions: 1 a BEGIN, more its savepoints */
};

struct pg_store {
	struct store base; /* first: the interface */
	char *url;
	struct store_conns conns; /* one connection per thread */
	atomic_uint takes;        /* pg_sender_take calls, for its sweep */
};

static struct pg_store *PG(struct store *s) {
	return (struct pg_store *)s;
}

/* ---- connections ---- */

/* The server's notices (e.g. "schema exists, skipping") are not ours to print. */
static void quiet(void *arg, const char *message) {
	(void)arg;
	(void)message;
}

static void conn_drop(struct conn *c) {
	PQfinish(c->pg);
	c->pg = NULL;
	memset(c->prepared, 0, sizeof(c->prepared));
}

static void conn_free(struct conn *c) {
	conn_drop(c);
	free(c);
}

static void conn_gone(struct store_conn *link) {
	conn_free((struct conn *)link);
}

/* Runs text without parameters (one-off SQL: set-up, migrations). 0 or -EIO. */
static int exec_text(PGconn *pg, const char *text) {
	PGresult *res = PQexec(pg, text);
	ExecStatusType st = PQresultStatus(res);
	int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;

	if (r < 0) {
		log_debug("store.pg_failed", LOG_STR("error", PQerrorMessage(pg)));
	}
	PQclear(res);
	return r;
}

/* Opens a connection to url. The URL's own settings win over ours (listed first). Besides
 * the short connect timeout, a server host that vanishes mid-call (no restart, no reset)
 * is given up after 10 s of unacknowledged data rather than the kernel's many minutes. */
static PGconn *pg_connect(const char *url) {
	static const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle",
		"application_name", "client_encoding", "dbname", NULL};
	const char *const values[] = {"2", "10000", "30", "smsrouter", "UTF8", url, NULL};
	PGconn *pg = PQconnectdbParams(keys, values, 1);

	if (!pg) {
		return NULL;
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		log_debug("store.pg_connect_failed", LOG_STR("error", PQerrorMessage(pg)));
		PQfinish(pg);
		return NULL;
	}
	PQsetNoticeProcessor(pg, quiet, NULL);
	if (exec_text(pg, "SET search_path = smsrouter") < 0) {
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

/* Whether an idle connection is still usable, without a round trip: a server that shut
 * down has sent its last words and closed the socket, so the socket reads; anything else
 * readable while idle (a notice) is consumed and the connection kept. */
static bool conn_alive(struct conn *c) {
	if (PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		return false;
	}
	for (int i = 0; i < 4; i++) {
		struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
		int n = poll(&pfd, 1, 0);
		if (n == 0) {
			return true;
		}
		if (n < 0 || !PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
			return false;
		}
	}
	return true;
}

/* The thread's connection: connected and idle, or in the transaction it has open. 0,
 * -ENOMEM, -EIO (the server is away). */
static int conn_get(struct pg_store *q, struct conn **ret) {
	struct conn *c = (struct conn *)store_conns_mine(&q->conns);

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c) {
			return -ENOMEM;
		}
		if (store_conns_add(&q->conns, &c->link) < 0) {
			free(c);
			return -ENOMEM;
		}
	}
	if (c->depth > 0) {
		/* Inside a transaction the connection must stay the same one. */
		if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
			return -EIO;
		}
		*ret = c;
		return 0;
	}
	if (c->pg && !conn_alive(c)) {
		conn_drop(c);
	}
	if (!c->pg) {
		c->pg = pg_connect(q->url);
		if (!c->pg) {
			return -EIO;
		}
	}
	*ret = c;
	return 0;
}

/* ---- statements ---- */

#define MAX_PARAMS 14

/* Text parameters of one statement; NULL is SQL NULL. */
struct params {
	const char *v[MAX_PARAMS];
	char num[MAX_PARAMS][24];
	int n;
};

static void p_text(struct params *p, const char *v) {
	assert(p->n < MAX_PARAMS);
	p->v[p->n++] = v;
}

static void p_int(struct params *p, int64_t v) {
	assert(p->n < MAX_PARAMS);
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
	p->v[p->n] = p->num[p->n];
	p->n++;
}

/* A statement's outcome: 0, -EEXIST (a unique constraint), -EINVAL (NOT NULL, CHECK, data
 * the server refuses, e.g. invalid UTF-8), -EIO (anything else, the connection too). */
static int code(struct conn *c, const PGresult *res) {
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	const char *state;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		return 0;
	}
	if (PQstatus(c->pg) != CONNECTION_OK) {
		return -EIO; /* the next call connects again */
	}
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state) {
		return -EIO;
	}
	if (strcmp(state, "23505") == 0) {
		return -EEXIST;
	}
	if (strcmp(state, "23502") == 0 || strcmp(state, "23514") == 0 ||
			strncmp(state, "22", 2) == 0) {
		return -EINVAL;
	}
	return -EIO;
}

/* Runs statement which on c, preparing it on its first use on this connection. 0 with
 * *ret_res when ret_res is not NULL (the caller PQclears it), or code()'s errors. */
static int run(struct conn *c, enum st which, const struct params *p, PGresult **ret_res) {
	char name[16];
	PGresult *res;
	int r;

	snprintf(name, sizeof(name), "s%d", (int)which);
	if (!c->prepared[which]) {
		res = PQprepare(c->pg, name, sql[which], 0, NULL);
		r = code(c, res);
		PQclear(res);
		if (r < 0) {
			return r;
		}
		c->prepared[which] = true;
	}
	res = PQexecPrepared(c->pg, name, p ? p->n : 0, p ? p->v : NULL, NULL, NULL, 0);
	r = code(c, res);
	if (r == 0 && ret_res) {
		*ret_res = res;
	} else {
		PQclear(res);
	}
	return r;
}

/* Runs a statement outside a transaction on the thread's connection. */
static int run1(struct pg_store *q, enum st which, const struct params *p, PGresult **ret_res) {
	struct conn *c;
	int r = conn_get(q, &c);

	if (r < 0) {
		return r;
	}
	return run(c, which, p, ret_res);
}

/* Rows a command changed. */
static int64_t changes(const PGresult *res) {
	return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static int64_t int_col(const PGresult *res, int row, int col) {
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* NULL for SQL NULL. */
static const char *text_col(const PGresult *res, int row, int col) {
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static void copy_col(const PGresult *res, int row, int col, char *out, size_t size) {
	snprintf(out, size, "%s", PQgetvalue(res, row, col));
}

/* Runs a statement that returns one number. */
static int run_int(struct conn *c, enum st which, const struct params *p, int64_t *ret) {
	PGresult *res = NULL;
	int r = run(c, which, p, &res);

	if (r == 0) {
		if (PQntuples(res) == 1) {
			*ret = int_col(res, 0, 0);
		} else {
			r = -EIO;
		}
	}
	PQclear(res);
	return r;
}

/* ---- transactions ---- */

/* Transactions nest, as in sqlite.c: inside one that is open (store_tx_begin), a call's own
 * transaction is a savepoint, committed with the outer one. The scope a call sets outlives
 * its savepoint, but every per-user call sets its own first, and the cross-user functions
 * ignore it. */

/* Undoes the innermost transaction. A broken connection is dropped once none is open. */
static void rollback(struct conn *c) {
	bool ok = c->pg && PQstatus(c->pg) == CONNECTION_OK;

	if (c->depth > 1) {
		if (ok) {
			run(c, ST_ROLLBACK_TO, NULL, NULL);
			run(c, ST_RELEASE, NULL, NULL);
		}
	} else if (ok && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		run(c, ST_ROLLBACK, NULL, NULL);
	}
	if (c->depth > 0) {
		c->depth--;
	}
	if (c->depth == 0 && c->pg && PQstatus(c->pg) != CONNECTION_OK) {
		conn_drop(c);
	}
}

/* Ends the innermost transaction: committed (0) or, on failure, rolled back (-EIO). */
static int commit(struct conn *c) {
	int r = run(c, c->depth > 1 ? ST_RELEASE : ST_COMMIT, NULL, NULL);
	if (r < 0) {
		rollback(c);
		return -EIO;
	}
	c->depth--;
	return 0;
}

/* Begins a transaction (a savepoint inside an open one) on the thread's connection. BEGIN
 * changes nothing: when it finds the connection broken (the server restarted since its
 * last use), a fresh one tries again. */
static int begin(struct pg_store *q, struct conn **ret_c) {
	struct conn *c;
	int r;

	for (int attempt = 0;; attempt++) {
		r = conn_get(q, &c);
		if (r < 0) {
			return r;
		}
		r = run(c, c->depth > 0 ? ST_SAVEPOINT : ST_BEGIN, NULL, NULL);
		if (r == 0 || attempt > 0 || c->depth > 0 || PQstatus(c->pg) == CONNECTION_OK) {
			break;
		}
		conn_drop(c);
	}
	if (r < 0) {
		return r;
	}
	c->depth++;
	*ret_c = c;
	return 0;
}

/* Scopes the rest of the transaction to user_id's rows (NULL: unknown senders'). */
static int scope(struct conn *c, const char *user_id) {
	struct params p = {0};
	p_text(&p, user_id ? user_id : "-");
	return run(c, ST_SCOPE, &p, NULL);
}

/* Begins a transaction scoped to user_id. */
static int begin_as(struct pg_store *q, const char *user_id, struct conn **ret_c) {
	struct conn *c;
	int r = begin(q, &c);

	if (r < 0) {
		return r;
	}
	r = scope(c, user_id);
	if (r < 0) {
		rollback(c);
		return r;
	}
	*ret_c = c;
	return 0;
}

/* Runs one statement of user_id in its own scoped transaction; *ret_res as run(). */
static int run_as(struct pg_store *q, const char *user_id, enum st which,
		const struct params *p, PGresult **ret_res) {
	PGresult *res = NULL;
	struct conn *c;
	int r = begin_as(q, user_id, &c);

	if (r < 0) {
		return r;
	}
	r = run(c, which, p, &res);
	if (r == 0) {
		r = commit(c);
	} else {
		rollback(c);
	}
	if (r == 0 && ret_res) {
		*ret_res = res;
	} else {
		PQclear(res);
	}
	return r;
}

/* ---- users and phones ---- */

/* Fills u from a row (id, name, created_at, phones separated by spaces, opted_out). */
static void user_row(const PGresult *res, int row, struct store_user *u) {
	const char *p = PQgetvalue(res, row, 3);

	memset(u, 0, sizeof(*u));
	copy_col(res, row, 0, u->id, sizeof(u->id));
	copy_col(res, row, 1, u->name, sizeof(u->name));
	u->created_at = int_col(res, row, 2);
	while (*p && u->nphones < STORE_MAX_PHONES) {
		size_t len = strcspn(p, " ");
		snprintf(u->phones[u->nphones], PHONE_SIZE, "%.*s", (int)len, p);
		u->nphones++;
		p += len;
		p += strspn(p, " ");
	}
	u->opted_out = strcmp(PQgetvalue(res, row, 4), "t") == 0;
}

/* A statement that returns at most one user row. */
static int user_one(PGresult *res, struct store_user *ret_user) {
	if (PQntuples(res) == 0) {
		return -ENOENT;
	}
	user_row(res, 0, ret_user);
	return 0;
}

static int pg_user_get(struct store *s, const char *id, struct store_user *ret_user) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, id);
	r = run_as(PG(s), id, ST_USER_GET, &p, &res);
	if (r == 0) {
		r = user_one(res, ret_user);
	}
	PQclear(res);
	return r;
}

static int pg_user_by_phone(struct store *s, const char *phone, struct store_user *ret_user) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, phone);
	r = run1(PG(s), ST_USER_BY_PHONE, &p, &res);
	if (r == 0) {
		r = user_one(res, ret_user);
	}
	PQclear(res);
	return r;
}

static int pg_route_lookup(struct store *s, const char *phone, struct store_user *ret_user,
		bool *ret_known, bool *ret_opted_out) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, phone);
	r = run1(PG(s), ST_ROUTE, &p, &res);
	if (r == 0 && PQntuples(res) != 1) {
		r = -EIO;
	}
	if (r == 0) {
		*ret_known = !PQgetisnull(res, 0, 0);
		if (*ret_known) {
			memset(ret_user, 0, sizeof(*ret_user));
			copy_col(res, 0, 0, ret_user->id, sizeof(ret_user->id));
			copy_col(res, 0, 1, ret_user->name, sizeof(ret_user->name));
			ret_user->created_at = int_col(res, 0, 2);
		}
		*ret_opted_out = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
		ret_user->opted_out = *ret_known && *ret_opted_out;
	}
	PQclear(res);
	return r;
}

static int pg_tx_begin(struct store *s) {
	struct conn *c;
	return begin(PG(s), &c);
}

static int pg_tx_commit(struct store *s) {
	struct conn *c = (struct conn *)store_conns_mine(&PG(s)->conns);
	return c && c->depth > 0 ? commit(c) : -EIO;
}

static void pg_tx_rollback(struct store *s) {
	struct conn *c = (struct conn *)store_conns_mine(&PG(s)->conns);
	if (c && c->depth > 0) {
		rollback(c);
	}
}

/* Inserts a user and its phones inside the caller's transaction, scoped to id. */
static int user_insert(struct conn *c, const char *id, const char *name,
		const char *const *phones, size_t nphones, int64_t now, size_t *reterr_index) {
	struct params p = {0};
	int r;

	p_text(&p, id);
	p_text(&p, name);
	p_int(&p, now);
	r = run(c, ST_USER_INSERT, &p, NULL);
	if (r < 0) {
		return r == -EEXIST ? -EIO : r; /* a random id never collides */
	}
	for (size_t i = 0; i < nphones; i++) {
		struct params pp = {0};
		p_text(&pp, phones[i]);
		p_text(&pp, id);
		r = run(c, ST_PHONE_INSERT, &pp, NULL);
		if (r < 0) {
			*reterr_index = i;
			return r;
		}
	}
	return 0;
}

static int pg_user_add(struct store *s, const char *id, const char *name,
		const char *const *phones, size_t nphones, int64_t now, size_t *reterr_index) {
	struct conn *c;
	int r = begin_as(PG(s), id, &c);

	if (r < 0) {
		return r;
	}
	r = user_insert(c, id, name, phones, nphones, now, reterr_index);
	if (r < 0) {
		rollback(c);
		return r;
	}
	return commit(c);
}

/* One transaction; each row is written under its own user's scope. */
static int pg_import(struct store *s, const struct store_import_row *rows, size_t n,
		char (*ids)[STORE_ID_SIZE], int64_t now, size_t *reterr_row) {
	struct conn *c;
	size_t unused;
	int r = begin(PG(s), &c);

	if (r < 0) {
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		r = scope(c, ids[i]);
		if (r == 0) {
			r = user_insert(c, ids[i], rows[i].name, rows[i].phones, rows[i].nphones,
					now, &unused);
		}
		if (r < 0) {
			*reterr_row = i;
			rollback(c);
			return r;
		}
	}
	return commit(c);
}

static int pg_user_delete(struct store *s, const char *id) {
	static const enum st steps[] = {ST_DEL_NOTES, ST_DEL_OUTBOX, ST_DEL_MESSAGES, ST_DEL_PHONES,
		ST_DEL_USER};
	struct params p = {0};
	PGresult *res = NULL;
	struct conn *c;
	int r = begin_as(PG(s), id, &c);

	if (r < 0) {
		return r;
	}
	p_text(&p, id);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && r == 0; i++) {
		PQclear(res);
		res = NULL;
		r = run(c, steps[i], &p, &res);
	}
	if (r == 0 && changes(res) == 0) {
		r = -ENOENT;
	}
	PQclear(res);
	if (r < 0) {
		rollback(c);
		return r;
	}
	return commit(c);
}

static int pg_user_list(struct store *s, store_user_cb cb, void *ctx) {
	struct store_user u;
	PGresult *res = NULL;
	int r = run1(PG(s), ST_USER_LIST, NULL, &res);

	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		user_row(res, i, &u);
		r = cb(ctx, &u);
	}
	PQclear(res);
	return r;
}

/* Within id's scope: another user's number is found by the unique constraint alone, the
 * count after the insert enforces the limit, and the user's row lock orders two adds. */
static int pg_phone_add(struct store *s, const char *id, const char *phone) {
	struct params p = {0}, pu = {0};
	PGresult *res = NULL;
	int64_t count = 0;
	struct conn *c;
	int r = begin_as(PG(s), id, &c);

	if (r < 0) {
		return r;
	}
	p_text(&p, phone);
	p_text(&p, id);
	p_text(&pu, id);
	r = run(c, ST_USER_LOCK, &pu, &res);
	if (r == 0 && PQntuples(res) == 0) {
		r = -ENOENT;
	}
	PQclear(res);
	res = NULL;
	if (r < 0) {
		goto out_rollback;
	}
	r = run(c, ST_PHONE_MINE, &p, &res);
	if (r == 0 && PQntuples(res) > 0) {
		PQclear(res);
		goto out_rollback; /* that user's already: nothing to write */
	}
	PQclear(res);
	if (r < 0) {
		goto out_rollback;
	}
	r = run(c, ST_PHONE_INSERT, &p, NULL);
	if (r < 0) {
		goto out_rollback;
	}
	r = run_int(c, ST_PHONE_COUNT, &pu, &count);
	if (r == 0 && count > STORE_MAX_PHONES) {
		r = -ENOSPC;
	}
	if (r < 0) {
		goto out_rollback;
	}
	return commit(c);
out_rollback:
	rollback(c);
	return r;
}

static int pg_phone_remove(struct store *s, const char *id, const char *phone) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, phone);
	p_text(&p, id);
	r = run_as(PG(s), id, ST_PHONE_DELETE, &p, &res);
	if (r == 0 && changes(res) == 0) {
		r = -ENOENT;
	}
	PQclear(res);
	return r;
}

/* ---- messages ---- */

static int pg_answer_for(struct store *s, const char *sid, char **ret_reply, int64_t *ret_id) {
	struct params p = {0};
	PGresult *res = NULL;
	char *reply = NULL;
	int64_t id = 0;
	int r;

	p_text(&p, sid);
	r = run1(PG(s), ST_ANSWER_FOR, &p, &res);
	if (r < 0) {
		goto out;
	}
	if (PQntuples(res) == 0) {
		r = -ENOENT;
		goto out;
	}
	if (!PQgetisnull(res, 0, 1)) {
		id = int_col(res, 0, 1);
		reply = strdup(PQgetvalue(res, 0, 2));
		if (!reply) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret_reply = reply;
	*ret_id = id;
out:
	PQclear(res);
	return r;
}

/* Inserts a message inside the caller's transaction, scoped to user_id. */
static int message_insert(struct conn *c, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	struct params p = {0};
	int64_t id = 0;
	int r;

	p_text(&p, user_id);
	p_text(&p, m->sid);
	p_text(&p, m->direction == STORE_INBOUND ? "inbound" : "outbound");
	p_text(&p, m->from);
	p_text(&p, m->to);
	p_text(&p, m->body);
	p_text(&p, m->status);
	p_int(&p, store_status_rank(m->status ? m->status : ""));
	p_text(&p, m->encoding);
	p_int(&p, m->segments);
	p_text(&p, m->media_json);
	if (m->reply_to > 0) {
		p_int(&p, m->reply_to);
	} else {
		p_text(&p, NULL);
	}
	p_int(&p, m->created_at ? m->created_at : ids_now());
	p_int(&p, m->flags);
	r = run_int(c, ST_MESSAGE_INSERT, &p, &id);
	if (r == 0 && ret_id) {
		*ret_id = id;
	}
	return r;
}

/* The message and, for a routed inbound one that asks for it, its outbox row: both or
 * neither. */
static int pg_message_add(struct store *s, const char *user_id, const struct store_message *m,
		int64_t *ret_id) {
	int64_t id = 0;
	struct conn *c;
	int r = begin_as(PG(s), user_id, &c);

	if (r < 0) {
		return r;
	}
	r = message_insert(c, user_id, m, &id);
	if (r == 0 && m->enqueue && user_id) {
		struct params p = {0};
		p_text(&p, user_id);
		p_int(&p, id);
		p_int(&p, ids_now_ms());
		r = run(c, ST_OB_INSERT, &p, NULL);
	}
	if (r < 0) {
		rollback(c);
		return r;
	}
	r = commit(c);
	if (r == 0 && ret_id) {
		*ret_id = id;
	}
	return r;
}

static int pg_status_update(struct store *s, int64_t id, const char *sid, const char *status,
		int rank, const char *error_code, bool *ret_changed) {
	struct params p = {0};
	int64_t outcome = 0;
	struct conn *c;
	int r = conn_get(PG(s), &c);

	if (r < 0) {
		return r;
	}
	p_int(&p, id);
	p_text(&p, sid);
	p_text(&p, status);
	p_int(&p, rank);
	p_text(&p, error_code && *error_code ? error_code : NULL);
	r = run_int(c, ST_STATUS_UPDATE, &p, &outcome);
	if (r < 0) {
		return r;
	}
	if (outcome < 0) {
		return -ENOENT;
	}
	*ret_changed = outcome > 0;
	return 0;
}

/* Calls cb for each row of MSG_COLS; *ret_rows counts them (may be NULL). */
static int messages_each(const PGresult *res, store_message_cb cb, void *ctx, int *ret_rows) {
	int r = 0, i;

	for (i = 0; r == 0 && i < PQntuples(res); i++) {
		struct store_message m = {
			.id = int_col(res, i, 0),
			.sid = text_col(res, i, 1),
			.direction = strcmp(PQgetvalue(res, i, 2), "inbound") == 0 ? STORE_INBOUND
										 : STORE_OUTBOUND,
			.from = PQgetvalue(res, i, 3),
			.to = PQgetvalue(res, i, 4),
			.body = PQgetvalue(res, i, 5),
			.status = PQgetvalue(res, i, 6),
			.encoding = PQgetvalue(res, i, 7),
			.segments = (int)int_col(res, i, 8),
			.media_json = text_col(res, i, 9),
			.reply_to = int_col(res, i, 10),
			.created_at = int_col(res, i, 11),
		};
		r = cb(ctx, &m);
	}
	if (ret_rows) {
		*ret_rows = i;
	}
	return r;
}

static int pg_message_get(struct store *s, const char *user_id, int64_t id, store_message_cb cb,
		void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int rows = 0;
	int r;

	p_text(&p, user_id);
	p_int(&p, id);
	r = run_as(PG(s), user_id, ST_MESSAGE_GET, &p, &res);
	if (r == 0) {
		r = messages_each(res, cb, ctx, &rows);
	}
	PQclear(res);
	return r == 0 && rows == 0 ? -ENOENT : r;
}

/* A negative limit is no limit, as in SQLite. */
static void p_limit(struct params *p, int limit) {
	if (limit < 0) {
		p_text(p, NULL);
	} else {
		p_int(p, limit);
	}
}

/* A user's messages newest first; with before_id, its history: what came before that
 * message (ST_MESSAGES_HISTORY). */
static int messages_of(struct store *s, enum st which, const char *user_id, int64_t before_id,
		int limit, store_message_cb cb, void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, user_id);
	p_limit(&p, limit);
	if (which == ST_MESSAGES_HISTORY) {
		p_int(&p, before_id);
	}
	r = run_as(PG(s), user_id, which, &p, &res);
	if (r == 0) {
		r = messages_each(res, cb, ctx, NULL);
	}
	PQclear(res);
	return r;
}

static int pg_messages_list(struct store *s, const char *user_id, int limit,
		store_message_cb cb, void *ctx) {
	return messages_of(s, ST_MESSAGES_NEWEST, user_id, 0, limit, cb, ctx);
}

static int pg_history(struct store *s, const char *user_id, int64_t before_id, int limit,
		store_message_cb cb, void *ctx) {
	return messages_of(s, ST_MESSAGES_HISTORY, user_id, before_id, limit, cb, ctx);
}

/* ---- notes ---- */

static int pg_note_add(struct store *s, const char *user_id, const char *text, int64_t now) {
	struct params p = {0};

	p_text(&p, user_id);
	p_text(&p, text);
	p_int(&p, now);
	return run_as(PG(s), user_id, ST_NOTE_INSERT, &p, NULL);
}

static int pg_notes_list(struct store *s, const char *user_id, store_note_cb cb, void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, user_id);
	r = run_as(PG(s), user_id, ST_NOTES_LIST, &p, &res);
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		r = cb(ctx, i + 1, PQgetvalue(res, i, 0));
	}
	PQclear(res);
	return r;
}

static int pg_notes_clear(struct store *s, const char *user_id) {
	struct params p = {0};

	p_text(&p, user_id);
	return run_as(PG(s), user_id, ST_NOTES_CLEAR, &p, NULL);
}

/* ---- opt-outs, onboarding (keyed by number, no user's rows) ---- */

static int pg_optout_set(struct store *s, const char *phone, bool opted_out, int64_t now) {
	struct params p = {0};

	p_text(&p, phone);
	if (opted_out) {
		p_int(&p, now);
	}
	return run1(PG(s), opted_out ? ST_OPTOUT_INSERT : ST_OPTOUT_DELETE, &p, NULL);
}

static int pg_optout_get(struct store *s, const char *phone, bool *ret) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, phone);
	r = run1(PG(s), ST_OPTOUT_GET, &p, &res);
	if (r == 0) {
		*ret = PQntuples(res) > 0;
	}
	PQclear(res);
	return r;
}

/* One statement: the row's lock makes two claimers of one number take turns. */
static int pg_onboarding_claim(struct store *s, const char *phone, int64_t now, int window_s) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, phone);
	p_int(&p, now);
	p_int(&p, window_s);
	r = run1(PG(s), ST_ONBOARDING, &p, &res);
	if (r == 0 && changes(res) == 0) {
		r = -EEXIST;
	}
	PQclear(res);
	return r;
}

/* The sweep runs on one take in SWEEP_EVERY, so the table holds about the numbers that
 * sent within their window. */
#define SWEEP_EVERY 1024

static int pg_sender_take(struct store *s, const char *phone, int count, int window_s) {
	struct pg_store *q = PG(s);
	struct params p = {0};
	PGresult *res = NULL;

	int64_t interval = (int64_t)window_s * 1000000 / count;
	p_text(&p, phone);
	p_int(&p, interval);
	p_int(&p, (int64_t)window_s * 1000000 - interval);
	int r = run1(q, ST_SENDER_TAKE, &p, &res);
	if (r == 0) {
		r = PQntuples(res) > 0 ? 1 : 0;
	}
	PQclear(res);
	if (r >= 0 && atomic_fetch_add(&q->takes, 1) % SWEEP_EVERY == SWEEP_EVERY - 1) {
		struct params none = {0};
		if (run1(q, ST_SENDER_SWEEP, &none, NULL) < 0) {
			log_warn("store.sweep_failed", LOG_STR("table", "sender_limits"));
		}
	}
	return r;
}

/* ---- usage ---- */

static int pg_usage(struct store *s, int64_t since, store_usage_cb cb, void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_int(&p, since);
	r = run1(PG(s), ST_USAGE, &p, &res);
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		struct store_usage_row row = {
			.user_id = text_col(res, i, 0),
			.inbound = int_col(res, i, 1),
			.outbound = int_col(res, i, 2),
			.segments = int_col(res, i, 3),
			.over_budget = int_col(res, i, 4),
			.truncated = int_col(res, i, 5),
			.smart_encoded = int_col(res, i, 6),
		};
		r = cb(ctx, &row);
	}
	PQclear(res);
	return r;
}

static int pg_outbound_segments(struct store *s, const char *user_id, int64_t since,
		int64_t *ret_segments) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, user_id);
	p_int(&p, since);
	r = run_as(PG(s), user_id, ST_OUT_SEGMENTS, &p, &res);
	if (r == 0) {
		*ret_segments = int_col(res, 0, 0);
	}
	PQclear(res);
	return r;
}

/* ---- outbox ---- */

/* Fills o from a row of type sr_outbox_row; its body is borrowed from res. */
static void outbox_row(const PGresult *res, int row, struct store_outbox *o) {
	memset(o, 0, sizeof(*o));
	o->id = int_col(res, row, 0);
	copy_col(res, row, 1, o->user_id, sizeof(o->user_id));
	o->inbound_id = int_col(res, row, 2);
	o->outbound_id = int_col(res, row, 3);
	copy_col(res, row, 4, o->state, sizeof(o->state));
	o->attempts = (int)int_col(res, row, 5);
	o->next_at_ms = int_col(res, row, 6);
	o->sent_at_ms = int_col(res, row, 7);
	o->created_at_ms = int_col(res, row, 8);
	copy_col(res, row, 9, o->last_error, sizeof(o->last_error));
	copy_col(res, row, 10, o->to, sizeof(o->to));
	copy_col(res, row, 11, o->from, sizeof(o->from));
	o->body = PQgetisnull(res, row, 12) ? NULL : PQgetvalue(res, row, 12);
	o->segments = (int)int_col(res, row, 13);
}

static int outbox_each(const PGresult *res, store_outbox_cb cb, void *ctx) {
	struct store_outbox o;
	int r = 0;

	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		outbox_row(res, i, &o);
		r = cb(ctx, &o);
	}
	return r;
}

static int pg_outbox_claim_agent(struct store *s, int64_t now_ms, int64_t lease_until_ms,
		struct store_outbox *ret) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_int(&p, now_ms);
	p_int(&p, lease_until_ms);
	r = run1(PG(s), ST_OB_CLAIM, &p, &res);
	if (r == 0 && PQntuples(res) == 0) {
		r = -ENOENT;
	}
	if (r == 0) {
		outbox_row(res, 0, ret);
		ret->body = NULL;
	}
	PQclear(res);
	return r;
}

/* Under user_id's scope: the outbox row must be that user's. */
static int pg_outbox_replied(struct store *s, int64_t id, const char *user_id,
		const struct store_message *reply, int64_t now_ms) {
	struct params p = {0};
	PGresult *res = NULL;
	int64_t out_id = 0;
	struct conn *c;
	int r = begin_as(PG(s), user_id, &c);

	if (r < 0) {
		return r;
	}
	if (reply) {
		struct store_message m = *reply;
		m.direction = STORE_OUTBOUND;
		m.enqueue = false;
		r = message_insert(c, user_id, &m, &out_id);
	}
	if (r == 0) {
		p_int(&p, id);
		p_text(&p, reply ? "send" : "done");
		if (reply) {
			p_int(&p, out_id);
		} else {
			p_text(&p, NULL);
		}
		p_int(&p, now_ms);
		r = run(c, ST_OB_REPLIED, &p, &res);
	}
	if (r == 0 && changes(res) == 0) {
		r = -ENOENT; /* revived or deleted meanwhile */
	}
	PQclear(res);
	if (r < 0) {
		rollback(c);
		return r;
	}
	return commit(c);
}

static int pg_outbox_ready(struct store *s, int64_t now_ms, int limit, store_outbox_cb cb,
		void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_int(&p, now_ms);
	p_limit(&p, limit);
	r = run1(PG(s), ST_OB_READY, &p, &res);
	if (r == 0) {
		r = outbox_each(res, cb, ctx);
	}
	PQclear(res);
	return r;
}

static int pg_outbox_update(struct store *s, int64_t id, const char *state, int64_t next_at_ms,
		bool attempt, const char *error, int64_t now_ms) {
	struct params p = {0};
	int64_t n = 0;
	struct conn *c;
	int r = conn_get(PG(s), &c);

	if (r < 0) {
		return r;
	}
	p_int(&p, id);
	p_text(&p, state);
	p_int(&p, next_at_ms);
	p_int(&p, attempt ? 1 : 0);
	p_text(&p, error);
	p_int(&p, now_ms);
	r = run_int(c, ST_OB_UPDATE, &p, &n);
	return r == 0 && n == 0 ? -ENOENT : r;
}

static int pg_outbox_sent(struct store *s, int64_t id, int64_t outbound_id, const char *sid,
		const char *status) {
	struct params p = {0};

	p_int(&p, id);
	p_int(&p, outbound_id);
	p_text(&p, sid && *sid ? sid : NULL);
	p_text(&p, status);
	p_int(&p, store_status_rank(status));
	p_int(&p, ids_now_ms());
	return run1(PG(s), ST_OB_SENT, &p, NULL);
}

static int pg_outbox_list(struct store *s, const char *state, int limit, store_outbox_cb cb,
		void *ctx) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_text(&p, state);
	p_limit(&p, limit);
	r = run1(PG(s), ST_OB_LIST, &p, &res);
	if (r == 0) {
		r = outbox_each(res, cb, ctx);
	}
	PQclear(res);
	return r;
}

static int pg_outbox_retry(struct store *s, int64_t id, int64_t now_ms, int *ret_count) {
	struct params p = {0};
	int64_t n = 0;
	struct conn *c;
	int r = conn_get(PG(s), &c);

	if (r < 0) {
		return r;
	}
	p_int(&p, id);
	p_int(&p, now_ms);
	r = run_int(c, ST_OB_RETRY, &p, &n);
	if (r == 0) {
		*ret_count = (int)n;
	}
	return r;
}

static int pg_outbox_depth(struct store *s, int64_t *ret_depth) {
	struct conn *c;
	int r = conn_get(PG(s), &c);

	if (r < 0) {
		return r;
	}
	return run_int(c, ST_OB_DEPTH, NULL, ret_depth);
}

static int pg_outbound_state(struct store *s, int64_t id, char *sid, char *status) {
	struct params p = {0};
	PGresult *res = NULL;
	int r;

	p_int(&p, id);
	r = run1(PG(s), ST_OUTBOUND_STATE, &p, &res);
	if (r == 0 && PQntuples(res) == 0) {
		r = -ENOENT;
	}
	if (r == 0) {
		copy_col(res, 0, 0, sid, STORE_SID_SIZE);
		copy_col(res, 0, 1, status, 24);
	}
	PQclear(res);
	return r;
}

/* ---- the store itself ---- */

static int pg_ping(struct store *s) {
	return run1(PG(s), ST_PING, NULL, NULL) < 0 ? -EIO : 0;
}

static int pg_counts(struct store *s, int64_t *ret_users, int64_t *ret_phones) {
	PGresult *res = NULL;
	int r = run1(PG(s), ST_COUNTS, NULL, &res);

	if (r == 0 && PQntuples(res) != 1) {
		r = -EIO;
	}
	if (r == 0) {
		*ret_users = int_col(res, 0, 0);
		*ret_phones = int_col(res, 0, 1);
	}
	PQclear(res);
	return r;
}

static int pg_schema_version(struct store *s, int *ret_version) {
	int64_t v = 0;
	struct conn *c;
	int r = conn_get(PG(s), &c);

	if (r < 0) {
		return r;
	}
	r = run_int(c, ST_VERSION, NULL, &v);
	if (r == 0) {
		*ret_version = (int)v;
	}
	return r;
}

/* Row-level security binds neither a superuser nor a BYPASSRLS role, nor one that holds
 * smsrouter_system's rights (the cross-user policies): the service must not connect as
 * any of them. 0, -EPERM (such a role), or -EIO. */
static int check_role(PGconn *pg) {
	PGresult *res = PQexec(pg, "SELECT r.rolsuper OR r.rolbypassrls OR coalesce(CASE WHEN "
				   "to_regrole('" SYSTEM_ROLE "') IS NOT NULL THEN "
				   "pg_has_role(current_user, '" SYSTEM_ROLE "', 'USAGE') END, "
				   "false) FROM pg_roles r WHERE r.rolname = current_user");
	int r = -EIO;

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		if (strcmp(PQgetvalue(res, 0, 0), "f") == 0) {
			r = 0;
		} else {
			r = -EPERM;
			log_debug("store.pg_role_refused",
					LOG_STR("reason", "superuser, BYPASSRLS or member of "
							  "smsrouter_system with INHERIT"));
		}
	}
	PQclear(res);
	return r;
}

/* Applies the migrations this file has and the database lacks, in one transaction under an
 * advisory lock: a second process starting at the same time waits, then finds them done. */
static int migrate(PGconn *pg) {
	PGresult *res = NULL;
	int version;

	if (exec_text(pg, "BEGIN") < 0) {
		return -EIO;
	}
	if (exec_text(pg, migrate_prelude) < 0) {
		goto fail;
	}
	res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		goto fail;
	}
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	res = NULL;
	for (; version < SCHEMA_VERSION; version++) {
		char insert[128];
		for (const char *const *part = migrations[version]; *part; part++) {
			if (exec_text(pg, *part) < 0) {
				goto fail;
			}
		}
		snprintf(insert, sizeof(insert),
				"INSERT INTO schema_migrations (version, applied_at) "
				"VALUES (%d, %lld)",
				version + 1, (long long)ids_now());
		if (exec_text(pg, insert) < 0) {
			goto fail;
		}
	}
	return exec_text(pg, "COMMIT");
fail:
	PQclear(res);
	exec_text(pg, "ROLLBACK");
	return -EIO;
}

static void pg_close(struct store *s) {
	struct pg_store *q = PG(s);

	store_conns_destroy(&q->conns);
	free(q->url);
	free(q);
}

static const struct store_ops postgres_ops = {
	.close = pg_close,
	.ping = pg_ping,
	.counts = pg_counts,
	.schema_version = pg_schema_version,
	.user_add = pg_user_add,
	.user_get = pg_user_get,
	.user_by_phone = pg_user_by_phone,
	.user_delete = pg_user_delete,
	.route_lookup = pg_route_lookup,
	.tx_begin = pg_tx_begin,
	.tx_commit = pg_tx_commit,
	.tx_rollback = pg_tx_rollback,
	.user_list = pg_user_list,
	.phone_add = pg_phone_add,
	.phone_remove = pg_phone_remove,
	.import = pg_import,
	.answer_for = pg_answer_for,
	.message_add = pg_message_add,
	.status_update = pg_status_update,
	.message_get = pg_message_get,
	.messages_list = pg_messages_list,
	.history = pg_history,
	.note_add = pg_note_add,
	.notes_list = pg_notes_list,
	.notes_clear = pg_notes_clear,
	.optout_set = pg_optout_set,
	.optout_get = pg_optout_get,
	.onboarding_claim = pg_onboarding_claim,
	.sender_take = pg_sender_take,
	.outbound_segments = pg_outbound_segments,
	.outbox_claim_agent = pg_outbox_claim_agent,
	.outbox_replied = pg_outbox_replied,
	.outbox_ready = pg_outbox_ready,
	.outbox_update = pg_outbox_update,
	.outbox_sent = pg_outbox_sent,
	.outbox_list = pg_outbox_list,
	.outbox_retry = pg_outbox_retry,
	.outbox_depth = pg_outbox_depth,
	.outbound_state = pg_outbound_state,
	.usage = pg_usage,
};

/* Opens url (a libpq URI), refuses a role that row-level security would not bind, and
 * brings the schema to the newest version. 0, -ENOMEM or -EIO. */
int store_postgres_open(const char *url, const struct store_options *o, struct store **ret) {
	struct pg_store *q;
	struct conn *c;
	int r;

	(void)o; /* sync is SQLite's; see the top */
	q = calloc(1, sizeof(*q));
	if (!q) {
		return -ENOMEM;
	}
	q->base.ops = &postgres_ops;
	q->url = strdup(url);
	if (!q->url || store_conns_init(&q->conns, conn_gone) < 0) {
		free(q->url);
		free(q);
		return -ENOMEM;
	}
	r = conn_get(q, &c);
	if (r == 0) {
		r = check_role(c->pg);
	}
	if (r == 0) {
		r = migrate(c->pg);
	}
	if (r < 0) {
		pg_close(&q->base);
		return r == -ENOMEM || r == -EPERM ? r : -EIO;
	}
	*ret = &q->base;
	return 0;
}
