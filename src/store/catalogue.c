/* The statement catalogue: every statement the store runs, once, with ?N placeholders
 * (postgres.c makes them $N). A statement has one text for both dialects where both accept
 * it, and a text per dialect where they must differ: PostgreSQL reaches across users only
 * through its SECURITY DEFINER functions sr_* (postgres.c explains the security model),
 * where SQLite runs the SQL itself; and a few spellings (min() and least(), group_concat
 * and string_agg, BEGIN IMMEDIATE). Per-user statements keep their own user_id condition
 * even where PostgreSQL's row-level security scopes them. */
#include "store/dialect.h"

_Static_assert(STORE_FLAG_SENT_BY_API == 4, "the SQL below reads it as flags & 4");

/* A user row, mapped by users.c: id, name, created_at, phones (in their order, separated
 * by spaces), opted_out (one of its numbers opted out), its attributes, agent and mode. */
#define USER_OPTED_OUT                                                                     \
	"EXISTS (SELECT 1 FROM phones p JOIN optouts o ON o.phone = p.phone "                 \
	"WHERE p.user_id = u.id)"
#define USER_COLS_SQLITE                                                                   \
	"u.id, u.name, u.created_at, coalesce((SELECT group_concat(phone, ' ') FROM "         \
	"(SELECT phone FROM phones WHERE user_id = u.id ORDER BY seq, phone)), ''), "         \
	USER_OPTED_OUT ", u.timezone, u.locale, " TAGS_SQLITE ", u.agent, u.mode"
#define USER_COLS_PG                                                                       \
	"u.id, u.name, u.created_at, coalesce((SELECT string_agg(p.phone, ' ' ORDER BY "      \
	"p.seq) FROM phones p WHERE p.user_id = u.id), ''), " USER_OPTED_OUT                   \
	", u.timezone, u.locale, coalesce((SELECT string_agg(t.tag, chr(31) ORDER BY t.seq) " \
	"FROM user_tags t WHERE t.user_id = u.id), ''), u.agent, u.mode"
/* A user's tags in their order, separated by the control character 31 (no tag has one). */
#define TAGS_SQLITE                                                                        \
	"coalesce((SELECT group_concat(tag, char(31)) FROM (SELECT tag FROM user_tags WHERE " \
	"user_id = u.id ORDER BY seq)), '')"
/* The user list's page after the cursor (?1, ?2), filtered by q as a name's substring
 * (?3; ASCII letters folded) or a phone's prefix (?4), at most ?5 users. */
#define PAGE_FILTERS_SQLITE                                                                \
	" AND (?3 IS NULL OR instr(lower(u.name), lower(?3)) > 0) AND (?4 IS NULL OR EXISTS " \
	"(SELECT 1 FROM phones p WHERE p.user_id = u.id AND substr(p.phone, 1, length(?4)) " \
	"= ?4))"

/* Usage (store_usage): a row per live message, a row per swept day (usage_daily, where ''
 * is the unknown senders), summed. */
#define USAGE_LIVE                                                                         \
	"SELECT user_id AS usr, created_at - created_at % 86400 AS day, CASE WHEN direction "  \
	"= 'inbound' THEN 1 ELSE 0 END AS i, "                                                 \
	"CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END AS o, " MSG_SEGMENTS("messages")   \
	" AS sg, CASE WHEN "                                                                   \
	"status = 'over_budget' THEN 1 ELSE 0 END AS ob, CASE WHEN (flags & 2) <> 0 THEN 1 "  \
	"ELSE 0 END AS tr, CASE WHEN (flags & 1) <> 0 THEN 1 ELSE 0 END AS se, CASE WHEN "    \
	"kind = 'proactive' THEN 1 ELSE 0 END AS pr, " MSG_IS_MMS("messages") " AS mm, "       \
	MSG_IS_WA("messages") " AS wa "                                                        \
	"FROM messages WHERE "
#define USAGE_SWEPT                                                                        \
	"SELECT nullif(user_id, ''), day, inbound, outbound, segments, over_budget, truncated, "   \
	"smart_encoded, proactive, mms, whatsapp FROM usage_daily WHERE "
#define USAGE_SUMS                                                                         \
	"coalesce(sum(i), 0), coalesce(sum(o), 0), coalesce(sum(sg), 0), coalesce(sum(ob), "  \
	"0), coalesce(sum(tr), 0), coalesce(sum(se), 0), coalesce(sum(pr), 0), "              \
	"coalesce(sum(mm), 0), coalesce(sum(wa), 0)"
/* Retention's batch (SQLite; PostgreSQL's sr_retention_sweep chooses it once): the ?2
 * oldest messages created before ?1 whose outbox row, if any, is finished. An index range
 * of messages_created from its start (two outbox seeks a row), chosen once a batch into
 * temp.rt_batch; the batch's other statements read only that. */
#define RT_BATCH                                                                           \
	"SELECT id FROM messages m WHERE created_at < ?1 AND NOT EXISTS (SELECT 1 FROM "      \
	"outbox o WHERE o.inbound_id = m.id AND o.state IN ('agent', 'send', 'sending')) AND " \
	"NOT EXISTS (SELECT 1 FROM outbox o WHERE o.outbound_id = m.id AND o.state IN "        \
	"('agent', 'send', 'sending')) ORDER BY created_at, id LIMIT ?2"

