"""Checks that the curves the explorer exported honour a minimum count.

  tui_min_count_check.py CURVES.svg RESULTS.json N

The histogram under the curves has one bar per bin holding predictions of
the baseline: dark (150, 150, 150) when the bin holds at least N, pale
(215, 215, 215) when fewer.  The counts are summed here from the results
file's per-batch counts.  With N above 20 (the default) at least one bin
that the default draws dark must be pale, or the check shows nothing.
Prints "ok N: D dark, P pale" or what went wrong (exit 1)."""
import json
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_check  # noqa: E402

DARK, PALE = (150, 150, 150), (215, 215, 215)


def main():
    svg, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    r = json.load(open(results))
    base = next(v for v in r["variants"] if v["kind"] == "baseline")
    counts = [sum(c) for c in zip(*base["per_batch"]["bucket_count"])]
    dark = sum(1 for c in counts if c >= n and c >= 1)
    pale = sum(1 for c in counts if 1 <= c < n)
    _, fills = plot_check.shapes(ET.parse(svg).getroot())
    if (fills[DARK], fills[PALE]) != (dark, pale):
        sys.exit("%d dark and %d pale bars for N = %d; counts %r" % (fills[DARK], fills[PALE], n, counts))
    if n > 20 and not any(20 <= c < n for c in counts):
        sys.exit("no bin between 20 and %d predictions: %r" % (n, counts))
    print("ok %d: %d dark, %d pale" % (n, dark, pale))


main()
