"""X-Twilio-Signature: forged, unsigned, re-targeted and tampered webhooks get 403 and
nothing is stored or routed; the previous token and Twilio's URL variants are accepted."""

import urllib.parse

from twilio.request_validator import RequestValidator

from harness import (ACCOUNT_SID, AUTH_TOKEN, ServerTest, new_phone, new_sid, twiml_action,
                     twiml_message)

PREVIOUS_TOKEN = "previous-token-0123456789abcdef01"


class ForgedWebhookTest(ServerTest):
    def setUp(self):
        super().setUp()
        self.uid = self.server.add_user("Ann", [new_phone()])["id"]
        self.phone = self.server.admin("GET", "/users/" + self.uid).json()["phones"][0]

    def assertRefusedAndNothingStored(self, r):
        self.assertEqual(r.status, 403, r.body)
        self.assertTrue(r.header("Content-Type").startswith("text/xml"), r.headers)
        self.assertIsNone(twiml_message(r.body))
        self.assertEqual(self.server.messages(self.uid), [])
        usage = self.server.admin("GET", "/usage?since=2000-01-01T00:00:00Z").json()
        self.assertEqual(usage["total"]["inbound"], 0)
        self.assertEqual(self.server.say(self.phone, "recall"), "You have no notes.")

    def test_signature_with_wrong_token_is_403(self):
        r = self.server.sms(self.phone, "remember forged", token="not-the-right-token")
        self.assertRefusedAndNothingStored(r)

    def test_token_off_by_one_character_is_403(self):
        r = self.server.sms(self.phone, "remember forged", token=AUTH_TOKEN[:-1] + "X")
        self.assertRefusedAndNothingStored(r)

    def test_unsigned_webhook_is_403(self):
        p = self.server.sms_params(self.phone, "remember forged")
        r = self.server.post_signed(self.server.sms_url, p, signature=False)
        self.assertRefusedAndNothingStored(r)

    def test_empty_signature_header_is_403(self):
        p = self.server.sms_params(self.phone, "remember forged")
        r = self.server.post_signed(self.server.sms_url, p, signature="")
        self.assertRefusedAndNothingStored(r)

    def test_garbage_signature_is_403(self):
        for sig in ["x", "A" * 28, "A" * 27 + "=", "=" * 28, "\u00e9" * 28, "A" * 2000]:
            with self.subTest(sig=sig[:30]):
                p = self.server.sms_params(self.phone, "remember forged")
                r = self.server.post_signed(self.server.sms_url, p,
                                            signature=sig.encode("utf-8").decode("latin-1"))
                self.assertEqual(r.status, 403, r.body)
        self.assertRefusedAndNothingStored(r)

    def test_signature_for_another_host_is_403(self):
        r = self.server.sms(self.phone, "remember forged",
                            url_override="http://example.com/sms-router/webhook/sms")
        self.assertRefusedAndNothingStored(r)

    def test_signature_for_another_path_is_403(self):
        r = self.server.sms(self.phone, "remember forged", url_override=self.server.status_url)
        self.assertRefusedAndNothingStored(r)

    def test_signature_for_https_is_403_on_http(self):
        r = self.server.sms(self.phone, "remember forged",
                            url_override="https://127.0.0.1:%d/sms-router/webhook/sms"
                                         % self.server.port)
        self.assertRefusedAndNothingStored(r)

    def test_signature_with_a_query_string_not_sent_is_403(self):
        r = self.server.sms(self.phone, "remember forged",
                            url_override=self.server.sms_url + "?a=1")
        self.assertRefusedAndNothingStored(r)

    def test_tampered_body_is_403(self):
        p = self.server.sms_params(self.phone, "recall")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        p["Body"] = "remember tampered"
        r = self.server.post_signed(self.server.sms_url, p, signature=sig)
        self.assertRefusedAndNothingStored(r)

    def test_tampered_from_is_403(self):
        other = new_phone()
        p = self.server.sms_params(other, "remember tampered")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        p["From"] = self.phone
        r = self.server.post_signed(self.server.sms_url, p, signature=sig)
        self.assertRefusedAndNothingStored(r)

    def test_injected_parameter_is_403(self):
        p = self.server.sms_params(self.phone, "remember forged")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        p["OptOutType"] = "STOP"
        r = self.server.post_signed(self.server.sms_url, p, signature=sig)
        self.assertRefusedAndNothingStored(r)
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_trimmed_body_signature_is_403(self):
        p = self.server.sms_params(self.phone, " remember forged ")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(
            self.server.sms_url, dict(p, Body="remember forged"))
        r = self.server.post_signed(self.server.sms_url, p, signature=sig)
        self.assertRefusedAndNothingStored(r)

    def test_forged_stop_does_not_opt_out(self):
        r = self.server.sms(self.phone, "STOP", token="wrong")
        self.assertEqual(r.status, 403)
        self.assertFalse(self.server.user_by_phone(self.phone).json()["opted_out"])

    def test_forged_webhook_is_counted_in_metrics(self):
        self.server.sms(self.phone, "remember forged", token="wrong")
        text = self.server.request("GET", "/metrics").text
        self.assertIn('smsrouter_http_requests_total{route="webhook_sms",status="403"} 1', text)

    def test_valid_signature_after_forgery_is_accepted(self):
        sid = new_sid()
        r = self.server.sms(self.phone, "remember real", sid=sid, token="wrong")
        self.assertEqual(r.status, 403)
        # The genuine request with the same MessageSid is not treated as a duplicate.
        self.assertEqual(self.server.say(self.phone, "remember real", sid=sid), "Noted.")
        self.assertEqual(self.server.say(self.phone, "recall"), "Your notes:\n1. real")


