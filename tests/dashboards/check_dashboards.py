#!/usr/bin/env python3
"""check_dashboards.py checks pgwarden's Grafana dashboards and Prometheus rules.

For each dashboard JSON it checks the structure (unique panel ids, a gridPos
inside the 24-column grid with no two panels overlapping, a datasource that is
the DS_PROMETHEUS template variable and at least one PromQL target on every
panel, the environment and target variables), extracts every PromQL
expression (panel targets, annotations, label_values() variable queries) and
checks that every metric it names is one the agent exports (PRODUCT.md), so a
renamed metric breaks the test. The rules file's expressions are checked the
same way (recording rule names defined in it are allowed there).

Every expression is then parsed by promtool (wrapped into a temporary rules
file) and, unless --no-prometheus, run against a real Prometheus started on a
free 127.0.0.1 port over synthetic pgwarden series backfilled with
`promtool tsdb create-blocks-from openmetrics`: each must evaluate without
error and return at least one series, which catches label typos and
selectors that can never match.

Standard library only. Exit status 0 when every check passes, 1 otherwise.

  check_dashboards.py --promtool PATH [--prometheus PATH | --no-prometheus]
                      [--rules RULES.yml] DASHBOARD.json...
  check_dashboards.py --self-test --promtool PATH DASHBOARD.json...
"""

import argparse
import copy
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

# Metrics the agent exports (PRODUCT.md and the dashboards brief).
EXPORTED_METRICS = {
    "pgwarden_up",
    "pgwarden_table_rows",
    "pgwarden_table_rows_deleted_total",
    "pgwarden_anomaly_score",
    "pgwarden_incidents_total",
    "pgwarden_incident_active",
    "pgwarden_alert_deliveries_total",
    "pgwarden_alert_queue_depth",
    "pgwarden_alert_oldest_pending_seconds",
    "pgwarden_remediation_actions_total",
    "pgwarden_database_xact_commit_total",
    "pgwarden_database_xact_rollback_total",
    "pgwarden_failed_logins_total",
}
HISTOGRAMS = {"pgwarden_sample_duration_seconds"}
ALLOWED_METRICS = EXPORTED_METRICS | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}

