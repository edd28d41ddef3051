/* `headcal CMD --help` against the manual: the options a command's help
 * lists come from the table its parser uses, and they must be exactly the
 * options headcal(1) names for it, in the command's synopsis and in its
 * item tags (plus the RUN OPTIONS section where the synopsis says "[run
 * options]" or "[data options]"). */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

typedef struct {
    char v[64][32];
    int n;
} optset;

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

/* Adds every option named in text[0..len): --long or -x. */
static void scan(optset *s, const char *text, size_t len)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%.*s", (int)len, text);
    regex_t re;
    cr_assert_eq(regcomp(&re, "(^|[^A-Za-z0-9-])(--[a-z][a-z0-9-]*|-[a-z])([^A-Za-z0-9-]|$)", REG_EXTENDED), 0);
    regmatch_t m[4];
    for (const char *p = buf; regexec(&re, p, 4, m, 0) == 0; p += m[2].rm_eo) {
        int n = (int)(m[2].rm_eo - m[2].rm_so), dup = 0;
        for (int i = 0; i < s->n; i++)
            dup |= (int)strlen(s->v[i]) == n && !strncmp(s->v[i], p + m[2].rm_so, (size_t)n);
        if (!dup && n < 32 && s->n < 64)
            snprintf(s->v[s->n++], 32, "%.*s", n, p + m[2].rm_so);
    }
    regfree(&re);
}

static char *joined(optset *s)
{
    qsort(s->v, (size_t)s->n, sizeof s->v[0], cmp);
    char *out = calloc(1, 64 * 33 + 1);
    for (int i = 0; i < s->n; i++)
        strcat(strcat(out, i ? " " : ""), s->v[i]);
    return out;
}

/* The manual's source with roff's escapes for '-' and fonts removed. */
static char *man_text(void)
{
    char *t = th_read(th_src("man/headcal.1")), *w = t;
    for (const char *r = t; *r;) {
        if (r[0] == '\\' && r[1] == '-')
            *w++ = '-', r += 2;
        else if (r[0] == '\\' && r[1] == 'f' && r[2])
            r += 3;
        else
            *w++ = *r++;
    }
    *w = 0;
    return t;
}

/* Adds the options of the section that starts at the line beginning with
 * head: its heading line and the tag line after each .TP. */
static void man_section(optset *s, const char *man, const char *head, int *run_options)
{
    const char *p = strstr(man, head);
    cr_assert(p, "headcal(1) has no section starting '%s'", head);
    p += *p == '\n';
    const char *eol = strchr(p, '\n');
    scan(s, p, (size_t)(eol - p));
    if (run_options)
        *run_options = memmem(p, (size_t)(eol - p), "[run options]", 13) ||
                       memmem(p, (size_t)(eol - p), "[data options]", 14);
    for (p = eol + 1; *p && strncmp(p, ".SS", 3) && strncmp(p, ".SH", 3); p = strchr(p, '\n') + 1) {
        eol = strchr(p, '\n');
        if (!strncmp(p, ".TP", 3)) {
            const char *tag = eol + 1, *tag_end = strchr(tag, '\n');
            scan(s, tag, (size_t)(tag_end - tag));
        }
    }
}

Test(help, every_command_lists_the_options_of_its_man_page)
{
    static const char *cmds[] = {"tui",    "run",   "merge", "plot", "data", "info",
                                 "tokenize", "detokenize", "logits", "synth", "qk", "train"};
    char *man = man_text();
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char cmd[4400], *out = NULL, *err = NULL;
        snprintf(cmd, sizeof cmd, "'%s' %s --help", th_headcal(), cmds[c]);
        cr_assert_eq(th_run(cmd, &out, &err), 0, "%s --help: %s", cmds[c], err);
        char usage[64];
        snprintf(usage, sizeof usage, "usage: headcal %s ", cmds[c]);
        cr_assert(!strncmp(out, usage, strlen(usage)), "%s --help begins: %.60s", cmds[c], out);
        optset help = {0}, page = {0};
        /* an option line: "    -o, --out FILE    help"; the spec ends at the
         * first double space */
        for (const char *l = out; *l; l = strchr(l, '\n') + 1) {
            const char *end = strchr(l, '\n'), *gap;
            if (!strncmp(l, "    -", 5)) {
                gap = strstr(l + 4, "  ");
                scan(&help, l + 4, (size_t)((gap && gap < end ? gap : end) - (l + 4)));
            }
        }
        char head[64];
        snprintf(head, sizeof head, "\n.SS \"headcal %s ", cmds[c]);
        int run_options = 0;
        man_section(&page, man, head, &run_options);
        if (run_options)
            man_section(&page, man, "\n.SH RUN OPTIONS", NULL);
        char *h = joined(&help), *m = joined(&page);
        cr_expect_str_eq(h, m, "headcal %s: --help lists [%s], headcal(1) names [%s]", cmds[c], h, m);
        free(h);
        free(m);
        free(out);
        free(err);
    }
    free(man);
}

Test(help, is_refused_as_an_option_value_only_where_it_is_one)
{
    /* --help as --text's value is text, not a request for help */
    char cmd[4400], *out = NULL, *err = NULL;
    snprintf(cmd, sizeof cmd, "'%s' logits --text --help", th_headcal());
    cr_assert_eq(th_run(cmd, &out, &err), 2, "%s", err);
    cr_assert(strstr(err, "--model"), "%s", err);
    free(out);
    free(err);
}
