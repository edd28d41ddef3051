#!/bin/sh
# Sets up, builds and runs the whole test suite, printing the test
# program's own output (Criterion's summary line included).
set -e
cd "$(dirname "$0")/.."
sh scripts/build.sh "$@"
status=0
make -s check >/dev/null 2>&1 || status=$?
cat tests/test_headcal.log 2>/dev/null || true
[ "$status" -eq 0 ] || { echo "make check failed (status $status)" >&2; cat tests/test-suite.log >&2 || true; }
exit $status
