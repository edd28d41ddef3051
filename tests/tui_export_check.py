"""Checks the explorer's export against an independent computation.

  tui_export_check.py RESULTS.json HEATMAP.json CURVES.json PNG...

RESULTS.json is the explorer's cache (a headcal-results/1 file).  The
heatmap's cell values and standard errors and the curves' accuracies must
match tests/ref_metrics.py's numpy recomputation from the counts; every PNG
must decode (tests/plot_check.py's zlib-only decoder).  Prints "ok"."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot_check  # noqa: E402
import ref_metrics  # noqa: E402


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def main():
    ref = ref_metrics.results(sys.argv[1])
    heat = json.load(open(sys.argv[2]))
    metric = heat["metric"]
    for c in heat["cells"]:
        want = ref[c["variant"]][metric]
        if heat["clip_negative"] and want is not None and want < 0:
            want = 0.0
        if not close(c["value"], want) or not close(c["se"], ref[c["variant"]][metric + "_se"]):
            sys.exit("heatmap %s: %r, reference %r" % (c["variant"], c, want))
    curves = json.load(open(sys.argv[3]))
    for s in curves["series"]:
        want = ref[s["variant"]]["acc"]
        if not all(close(a, b) for a, b in zip(s["accuracy"], want)) or len(want) != len(s["accuracy"]):
            sys.exit("curve %s differs from the reference" % s["variant"])
        if not close(s["oc"], ref[s["variant"]]["oc"]):
            sys.exit("curve %s: OC %r, reference %r" % (s["variant"], s["oc"], ref[s["variant"]]["oc"]))
    for png in sys.argv[4:]:
        w, h, _ = plot_check.decode_png(png)
        if w < 200 or h < 120:
            sys.exit("%s: %dx%d" % (png, w, h))
    print("ok %d cells %d series" % (len(heat["cells"]), len(curves["series"])))


main()
