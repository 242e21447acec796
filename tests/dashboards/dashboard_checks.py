"""dashboard_checks: structural checks of Grafana dashboards and rules files.

check_dashboard() checks one dashboard's structure and returns its PromQL
expressions; rules_exprs() reads the expressions of our rules file;
check_metric_names() and check_parse_with_promtool() check expressions.
"""

import json
import os
import re
import subprocess

from promql import ALLOWED_METRICS, DEFAULT_SCENARIO, SCENARIOS, CheckError, metric_names, substitute_variables


def flatten_panels(panels):
    for p in panels:
        yield p
        for sub in p.get("panels", []) or []:
            yield sub


class Expr:
    """Expr is one PromQL expression found in a file, with where it came from.

    promql is the expression with the variables of the default scenario;
    variants maps every scenario (promql.SCENARIOS) to its expression."""

    def __init__(self, where, raw, promql, label=None, variants=None, panel=None, instant=False):
        self.where = where
        self.raw = raw
        self.promql = promql
        self.label = label  # for label_values(expr, label): the label it must yield
        self.variants = variants or {"rules": promql}
        self.panel = panel  # the panel's title, for a panel target
        self.instant = instant  # the panel asks for an instant query only
        self.max_series = None  # set by topn_checks: the most series it may return


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

    def add_expr(where, raw, label=None, panel=None, instant=False):
        if not isinstance(raw, str) or not raw.strip():
            err("%s: empty expression" % where)
            return
        try:
            variants = {sc: substitute_variables(raw, variables, sc) for sc in SCENARIOS}
        except CheckError as e:
            err("%s: %s" % (where, e))
            return
        exprs.append(Expr("%s: %s" % (path, where), raw, variants[DEFAULT_SCENARIO], label, variants, panel, instant))

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
            add_expr("panel %r target %s" % (title, ref), t.get("expr"), panel=title,
                     instant=bool(t.get("instant")) and not t.get("range"))
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