/* A message row, mapped by messages.c. */
#define MSG_COLS                                                                           \
	"id, sid, direction, from_addr, to_addr, body, status, encoding, segments, media, " \
	"reply_to, created_at, uid, kind, channel, send_at, not_before, error_code"

/* An outbox row (PostgreSQL's type sr_outbox_row), mapped by outbox.c. */
#define OB_COLS                                                                            \
	"o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state, o.attempts, "    \
	"o.next_at, coalesce(o.sent_at, 0), o.created_at, coalesce(o.last_error, ''), "       \
	"coalesce(m.to_addr, ''), coalesce(m.from_addr, ''), coalesce(m.body, ''), "          \
	"coalesce(m.segments, 0)"
/* The sender's row (PostgreSQL's sr_send_row): OB_COLS, then the lane, the message's
 * media, kind and uid, and the user's time zone. */
#define SEND_COLS                                                                          \
	OB_COLS ", o.lane, m.media, coalesce(m.kind, ''), m.uid, coalesce(u.timezone, '')"
#define SEND_JOIN " JOIN messages m ON m.id = o.outbound_id LEFT JOIN users u ON u.id = o.user_id"
#define SEND_FROM " FROM outbox o" SEND_JOIN
/* SQLite's planner, without statistics, would rather walk outbox_due (every row due). */
#define SEND_FROM_HEADS " FROM outbox o INDEXED BY outbox_head_send" SEND_JOIN

/* The due heads, at most ?3: a user's head is its oldest pending event, and only a head is
 * claimed, so each user's events go one at a time, in order. The users with pending events
 * are walked one index seek each (events_pending), not their events: a long backlog behind
 * a failing head costs nothing here. */
#define EV_DUE_HEADS                                                                       \
	"WITH RECURSIVE u(user_id) AS (SELECT min(user_id) FROM events WHERE state = "         \
	"'pending' UNION ALL SELECT (SELECT min(p.user_id) FROM events p WHERE p.state = "    \
	"'pending' AND p.user_id > u.user_id) FROM u WHERE u.user_id IS NOT NULL) "            \
	"SELECT e.id FROM u JOIN events e ON e.id = (SELECT min(h.id) FROM events h WHERE "    \
	"h.state = 'pending' AND h.user_id = u.user_id) WHERE e.next_at <= ?1 "                \
	"ORDER BY e.next_at, e.id LIMIT ?3"
/* A claimed event, mapped by events.c: the message's public id and sid read now (the sid
 * may have come after the event), the message's internal id when it is gone. */
#define EV_COLS_SQLITE                                                                     \
	"id, uid, type, user_id, at, attempts, created_at, coalesce((SELECT "                 \
	STORE__EV_MESSAGE_ID " FROM messages m WHERE m.id = events.message_id), "              \
	"CAST(message_id AS TEXT)), (SELECT m.sid FROM messages m WHERE m.id = "               \
	"events.message_id), status, error_code, phone, mode, body"

/* A status callback names its message by our id (?1 > 0) or by Twilio's sid (?2). */
#define BY_ID_OR_SID "(id = ?1 OR (?1 <= 0 AND sid = ?2)) AND direction = 'outbound'"

