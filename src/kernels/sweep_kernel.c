#include <float.h>
#include <math.h>

#include "sweep_kernel.h"

void hck_rows_init(hck_row *rows, float *tk, int32_t *ti, int n, int k)
{
    for (int i = 0; i < n; i++) {
        rows[i] = (hck_row){.m = -FLT_MAX};
        for (int j = 0; j < k; j++) {
            tk[i * k + j] = -FLT_MAX;
            ti[i * k + j] = -1;
        }
    }
}

void hck_topk_insert(float *tk, int32_t *ti, int k, float v, int32_t id)
{
    int j = k - 1;
    while (j > 0 && tk[j - 1] < v) {
        tk[j] = tk[j - 1];
        ti[j] = ti[j - 1];
        j--;
    }
    tk[j] = v;
    ti[j] = id;
}

void hck_update(const float *x, int T, int vt, int v0, const int32_t *target, hck_row *rows, float *tk,
                int32_t *ti, int k)
{
    for (int t = 0; t < T; t++) {
        const float *row = x + (long)t * vt;
        hck_row *r = &rows[t];
        float mx = row[0];
        for (int i = 1; i < vt; i++)
            mx = row[i] > mx ? row[i] : mx;
        if (mx > r->m) {
            /* re-base s and w on the new max: w is relative to m */
            if (r->s > 0) {
                double f = exp((double)r->m - mx);
                r->w = f * (r->w + ((double)r->m - mx) * r->s);
                r->s *= f;
            }
            r->m = mx;
        }
        /* Per-tile sums in float lanes (a tile is at most a few thousand
         * terms), folded into double across tiles. */
        const float m = r->m;
        float s = 0, w = 0;
        for (int i = 0; i < vt; i++) {
            float d = row[i] - m, e = expf(d);
            s += e;
            w += e * d;
        }
        r->s += s;
        r->w += w;
        int tg = target[t] - v0;
        if (tg >= 0 && tg < vt)
            r->target_logit = row[tg];
        float *k_t = tk + (long)t * k;
        int32_t *i_t = ti + (long)t * k;
        if (mx > k_t[k - 1])
            for (int i = 0; i < vt; i++)
                if (row[i] > k_t[k - 1])
                    hck_topk_insert(k_t, i_t, k, row[i], v0 + i);
    }
}

void hck_finish(const hck_row *r, const float *tk, int k, float *topk_p, double *nll, double *entropy)
{
    double lse = (double)r->m + log(r->s);
    *nll = lse - r->target_logit;
    *entropy = log(r->s) - r->w / r->s;
    for (int j = 0; j < k; j++)
        topk_p[j] = (float)exp((double)tk[j] - lse);
}
