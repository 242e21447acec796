"""synthetic_prometheus: a real Prometheus over an hour of synthetic pgwarden series.

Three targets and 300 watched tables, 150 of them on a target that watches
every database of its server (with a database label).

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

from promql import ABSENT_LABELS, CheckError
from topn_checks import check_series_bound

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
# Watched tables: (target, database, count), 300 in all. shop and billing are
# plain targets (no database label); cluster watches every database of its
# server, so its per-table and per-database series carry database.
TABLE_GROUPS = [("shop", None, 100), ("billing", None, 50), ("cluster", "app", 100), ("cluster", "reporting", 50)]
TARGETS = ["shop", "billing", "cluster"]
TABLE_SIGNALS = ["rows", "delete_rate"]


def table_names(count):
    """table_names returns count tables: orders, customers, then t002..; every 10th in schema archive."""
    for i in range(count):
        name = ("orders", "customers")[i] if i < 2 else "t%03d" % i
        yield ("archive" if i % 10 == 9 else "public"), name


def add_table_series(add, n, database, schema, table):
    """add_table_series adds the series of table number n (0..299).

    Each table loses a different number of rows at a different time, and
    its anomaly scores rise and fall out of step with the others, so the
    top N tables differ from one step to the next."""
    t = {"schema": schema, "table": table}
    if database:
        t["database"] = database
    rows, lost, at = 1000 + (n * 7919) % 90000, (n * 53) % 97 * 100, 100 + (n * 37) % 130
    add("pgwarden_table_rows", t, lambda k: rows + 10 * k - (lost if k > at else 0))
    add("pgwarden_table_rows_deleted_total", t, lambda k: 7 * k + (lost if k > at else 0))
    add("pgwarden_table_rows_inserted_total", t, lambda k: 17 * k)
    for j, sig in enumerate(TABLE_SIGNALS):
        add("pgwarden_anomaly_score", dict(t, signal=sig), lambda k, j=j: ((7 * k + 13 * n + 31 * j) % 97) / 97.0)


def add_target_series(add, target, first):
    """add_target_series adds the per-target and per-database series of one target."""
    for database in [g[1] for g in TABLE_GROUPS if g[0] == target]:
        d = {"database": database} if database else {}
        add("pgwarden_anomaly_score", dict(d, signal="rollback_ratio"), lambda k: 0.1)
        add("pgwarden_database_xact_commit_total", d, lambda k: 90 * k)
        add("pgwarden_database_xact_rollback_total", d, lambda k: 10 * k)
    add("pgwarden_up", {}, lambda k: 1)
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
    add("pgwarden_wal_archive_enabled", {}, lambda k: 1)
    add("pgwarden_wal_archived_total", {}, lambda k: k // 4)
    add("pgwarden_wal_archive_failures_total", {}, lambda k: k // 50)
    add("pgwarden_wal_archive_last_success_timestamp_seconds", {}, lambda k: first + STEP * k - 60)


def synthetic_openmetrics(end):
    """synthetic_openmetrics returns OpenMetrics text with an hour of pgwarden series ending at end."""
    series = []  # (name, labels dict, f(k) -> value)
    start = end - STEP * (POINTS - 1)

    def adder(target):
        def add(name, extra, fn):
            d = {"environment": "production", "target": target}
            d.update(extra)
            series.append((name, d, fn))
        return add

    for target in TARGETS:
        add_target_series(adder(target), target, start)
    n = 0
    for target, database, count in TABLE_GROUPS:
        for schema, table in table_names(count):
            add_table_series(adder(target), n, database, schema, table)
            n += 1
    series.sort(key=lambda s: s[0])
    lines = []
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

    def query_range(self, promql, step=60):
        """query_range runs promql over the synthetic hour."""
        q = urllib.parse.urlencode({"query": promql, "start": str(self.end - STEP * (POINTS - 1)),
                                    "end": str(self.end), "step": str(step)})
        return http_get_json(self.url + "/api/v1/query_range?" + q)

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
    """check_against_prometheus runs every expr in every scenario; each must succeed and return data.

    A per-table panel target (Expr.max_series set) must also return at most
    that many series (topn_checks.check_series_bound)."""
    for e in exprs:
        for scenario, promql in sorted(e.variants.items()):
            where = e.where if len(e.variants) == 1 else "%s [%s]" % (e.where, scenario)
            r = prom.query(promql)
            if r.get("status") != "success":
                errors.append("%s: prometheus rejected %r: %s" % (where, promql, r.get("error")))
                continue
            result = r["data"]["result"]
            if r["data"]["resultType"] == "vector" and not result:
                errors.append("%s: returns no series on the synthetic pgwarden data: %r" % (where, promql))
            elif (e.label and e.label not in ABSENT_LABELS.get(scenario, ())
                  and not any(e.label in s.get("metric", {}) for s in result)):
                errors.append("%s: no series carries label %r: %r" % (where, e.label, promql))
            else:
                check_series_bound(prom, e, scenario, promql, result, errors)
