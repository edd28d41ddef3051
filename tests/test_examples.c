/* Per-position examples: the keepers against a brute-force sort, the
 * run's lists against every position of the sweep, shards merged into
 * exactly the unsharded run's lists, files without examples, the
 * `headcal examples` command, and a hand-built model whose one mechanism
 * the examples must find. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headcal/analysis.h"
#include "headcal/error.h"
#include "headcal/examples.h"
#include "headcal/results.h"
#include "headcal/sha256.h"
#include "headcal/sweep.h"
#include "helpers.h"

/* ------------------------------------------------------------ keepers */

/* A candidate as the test sees it: Δ and place only. */
typedef struct {
    double d;
    int b, r, p;
} cand;

static int g_up;

/* The documented order, written out independently of examples.c. */
static int cand_cmp(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->d != b->d)
        return (g_up ? a->d < b->d : a->d > b->d) ? 1 : -1;
    if (a->b != b->b)
        return a->b < b->b ? -1 : 1;
    if (a->r != b->r)
        return a->r < b->r ? -1 : 1;
    return a->p < b->p ? -1 : a->p > b->p;
}

/* An example whose logprob Δ is d and whose confidence Δ is -d. */
static hc_example make(double d, int b, int r, int p)
{
    hc_example e = {.batch = b, .row = r, .pos = p, .target = 1, .lp_before = -2.0, .lp_after = -2.0 + d, .k = 1};
    e.p_before[0] = 0.5f;
    e.p_after[0] = (float)(0.5 - d);
    return e;
}

static void assert_list_is(const hc_example_list *l, int list, cand *all, int n_all, int n)
{
    cand *keep = malloc((size_t)n_all * sizeof *keep);
    int m = 0, up = list == HC_EX_LOGPROB_UP || list == HC_EX_CONF_UP;
    for (int i = 0; i < n_all; i++) {
        double d = list < HC_EX_CONF_UP ? all[i].d : (double)(float)(0.5 - all[i].d) - 0.5;
        if (up ? d > 0 : d < 0)
            keep[m++] = (cand){d, all[i].b, all[i].r, all[i].p};
    }
    g_up = up;
    qsort(keep, (size_t)m, sizeof *keep, cand_cmp);
    int want = m < n ? m : n;
    cr_assert_eq(l->len, want, "list %d: %d kept, want %d", list, l->len, want);
    for (int i = 0; i < want; i++) {
        const hc_example *e = &l->v[i];
        cr_assert(e->batch == keep[i].b && e->row == keep[i].r && e->pos == keep[i].p &&
                      hc_example_delta(e, list) == keep[i].d,
                  "list %d [%d]: (%d,%d,%d) Δ %g, want (%d,%d,%d) Δ %g", list, i, e->batch, e->row, e->pos,
                  hc_example_delta(e, list), keep[i].b, keep[i].r, keep[i].p, keep[i].d);
    }
    free(keep);
}

Test(examples, keepers_equal_a_full_sort_and_shards_merge_exactly)
{
    enum { N_ALL = 600, N = 7, SHARDS = 3 };
    cand all[N_ALL];
    uint64_t s = 12345;
    /* few distinct Δ (many ties, zeros among them) over 6 batches */
    for (int i = 0; i < N_ALL; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        all[i] = (cand){((int)(s >> 60) - 7) * 0.25, (int)((s >> 40) % 6), (int)((s >> 30) % 4), i};
    }
    hc_examples one = {0}, shard[SHARDS];
    memset(shard, 0, sizeof shard);
    /* offered in a scrambled order: the order of arrival must not matter */
    for (int j = 0; j < N_ALL; j++) {
        int i = (j * 7919) % N_ALL;
        hc_example e = make(all[i].d, all[i].b, all[i].r, all[i].p);
        cr_assert_eq(hc_examples_offer(&one, N, &e), 0);
        cr_assert_eq(hc_examples_offer(&shard[all[i].b % SHARDS], N, &e), 0);
    }
    for (int l = 0; l < HC_EX_LISTS; l++)
        assert_list_is(&one.list[l], l, all, N_ALL, N);
    hc_examples merged = {0};
    for (int k = SHARDS - 1; k >= 0; k--)
        cr_assert_eq(hc_examples_merge(&merged, &shard[k], N), 0);
    for (int l = 0; l < HC_EX_LISTS; l++)
        assert_list_is(&merged.list[l], l, all, N_ALL, N);
    hc_examples_free(&one);
    hc_examples_free(&merged);
    for (int k = 0; k < SHARDS; k++)
        hc_examples_free(&shard[k]);
}

