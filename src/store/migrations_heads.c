/* Versions 11 and 13 of the migration list (migrations.c): each user's head of the replies
 * lane (11), and the proactive lane's turn by index (13, at the end).
 *
 * A reply row (lane 0) may go to the agent or to Twilio only while it is first in its
 * user's line: no earlier row of that user is still pending (agent, send or sending). The
 * agent stage's claim and the sender's replies query used to prove that for every due row
 * they walked, so with many users blocked behind a waiting reply (rest mode at 1 segment/s)
 * each claim walked every blocked row, and webhook acceptance slowed as the outbox grew.
 * Now the row that is first carries head = 1, kept so by triggers on every insert, state
 * change and delete (whatever statement makes it: a send, a cancel, a dead letter, a retry,
 * a user's erasure, retention), and two partial indexes hold only the heads, in the order
 * the claim and the sender take them: their queries read the due heads and nothing else.
 * The head is the user's pending row of the lowest id (SQLite's ids follow the inserts; on
 * PostgreSQL a row inserted while another of its user's is pending is never head, and each
 * trigger holds its user's transaction lock, so two routers never make two heads). */
#include "store/migrations.h"

/* Pending: still worked on, what holds the user's later rows back. */
#define PENDING "('agent', 'send', 'sending')"

/* SQLite: the user's pending row of the lowest id becomes head (one seek in
 * outbox_pending); U is NEW or OLD. */
#define SQLITE_REHEAD(U)                                                                   \
	"  UPDATE outbox SET head = 1 WHERE head = 0 AND id = (SELECT min(p.id) FROM outbox p" \
	"    WHERE p.user_id = " U ".user_id AND p.lane = 0 AND p.state IN " PENDING ");"

const char *const store__sqlite_11[] = {
	"ALTER TABLE outbox ADD COLUMN head INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX outbox_pending ON outbox(user_id, id)"
	"  WHERE lane = 0 AND state IN " PENDING ";"
	"UPDATE outbox SET head = 1 WHERE lane = 0 AND state IN " PENDING " AND id = ("
	"  SELECT min(p.id) FROM outbox p WHERE p.user_id = outbox.user_id AND p.lane = 0"
	"  AND p.state IN " PENDING ");"
	"CREATE INDEX outbox_head_agent ON outbox(next_at, id) WHERE head = 1 AND state = 'agent';"
	"CREATE INDEX outbox_head_send ON outbox(next_at, id)"
	"  WHERE head = 1 AND state IN ('send', 'sending');"
	/* A new pending reply row is head if its user has no other pending one. */
	"CREATE TRIGGER outbox_head_insert AFTER INSERT ON outbox"
	"  WHEN NEW.lane = 0 AND NEW.state IN " PENDING " BEGIN"
	"  UPDATE outbox SET head = 1 WHERE id = NEW.id AND NOT EXISTS (SELECT 1 FROM outbox p"
	"    WHERE p.user_id = NEW.user_id AND p.lane = 0 AND p.state IN " PENDING
	"    AND p.id <> NEW.id);"
	"END;"
	/* A row stops or starts being pending (sent, canceled, dead; retried): a row no longer
	 * pending is no head, a row pending again before the head takes its place. */
	"CREATE TRIGGER outbox_head_state AFTER UPDATE OF state ON outbox"
	"  WHEN NEW.lane = 0 AND (OLD.state IN " PENDING ") <> (NEW.state IN " PENDING ") BEGIN"
	"  UPDATE outbox SET head = 0 WHERE id = NEW.id AND head = 1;"
	"  UPDATE outbox SET head = 0 WHERE NEW.state IN " PENDING " AND user_id = NEW.user_id"
	"    AND lane = 0 AND state IN " PENDING " AND head = 1 AND id > NEW.id;" SQLITE_REHEAD("NEW")
	"END;"
	"CREATE TRIGGER outbox_head_delete AFTER DELETE ON outbox WHEN OLD.head = 1 BEGIN"
	SQLITE_REHEAD("OLD") "END;",
	NULL,
};

