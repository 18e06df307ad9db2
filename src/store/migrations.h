#pragma once
/* The migration list's own: the macros both of its files use (migrations.c: versions 1 to 4
 * and the list; migrations_api.c: versions 5 to 10, messages sent through the API, events,
 * agents and modes, retention, usage per channel, stats; migrations_heads.c: version 11;
 * migrations_perf.c: versions 12, 14 and 15), and the later versions' texts. Only those files
 * include it. */
#include "store/dialect.h"

#define SYSTEM_ROLE STORE__PG_SYSTEM_ROLE

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

/* The row the sender reads (sr_send_row): an outbox row (sr_outbox_row's columns), then its
 * lane, its message's media, kind and uid, and its user's time zone. */
#define PG_SEND_COLS                                                                       \
	"  SELECT o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"     \
	"    o.attempts, o.next_at, coalesce(o.sent_at, 0), o.created_at,"                 \
	"    coalesce(o.last_error, ''), m.to_addr, m.from_addr, m.body, m.segments,"      \
	"    o.lane, m.media, coalesce(m.kind, ''), m.uid, coalesce(u.timezone, '')"        \
	"  FROM outbox o JOIN messages m ON m.id = o.outbound_id"                          \
	"    LEFT JOIN users u ON u.id = o.user_id"

extern const char *const store__sqlite_5[];
extern const char *const store__pg_5[];
extern const char *const store__sqlite_6[];
extern const char *const store__pg_6[];
extern const char *const store__sqlite_7[];
extern const char *const store__pg_7[];
extern const char *const store__sqlite_8[];
extern const char *const store__pg_8[];
extern const char *const store__sqlite_9[];
extern const char *const store__pg_9[];
extern const char *const store__sqlite_10[];
extern const char *const store__pg_10[];
extern const char *const store__sqlite_11[];
extern const char *const store__pg_11[];
extern const char *const store__sqlite_12[];
extern const char *const store__pg_12[];
extern const char *const store__sqlite_13[];
extern const char *const store__pg_13[];
extern const char *const store__sqlite_14[];
extern const char *const store__pg_14[];
extern const char *const store__sqlite_15[];
extern const char *const store__pg_15[];