/* ------------------------------------------------------------ runs */

static char *dir;

static void setup(void)
{
    dir = th_tmpdir("examples");
    th_small_run(dir, 7);
}

static int run(const char *args, char **err)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "%s run --model %s/m --data %s/d.jsonl --batch-size 4 --batches 6 --seq-len 16 --quiet --examples 5 %s",
             th_headcal(), dir, dir, args);
    return th_run(cmd, NULL, err);
}

static void read_results(const char *name, hc_results *r)
{
    char p[4300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(hc_results_read(r, p), 0, "%s: %s", name, hc_errmsg());
}

static int same_example(const hc_example *a, const hc_example *b)
{
    if (a->batch != b->batch || a->row != b->row || a->pos != b->pos || a->target != b->target ||
        a->lp_before != b->lp_before || a->lp_after != b->lp_after || a->k != b->k)
        return 0;
    for (int j = 0; j < a->k; j++)
        if (a->id_before[j] != b->id_before[j] || a->id_after[j] != b->id_after[j] ||
            a->p_before[j] != b->p_before[j] || a->p_after[j] != b->p_after[j])
            return 0;
    return 1;
}

static void assert_same_examples(const hc_results *a, const hc_results *b)
{
    cr_assert_eq(a->params.examples, b->params.examples);
    int nonempty = 0;
    for (int v = 0; v < a->n_variants; v++) {
        const hc_examples *x = &a->variants[v].examples,
                          *y = &b->variants[hc_results_find(b, a->variants[v].id)].examples;
        for (int l = 0; l < HC_EX_LISTS; l++) {
            cr_assert_eq(x->list[l].len, y->list[l].len, "%s %s", a->variants[v].id, hc_example_list_names[l]);
            for (int i = 0; i < x->list[l].len; i++)
                cr_assert(same_example(&x->list[l].v[i], &y->list[l].v[i]), "%s %s[%d]", a->variants[v].id,
                          hc_example_list_names[l], i);
            nonempty += x->list[l].len > 0;
        }
    }
    cr_assert_gt(nonempty, 8, "too few examples to compare");
}

Test(examples, shards_merge_into_the_unsharded_examples, .init = setup, .timeout = 300)
{
    char *err, args[8192];
    snprintf(args, sizeof args, "--mlp --sets 0.1+L1H0 --out %s/full.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    for (int i = 0; i < 3; i++) {
        snprintf(args, sizeof args, "--mlp --sets 0.1+L1H0 --shard %d/3 --threads 2 --out %s/s%d.json", i, dir, i);
        cr_assert_eq(run(args, &err), 0, "%s", err);
        free(err);
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s merge --out %s/merged.json %s/s1.json %s/s2.json %s/s0.json", th_headcal(), dir,
             dir, dir, dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    hc_results full, merged;
    read_results("full.json", &full);
    read_results("merged.json", &merged);
    assert_same_examples(&full, &merged);
    /* merged twice over: the same file as the unsharded run's */
    snprintf(cmd, sizeof cmd, "cmp %s/full.json %s/merged.json", dir, dir);
    cr_assert_eq(th_run(cmd, NULL, NULL), 0, "the merged file differs from the unsharded one");
    hc_results_free(&full);
    hc_results_free(&merged);
}

/* The lists equal the N best of every (variant, position) of the sweep,
 * each computed here from the sweep's raw output and sorted by the test's
 * own comparison. */
Test(examples, lists_are_the_best_of_every_position, .init = setup, .timeout = 300)
{
    char *err, args[8192];
    snprintf(args, sizeof args, "--mlp --out %s/full.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);
    hc_results r;
    read_results("full.json", &r);
    char mdir[4300], data[4300];
    snprintf(mdir, sizeof mdir, "%s/m", dir);
    snprintf(data, sizeof data, "%s/d.jsonl", dir);
    hc_model m;
    hc_tokenizer *tk;
    hc_dataset *ds;
    cr_assert_eq(hc_model_load(&m, mdir), 0);
    hc_model_process(&m);
    cr_assert_eq(hc_tokenizer_load_dir(&tk, mdir), 0);
    cr_assert_eq(hc_analysis_reopen_data(&r, NULL, &m.cfg, tk, &ds), 0, "%s", hc_errmsg());
    hc_variant_spec *specs = calloc((size_t)r.n_variants, sizeof *specs);
    for (int v = 0; v < r.n_variants; v++)
        specs[v] = (hc_variant_spec){r.variants[v].n_members, r.variants[v].members};
    hc_sweep *sw;
    hc_sweep_opts so = {.top_k = r.params.top_k, .threads = 1};
    cr_assert_eq(hc_sweep_new(&sw, &m, specs, r.n_variants, &so), 0);
    /* every candidate of every variant and list */
    int cap = 4096, n = 0;
    struct {
        int v, l;
        cand c;
    } *all = malloc((size_t)cap * sizeof *all);
    for (int b = 0; b < r.params.batches; b++) {
        hc_batch bt;
        hc_sweep_out out;
        cr_assert_eq(hc_dataset_batch(ds, b, &bt), 0);
        cr_assert_eq(hc_sweep_batch(sw, bt.tokens, bt.lens, bt.rows, bt.cols, &out), 0);
        for (int v = 1; v < r.n_variants; v++)
            for (int i = 0; i < out.n_pos; i++) {
                size_t ob = (size_t)i, ov = (size_t)v * out.n_pos + i;
                double d[2] = {-out.nll[ov] - -out.nll[ob],
                               (double)out.topk_p[ov * out.k] - (double)out.topk_p[ob * out.k]};
                for (int l = 0; l < HC_EX_LISTS; l++) {
                    double x = d[l / 2];
                    if (l % 2 == 0 ? x > 0 : x < 0) {
                        if (n == cap)
                            all = realloc(all, (size_t)(cap *= 2) * sizeof *all);
                        all[n].v = v;
                        all[n].l = l;
                        all[n++].c = (cand){x, b, out.row[i], out.pos[i]};
                    }
                }
            }
        hc_sweep_out_free(&out);
        hc_batch_free(&bt);
    }
    cand *sel = malloc((size_t)n * sizeof *sel);
    for (int v = 1; v < r.n_variants; v++)
        for (int l = 0; l < HC_EX_LISTS; l++) {
            int k = 0;
            for (int i = 0; i < n; i++)
                if (all[i].v == v && all[i].l == l)
                    sel[k++] = all[i].c;
            g_up = l % 2 == 0;
            qsort(sel, (size_t)k, sizeof *sel, cand_cmp);
            const hc_example_list *got = &r.variants[v].examples.list[l];
            cr_assert_eq(got->len, k < 5 ? k : 5, "%s %s", r.variants[v].id, hc_example_list_names[l]);
            for (int i = 0; i < got->len; i++)
                cr_assert(got->v[i].batch == sel[i].b && got->v[i].row == sel[i].r && got->v[i].pos == sel[i].p &&
                              hc_example_delta(&got->v[i], l) == sel[i].d,
                          "%s %s[%d]", r.variants[v].id, hc_example_list_names[l], i);
        }
    free(sel);
    free(all);
    free(specs);
    hc_sweep_free(sw);
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_model_free(&m);
    hc_results_free(&r);
}

/* Drops every "examples" field (params and variants), as files written
 * before examples were kept are. */
static void strip_examples(const char *in, const char *out)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd,
             "%s -c \"import json,sys; d=json.load(open(sys.argv[1])); d['params'].pop('examples'); "
             "d['data'].pop('min_len'); [v.pop('examples', None) for v in d['variants']]; "
             "json.dump(d, open(sys.argv[2], 'w'), indent=1)\" '%s' '%s'",
             TEST_PYTHON, in, out);
    char *err;
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
}

static void assert_one_line(const char *err, const char *has)
{
    cr_assert(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
    cr_assert(strstr(err, has), "'%s' lacks '%s'", err, has);
}

Test(examples, cli_prints_context_and_refuses_what_it_cannot_show, .init = setup, .timeout = 300)
{
    char *err, *out, args[8192], cmd[16384];
    snprintf(args, sizeof args, "--out %s/r.json", dir);
    cr_assert_eq(run(args, &err), 0, "%s", err);
    free(err);

    /* JSON lines: each example's tokens are those `headcal data` shows */
    snprintf(cmd, sizeof cmd, "%s examples %s/r.json --head 1.1 --direction up --format json --context 4", th_headcal(),
             dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    free(err);
    char *data;
    snprintf(cmd, sizeof cmd,
             "%s data --model %s/m --data %s/d.jsonl --batch-size 4 --batches 6 --seq-len 16 --format jsonl",
             th_headcal(), dir, dir);
    cr_assert_eq(th_run(cmd, &data, NULL), 0);
    char check[65536];
    snprintf(check, sizeof check,
             "%s -c \"import json,sys\n"
             "rows=[json.loads(l) for l in open(sys.argv[1])]\n"
             "ex=[json.loads(l) for l in open(sys.argv[2])]\n"
             "assert len(ex)==5, len(ex)\n"
             "for e in ex:\n"
             "  seq=rows[e['batch']*4+e['row']]['tokens']\n"
             "  assert e['token']==seq[e['position']] and e['target']==seq[e['position']+1], e\n"
             "  assert e['delta']>0 and e['variant']=='L1H1' and e['list']=='logprob_up'\n"
             "  assert len(e['top_before'])==5 and len(e['top_after'])==5\n"
             "\" '%s/data.jsonl' '%s/ex.jsonl'",
             TEST_PYTHON, dir, dir);
    char p[4300];
    snprintf(p, sizeof p, "%s/data.jsonl", dir);
    th_write_file(p, data, strlen(data));
    snprintf(p, sizeof p, "%s/ex.jsonl", dir);
    th_write_file(p, out, strlen(out));
    cr_assert_eq(th_run(check, NULL, &err), 0, "%s", err);
    free(err), free(out), free(data);

    /* text: a header, then per example its context with the token marked */
    snprintf(cmd, sizeof cmd, "%s examples %s/r.json --variant L0H0 --kind confidence --n 2", th_headcal(), dir);
    cr_assert_eq(th_run(cmd, &out, &err), 0, "%s", err);
    cr_assert(strstr(out, "L0H0  confidence_down: 2 of") && strstr(out, "#2  batch ") && strstr(out, "[[") &&
                  strstr(out, "    after    "),
              "%s", out);
    free(err), free(out);

    /* refusals: one line each */
    const struct {
        const char *args;
        int status;
        const char *says;
    } bad[] = {
        {"--head 7.0", 1, "no variant L7H0"},
        {"--head 1.1 --kind entropy", 2, "--kind"},
        {"--head 1.1 --direction sideways", 2, "--direction"},
        {"--head 1.1 --data /nonexistent.jsonl", 1, "not readable"},
        {"--variant baseline", 2, "baseline"},
        {"", 2, "--head"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s examples %s/r.json %s", th_headcal(), dir, bad[i].args);
        cr_assert_eq(th_run(cmd, NULL, &err), bad[i].status, "%s: %s", bad[i].args, err);
        assert_one_line(err, bad[i].says);
        free(err);
    }
    /* the recorded data, edited: its hash no longer matches */
    snprintf(cmd, sizeof cmd, "sed -i 's/cat/dog/' %s/d.jsonl && %s examples %s/r.json --head 1.1", dir,
             th_headcal(), dir);
    cr_assert_eq(th_run(cmd, NULL, &err), 1, "%s", err);
    assert_one_line(err, "sha256 differs");
    free(err);

    /* a file from before examples: read fine, and the command says so */
    char in[4300], old[4300];
    snprintf(in, sizeof in, "%s/r.json", dir);
    snprintf(old, sizeof old, "%s/old.json", dir);
    strip_examples(in, old);
    hc_results r;
    cr_assert_eq(hc_results_read(&r, old), 0, "%s", hc_errmsg());
    cr_assert_eq(r.params.examples, 0);
    cr_assert_eq(r.variants[1].examples.list[0].len, 0);
    hc_results_free(&r);
    snprintf(cmd, sizeof cmd, "%s examples %s --head 1.1", th_headcal(), old);
    cr_assert_eq(th_run(cmd, NULL, &err), 1, "%s", err);
    assert_one_line(err, "kept no examples");
    free(err);
}

/* Text whose characters GPT-2's byte-level tokens often split (three
 * bytes of UTF-8, two or three tokens): a context shortened to its last
 * few tokens then starts inside a character.  The text output drops that
 * tail after its "...".  The check rebuilds every context from the run's
 * tokens (`headcal data`), their bytes (`headcal detokenize`) and Python's
 * UTF-8 decoder. */
Test(examples, a_shortened_context_starts_at_a_whole_character, .timeout = 300)
{
    char *d = th_tmpdir("examples-utf8"), cmd[16384], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m --layers 1 --heads 2 --d-model 16 --n-ctx 32 --seed 3",
             th_headcal(), d);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "%s/d.jsonl", d);
    FILE *f = fopen(cmd, "w");
    cr_assert_not_null(f);
    static const char *const words[] = {"\u6821\u6b63", "\u6a21\u578b", "\u6ce8\u610f\u529b", "\u5934",
                                        "\u8bcd\u8868", "\u9884\u6d4b"};
    for (int doc = 0; doc < 12; doc++) {
        fputs("{\"text\": \"", f);
        for (int w = 0; w < 12; w++)
            fputs(words[(doc * 5 + w * 7) % 6], f);
        fputs("\"}\n", f);
    }
    cr_assert_eq(fclose(f), 0);
    const char *batching = "--batch-size 4 --batches 3 --seq-len 24";
    snprintf(cmd, sizeof cmd,
             "%s run --model %s/m --data %s/d.jsonl %s --quiet --examples 20 --out %s/r.json", th_headcal(), d, d,
             batching, d);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    char check[16384];
    snprintf(check, sizeof check,
             "%s -c \"import json,subprocess,sys\n"
             "h,d,batching=sys.argv[1:4]\n"
             "def out(a,inp=None): return subprocess.run(a,input=inp,capture_output=True,check=True).stdout\n"
             "rows=[json.loads(l)['tokens'] for l in out([h,'data','--model',d+'/m','--data',d+'/d.jsonl']+batching.split()+['--format','jsonl']).splitlines()]\n"
             "cut=0\n"
             "for ctx in (1,2,3):\n"
             "  for way in ('down','up'):\n"
             "    a=[h,'examples',d+'/r.json','--variant','L0H0','--direction',way,'--context',str(ctx)]\n"
             "    js=[json.loads(l) for l in out(a+['--format','json']).splitlines()]\n"
             "    tx=[l.split(b'context  \\\"',1)[1].rsplit(b'[[',1)[0].decode() for l in out(a).splitlines() if l.startswith(b'    context  ')]\n"
             "    assert len(js)==len(tx)>0, (len(js),len(tx))\n"
             "    for e,t in zip(js,tx):\n"
             "      p=e['position']; lo=max(0,p-ctx)\n"
             "      raw=out([h,'detokenize','--model',d+'/m'],' '.join(map(str,rows[e['batch']*4+e['row']][lo:p])).encode())\n"
             "      n=0\n"
             "      while lo>0 and n<min(3,len(raw)) and raw[n]&0xC0==0x80: n+=1\n"
             "      cut+=n>0\n"
             "      want=('...' if lo>0 else '')+raw[n:].decode('utf-8','replace')\n"
             "      assert json.loads(chr(34)+t+chr(34))==want, (ctx,way,t,want,raw)\n"
             "assert cut>0, 'no context started inside a character'\n"
             "print('cut',cut)\n"
             "\" '%s' '%s' '%s'",
             TEST_PYTHON, th_headcal(), d, batching);
    char *out = NULL;
    cr_assert_eq(th_run(check, &out, &err), 0, "%s%s", out, err);
    cr_assert(strstr(out, "cut "), "%s", out);
    free(out), free(err), free(d);
}

Test(examples, edited_lists_are_refused)
{
    char *d = th_tmpdir("examples_bad");
    char cmd[16384], path[4300], *err;
    snprintf(cmd, sizeof cmd, "%s synth --out %s/m --layers 1 --heads 2 --d-model 8 --n-ctx 16 --seed 3 && "
             "printf '{\"tokens\": [1,2,3,4,5,6,7,8,9]}\\n{\"tokens\": [9,8,7,6,5,4,3,2,1]}\\n' > %s/d.jsonl && "
             "%s run --model %s/m --data %s/d.jsonl --batch-size 1 --batches 2 --seq-len 10 --quiet --examples 3 "
             "--out %s/r.json",
             th_headcal(), d, d, th_headcal(), d, d, d);
    cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
    free(err);
    const struct {
        const char *edit, *says;
    } bad[] = {
        {"l=d['variants'][1]['examples']['logprob_up']+d['variants'][1]['examples']['logprob_down']; "
         "d['variants'][1]['examples']['logprob_up']=l[::-1]",
         "examples.logprob_up"},
        {"d['variants'][1]['examples']['confidence_down'][0]['batch']=5", "not a completed batch"},
        {"d['variants'][2]['examples']['logprob_down'][0]['position']=9", "not scored"},
        {"d['params']['examples']=1", "but the run keeps 1"},
        {"d['variants'][1].pop('examples')", "examples: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import json; d=json.load(open('%s/r.json')); %s; json.dump(d, open('%s/bad.json', 'w'))\"",
                 TEST_PYTHON, d, bad[i].edit, d);
        cr_assert_eq(th_run(cmd, NULL, &err), 0, "%s", err);
        free(err);
        hc_results r;
        snprintf(path, sizeof path, "%s/bad.json", d);
        cr_assert_neq(hc_results_read(&r, path), 0, "edit %zu was accepted", i);
        cr_assert(strstr(hc_errmsg(), bad[i].says), "edit %zu: '%s' lacks '%s'", i, hc_errmsg(), bad[i].says);
    }
    free(d);
}

/* ------------------------------------------------------------ mechanism */

/* A model built by hand with one mechanism: head 0.0 attends to the
 * previous position and writes that token's identity where the
 * unembedding reads it, so the model predicts "the token before this one
 * comes next".  Residual dimensions: [0, 32) the current token (one-hot),
 * [32, 64) the position (one-hot), [64, 96) the output the unembedding
 * reads (token i at 64 + i).
 *   head 0.0  Q: position t -> query dim t; K: position s -> key dim s+1,
 *             so query t meets key t-1 only (score ≈ 23 against ≈ 0);
 *             V: token i -> value dim i; O: value dim i -> output dim 64+i.
 *   heads 0.1, 0.2  no query or key (uniform attention over the prefix),
 *             the same values, and O writing a small fixed scramble into
 *             the output dims: weak, diffuse effects.
 *   MLP0 is zero; W_U reads output dim 64+i into logit i.
 * The mechanism fires at position t >= 1 when token t+1 equals token t-1:
 * there removing head 0.0 must lower log p(next token), and everywhere
 * else (the boosted token is not the next one) it must raise it. */
enum { MV = 32, MBOS = 31, MD = 96, MS = 24, MB = 4, MBATCHES = 3 };

static void build_copy_model(hc_model *m)
{
    hc_config c = {.n_layer = 1, .n_head = 3, .d_model = MD, .d_head = 32, .d_mlp = 4 * MD, .n_ctx = 32,
                   .d_vocab = MV, .ln_eps = 1e-5f, .bos = MBOS};
    cr_assert_eq(hc_model_alloc(m, &c), 0, "%s", hc_errmsg());
    hc_params *p = &m->p;
    for (int i = 0; i < MD; i++)
        p->ln1_w[i] = p->ln2_w[i] = p->lnf_w[i] = 1.0f;
    for (int i = 0; i < MV; i++)
        p->w_e[i * MD + i] = 1.0f;
    for (int t = 0; t < c.n_ctx; t++)
        p->w_pos[t * MD + 32 + t] = 1.0f;
    const int Q = 0, K = MD, V = 2 * MD, W = 3 * MD; /* columns of w_qkv, row stride W */
    for (int t = 0; t < c.n_ctx; t++) {
        p->w_qkv[(32 + t) * W + Q + t] = 2.0f;
        p->w_qkv[(32 + t) * W + K + (t + 1) % 32] = 2.0f;
    }
    for (int h = 0; h < 3; h++)
        for (int i = 0; i < MV; i++)
            p->w_qkv[i * W + V + 32 * h + i] = 1.0f;
    for (int i = 0; i < 32; i++) {
        p->w_o[i * MD + 64 + i] = 1.0f;
        p->w_o[(32 + i) * MD + 64 + (i * 7 + 3) % 32] = 0.08f;
        p->w_o[(64 + i) * MD + 64 + (i * 11 + 5) % 32] = -0.05f;
        p->w_u[(64 + i) * MV + i] = 0.6f;
    }
}

Test(examples, a_hand_built_previous_token_head_is_found, .timeout = 120)
{
    char *d = th_tmpdir("examples_mech");
    char path[4300];
    snprintf(path, sizeof path, "%s/d.jsonl", d);
    /* 12 documents of 23 tokens from 0..30: about one position in four
     * repeats the token two back (the mechanism fires), the rest never do */
    int docs[MB * MBATCHES][MS], fires = 0;
    unsigned char fired[MB * MBATCHES][MS] = {{0}};
    uint64_t s = 2024;
    FILE *f = fopen(path, "w");
    for (int i = 0; i < MB * MBATCHES; i++) {
        docs[i][0] = MBOS;
        fputs("{\"tokens\": [", f);
        for (int t = 1; t < MS; t++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            int tok = (int)((s >> 33) % 31);
            if (t >= 3 && (s >> 20) % 4 == 0)
                tok = docs[i][t - 2];
            else
                while (t >= 2 && tok == docs[i][t - 2])
                    tok = (tok + 1) % 31;
            docs[i][t] = tok;
            if (t >= 2 && tok == docs[i][t - 2]) {
                fired[i][t - 1] = 1; /* the prediction made at t-1 */
                fires++;
            }
            fprintf(f, t > 1 ? ", %d" : "%d", tok);
        }
        fputs("]}\n", f);
    }
    fclose(f);
    cr_assert_gt(fires, 20);

    hc_model m;
    build_copy_model(&m);
    hc_model_process(&m);
    hc_dataset *ds;
    hc_dataset_opts dopt = {.batch_size = MB, .n_batches = MBATCHES, .seq_len = MS, .bos = MBOS, .vocab_size = MV};
    cr_assert_eq(hc_dataset_open(&ds, path, &dopt), 0, "%s", hc_errmsg());
    hc_results_model rm = {.n_layers = 1, .n_heads = 3, .d_model = MD, .d_vocab = MV};
    hc_results_data rd = {.shuffle_seed = -1};
    hc_results_params rp = {.batch_size = MB, .batches = MBATCHES, .seq_len = MS, .top_k = 5, .bins = 10,
                            .shard_count = 1, .examples = 1000};
    hc_sha256_buf("hand-built", 10, rm.sha256);
    cr_assert_eq(hc_analysis_data_sha256(ds, rd.sha256), 0);
    hc_results r;
    cr_assert_eq(hc_results_init(&r, &rm, &rd, &rp), 0, "%s", hc_errmsg());
    cr_assert_eq(hc_analysis_variants(&r, "all", 1, NULL), 0, "%s", hc_errmsg());
    hc_analysis a = {.model = &m, .ds = ds, .sweep = {.top_k = 5, .threads = 1}};
    cr_assert_eq(hc_analysis_run(&a, &r), 0, "%s", hc_errmsg());

    /* the head's logprob_down examples are exactly the firing positions,
     * and its logprob_up examples exactly all the others */
    const hc_examples *ex = &r.variants[hc_results_find(&r, "L0H0")].examples;
    const hc_example_list *down = &ex->list[HC_EX_LOGPROB_DOWN], *up = &ex->list[HC_EX_LOGPROB_UP];
    cr_assert_eq(down->len, fires, "%d examples, %d firing positions", down->len, fires);
    for (int i = 0; i < down->len; i++) {
        const hc_example *e = &down->v[i];
        cr_assert(fired[e->batch * MB + e->row][e->pos], "(%d,%d,%d) is not a firing position", e->batch, e->row,
                  e->pos);
        cr_assert_eq(e->target, docs[e->batch * MB + e->row][e->pos - 1], "the target is the copied token");
        cr_assert_eq(e->id_before[0], e->target, "the full model predicts the copy");
        cr_assert_lt(hc_example_delta(e, HC_EX_LOGPROB_DOWN), -1.0);
    }
    cr_assert_eq(up->len, MB * MBATCHES * (MS - 1) - fires);
    for (int i = 0; i < up->len; i++)
        cr_assert(!fired[up->v[i].batch * MB + up->v[i].row][up->v[i].pos]);

    /* and its calibration effect is the largest of every component */
    hc_metrics mh, mo;
    cr_assert_eq(hc_results_metrics(&r, hc_results_find(&r, "L0H0"), &mh), 0);
    const int metric[] = {HC_DELTA_ECE, HC_DELTA_NLL, HC_DELTA_OC};
    for (int v = 1; v < r.n_variants; v++) {
        if (!strcmp(r.variants[v].id, "L0H0"))
            continue;
        cr_assert_eq(hc_results_metrics(&r, v, &mo), 0);
        for (size_t k = 0; k < sizeof metric / sizeof metric[0]; k++)
            cr_assert_gt(fabs(mh.value[metric[k]]), fabs(mo.value[metric[k]]), "%s beats L0H0 on %s: %g vs %g",
                         r.variants[v].id, hc_metric_name(metric[k]), mo.value[metric[k]], mh.value[metric[k]]);
    }
    hc_results_free(&r);
    hc_dataset_free(ds);
    hc_model_free(&m);
    free(d);
}
