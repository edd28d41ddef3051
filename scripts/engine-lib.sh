#!/bin/sh
# Compiles the engine's C sources into a static archive with another
# compiler or instrumentation (make fuzz, make tsan-check).
# Usage: engine-lib.sh ARCHIVE SRCDIR SOURCE... -- CC [FLAGS...]
# Sources not ending in .c are skipped.
set -e
archive="$1" srcdir="$2"
shift 2
srcs=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    srcs="$srcs $1"
    shift
done
[ "$1" = "--" ] || { echo "engine-lib.sh: no -- CC" >&2; exit 2; }
shift
objdir="$archive.obj"
rm -rf "$objdir" "$archive"
mkdir -p "$objdir"
for f in $srcs; do
    case "$f" in *.c) ;; *) continue ;; esac
    echo "  CC       $f"
    "$@" -c -o "$objdir/$(echo "$f" | tr / _).o" "$srcdir/$f"
done
ar cr "$archive" "$objdir"/*.o