class SignatureVariantsTest(ServerTest):
    server_env = {"TWILIO_AUTH_TOKEN_PREVIOUS": PREVIOUS_TOKEN}

    def test_previous_token_is_accepted_during_rotation(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        self.assertEqual(self.server.say(phone, "remember rotated", token=PREVIOUS_TOKEN),
                         "Noted.")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. rotated")

    def test_signature_over_url_without_port_is_accepted(self):
        # Twilio's own validator (RequestValidator.validate) accepts the URL with its port
        # removed, since Twilio's back ends are inconsistent about ports.
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        url = "http://127.0.0.1/sms-router/webhook/sms"
        p = self.server.sms_params(phone, "recall")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(url, p)
        self.assertTrue(RequestValidator(AUTH_TOKEN).validate(self.server.sms_url, p, sig))
        r = self.server.post_signed(self.server.sms_url, p, signature=sig)
        self.assertTwiml(r, "You have no notes.")

    def test_parameters_are_signed_in_any_wire_order(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        p = self.server.sms_params(phone, "recall")
        sig = RequestValidator(AUTH_TOKEN).compute_signature(self.server.sms_url, p)
        body = urllib.parse.urlencode(sorted(p.items(), reverse=True))
        r = self.server.post_signed(self.server.sms_url, p, signature=sig, raw_body=body)
        self.assertTwiml(r, "You have no notes.")

    def test_plus_and_percent_encoded_space_sign_the_same(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        p = self.server.sms_params(phone, "remember a b+c")
        body = urllib.parse.urlencode(p, quote_via=urllib.parse.quote)  # %20, %2B
        r = self.server.post_signed(self.server.sms_url, p, raw_body=body)
        self.assertTwiml(r, "Noted.")
        self.assertEqual(self.server.say(phone, "recall"), "Your notes:\n1. a b+c")


class AccountSidTest(ServerTest):
    server_env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID}

    def test_matching_account_sid_is_accepted(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")

    def test_other_account_sid_is_403_and_nothing_stored(self):
        phone = new_phone()
        uid = self.server.add_user("Ann", [phone])["id"]
        r = self.server.sms(phone, "remember other", extra={"AccountSid": "AC" + "f" * 32})
        self.assertEmptyTwiml(r, 403)
        r = self.server.sms(phone, "remember none", extra={"AccountSid": None})
        self.assertEmptyTwiml(r, 403)
        self.assertEqual(self.server.messages(uid), [])
        self.assertEqual(self.server.say(phone, "recall"), "You have no notes.")


class PublicUrlTest(ServerTest):
    """The signed URL is rebuilt from SMSROUTER_PUBLIC_URL (behind a proxy)."""
    server_env = {"SMSROUTER_PUBLIC_URL": "https://sms.example.com"}

    def test_signature_over_the_public_url_is_accepted(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        r = self.server.sms(phone, "recall",
                            url_override="https://sms.example.com/sms-router/webhook/sms")
        self.assertTwiml(r, "You have no notes.")
        self.assertEqual(twiml_action(r.body).split("?")[0],
                         "https://sms.example.com/sms-router/webhook/status")

    def test_signature_over_the_local_url_is_403(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        self.assertEmptyTwiml(self.server.sms(phone, "recall"), 403)

    def test_http_signature_for_https_public_url_is_403(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        r = self.server.sms(phone, "recall",
                            url_override="http://sms.example.com/sms-router/webhook/sms")
        self.assertEmptyTwiml(r, 403)


class ProxyHeadersTest(ServerTest):
    FWD = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    PUBLIC = "https://sms.example.com/sms-router/webhook/sms"

    def test_forwarded_headers_are_ignored_unless_trusted(self):
        phone = new_phone()
        self.server.add_user("Ann", [phone])
        r = self.server.sms(phone, "remember spoof", url_override=self.PUBLIC, headers=self.FWD)
        self.assertEmptyTwiml(r, 403)
        self.assertEqual(self.server.say(phone, "recall", headers=self.FWD), "You have no notes.")

    def test_forwarded_headers_are_used_when_trusted(self):
        srv = self.make_server(env={"SMSROUTER_TRUST_PROXY": "1"})
        phone = new_phone()
        srv.add_user("Ann", [phone])
        r = srv.sms(phone, "recall", url_override=self.PUBLIC, headers=self.FWD)
        self.assertTwiml(r, "You have no notes.")
        self.assertTrue(twiml_action(r.body).startswith(
            "https://sms.example.com/sms-router/webhook/status?ob="), r.body)
