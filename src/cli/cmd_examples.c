/* headcal examples: the positions where removing one component changed
 * the prediction most, with the text around them, read back from a results
 * file and the data the run measured. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "headcal/analysis.h"
#include "headcal/error.h"
#include "headcal/examples.h"
#include "headcal/fileio.h"
#include "headcal/results.h"
#include "headcal/tokenizer.h"

typedef struct {
    const char *variant, *model, *data;
    int list_kind;     /* 0 logprob, 2 confidence: offsets into HC_EX_* */
    int down;
    int n, context;
    int json;
} ex_opts;

/* A token's text between quotes, escaped as a JSON string's inside. */
static void put_token(FILE *f, const hc_tokenizer *tk, int32_t id)
{
    fputc('"', f);
    hc_put_tokens_text(f, tk, &id, 1, 0);
    fputc('"', f);
}

static void put_top(FILE *f, const hc_tokenizer *tk, const int32_t *ids, const float *p, int k, int json)
{
    for (int j = 0; j < k; j++) {
        if (json)
            fprintf(f, "%s{\"id\": %d, \"text\": ", j ? ", " : "", ids[j]);
        else
            fputs(j ? "  " : "", f);
        put_token(f, tk, ids[j]);
        fprintf(f, json ? ", \"p\": %.9g}" : " %.3f", p[j]);
    }
}

/* One example: the context (its last ctx tokens before the position, the
 * position's own token marked), the next token, the top tokens before and
 * after. */
static void print_example(FILE *f, const ex_opts *o, const char *id, int list, int rank, const hc_example *e,
                          const hc_batch *bt, const hc_tokenizer *tk)
{
    const int32_t *row = bt->tokens + (size_t)e->row * bt->cols;
    int from = e->pos - o->context < 0 ? 0 : e->pos - o->context;
    double d = hc_example_delta(e, list);
    if (o->json) {
        fprintf(f, "{\"variant\": \"%s\", \"list\": \"%s\", \"rank\": %d, \"batch\": %d, \"row\": %d, "
                   "\"position\": %d, \"delta\": %.17g, \"logprob_before\": %.17g, \"logprob_after\": %.17g, "
                   "\"context\": \"",
                id, hc_example_list_names[list], rank, e->batch, e->row, e->pos, d, e->lp_before, e->lp_after);
        hc_put_tokens_text(f, tk, row + from, (size_t)(e->pos - from), 0);
        fprintf(f, "\", \"token\": %d, \"token_text\": ", row[e->pos]);
        put_token(f, tk, row[e->pos]);
        fprintf(f, ", \"target\": %d, \"target_text\": ", e->target);
        put_token(f, tk, e->target);
        fputs(", \"top_before\": [", f);
        put_top(f, tk, e->id_before, e->p_before, e->k, 1);
        fputs("], \"top_after\": [", f);
        put_top(f, tk, e->id_after, e->p_after, e->k, 1);
        fputs("]}\n", f);
        return;
    }
    fprintf(f, "#%d  batch %d, row %d, position %d   %s %+.4f   log p(next) %.3f -> %.3f   top-1 %.3f -> %.3f\n",
            rank, e->batch, e->row, e->pos, list < HC_EX_CONF_UP ? "change of log p(next)" : "change of top-1 p", d,
            e->lp_before, e->lp_after, e->p_before[0], e->p_after[0]);
    fputs("    context  \"", f);
    if (from > 0)
        fputs("...", f);
    /* the text after "..." from its first whole character; the JSON keeps
     * the tokens' exact text */
    hc_put_tokens_text(f, tk, row + from, (size_t)(e->pos - from), from > 0);
    fputs("[[", f);
    hc_put_tokens_text(f, tk, row + e->pos, 1, 0);
    fputs("]]\"\n    next     ", f);
    put_token(f, tk, e->target);
    fputs("\n    before   ", f);
    put_top(f, tk, e->id_before, e->p_before, e->k, 0);
    fputs("\n    after    ", f);
    put_top(f, tk, e->id_after, e->p_after, e->k, 0);
    fputs("\n", f);
}