# Values substituted for Grafana variables before PromQL is parsed or run.
# Chosen to match the synthetic series below.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "30m",
    "__range_s": "1800",
    "__interval_ms": "15000",
}
VARIABLE_VALUES = {
    "environment": "production",
    "target": "shop",
    "schema": "public",
    "table": "orders",
}

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan",
}
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
    "topk", "quantile",
}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@])
""",
    re.VERBOSE,
)


class CheckError(Exception):
    pass


def tokenize(expr):
    """tokenize splits PromQL into (kind, text) tokens; raises CheckError on junk."""
    pos, out = 0, []
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m:
            raise CheckError("cannot tokenize PromQL at %r" % expr[pos : pos + 20])
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def metric_names(expr):
    """metric_names returns the metric names an expression selects."""
    tokens = tokenize(expr)
    names = set()
    brace = bracket = 0
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if text == "{":
            brace += 1
        elif text == "}":
            brace -= 1
        elif text == "[":
            bracket += 1
        elif text == "]":
            bracket -= 1
        elif kind == "ident" and brace == 0 and bracket == 0:
            if text in LABEL_LIST_KEYWORDS and nxt == "(":
                # Skip the label list: by (a, b).
                depth = 0
                while i < len(tokens):
                    if tokens[i][1] == "(":
                        depth += 1
                    elif tokens[i][1] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
            elif text in PROMQL_KEYWORDS or text in AGGREGATIONS or nxt == "(":
                pass  # keyword, aggregation (possibly followed by `by (...)`) or function
            else:
                names.add(text)
        i += 1
    if brace or bracket:
        raise CheckError("unbalanced braces or brackets in %r" % expr)
    return names


def substitute_variables(expr, variables):
    """substitute_variables replaces $var, ${var} and ${var:fmt} with test values."""

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return VARIABLE_VALUES.get(name, "x")
        raise CheckError("expression uses undefined variable $%s: %r" % (name, expr))

    return re.sub(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)


def flatten_panels(panels):
    for p in panels:
        yield p
        for sub in p.get("panels", []) or []:
            yield sub


class Expr:
    """Expr is one PromQL expression found in a file, with where it came from."""

    def __init__(self, where, raw, promql, label=None):
        self.where = where
        self.raw = raw
        self.promql = promql
        self.label = label  # for label_values(expr, label): the label it must yield


def check_dashboard(path, dash, errors):
    """check_dashboard appends structural errors to errors and returns its Exprs."""
    exprs = []

    def err(msg):
        errors.append("%s: %s" % (path, msg))

    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            err("missing top-level key %r" % key)
    if not isinstance(dash.get("schemaVersion"), int) or dash.get("schemaVersion", 0) < 30:
        err("schemaVersion must be an integer >= 30, got %r" % dash.get("schemaVersion"))
    variables = {}
    for v in dash.get("templating", {}).get("list", []):
        if "name" not in v or "type" not in v:
            err("template variable without name or type: %r" % v)
            continue
        variables[v["name"]] = v
    ds_vars = {n for n, v in variables.items() if v["type"] == "datasource" and v.get("query") == "prometheus"}
    if not ds_vars:
        err("no template variable of type datasource with query prometheus")
    for needed in ("environment", "target"):
        if variables.get(needed, {}).get("type") != "query":
            err("missing query template variable %r" % needed)

    def check_datasource(ds, what):
        if not isinstance(ds, dict) or ds.get("type") != "prometheus":
            err("%s: datasource must be a prometheus datasource object, got %r" % (what, ds))
            return
        m = re.fullmatch(r"\$\{?(\w+)\}?", str(ds.get("uid", "")))
        if not m or m.group(1) not in ds_vars:
            err("%s: datasource uid %r is not a datasource template variable %s" % (what, ds.get("uid"), sorted(ds_vars)))

    def add_expr(where, raw, label=None):
        if not isinstance(raw, str) or not raw.strip():
            err("%s: empty expression" % where)
            return
        try:
            promql = substitute_variables(raw, variables)
        except CheckError as e:
            err("%s: %s" % (where, e))
            return
        exprs.append(Expr("%s: %s" % (path, where), raw, promql, label))

    for name, v in variables.items():
        if v["type"] != "query":
            continue
        check_datasource(v.get("datasource"), "variable %s" % name)
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "", re.S)
        if not m:
            err("variable %s: query must be label_values(<selector>, <label>), got %r" % (name, q))
            continue
        add_expr("variable %s" % name, m.group(1), label=m.group(2))

    for i, a in enumerate(dash.get("annotations", {}).get("list", [])):
        if a.get("builtIn"):
            continue
        check_datasource(a.get("datasource"), "annotation %r" % a.get("name"))
        add_expr("annotation %r" % a.get("name", i), a.get("expr"))

    ids, boxes = set(), []
    panels = list(flatten_panels(dash.get("panels", [])))
    if not panels:
        err("no panels")
    for p in panels:
        title = p.get("title", "?")
        pid = p.get("id")
        if not isinstance(pid, int):
            err("panel %r: id must be an integer, got %r" % (title, pid))
        elif pid in ids:
            err("panel %r: duplicate id %d" % (title, pid))
        ids.add(pid)
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")):
            err("panel %r: gridPos needs integer h, w, x, y, got %r" % (title, g))
        elif g["w"] <= 0 or g["h"] <= 0 or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > 24:
            err("panel %r: gridPos %r is outside the 24-column grid" % (title, g))
        else:
            for other_title, o in boxes:
                if (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and g["y"] < o["y"] + o["h"]
                        and o["y"] < g["y"] + g["h"]):
                    err("panel %r overlaps panel %r" % (title, other_title))
            boxes.append((title, g))
        if p.get("type") == "row":
            continue
        if not p.get("type"):
            err("panel %r: no type" % title)
        check_datasource(p.get("datasource"), "panel %r" % title)
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            err("panel %r: no targets" % title)
            continue
        refs = set()
        for t in targets:
            ref = t.get("refId")
            if not ref or ref in refs:
                err("panel %r: missing or duplicate refId %r" % (title, ref))
            refs.add(ref)
            if "datasource" in t:
                check_datasource(t["datasource"], "panel %r target %s" % (title, ref))
            add_expr("panel %r target %s" % (title, ref), t.get("expr"))
    return exprs


def rules_exprs(path, errors):
    """rules_exprs returns (Exprs, recorded names) of a rules file we write.

    A small reader for our own layout (stdlib has no YAML): `expr: one line`
    or `expr: |` followed by more-indented lines; `record: name`."""
    exprs, records = [], set()
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)-?\s*record:\s*(\S+)\s*$", line)
        if m:
            records.add(m.group(2))
        m = re.match(r"^(\s*)(?:-\s*)?expr:\s*(.*)$", line)
        if m:
            indent, rest = len(m.group(1)), m.group(2).strip()
            start = i + 1
            if rest in ("|", "|-", ">", ">-"):
                body = []
                i += 1
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    body.append(lines[i].strip())
                    i += 1
                text = " ".join(b for b in body if b)
                i -= 1
            else:
                text = rest.strip("'\"") if rest[:1] in "'\"" else rest
            if not text:
                errors.append("%s:%d: empty expr" % (path, start))
            else:
                exprs.append(Expr("%s:%d" % (path, start), text, text))
        i += 1
    if not exprs:
        errors.append("%s: no expr found" % path)
    return exprs, records


def check_metric_names(exprs, extra_allowed, errors):
    for e in exprs:
        try:
            names = metric_names(e.promql)
        except CheckError as ex:
            errors.append("%s: %s" % (e.where, ex))
            continue
        if not names:
            errors.append("%s: selects no metric: %r" % (e.where, e.raw))
        for n in sorted(names - ALLOWED_METRICS - extra_allowed):
            errors.append("%s: unknown metric %r (not exported by pgwarden) in %r" % (e.where, n, e.raw))


def check_parse_with_promtool(promtool, exprs, errors, workdir):
    """check_parse_with_promtool wraps every expr into a rules file for promtool check rules."""
    if not exprs:
        return
    path = os.path.join(workdir, "dashboard_exprs.rules.yml")
    with open(path, "w") as f:
        f.write("groups:\n  - name: dashboard_exprs\n    rules:\n")
        for i, e in enumerate(exprs):
            f.write("      - record: dashboard_expr_%d\n        expr: %s\n" % (i, json.dumps(e.promql)))
    r = subprocess.run([promtool, "check", "rules", path], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        out = r.stdout + r.stderr
        errors.append("promtool check rules on the dashboard expressions failed:\n" + out)
        for i, e in enumerate(exprs):
            if "dashboard_expr_%d" % i in out or ("rule %d" % (i + 1)) in out:
                errors.append("  %s: %r" % (e.where, e.promql))


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


def check_all(args, dashboards, workdir):
    """check_all runs every check and returns the list of errors."""
    errors, exprs = [], []
    for path, dash in dashboards:
        exprs += check_dashboard(path, dash, errors)
    check_metric_names(exprs, set(), errors)
    rule_exprs = []
    if args.rules:
        rule_exprs, records = rules_exprs(args.rules, errors)
        check_metric_names(rule_exprs, records, errors)
    check_parse_with_promtool(args.promtool, exprs, errors, workdir)
    if not args.no_prometheus and not errors:
        prom = Prometheus(args.prometheus, args.promtool, workdir)
        try:
            check_against_prometheus(prom, exprs, errors)
            print("ran %d dashboard expressions on prometheus %s over synthetic data" % (len(exprs), prom.url))
        finally:
            prom.stop()
    print("checked %d dashboard expressions, %d rule expressions" % (len(exprs), len(rule_exprs)))
    return errors


def self_test(args, dashboards, workdir):
    """self_test proves the checks catch what they claim to catch."""
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append(what)

    expect(metric_names('histogram_quantile(0.99, sum by (target, le) (rate(a_bucket{le="1",x=~"y"}[5m])))')
           == {"a_bucket"}, "lexer: histogram_quantile")
    expect(metric_names("a - b offset 30m and on (x) group_left (y) c > bool 0") == {"a", "b", "c"},
           "lexer: binary ops and modifiers")
    expect(metric_names("sum(x{a=\"by(\"}) without (z) / ignoring(q) y[5m:1m]") == {"x", "y"}, "lexer: strings")
    expect(metric_names("1e-9 + 0x1f + inf") == set(), "lexer: numbers")
    expect(metric_names("max by (a) (m1) or topk without (b) (3, m2)") == {"m1", "m2"}, "lexer: by before")

    clean_errors = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True)), dashboards, workdir)
    expect(not clean_errors, "unmodified dashboards pass: %s" % clean_errors)

    mutations = {
        "renamed metric": lambda d: first_target(d).update(
            expr=first_target(d)["expr"].replace("pgwarden_", "pgwarden_renamed_", 1)),
        "PromQL syntax error": lambda d: first_target(d).update(expr=first_target(d)["expr"] + " +"),
        "duplicate panel id": lambda d: d["panels"][2].update(id=d["panels"][1]["id"]),
        "panel without targets": lambda d: d["panels"][1].update(targets=[]),
        "panel without datasource": lambda d: d["panels"][1].pop("datasource"),
        "panel without gridPos": lambda d: d["panels"][1].pop("gridPos"),
        "undefined variable": lambda d: first_target(d).update(expr=first_target(d)["expr"] + " * $nosuch"),
    }
    for name, mutate in mutations.items():
        path, dash = dashboards[0]
        bad = copy.deepcopy(dash)
        mutate(bad)
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True, rules=None)),
                         [(path + " (" + name + ")", bad)], workdir)
        expect(errs, "mutation %r is detected" % name)
    if args.rules:
        bad_rules = os.path.join(workdir, "renamed.rules.yml")
        with open(args.rules) as f, open(bad_rules, "w") as out:
            out.write(f.read().replace("pgwarden_alert_queue_depth", "pgwarden_outbox_depth"))
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True, rules=bad_rules)),
                         dashboards, workdir)
        expect(any("pgwarden_outbox_depth" in e for e in errs), "renamed metric in the rules is detected")
    if args.prometheus:
        # A label typo parses and names a known metric: only running it finds it.
        path, dash = dashboards[0]
        bad = copy.deepcopy(dash)
        first_target(bad).update(expr=first_target(bad)["expr"].replace("environment=", "enviroment=", 1))
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=False, rules=None)),
                         [(path + " (label typo)", bad)], workdir)
        expect(any("returns no series" in e for e in errs), "mutation 'label typo' is detected: %s" % errs)
    for f in failures:
        print("SELF-TEST FAILED: " + f)
    return failures


def first_target(dash):
    for p in flatten_panels(dash["panels"]):
        if p.get("targets"):
            return p["targets"][0]
    raise CheckError("no panel with targets")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--promtool", required=True)
    ap.add_argument("--prometheus")
    ap.add_argument("--no-prometheus", action="store_true")
    ap.add_argument("--rules")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("dashboards", nargs="+")
    args = ap.parse_args()
    if not os.access(args.promtool, os.X_OK):
        print("promtool not executable: %r" % args.promtool)
        return 1
    if not args.no_prometheus and not args.self_test and not (args.prometheus and os.access(args.prometheus, os.X_OK)):
        print("prometheus not executable: %r (pass --no-prometheus to skip)" % args.prometheus)
        return 1
    dashboards = []
    for path in args.dashboards:
        with open(path) as f:
            try:
                dashboards.append((os.path.basename(path), json.load(f)))
            except json.JSONDecodeError as e:
                print("%s: invalid JSON: %s" % (path, e))
                return 1
    workdir = tempfile.mkdtemp(prefix="pgwarden_dash_")
    try:
        if args.self_test:
            failures = self_test(args, dashboards, workdir)
            print("self-test: %s" % ("FAILED" if failures else "ok"))
            return 1 if failures else 0
        errors = check_all(args, dashboards, workdir)
    except CheckError as e:
        errors = [str(e)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for e in errors:
        print("ERROR: " + e)
    print("%d error(s)" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
