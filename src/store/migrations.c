/* The one migration list: version N's text for each dialect, applied in order by the
 * dialect's runner (sqlite.c: PRAGMA user_version, one transaction per version;
 * postgres.c: schema_migrations, one transaction under an advisory lock). Released
 * versions are frozen: a change is a new version. Times are seconds for messages, users,
 * notes, opt-outs and onboarding, milliseconds for the outbox, in both dialects. */
#include "store/migrations.h"

/* ---- SQLite ---- */

static const char *const sqlite_1[] = {
	"CREATE TABLE users ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE phones ("
	"  phone TEXT PRIMARY KEY,"
	"  user_id TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX phones_user ON phones(user_id);"
	"CREATE TABLE optouts ("
	"  phone TEXT PRIMARY KEY,"
	"  created_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT,"
	"  sid TEXT UNIQUE,"
	"  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),"
	"  from_addr TEXT NOT NULL,"
	"  to_addr TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  status TEXT NOT NULL,"
	"  status_rank INTEGER NOT NULL DEFAULT 0,"
	"  error_code TEXT,"
	"  encoding TEXT NOT NULL,"
	"  segments INTEGER NOT NULL,"
	"  media TEXT,"
	"  reply_to INTEGER,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX messages_user ON messages(user_id, id);"
	"CREATE INDEX messages_reply ON messages(reply_to) WHERE reply_to IS NOT NULL;"
	"CREATE INDEX messages_created ON messages(created_at);"
	"CREATE TABLE notes ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL);"
	"CREATE INDEX notes_user ON notes(user_id, id);"
	"CREATE TABLE onboarding ("
	"  phone TEXT PRIMARY KEY,"
	"  sent_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  user_id TEXT NOT NULL,"
	"  inbound_id INTEGER NOT NULL,"
	"  outbound_id INTEGER,"
	"  state TEXT NOT NULL CHECK (state IN ('agent', 'send', 'sending', 'done', 'dead')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  sent_at INTEGER,"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE INDEX outbox_due ON outbox(state, next_at);"
	"CREATE INDEX outbox_user ON outbox(user_id, id);",
	NULL,
};

/* 2: a user's phones keep the order they were given in (PostgreSQL's phones.seq). The rows
 * of version 1 all get 0, so they keep their order by phone, ahead of any added later. */
static const char *const sqlite_2[] = {
	"ALTER TABLE phones ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;",
	NULL,
};

/* ---- PostgreSQL (postgres.c explains the security model these build) ---- */


/* 1, the whole schema: tables (the shape of sqlite.c's), row-level security, then
 * the cross-user functions, created as smsrouter_system. Frozen once released: a change is
 * a new migration. In parts, each under the 4095 bytes ISO C promises for a literal. */
