#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/journal.h"

int hc_journal_open(hc_journal *j, const char *out)
{
    memset(j, 0, sizeof *j);
    j->fd = -1;
    if (snprintf(j->out, sizeof j->out, "%s", out) >= (int)sizeof j->out)
        return hc_fail(HC_EBAD, "%s: path too long", out);
    snprintf(j->path, sizeof j->path, "%s.partial", out);
    /* Another run may finish and remove the side file between our open
     * and our lock: then the lock is on a file nobody else will find, so
     * open again until the locked file is the one at the path. */
    for (int tries = 0; tries < 100; tries++) {
        int fd = open(j->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return hc_fail(HC_EBAD, "%s: cannot write: %s", j->path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return hc_fail(HC_EBAD, "%s: another headcal run is writing it (its side file %s is locked)", out,
                               j->path);
            return hc_fail(HC_EBAD, "%s: cannot lock: %s", j->path, strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(j->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            j->fd = fd;
            return 0;
        }
        close(fd);
    }
    return hc_fail(HC_EBAD, "%s: cannot lock: the file keeps being replaced", j->path);
}

static int parse_lines(FILE *in, const char *path, hc_results *r, int *found, off_t *end)
{
    char *line = NULL, what[4300];
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    *found = 0;
    *end = 0;
    while (!rc && (len = getline(&line, &cap, in)) != -1) {
        lineno++;
        if (line[len - 1] != '\n')
            break; /* cut short by a crash: never synced as complete */
        snprintf(what, sizeof what, "%s:%ld", path, lineno);
        rc = lineno == 1 ? hc_results_parse(r, line, (size_t)len, what)
                         : hc_results_batch_parse(r, line, (size_t)len, what);
        if (!rc) {
            *found = 1;
            *end += len;
        }
    }
    if (!rc && ferror(in))
        rc = hc_fail(HC_EBAD, "%s: read error", path);
    free(line);
    if (!rc && *found)
        rc = hc_results_validate(r, path);
    if (rc && *found)
        hc_results_free(r);
    if (rc)
        *found = 0;
    return rc;
}

int hc_journal_load(hc_journal *j, hc_results *r, int *found)
{
    int fd = dup(j->fd);
    FILE *in = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!in) {
        if (fd >= 0)
            close(fd);
        return hc_fail(HC_EBAD, "%s: %s", j->path, strerror(errno));
    }
    rewind(in);
    hc_results got;
    int rc = parse_lines(in, j->path, &got, found, &j->end);
    fclose(in);
    if (!rc && *found)
        *r = got;
    return rc;
}

int hc_journal_read(const char *path, hc_results *r)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    off_t end;
    int found;
    int rc = parse_lines(in, path, r, &found, &end);
    fclose(in);
    if (!rc && !found)
        rc = hc_fail(HC_EBAD, "%s: holds no results yet", path);
    return rc;
}

/* Makes what was written durable, or takes it back: the side file never
 * ends in a line that was not synced whole. */
static int sync_or_undo(hc_journal *j, off_t before)
{
    int bad = fflush(j->f) != 0 || ferror(j->f) || fdatasync(j->fd) != 0;
    if (!bad) {
        j->end = ftello(j->f);
        return 0;
    }
    int e = errno ? errno : EIO;
    clearerr(j->f);
    if (ftruncate(j->fd, before) == 0)
        fseeko(j->f, before, SEEK_SET);
    return hc_fail(HC_EBAD, "%s: write failed: %s", j->path, strerror(e));
}

static int writer(hc_journal *j)
{
    if (!j->f) {
        int fd = dup(j->fd);
        if (fd < 0 || !(j->f = fdopen(fd, "r+b"))) {
            if (fd >= 0)
                close(fd);
            return hc_fail(HC_EBAD, "%s: %s", j->path, strerror(errno));
        }
    }
    return fseeko(j->f, j->end, SEEK_SET) ? hc_fail(HC_EBAD, "%s: %s", j->path, strerror(errno)) : 0;
}

int hc_journal_start(hc_journal *j, const hc_results *r)
{
    if (hc_results_validate(r, j->path))
        return -1;
    if (ftruncate(j->fd, 0) != 0)
        return hc_fail(HC_EBAD, "%s: %s", j->path, strerror(errno));
    j->end = 0;
    if (writer(j))
        return -1;
    if (hc_results_print(r, j->f, j->path, 0) == 0) {
        fputc('\n', j->f);
        return sync_or_undo(j, 0);
    }
    /* take back what was written; the message is already set */
    fflush(j->f);
    clearerr(j->f);
    if (ftruncate(j->fd, 0) == 0)
        fseeko(j->f, 0, SEEK_SET);
    return -1;
}

int hc_journal_append(hc_journal *j, const hc_results *r, int b)
{
    off_t before = j->end;
    if (writer(j))
        return -1;
    hc_results_batch_write(r, b, j->f);
    return sync_or_undo(j, before);
}

int hc_journal_finish(hc_journal *j, const hc_results *r)
{
    if (hc_results_write(r, j->out))
        return -1;
    unlink(j->path);
    hc_journal_close(j);
    return 0;
}

void hc_journal_close(hc_journal *j)
{
    if (j->f)
        fclose(j->f);
    j->f = NULL;
    if (j->fd >= 0) {
        struct stat sb;
        if (fstat(j->fd, &sb) == 0 && sb.st_size == 0)
            unlink(j->path);
        close(j->fd);
    }
    j->fd = -1;
}
