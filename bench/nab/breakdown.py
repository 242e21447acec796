#!/usr/bin/env python3
"""Per-file breakdown of a NAB run at one threshold (for analysis only).

  bench/nab/breakdown.py RESULTS_DIR THRESHOLD [--profile standard]

For every file: windows detected / missed, false positives (count and cost),
and the position of the first detection in each window.
"""
import importlib.util
import json
import os
import sys

NAB = os.environ.get("NAB_DIR", "/work/shared/nab")
spec = importlib.util.spec_from_file_location("nab_score", os.path.join(NAB, "nab_score.py"))
ns = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ns)


def main():
    res, thr = sys.argv[1], float(sys.argv[2])
    prof = sys.argv[3] if len(sys.argv) > 3 else "standard"
    w = ns.PROFILES[prof]
    with open(os.path.join(NAB, "labels/combined_windows.json")) as f:
        windows = json.load(f)
    tot_fp = tot_fpc = tot_miss = 0
    rows_out = []
    for rel in sorted(windows):
        cat, fname = rel.split("/")
        ts = [ns.parse_ts(t) for t in ns.read_column(os.path.join(NAB, "data", rel), "timestamp")]
        sc = [float(x) for x in ns.read_column(
            os.path.join(res, "pgwarden", cat, "pgwarden_" + fname), "anomaly_score")]
        rows = ns.sweep_file(rel, ts, sc, windows[rel], w)
        d = ns.score_at(rows, w, thr)
        fp = [(i, s) for i, (a, s, wid) in enumerate(rows) if wid is None and a >= thr]
        fpc = sum(s for _, s in fp)
        wins = {}
        for a, s, wid in rows:
            if wid is None:
                continue
            wins.setdefault(wid, None)
            if a >= thr and wins[wid] is None:
                wins[wid] = s
        miss = sum(1 for v in wins.values() if v is None)
        tot_fp += len(fp); tot_fpc += fpc; tot_miss += miss
        rows_out.append((rel, d["score"], len(wins), miss, len(fp), fpc,
                         " ".join("-" if v is None else "%.2f" % v for v in wins.values())))
    for r in sorted(rows_out, key=lambda r: r[1]):
        print("%-58s %7.3f win=%d miss=%d fp=%3d fpcost=%6.3f  [%s]" % r)
    print("total FP=%d cost=%.3f missed=%d" % (tot_fp, tot_fpc, tot_miss))


main()
