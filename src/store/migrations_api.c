/* The migration list's versions 5 to 9 (migrations.c has 1 to 4 and the list itself, which
 * frozen releases never reorder): messages sent through the API, events, users' agent and
 * mode, retention's daily usage, the hourly stats. Released versions are frozen: a change is a new version. */
#include "store/migrations.h"

/* Version 5's order of statuses (store_status_rank): scheduled comes first and accepted
 * before queued, and the ends (suppressed, over_budget) join the others. */
#define RERANK                                                                             \
	"UPDATE messages SET status_rank = CASE status WHEN 'scheduled' THEN 1"             \
	"  WHEN 'accepted' THEN 2 WHEN 'queued' THEN 3 WHEN 'sending' THEN 4"              \
	"  WHEN 'sent' THEN 5 WHEN 'partially_delivered' THEN 6 WHEN 'read' THEN 8"        \
	"  WHEN 'delivered' THEN 7 WHEN 'undelivered' THEN 7 WHEN 'failed' THEN 7"         \
	"  WHEN 'canceled' THEN 7 ELSE status_rank END WHERE direction = 'outbound';"

/* 5: messages sent through the API (issue 13). A message gets its public id (uid: opaque,
 * random; rows of older versions get one here), and an API-sent one its kind ('reply' or
 * 'proactive'), channel, send_at and not_before (unix seconds; media in the media column,
 * a JSON array of URLs). An outbox row may now carry a message smsrouter starts itself:
 * inbound_id 0, in lane 1 (proactive) or lane 0 (replies, which go first). Each user's
 * idempotency keys: the hash of the request that used the key, and the message it made. */
const char *const store__sqlite_5[] = {
	"ALTER TABLE messages ADD COLUMN uid TEXT;"
	"ALTER TABLE messages ADD COLUMN kind TEXT;"
	"ALTER TABLE messages ADD COLUMN channel TEXT;"
	"ALTER TABLE messages ADD COLUMN send_at INTEGER;"
	"ALTER TABLE messages ADD COLUMN not_before INTEGER;"
	"UPDATE messages SET uid = lower(hex(randomblob(16)));"
	RERANK
	"CREATE UNIQUE INDEX messages_uid ON messages(uid);"
	"CREATE INDEX messages_proactive ON messages(user_id, created_at)"
	"  WHERE kind = 'proactive';"
	"CREATE INDEX messages_whatsapp ON messages(user_id, created_at)"
	"  WHERE direction = 'inbound' AND from_addr LIKE 'whatsapp:%';"
	"ALTER TABLE outbox ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX outbox_lane ON outbox(user_id, lane, next_at, id)"
	"  WHERE state IN ('send', 'sending');"
	"CREATE INDEX outbox_message ON outbox(outbound_id);"
	"CREATE TABLE idempotency ("
	"  user_id TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  message_uid TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (user_id, key)) WITHOUT ROWID;",
	NULL,
};

/* 5 (sqlite_5 says why). gen_random_uuid() (PostgreSQL 13) gives the older rows' uids. The
 * functions whose "first in its user's line" now looks at one lane are made again. */
