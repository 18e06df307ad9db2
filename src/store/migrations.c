/* The one migration list: version N's text for each dialect, applied in order by the
 * dialect's runner (sqlite.c: PRAGMA user_version, one transaction per version;
 * postgres.c: schema_migrations, one transaction under an advisory lock). Released
 * versions are frozen: a change is a new version. Times are seconds for messages, users,
 * notes, opt-outs and onboarding, milliseconds for the outbox, in both dialects. */
#include "store/dialect.h"

#define SYSTEM_ROLE STORE__PG_SYSTEM_ROLE

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

/* Only the service role (the one migrating) may call the functions smsrouter_system owns:
 * run as smsrouter_system, after creating them. */
#define GRANT_FUNCTIONS                                                                    \
	"DO $$ DECLARE f regprocedure;"                                                    \
	"BEGIN"                                                                            \
	"  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p"                             \
	"    WHERE p.pronamespace = 'smsrouter'::regnamespace"                             \
	"    AND p.proowner = current_user::regrole LOOP"                                  \
	"    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);"                  \
	"    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, session_user);"       \
	"  END LOOP;"                                                                      \
	"END $$;"

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

/* The user row the functions return, as users.c maps it (catalogue.c's USER_COLS_PG):
 * id, name, created_at, phones, opted_out, timezone, locale, tags (separated by the
 * control character 31, which no tag holds). */
#define PG_USER_TABLE                                                                      \
	" RETURNS TABLE (id text, name text, created_at bigint, phones text,"               \
	"  opted_out boolean, timezone text, locale text, tags text)"                      \
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
#define PG_USER_COLS                                                                       \
	"  SELECT u.id, u.name, u.created_at, coalesce((SELECT string_agg(p.phone, ' '"    \
	"    ORDER BY p.seq) FROM phones p WHERE p.user_id = u.id), ''),"                  \
	"    EXISTS (SELECT 1 FROM phones p JOIN optouts o ON o.phone = p.phone"           \
	"    WHERE p.user_id = u.id), u.timezone, u.locale,"                               \
	"    coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) FROM user_tags t"  \
	"    WHERE t.user_id = u.id), '')"
/* The list's filters: q as a name's substring (ASCII letters folded, as SQLite's lower()
 * does), q as a phone's prefix. */
#define PG_PAGE_FILTERS                                                                    \
	"    AND (p_name IS NULL OR strpos(lower(u.name COLLATE \"C\"),"                  \
	"      lower(p_name COLLATE \"C\")) > 0)"                                          \
	"    AND (p_phone IS NULL OR EXISTS (SELECT 1 FROM phones p WHERE p.user_id = u.id" \
	"      AND left(p.phone, length(p_phone)) = p_phone))"

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
static const char *const sqlite_5[] = {
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

/* The row the sender reads (sr_send_row): an outbox row (sr_outbox_row's columns), then its
 * lane, its message's media, kind and uid, and its user's time zone. */
#define PG_SEND_COLS                                                                       \
	"  SELECT o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"     \
	"    o.attempts, o.next_at, coalesce(o.sent_at, 0), o.created_at,"                 \
	"    coalesce(o.last_error, ''), m.to_addr, m.from_addr, m.body, m.segments,"      \
	"    o.lane, m.media, coalesce(m.kind, ''), m.uid, coalesce(u.timezone, '')"        \
	"  FROM outbox o JOIN messages m ON m.id = o.outbound_id"                          \
	"    LEFT JOIN users u ON u.id = o.user_id"

/* 5 (sqlite_5 says why). gen_random_uuid() (PostgreSQL 13) gives the older rows' uids. The
 * functions whose "first in its user's line" now looks at one lane are made again. */
static const char *const pg_5[] = {
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
static const char *const sqlite_6[] = {
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
static const char *const pg_6[] = {
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
static const char *const sqlite_7[] = {
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
static const char *const pg_7[] = {
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

/* 8: retention (SMSROUTER_RETENTION_DAYS; store/retention.c). The sweep erases old messages
 * in small batches and, in the same transaction, adds what they counted to usage_daily: one
 * row per user ('' for unknown senders) and UTC day (unix seconds of its midnight), so that
 * usage since a midnight is the live messages since then plus the days' totals, the same
 * before and after a sweep. Outbox rows are found by their inbound message too, so that a
 * batch's finished rows are erased with it by index. */
static const char *const sqlite_8[] = {
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
static const char *const pg_8[] = {
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
	"  WITH b AS (SELECT m.id FROM messages m WHERE m.created_at < p_cutoff"
	"    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.inbound_id = m.id"
	"      AND o.state IN ('agent', 'send', 'sending'))"
	"    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.outbound_id = m.id"
	"      AND o.state IN ('agent', 'send', 'sending'))"
	"    ORDER BY m.created_at LIMIT p_limit FOR UPDATE OF m SKIP LOCKED),"
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
	"  o AS (DELETE FROM outbox WHERE state IN ('done', 'dead')"
	"    AND (inbound_id IN (SELECT id FROM b) OR outbound_id IN (SELECT id FROM b))),"
	"  e AS (DELETE FROM messages WHERE id IN (SELECT id FROM b) RETURNING 1)"
	"  SELECT count(*) FROM e $$;"
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

/* migrations[i] takes the schema from version i to i + 1. */
const struct store__migration store__migrations[] = {
	{sqlite_1, pg_1},
	{sqlite_2, pg_2},
	{NULL, pg_3},
	{sqlite_4, pg_4},
	{sqlite_5, pg_5},
	{sqlite_6, pg_6},
	{sqlite_7, pg_7},
	{sqlite_8, pg_8},
};
const int store__schema_version =
	(int)(sizeof(store__migrations) / sizeof(store__migrations[0]));