static const char *const pg_1[] = {
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
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* 2: the sender rate limit, shared by every process on the database and kept
 * across restarts. One row per number that sent within its window: tat is the limit's
 * "theoretical arrival time" (GCRA) in microseconds of the server's clock. Keyed by number,
 * no user's rows: a plain table, like onboarding. */
static const char *const pg_2[] = {
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

/* 3: status callbacks run the same steps on both dialects (messages.c: record the sid,
 * move the status forward by store_status_rank's rank, or tell that no such message
 * exists), each step a function here, where sr_status_update did all three in PL/pgSQL.
 * The new functions get migration 1's owner and grants. */
static const char *const pg_3[] = {
	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_status_update(bigint, text, text, integer, text);"
	"CREATE FUNCTION sr_status_sid(p_id bigint, p_sid text) RETURNS void"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN"
	"  UPDATE messages SET sid = p_sid"
	"  WHERE id = p_id AND direction = 'outbound' AND sid IS NULL;"
	"EXCEPTION WHEN unique_violation THEN NULL;" /* another message has it: keep ours */
	"END $$;"
	"CREATE FUNCTION sr_status_set(p_id bigint, p_sid text, p_status text,"
	"  p_rank integer, p_error text) RETURNS bigint"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH u AS (UPDATE messages SET status = p_status, status_rank = p_rank,"
	"    error_code = coalesce(p_error, error_code)"
	"    WHERE (id = p_id OR (p_id <= 0 AND sid = p_sid)) AND direction = 'outbound'"
	"    AND status_rank < p_rank RETURNING 1)"
	"  SELECT count(*) FROM u $$;"
	"CREATE FUNCTION sr_status_exists(p_id bigint, p_sid text) RETURNS boolean"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT EXISTS (SELECT 1 FROM messages"
	"    WHERE (id = p_id OR (p_id <= 0 AND sid = p_sid)) AND direction = 'outbound') $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* 4: a user's attributes (issue 13): timezone and locale on users, and its tags, in
 * their own table in the order given (seq). A tag row carries its user's created_at (which
 * never changes) so that the list filtered by a tag walks one index, (tag, created_at,
 * user_id), in the list's order; users get the same index for the unfiltered list. Both
 * lists seek from their cursor (created_at, id): no OFFSET. */
static const char *const sqlite_4[] = {
	"ALTER TABLE users ADD COLUMN timezone TEXT;"
	"ALTER TABLE users ADD COLUMN locale TEXT;"
	"CREATE INDEX users_created ON users(created_at, id);"
	"CREATE TABLE user_tags ("
	"  user_id TEXT NOT NULL,"
	"  tag TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (user_id, tag)) WITHOUT ROWID;"
	"CREATE INDEX user_tags_tag ON user_tags(tag, created_at, user_id);",
	NULL,
};


/* 4 (sqlite_4 says why): user_tags is a per-user table, with row-level security like the
 * others; the functions that return a user row get its new columns (a new return type:
 * dropped and created again, as smsrouter_system), and the paginated list is one more
 * function. */
static const char *const pg_4[] = {
	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE users ADD COLUMN timezone text, ADD COLUMN locale text;"
	"CREATE INDEX users_created ON users (created_at, id);"
	"CREATE TABLE user_tags ("
	"  user_id text NOT NULL,"
	"  tag text NOT NULL,"
	"  seq integer NOT NULL,"
	"  created_at bigint NOT NULL,"
	"  PRIMARY KEY (user_id, tag));"
	"CREATE INDEX user_tags_tag ON user_tags (tag, created_at, user_id);"
	"ALTER TABLE user_tags ENABLE ROW LEVEL SECURITY;"
	"ALTER TABLE user_tags FORCE ROW LEVEL SECURITY;"
	"CREATE POLICY user_tags_own ON user_tags"
	"  USING (user_id = current_setting('smsrouter.user_id', true));"
	"CREATE POLICY user_tags_system ON user_tags TO " SYSTEM_ROLE " USING (true);"
	"GRANT SELECT ON user_tags TO " SYSTEM_ROLE ";",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_user_by_phone(text);"
	"DROP FUNCTION sr_users();"
	"DROP FUNCTION sr_route(text);"
	"CREATE FUNCTION sr_user_by_phone(p_phone text)" PG_USER_TABLE PG_USER_COLS
	"  FROM phones k JOIN users u ON u.id = k.user_id WHERE k.phone = p_phone $$;"
	"CREATE FUNCTION sr_users()" PG_USER_TABLE PG_USER_COLS
	"  FROM users u ORDER BY u.created_at, u.id $$;"
	/* Routing's one lookup: the sender's user, if any, its attributes (for the agent), and
	 * whether the number opted out. */
	"CREATE FUNCTION sr_route(p_phone text) RETURNS TABLE (id text, name text,"
	"  created_at bigint, opted_out boolean, timezone text, locale text, tags text)"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  SELECT u.id, u.name, u.created_at,"
	"    EXISTS (SELECT 1 FROM optouts o WHERE o.phone = p_phone), u.timezone, u.locale,"
	"    coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) FROM user_tags t"
	"    WHERE t.user_id = u.id), '')"
	"  FROM (SELECT 1) x LEFT JOIN phones k ON k.phone = p_phone"
	"    LEFT JOIN users u ON u.id = k.user_id $$;"
	"RESET ROLE;",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* One page of the user list after (p_at, p_id), oldest first: walked in users' index,
	 * or with a tag in user_tags'. */
	"CREATE FUNCTION sr_users_page(p_at bigint, p_id text, p_name text, p_phone text,"
	"  p_limit integer)" PG_USER_TABLE PG_USER_COLS
	"  FROM users u WHERE (u.created_at, u.id) > (p_at, p_id)" PG_PAGE_FILTERS
	"  ORDER BY u.created_at, u.id LIMIT p_limit $$;"
	"CREATE FUNCTION sr_users_page_tag(p_at bigint, p_id text, p_name text, p_phone text,"
	"  p_limit integer, p_tag text)" PG_USER_TABLE PG_USER_COLS
	"  FROM user_tags g JOIN users u ON u.id = g.user_id"
	"  WHERE g.tag = p_tag AND (g.created_at, g.user_id) > (p_at, p_id)" PG_PAGE_FILTERS
	"  ORDER BY g.created_at, g.user_id LIMIT p_limit $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};

/* migrations[i] takes the schema from version i to i + 1. */
const struct store__migration store__migrations[] = {
	{sqlite_1, pg_1},
	{sqlite_2, pg_2},
	{NULL, pg_3},
	{sqlite_4, pg_4},
	{store__sqlite_5, store__pg_5},
	{store__sqlite_6, store__pg_6},
	{store__sqlite_7, store__pg_7},
	{store__sqlite_8, store__pg_8},
	{store__sqlite_9, store__pg_9},
	{store__sqlite_10, store__pg_10},
	{store__sqlite_11, store__pg_11},
	{store__sqlite_12, store__pg_12},
	{store__sqlite_13, store__pg_13},
	{store__sqlite_14, store__pg_14},
	{store__sqlite_15, store__pg_15},
};
const int store__schema_version =
	(int)(sizeof(store__migrations) / sizeof(store__migrations[0]));
