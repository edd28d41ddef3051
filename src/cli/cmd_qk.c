/* headcal qk: the bag-of-words QK panel of one head (qk.h). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"
#include "headcal/component.h"
#include "headcal/error.h"
#include "headcal/model.h"
#include "headcal/qk.h"

/* cells 18 columns wide, two spaces apart, no trailing blanks; columns
 * count characters, not bytes ("±" is two) */
static void print_row(const char *label, char cells[HC_QK_SIDES][64])
{
    printf("%-11s", label);
    for (int j = 0; j < HC_QK_SIDES; j++) {
        int width = 0;
        for (const char *c = cells[j]; *c; c++)
            width += (*c & 0xc0) != 0x80;
        printf("  %s", cells[j]);
        for (; j < HC_QK_SIDES - 1 && width < 18; width++)
            putchar(' ');
    }
    putchar('\n');
}

static void print_text(const hc_qk_result *r)
{
    char name[32], cells[HC_QK_SIDES][64], label[32];
    hc_component_name((hc_component){r->layer, r->head}, name, sizeof name);
    printf("head %s: mean self-attention score over %d bag%s of %d tokens", name, r->n_bags,
           r->n_bags == 1 ? "" : "s", r->bag_size);
    printf(r->n_bags > 1 ? " (± standard error)\n" : " (no standard error from one bag)\n");
    for (int j = 0; j < HC_QK_SIDES; j++)
        snprintf(cells[j], sizeof cells[j], "key %s", hc_qk_key_names[j]);
    print_row("", cells);
    for (int i = 0; i < HC_QK_SIDES; i++) {
        for (int j = 0; j < HC_QK_SIDES; j++) {
            if (isnan(r->sem[i][j]))
                snprintf(cells[j], sizeof cells[j], "%8.4f", r->score[i][j]);
            else
                snprintf(cells[j], sizeof cells[j], "%8.4f ± %.4f", r->score[i][j], r->sem[i][j]);
        }
        snprintf(label, sizeof label, "query %s", hc_qk_query_names[i]);
        print_row(label, cells);
    }
}

static cJSON *names(const char *const *v)
{
    return cJSON_CreateStringArray(v, HC_QK_SIDES);
}

static cJSON *matrix(const double m[HC_QK_SIDES][HC_QK_SIDES])
{
    cJSON *rows = cJSON_CreateArray();
    for (int i = 0; i < HC_QK_SIDES; i++)
        cJSON_AddItemToArray(rows, cJSON_CreateDoubleArray(m[i], HC_QK_SIDES));
    return rows;
}

static int print_json(const hc_qk_result *r)
{
    char name[32];
    hc_component_name((hc_component){r->layer, r->head}, name, sizeof name);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "head", name);
    cJSON_AddNumberToObject(o, "bags", r->n_bags);
    cJSON_AddNumberToObject(o, "bag_size", r->bag_size);
    cJSON_AddItemToObject(o, "query", names(hc_qk_query_names));
    cJSON_AddItemToObject(o, "key", names(hc_qk_key_names));
    cJSON_AddItemToObject(o, "scores", matrix(r->score));
    /* cJSON prints NaN (one bag) as null */
    cJSON_AddItemToObject(o, "stderr", matrix(r->sem));
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return hc_fail(HC_EBAD, "out of memory");
    printf("%s\n", s);
    free(s);
    return 0;
}

int cmd_qk(int argc, char **argv)
{
    enum { O_BAGSIZE = 256, O_BAGSFILE };
    static const cli_option opts[] = {
        {0, "model", 'm', "DIR", "the model directory"},
        {0, "head", 'h', "L.H", "the head (L.H or LxHy)"},
        {0, "bag-size", O_BAGSIZE, "N", "tokens per random bag (default 100)"},
        {0, "bags", 'b', "K", "random bags (default 20)"},
        {0, "seed", 's', "S", "the bags' permutation seed, as numpy's (default 0)"},
        {0, "bags-file", O_BAGSFILE, "FILE.json", "the bags as JSON arrays of token ids instead"},
        {0, "format", 'f', "text|json", "a table (default) or one JSON object"},
        {0},
    };
    cli_getopt g;
    if (cli_getopt_init(&g, "qk --model DIR --head L.H [--bag-size N --bags K --seed S | --bags-file FILE.json] "
                            "[--format text|json]",
                        opts, NULL, NULL, argc, argv))
        return 0;
    const char *dir = NULL, *head = NULL, *file = NULL, *format = "text";
    int bag_size = 100, n_bags = 20, random_opts = 0, rc = 0, ch;
    long seed = 0;
    while (!rc && (ch = getopt_long(argc, argv, g.shortopts, g.longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': dir = optarg; break;
        case 'h': head = optarg; break;
        case O_BAGSIZE: rc = cli_int("--bag-size", optarg, 2, 1 << 20, &bag_size), random_opts = 1; break;
        case 'b': rc = cli_int("--bags", optarg, 1, 1 << 20, &n_bags), random_opts = 1; break;
        case 's': rc = cli_long("--seed", optarg, 0, 0xffffffffL, &seed), random_opts = 1; break;
        case O_BAGSFILE: file = optarg; break;
        case 'f': format = optarg; break;
        default: rc = cli_bad_option("qk", argc, argv);
        }
    }
    if (rc)
        return hc_errstatus();
    if (!dir || !head || optind < argc) {
        hc_fail(HC_EUSAGE, "qk: usage: headcal qk --model DIR --head L.H [--bag-size N --bags K --seed S | "
                           "--bags-file FILE.json] [--format text|json]");
        return HC_EUSAGE;
    }
    if (file && random_opts)
        return hc_fail(HC_EUSAGE, "qk: --bags-file excludes --bag-size, --bags and --seed"), HC_EUSAGE;
    if (strcmp(format, "text") && strcmp(format, "json"))
        return hc_fail(HC_EUSAGE, "--format: '%s' is not text or json", format), HC_EUSAGE;
    hc_component c;
    if (hc_component_parse(head, &c) || c.head == HC_MLP)
        return hc_fail(HC_EUSAGE, "--head: '%s' is not a head (e.g. 10.7 or L10H7)", head), HC_EUSAGE;
    if ((size_t)n_bags * (size_t)bag_size > (1u << 24))
        return hc_fail(HC_EUSAGE, "qk: %d bags of %d tokens are too many", n_bags, bag_size), HC_EUSAGE;

    hc_model m;
    if (hc_model_load(&m, dir))
        return hc_errstatus();
    int32_t *bags = NULL;
    if (file) {
        rc = hc_qk_bags_load(file, m.cfg.d_vocab, &bags, &n_bags, &bag_size);
    } else {
        bags = hc_malloc((size_t)n_bags * bag_size * sizeof *bags);
        rc = !bags || hc_qk_random_bags((uint32_t)seed, m.cfg.d_vocab, n_bags, bag_size, bags);
    }
    hc_qk_result r;
    rc = rc || hc_qk_compute(&m, c.layer, c.head, bags, n_bags, bag_size, &r);
    if (!rc) {
        if (!strcmp(format, "json"))
            rc = print_json(&r);
        else
            print_text(&r);
    }
    free(bags);
    hc_model_free(&m);
    return rc ? hc_errstatus() : 0;
}
