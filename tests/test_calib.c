/* The calibration accumulator and the metrics: binning edges, counts,
 * hand-computed metric values, the notebook's docstring example. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/calib.h"
#include "headcal/metrics.h"
#include <math.h>
#include "helpers.h"

Test(calib, bin_edges_go_up_and_one_is_in_the_last_bin)
{
    cr_assert_eq(hc_calib_bin(0.0f, 4), 0);
    cr_assert_eq(hc_calib_bin(0.25f, 4), 1, "p exactly on an edge belongs to the bin above");
    cr_assert_eq(hc_calib_bin(nextafterf(0.25f, 0), 4), 0);
    cr_assert_eq(hc_calib_bin(0.5f, 4), 2);
    cr_assert_eq(hc_calib_bin(0.75f, 4), 3);
    cr_assert_eq(hc_calib_bin(nextafterf(1.0f, 0), 4), 3);
    cr_assert_eq(hc_calib_bin(1.0f, 4), 3, "p = 1 is in the last (closed) bin");
    cr_assert_eq(hc_calib_bin(1.0f, 40), 39);
    /* 0.3f is slightly above 0.3, so 0.3f * 40 is just above the edge 12;
     * the float below it is just under. */
    cr_assert_eq(hc_calib_bin(0.3f, 40), 12);
    cr_assert_eq(hc_calib_bin(nextafterf(0.3f, 0), 40), 11);
    cr_assert_eq(hc_calib_bin(0.025f * 1, 40), 1);
    /* Rounding noise from a float softmax must not escape the table. */
    cr_assert_eq(hc_calib_bin(nextafterf(1.0f, 2), 40), 39);
    cr_assert_eq(hc_calib_bin(-1e-7f, 40), 0);
    cr_assert_eq(hc_calib_bin(NAN, 40), 0);
}

Test(calib, add_counts_every_event_per_batch)
{
    hc_calib c;
    cr_assert_eq(hc_calib_init(&c, 4, 3, 2), 0);
    const float p1[3] = {1.0f, 0.0f, 0.0f};
    const int32_t id1[3] = {7, 8, 9};
    hc_calib_add(&c, 1, p1, id1, 3, 7, 0.0, 0.0);
    const float p2[3] = {0.5f, 0.25f, 0.125f};
    hc_calib_add(&c, 1, p2, id1, 3, 8, 1.5, 2.0);
    hc_calib_add(&c, 0, p2, id1, 3, 99, 4.0, 1.0);

    const uint64_t *cnt = c.count[HC_BUCKET_COUNT], *cor = c.count[HC_BUCKET_CORRECT];
    /* Batch 0: events at 0.5, 0.25, 0.125 -> bins 2, 1, 0; nothing correct. */
    uint64_t want0[4] = {1, 1, 1, 0};
    for (int b = 0; b < 4; b++) {
        cr_assert_eq(cnt[b], want0[b], "batch 0 bin %d", b);
        cr_assert_eq(cor[b], 0);
    }
    /* Batch 1: bins 3, 0, 0 from p1 and 2, 1, 0 from p2; the target of p1
     * is its top-1 (bin 3), of p2 the second (bin 1). */
    uint64_t want1[4] = {3, 1, 1, 1}, corr1[4] = {0, 1, 0, 1};
    for (int b = 0; b < 4; b++) {
        cr_assert_eq(cnt[4 + b], want1[b], "batch 1 bin %d", b);
        cr_assert_eq(cor[4 + b], corr1[b], "batch 1 bin %d", b);
    }
    /* Top-1 only: p1's 1.0 (correct) in bin 3, p2's 0.5 (wrong) in bin 2. */
    cr_assert_eq(c.count[HC_TOP1_COUNT][4 + 3], 1);
    cr_assert_eq(c.count[HC_TOP1_CORRECT][4 + 3], 1);
    cr_assert_eq(c.count[HC_TOP1_COUNT][4 + 2], 1);
    cr_assert_eq(c.count[HC_TOP1_CORRECT][4 + 2], 0);
    cr_assert_float_eq(c.conf[HC_TOP1_CONF][4 + 3], 1.0, 0);
    cr_assert_float_eq(c.conf[HC_BUCKET_CONF][4 + 0], 0.125, 0);
    cr_assert_eq(c.positions[0], 1);
    cr_assert_eq(c.positions[1], 2);
    cr_assert_float_eq(c.nll[1], 1.5, 0);
    cr_assert_float_eq(c.entropy[0], 1.0, 0);

    /* Merging doubles a batch; resetting it empties only that batch. */
    hc_calib d;
    cr_assert_eq(hc_calib_init(&d, 4, 3, 2), 0);
    cr_assert_eq(hc_calib_merge(&d, &c), 0);
    cr_assert_eq(hc_calib_merge_batch(&d, &c, 1), 0);
    cr_assert_eq(d.count[HC_BUCKET_COUNT][4 + 0], 6);
    cr_assert_eq(d.count[HC_BUCKET_COUNT][0], 1);
    cr_assert_eq(d.positions[1], 4);
    hc_calib_reset_batch(&d, 1);
    cr_assert_eq(d.positions[1], 0);
    cr_assert_eq(d.count[HC_BUCKET_COUNT][4 + 0], 0);
    cr_assert_eq(d.count[HC_BUCKET_COUNT][0], 1);
    hc_calib bad;
    cr_assert_eq(hc_calib_init(&bad, 5, 3, 2), 0);
    cr_assert_eq(hc_calib_merge(&d, &bad), -1, "shapes must agree");
    hc_calib_free(&bad);
    hc_calib_free(&d);
    hc_calib_free(&c);
}

