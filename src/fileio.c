#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"

int hc_read_file(const char *path, size_t max_bytes, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return hc_fail(HC_EBAD, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return hc_fail(HC_EBAD, "%s: not a regular file", path);
    }
    if ((unsigned long long)sb.st_size > max_bytes) {
        fclose(f);
        return hc_fail(HC_EBAD, "%s: file too large (%lld bytes, limit %zu)", path,
                       (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    char *b = hc_malloc(n + 1);
    if (!b) {
        fclose(f);
        return -1;
    }
    size_t got = fread(b, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) {
        free(b);
        return hc_fail(HC_EBAD, "%s: read error", path);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return 0;
}

int hc_write_text(const char *path, const char *text)
{
    hc_atomic_file af;
    if (hc_atomic_open(&af, path))
        return -1;
    fputs(text, af.f);
    fputc('\n', af.f);
    return hc_atomic_commit(&af);
}

int hc_path_join(char *out, size_t n, const char *dir, const char *name)
{
    int k = snprintf(out, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n)
        return hc_fail(HC_EBAD, "%s/%s: path too long", dir, name);
    return 0;
}

int hc_atomic_open(hc_atomic_file *af, const char *path)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return hc_fail(HC_EBAD, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(af->tmp);
    if (fd < 0)
        return hc_fail(HC_EBAD, "%s: cannot write: %s", path, strerror(errno));
    fchmod(fd, 0644);
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        close(fd);
        unlink(af->tmp);
        return hc_fail(HC_EBAD, "%s: cannot write: %s", path, strerror(errno));
    }
    return 0;
}

/* Makes a rename in path's directory durable (a crash after rename() may
 * otherwise lose it).  Best effort: some filesystems cannot sync a
 * directory, and the data itself is already on disk. */
static void sync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir] = 0; /* "/x" -> "/" */
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int hc_atomic_commit(hc_atomic_file *af)
{
    /* ferror first: a failed fwrite may have left errno behind while the
     * flush itself had nothing left to write */
    int bad = ferror(af->f) || fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0;
    int saved = errno ? errno : EIO;
    if (fclose(af->f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    af->f = NULL;
    if (bad || rename(af->tmp, af->path) != 0) {
        if (!bad)
            saved = errno;
        unlink(af->tmp);
        return hc_fail(HC_EBAD, "%s: write failed: %s", af->path, strerror(saved));
    }
    sync_dir_of(af->path);
    return 0;
}

void hc_atomic_abort(hc_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    unlink(af->tmp);
}

int hc_atomic_write(const char *path, const void *buf, size_t len)
{
    hc_atomic_file af;
    if (hc_atomic_open(&af, path))
        return -1;
    fwrite(buf, 1, len, af.f);
    return hc_atomic_commit(&af);
}

int hc_refuse_input(const char *out, const char *in, const char *what)
{
    struct stat so, si;
    if (!strcmp(out, in) ||
        (stat(out, &so) == 0 && stat(in, &si) == 0 && so.st_dev == si.st_dev && so.st_ino == si.st_ino))
        return hc_fail(HC_EUSAGE, "%s is %s (%s); it would be overwritten", out, what, in);
    return 0;
}

int hc_copy_into(const char *from_dir, const char *to_dir, const char *name)
{
    char src[4200], dst[4200];
    char *buf;
    size_t len;
    if (hc_path_join(src, sizeof src, from_dir, name) || hc_path_join(dst, sizeof dst, to_dir, name) ||
        hc_read_file(src, 64u << 20, &buf, &len))
        return -1;
    int rc = hc_atomic_write(dst, buf, len);
    free(buf);
    return rc;
}
