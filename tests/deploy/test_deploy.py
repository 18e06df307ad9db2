#!/usr/bin/python3
"""The monitoring files of deploy/ against the real binary:

    /usr/bin/python3 tests/deploy/test_deploy.py --binary build/smsrouter

- deploy/grafana-dashboard.json is a Grafana dashboard whose every panel reads the
  `datasource` variable (a Prometheus data source), and whose every PromQL expression
  parses (Prometheus's own parser, through `promtool check rules`) and names only metrics
  and labels that the binary's /metrics really exposes;
- deploy/alerts.yml names only such metrics and labels too, and has one rule for each row
  of docs/operations.md's metrics table that says when to alert (promtool checks and
  unit-tests the rules themselves: make deploy-check).

The binary is started on loopback with a temporary SQLite database (tests/integration's
harness) and an events URL (smsrouter_events_pending exists only with one), sent one signed
webhook so that the request counters have samples, and scraped.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

DASHBOARD = os.path.join(ROOT, "deploy", "grafana-dashboard.json")
OPERATIONS = os.path.join(ROOT, "docs", "operations.md")
ALERTS = os.path.join(ROOT, "deploy", "alerts.yml")

# PromQL's functions and keywords that an expression here may use; any other bare name is
# taken for a metric.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "deriv", "delta",
    "histogram_quantile", "by", "without", "on", "ignoring", "and", "or", "unless",
    "offset", "bool", "group_left", "group_right", "time", "vector", "clamp_min",
    "label_values", "le", "inf", "nan",
}
# Labels every scraped series gets from Prometheus itself.
TARGET_LABELS = {"job", "instance"}


def scrape(server):
    """{sample name: set of label names} of the server's /metrics."""
    r = server.request("GET", "/metrics")
    assert r.status == 200, r.body
    found = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            found.setdefault(s.name, set()).update(s.labels)
    return found


def grafana_to_promql(expr):
    """The expression as Prometheus would get it from Grafana: variables replaced."""
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)


def names_and_labels(expr):
    """([metric names], [label names]) an expression uses."""
    labels = []
    # Label names in matchers {a="x", b=~"y"} and in by/without/on/ignoring (…).
    for body in re.findall(r"\{([^}]*)\}", expr):
        labels += re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body)
    for body in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr):
        labels += [w.strip() for w in body.split(",") if w.strip()]
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", "", bare)
    bare = re.sub(r"\[[^]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\b\d+(?:\.\d+)?[smhdwy]?\b", "", bare)
    names = [w for w in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", bare)
             if w not in PROMQL_WORDS]
    return names, labels


def promtool_parses(exprs):
    """None if Prometheus's parser takes every expression, else promtool's complaint."""
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:expr%d" % i, "expr": e} for i, e in enumerate(exprs)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump(rules, f)
    try:
        p = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                           text=True, timeout=60)
    finally:
        os.unlink(f.name)
    return None if p.returncode == 0 else p.stdout + p.stderr


