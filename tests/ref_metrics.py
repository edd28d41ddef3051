#!/usr/bin/env python3
"""Independent numpy reference for headcal's metrics (docs/design.md, "Metrics").

  ref_metrics.py RESULTS.json   recomputes every variant's metrics and their
                                jackknife standard errors from the per-batch
                                counts of a headcal-results/1 file; prints JSON
                                {id: {"oc": .., "oc_se": .., ..., "acc": [..]}}
  ref_metrics.py --sigmoid      the notebook's calculate_overconfidence of the
                                docstring's sigmoid curve, written as in the
                                notebook (all bins), and the same curve scored
                                with a correlation-style normalisation

Undefined values are printed as null.
"""
import json
import sys

import numpy as np


def centres(n):
    return (np.arange(n) + 0.5) / n


def overconfidence(count, correct):
    n = len(count)
    keep = count > 0
    if not keep.any():
        return np.nan
    f = correct[keep] / count[keep] - centres(n)[keep]
    x = 0.5 - centres(n)[keep]
    den = np.sum(x * x)
    return np.sum(f * x) / den if den > 0 else np.nan


def own_metrics(t):
    """oc, ece, mce, nll, entropy of summed tables t."""
    n1 = t["top1_count"]
    keep = n1 > 0
    if keep.any():
        gap = np.abs(t["top1_correct"][keep] / n1[keep] - t["top1_conf"][keep] / n1[keep])
        ece = np.sum(n1[keep] * gap) / np.sum(n1[keep])
        mce = np.max(gap)
    else:
        ece = mce = np.nan
    pos = t["positions"]
    return {
        "oc": overconfidence(t["bucket_count"], t["bucket_correct"]),
        "ece": ece,
        "mce": mce,
        "nll": t["nll_sum"] / pos if pos else np.nan,
        "entropy": t["entropy_sum"] / pos if pos else np.nan,
    }


def all_metrics(v, b):
    m = own_metrics(v)
    base = own_metrics(b)
    ratio = m["oc"] / base["oc"] if base["oc"] != 0 else np.nan
    m["delta_oc"] = m["oc"] - base["oc"]
    m["relative"] = ratio - 1
    m["paper"] = -(ratio - 1)
    for k in ("ece", "nll", "entropy"):
        m["delta_" + k] = m[k] - base[k]
    return m


def summed(per_batch, positions, rows):
    t = {k: np.asarray(per_batch[k], dtype=np.float64)[rows].sum(axis=0)
         for k in ("bucket_count", "bucket_correct", "bucket_conf",
                   "top1_count", "top1_correct", "top1_conf", "nll_sum", "entropy_sum")}
    t["positions"] = np.asarray(positions, dtype=np.float64)[rows].sum()
    return t


def clean(x):
    x = float(x)
    return None if np.isnan(x) or np.isinf(x) else x


def results(path):
    with open(path) as f:
        r = json.load(f)
    n = len(r["completed_batches"])
    pos = r["batch_positions"]
    base = next(v for v in r["variants"] if v["kind"] == "baseline")
    out = {}
    for v in r["variants"]:
        every = np.arange(n)
        point = all_metrics(summed(v["per_batch"], pos, every), summed(base["per_batch"], pos, every))
        reps = [all_metrics(summed(v["per_batch"], pos, np.delete(every, i)),
                            summed(base["per_batch"], pos, np.delete(every, i))) for i in range(n)]
        res = {}
        for k, val in point.items():
            res[k] = clean(val)
            th = np.array([rep[k] for rep in reps], dtype=np.float64)
            se = np.sqrt((n - 1) / n * np.sum((th - th.mean()) ** 2)) if n >= 2 else np.nan
            res[k + "_se"] = clean(se)
        t = summed(v["per_batch"], pos, every)
        with np.errstate(invalid="ignore", divide="ignore"):
            res["acc"] = [clean(a) for a in t["bucket_correct"] / t["bucket_count"]]
        out[v["id"]] = res
    return out


def sigmoid():
    # The notebook: underconfident_sigmoid = t.linspace(-5, 5, 100).sigmoid()
    acc = 1 / (1 + np.exp(-np.linspace(-5, 5, 100)))
    c = centres(100)
    f, x = acc - c, np.full(100, 0.5) - c
    return {"acc": acc.tolist(),
            "oc": float((f * x).sum() / (x * x).sum()),
            "corr": float((f * x).sum() / np.sqrt((f * f).sum() * (x * x).sum()))}


if __name__ == "__main__":
    json.dump(sigmoid() if sys.argv[1] == "--sigmoid" else results(sys.argv[1]), sys.stdout)
