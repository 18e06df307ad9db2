"""A bad day in production (issue 18): a failed fsync, a full disk.

The faults come from tests/standins/faultfs.c, an LD_PRELOAD shim built beside the
binary (never linked into it): while FAULTFS_DIR/fsync exists, fdatasync of the WAL
fails with EIO; while FAULTFS_DIR/full exists, writes to the WAL fail with ENOSPC."""
import os

import harness
from harness import requires_sqlite, ServerTest, new_phone, new_sid


def touch(path):
    with open(path, "w"):
        pass


@requires_sqlite
class FaultTest(ServerTest):
    start_server = False

    def setUp(self):
        super().setUp()
        self.faults = self.make_tmpdir()
        binary = os.path.abspath(harness.BINARY)
        shim = os.path.join(os.path.dirname(binary), "libfaultfs.so")
        if not os.path.exists(shim):
            self.skipTest("no %s" % shim)
        self.server = self.make_server(env={
            "LD_PRELOAD": shim,
            "FAULTFS_DIR": self.faults,
            # The sanitized binary: the shim is loaded before the ASan runtime.
            "ASAN_OPTIONS": harness.ASAN_OPTIONS + ":verify_asan_link_order=0",
        })
        self.phone = new_phone()
        self.server.add_user("Ann", [self.phone])

    def fault(self, name, on):
        path = os.path.join(self.faults, name)
        if on:
            touch(path)
        else:
            os.unlink(path)

    def ready(self):
        return self.server.request("GET", "/ready").status

    def events_of(self, sid):
        return [e.get("event") for e in self.server.log_events() if e.get("sid") == sid]


class FailedFsyncTest(FaultTest):
    def test_failed_fsync_is_503_and_the_store_stays_failed_until_restarted(self):
        self.assertEqual(self.ready(), 200)
        sid = new_sid()
        self.fault("fsync", True)
        self.assertEmptyTwiml(self.server.sms(self.phone, "remember lost", sid=sid), 503)
        self.fault("fsync", False)
        # A later fsync that succeeds proves nothing: the pages may be gone.
        self.assertEqual(self.ready(), 503)
        self.assertEmptyTwiml(self.server.sms(self.phone, "remember later"), 503)
        self.assertEqual(self.ready(), 503)
        # Reopened (a restart): ready, and Twilio's retry is answered.
        self.server.restart()
        self.assertEqual(self.ready(), 200)
        self.assertTwiml(self.server.sms(self.phone, "remember lost", sid=sid), "Noted.")


class FullDiskTest(FaultTest):
    def test_ready_is_503_while_the_disk_is_full_and_200_once_it_is_not(self):
        self.assertEqual(self.ready(), 200)
        self.fault("full", True)
        self.assertEmptyTwiml(self.server.sms(self.phone, "remember full"), 503)
        self.assertEqual(self.ready(), 503)
        self.fault("full", False)
        self.assertEqual(self.ready(), 200)
        self.assertTwiml(self.server.sms(self.phone, "remember room"), "Noted.")


class FailedCommitLogTest(FaultTest):
    def test_a_message_that_fails_to_commit_is_logged_failed_and_never_routed(self):
        ok = new_sid()
        self.assertTwiml(self.server.sms(self.phone, "remember kept", sid=ok), "Noted.")
        sid = new_sid()
        self.fault("fsync", True)
        self.assertEmptyTwiml(self.server.sms(self.phone, "remember lost", sid=sid), 503)
        self.assertIsNotNone(self.server.wait_log("inbound.failed"))
        self.assertEqual(self.events_of(sid), ["inbound.failed"])
        # What was durable is logged once, as routed.
        self.assertEqual(self.events_of(ok).count("inbound.routed"), 1)
