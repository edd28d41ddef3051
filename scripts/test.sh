#!/bin/sh
# Sets up, builds and runs the whole test suite, printing the test
# program's own output (Criterion's summary line included, last).  With
# clang, a short fuzzing smoke test follows make check (scripts/fuzz-smoke.sh,
# about 2 minutes); HEADCAL_CI_EXTRA=1 adds the sanitizer builds
# (scripts/ci-extra.sh, a few minutes more).
set -e
cd "$(dirname "$0")/.."
sh scripts/build.sh "$@"
status=0
make -s check >/dev/null 2>&1 || status=$?
if [ "$status" -eq 0 ] && command -v clang >/dev/null 2>&1; then
    sh scripts/fuzz-smoke.sh || status=$?
fi
if [ "$status" -eq 0 ] && [ "${HEADCAL_CI_EXTRA:-0}" = 1 ]; then
    sh scripts/ci-extra.sh || status=$?
fi
cat tests/test_headcal.log 2>/dev/null || true
[ "$status" -eq 0 ] || echo "tests failed (status $status)" >&2
exit $status