/* Sets one batch of a 4-bin accumulator by hand. */
static void set_batch(hc_calib *c, int b, const uint64_t count[4], const uint64_t correct[4],
                      const uint64_t t1n[4], const uint64_t t1c[4], const double t1conf[4],
                      uint64_t positions, double nll, double entropy)
{
    for (int i = 0; i < 4; i++) {
        c->count[HC_BUCKET_COUNT][b * 4 + i] = count[i];
        c->count[HC_BUCKET_CORRECT][b * 4 + i] = correct[i];
        c->count[HC_TOP1_COUNT][b * 4 + i] = t1n[i];
        c->count[HC_TOP1_CORRECT][b * 4 + i] = t1c[i];
        c->conf[HC_TOP1_CONF][b * 4 + i] = t1conf[i];
    }
    c->positions[b] = positions;
    c->nll[b] = nll;
    c->entropy[b] = entropy;
}

Test(metrics, hand_computed_values)
{
    /* Bins of width 1/4, centres c = .125 .375 .625 .875, x = .5 - c =
     * .375 .125 -.125 -.375.  Baseline acc = - .2 .6 .9 (bin 0 empty):
     * f = -.175 -.025 .025, Σfx = -.028125, Σx² = .171875, OC = -9/55.
     * Ablated acc = - .3 .7 1: f = -.075 .075 .125, Σfx = -.065625,
     * OC = -21/55; ΔOC = -12/55, relative = 21/9 - 1 = 4/3. */
    hc_calib base, abl;
    cr_assert_eq(hc_calib_init(&base, 4, 1, 1), 0);
    cr_assert_eq(hc_calib_init(&abl, 4, 1, 1), 0);
    /* Top-1: acc .25 .5 .9 against mean confidence .3 .6 .95: gaps .05 .1
     * .05, ECE = (4 x .05 + 6 x .1 + 10 x .05) / 20 = .065, MCE = .1. */
    set_batch(&base, 0, (uint64_t[]){0, 10, 20, 10}, (uint64_t[]){0, 2, 12, 9},
              (uint64_t[]){0, 4, 6, 10}, (uint64_t[]){0, 1, 3, 9}, (double[]){0, 1.2, 3.6, 9.5},
              20, 30, 40);
    set_batch(&abl, 0, (uint64_t[]){0, 10, 20, 10}, (uint64_t[]){0, 3, 14, 10},
              (uint64_t[]){0, 4, 6, 10}, (uint64_t[]){0, 1, 3, 9}, (double[]){0, 1.2, 3.6, 9.5},
              20, 50, 40);
    hc_metrics m;
    cr_assert_eq(hc_metrics_compute(&m, &base, NULL, NULL), 0);
    cr_assert_float_eq(m.value[HC_OC], -9.0 / 55, 1e-15);
    cr_assert_float_eq(m.value[HC_ECE], 0.065, 1e-15);
    cr_assert_float_eq(m.value[HC_MCE], 0.1, 1e-15);
    cr_assert_float_eq(m.value[HC_NLL], 1.5, 1e-15);
    cr_assert_float_eq(m.value[HC_ENTROPY], 2.0, 1e-15);
    cr_assert(isnan(m.value[HC_DELTA_OC]), "no baseline, no deltas");
    cr_assert(isnan(m.se[HC_OC]), "one batch has no jackknife");
    cr_assert_eq(m.n_batches, 1);

    cr_assert_eq(hc_metrics_compute(&m, &abl, &base, NULL), 0);
    cr_assert_float_eq(m.value[HC_OC], -21.0 / 55, 1e-15);
    cr_assert_float_eq(m.value[HC_DELTA_OC], -12.0 / 55, 1e-15);
    cr_assert_float_eq(m.value[HC_RELATIVE], 4.0 / 3, 1e-14);
    cr_assert_float_eq(m.value[HC_PAPER], -4.0 / 3, 1e-14);
    cr_assert_float_eq(m.value[HC_DELTA_NLL], 1.0, 1e-15);
    cr_assert_float_eq(m.value[HC_DELTA_ECE], 0.0, 1e-15);
    cr_assert_float_eq(m.value[HC_DELTA_ENTROPY], 0.0, 1e-15);

    hc_calib_sum s;
    cr_assert_eq(hc_calib_sum_init(&s, 4), 0);
    hc_calib_sum_batches(&s, &base, NULL);
    double acc[4], band[4];
    hc_calib_curve(&s, acc, band);
    cr_assert(isnan(acc[0]) && isnan(band[0]), "an empty bin has no accuracy");
    cr_assert_float_eq(acc[2], 0.6, 1e-15);
    cr_assert_float_eq(band[1], sqrt(0.375 * 0.625 / 10), 1e-15);
    cr_assert_float_eq(hc_overconfidence(acc, 4), -9.0 / 55, 1e-15);
    hc_calib_sum_free(&s);
    hc_calib_free(&abl);
    hc_calib_free(&base);
}

