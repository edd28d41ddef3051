#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "headcal/error.h"
#include "headcal/fileio.h"
#include "helpers.h"

Test(fileio, atomic_write_replaces_only_on_commit)
{
    char *dir = th_tmpdir("fileio");
    char path[4300];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    cr_assert_eq(th_write_file(path, "old", 3), 0);

    hc_atomic_file af;
    cr_assert_eq(hc_atomic_open(&af, path), 0);
    fputs("new contents", af.f);
    char *buf;
    size_t len;
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "old", "the target must be untouched before commit");
    free(buf);
    cr_assert_eq(hc_atomic_commit(&af), 0);
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "new contents");
    cr_assert_eq(len, 12);
    free(buf);

    cr_assert_eq(hc_atomic_open(&af, path), 0);
    fputs("discarded", af.f);
    hc_atomic_abort(&af);
    cr_assert_eq(hc_read_file(path, 100, &buf, &len), 0);
    cr_assert_str_eq(buf, "new contents");
    cr_assert_eq(access(af.tmp, F_OK), -1, "the temporary must be removed");
    free(buf);
    free(dir);
}

Test(fileio, read_errors_name_the_file)
{
    char *buf;
    size_t len;
    cr_assert_eq(hc_read_file("/nonexistent/x.json", 100, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent/x.json") != NULL);
    cr_assert_eq(hc_read_file("/", 100, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "not a regular file") != NULL);
    char *dir = th_tmpdir("fileio");
    char path[4300];
    snprintf(path, sizeof path, "%s/big", dir);
    cr_assert_eq(th_write_file(path, "0123456789", 10), 0);
    cr_assert_eq(hc_read_file(path, 5, &buf, &len), -1);
    cr_assert(strstr(hc_errmsg(), "too large") != NULL);
    free(dir);
}

Test(fileio, unwritable_directory_is_reported)
{
    hc_atomic_file af;
    cr_assert_eq(hc_atomic_open(&af, "/nonexistent-dir/out.json"), -1);
    cr_assert(strstr(hc_errmsg(), "/nonexistent-dir/out.json") != NULL);
    cr_assert_eq(hc_errstatus(), HC_EBAD);
}
