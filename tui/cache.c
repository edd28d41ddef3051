#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "headcal/error.h"
#include "headcal/sha256.h"
#include "jobs.h"

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
    struct stat st;
    if (mkdir(path, 0777) && errno != EEXIST)
        return -1;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int cache_locate(explorer_cache *c, const hc_results *r)
{
    const char *env = getenv("HEADCAL_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[4096];
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/headcal", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/headcal", home);
    else
        return hc_fail(HC_EBAD, "no cache directory ($HEADCAL_CACHE_DIR, $XDG_CACHE_HOME and $HOME are unset)");
    if (make_dirs(dir))
        return hc_fail(HC_EBAD, "cache %s: %s", dir, strerror(errno));
    /* The variants are not part of the key: an entry holding more of them
     * (MLPs, joint ablations) serves a request for fewer. */
    const hc_results_params *p = &r->params;
    char key[512], hex[65];
    snprintf(key, sizeof key, "headcal-tui-cache/3\n%s %s %s\n%s\n%lld %d\n%d %d %d %d %d %d %d\n", r->model.sha256,
             r->model.config_sha256, p->kernel, r->data.sha256, (long long)r->data.shuffle_seed, r->data.chunk, p->batch_size, p->batches, p->seq_len,
             p->top_k, p->bins, p->ablation, p->ln);
    hc_sha256_buf(key, strlen(key), hex);
    snprintf(c->path, sizeof c->path, "%s/%s.json", dir, hex);
    snprintf(c->session, sizeof c->session, "%s/%s.session.json", dir, hex);
    snprintf(c->lock, sizeof c->lock, "%s/%s.lock", dir, hex);
    return 0;
}

/* Whether a and b measure the same run (the variants aside). */
static int same_run(const hc_results *a, const hc_results *b)
{
    return !strcmp(a->model.sha256, b->model.sha256) && !strcmp(a->model.config_sha256, b->model.config_sha256) &&
           !strcmp(a->data.sha256, b->data.sha256) &&
           a->data.shuffle_seed == b->data.shuffle_seed && a->data.chunk == b->data.chunk &&
           !memcmp(&a->params, &b->params, sizeof a->params);
}

/* Reads the entry into *c: 1, 0 when there is none or it is another run
 * (a hash collision or an older format), -1 when it cannot be read. */
static int read_entry(const explorer_cache *ec, const hc_results *r, hc_results *c)
{
    if (access(ec->path, F_OK))
        return 0;
    if (hc_results_read(c, ec->path))
        return -1;
    if (!same_run(c, r)) {
        hc_results_free(c);
        return 0;
    }
    return 1;
}

/* Whether every batch done in a is done in b. */
static int covers(const hc_results *b, const hc_results *a)
{
    for (int i = 0; i < a->params.batches; i++)
        if (a->done[i] && !b->done[i])
            return 0;
    return 1;
}

int cache_load(const explorer_cache *ec, hc_results *r)
{
    hc_results c;
    int rc = read_entry(ec, r, &c);
    if (rc <= 0)
        return rc;
    int all = covers(&c, r);
    for (int v = 0; all && v < r->n_variants; v++)
        all = hc_results_find(&c, r->variants[v].id) >= 0;
    if (!all) {
        hc_results_free(&c);
        return 0;
    }
    hc_results_free(r);
    *r = c;
    return 1;
}

int cache_store(const explorer_cache *ec, hc_results *r, hc_results *sets)
{
    int fd = open(ec->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return hc_fail(HC_EBAD, "cache %s: %s", ec->lock, strerror(errno));
    if (flock(fd, LOCK_EX)) {
        int e = errno;
        close(fd);
        return hc_fail(HC_EBAD, "cache %s: %s", ec->lock, strerror(e));
    }
    hc_results disk;
    int adopted = 0, rc = read_entry(ec, r, &disk);
    /* an unreadable entry is replaced: it is a cache */
    if (rc < 0)
        hc_clear_error();
    if (rc > 0 && covers(&disk, r)) {
        for (int v = 0; v < disk.n_variants; v++) {
            int kind = disk.variants[v].kind;
            if ((sets && kind != HC_VARIANT_SET) || hc_results_find(r, disk.variants[v].id) >= 0)
                continue;
            if (results_adopt(r, &disk, v) < 0 || (sets && covers(&disk, sets) && results_adopt(sets, &disk, v) < 0)) {
                adopted = -1;
                break;
            }
            adopted++;
        }
    }
    if (rc > 0)
        hc_results_free(&disk);
    if (adopted >= 0 && hc_results_write(r, ec->path))
        adopted = -1;
    flock(fd, LOCK_UN);
    close(fd);
    return adopted;
}

const char *cache_reason(const char *msg)
{
    const char *at = msg, *p;
    while ((p = strstr(at, ": ")))
        at = p + 2;
    return at;
}
