#!/bin/sh
# Installs dependencies, configures (once) and builds headcal in the source
# tree.  Extra arguments go to ./configure on the first run.
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q "$@"
make -s -j"$(nproc)"