Test(metrics, jackknife_of_two_batches)
{
    /* With two batches replicate i is the other batch alone, so
     * SE = sqrt(1/2 Σ (θ_i - θ̄)²) = |θ_0 - θ_1| / 2.  NLL per position:
     * batch 0 = 1, batch 1 = 3, so SE = 1; accuracy in bin 3: 1/2 and 1,
     * OC of a single bin 3 (x = -.375): f/x, so SE(OC) = |Δf / x| / 2. */
    hc_calib c;
    cr_assert_eq(hc_calib_init(&c, 4, 1, 3), 0);
    set_batch(&c, 0, (uint64_t[]){0, 0, 0, 10}, (uint64_t[]){0, 0, 0, 5},
              (uint64_t[]){0, 0, 0, 10}, (uint64_t[]){0, 0, 0, 5}, (double[]){0, 0, 0, 8}, 10, 10, 0);
    set_batch(&c, 2, (uint64_t[]){0, 0, 0, 10}, (uint64_t[]){0, 0, 0, 10},
              (uint64_t[]){0, 0, 0, 10}, (uint64_t[]){0, 0, 0, 10}, (double[]){0, 0, 0, 9}, 10, 30, 0);
    /* Batch 1 is not part of the sample (another shard's). */
    hc_metrics m;
    cr_assert_eq(hc_metrics_compute(&m, &c, &c, (unsigned char[]){1, 0, 1}), 0);
    cr_assert_eq(m.n_batches, 2);
    cr_assert_float_eq(m.value[HC_NLL], 2.0, 1e-15);
    cr_assert_float_eq(m.se[HC_NLL], 1.0, 1e-15);
    cr_assert_float_eq(m.se[HC_OC], (0.5 / 0.375) / 2, 1e-14);
    /* ECE: batch 0 |.5 - .8| = .3, batch 2 |1 - .9| = .1. */
    cr_assert_float_eq(m.se[HC_ECE], 0.1, 1e-14);
    cr_assert_float_eq(m.value[HC_DELTA_OC], 0.0, 0, "a variant against itself");
    cr_assert_float_eq(m.se[HC_DELTA_OC], 0.0, 0);
    cr_assert_float_eq(m.value[HC_PAPER], 0.0, 0);
    hc_calib_free(&c);
}