const char *const store__pg_11[] = {
	"SET LOCAL search_path = smsrouter;"
	"ALTER TABLE outbox ADD COLUMN head boolean NOT NULL DEFAULT false;"
	"CREATE INDEX outbox_pending ON outbox (user_id, id)"
	"  WHERE lane = 0 AND state IN " PENDING ";"
	"UPDATE outbox SET head = true WHERE lane = 0 AND state IN " PENDING " AND id = ("
	"  SELECT min(p.id) FROM outbox p WHERE p.user_id = outbox.user_id AND p.lane = 0"
	"  AND p.state IN " PENDING ");"
	"CREATE INDEX outbox_head_agent ON outbox (next_at, id) WHERE head AND state = 'agent';"
	"CREATE INDEX outbox_head_send ON outbox (next_at, id)"
	"  WHERE head AND state IN ('send', 'sending');",

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	/* Before an insert: the new row is head if its user has no other pending reply row.
	 * The user's lock (held to the commit) orders this against the user's other writers,
	 * whose rows this statement then sees committed (read committed). */
	"CREATE FUNCTION sr_outbox_head_insert() RETURNS trigger"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"BEGIN"
	"  IF NEW.lane = 0 AND NEW.state IN " PENDING " THEN"
	"    PERFORM pg_advisory_xact_lock(hashtext('sr_outbox_head'), hashtext(NEW.user_id));"
	"    NEW.head := NOT EXISTS (SELECT 1 FROM outbox p WHERE p.user_id = NEW.user_id"
	"      AND p.lane = 0 AND p.state IN " PENDING ");"
	"  ELSE"
	"    NEW.head := false;"
	"  END IF;"
	"  RETURN NEW;"
	"END $$;"
	/* After a state change or a delete that may move the user's head: the pending row of
	 * the lowest id is head, no other row. */
	"CREATE FUNCTION sr_outbox_head_move() RETURNS trigger"
	" LANGUAGE plpgsql SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"DECLARE r outbox%ROWTYPE; h bigint;"
	"BEGIN"
	"  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;"
	"  PERFORM pg_advisory_xact_lock(hashtext('sr_outbox_head'), hashtext(r.user_id));"
	"  SELECT min(p.id) INTO h FROM outbox p WHERE p.user_id = r.user_id AND p.lane = 0"
	"    AND p.state IN " PENDING ";"
	"  UPDATE outbox o SET head = (o.id IS NOT DISTINCT FROM h) WHERE o.user_id = r.user_id AND o.lane = 0"
	"    AND (o.state IN " PENDING " OR o.id = r.id) AND o.head <> (o.id IS NOT DISTINCT FROM h);"
	"  RETURN NULL;"
	"END $$;"
	/* The claim and the replies read the due heads only (outbox_head_agent, _send). */
	"CREATE OR REPLACE FUNCTION sr_outbox_claim(p_now bigint, p_lease bigint)"
	" RETURNS SETOF sr_outbox_row"
	" LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	"  WITH c AS (SELECT o.id, o.next_at FROM outbox o"
	"    WHERE o.head AND o.state = 'agent' AND o.next_at <= p_now"
	"    ORDER BY o.next_at, o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED)"
	"  UPDATE outbox o SET next_at = p_lease, attempts = o.attempts + 1, updated_at = p_now"
	"  FROM c WHERE o.id = c.id"
	"  RETURNING o.id, o.user_id, o.inbound_id, coalesce(o.outbound_id, 0), o.state,"
	"    o.attempts, c.next_at, coalesce(o.sent_at, 0), o.created_at,"
	"    coalesce(o.last_error, ''), ''::text, ''::text, NULL::text, 0 $$;"
	"CREATE OR REPLACE FUNCTION sr_ready_replies(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_send_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SEND_COLS
	"  WHERE o.head AND o.state IN ('send', 'sending') AND o.next_at <= p_now"
	"  ORDER BY o.next_at, o.id LIMIT p_limit $$;"
	GRANT_FUNCTIONS
	"RESET ROLE;"
	"CREATE TRIGGER outbox_head_insert BEFORE INSERT ON outbox"
	"  FOR EACH ROW EXECUTE FUNCTION sr_outbox_head_insert();"
	"CREATE TRIGGER outbox_head_state AFTER UPDATE OF state ON outbox FOR EACH ROW"
	"  WHEN (NEW.lane = 0 AND (OLD.state IN " PENDING ") <> (NEW.state IN " PENDING "))"
	"  EXECUTE FUNCTION sr_outbox_head_move();"
	"CREATE TRIGGER outbox_head_delete AFTER DELETE ON outbox FOR EACH ROW"
	"  WHEN (OLD.head) EXECUTE FUNCTION sr_outbox_head_move();",
	NULL,
};

/* 13: the proactive lane's turn read every due row (the outbox_due index, a sort of them
 * all) and, for each, every waiting row of its user: with a million scheduled messages due
 * a turn took longer than its sends. Now the rows are walked in due order by an index of
 * the lane's waiting rows, and each row's two tests are one seek each (PROACTIVE_READY). */
#define LANE1_INDEXES                                                                      \
	"CREATE INDEX outbox_lane1_due ON outbox (next_at, id)"                               \
	"  WHERE lane = 1 AND state IN ('send', 'sending');"                                 \
	"CREATE INDEX outbox_lane1_sending ON outbox (user_id)"                               \
	"  WHERE lane = 1 AND state = 'sending';"

const char *const store__sqlite_13[] = {
	LANE1_INDEXES,
	NULL,
};

const char *const store__pg_13[] = {
	"SET LOCAL search_path = smsrouter;" LANE1_INDEXES,

	"SET LOCAL search_path = smsrouter;"
	"SET LOCAL ROLE " SYSTEM_ROLE ";"
	"CREATE OR REPLACE FUNCTION sr_ready_proactive(p_now bigint, p_limit integer)"
	" RETURNS SETOF sr_send_row"
	" LANGUAGE sql STABLE SECURITY DEFINER SET search_path = smsrouter, pg_temp AS $$"
	PG_SEND_COLS PROACTIVE_READY("p_now") " LIMIT p_limit $$;"
	"RESET ROLE;",
	NULL,
};
