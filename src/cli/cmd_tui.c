/* headcal tui (and headcal with no arguments): the explorer on a model
 * and data set, its sweep cached on disk so that reopening is instant. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explorer.h"
#include "cli.h"
#include "headcal/error.h"
#include "headcal/fileio.h"
#include "headcal/sha256.h"
#include "run_opts.h"

/* mkdir -p for the cache directory's few levels. */
static int make_dirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int bad = mkdir(path, 0777) && errno != EEXIST;
        *p = '/';
        if (bad)
            return -1;
    }
    return mkdir(path, 0777) && errno != EEXIST ? -1 : 0;
}

/* $HEADCAL_CACHE_DIR, else $XDG_CACHE_HOME/headcal, else ~/.cache/headcal;
 * 0 when it exists or could be made. */
static int cache_dir(char *out, size_t n)
{
    const char *env = getenv("HEADCAL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env)
        snprintf(out, n, "%s", env);
    else if (xdg && *xdg)
        snprintf(out, n, "%s/headcal", xdg);
    else if (home && *home)
        snprintf(out, n, "%s/.cache/headcal", home);
    else
        return -1;
    return make_dirs(out);
}

/* The cache file of the run r describes: named by a hash of everything
 * that decides its numbers (model and data hashes, parameters, variants). */
static int cache_path(const hc_results *r, char *out, size_t n)
{
    char dir[4096], key[8192], hex[65];
    if (cache_dir(dir, sizeof dir))
        return -1;
    const hc_results_params *p = &r->params;
    int at = snprintf(key, sizeof key, "headcal-tui-cache/1\n%s\n%s\n%lld %d\n%d %d %d %d %d %d %d\n", r->model.sha256,
                      r->data.sha256, (long long)r->data.shuffle_seed, r->data.chunk, p->batch_size, p->batches,
                      p->seq_len, p->top_k, p->bins, p->ablation, p->ln);
    for (int v = 0; v < r->n_variants && at < (int)sizeof key; v++)
        at += snprintf(key + at, sizeof key - (size_t)at, "%s\n", r->variants[v].id);
    hc_sha256_buf(key, strlen(key), hex);
    snprintf(out, n, "%s/%s.json", dir, hex);
    return 0;
}

/* Replaces r by the cached results of the same run, when there are any. */
static void load_cache(hc_results *r, const char *path)
{
    hc_results c;
    if (access(path, F_OK) || hc_results_read(&c, path)) {
        hc_clear_error();
        return;
    }
    int same = !strcmp(c.model.sha256, r->model.sha256) && !strcmp(c.data.sha256, r->data.sha256) &&
               !memcmp(&c.params, &r->params, sizeof c.params);
    for (int v = 0; same && v < r->n_variants; v++)
        same = hc_results_find(&c, r->variants[v].id) >= 0;
    if (same) {
        hc_results_free(r);
        *r = c;
    } else {
        hc_results_free(&c);
    }
}

int cmd_tui(int argc, char **argv)
{
    enum { O_GRAPHICS = 1, O_EXPORT, O_MLP, O_NO_CACHE };
    static const cli_option own[] = {
        {0, "graphics", O_GRAPHICS, "auto|sixel|text", "how the curves are drawn (default auto: sixel if the terminal has it)"},
        {0, "export-dir", O_EXPORT, "DIR", "where the e key writes (default ./headcal-export)"},
        {0, "mlp", O_MLP, NULL, "also ablate every layer's MLP (the grid's last column)"},
        {0, "no-cache", O_NO_CACHE, NULL, "neither read nor write the results cache"},
        {0},
    };
    cli_getopt g;
    run_opts o;
    int init = run_opts_init(&o, &g, "tui [--model DIR] [--data SRC] [run options] [--graphics auto|sixel|text] "
                                     "[--export-dir DIR] [--mlp] [--no-cache]",
                             own, argc, argv);
    if (init)
        return init > 0 ? 0 : hc_errstatus();
    /* The bundled default: a small model on its whole held-out set cut
     * into 128-token windows, enough tokens (21,650) that the larger head
     * effects stand out of their standard errors, in seconds of CPU
     * (explicit flags still win). */
    static char model[4096], data[4096];
    snprintf(model, sizeof model, "%s/default", cli_data_dir());
    snprintf(data, sizeof data, "%s/eval.jsonl", cli_data_dir());
    o.model = model;
    o.data = access(data, R_OK) == 0 ? data : "ioi";
    int bundled = 1;
    for (int i = 1; i < argc; i++)
        bundled &= strncmp(argv[i], "--preset", 8) && strncmp(argv[i], "--model", 7);
    if (bundled) {
        o.ds.batch_size = 16;
        o.ds.n_batches = 14;
        o.ds.seq_len = 128;
        o.ds.chunk = true;
    }
    explorer_opts eo = {.export_dir = "headcal-export", .graphics = EXPLORER_GRAPHICS_AUTO,
                        .metric = HC_DELTA_OC};
    int mlp = 0, use_cache = 1, ch, rc = 0;
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
        default:
            rc = run_opts_apply(&o, ch, optarg, "tui", argc, argv);
        }
    }
    if (!rc)
        rc = cli_no_operands("tui", argc, argv);
    if (!rc && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
        rc = hc_fail(HC_EUSAGE, "tui: the explorer needs a terminal (for scripts: headcal run, headcal plot)");
    if (rc)
        return hc_errstatus();
    if (o.paper_sign)
        eo.metric = HC_PAPER;

    hc_model m;
    hc_tokenizer *tk;
    hc_dataset *ds;
    fprintf(stderr, "headcal: loading %s and %s...\n", o.model, o.data);
    if (run_open(&o, &m, 1, &tk, &ds))
        return hc_errstatus();
    hc_results *r = hc_calloc(1, sizeof *r);
    char cache[4200];
    rc = !r ? -1 : run_describe(r, &o, &m, ds, 0, 1, "all", mlp, NULL);
    if (!rc && use_cache && cache_path(r, cache, sizeof cache) == 0) {
        load_cache(r, cache);
        eo.checkpoint = cache;
    }
    if (!rc) {
        eo.model = &m;
        eo.ds = ds;
        eo.sweep = run_opts_sweep(&o);
        eo.results = r;
        rc = explorer_run(&eo);
    } else if (r) {
        hc_results_free(r);
        free(r);
    }
    hc_dataset_free(ds);
    hc_tokenizer_free(tk);
    hc_model_free(&m);
    return rc ? hc_errstatus() : 0;
}
