/* Shared test helpers: scratch directories, running the built headcal and
 * the independent reference implementations (numpy, node). */
#ifndef HEADCAL_TEST_HELPERS_H
#define HEADCAL_TEST_HELPERS_H

#include <stddef.h>

/* A fresh empty directory under the build tree's tests/tmp; the caller
 * frees the returned string. */
char *th_tmpdir(const char *tag);
/* Runs a shell command; returns its exit status (or -1).  stdout and stderr
 * are captured into *out / *err when those are not NULL (malloc'd). */
int th_run(const char *cmd, char **out, char **err);
/* Path of the built headcal binary, and of a file in the source tree. */
const char *th_headcal(void);
const char *th_src(const char *rel);
/* The whole file as a NUL-terminated malloc'd string; the test fails if
 * it cannot be read. */
char *th_read(const char *path);
/* The inputs of a small run: a synth model DIR/m (2 layers of 2 heads,
 * d_model 16, 32 positions, this seed) and DIR/d.jsonl, 24 documents of
 * 10 to 16 words from a vocabulary of 12. */
void th_small_run(const char *dir, int seed);
/* dir/name, malloc'd. */
char *th_path(const char *dir, const char *name);
/* Writes len bytes to path; returns 0 on success. */
int th_write_file(const char *path, const void *data, size_t len);

#endif
