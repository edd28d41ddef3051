/* Checked file I/O shared by every reader and writer. */
#ifndef HEADCAL_FILEIO_H
#define HEADCAL_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Reads a whole regular file into a NUL-terminated malloc'd buffer.  Fails
 * (hc_fail, naming the path) on a missing file, a directory, or a file
 * larger than max_bytes. */
int hc_read_file(const char *path, size_t max_bytes, char **buf, size_t *len);

/* Atomic replacement of a file: write to a temporary beside it, fsync,
 * rename, fsync the directory.  hc_atomic_open returns the stream to
 * write; hc_atomic_commit flushes, checks the stream's error flag (so
 * unchecked fwrite calls on af->f are still caught), syncs, closes and
 * renames, or removes the temporary and names the target on any failure;
 * hc_atomic_abort discards it.  rename replaces a symbolic link at the
 * target rather than writing through it, and the old file is untouched
 * until the new one is complete. */
typedef struct {
    FILE *f;
    char path[4096];
    char tmp[4160];
} hc_atomic_file;
int hc_atomic_open(hc_atomic_file *af, const char *path);
int hc_atomic_commit(hc_atomic_file *af);
void hc_atomic_abort(hc_atomic_file *af);

/* Writes text and a newline to path atomically (hc_atomic_*): for the
 * small JSON documents built in memory. */
int hc_write_text(const char *path, const char *text);
/* The whole of buf as the file at path, atomically. */
int hc_atomic_write(const char *path, const void *buf, size_t len);

/* Refuses (a usage error) an output that is one of the command's inputs:
 * the same path, or another name of the same file.  `what` names the
 * input ("the results file", "--data"). */
int hc_refuse_input(const char *out, const char *in, const char *what);

/* Joins dir and name into out (size n); fails if it does not fit. */
int hc_path_join(char *out, size_t n, const char *dir, const char *name);

/* Copies from_dir/name to to_dir/name (atomically, up to 64 MiB). */
int hc_copy_into(const char *from_dir, const char *to_dir, const char *name);

#endif
