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
selectors that can never match. Variables take the values of three scenarios
(promql.SCENARIOS: every drop-down at All, a plain target picked, two tables
of one database picked) and every expression runs in each.

Per-table panels (topn_checks.py) must bound what they plot with
topk($topn, ...)/bottomk or a table="$table" filter, the dashboard must have
the table picker (target, database, schema, table: multi-select, All = ".*")
and a topn variable, and on the synthetic data (300 tables, half with a
database label) each such query returns at most topn's default series, at
the end of the data and, for a range query, over the whole hour.

Standard library only. Exit status 0 when every check passes, 1 otherwise.
The checks are in the modules beside this file: promql.py (exported metrics,
PromQL lexer), dashboard_checks.py (structure, metric names, promtool) and
synthetic_prometheus.py (the synthetic series and the Prometheus run) and
topn_checks.py (per-table panels bounded by topk).

  check_dashboards.py --promtool PATH [--prometheus PATH | --no-prometheus]
                      [--rules RULES.yml] DASHBOARD.json...
  check_dashboards.py --self-test --promtool PATH DASHBOARD.json...
"""

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile

# The checks live in modules beside this file; importing them must not leave
# __pycache__ in the source tree.
sys.dont_write_bytecode = True

from dashboard_checks import (  # noqa: E402
    check_dashboard,
    check_metric_names,
    check_parse_with_promtool,
    flatten_panels,
    rules_exprs,
)
from promql import CheckError, metric_names, substitute_variables  # noqa: E402
from synthetic_prometheus import Prometheus, check_against_prometheus  # noqa: E402
from topn_checks import check_topn, per_table_selectors  # noqa: E402


def check_all(args, dashboards, workdir):
    """check_all runs every check and returns the list of errors."""
    errors, exprs = [], []
    for path, dash in dashboards:
        dash_exprs = check_dashboard(path, dash, errors)
        check_topn(path, dash, dash_exprs, errors)
        exprs += dash_exprs
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
        "no topn variable": lambda d: d["templating"].update(
            list=[v for v in d["templating"]["list"] if v["name"] != "topn"]),
        "table variable without allValue": lambda d: variable(d, "table").pop("allValue"),
        "single-select database variable": lambda d: variable(d, "database").update(multi=False),
    }
    for name, mutate in mutations.items():
        path, dash = dashboards[0]
        bad = copy.deepcopy(dash)
        mutate(bad)
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True, rules=None)),
                         [(path + " (" + name + ")", bad)], workdir)
        expect(errs, "mutation %r is detected" % name)
    # A per-table panel without topk names the panel, in every dashboard.
    for path, dash in dashboards:
        bad = copy.deepcopy(dash)
        title, target = per_table_target(bad)
        target["expr"] = target["expr"].split(" and on (")[0]  # the query as it was before topk
        if "topk" in target["expr"] or "bottomk" in target["expr"]:
            target["expr"] = UNBOUNDED_EXPR
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True, rules=None)),
                         [(path + " (no topk)", bad)], workdir)
        expect(any("without topk" in e and repr(title) in e for e in errs),
               "mutation 'no topk' in %s panel %r is detected: %s" % (path, title, errs))
    if args.rules:
        bad_rules = os.path.join(workdir, "renamed.rules.yml")
        with open(args.rules) as f, open(bad_rules, "w") as out:
            out.write(f.read().replace("pgwarden_alert_queue_depth", "pgwarden_outbox_depth"))
        errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=True, rules=bad_rules)),
                         dashboards, workdir)
        expect(any("pgwarden_outbox_depth" in e for e in errs), "renamed metric in the rules is detected")
    if args.prometheus:
        prometheus_mutations(args, dashboards, workdir, expect)
    for f in failures:
        print("SELF-TEST FAILED: " + f)
    return failures


# A per-table query that passes the static check but not the run: topk with
# an N far above $topn, and topk ranked at every step (a range query draws
# other tables at each step). UNBOUNDED_EXPR has no topk at all.
UNBOUNDED_EXPR = 'max by (target, database, schema, table) (pgwarden_anomaly_score{environment="$environment"})'
RUNTIME_MUTATIONS = {
    "topk above topn": ("topk(1000, %s)" % UNBOUNDED_EXPR, "series, more than topn=10"),
    "topk per step": ("topk($topn, %s)" % UNBOUNDED_EXPR, "series over the hour (a range query), more than topn=10"),
}


def prometheus_mutations(args, dashboards, workdir, expect):
    """prometheus_mutations proves what only running the queries finds, on one Prometheus."""
    path, dash = dashboards[0]
    bad = {}
    # A label typo parses and names a known metric: only running it finds it.
    bad["label typo"] = copy.deepcopy(dash)
    first_target(bad["label typo"]).update(
        expr=first_target(bad["label typo"])["expr"].replace("environment=", "enviroment=", 1))
    for name, (expr, _) in RUNTIME_MUTATIONS.items():
        bad[name] = copy.deepcopy(dash)
        target = per_table_target(bad[name])[1]
        target.update(expr=expr, instant=False, range=True)
    errs = check_all(argparse.Namespace(**dict(vars(args), no_prometheus=False, rules=None)),
                     [("%s (%s)" % (path, name), d) for name, d in bad.items()], workdir)
    expect(any("(label typo)" in e and "returns no series" in e for e in errs),
           "mutation 'label typo' is detected: %s" % errs)
    for name, (_, message) in RUNTIME_MUTATIONS.items():
        expect(any("(%s)" % name in e and message in e for e in errs),
               "mutation %r is detected (%r): %s" % (name, message, errs))


def variable(dash, name):
    return next(v for v in dash["templating"]["list"] if v["name"] == name)


def per_table_target(dash):
    """per_table_target returns (title, target) of the first panel target that selects per-table series."""
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    for p in flatten_panels(dash["panels"]):
        for t in p.get("targets") or []:
            if per_table_selectors(substitute_variables(t.get("expr", ""), variables)):
                return p.get("title"), t
    raise CheckError("no panel selects per-table series")


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