def alert_table_rows():
    """[(metric names, alert text)] of the rows of docs/operations.md's metrics table that
    say when to alert; `_retries_total` after `smsrouter_outbox_sent_total` is
    smsrouter_outbox_retries_total."""
    rows = []
    with open(OPERATIONS, encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or not cells[0].startswith("`smsrouter_") or not cells[3]:
                continue
            names = re.findall(r"`([a-z_]+)`", cells[0])
            prefix = "_".join(names[0].split("_")[:2])
            rows.append(([prefix + n if n.startswith("_") else n for n in names], cells[3]))
    return rows


def family(name):
    return re.sub(r"_(bucket|count|sum)$", "", name)


def dashboard_panels(d):
    for p in d["panels"]:
        yield p
        yield from p.get("panels", [])


class DeployTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # With an events URL (nothing listens there), so that smsrouter_events_pending,
        # which exists only then, is exposed too.
        server = harness.Server(env={
            "SMSROUTER_EVENTS_URL": "http://127.0.0.1:%d/events" % harness.free_port(),
            "SMSROUTER_AGENT_SECRET": "deploy-test-secret"})
        try:
            # One signed webhook from an unknown sender: request counters get samples.
            r = server.sms(harness.new_phone(), "hello")
            assert r.status == 200, r.body
            cls.exposed = scrape(server)
        finally:
            server.close()
        with open(DASHBOARD, encoding="utf-8") as f:
            cls.dashboard = json.load(f)
        with open(ALERTS, encoding="utf-8") as f:
            cls.alerts = yaml.safe_load(f)

    def check_expr(self, where, expr):
        names, labels = names_and_labels(expr)
        self.assertTrue(names, "%s: no metric in %r" % (where, expr))
        allowed = set(TARGET_LABELS)
        for n in names:
            self.assertIn(n, self.exposed, "%s: %s is not in /metrics (%r)" % (where, n, expr))
            allowed |= self.exposed[n]
        for label in labels:
            self.assertIn(label, allowed, "%s: label %s is on none of %s" % (where, label, names))

    def test_scrape_sees_the_families_the_panels_need(self):
        # The check below is only as good as the scrape: it must hold what the table
        # of docs/operations.md lists, histograms with their buckets.
        for n in ("smsrouter_http_requests_total", "smsrouter_webhook_duration_seconds_bucket",
                  "smsrouter_agent_duration_seconds_count", "smsrouter_outbox_depth",
                  "smsrouter_scheduled_depth", "smsrouter_sends_total",
                  "smsrouter_outbox_dead_total", "smsrouter_store_errors_total"):
            self.assertIn(n, self.exposed)
        self.assertEqual(self.exposed["smsrouter_http_requests_total"], {"route", "status"})

    def test_dashboard_reads_the_datasource_variable(self):
        d = self.dashboard
        variables = {v["name"]: v for v in d["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        ids = []
        for p in dashboard_panels(d):
            ids.append(p["id"])
            if p["type"] == "row":
                continue
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"},
                             p["title"])
            self.assertTrue(p["targets"], p["title"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${datasource}", p["title"])
        self.assertEqual(len(ids), len(set(ids)), "panel ids repeat")

    def test_dashboard_exprs_parse_and_name_real_metrics(self):
        exprs = []
        for p in dashboard_panels(self.dashboard):
            for t in p.get("targets", []):
                e = grafana_to_promql(t["expr"])
                exprs.append(e)
                self.check_expr("panel %r" % p["title"], e)
        for v in self.dashboard["templating"]["list"]:
            if v["type"] == "query":
                inner = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", v["query"]["query"])
                self.assertIsNotNone(inner, v["name"])
                self.check_expr("variable " + v["name"], grafana_to_promql(inner.group(1)))
        self.assertGreaterEqual(len(exprs), 30)
        complaint = promtool_parses(exprs)
        self.assertIsNone(complaint, complaint)

    def test_dashboard_covers_every_exposed_family(self):
        used = set()
        for p in dashboard_panels(self.dashboard):
            for t in p.get("targets", []):
                used.update(names_and_labels(grafana_to_promql(t["expr"]))[0])
        families = {re.sub(r"_(bucket|count|sum)$", "", n) for n in self.exposed}
        covered = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
        self.assertEqual(families - covered, set())

    def test_one_rule_for_each_row_of_the_alert_table(self):
        rows = alert_table_rows()
        rules = [r for g in self.alerts["groups"] for r in g["rules"]]
        self.assertGreaterEqual(len(rows), 15)
        matched = {}
        for r in rules:
            first = family(names_and_labels(r["expr"])[0][0])
            hits = [i for i, (names, _) in enumerate(rows) if first in names]
            self.assertEqual(len(hits), 1, "%s (%s) is for %d rows" % (r["alert"], first,
                                                                       len(hits)))
            self.assertNotIn(hits[0], matched, "%s and %s are for one row"
                             % (r["alert"], matched.get(hits[0])))
            matched[hits[0]] = r["alert"]
        self.assertEqual(set(range(len(rows))) - set(matched), set(),
                         "rows without a rule: %s" % [rows[i] for i in range(len(rows))
                                                      if i not in matched])

    def test_alert_rules_name_real_metrics(self):
        rules = [r for g in self.alerts["groups"] for r in g["rules"]]
        self.assertTrue(rules)
        for r in rules:
            self.check_expr("alert " + r["alert"], r["expr"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    args, rest = ap.parse_known_args()
    harness.BINARY = os.path.abspath(args.binary)
    unittest.main(argv=[sys.argv[0], "-v"] + rest)


if __name__ == "__main__":
    main()