Test(metrics, undefined_values_are_nan)
{
    hc_calib c;
    cr_assert_eq(hc_calib_init(&c, 3, 1, 2), 0);
    hc_metrics m;
    cr_assert_eq(hc_metrics_compute(&m, &c, &c, NULL), 0);
    for (int k = 0; k < HC_N_METRICS; k++)
        cr_assert(isnan(m.value[k]) && isnan(m.se[k]), "%s of nothing", hc_metric_name(k));
    /* Only the middle bin of 3 is filled: x = 0 there, OC has no slope. */
    float p = 0.5f;
    int32_t id = 1;
    hc_calib_add(&c, 0, &p, &id, 1, 1, 0.7, 0.1);
    hc_calib_add(&c, 1, &p, &id, 1, 2, 0.7, 0.1);
    cr_assert_eq(hc_metrics_compute(&m, &c, &c, NULL), 0);
    cr_assert(isnan(m.value[HC_OC]));
    cr_assert(isnan(m.value[HC_RELATIVE]));
    cr_assert_float_eq(m.value[HC_NLL], 0.7, 1e-15);
    cr_assert_float_eq(m.se[HC_NLL], 0.0, 1e-15);
    /* A baseline with OC exactly 0 has no relative change. */
    hc_calib z;
    cr_assert_eq(hc_calib_init(&z, 2, 1, 1), 0);
    z.count[HC_BUCKET_COUNT][0] = 4;
    z.count[HC_BUCKET_CORRECT][0] = 1;
    cr_assert_eq(hc_metrics_compute(&m, &z, &z, NULL), 0);
    cr_assert_float_eq(m.value[HC_OC], 0.0, 0);
    cr_assert(isnan(m.value[HC_RELATIVE]) && isnan(m.value[HC_PAPER]));
    cr_assert_float_eq(m.value[HC_DELTA_OC], 0.0, 0);
    hc_calib_free(&z);
    hc_calib_free(&c);

    double acc[4] = {NAN, 0.3, NAN, 0.9};
    /* Leaving bins out is the same as fitting over the others only. */
    double num = (0.3 - 0.375) * 0.125 + (0.9 - 0.875) * -0.375, den = 0.125 * 0.125 + 0.375 * 0.375;
    cr_assert_float_eq(hc_overconfidence(acc, 4), num / den, 1e-15);
}

Test(metrics, names_round_trip)
{
    for (int k = 0; k < HC_N_METRICS; k++)
        cr_assert_eq(hc_metric_lookup(hc_metric_name(k)), k);
    cr_assert_eq(hc_metric_lookup("delta_oc"), HC_DELTA_OC);
    cr_assert_eq(hc_metric_lookup("nope"), -1);
    cr_assert_null(hc_metric_name(HC_N_METRICS));
}

/* The notebook's docstring: calculate_overconfidence of
 * sigmoid(linspace(-5, 5, 100)) "-> about -0.7".  Its own formula (docs/design.md's
 * OC) gives -0.316 for that curve, in C and in numpy alike; -0.71 is what
 * the same curve scores when normalised like a correlation,
 * Σfx / sqrt(Σf² Σx²), so the docstring evidently predates the formula.
 * headcal follows the formula. */
Test(metrics, notebook_docstring_sigmoid)
{
    double acc[100];
    for (int i = 0; i < 100; i++)
        acc[i] = 1 / (1 + exp(-(-5 + 10.0 * i / 99)));
    double oc = hc_overconfidence(acc, 100);

    char cmd[8192], *out, *err;
    snprintf(cmd, sizeof cmd, "%s %s --sigmoid", TEST_PYTHON, th_src("tests/ref_metrics.py"));
    cr_assert_eq(th_run(cmd, &out, &err), 0, "ref_metrics.py failed: %s", err);
    cJSON *ref = cJSON_Parse(out);
    cr_assert_not_null(ref, "%s", out);
    double ref_oc = cJSON_GetObjectItem(ref, "oc")->valuedouble;
    double ref_corr = cJSON_GetObjectItem(ref, "corr")->valuedouble;
    cr_assert_float_eq(oc, ref_oc, 1e-12, "C %.17g vs numpy %.17g", oc, ref_oc);
    cr_assert_float_eq(oc, -0.3157, 1e-4, "the value the notebook's formula gives");
    cr_assert(oc < 0, "the steep sigmoid is underconfident, as the docstring says");
    cr_assert_float_eq(ref_corr, -0.7, 0.02, "where the docstring's -0.7 comes from");

    /* numpy's own sigmoid values through the C formula: same number. */
    const cJSON *a = cJSON_GetObjectItem(ref, "acc");
    int i = 0;
    for (const cJSON *it = a->child; it; it = it->next)
        acc[i++] = it->valuedouble;
    cr_assert_eq(i, 100);
    cr_assert_float_eq(hc_overconfidence(acc, 100), ref_oc, 1e-14);
    cJSON_Delete(ref);
    free(out);
    free(err);
}
