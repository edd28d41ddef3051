#!/bin/sh
# Compiles the engine's C sources into a static archive with another
# compiler or instrumentation (make fuzz, make tsan-check).
# Usage: engine-lib.sh ARCHIVE "CC FLAGS..." SRCDIR SOURCE...
# Sources not ending in .c are skipped; FLAGS are parsed by the shell, so
# quoted macro values (-DX='"v"') keep their quotes.
set -e
archive="$1" cc="$2" srcdir="$3"
shift 3
objdir="$archive.obj"
rm -rf "$objdir" "$archive"
mkdir -p "$objdir"
for f in "$@"; do
    case "$f" in *.c) ;; *) continue ;; esac
    echo "  CC       $f"
    o="$objdir/$(echo "$f" | tr / _).o"
    eval "$cc -c -o \"\$o\" \"\$srcdir/\$f\""
done
ar cr "$archive" "$objdir"/*.o
