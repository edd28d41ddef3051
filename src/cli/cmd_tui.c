/* headcal tui (and headcal with no arguments): the explorer on a model
 * and data set, its sweep cached on disk so that reopening is instant. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "explorer.h"
#include "cli.h"
#include "headcal/error.h"
#include "headcal/report.h"
#include "run_opts.h"

/* The model and data a results file names, as run options, so that work
 * the file lacks (joint ablations, QK panels) can be computed. */
static void opts_of_file(run_opts *o, const hc_results *r, int model_given, int data_given)
{
    const hc_results_params *p = &r->params;
    if (!model_given)
        o->model = r->model.path;
    if (!data_given)
        o->data = r->data.source;
    o->ds.batch_size = p->batch_size;
    o->ds.n_batches = p->batches;
    o->ds.seq_len = p->seq_len;
    o->ds.chunk = r->data.chunk;
    o->ds.shuffle = r->data.shuffle_seed >= 0;
    o->ds.shuffle_seed = o->ds.shuffle ? (uint32_t)r->data.shuffle_seed : 0;
    o->top_k = p->top_k;
    o->bins = p->bins;
    o->ablation = p->ablation;
    o->ln = p->ln;
}

/* Opens the model and data a results file was made from; on failure
 * `why` says what joint ablations and QK panels will answer. */
static int open_for_file(run_opts *o, const hc_results *r, const char *file, hc_model *m, hc_tokenizer **tk,
                         hc_dataset **ds, char *why, size_t n)
{
    hc_results check = {0};
    int rc = run_open(o, m, 1, tk, ds);
    if (!rc && !(rc = run_describe(&check, o, m, *ds, 0, 1, "none", 0, NULL))) {
        if (strcmp(check.model.sha256, r->model.sha256))
            rc = hc_fail(HC_EBAD, "%s is not the model that made %s (its hash differs)", o->model, file);
        else if (strcmp(check.data.sha256, r->data.sha256))
            rc = hc_fail(HC_EBAD, "%s does not give the data of %s (its hash differs)", o->data, file);
    }
    if (check.variants || check.done)
        hc_results_free(&check);
    if (!rc)
        return 0;
    snprintf(why, n, "needs the model (--model, --data): %s", hc_errmsg());
    hc_clear_error();
    if (*ds) {
        hc_dataset_free(*ds);
        hc_tokenizer_free(*tk);
        hc_model_free(m);
    }
    *ds = NULL;
    *tk = NULL;
    return -1;
}

