"""promql: the metric names pgwarden exports and a small PromQL lexer.

metric_names() returns the metrics an expression selects (skipping keywords,
aggregations, functions, label lists and everything inside {} and []);
substitute_variables() replaces Grafana variables with the values of one
scenario (SCENARIOS).
"""

import re

# Metrics the agent exports (PRODUCT.md and the dashboards brief).
EXPORTED_METRICS = {
    "pgwarden_up",
    "pgwarden_table_rows",
    "pgwarden_table_rows_deleted_total",
    "pgwarden_table_rows_inserted_total",
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
    "pgwarden_wal_archived_total",
    "pgwarden_wal_archive_failures_total",
    "pgwarden_wal_archive_last_success_timestamp_seconds",
    "pgwarden_wal_archive_enabled",
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
# Values of query variables without an All option, in every scenario.
VARIABLE_VALUES = {
    "environment": "production",
    "target": "shop",
    "schema": "public",
    "table": "orders",
}
# Scenarios: the picks a user makes in the drop-downs. A query variable with an
# All option that a scenario does not pick takes its allValue (".*"), as on a
# freshly opened dashboard: the case with every table at once. "plain" picks a
# target whose series have no database label, "picked" two tables of one
# database of a target that watches every database of its server (a
# multi-value pick substitutes like Grafana's regex format: "(a|b)").
SCENARIOS = {
    "all": {},
    "plain": {"target": ["shop"]},
    "picked": {"target": ["cluster"], "database": ["app"], "schema": ["public"], "table": ["orders", "customers"]},
}
DEFAULT_SCENARIO = "all"
# Labels the series of a scenario's picks do not carry: a plain target has no
# database, so its database drop-down lists nothing but All.
ABSENT_LABELS = {"plain": {"database"}}

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


def variable_default(v):
    """variable_default returns the current (default) value of a custom, constant or textbox variable."""
    cur = v.get("current") or {}
    value = cur.get("value")
    if isinstance(value, list):
        value = value[0] if value else None
    if value in (None, "") and v.get("options"):
        value = v["options"][0].get("value")
    if value in (None, ""):
        value = str(v.get("query", "")).split(",")[0].strip()
    return str(value)


def variable_value(name, v, scenario):
    """variable_value returns what Grafana puts in place of variable v in scenario."""
    if v.get("type") in ("custom", "constant", "textbox", "interval"):
        return variable_default(v)
    picked = SCENARIOS[scenario].get(name)
    if picked is None and v.get("includeAll"):
        return v.get("allValue") or ".*"
    if picked is None:
        return VARIABLE_VALUES.get(name, "x")
    if len(picked) == 1 or not v.get("multi"):
        return picked[0]
    return "(" + "|".join(re.escape(p) for p in picked) + ")"


def substitute_variables(expr, variables, scenario=DEFAULT_SCENARIO):
    """substitute_variables replaces $var, ${var} and ${var:fmt} with the values of a scenario."""

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name in variables:
            return variable_value(name, variables[name], scenario)
        raise CheckError("expression uses undefined variable $%s: %r" % (name, expr))

    return re.sub(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)
