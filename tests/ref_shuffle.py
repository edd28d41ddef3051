#!/usr/bin/env python3
"""numpy's legacy shuffle of a list: np.random.seed(S); np.random.shuffle.
Prints the shuffled range(N) space-separated.  usage: ref_shuffle.py N S"""
import sys

import numpy as np

n, s = int(sys.argv[1]), int(sys.argv[2])
x = list(range(n))
np.random.seed(s)
np.random.shuffle(x)
print(" ".join(map(str, x)))
