#!/bin/sh
# The layout's boundaries, checked by `make check` (docs/design.md,
# "Architecture"): the engine (src/, src/kernels/) includes neither curses,
# the command line (src/cli/) nor the explorer (tui/); only tui/ includes
# curses; intrinsics live only in src/kernels/; every public header is
# listed in Makefile.am.  Include paths already keep the engine from
# finding tui/ or src/cli/ headers by name; this catches relative paths.
# Usage: check-layout.sh [SRCDIR]; prints each breach, exits 1 if any.
cd "${1:-$(dirname "$0")/..}"
bad=0
# check PATTERN MESSAGE FILE...: each #include of a name matching PATTERN
# in the files is a breach.
check() {
    pat="$1" msg="$2"
    shift 2
    hits="$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pat)" "$@" 2>/dev/null)"
    [ -z "$hits" ] || { printf '%s\n' "$hits" | sed "s|^|check-layout: |; s|\$|: $msg|" >&2; bad=1; }
}
check 'n?curses|term\.h|\.\./|cli/|([^"]*/)?(explorer|cli|run_opts|ui|jobs|graphics)\.h' \
    'the engine includes the terminal, the explorer or the command line' \
    src/*.c src/*.h src/kernels/*.c src/kernels/*.h include/headcal/*.h
check 'n?curses|term\.h|\.\./' 'the command line reaches the explorer only through explorer.h' \
    src/cli/*.c src/cli/*.h
check 'immintrin\.h|x86intrin\.h|cpuid\.h' 'intrinsics belong in src/kernels/' src/*.c src/cli/*.c tui/*.c tui/*.h
check '\.\./|([^"]*/)?(cli|run_opts)\.h' 'the explorer includes the command line' tui/*.c tui/*.h
for h in include/headcal/*.h; do
    grep -q "^[[:space:]]*$h" Makefile.am || { echo "check-layout: $h is not listed in Makefile.am" >&2; bad=1; }
done
exit $bad
