"""Writing rows straight into a test server's database (SQLite file or PostgreSQL), for
histories too old or too long to make through the webhook: retention's old messages, the
export's long history. Run while the server is stopped (SQLite) or idle."""

import sqlite3

from harness import psql

DAY = 86400


def is_pg(server):
    return server.db_url.startswith("postgres")


def execute(server, sql, user_id=None):
    """Runs sql (several statements allowed) on the server's database; on PostgreSQL
    scoped to user_id (row-level security), in the smsrouter schema."""
    if is_pg(server):
        scope = "SET smsrouter.user_id = '%s'; " % user_id if user_id else ""
        psql(server.db_url, "SET search_path = smsrouter; " + scope + sql)
        return
    db = sqlite3.connect(server.db_path, timeout=30)
    try:
        db.executescript(sql)
        db.commit()
    finally:
        db.close()


def age_messages(server, user_id, seconds):
    """Moves user_id's messages seconds into the past."""
    execute(server, "UPDATE messages SET created_at = created_at - %d WHERE user_id = '%s';"
            % (seconds, user_id), user_id)


def add_messages(server, user_id, phone, n, created_at):
    """n inbound messages of user_id from phone, one a second from created_at on."""
    if is_pg(server):
        uid = "md5(random()::text || i::text)"
        series = "generate_series(1, %d) AS i" % n
    else:
        uid = "lower(hex(randomblob(16)))"
        series = ("(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                  "WHERE i < %d) SELECT i FROM s)" % n)
    execute(server,
            "INSERT INTO messages (user_id, sid, direction, from_addr, to_addr, body, status, "
            "status_rank, encoding, segments, created_at, flags, uid) SELECT '%s', NULL, "
            "'inbound', '%s', '+15005550006', 'history ' || i, 'received', 0, 'GSM-7', 1, "
            "%d + i, 0, %s FROM %s;" % (user_id, phone, created_at, uid, series), user_id)
