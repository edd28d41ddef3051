"""Checks the explorer's ranked list against an independent ordering.

  tui_rank_check.py RESULTS.json SCREEN.txt METRIC ORDER

SCREEN.txt is the terminal's text (tmux capture-pane) with the ranked list
open; RESULTS.json the analysis it shows.  Every head, MLP and joint
ablation's METRIC and its jackknife standard error are recomputed from the
per-batch counts by tests/ref_metrics.py (numpy), ordered by ORDER (value,
abs: |value|, signif: |value| / SE; largest first, undefined last, file
order among equals), and each entry the screen lists must sit at its rank
with its value, its SE and a * exactly where |value| > 2 SE.  Prints "ok N"
with the number of entries checked."""
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_metrics  # noqa: E402

ENTRY = re.compile(r"(?:^|\s)(\d+) ((?:L\d+H\d+|MLP\d+)(?:\+(?:L\d+H\d+|MLP\d+))*)\s+([+-]\d+\.\d{4,5}|n/a)\s+"
                   r"(\d+\.\d{4,5}|n/a) ?(\*)?")


def key(value, se, order):
    if value is None:
        return -math.inf
    if order == "value":
        return value
    if order == "abs":
        return abs(value)
    return abs(value) / se if se else -math.inf


def main():
    path, screen, metric, order = sys.argv[1:5]
    ref = ref_metrics.results(path)
    variants = [v for v in json.load(open(path))["variants"] if v["kind"] != "baseline"]
    rows = [(v["id"], ref[v["id"]][metric], ref[v["id"]][metric + "_se"], i) for i, v in enumerate(variants)]
    rows.sort(key=lambda r: (-key(r[1], r[2], order), r[3]))
    seen = 0
    for line in open(screen, encoding="utf-8"):
        m = ENTRY.search(line)
        if not m:
            continue
        rank, ident, value, se, star = int(m[1]), m[2], m[3], m[4], m[5] is not None
        want_id, want_v, want_se, _ = rows[rank - 1]
        if ident != want_id:
            sys.exit("rank %d: screen %s, reference %s (%r)" % (rank, ident, want_id, rows[:rank + 2]))
        if want_v is None or value == "n/a":
            if not (want_v is None and value == "n/a"):
                sys.exit("rank %d %s: screen %s, reference %r" % (rank, ident, value, want_v))
        elif abs(float(value) - want_v) > 0.6 * 10 ** -len(value.split(".")[1]):
            sys.exit("rank %d %s: screen %s, reference %.7f" % (rank, ident, value, want_v))
        if want_se is not None and se != "n/a" and abs(float(se) - want_se) > 0.6 * 10 ** -len(se.split(".")[1]):
            sys.exit("rank %d %s: SE on screen %s, reference %.7f" % (rank, ident, se, want_se))
        want_star = want_v is not None and want_se is not None and abs(want_v) > 2 * want_se
        if star != want_star:
            sys.exit("rank %d %s: mark %r, reference %r" % (rank, ident, star, want_star))
        seen += 1
    if seen < min(5, len(rows)):
        sys.exit("only %d ranked entries on the screen" % seen)
    print("ok %d" % seen)


if __name__ == "__main__":
    main()
