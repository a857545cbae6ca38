#!/usr/bin/env python3
"""Writes tests/fixtures/stats_scipy.txt: Spearman and Pearson correlations
from scipy.stats on seeded data with many ties (values rounded to a grid),
for tests/test_stats.c.

    python3 tests/oracle/scipy_stats.py
"""
import os

import warnings

import numpy as np
from scipy.stats import pearsonr, spearmanr

warnings.simplefilter("ignore")  # scipy warns on the constant case, which is intended
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stats_scipy.txt")
rng = np.random.default_rng(5)
lines = ["clipt-fixture stats 1"]
for case, n in enumerate([2, 3, 17, 500]):
    x = np.round(rng.random(n) * 8) / 8          # heavy ties
    y = np.round(0.6 * x + 0.4 * rng.random(n), 3)
    if n == 2:
        y = np.array([0.2, 0.1])
    lines += ["n %d" % n,
              "x " + " ".join("%.17g" % v for v in x),
              "y " + " ".join("%.17g" % v for v in y),
              "spearman %.17g" % spearmanr(x, y).correlation,
              "pearson %.17g" % pearsonr(x, y)[0]]
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote", os.path.normpath(OUT))