int cmd_tui(int argc, char **argv)
{
    enum { O_GRAPHICS = 1, O_EXPORT, O_MLP, O_NO_CACHE, O_RESULTS, O_MIN_COUNT };
    static const cli_option own[] = {
        {0, "graphics", O_GRAPHICS, "auto|sixel|text", "how the curves are drawn (default auto: sixel if the terminal has it)"},
        {0, "export-dir", O_EXPORT, "DIR", "where the e key writes (default ./headcal-export)"},
        {0, "mlp", O_MLP, NULL, "also ablate every layer's MLP (the grid's last column)"},
        {0, "no-cache", O_NO_CACHE, NULL, "neither read nor write the results cache"},
        {0, "results", O_RESULTS, "FILE", "explore a results file of run or merge (as the operand RESULTS.json)"},
        {0, "min-count", O_MIN_COUNT, "N", "curves: bins with fewer predictions are faded (default 20)"},
        {0},
    };
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "tui [RESULTS.json | --results FILE] [--model DIR] [--data SRC] [run options] "
                                     "[--graphics auto|sixel|text] [--export-dir DIR] [--mlp] [--no-cache] [--min-count N]",
                             own, argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    /* The bundled default: a small model on its whole held-out set cut
     * into 128-token windows (624 of its 625), enough tokens that the
     * larger head effects stand out of their standard errors, in seconds of
     * CPU (explicit flags still win). */
    static char model[4096], data[4096];
    snprintf(model, sizeof model, "%s/default", cli_data_dir());
    snprintf(data, sizeof data, "%s/eval.jsonl", cli_data_dir());
    o.model = model;
    o.data = access(data, R_OK) == 0 ? data : "ioi";
    const char *default_data = o.data;
    int bundled = 1;
    for (int i = 1; i < argc; i++)
        bundled &= strncmp(argv[i], "--preset", 8) && strncmp(argv[i], "--model", 7);
    if (bundled) {
        o.ds.batch_size = 16;
        o.ds.n_batches = 39;
        o.ds.seq_len = 128;
        o.ds.chunk = true;
    }
    explorer_opts eo = {.export_dir = "headcal-export", .graphics = EXPLORER_GRAPHICS_AUTO,
                        .metric = HC_DELTA_OC, .min_count = HC_MIN_COUNT_DEFAULT};
    int mlp = 0, use_cache = 1, ch, rc = 0;
    const char *file = NULL;
    opterr = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case O_GRAPHICS:
            if (!strcmp(optarg, "auto"))
                eo.graphics = EXPLORER_GRAPHICS_AUTO;
            else if (!strcmp(optarg, "sixel"))
                eo.graphics = EXPLORER_GRAPHICS_SIXEL;
            else if (!strcmp(optarg, "text"))
                eo.graphics = EXPLORER_GRAPHICS_TEXT;
            else
                rc = hc_fail(HC_EUSAGE, "--graphics: '%s' is not auto, sixel or text", optarg);
            break;
        case O_EXPORT: eo.export_dir = optarg; break;
        case O_MLP: mlp = 1; break;
        case O_NO_CACHE: use_cache = 0; break;
        case O_RESULTS: file = optarg; break;
        case O_MIN_COUNT: rc = cli_int("--min-count", optarg, 0, 1000000000, &eo.min_count); break;
        default:
            rc = run_opts_apply(&o, ch, optarg, "tui", argc, argv);
        }
    }
    /* one operand: a results file (as --results) */
    if (!rc && optind < argc && !file)
        file = argv[optind++];
    else if (!rc && optind < argc)
        rc = hc_fail(HC_EUSAGE, "tui: '%s' is a second results file (--results %s)", argv[optind], file);
    if (!rc)
        rc = cli_no_operands("tui", argc, argv);
    if (!rc && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
        rc = hc_fail(HC_EUSAGE, "tui: the explorer needs a terminal (for scripts: headcal run, headcal plot)");
    if (rc)
        return hc_errstatus();
    if (o.paper_sign)
        eo.metric = HC_PAPER;

    hc_model m;
    hc_tokenizer *tk = NULL;
    hc_dataset *ds = NULL;
    hc_results *r = hc_calloc(1, sizeof *r);
    char why[1200] = "", notice[1200] = "";
    if (!r)
        return hc_errstatus();
    if (file) {
        /* the file as it is; the model only for what it lacks */
        if (hc_results_read(r, file)) {
            free(r);
            return hc_errstatus();
        }
        fprintf(stderr, "headcal: opening %s...\n", file);
        opts_of_file(&o, r, o.model != model, o.data != default_data);
        open_for_file(&o, r, file, &m, &tk, &ds, why, sizeof why);
    } else {
        fprintf(stderr, "headcal: loading %s and %s...\n", o.model, o.data);
        o.fit_data = 1;
        rc = run_open(&o, &m, 1, &tk, &ds) || run_describe(r, &o, &m, ds, 0, 1, "all", mlp, NULL);
        if (rc) {
            if (ds) {
                hc_dataset_free(ds);
                hc_tokenizer_free(tk);
                hc_model_free(&m);
            }
            if (r->variants || r->done)
                hc_results_free(r);
            free(r);
            return hc_errstatus();
        }
        snprintf(notice, sizeof notice, "%s", o.fitted);
    }
    explorer_cache cache;
    int cached = use_cache ? cache_locate(&cache, r) : -1;
    if (use_cache && (cached || cache_load(&cache, r) < 0)) {
        /* computing anyway, and saying so once */
        size_t at = strlen(notice);
        snprintf(notice + at, sizeof notice - at, "%scache off: %s", at ? "; " : "", cache_reason(hc_errmsg()));
        hc_clear_error();
    }
    eo.model = ds ? &m : NULL;
    eo.no_model = why;
    eo.ds = ds;
    eo.sweep = run_opts_sweep(&o);
    eo.results = r;
    eo.results_file = file;
    eo.cache = use_cache && !cached ? &cache : NULL;
    eo.notice = *notice ? notice : NULL;
    rc = explorer_run(&eo);
    if (ds) {
        hc_dataset_free(ds);
        hc_tokenizer_free(tk);
        hc_model_free(&m);
    }
    return rc ? hc_errstatus() : 0;
}
