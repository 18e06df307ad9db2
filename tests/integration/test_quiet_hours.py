"""Quiet hours of proactive messages, with windows computed from the real clock:
SMSROUTER_QUIET_HOURS is one window in each recipient's local time, so a window around
now in one zone is far from now in the others. A proactive message due inside it gets
not_before = the window's end and is sent then, not before; users elsewhere get theirs at
once; a user without a zone falls back to SMSROUTER_DEFAULT_TIMEZONE; a reply never
waits. The window ends 45–105 s ahead, so the test takes about two minutes."""

import datetime
import math
import time
from zoneinfo import ZoneInfo

from harness import new_phone
from proactive import ProactiveTest, rfc3339
from standins import wait_until

QUIET_ZONE = "Asia/Tokyo"       # UTC+9, no DST: the window is around now here
DEFAULT_ZONE = "Asia/Seoul"     # UTC+9 too, another name: the default zone's users
OTHER_ZONES = ["Asia/Kolkata", "America/New_York", "UTC"]  # +5:30, -5/-4, 0


def hhmm(ts, zone):
    return datetime.datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%H:%M")


def minute_of_day(ts, zone):
    d = datetime.datetime.fromtimestamp(ts, ZoneInfo(zone))
    return d.hour * 60 + d.minute


def in_window(ts, zone, start, end):
    """Whether ts falls in the local window [start, end) (minutes of the day) of zone;
    a window whose end is before its start runs over midnight."""
    m = minute_of_day(ts, zone)
    return start <= m < end if start < end else (m >= start or m < end)


class QuietHoursProactiveTest(ProactiveTest):
    def setUp(self):
        # The window: from the whole minute before now to the first whole minute at least
        # 45 s ahead, in QUIET_ZONE's local time (whole-hour offset: whole minutes there too).
        now = time.time()
        self.end = int(math.ceil((now + 45) / 60.0) * 60)
        self.start = int(now // 60) * 60 - 60
        window = "%s-%s" % (hhmm(self.start, QUIET_ZONE), hhmm(self.end, QUIET_ZONE))
        s, e = (minute_of_day(self.start, QUIET_ZONE), minute_of_day(self.end, QUIET_ZONE))
        assert in_window(now, QUIET_ZONE, s, e) and in_window(now, DEFAULT_ZONE, s, e)
        for z in OTHER_ZONES:
            # Through the whole test, now is outside the window in the other zones.
            for t in (now, self.end + 30):
                assert not in_window(t, z, s, e), (z, window)
        self.window = window
        self.extra_env = {"SMSROUTER_QUIET_HOURS": window,
                          "SMSROUTER_DEFAULT_TIMEZONE": DEFAULT_ZONE}
        super().setUp()

    def user(self, name, zone):
        phone = new_phone()
        uid = self.server.add_user(name, [phone])["id"]
        if zone:
            r = self.server.admin("PATCH", "/users/" + uid, {"timezone": zone})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["timezone"], zone)
        return uid, phone

    def test_only_users_whose_local_time_is_in_the_window_wait_for_its_end(self):
        quiet = self.user("Quiet", QUIET_ZONE)
        default = self.user("Default", None)  # no zone: SMSROUTER_DEFAULT_TIMEZONE's window
        others = [self.user("Other %s" % z, z) for z in OTHER_ZONES]
        inbound = self.inbound_id(quiet[0], quiet[1], "are you awake?")

        end_s = rfc3339(self.end)
        self.assertLess(time.time(), self.end - 20, "the setup took too long: run it again")
        waiting = {}
        for uid, phone in (quiet, default):
            m = self.send(uid, {"body": "wait for the morning"})
            self.assertMessage(m, uid, phone, "wait for the morning", status="scheduled")
            self.assertNow(m["send_at"], what="send_at")
            self.assertEqual(m["not_before"], end_s, "window %s in %s" % (self.window, uid))
            waiting[phone] = (uid, m)
        for uid, phone in others:
            m = self.send(uid, {"body": "no need to wait"})
            self.assertMessage(m, uid, phone, "no need to wait", status="queued")
            self.assertEqual(m["not_before"], m["send_at"])
            self.assertNow(m["not_before"], what="not_before")
        # A reply never waits for quiet hours.
        rep = self.send(quiet[0], {"body": "a reply", "reply_to": inbound})
        self.assertMessage(rep, quiet[0], quiet[1], "a reply", kind="reply", status="queued")
        self.assertNow(rep["not_before"], what="a reply's not_before")
        # A send_at after the window's end is kept as it is.
        after = self.send(quiet[0], {"body": "after the window",
                                     "send_at": rfc3339(self.end + 600)})
        self.assertEqual((after["status"], after["not_before"], after["send_at"]),
                         ("scheduled", rfc3339(self.end + 600), rfc3339(self.end + 600)))

        # The others' messages and the reply go out at once.
        for uid, phone in others:
            self.assertEqual(self.wait_sent(phone)[0]["Body"], "no need to wait")
        self.assertEqual(self.wait_sent(quiet[1])[0]["Body"], "a reply")
        # Nothing proactive reaches a quiet user before the window's end.
        while time.time() < self.end - 1:
            for phone in waiting:
                proactive = [b for b in self.bodies_to(phone) if b == "wait for the morning"]
                self.assertEqual(proactive, [], "sent in quiet hours (window %s ends %s)"
                                 % (self.window, end_s))
            time.sleep(0.5)
        for phone, (uid, m) in waiting.items():
            self.assertEqual(self.get_ok(uid, m["id"])["status"], "scheduled")
        # Then it goes, once.
        for phone, (uid, m) in waiting.items():
            self.assertTrue(wait_until(lambda: "wait for the morning" in self.bodies_to(phone),
                                       max(5.0, self.end + 20 - time.time())),
                            "not sent after the window ended at %s" % end_s)
            s = [x for x in self.sent_to(phone) if x["Body"] == "wait for the morning"]
            self.assertEqual(len(s), 1)
            self.assertGreaterEqual(s[0]["at"], self.end, "sent before not_before")
            got = self.wait_status(uid, m["id"], lambda x: x["sid"] is not None)
            self.assertEqual((got["sid"], got["not_before"]), (s[0]["sid"], end_s))
        time.sleep(1.0)
        self.assertEqual(self.bodies_to(quiet[1]), ["a reply", "wait for the morning"])
        for uid, phone in others:
            self.assertEqual(self.bodies_to(phone), ["no need to wait"])