const struct store__sql store__catalogue[ST_COUNT] = {
	/* SQLite takes the write lock at BEGIN, not at the first write: two writers never
	 * deadlock upgrading. */
	[ST_BEGIN] = {.sqlite = "BEGIN IMMEDIATE", .pg = "BEGIN"},
	[ST_COMMIT] = {.both = "COMMIT"},
	[ST_ROLLBACK] = {.both = "ROLLBACK"},
	[ST_SAVEPOINT] = {.both = "SAVEPOINT nested"},
	[ST_RELEASE] = {.both = "RELEASE nested"},
	[ST_ROLLBACK_TO] = {.both = "ROLLBACK TO nested"},
	[ST_SCOPE] = {.pg = "SELECT set_config('smsrouter.user_id', ?1, true)"},
	[ST_PING] = {.pg = "SELECT 1"},
	[ST_VERSION] = {.sqlite = "PRAGMA user_version",
		.pg = "SELECT coalesce(max(version), 0) FROM schema_migrations"},
	[ST_COUNTS] = {.sqlite = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM phones)",
		.pg = "SELECT users, phones FROM sr_counts()"},
	[ST_USER_INSERT] = {.both = "INSERT INTO users (id, name, created_at) VALUES (?1, ?2, ?3)"},
	/* ?3 is the phone's place among its user's; PostgreSQL numbers phones itself. */
	[ST_PHONE_INSERT] = {.sqlite = "INSERT INTO phones (phone, user_id, seq) VALUES (?1, ?2, ?3)",
		.pg = "INSERT INTO phones (phone, user_id) VALUES (?1, ?2)"},
	[ST_USER_GET] = {.sqlite = "SELECT " USER_COLS_SQLITE " FROM users u WHERE u.id = ?1",
		.pg = "SELECT " USER_COLS_PG " FROM users u WHERE u.id = ?1"},
	[ST_USER_BY_PHONE] = {.sqlite = "SELECT " USER_COLS_SQLITE " FROM phones k JOIN users u "
					"ON u.id = k.user_id WHERE k.phone = ?1",
		.pg = "SELECT * FROM sr_user_by_phone(?1)"},
	/* Routing's one lookup: the sender's user, if any (with its attributes, for the agent),
	 * and whether the number opted out. */
	[ST_ROUTE] = {.sqlite = "SELECT u.id, u.name, u.created_at, EXISTS (SELECT 1 FROM optouts "
				"WHERE phone = ?1), u.timezone, u.locale, " TAGS_SQLITE
				", u.agent, u.mode FROM (SELECT 1) LEFT JOIN phones p ON "
				"p.phone = ?1 LEFT JOIN users u ON u.id = p.user_id",
		.pg = "SELECT * FROM sr_route(?1)"},
	/* A patch: the name when ?2 is not NULL, timezone (?3) when ?4 is 1, locale (?5) when
	 * ?6 is 1. */
	[ST_USER_SET] = {.both = "UPDATE users SET name = coalesce(CAST(?2 AS TEXT), name), "
				 "timezone = CASE WHEN CAST(?4 AS INTEGER) = 1 THEN CAST(?3 AS TEXT) "
				 "ELSE timezone END, locale = CASE WHEN CAST(?6 AS INTEGER) = 1 THEN "
				 "CAST(?5 AS TEXT) ELSE locale END WHERE id = ?1"},
	/* The tag's row carries its user's created_at, the order of the list by tag. */
	[ST_TAG_INSERT] = {.both = "INSERT INTO user_tags (user_id, tag, seq, created_at) SELECT "
				   "?1, ?2, ?3, created_at FROM users WHERE id = ?1"},
	[ST_DEL_TAGS] = {.both = "DELETE FROM user_tags WHERE user_id = ?1"},
	[ST_USER_PAGE] = {.sqlite = "SELECT " USER_COLS_SQLITE " FROM users u WHERE (u.created_at, "
				    "u.id) > (?1, ?2)" PAGE_FILTERS_SQLITE " ORDER BY u.created_at, "
				    "u.id LIMIT ?5",
		.pg = "SELECT * FROM sr_users_page(?1, ?2, ?3, ?4, ?5)"},
	/* The same among the users with tag ?6, walked in user_tags' index. */
	[ST_USER_PAGE_TAG] = {.sqlite = "SELECT " USER_COLS_SQLITE " FROM user_tags g JOIN users u "
					"ON u.id = g.user_id WHERE g.tag = ?6 AND (g.created_at, "
					"g.user_id) > (?1, ?2)" PAGE_FILTERS_SQLITE " ORDER BY "
					"g.created_at, g.user_id LIMIT ?5",
		.pg = "SELECT * FROM sr_users_page_tag(?1, ?2, ?3, ?4, ?5, ?6)"},
	[ST_USER_LIST] = {.sqlite = "SELECT " USER_COLS_SQLITE " FROM users u "
				    "ORDER BY u.created_at, u.id",
		.pg = "SELECT * FROM sr_users()"},
	/* The user's row lock orders two phone adds (SQLite's BEGIN IMMEDIATE does already). */
	[ST_USER_LOCK] = {.sqlite = "SELECT 1 FROM users WHERE id = ?1",
		.pg = "SELECT 1 FROM users WHERE id = ?1 FOR UPDATE"},
	[ST_DEL_NOTES] = {.both = "DELETE FROM notes WHERE user_id = ?1"},
	[ST_DEL_OUTBOX] = {.both = "DELETE FROM outbox WHERE user_id = ?1"},
	[ST_DEL_MESSAGES] = {.both = "DELETE FROM messages WHERE user_id = ?1"},
	[ST_DEL_IDEM] = {.both = "DELETE FROM idempotency WHERE user_id = ?1"},
	[ST_DEL_PHONES] = {.both = "DELETE FROM phones WHERE user_id = ?1"},
	[ST_DEL_USER] = {.both = "DELETE FROM users WHERE id = ?1"},
	[ST_PHONE_MINE] = {.both = "SELECT 1 FROM phones WHERE phone = ?1 AND user_id = ?2"},
	/* How many phones the user has, and the place of one added now: after the last. */
	[ST_PHONE_COUNT] = {.both = "SELECT count(*), coalesce(max(seq) + 1, 0) FROM phones "
				    "WHERE user_id = ?1"},
	[ST_PHONE_DELETE] = {.both = "DELETE FROM phones WHERE phone = ?1 AND user_id = ?2"},
	/* A reply sent through the Messages API was no part of the answer (flag 4). */
	[ST_ANSWER_FOR] = {.sqlite = "SELECT i.id, o.id, o.body, o.media FROM messages i LEFT JOIN messages "
				     "o ON o.reply_to = i.id AND o.direction = 'outbound' AND "
				     "(o.flags & 4) = 0 WHERE i.sid = ?1 AND i.direction = "
				     "'inbound' ORDER BY o.id LIMIT 1",
		.pg = "SELECT inbound_id, outbound_id, body, media FROM sr_answer_for(?1)"},
	[ST_MESSAGE_INSERT] = {.both = "INSERT INTO messages (user_id, sid, direction, from_addr, "
				       "to_addr, body, status, status_rank, encoding, segments, "
				       "media, reply_to, created_at, flags, uid, kind, channel, "
				       "send_at, not_before) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
				       "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19) "
				       "RETURNING id"},
	/* Records Twilio's sid on our message when it has none; a sid another message holds
	 * already is left there. */
	[ST_STATUS_SID] = {.sqlite = "UPDATE messages SET sid = ?2 WHERE id = ?1 AND direction = "
				     "'outbound' AND sid IS NULL",
		.pg = "SELECT sr_status_sid(?1, ?2)"},
	/* Statuses only move forward: ?4 is the new status's rank (store_status_rank). */
	[ST_STATUS_SET] = {.sqlite = "UPDATE messages SET status = ?3, status_rank = ?4, "
				     "error_code = coalesce(?5, error_code) WHERE " BY_ID_OR_SID
				     " AND status_rank < ?4",
		.pg = "SELECT sr_status_set(?1, ?2, ?3, ?4, ?5)"},
	[ST_STATUS_EXISTS] = {.sqlite = "SELECT 1 FROM messages WHERE " BY_ID_OR_SID,
		.pg = "SELECT 1 WHERE sr_status_exists(?1, ?2)"},
	[ST_MESSAGE_GET] = {.both = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 AND "
				    "id = ?2"},
	[ST_MESSAGES_NEWEST] = {.both = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 "
					"ORDER BY id DESC LIMIT ?2"},
	/* Stored before ?3, or the reply to a message that was (store_history); the smaller of
	 * the two keeps the planner on messages_user, newest first, stopping at the limit. */
	[ST_MESSAGES_HISTORY] = {.sqlite = "SELECT * FROM (SELECT " MSG_COLS " FROM messages "
					   "WHERE user_id = ?1 AND min(id, coalesce(reply_to, "
					   "id)) < ?3 ORDER BY id DESC LIMIT ?2) h ORDER BY id",
		.pg = "SELECT * FROM (SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 AND "
		      "least(id, coalesce(reply_to, id)) < ?3 ORDER BY id DESC LIMIT ?2) h "
		      "ORDER BY id"},
	[ST_NOTE_INSERT] = {.both = "INSERT INTO notes (user_id, body, created_at) VALUES (?1, ?2, "
				    "?3)"},
	[ST_NOTES_LIST] = {.both = "SELECT body FROM notes WHERE user_id = ?1 ORDER BY id"},
	[ST_NOTES_CLEAR] = {.both = "DELETE FROM notes WHERE user_id = ?1"},
	[ST_OPTOUT_INSERT] = {.both = "INSERT INTO optouts (phone, created_at) VALUES (?1, ?2) "
				      "ON CONFLICT (phone) DO NOTHING"},
	[ST_OPTOUT_DELETE] = {.both = "DELETE FROM optouts WHERE phone = ?1"},
	[ST_OPTOUT_GET] = {.both = "SELECT 1 FROM optouts WHERE phone = ?1"},
	/* One statement: the row's lock makes two claimers of one number take turns. */
	[ST_ONBOARDING] = {.both = "INSERT INTO onboarding (phone, sent_at) VALUES (?1, ?2) "
				   "ON CONFLICT (phone) DO UPDATE SET sent_at = excluded.sent_at "
				   "WHERE onboarding.sent_at <= CAST(?2 AS BIGINT) - "
				   "CAST(?3 AS BIGINT)"},
	/* GCRA, one statement: a message may come when the number's tat is at most ?3 (the
	 * burst: count - 1 intervals) ahead of now; taking it moves tat one interval (?2) on.
	 * The row's lock makes two processes take turns. A row comes back if it was taken.
	 * SQLite keeps no shared limits (one process serves it). */
	[ST_SENDER_TAKE] = {.pg = "INSERT INTO sender_limits AS l (phone, tat) SELECT ?1, "
				  "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint + "
				  "?2::bigint ON CONFLICT (phone) DO UPDATE SET tat = "
				  "greatest(l.tat, excluded.tat - ?2::bigint) + ?2::bigint WHERE "
				  "greatest(l.tat, excluded.tat - ?2::bigint) - (excluded.tat - "
				  "?2::bigint) <= ?3::bigint RETURNING 1"},
	/* A row whose tat has passed is a full bucket: the same as no row. */
	[ST_SENDER_SWEEP] = {.pg = "DELETE FROM sender_limits WHERE tat < "
				   "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"},
	/* The live messages since ?1, and the days retention swept from ?1 on (usage_daily). */
	[ST_USAGE] = {.sqlite = "SELECT usr, " USAGE_SUMS " FROM (" USAGE_LIVE "created_at >= ?1 "
				"UNION ALL " USAGE_SWEPT "day >= ?1) GROUP BY usr ORDER BY usr IS NULL, "
				"usr",
		.pg = "SELECT * FROM sr_usage(?1)"},
	[ST_OUT_SEGMENTS] = {.both = "SELECT coalesce(sum(segments), 0) FROM messages WHERE "
				     "user_id = ?1 AND direction = 'outbound' AND created_at >= ?2"},
	[ST_OB_INSERT] = {.both = "INSERT INTO outbox (user_id, inbound_id, state, next_at, "
				  "created_at, updated_at) VALUES (?1, ?2, 'agent', ?3, ?3, ?3)"},
	/* The agent stage: the oldest due row in state agent that is first in its user's line
	 * (its head, kept by triggers: migrations_heads.c; outbox_head_agent holds only heads).
	 * SQLite leases it with ST_OB_LEASE in the same transaction; PostgreSQL's function
	 * leases it too, skipping rows another claimer holds (FOR UPDATE SKIP LOCKED), and
	 * returns it with the attempt counted. */
	[ST_OB_CLAIM] = {.sqlite = "SELECT " OB_COLS " FROM outbox o INDEXED BY outbox_head_agent "
				   "LEFT JOIN messages m ON m.id = o.outbound_id WHERE o.head = 1 AND o.state = 'agent' AND "
				   "o.next_at <= ?1 ORDER BY o.next_at, o.id LIMIT 1",
		.pg = "SELECT * FROM sr_outbox_claim(?1, ?2)"},
	[ST_OB_LEASE] = {.sqlite = "UPDATE outbox SET next_at = ?2, attempts = attempts + 1, "
				   "updated_at = ?3 WHERE id = ?1 AND state = 'agent'"},
	/* The row must be the replying user's (PostgreSQL's row-level security says so too). */
	[ST_OB_REPLIED] = {.both = "UPDATE outbox SET state = ?2, outbound_id = ?3, attempts = 0, "
				   "next_at = ?4, updated_at = ?4 WHERE id = ?1 AND state = 'agent' "
				   "AND user_id = ?5"},
	/* Replies (lane 0): the oldest due heads (each first in its user's line), read in
	 * outbox_head_send, which holds nothing else. */
	[ST_OB_READY] = {.sqlite = "SELECT " SEND_COLS SEND_FROM_HEADS " WHERE o.head = 1 AND o.state IN "
				   "('send', 'sending') AND o.next_at <= ?1 ORDER BY o.next_at, o.id "
				   "LIMIT ?2",
		.pg = "SELECT * FROM sr_ready_replies(?1, ?2)"},
	/* Taking a row for a send (to sending, counting an attempt) succeeds only while it
	 * still waits and is due, so that two processes never both send it. */
	[ST_OB_UPDATE] = {.sqlite = "UPDATE outbox SET state = ?2, next_at = ?3, attempts = "
				    "attempts + ?4, last_error = coalesce(?5, last_error), sent_at "
				    "= CASE WHEN ?2 = 'sending' THEN ?6 ELSE sent_at END, "
				    "updated_at = ?6 WHERE id = ?1 AND (?2 <> 'sending' OR ?4 = 0 "
				    "OR (state IN ('send', 'sending') AND next_at <= ?6))",
		.pg = "SELECT sr_outbox_update(?1, ?2, ?3, ?4, ?5, ?6)"},
	/* The reply is sent: its sid (a status callback may have recorded it first) and
	 * status, forward only; SQLite marks the row done with ST_OB_DONE, PostgreSQL's
	 * function does both. */
	[ST_OB_MSG_SENT] = {.sqlite = "UPDATE messages SET sid = coalesce(sid, ?3), status = CASE "
				      "WHEN status_rank < ?5 THEN ?4 ELSE status END, status_rank "
				      "= max(status_rank, ?5) WHERE id = ?2 AND direction = "
				      "'outbound'",
		.pg = "SELECT sr_outbox_sent(?1, ?2, ?3, ?4, ?5, ?6)"},
	[ST_OB_DONE] = {.sqlite = "UPDATE outbox SET state = 'done', updated_at = ?6 WHERE id = ?1"},
	[ST_OB_LIST] = {.sqlite = "SELECT " OB_COLS " FROM outbox o LEFT JOIN messages m ON m.id = "
				  "o.outbound_id WHERE (?1 IS NULL AND o.state <> 'done') OR "
				  "o.state = ?1 ORDER BY o.id LIMIT ?2",
		.pg = "SELECT * FROM sr_outbox_list(?1, ?2)"},
	[ST_OB_RETRY] = {.sqlite = "UPDATE outbox SET state = CASE WHEN outbound_id IS NULL THEN "
				   "'agent' WHEN sent_at IS NULL THEN 'send' ELSE 'sending' END, "
				   "attempts = 0, next_at = ?2, updated_at = ?2 WHERE state = "
				   "'dead' AND (?1 = 0 OR id = ?1)",
		.pg = "SELECT sr_outbox_retry(?1, ?2)"},
	[ST_OB_DEPTH] = {.sqlite = "SELECT count(*) FROM outbox WHERE state IN ('agent', 'send', "
				   "'sending')",
		.pg = "SELECT sr_outbox_depth()"},
	[ST_OUTBOUND_STATE] = {.sqlite = "SELECT coalesce(sid, ''), status FROM messages WHERE "
					 "id = ?1 AND direction = 'outbound'",
		.pg = "SELECT sid, status FROM sr_outbound_state(?1)"},
	/* Proactive messages (lane 1): each user's earliest due, unless one of that user's is
	 * being sent (a row being sent is never held back, so two rows never wait on each
	 * other); fair across users is the sender's choice among them. */
	[ST_OB_READY_P] = {.sqlite = "SELECT " SEND_COLS " FROM outbox o INDEXED BY "
				     "outbox_lane1_due" SEND_JOIN
				     PROACTIVE_READY_WITH("?1", PROACTIVE_FIRST_SEEK) " LIMIT ?2",
		.pg = "SELECT * FROM sr_ready_proactive(?1, ?2)"},
	/* An outbound message waiting in its lane: one smsrouter starts itself (inbound ?6 0),
	 * or a rest reply an agent gave at once (?6 the message it answers). */
	[ST_OB_SEND_INSERT] = {.both = "INSERT INTO outbox (user_id, inbound_id, outbound_id, "
				       "state, lane, next_at, created_at, updated_at) VALUES (?1, ?6, "
				       "?2, 'send', ?3, ?4, ?5, ?5)"},
	/* Quiet hours came (the user's zone changed): the row waits on, if it still waits. */
	[ST_OB_HOLD] = {.both = "UPDATE outbox SET next_at = ?2, updated_at = ?3 WHERE id = ?1 "
				"AND user_id = ?4 AND state = 'send'"},
	/* A waiting row ends unsent (canceled, suppressed, over budget): only while it waits,
	 * so that of a cancel and a send, one wins. */
	[ST_OB_FINISH] = {.both = "UPDATE outbox SET state = 'done', last_error = ?3, updated_at "
				  "= ?4 WHERE outbound_id = ?1 AND user_id = ?2 AND state = 'send'"},
	[ST_MSG_BY_UID] = {.both = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 AND uid "
				   "= ?2"},
	[ST_IDEM_GET] = {.both = "SELECT hash, message_uid, created_at FROM idempotency WHERE "
				 "user_id = ?1 AND key = ?2"},
	[ST_IDEM_PUT] = {.both = "INSERT INTO idempotency (user_id, key, hash, message_uid, "
				 "created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id, key) "
				 "DO UPDATE SET hash = excluded.hash, message_uid = "
				 "excluded.message_uid, created_at = excluded.created_at"},
	/* The proactive messages counted by the limit since ?2, and the oldest of them. */
	[ST_PROACTIVE_COUNT] = {.both = "SELECT count(*), coalesce(min(created_at), 0) FROM "
					"messages WHERE user_id = ?1 AND kind = 'proactive' AND "
					"created_at >= ?2 AND status <> 'canceled'"},
	[ST_LAST_WHATSAPP] = {.both = "SELECT coalesce(max(created_at), 0) FROM messages WHERE "
				      "user_id = ?1 AND direction = 'inbound' AND from_addr LIKE "
				      "'whatsapp:%'"},
	/* Messages smsrouter starts itself that are not yet handed to Twilio, due first. */
	[ST_SCHEDULED] = {.sqlite = "SELECT o.user_id, m.uid, m.kind, m.to_addr, m.body, m.status, "
				    "m.not_before FROM outbox o JOIN messages m ON m.id = "
				    "o.outbound_id WHERE o.state = 'send' AND o.inbound_id = 0 "
				    "ORDER BY o.next_at, o.id LIMIT ?1",
		.pg = "SELECT * FROM sr_scheduled(?1)"},
	[ST_SCHEDULED_USER] = {.both = "SELECT o.user_id, m.uid, m.kind, m.to_addr, m.body, "
				       "m.status, m.not_before FROM outbox o JOIN messages m ON "
				       "m.id = o.outbound_id WHERE o.user_id = ?2 AND o.state = "
				       "'send' AND o.inbound_id = 0 ORDER BY o.next_at, o.id LIMIT ?1"},
	[ST_SCHEDULED_DEPTH] = {.sqlite = "SELECT count(*) FROM outbox WHERE lane = 1 AND state = "
					  "'send' AND next_at > ?1",
		.pg = "SELECT sr_scheduled_depth(?1)"},
	/* Events (events.c). A status change of a message sent through the Messages API (flag
	 * 4) to a user: ?1 id or ?2 sid as BY_ID_OR_SID, ?3 the event's public id, ?4 now. */
	[ST_EV_STATUS] = {.sqlite = "INSERT INTO events (uid, user_id, type, message_id, status, "
				    "error_code, at, next_at, created_at) SELECT ?3, user_id, "
				    "'message.status', id, status, error_code, ?4, ?4, ?4 FROM "
				    "messages WHERE " BY_ID_OR_SID " AND (flags & 4) <> 0 AND "
				    "user_id IS NOT NULL",
		.pg = "SELECT sr_event_status(?1, ?2, ?3, ?4)"},
	/* Number ?1 opted out or in (type ?2): an event for the user who owns it, if any. */
	[ST_EV_PHONE] = {.sqlite = "INSERT INTO events (uid, user_id, type, phone, at, next_at, "
				   "created_at) SELECT ?3, user_id, ?2, phone, ?4, ?4, ?4 FROM phones "
				   "WHERE phone = ?1",
		.pg = "SELECT sr_event_phone(?1, ?2, ?3, ?4)"},
	/* Run scoped to user ?1 (PostgreSQL's row-level security checks the row). */
	[ST_EV_MODE] = {.both = "INSERT INTO events (uid, user_id, type, mode, at, next_at, "
				"created_at) VALUES (?3, ?1, 'user.mode', ?2, ?4, ?4, ?4)"},
	/* The rank of outbound message ?1 before a change, its row locked until the end of the
	 * transaction (SQLite's BEGIN IMMEDIATE locks it all already). */
	[ST_EV_RANK] = {.sqlite = "SELECT status_rank FROM messages WHERE id = ?1 AND direction = "
				  "'outbound'",
		.pg = "SELECT sr_message_rank(?1)"},
	/* The due heads (EV_DUE_HEADS), leased until ?2 with their attempt counted, as
	 * events.c maps them; PostgreSQL's function skips heads another claimer holds. */
	[ST_EV_CLAIM] = {.sqlite = "UPDATE events SET next_at = ?2, attempts = attempts + 1 WHERE "
				   "id IN (" EV_DUE_HEADS ") RETURNING " EV_COLS_SQLITE,
		.pg = "SELECT * FROM sr_events_claim(?1, ?2, ?3)"},
	[ST_EV_DELETE] = {.sqlite = "DELETE FROM events WHERE id = ?1",
		.pg = "SELECT sr_event_delete(?1)"},
	/* ?2 'pending' (due at ?3) or 'dead'; ?4 the error, NULL keeps the last. */
	[ST_EV_UPDATE] = {.sqlite = "UPDATE events SET state = ?2, next_at = ?3, last_error = "
				    "coalesce(?4, last_error) WHERE id = ?1",
		.pg = "SELECT sr_event_update(?1, ?2, ?3, ?4)"},
	[ST_EV_PENDING] = {.sqlite = "SELECT count(*) FROM events WHERE state = 'pending'",
		.pg = "SELECT sr_events_pending()"},
	[ST_DEL_EVENTS] = {.both = "DELETE FROM events WHERE user_id = ?1"},
	/* A user's agent (?2, NULL: none) when ?3 is 1, and mode (?4) when not NULL. */
	[ST_USER_AGENT_MODE] = {.both = "UPDATE users SET agent = CASE WHEN CAST(?3 AS INTEGER) = 1 "
					"THEN CAST(?2 AS TEXT) ELSE agent END, mode = coalesce(CAST(?4 AS "
					"TEXT), mode) WHERE id = ?1"},
	/* Its row locked until the end of the transaction (SQLite's BEGIN IMMEDIATE locks it
	 * all already): two mode changes take turns, each with its event. */
	[ST_USER_MODE_GET] = {.sqlite = "SELECT mode FROM users WHERE id = ?1",
		.pg = "SELECT mode FROM users WHERE id = ?1 FOR UPDATE"},
	/* Run scoped to user ?1: a message of a user in human mode for the operator URL, its
	 * user and message as a JSON text (?2), ?3 the event's public id, ?4 now. */
	[ST_EV_INBOUND] = {.both = "INSERT INTO events (uid, user_id, type, body, at, next_at, "
				   "created_at) VALUES (?3, ?1, 'message.inbound', ?2, ?4, ?4, ?4)"},
	/* Retention (retention.c): the batch chosen once (SQLite: into the connection's
	 * in-memory temp.rt_batch), its counts added to its days, its finished outbox rows and
	 * its messages erased, each statement by index over the batch only; PostgreSQL's
	 * function does it all. */
	[ST_RT_TEMP] = {.sqlite = "CREATE TEMP TABLE IF NOT EXISTS rt_batch (id INTEGER PRIMARY "
				  "KEY)"},
	[ST_RT_CLEAR] = {.sqlite = "DELETE FROM temp.rt_batch"},
	[ST_RT_PICK] = {.sqlite = "INSERT INTO temp.rt_batch (id) " RT_BATCH},
	[ST_RT_ROLLUP] = {.sqlite = "INSERT INTO usage_daily (user_id, day, inbound, outbound, "
				    "segments, over_budget, truncated, smart_encoded, proactive, mms, "
				    "whatsapp) "
				    "SELECT coalesce(usr, ''), day, " USAGE_SUMS " FROM ("
				    USAGE_LIVE "id IN (SELECT id FROM temp.rt_batch)) WHERE true "
				    "GROUP BY 1, 2 ON CONFLICT "
				    "(user_id, day) DO UPDATE SET inbound = inbound + "
				    "excluded.inbound, outbound = outbound + excluded.outbound, "
				    "segments = segments + excluded.segments, over_budget = "
				    "over_budget + excluded.over_budget, truncated = truncated + "
				    "excluded.truncated, smart_encoded = smart_encoded + "
				    "excluded.smart_encoded, proactive = proactive + "
				    "excluded.proactive, mms = mms + excluded.mms, whatsapp = "
				    "whatsapp + excluded.whatsapp"},
	/* By the outbox's message indexes (outbox_inbound, outbox_message), not by its state:
	 * the unary + keeps the planner off outbox_due, a scan of every finished row. */
	[ST_RT_OUTBOX] = {.sqlite = "DELETE FROM outbox WHERE +state IN ('done', 'dead') AND "
				    "(inbound_id IN (SELECT id FROM temp.rt_batch) OR outbound_id IN "
				    "(SELECT id FROM temp.rt_batch))"},
	[ST_RT_DELETE] = {.sqlite = "DELETE FROM messages WHERE id IN (SELECT id FROM "
				    "temp.rt_batch)",
		.pg = "SELECT sr_retention_sweep(?1, ?2)"},
	/* One user's usage since ?2, run scoped to the user. */
	[ST_USAGE_USER] = {.both = "SELECT " USAGE_SUMS " FROM (" USAGE_LIVE "user_id = ?1 AND "
				   "created_at >= ?2 UNION ALL " USAGE_SWEPT "user_id = ?1 AND day "
				   ">= ?2) u"},
	/* A user's messages after id ?2, oldest first: the export's pages. */
	[ST_MESSAGES_AFTER] = {.both = "SELECT " MSG_COLS " FROM messages WHERE user_id = ?1 AND "
				       "id > ?2 ORDER BY id LIMIT ?3"},
	/* The opt-outs of a user's numbers, on SMS and on WhatsApp (whatsapp:+1…). */
	[ST_USER_OPTOUTS] = {.both = "SELECT o.phone, o.created_at FROM phones p JOIN optouts o ON "
				     "o.phone = p.phone OR o.phone = 'whatsapp:' || p.phone WHERE "
				     "p.user_id = ?1 ORDER BY o.created_at, o.phone"},
	[ST_DEL_USAGE] = {.both = "DELETE FROM usage_daily WHERE user_id = ?1"},
	/* The traffic in buckets of ?3 seconds (an hour or a UTC day) from ?1 to before ?2, by
	 * direction and outcome, from the hourly rollup (migration 9): never the messages.
	 * SQLite's has one row per hour and key (one shard): read in the primary key's order,
	 * without a sort; the caller adds the hours of a day. */
	[ST_STATS] = {.sqlite = "SELECT hour - hour % ?3, direction, outcome, messages, segments, "
				"mms, whatsapp "
				"FROM stats_hourly WHERE hour >= ?1 AND hour < ?2 ORDER BY hour, "
				"direction, outcome, shard",
		.pg = "SELECT * FROM sr_stats(?1, ?2, ?3)"},
	/* A transaction's counts of one hour, direction and outcome (store/stats.c). */
	[ST_STATS_ADD] = {.sqlite = "INSERT INTO stats_hourly (hour, shard, direction, outcome, "
				    "messages, segments, mms, whatsapp) VALUES (?1, 0, ?2, ?3, ?4, ?5, "
				    "?6, ?7) ON CONFLICT (hour, direction, outcome, shard) DO UPDATE "
				    "SET messages = messages + excluded.messages, segments = segments "
				    "+ excluded.segments, mms = mms + excluded.mms, whatsapp = "
				    "whatsapp + excluded.whatsapp",
		/* PostgreSQL: all of them in one call, as arrays (postgres.c's stats_send). */
		.pg = "SELECT sr_stats_add(?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
	/* import.c's chunk of users (PostgreSQL only, migration 14): ids, names, the phones,
	 * each phone's user as its place in the ids (1 for the first) (arrays), the time; 0,
	 * or the first place whose phone is taken. */
	[ST_IMPORT_USERS] = {.pg = "SELECT sr_import_users(?1, ?2, ?3, ?4, ?5)"},
	/* ST_ANSWER_FOR's row when the MessageSid ?1 was seen, else ST_ROUTE's of the number ?2
	 * after four NULLs (none when ?2 is NULL): store_lookup_many. */
	[ST_WEBHOOK_LOOKUP] = {.pg = "SELECT * FROM sr_webhook_lookup(?1, ?2)"},
	/* ST_USER_LOCK and ST_MESSAGE_INSERT in one statement, one round trip: a reply stored
	 * only while its user ?1 exists (no row when not), its row locked until the commit. */
	[ST_REPLY_INSERT] = {.pg = "WITH u AS (SELECT 1 FROM users WHERE id = ?1 FOR UPDATE) "
				   "INSERT INTO messages (user_id, sid, direction, from_addr, "
				   "to_addr, body, status, status_rank, encoding, segments, media, "
				   "reply_to, created_at, flags, uid, kind, channel, send_at, "
				   "not_before) SELECT CAST(?1 AS text), CAST(?2 AS text), "
				   "CAST(?3 AS text), CAST(?4 AS text), CAST(?5 AS text), "
				   "CAST(?6 AS text), CAST(?7 AS text), CAST(?8 AS integer), "
				   "CAST(?9 AS text), CAST(?10 AS integer), CAST(?11 AS text), "
				   "CAST(?12 AS bigint), CAST(?13 AS bigint), CAST(?14 AS integer), "
				   "CAST(?15 AS text), CAST(?16 AS text), CAST(?17 AS text), "
				   "CAST(?18 AS bigint), CAST(?19 AS bigint) FROM u RETURNING id"},
};

const char *store__sql_of(enum store__dialect_id id, enum store__st st) {
	const struct store__sql *e = &store__catalogue[st];
	const char *own = id == STORE__SQLITE ? e->sqlite : e->pg;
	return own ? own : e->both;
}

bool store__has(const struct store *s, enum store__st st) {
	return store__sql_of(s->d->id, st) != NULL;
}
