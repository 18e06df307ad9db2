/* The migration list's versions 12, 14 and 15 (issue 17): PostgreSQL's hot cross-user
 * functions planned once per connection, the bulk import, and the webhook's one lookup.
 * Released versions are frozen: a change is a new version. */
#include "store/migrations.h"

/* A function of PL/pgSQL whose body is one RETURN QUERY: PL/pgSQL keeps the plan of each
 * static statement for the connection's life, where a SQL function that cannot be inlined
 * (SECURITY DEFINER and SET never are) is planned afresh on every call. Its OUT columns
 * have the names of table columns: a name in the query is the column. */
#define PG_PLAN_ONCE                                                                       \
	" LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$" \
	"\n#variable_conflict use_column\n"                                                    \
	"BEGIN RETURN QUERY"

/* sr_import_users' end (12 and 14): a unique violation that a number held already explains
 * returns the least of those phones' P (an array as long as p_phones: 12's rows, 14's
 * places); any other is raised (a user id taken: no phone's fault). */
#define PG_IMPORT_CATCH(P)                                                                 \
	"EXCEPTION WHEN unique_violation THEN"                                             \
	"  SELECT min(x.r) INTO bad FROM unnest(p_phones, " P ") AS x(phone, r)"           \
	"    WHERE EXISTS (SELECT 1 FROM phones k WHERE k.phone = x.phone);"                \
	"  IF bad IS NULL THEN RAISE; END IF;"                                             \
	"  RETURN bad;"                                                                    \
	"END $$;" GRANT_FUNCTIONS "RESET ROLE;"

/* 12: SQLite has nothing to do. */
const char *const store__sqlite_12[] = {NULL};

/* 12: the functions each webhook calls (the dedupe by MessageSid, the phone lookup) and
 * those of the events and the admin API's lookup by phone: the same signatures, results
 * and owner, now PL/pgSQL (PG_PLAN_ONCE says why). And sr_import_users, the import's one
 * statement per chunk of users: every row of a chunk in two INSERTs … SELECT, where a
 * scoped INSERT per row (row-level security takes one user per transaction setting) made
 * three round trips a user. It inserts only new users and their phones (what the service
 * role could insert itself, user by user; a phone must be one of the call's new users'),
 * so smsrouter_system gets INSERT on those two tables, nothing more. A number another user
 * holds already inserts nothing of the chunk and returns the first such row's index (else
 * -1). Arrays: the chunk's ids and names, and for each phone its row's index in the chunk
 * and its user's id. */
