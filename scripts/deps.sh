#!/bin/sh
# Installs what headcal needs to build, test and run on Debian 12.
# Idempotent: skips apt-get when every package is already there.  Slurm and
# munge are for the test that runs the cluster recipes on a Slurm of its own
# (tests/slurm/run.sh); nothing is configured or started system-wide.
# ncurses-term holds the direct-colour terminal descriptions (xterm-direct)
# that the explorer opens under COLORTERM=truecolor.
set -e
PKGS="build-essential autoconf automake libtool pkg-config libopenblas-dev libncurses-dev libcjson-dev
libsixel-dev libsixel-bin libcairo2-dev fonts-dejavu-core libcriterion-dev libpcre2-dev nettle-dev python3 python3-numpy tmux
ncurses-term
clang libclang-rt-14-dev
slurmctld slurmd slurm-client munge"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from elsewhere (with npm bundled): only the commands matter.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
    echo "headcal: installing$missing" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# The tokenizer tests compare against an independent JavaScript encoder
# (tests/peer, pinned by its package-lock.json).
PEER="$(dirname "$0")/../tests/peer"
if [ ! -d "$PEER/node_modules" ]; then
    npm ci --prefix "$PEER" --silent --no-audit --no-fund
fi