const char *const store__pg_5[] = {
	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE messages ADD COLUMN uid text, ADD COLUMN kind text,"
	"  ADD COLUMN channel text, ADD COLUMN send_at bigint, ADD COLUMN not_before bigint;"
	"UPDATE messages SET uid = replace(gen_random_uuid()::text, '-', '');"
	RERANK
	"CREATE UNIQUE INDEX messages_uid ON messages (uid);"
	"CREATE INDEX messages_proactive ON messages (user_id, created_at)"
	"  WHERE kind = 'proactive';"
	"CREATE INDEX messages_whatsapp ON messages (user_id, created_at)"
	"  WHERE direction = 'inbound' AND from_addr LIKE 'whatsapp:%';"
	"ALTER TABLE outbox ADD COLUMN lane integer NOT NULL DEFAULT 0;"
	"CREATE INDEX outbox_lane ON outbox (user_id, lane, next_at, id)"
	"  WHERE state IN ('send', 'sending');"
	"CREATE INDEX outbox_message ON outbox (outbound_id);"
	"CREATE TABLE idempotency ("
	"  user_id text NOT NULL,"
	"  key text NOT NULL,"
	"  hash text NOT NULL,"
	"  message_uid text NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  PRIMARY KEY (user_id, key));"
	"ALTER TABLE idempotency ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE idempotency FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY idempotency_own ON idempotency"
	"  USING (user_id = current_setting('smsrouter.user_id', true));",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE TYPE sr_send_row AS ("
	"  id bigint, user_id text, inbound_id bigint, outbound_id bigint, state text,"
	"  attempts integer, next_at bigint, sent_at bigint, created_at bigint, last_error text,"
	"  to_addr text, from_addr text, body text, segments integer, lane integer, media text,"
	"  kind text, uid text, timezone text);"
	"DROP FUNCTION sr_outbox_ready(bigint, integer);"
	/* Replies: the oldest due, each first in its user's line of lane 0. */
	"CREATE FUNCTION sr_ready_replies(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_send_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SEND_COLS
	"  WHERE o.lane = 0 AND o.state IN ('send', 'sending') AND o.next_at <= p_now"
	"    AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = o.user_id AND p.lane = 0"
	"      AND p.id < o.id AND p.state IN ('agent', 'send', 'sending'))"
	"  ORDER BY o.id LIMIT p_limit $$;"
	/* Proactive: each user's earliest due, unless one of that user's is being sent. */
	"CREATE FUNCTION sr_ready_proactive(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_send_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SEND_COLS
	"  WHERE o.lane = 1 AND o.state IN ('send', 'sending') AND o.next_at <= p_now"
	"    AND (o.state = 'sending' OR NOT EXISTS (SELECT 1 FROM outbox p"
	"      WHERE p.user_id = o.user_id AND p.lane = 1 AND p.state IN ('send', 'sending')"
	"      AND p.id <> o.id AND (p.state = 'sending' OR (p.next_at, p.id) < (o.next_at, o.id))))"
	"  ORDER BY o.next_at, o.id LIMIT p_limit $$;"
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* The agent stage looks at lane 0 only: a user's scheduled messages hold no reply. */
	"CREATE OR REPLACE FUNCTION sr_outbox_claim(p_now bigint, p_lease bigint)"
	" RETURNS SETOF sr_outbox_row"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH c AS (SELECT o.id, o.next_at FROM outbox o"
	"    WHERE o.state = 'agent' AND o.next_at <= p_now AND NOT EXISTS (SELECT 1 FROM outbox p"
	"      WHERE p.user_id = o.user_id AND p.lane = 0 AND p.id < o.id"
	"      AND p.state IN ('agent', 'send', 'sending'))"
	"    ORDER BY o.next_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED)"
	"  UPDATE outbox o SET next_at = p_lease, attempts = o.attempts + 1, updated_at = p_now"
	"  FROM c WHERE o.id = c.id"
	"  RETURNING o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"
	"    o.attempts, c.next_at, coalesce(o.sent_at, 0), o.created_at,"
	"    coalesce(o.last_error, ''), ''::text, ''::text, NULL::text, 0 $$;"
	/* Messages waiting for their time, for the metrics; and those not yet sent, listed. */
	"CREATE FUNCTION sr_scheduled_depth(p_now bigint) RETURNS bigint"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT count(*) FROM outbox WHERE lane = 1 AND state = 'send' AND next_at > p_now $$;"
	/* Usage counts proactive messages too (usage?detail=1). */
	"DROP FUNCTION sr_usage(bigint);"
	"CREATE FUNCTION sr_usage(p_since bigint) RETURNS TABLE (user_id text, inbound bigint,"
	"  outbound bigint, segments bigint, over_budget bigint, truncated bigint,"
	"  smart_encoded bigint, proactive bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT m.user_id, count(*) FILTER (WHERE m.direction = 'inbound'),"
	"    count(*) FILTER (WHERE m.direction = 'outbound'), coalesce(sum(m.segments), 0),"
	"    count(*) FILTER (WHERE m.status = 'over_budget'),"
	"    count(*) FILTER (WHERE m.flags & 2 <> 0), count(*) FILTER (WHERE m.flags & 1 <> 0),"
	"    count(*) FILTER (WHERE m.kind = 'proactive')"
	"  FROM messages m WHERE m.created_at >= p_since"
	"  GROUP BY m.user_id ORDER BY m.user_id IS NULL, m.user_id $$;"
	"CREATE FUNCTION sr_scheduled(p_limit bigint) RETURNS TABLE (user_id text, uid text,"
	"  kind text, to_addr text, body text, status text, not_before bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT o.user_id, m.uid, m.kind, m.to_addr, m.body, m.status, m.not_before"
	"  FROM outbox o JOIN messages m ON m.id = o.outbound_id"
	"  WHERE o.state = 'send' AND o.inbound_id = 0 ORDER BY o.next_at, o.id LIMIT p_limit $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* Version 6's events table, its types, then extra columns; and its indexes. */
#define SQLITE_EVENT_COLUMNS(types, extra)                                                 \
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"                                          \
	"  uid TEXT NOT NULL UNIQUE,"                                                      \
	"  user_id TEXT NOT NULL,"                                                         \
	"  type TEXT NOT NULL CHECK (type IN ('message.status', 'user.opted_out',"         \
	"    'user.opted_in', 'user.mode'" types ")),"                                     \
	"  message_id INTEGER,"                                                            \
	"  status TEXT,"                                                                   \
	"  error_code TEXT,"                                                               \
	"  phone TEXT,"                                                                    \
	"  mode TEXT,"                                                                     \
	"  at INTEGER NOT NULL,"                                                           \
	"  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),"    \
	"  attempts INTEGER NOT NULL DEFAULT 0,"                                           \
	"  next_at INTEGER NOT NULL,"                                                      \
	"  last_error TEXT,"                                                               \
	"  created_at INTEGER NOT NULL" extra
#define SQLITE_EVENT_INDEXES                                                               \
	"CREATE INDEX events_user ON events(user_id, id);"                                 \
	"CREATE INDEX events_pending ON events(user_id, id) WHERE state = 'pending';"

/* 6: events (SMSROUTER_EVENTS_URL; store/events.c), one row per event until it is
 * delivered (then deleted) or given up (state dead, kept). id orders a user's events: the
 * oldest pending one is its head, the only one claimed, found through events_pending one
 * user at a time. A claim leases the head by moving next_at past the delivery's deadline.
 * A message.status event keeps the status it tells
 * of and the message's id (its sid and public id are read at delivery); an opt-out event
 * the number. Times in milliseconds, as the outbox's. */
const char *const store__sqlite_6[] = {
	"CREATE TABLE events (" SQLITE_EVENT_COLUMNS("", "") ");" SQLITE_EVENT_INDEXES,
	NULL,
};

/* The event row the claim returns, as events.c maps it (catalogue.c's EV_COLS_SQLITE). */
#define PG_EVENT_TABLE                                                                     \
	" RETURNS TABLE (id bigint, uid text, type text, user_id text, at bigint,"         \
	"  attempts integer, created_at bigint, message_id text, sid text, status text,"   \
	"  error_code text, phone text, mode text)"

/* The claim's body (catalogue.c's EV_DUE_HEADS), with extra columns after mode. */
#define PG_EVENTS_CLAIM(extra)                                                             \
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"  \
	"  WITH RECURSIVE u(user_id) AS (SELECT min(user_id) FROM events"                     \
	"    WHERE state = 'pending'"                                                         \
	"    UNION ALL SELECT (SELECT min(p.user_id) FROM events p WHERE p.state = 'pending'" \
	"      AND p.user_id > u.user_id) FROM u WHERE u.user_id IS NOT NULL),"               \
	"  c AS (SELECT e.id FROM events e WHERE e.id IN (SELECT (SELECT min(h.id)"           \
	"      FROM events h WHERE h.state = 'pending' AND h.user_id = u.user_id) FROM u)"    \
	"    AND e.state = 'pending' AND e.next_at <= p_now"                                  \
	"    ORDER BY e.next_at, e.id LIMIT p_limit FOR UPDATE OF e SKIP LOCKED),"            \
	"  l AS (UPDATE events e SET next_at = p_lease, attempts = e.attempts + 1"            \
	"    FROM c WHERE e.id = c.id RETURNING e.*)"                                         \
	"  SELECT l.id, l.uid, l.type, l.user_id, l.at, l.attempts, l.created_at,"            \
	"    coalesce(" STORE__EV_MESSAGE_ID ", l.message_id::text), m.sid, l.status,"        \
	"    l.error_code, l.phone, l.mode" extra                                             \
	"  FROM l LEFT JOIN messages m ON m.id = l.message_id $$;"

/* 6 (sqlite_6 says why): events is a per-user table, with row-level security like the
 * others; what runs across users (recording from a status callback or an opt-out, which
 * know no user; the claim and its outcome) is a function of smsrouter_system. */
const char *const store__pg_6[] = {
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE events ("
	"  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  uid text NOT NULL UNIQUE,"
	"  user_id text NOT NULL,"
	"  type text NOT NULL CHECK (type IN ('message.status', 'user.opted_out',"
	"    'user.opted_in', 'user.mode')),"
	"  message_id bigint,"
	"  status text,"
	"  error_code text,"
	"  phone text,"
	"  mode text,"
	"  at bigint NOT NULL,"
	"  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),"
	"  attempts integer NOT NULL DEFAULT 0,"
	"  next_at bigint NOT NULL,"
	"  last_error text,"
	"  created_at bigint NOT NULL);"
	"CREATE INDEX events_user ON events (user_id, id);"
	"CREATE INDEX events_pending ON events (user_id, id) WHERE state = 'pending';"
	"ALTER TABLE events ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE events FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY events_own ON events"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY events_system ON events TO " SYSTEM_ROLE " USING (true);"
	"GRANT SELECT, INSERT, UPDATE, DELETE ON events TO " SYSTEM_ROLE ";",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* A status change of a message sent through the Messages API (flag 4) to a user. */
	"CREATE FUNCTION sr_event_status(p_id bigint, p_sid text, p_uid text, p_now bigint)"
	" RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH i AS (INSERT INTO events (uid, user_id, type, message_id, status, error_code,"
	"    at, next_at, created_at)"
	"    SELECT p_uid, m.user_id, 'message.status', m.id, m.status, m.error_code, p_now,"
	"      p_now, p_now FROM messages m"
	"    WHERE (m.id = p_id OR (p_id <= 0 AND m.sid = p_sid)) AND m.direction = 'outbound'"
	"      AND (m.flags & 4) <> 0 AND m.user_id IS NOT NULL RETURNING 1)"
	"  SELECT count(*) FROM i $$;"
	/* A number opted out or in: an event for the user who owns it, if any. */
	"CREATE FUNCTION sr_event_phone(p_phone text, p_type text, p_uid text, p_now bigint)"
	" RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH i AS (INSERT INTO events (uid, user_id, type, phone, at, next_at, created_at)"
	"    SELECT p_uid, k.user_id, p_type, k.phone, p_now, p_now, p_now FROM phones k"
	"    WHERE k.phone = p_phone RETURNING 1)"
	"  SELECT count(*) FROM i $$;"
	/* The rank before a change, the row locked until the caller's transaction ends. */
	"CREATE FUNCTION sr_message_rank(p_id bigint) RETURNS integer"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT status_rank FROM messages WHERE id = p_id AND direction = 'outbound'"
	"  FOR UPDATE $$;"
	/* At most p_limit due heads (catalogue.c's EV_DUE_HEADS), each leased until p_lease;
	 * heads locked by another claimer are skipped, and a leased head is not due, so its
	 * user's next event waits. */
	"CREATE FUNCTION sr_events_claim(p_now bigint, p_lease bigint, p_limit integer)"
	PG_EVENT_TABLE PG_EVENTS_CLAIM("")
	"CREATE FUNCTION sr_event_delete(p_id bigint) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH d AS (DELETE FROM events WHERE id = p_id RETURNING 1)"
	"  SELECT count(*) FROM d $$;"
	"CREATE FUNCTION sr_event_update(p_id bigint, p_state text, p_next bigint,"
	"  p_error text) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH u AS (UPDATE events SET state = p_state, next_at = p_next,"
	"    last_error = coalesce(p_error, last_error) WHERE id = p_id RETURNING 1)"
	"  SELECT count(*) FROM u $$;"
	"CREATE FUNCTION sr_events_pending() RETURNS bigint"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT count(*) FROM events WHERE state = 'pending' $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* 7: per-user control (issue 15). A user's agent (the name of a configured agent; NULL:
 * the default or the canary's choice) and mode ('agent', 'paused', 'human'). An event may
 * now be a message of a user in human mode for the operator URL (type message.inbound),
 * its user and message as a JSON text (body) made when it was recorded; SQLite cannot
 * change a CHECK, so events is made again, its rows and sequence kept. */
const char *const store__sqlite_7[] = {
	"ALTER TABLE users ADD COLUMN agent TEXT;"
	"ALTER TABLE users ADD COLUMN mode TEXT NOT NULL DEFAULT 'agent'"
	"  CHECK (mode IN ('agent', 'paused', 'human'));"
	"CREATE TABLE events_7 (" SQLITE_EVENT_COLUMNS(", 'message.inbound'", ", body TEXT")
	");"
	"INSERT INTO events_7 (id, uid, user_id, type, message_id, status, error_code, phone,"
	"  mode, at, state, attempts, next_at, last_error, created_at)"
	"  SELECT id, uid, user_id, type, message_id, status, error_code, phone, mode, at,"
	"  state, attempts, next_at, last_error, created_at FROM events;"
	"UPDATE sqlite_sequence SET seq = coalesce((SELECT seq FROM sqlite_sequence"
	"  WHERE name = 'events'), seq) WHERE name = 'events_7';"
	"DROP TABLE events;"
	"ALTER TABLE events_7 RENAME TO events;" SQLITE_EVENT_INDEXES,
	NULL,
};

/* Version 7's user row: version 4's, then agent and mode. */
#define PG_USER_TABLE_7                                                                    \
	" RETURNS TABLE (id text, name text, created_at bigint, phones text,"               \
	"  opted_out boolean, timezone text, locale text, tags text, agent text, mode text)" \
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
#define PG_USER_COLS_7 PG_USER_COLS ", u.agent, u.mode"

/* 7 (sqlite_7 says why): the functions that return a user row or a claimed event get
 * their new columns (new return types: dropped and created again). */
const char *const store__pg_7[] = {
	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE users ADD COLUMN agent text, ADD COLUMN mode text NOT NULL DEFAULT 'agent'"
	"  CHECK (mode IN ('agent', 'paused', 'human'));"
	"ALTER TABLE events DROP CONSTRAINT events_type_check,"
	"  ADD CONSTRAINT events_type_check CHECK (type IN ('message.status', 'user.opted_out',"
	"    'user.opted_in', 'user.mode', 'message.inbound')),"
	"  ADD COLUMN body text;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_user_by_phone(text);"
	"DROP FUNCTION sr_users();"
	"DROP FUNCTION sr_route(text);"
	"DROP FUNCTION sr_users_page(bigint, text, text, text, integer);"
	"DROP FUNCTION sr_users_page_tag(bigint, text, text, text, integer, text);"
	"DROP FUNCTION sr_events_claim(bigint, bigint, integer);"
	"CREATE FUNCTION sr_user_by_phone(p_phone text)" PG_USER_TABLE_7 PG_USER_COLS_7
	"  FROM phones k JOIN users u ON u.id = k.user_id WHERE k.phone = p_phone $$;"
	"CREATE FUNCTION sr_users()" PG_USER_TABLE_7 PG_USER_COLS_7
	"  FROM users u ORDER BY u.created_at, u.id $$;"
	"CREATE FUNCTION sr_route(p_phone text) RETURNS TABLE (id text, name text,"
	"  created_at bigint, opted_out boolean, timezone text, locale text, tags text,"
	"  agent text, mode text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.id, u.name, u.created_at,"
	"    EXISTS (SELECT 1 FROM optouts o WHERE o.phone = p_phone), u.timezone, u.locale,"
	"    coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) FROM user_tags t"
	"    WHERE t.user_id = u.id), ''), u.agent, u.mode"
	"  FROM (SELECT 1) x LEFT JOIN phones k ON k.phone = p_phone"
	"    LEFT JOIN users u ON u.id = k.user_id $$;"
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE FUNCTION sr_users_page(p_at bigint, p_id text, p_name text, p_phone text,"
	"  p_limit integer)" PG_USER_TABLE_7 PG_USER_COLS_7
	"  FROM users u WHERE (u.created_at, u.id) > (p_at, p_id)" PG_PAGE_FILTERS
	"  ORDER BY u.created_at, u.id LIMIT p_limit $$;"
	"CREATE FUNCTION sr_users_page_tag(p_at bigint, p_id text, p_name text, p_phone text,"
	"  p_limit integer, p_tag text)" PG_USER_TABLE_7 PG_USER_COLS_7
	"  FROM user_tags g JOIN users u ON u.id = g.user_id"
	"  WHERE g.tag = p_tag AND (g.created_at, g.user_id) > (p_at, p_id)" PG_PAGE_FILTERS
	"  ORDER BY g.created_at, g.user_id LIMIT p_limit $$;"
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE FUNCTION sr_events_claim(p_now bigint, p_lease bigint, p_limit integer)"
	" RETURNS TABLE (id bigint, uid text, type text, user_id text, at bigint,"
	"  attempts integer, created_at bigint, message_id text, sid text, status text,"
	"  error_code text, phone text, mode text, body text)" PG_EVENTS_CLAIM(", l.body")
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* Retention's batch (sr_retention_sweep, migrations 8 and 9): the messages chosen once,
 * locked, skipping those another sweep holds or whose outbox row is being worked on; then
 * (after the rollup r) their finished outbox rows and they themselves erased. */
#define PG_SWEEP_BATCH                                                                     \
	"  WITH b AS (SELECT m.id FROM messages m WHERE m.created_at < p_cutoff"             \
	"    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbound_id = m.id"               \
	"      AND o.state IN ('agent', 'send', 'sending'))"                                 \
	"    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.outbound_id = m.id"              \
	"      AND o.state IN ('agent', 'send', 'sending'))"                                 \
	"    ORDER BY m.created_at LIMIT p_limit FOR UPDATE OF m SKIP LOCKED),"
#define PG_SWEEP_ERASE                                                                     \
	"  o AS (DELETE FROM outbox WHERE state IN ('done', 'dead')"                         \
	"    AND (inbound_id IN (SELECT id FROM b) OR outbound_id IN (SELECT id FROM b))),"  \
	"  e AS (DELETE FROM messages WHERE id IN (SELECT id FROM b) RETURNING 1)"           \
	"  SELECT count(*) FROM e $$;"

/* 8: retention (SMSROUTER_RETENTION_DAYS; store/retention.c). The sweep erases old messages
 * in small batches and, in the same transaction, adds what they counted to usage_daily: one
 * row per user ('' for unknown senders) and UTC day (unix seconds of its midnight), so that
 * usage since a midnight is the live messages since then plus the days' totals, the same
 * before and after a sweep. Outbox rows are found by their inbound message too, so that a
 * batch's finished rows are erased with it by index. */
const char *const store__sqlite_8[] = {
	"CREATE TABLE usage_daily ("
	"  user_id TEXT NOT NULL,"
	"  day INTEGER NOT NULL,"
	"  inbound INTEGER NOT NULL DEFAULT 0,"
	"  outbound INTEGER NOT NULL DEFAULT 0,"
	"  segments INTEGER NOT NULL DEFAULT 0,"
	"  over_budget INTEGER NOT NULL DEFAULT 0,"
	"  truncated INTEGER NOT NULL DEFAULT 0,"
	"  smart_encoded INTEGER NOT NULL DEFAULT 0,"
	"  proactive INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (user_id, day)) WITHOUT ROWID;"
	"CREATE INDEX usage_daily_day ON usage_daily(day);"
	"CREATE INDEX outbox_inbound ON outbox(inbound_id);",
	NULL,
};

/* 8 (sqlite_8 says why): usage_daily is a per-user table with row-level security; the sweep
 * (across users) and usage (across users) are functions of smsrouter_system. A batch is one
 * statement: its messages are chosen once (locked, skipping those another process's sweep
 * holds), rolled up, their finished outbox rows and they themselves deleted. Messages whose
 * outbox row is still being worked on wait for it. */
const char *const store__pg_8[] = {
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE usage_daily ("
	"  user_id text NOT NULL,"
	"  day bigint NOT NULL,"
	"  inbound bigint NOT NULL DEFAULT 0,"
	"  outbound bigint NOT NULL DEFAULT 0,"
	"  segments bigint NOT NULL DEFAULT 0,"
	"  over_budget bigint NOT NULL DEFAULT 0,"
	"  truncated bigint NOT NULL DEFAULT 0,"
	"  smart_encoded bigint NOT NULL DEFAULT 0,"
	"  proactive bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (user_id, day));"
	"CREATE INDEX usage_daily_day ON usage_daily (day);"
	"CREATE INDEX outbox_inbound ON outbox (inbound_id);"
	"ALTER TABLE usage_daily ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE usage_daily FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY usage_daily_own ON usage_daily"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY usage_daily_system ON usage_daily TO " SYSTEM_ROLE " USING (true);"
	"GRANT SELECT, INSERT, UPDATE, DELETE ON usage_daily TO " SYSTEM_ROLE ";"
	"GRANT DELETE ON messages, outbox TO " SYSTEM_ROLE ";",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE FUNCTION sr_retention_sweep(p_cutoff bigint, p_limit integer) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SWEEP_BATCH
	"  r AS (INSERT INTO usage_daily AS d (user_id, day, inbound, outbound, segments,"
	"      over_budget, truncated, smart_encoded, proactive)"
	"    SELECT coalesce(m.user_id, ''), m.created_at - m.created_at % 86400,"
	"      count(*) FILTER (WHERE m.direction = 'inbound'),"
	"      count(*) FILTER (WHERE m.direction = 'outbound'), coalesce(sum(m.segments), 0),"
	"      count(*) FILTER (WHERE m.status = 'over_budget'),"
	"      count(*) FILTER (WHERE m.flags & 2 <> 0), count(*) FILTER (WHERE m.flags & 1 <> 0),"
	"      count(*) FILTER (WHERE m.kind = 'proactive')"
	"    FROM messages m JOIN b ON b.id = m.id GROUP BY 1, 2"
	"    ON CONFLICT (user_id, day) DO UPDATE SET inbound = d.inbound + excluded.inbound,"
	"      outbound = d.outbound + excluded.outbound, segments = d.segments + excluded.segments,"
	"      over_budget = d.over_budget + excluded.over_budget,"
	"      truncated = d.truncated + excluded.truncated,"
	"      smart_encoded = d.smart_encoded + excluded.smart_encoded,"
	"      proactive = d.proactive + excluded.proactive),"
	PG_SWEEP_ERASE
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* Usage: the live messages since p_since, and the swept days from p_since on. */
	"CREATE OR REPLACE FUNCTION sr_usage(p_since bigint) RETURNS TABLE (user_id text,"
	"  inbound bigint, outbound bigint, segments bigint, over_budget bigint,"
	"  truncated bigint, smart_encoded bigint, proactive bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.uid, sum(u.i)::bigint, sum(u.o)::bigint, sum(u.sg)::bigint,"
	"    sum(u.ob)::bigint, sum(u.tr)::bigint, sum(u.se)::bigint, sum(u.pr)::bigint"
	"  FROM (SELECT m.user_id AS uid, (m.direction = 'inbound')::int AS i,"
	"      (m.direction = 'outbound')::int AS o, m.segments::bigint AS sg,"
	"      (m.status = 'over_budget')::int AS ob, (m.flags & 2 <> 0)::int AS tr,"
	"      (m.flags & 1 <> 0)::int AS se, (coalesce(m.kind, '') = 'proactive')::int AS pr"
	"    FROM messages m WHERE m.created_at >= p_since"
	"    UNION ALL SELECT nullif(d.user_id, ''), d.inbound, d.outbound, d.segments,"
	"      d.over_budget, d.truncated, d.smart_encoded, d.proactive"
	"    FROM usage_daily d WHERE d.day >= p_since) u"
	"  GROUP BY u.uid ORDER BY u.uid IS NULL, u.uid $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* 9: usage per channel (CONTRACT "Channels and media"). A WhatsApp message has no segments
 * and its own price; a message with media on SMS is an MMS, counted instead of its
 * segments. Swept days keep both counts; days swept before this kept only segments. */
const char *const store__sqlite_9[] = {
	"ALTER TABLE usage_daily ADD COLUMN mms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE usage_daily ADD COLUMN whatsapp INTEGER NOT NULL DEFAULT 0;",
	NULL,
};

/* 9 (sqlite_9 says why): the rollup and usage count both; a Twilio retry's answer carries
 * the reply's media (sr_answer_for). Functions whose result changes are dropped and made
 * again by smsrouter_system, with the grants. */
const char *const store__pg_9[] = {
	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE usage_daily ADD COLUMN mms bigint NOT NULL DEFAULT 0;"
	"ALTER TABLE usage_daily ADD COLUMN whatsapp bigint NOT NULL DEFAULT 0;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_answer_for(text);"
	"CREATE FUNCTION sr_answer_for(p_sid text) RETURNS TABLE (inbound_id bigint,"
	"  outbound_id bigint, body text, media text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT i.id, o.id, o.body, o.media FROM messages i LEFT JOIN messages o"
	"    ON o.reply_to = i.id AND o.direction = 'outbound' AND (o.flags & 4) = 0"
	"  WHERE i.sid = p_sid AND i.direction = 'inbound' ORDER BY o.id LIMIT 1 $$;"
	"CREATE OR REPLACE FUNCTION sr_retention_sweep(p_cutoff bigint, p_limit integer)"
	" RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SWEEP_BATCH
	"  r AS (INSERT INTO usage_daily AS d (user_id, day, inbound, outbound, segments,"
	"      over_budget, truncated, smart_encoded, proactive, mms, whatsapp)"
	"    SELECT coalesce(m.user_id, ''), m.created_at - m.created_at % 86400,"
	"      count(*) FILTER (WHERE m.direction = 'inbound'),"
	"      count(*) FILTER (WHERE m.direction = 'outbound'),"
	"      coalesce(sum(" MSG_SEGMENTS("m") "), 0),"
	"      count(*) FILTER (WHERE m.status = 'over_budget'),"
	"      count(*) FILTER (WHERE m.flags & 2 <> 0), count(*) FILTER (WHERE m.flags & 1 <> 0),"
	"      count(*) FILTER (WHERE m.kind = 'proactive'),"
	"      coalesce(sum(" MSG_IS_MMS("m") "), 0), coalesce(sum(" MSG_IS_WA("m") "), 0)"
	"    FROM messages m JOIN b ON b.id = m.id GROUP BY 1, 2"
	"    ON CONFLICT (user_id, day) DO UPDATE SET inbound = d.inbound + excluded.inbound,"
	"      outbound = d.outbound + excluded.outbound, segments = d.segments + excluded.segments,"
	"      over_budget = d.over_budget + excluded.over_budget,"
	"      truncated = d.truncated + excluded.truncated,"
	"      smart_encoded = d.smart_encoded + excluded.smart_encoded,"
	"      proactive = d.proactive + excluded.proactive, mms = d.mms + excluded.mms,"
	"      whatsapp = d.whatsapp + excluded.whatsapp),"
	PG_SWEEP_ERASE
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_usage(bigint);"
	"CREATE FUNCTION sr_usage(p_since bigint) RETURNS TABLE (user_id text,"
	"  inbound bigint, outbound bigint, segments bigint, over_budget bigint,"
	"  truncated bigint, smart_encoded bigint, proactive bigint, mms bigint, whatsapp bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.uid, sum(u.i)::bigint, sum(u.o)::bigint, sum(u.sg)::bigint,"
	"    sum(u.ob)::bigint, sum(u.tr)::bigint, sum(u.se)::bigint, sum(u.pr)::bigint,"
	"    sum(u.mm)::bigint, sum(u.wa)::bigint"
	"  FROM (SELECT m.user_id AS uid, (m.direction = 'inbound')::int AS i,"
	"      (m.direction = 'outbound')::int AS o, (" MSG_SEGMENTS("m") ")::bigint AS sg,"
	"      (m.status = 'over_budget')::int AS ob, (m.flags & 2 <> 0)::int AS tr,"
	"      (m.flags & 1 <> 0)::int AS se, (coalesce(m.kind, '') = 'proactive')::int AS pr,"
	"      " MSG_IS_MMS("m") " AS mm, " MSG_IS_WA("m") " AS wa"
	"    FROM messages m WHERE m.created_at >= p_since"
	"    UNION ALL SELECT nullif(d.user_id, ''), d.inbound, d.outbound, d.segments,"
	"      d.over_budget, d.truncated, d.smart_encoded, d.proactive, d.mms, d.whatsapp"
	"    FROM usage_daily d WHERE d.day >= p_since) u"
	"  GROUP BY u.uid ORDER BY u.uid IS NULL, u.uid $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* 10: the operator console's traffic figures (GET …/admin/stats, store_stats). Each message
 * stored is counted, in the transaction that stores it, in stats_hourly: a row per UTC hour
 * (unix seconds of its start), shard, direction and outcome (an inbound message's status as
 * stored, which is the router's verdict; '' for outbound), with its count and segments. So
 * stats over any range read at most a few rows per hour, never the messages, whatever the
 * number of users; retention and a user's erasure delete messages, not these counts.
 * Filled from the messages there are. SQLite writes one transaction at a time (one shard),
 * and the store adds a transaction's counts just before its commit (store/stats.c): one
 * upsert per hour, direction and outcome for the writer's whole batch, where a trigger would
 * run one per message. */
#define STATS_HOURLY_COLS "(hour, shard, direction, outcome, messages, segments, mms, whatsapp)"
/* The counts of messages m, as usage counts them (MSG_SEGMENTS). */
#define STATS_SUMS(m)                                                                      \
	"count(*), coalesce(sum(" MSG_SEGMENTS(m) "), 0), coalesce(sum(" MSG_IS_MMS(m) "), 0), " \
	"coalesce(sum(" MSG_IS_WA(m) "), 0)"
#define STATS_OUTCOME(m) "CASE WHEN " m ".direction = 'inbound' THEN " m ".status ELSE '' END"
const char *const store__sqlite_10[] = {
	"CREATE TABLE stats_hourly ("
	"  hour INTEGER NOT NULL,"
	"  shard INTEGER NOT NULL,"
	"  direction TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  messages INTEGER NOT NULL,"
	"  segments INTEGER NOT NULL,"
	"  mms INTEGER NOT NULL DEFAULT 0,"
	"  whatsapp INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (hour, direction, outcome, shard)) WITHOUT ROWID;"
	"INSERT INTO stats_hourly " STATS_HOURLY_COLS
	" SELECT created_at - created_at % 3600, 0, direction, " STATS_OUTCOME("m")
	", " STATS_SUMS("m") " FROM messages m GROUP BY 1, 3, 4;",
	NULL,
};

/* 10 (sqlite_10 says why): stats_hourly holds no user's data but spans them all, so it is
 * reached as usage_daily is, only through smsrouter_system's functions: the trigger's
 * (SECURITY DEFINER) and sr_stats. Here each message is its own transaction (no writer
 * batches them), so a trigger adds each as it is inserted, whoever inserts it. Several
 * processes store messages at once, each transaction holding the hour's row it updated until
 * it commits: each connection adds to its own shard (its backend's pid modulo 8), one row
 * per hour, so that transactions of different connections seldom wait for one another and
 * never deadlock over these rows. The trigger comes before the filling, in the migration's transaction:
 * it locks messages against writes until the commit, so that no message is counted twice
 * or missed. */
const char *const store__pg_10[] = {
	"SET LOCAL search_path = smsrouter;"
	"CREATE TABLE stats_hourly ("
	"  hour bigint NOT NULL,"
	"  shard integer NOT NULL,"
	"  direction text NOT NULL,"
	"  outcome text NOT NULL,"
	"  messages bigint NOT NULL,"
	"  segments bigint NOT NULL,"
	"  mms bigint NOT NULL DEFAULT 0,"
	"  whatsapp bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (hour, direction, outcome, shard));"
	"ALTER TABLE stats_hourly ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE stats_hourly FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY stats_hourly_system ON stats_hourly TO " SYSTEM_ROLE " USING (true);"
	"GRANT SELECT, INSERT, UPDATE ON stats_hourly TO " SYSTEM_ROLE ";",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE FUNCTION sr_stats_count() RETURNS trigger"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN"
	"  INSERT INTO stats_hourly AS s " STATS_HOURLY_COLS
	"  VALUES (NEW.created_at - NEW.created_at % 3600, pg_backend_pid() % 8, NEW.direction,"
	"    " STATS_OUTCOME("NEW") ", 1, " MSG_SEGMENTS("NEW") ", " MSG_IS_MMS("NEW") ", "
	MSG_IS_WA("NEW") ")"
	"  ON CONFLICT (hour, direction, outcome, shard) DO UPDATE SET"
	"    messages = s.messages + 1, segments = s.segments + excluded.segments,"
	"    mms = s.mms + excluded.mms, whatsapp = s.whatsapp + excluded.whatsapp;"
	"  RETURN NULL;"
	"END $$;"
	/* The hours from p_since to before p_until, their shards summed (in the primary key's
	 * order: no sort), each with its bucket of p_bucket seconds (3600 or 86400); the
	 * caller adds the hours of a day. */
	"CREATE FUNCTION sr_stats(p_since bigint, p_until bigint, p_bucket bigint)"
	" RETURNS TABLE (t bigint, direction text, outcome text, messages bigint,"
	"  segments bigint, mms bigint, whatsapp bigint)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT s.hour - s.hour % p_bucket, s.direction, s.outcome, sum(s.messages)::bigint,"
	"    sum(s.segments)::bigint, sum(s.mms)::bigint, sum(s.whatsapp)::bigint"
	"  FROM stats_hourly s"
	"  WHERE s.hour >= p_since AND s.hour < p_until"
	"  GROUP BY s.hour, s.direction, s.outcome ORDER BY s.hour $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"CREATE TRIGGER messages_stats AFTER INSERT ON messages"
	"  FOR EACH ROW EXECUTE FUNCTION sr_stats_count();",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"INSERT INTO stats_hourly " STATS_HOURLY_COLS
	" SELECT m.created_at - m.created_at % 3600, 0, m.direction, " STATS_OUTCOME("m")
	", " STATS_SUMS("m") " FROM messages m GROUP BY 1, 3, 4;"
	"RESET ROLE;",
	NULL,
};
