#!/bin/sh
# Sets up, builds and opens the explorer on the bundled default.
set -e
cd "$(dirname "$0")/.."
sh scripts/build.sh
exec ./headcal "$@"
