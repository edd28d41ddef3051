#!/bin/sh
# The extra builds, for CI (scripts/test.sh runs this when
# HEADCAL_CI_EXTRA=1) or by hand: the working tree is copied to a temporary
# directory, built with ./configure --enable-sanitizers (ASan + UBSan) and
# checked with make check, then `make tsan-check` runs the ThreadSanitizer
# program; last, `make distcheck` in the copy builds the tarball outside it with the portable flags (-march=x86-64: nothing may
# need AVX2 but the kernels that check for it at run time) and checks it
# with the generic kernel.  Exits non-zero on any finding.
set -e
cd "$(dirname "$0")/.."
top="$PWD"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/headcal-san.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C "$tmp" -xf -
[ ! -d tests/peer/node_modules ] || ln -s "$top/tests/peer/node_modules" "$tmp/tests/peer/node_modules"
cd "$tmp"
autoreconf -fi >/dev/null 2>&1
./configure -q --enable-sanitizers
make -s -j"$(nproc)" >/dev/null 2>&1
status=0
make -s -j"$(nproc)" check >/dev/null 2>&1 || status=$?
summary="$(grep 'Synthesis:' tests/test_headcal.log | tail -n 1 || true)"
if [ "$status" -ne 0 ]; then
    # enough lines for a failed screen check, whose message is the screen
    grep -B80 "^\[FAIL\]" tests/test_headcal.log >&2 || true
    echo "ci-extra: make check under ASan + UBSan failed (status $status)" >&2
    exit "$status"
fi
echo "ci-extra: ASan + UBSan make check clean: ${summary#*Synthesis: }"
if ! make -s tsan-check >"$tmp/tsan.log" 2>&1; then
    grep -A40 'WARNING: ThreadSanitizer' "$tmp/tsan.log" | head -n 60 >&2 || tail -n 20 "$tmp/tsan.log" >&2
    echo "ci-extra: ThreadSanitizer check failed" >&2
    exit 1
fi
grep -v '^  CC ' "$tmp/tsan.log" | tail -n 3
echo "ci-extra: ThreadSanitizer check clean"
if ! HEADCAL_KERNEL=generic make -s distcheck DISTCHECK_CONFIGURE_FLAGS='CFLAGS=-O2\ -march=x86-64' \
        >"$tmp/distcheck.log" 2>&1; then
    tail -n 40 "$tmp/distcheck.log" >&2
    echo "ci-extra: make distcheck (portable build, generic kernel) failed" >&2
    exit 1
fi
echo "ci-extra: make distcheck (portable build, generic kernel) clean"
