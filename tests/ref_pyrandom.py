#!/usr/bin/env python3
"""CPython's random after random.seed(S): 8 getrandbits(32), then
getrandbits(k) for k = 1..32, then _randbelow(n) for the given n, then
shuffle(range(20)) and 5 choice(range(109)); one line, space-separated.
usage: ref_pyrandom.py S N..."""
import random
import sys

random.seed(int(sys.argv[1]))
out = [random.getrandbits(32) for _ in range(8)]
out += [random.getrandbits(k) for k in range(1, 33)]
out += [random._inst._randbelow(int(n)) for n in sys.argv[2:]]
x = list(range(20))
random.shuffle(x)
out += x
out += [random.choice(range(109)) for _ in range(5)]
print(" ".join(map(str, out)))
