"""topn_checks: per-table panels stay readable at 5,000 tables.

A panel target that selects per-table series must bound what it plots: with
topk()/bottomk() (N being the dashboard's `topn` variable) or with an
equality filter on the table (`table="$table"` with a single-value variable).
check_topn() checks that statically, checks the table picker variables, and
sets Expr.max_series to the `topn` default; check_series_bound() then asserts,
on the synthetic Prometheus, that the expression returns at most that many
series at the end of the data (instant query) and, for a range query, over
the whole hour (a topk() evaluated per step draws a different N tables at
each step, so many more than N lines).
"""

import re

from promql import AGGREGATIONS, LABEL_LIST_KEYWORDS, PROMQL_KEYWORDS, CheckError, tokenize

# Metrics with one series per table (and, for anomaly scores, per signal).
PER_TABLE_METRICS = {
    "pgwarden_table_rows",
    "pgwarden_table_rows_deleted_total",
    "pgwarden_table_rows_inserted_total",
    "pgwarden_anomaly_score",
    "pgwarden:table_rows_deleted:rate1m",
}
# pgwarden_anomaly_score also has database-level series (no table label);
# a selector with table="" selects only those.
MIXED_METRICS = {"pgwarden_anomaly_score"}
BOUNDING = {"topk", "bottomk"}
# The table picker: multi-select query variables with an All option of ".*"
# (".*" also matches series without the label: a plain target's series have
# no database label), and the label each one lists.
PICKER_VARIABLES = ("target", "database", "schema", "table")
TOPN_VARIABLE = "topn"


def selectors(promql):
    """selectors returns (metric, [(label, op, value)]) for every vector selector in promql."""
    tokens = tokenize(promql)
    out = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if text in LABEL_LIST_KEYWORDS and nxt == "(":
            i = _close(tokens, i + 1)  # by (a, b): label names, not metrics
        elif text == "{" or text == "[":
            i = _close(tokens, i)  # a bare {...} selector or a range: nothing to name
        elif kind == "ident" and nxt != "(" and text not in PROMQL_KEYWORDS and text not in AGGREGATIONS:
            matchers = []
            if nxt == "{":
                j, end = i + 2, _close(tokens, i + 1)
                while j + 2 <= end:
                    if tokens[j][0] == "ident" and tokens[j + 2][0] == "string":
                        matchers.append((tokens[j][1], tokens[j + 1][1], tokens[j + 2][1][1:-1]))
                        j += 3
                    else:
                        j += 1
                i = end
            out.append((text, matchers))
        i += 1
    return out


def _close(tokens, i):
    """_close returns the index of the token closing the bracket at tokens[i]."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    opener, depth = tokens[i][1], 0
    for j in range(i, len(tokens)):
        if tokens[j][1] == opener:
            depth += 1
        elif tokens[j][1] == pairs[opener]:
            depth -= 1
            if depth == 0:
                return j
    raise CheckError("unbalanced %r" % opener)


def per_table_selectors(promql):
    """per_table_selectors returns the selectors of promql that select per-table series."""
    found = []
    for metric, matchers in selectors(promql):
        if metric not in PER_TABLE_METRICS:
            continue
        if metric in MIXED_METRICS and ("table", "=", "") in matchers:
            continue
        found.append((metric, matchers))
    return found


def is_bounded(promql):
    """is_bounded: promql uses topk/bottomk, or filters every per-table selector on one table."""
    tokens = tokenize(promql)
    for i, (kind, text) in enumerate(tokens):
        if kind == "ident" and text in BOUNDING and i + 1 < len(tokens) and tokens[i + 1][1] == "(":
            return True
    sels = per_table_selectors(promql)
    return bool(sels) and all(
        any(l == "table" and op == "=" and v and not re.search(r"[.*+?|()\[\]]", v) for l, op, v in m)
        for _, m in sels)


def topn_default(variables, err):
    """topn_default returns the default of the topn variable, an integer >= 1, or None after err()."""
    v = variables.get(TOPN_VARIABLE)
    if v is None:
        err("per-table panels need a %r variable (type custom) for their topk()" % TOPN_VARIABLE)
        return None
    if v.get("type") not in ("custom", "constant", "textbox"):
        err("variable %s: must be of type custom, got %r" % (TOPN_VARIABLE, v.get("type")))
        return None
    value = str((v.get("current") or {}).get("value", ""))
    if not value.isdigit() or int(value) < 1:
        err("variable %s: default (current.value) must be an integer >= 1, got %r" % (TOPN_VARIABLE, value))
        return None
    options = [str(o).strip() for o in str(v.get("query", "")).split(",")]
    if v.get("type") == "custom" and value not in options:
        err("variable %s: default %s is not one of its options %r" % (TOPN_VARIABLE, value, options))
    return int(value)


def check_picker(variables, err):
    """check_picker checks the table picker variables target, database, schema, table."""
    for name in PICKER_VARIABLES:
        v = variables.get(name)
        if v is None or v.get("type") != "query":
            err("table picker: missing query variable %r" % name)
            continue
        if not (v.get("multi") and v.get("includeAll")):
            err("table picker: variable %s must be multi-select with an All option" % name)
        if v.get("allValue") != ".*":
            err("table picker: variable %s needs \"allValue\": \".*\" (got %r); without it All is a "
                "regex of every value, thousands of tables long" % (name, v.get("allValue")))
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.search(r",\s*(\w+)\s*\)\s*$", q or "")
        if not m or m.group(1) != name:
            err("table picker: variable %s must list label %s: %r" % (name, name, q))


def check_topn(path, dash, exprs, errors):
    """check_topn checks per-table panel targets of one dashboard and sets their max_series."""

    def err(msg):
        errors.append("%s: %s" % (path, msg))

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    per_table = []
    for e in exprs:
        if e.panel is None:
            continue
        try:
            if per_table_selectors(e.promql):
                per_table.append(e)
        except CheckError:
            continue  # reported by check_metric_names
    if not per_table:
        return
    check_picker(variables, err)
    n = topn_default(variables, err)
    for e in per_table:
        metrics = sorted({m for m, _ in per_table_selectors(e.promql)})
        if not is_bounded(e.promql):
            errors.append("%s: selects per-table series (%s) without topk($%s, ...)/bottomk or a "
                          "table=\"$table\" filter: at 5,000 tables it plots 5,000 lines: %r"
                          % (e.where, ", ".join(metrics), TOPN_VARIABLE, e.raw))
        e.max_series = n


def check_series_bound(prom, e, scenario, promql, result, errors):
    """check_series_bound asserts a per-table expression returns at most e.max_series series.

    result is the instant query's result; a range target is also run as a
    range query over the synthetic hour, counting every series it draws."""
    if not e.max_series:
        return
    where = "%s [%s]" % (e.where, scenario)
    if len(result) > e.max_series:
        errors.append("%s: returns %d series, more than %s=%d: %r"
                      % (where, len(result), TOPN_VARIABLE, e.max_series, promql))
    if e.instant:
        return
    r = prom.query_range(promql)
    if r.get("status") != "success":
        errors.append("%s: prometheus rejected the range query %r: %s" % (where, promql, r.get("error")))
        return
    drawn = {tuple(sorted(s.get("metric", {}).items())) for s in r["data"]["result"]}
    if len(drawn) > e.max_series:
        errors.append("%s: draws %d series over the hour (a range query), more than %s=%d; rank once for "
                      "the whole range, e.g. X and on (...) topk($%s, ...[$__range] @ end()): %r"
                      % (where, len(drawn), TOPN_VARIABLE, e.max_series, TOPN_VARIABLE, promql))