const char *const store__pg_12[] = {
	"SET LOCAL search_path = smsrouter;"
	"GRANT INSERT ON users, phones TO " SYSTEM_ROLE ";"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE OR REPLACE FUNCTION sr_route(p_phone text) RETURNS TABLE (id text, name text,"
	"  created_at bigint, opted_out boolean, timezone text, locale text, tags text,"
	"  agent text, mode text)" PG_PLAN_ONCE
	"  SELECT u.id, u.name, u.created_at,"
	"    EXISTS (SELECT 1 FROM optouts o WHERE o.phone = p_phone), u.timezone, u.locale,"
	"    coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) FROM user_tags t"
	"    WHERE t.user_id = u.id), ''), u.agent, u.mode"
	"  FROM (SELECT 1) x LEFT JOIN phones k ON k.phone = p_phone"
	"    LEFT JOIN users u ON u.id = k.user_id; END $$;"
	"CREATE OR REPLACE FUNCTION sr_answer_for(p_sid text) RETURNS TABLE (inbound_id bigint,"
	"  outbound_id bigint, body text, media text)" PG_PLAN_ONCE
	"  SELECT i.id, o.id, o.body, o.media FROM messages i LEFT JOIN messages o"
	"    ON o.reply_to = i.id AND o.direction = 'outbound' AND (o.flags & 4) = 0"
	"  WHERE i.sid = p_sid AND i.direction = 'inbound' ORDER BY o.id LIMIT 1; END $$;"
	"CREATE OR REPLACE FUNCTION sr_user_by_phone(p_phone text) RETURNS TABLE (id text,"
	"  name text, created_at bigint, phones text, opted_out boolean, timezone text,"
	"  locale text, tags text, agent text, mode text)" PG_PLAN_ONCE PG_USER_COLS ","
	"  u.agent, u.mode FROM phones k JOIN users u ON u.id = k.user_id"
	"  WHERE k.phone = p_phone; END $$;"
	"CREATE OR REPLACE FUNCTION sr_message_rank(p_id bigint) RETURNS integer"
	" LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"DECLARE r integer;"
	"BEGIN"
	"  SELECT status_rank INTO r FROM messages WHERE id = p_id AND direction = 'outbound'"
	"    FOR UPDATE;"
	"  RETURN r;"
	"END $$;"
	"CREATE FUNCTION sr_import_users(p_ids text[], p_names text[], p_rows integer[],"
	"  p_phones text[], p_owners text[], p_now bigint) RETURNS integer"
	" LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"DECLARE bad integer;"
	"BEGIN"
	"  IF EXISTS (SELECT unnest(p_owners) EXCEPT SELECT unnest(p_ids)) THEN"
	"    RAISE 'sr_import_users: a phone of a user not in this call';"
	"  END IF;"
	"  INSERT INTO users (id, name, created_at)"
	"    SELECT x.id, x.name, p_now FROM unnest(p_ids, p_names) AS x(id, name);"
	/* In the arrays' order: seq keeps each user's phones in theirs. */
	"  INSERT INTO phones (phone, user_id)"
	"    SELECT x.phone, x.owner FROM unnest(p_phones, p_owners)"
	"    WITH ORDINALITY AS x(phone, owner, n) ORDER BY x.n;"
	"  RETURN -1;" PG_IMPORT_CATCH("p_rows"),
	NULL,
};

/* 14: SQLite has nothing to do. */
const char *const store__sqlite_14[] = {NULL};

/* 14: sr_import_users names each phone's user by its place in the call's ids (1 for the
 * first) instead of by its id: a phone can only go to one of the call's new users by
 * construction, without the check that compared every phone's owner with the ids, and the
 * call's text is a third smaller. A place outside p_ids makes the phone's user NULL, which
 * phones refuses. A join, not p_ids[k]: while the statement's first plans hold the array as
 * a constant, a subscript walks it from its start (0.8 s more for 100,000 users). A number
 * another user holds already inserts nothing of the call and returns the first place whose
 * phone it is (else 0). The same owner and grants as 12's, which goes. */
const char *const store__pg_14[] = {
	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_import_users(text[], text[], integer[], text[], text[], bigint);"
	"CREATE FUNCTION sr_import_users(p_ids text[], p_names text[], p_phones text[],"
	"  p_users integer[], p_now bigint) RETURNS integer"
	" LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"DECLARE bad integer;"
	"BEGIN"
	"  INSERT INTO users (id, name, created_at)"
	"    SELECT x.id, x.name, p_now FROM unnest(p_ids, p_names) AS x(id, name);"
	/* In the arrays' order: seq keeps each user's phones in theirs. */
	"  INSERT INTO phones (phone, user_id)"
	"    SELECT x.phone, u.id FROM unnest(p_phones, p_users) WITH ORDINALITY AS x(phone, k, n)"
	"    LEFT JOIN unnest(p_ids) WITH ORDINALITY AS u(id, k) ON u.k = x.k ORDER BY x.n;"
	"  RETURN 0;" PG_IMPORT_CATCH("p_users"),
	NULL,
};

/* 15: SQLite has nothing to do. */
const char *const store__sqlite_15[] = {NULL};

/* 15: what a webhook needs to know before it is routed, in one call: the answer stored for
 * its MessageSid (sr_answer_for's row) if it was seen, else the route of its sender's
 * number (sr_route's row), so that the router asks for a whole batch's in one round trip
 * (store_lookup_many). The two queries are those of sr_answer_for and sr_route; the route
 * is not looked up for a message seen before.
 * And the hourly stats counted by the store, as SQLite's are (store/stats.c): one upsert
 * per hour, direction and outcome a transaction, sent with its COMMIT, where the trigger of
 * migration 10 ran a SECURITY DEFINER function and an upsert for every message (a sixth of
 * the server's time per webhook). sr_stats_add adds a transaction's counts (arrays, one
 * element per hour, direction and outcome), nothing else, to the table only
 * smsrouter_system writes, in one order. Its shard spreads concurrent writers over rows:
 * chosen at random each time, where the trigger's (the backend's pid modulo 8) made two
 * writers whose pids met there wait for each other's commit on every batch. */
const char *const store__pg_15[] = {
	"SET LOCAL search_path = smsrouter;"
	"DROP TRIGGER messages_stats ON messages;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"DROP FUNCTION sr_stats_count();"
	"CREATE OR REPLACE FUNCTION sr_stats_add(p_hours bigint[], p_inbound integer[],"
	"  p_outcomes text, p_messages bigint[], p_segments bigint[], p_mms bigint[],"
	"  p_whatsapp bigint[]) RETURNS void"
	" LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN"
	"  INSERT INTO stats_hourly AS s (hour, shard, direction, outcome, messages, segments,"
	"    mms, whatsapp)"
	"  SELECT x.h, floor(random() * 8)::integer,"
	"    CASE WHEN x.i = 1 THEN 'inbound' ELSE 'outbound' END, substr(x.o, 2), x.m, x.g,"
	"    x.mm, x.w"
	"  FROM unnest(p_hours, p_inbound, string_to_array(p_outcomes, chr(31)), p_messages,"
	"    p_segments, p_mms, p_whatsapp) AS x(h, i, o, m, g, mm, w)"
	"  ORDER BY 1, 3, 4" /* one order of row locks for every writer */
	"  ON CONFLICT (hour, direction, outcome, shard) DO UPDATE SET"
	"    messages = s.messages + excluded.messages,"
	"    segments = s.segments + excluded.segments, mms = s.mms + excluded.mms,"
	"    whatsapp = s.whatsapp + excluded.whatsapp;"
	"END $$;"
	"CREATE OR REPLACE FUNCTION sr_webhook_lookup(p_sid text, p_phone text) RETURNS TABLE ("
	"  inbound_id bigint, outbound_id bigint, body text, media text, id text, name text,"
	"  created_at bigint, opted_out boolean, timezone text, locale text, tags text,"
	"  agent text, mode text)" PG_PLAN_ONCE
	"  SELECT i.id, o.id, o.body, o.media, NULL::text, NULL::text, NULL::bigint,"
	"    NULL::boolean, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text"
	"  FROM messages i LEFT JOIN messages o"
	"    ON o.reply_to = i.id AND o.direction = 'outbound' AND (o.flags & 4) = 0"
	"  WHERE i.sid = p_sid AND i.direction = 'inbound' ORDER BY o.id LIMIT 1;"
	"  IF FOUND OR p_phone IS NULL THEN RETURN; END IF;"
	"  RETURN QUERY SELECT NULL::bigint, NULL::bigint, NULL::text, NULL::text,"
	"    u.id, u.name, u.created_at,"
	"    EXISTS (SELECT 1 FROM optouts o WHERE o.phone = p_phone), u.timezone, u.locale,"
	"    coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) FROM user_tags t"
	"    WHERE t.user_id = u.id), ''), u.agent, u.mode"
	"  FROM (SELECT 1) x LEFT JOIN phones k ON k.phone = p_phone"
	"    LEFT JOIN users u ON u.id = k.user_id; END $$;" GRANT_FUNCTIONS
	"RESET ROLE;",
	NULL,
};
