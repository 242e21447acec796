"""synthetic_prometheus: a real Prometheus over an hour of synthetic pgwarden series.

The series are backfilled with `promtool tsdb create-blocks-from openmetrics`
and the server listens on a free 127.0.0.1 port; check_against_prometheus()
runs each expression on it.
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from promql import CheckError

# Synthetic series: every metric, every label value the dashboards filter on.
KINDS = ["row_loss", "delete_spike", "truncate", "drop_table", "rollback_ratio", "failed_logins",
         "destructive_in_flight", "idle_in_transaction", "long_statement", "blocking"]
SINKS = ["oncall", "slack"]
LOGIN_REASONS = ["password", "authentication", "no_hba_entry", "hba_reject", "no_such_role", "no_such_database"]
DELIVERY_RESULTS = ["ok", "retry", "failed", "dropped"]
ACTIONS = ["nologin", "revoke_writes", "terminate"]
ACTION_RESULTS = ["done", "dry_run", "refused", "failed"]
BUCKETS = ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]
STEP = 15
POINTS = 240  # one hour


def synthetic_openmetrics(end):
    """synthetic_openmetrics returns OpenMetrics text with an hour of pgwarden series ending at end."""
    series = []  # (name, labels dict, f(k) -> value)
    for target in ("shop", "billing"):
        base = {"environment": "production", "target": target}

        def add(name, extra, fn):
            d = dict(base)
            d.update(extra)
            series.append((name, d, fn))

        add("pgwarden_up", {}, lambda k: 1)
        for table, rows in (("orders", 100000), ("customers", 20000)):
            t = {"schema": "public", "table": table}
            add("pgwarden_table_rows", t, lambda k, r=rows: r + 10 * k - (5000 if k > 200 else 0))
            add("pgwarden_table_rows_deleted_total", t, lambda k: 7 * k + (5000 if k > 200 else 0))
            for sig in ("rows", "delete_rate"):
                add("pgwarden_anomaly_score", dict(t, signal=sig), lambda k: (k % 10) / 10.0)
        add("pgwarden_anomaly_score", {"signal": "rollback_ratio"}, lambda k: 0.1)
        add("pgwarden_anomaly_score", {"signal": "failed_logins"}, lambda k: 0.05)
        for j, reason in enumerate(LOGIN_REASONS):
            add("pgwarden_failed_logins_total", {"reason": reason}, lambda k, j=j: (j + 1) * k)
        for i, kind in enumerate(KINDS):
            add("pgwarden_incidents_total", {"kind": kind}, lambda k, i=i: k * (i + 1))
            add("pgwarden_incident_active", {"kind": kind}, lambda k, i=i: (k // 20 + i) % 2)
        for sink in SINKS:
            for j, res in enumerate(DELIVERY_RESULTS):
                add("pgwarden_alert_deliveries_total", {"sink": sink, "result": res}, lambda k, j=j: k * (j + 1))
            add("pgwarden_alert_queue_depth", {"sink": sink}, lambda k: k % 7)
            add("pgwarden_alert_oldest_pending_seconds", {"sink": sink}, lambda k: (k % 7) * 3.5)
        for action in ACTIONS:
            for j, res in enumerate(ACTION_RESULTS):
                add("pgwarden_remediation_actions_total", {"action": action, "result": res}, lambda k, j=j: k * (j + 1))
        for j, le in enumerate(BUCKETS):
            add("pgwarden_sample_duration_seconds_bucket", {"le": le}, lambda k, j=j: 4 * k * min(j + 1, 10))
        add("pgwarden_sample_duration_seconds_count", {}, lambda k: 40 * k)
        add("pgwarden_sample_duration_seconds_sum", {}, lambda k: 0.4 * k)
        add("pgwarden_database_xact_commit_total", {}, lambda k: 90 * k)
        add("pgwarden_database_xact_rollback_total", {}, lambda k: 10 * k)
        add("pgwarden_wal_archive_enabled", {}, lambda k: 1)
        add("pgwarden_wal_archived_total", {}, lambda k: k // 4)
        add("pgwarden_wal_archive_failures_total", {}, lambda k: k // 50)
        first = end - STEP * (POINTS - 1)
        add("pgwarden_wal_archive_last_success_timestamp_seconds", {},
            lambda k, first=first: first + STEP * k - 60)
    series.sort(key=lambda s: s[0])
    lines = []
    start = end - STEP * (POINTS - 1)
    for name, labels, fn in series:
        lab = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()))
        for k in range(POINTS):
            lines.append("%s{%s} %s %d" % (name, lab, repr(float(fn(k))), start + STEP * k))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get_json(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return json.loads(e.read().decode() or "{}")


class Prometheus:
    """Prometheus is a real prometheus process over backfilled synthetic data, stopped by pid."""

    def __init__(self, binary, promtool, workdir):
        workdir = tempfile.mkdtemp(prefix="prometheus_", dir=workdir)
        self.end = int(time.time()) // STEP * STEP - 60
        data = os.path.join(workdir, "data")
        om = os.path.join(workdir, "synthetic.om")
        with open(om, "w") as f:
            f.write(synthetic_openmetrics(self.end))
        r = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", om, data],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise CheckError("promtool backfill failed: %s%s" % (r.stdout, r.stderr))
        cfg = os.path.join(workdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 15s\nscrape_configs: []\n")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(workdir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=" + cfg, "--storage.tsdb.path=" + data,
             "--web.listen-address=127.0.0.1:%d" % self.port, "--storage.tsdb.retention.time=30d"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        ready = False
        for _ in range(300):  # at most 300 polls and 30 seconds
            if self.proc.poll() is not None:
                self.log.close()
                raise CheckError("prometheus exited with %d, see %s" % (self.proc.returncode, self.log.name))
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    ready = r.status == 200
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if ready or time.time() > deadline:
                break
            time.sleep(0.1)
        if not ready:
            self.stop()
            raise CheckError("prometheus not ready within 30s")

    def query(self, promql):
        q = urllib.parse.urlencode({"query": promql, "time": str(self.end)})
        return http_get_json(self.url + "/api/v1/query?" + q)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.log.close()


def check_against_prometheus(prom, exprs, errors):
    """check_against_prometheus runs every expr; each must succeed and return data."""
    for e in exprs:
        r = prom.query(e.promql)
        if r.get("status") != "success":
            errors.append("%s: prometheus rejected %r: %s" % (e.where, e.promql, r.get("error")))
            continue
        result = r["data"]["result"]
        if r["data"]["resultType"] == "vector" and not result:
            errors.append("%s: returns no series on the synthetic pgwarden data: %r" % (e.where, e.promql))
        elif e.label and not any(e.label in s.get("metric", {}) for s in result):
            errors.append("%s: no series carries label %r: %r" % (e.where, e.label, e.promql))