/* 0: parsed; 1: --help printed; -1: a usage error. */
static int parse_opts(int argc, char **argv, ex_opts *o, const char **file)
{
    enum { O_HEAD = 1000, O_VARIANT, O_KIND, O_DIR, O_N, O_CONTEXT, O_FORMAT, O_MODEL, O_DATA };
    static const cli_option opts[] = {
        {0, "head", O_HEAD, "L.H", "the head (10.7 or L10H7)"},
        {0, "variant", O_VARIANT, "ID", "any variant of the run instead: MLP3, L10H7+L11H10"},
        {0, "kind", O_KIND, "logprob|confidence", "rank by the next token's log-probability (default) or top-1 p"},
        {0, "direction", O_DIR, "down|up", "where removing it lowered (default) or raised that"},
        {0, "n", O_N, "N", "print at most N examples (default 20)"},
        {0, "context", O_CONTEXT, "T", "tokens of context before the position (default 30)"},
        {0, "format", O_FORMAT, "text|json", "text (default), or one JSON object per example"},
        {0, "model", O_MODEL, "DIR", "the model directory, if not where the run found it"},
        {0, "data", O_DATA, "SRC", "the data, if not where the run found it (its hash is checked)"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "examples RESULTS.json (--head L.H | --variant ID) [options]", opts, NULL, NULL, argc,
                        argv))
        return 1;
    static char head_id[32];
    *o = (ex_opts){.down = 1, .n = HC_EXAMPLES_DEFAULT, .context = 30};
    int c, rc = 0;
    hc_component h;
    while (!rc && (c = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (c) {
        case O_HEAD:
            if (hc_component_parse(optarg, &h) || h.head == HC_MLP)
                return hc_fail(HC_EUSAGE, "--head: '%s' is not a head (L.H or LxHy)", optarg);
            hc_component_name(h, head_id, sizeof head_id);
            o->variant = head_id;
            break;
        case O_VARIANT: o->variant = optarg; break;
        case O_KIND:
            if (strcmp(optarg, "logprob") && strcmp(optarg, "confidence"))
                return hc_fail(HC_EUSAGE, "--kind: '%s' is not logprob or confidence", optarg);
            o->list_kind = optarg[0] == 'c' ? HC_EX_CONF_UP : HC_EX_LOGPROB_UP;
            break;
        case O_DIR:
            if (strcmp(optarg, "up") && strcmp(optarg, "down"))
                return hc_fail(HC_EUSAGE, "--direction: '%s' is not up or down", optarg);
            o->down = optarg[0] == 'd';
            break;
        case O_N: rc = cli_int("--n", optarg, 1, HC_EXAMPLES_MAX, &o->n); break;
        case O_CONTEXT: rc = cli_int("--context", optarg, 0, 1 << 20, &o->context); break;
        case O_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json"))
                return hc_fail(HC_EUSAGE, "--format: '%s' is not text or json", optarg);
            o->json = optarg[0] == 'j';
            break;
        case O_MODEL: o->model = optarg; break;
        case O_DATA: o->data = optarg; break;
        default: return cli_bad_option("examples", argc, argv);
        }
    }
    if (rc)
        return -1;
    if (optind + 1 != argc)
        return hc_fail(HC_EUSAGE, "examples: %s (usage: headcal examples RESULTS.json --head L.H [options])",
                       optind >= argc ? "no results file" : "one results file only");
    if (!o->variant)
        return hc_fail(HC_EUSAGE, "examples: --head L.H or --variant ID (MLP3, L10H7+L11H10) is required");
    *file = argv[optind];
    return 0;
}

/* The tokenizer and config of the run's model (or --model). */
static int open_model(const hc_results *r, const ex_opts *o, hc_config *cfg, hc_tokenizer **tk)
{
    const char *dir = o->model ? o->model : r->model.path;
    char path[4200];
    if (hc_path_join(path, sizeof path, dir, "config.json") || hc_config_load(cfg, path) ||
        hc_tokenizer_load_dir(tk, dir)) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", hc_errmsg());
        return hc_fail(HC_EBAD, "the run's model is not readable (%s): %s", dir, msg);
    }
    if (cfg->d_vocab != r->model.d_vocab) {
        hc_tokenizer_free(*tk);
        return hc_fail(HC_EBAD, "%s: a vocabulary of %d, but the run's model had %d", dir, cfg->d_vocab,
                       r->model.d_vocab);
    }
    return 0;
}

int cmd_examples(int argc, char **argv)
{
    ex_opts o;
    const char *file = NULL;
    int parsed = parse_opts(argc, argv, &o, &file);
    if (parsed)
        return parsed > 0 ? 0 : hc_errstatus();
    hc_results r;
    if (hc_results_read(&r, file))
        return hc_errstatus();
    int rc = 0, v = hc_results_find(&r, o.variant);
    if (!r.params.examples)
        rc = hc_fail(HC_EBAD, "%s: the run kept no examples (written without them, or with --examples 0)", file);
    else if (v < 0)
        rc = hc_fail(HC_EBAD, "%s: no variant %s in this run", file, o.variant);
    else if (v == hc_results_baseline(&r))
        rc = hc_fail(HC_EUSAGE, "examples: the baseline removes nothing; name a head, an MLP or a set");
    hc_config cfg;
    hc_tokenizer *tk = NULL;
    hc_dataset *ds = NULL;
    if (!rc)
        rc = open_model(&r, &o, &cfg, &tk);
    if (!rc)
        rc = hc_analysis_reopen_data(&r, o.data, &cfg, tk, &ds);
    if (!rc) {
        int list = o.list_kind + o.down;
        const hc_example_list *l = &r.variants[v].examples.list[list];
        int n = l->len < o.n ? l->len : o.n;
        if (!o.json)
            printf("%s  %s: %d of %d kept (%s)\n\n", r.variants[v].id, hc_example_list_names[list], n, l->len,
                   list < HC_EX_CONF_UP ? "log-probability of the next token, removed minus full model"
                                        : "top-1 probability, removed minus full model");
        for (int i = 0; i < n && !rc; i++) {
            hc_batch bt;
            if (!(rc = hc_dataset_batch(ds, l->v[i].batch, &bt))) {
                print_example(stdout, &o, r.variants[v].id, list, i + 1, &l->v[i], &bt, tk);
                hc_batch_free(&bt);
            }
        }
        if (!rc && !n && !o.json)
            printf("(none: removing %s never %s it)\n", r.variants[v].id, o.down ? "lowered" : "raised");
        if (!rc && fflush(stdout))
            rc = hc_fail(HC_EBAD, "examples: cannot write the output");
    }
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_results_free(&r);
    return rc ? hc_errstatus() : 0;
}
