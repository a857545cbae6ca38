#!/usr/bin/env python3
"""Writes the held-out evaluation pairs of a PyTorch reference run (a
separate PyTorch implementation of the same training, whose cache is a
pickle with the keys ev_held and y_held) as a pairs file for
`build/examples/eval --pairs-file`, so that a libclipt model and the
reference are scored on the very same 3000 pairs.

    python3 bench/reference_pairs.py $FEAS_CACHE/data.pkl > /tmp/reference_pairs.tsv

The reference labels a hypernym pair in either direction "hyp"; both become
"hypernym" here, so the per-kind rows for hypernym and hyponym differ from
finetune's own split. The texts are lemmas with underscores as spaces.
"""
import pickle
import sys

KINDS = {"syn": "synonym", "hyp": "hypernym", "sib": "co-hyponym", "rnd": "random"}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: reference_pairs.py DATA_PKL")
    with open(sys.argv[1], "rb") as f:
        data = pickle.load(f)
    for (a, b, ta, tb, kind), y in zip(data["ev_held"], data["y_held"]):
        if "\t" in ta or "\t" in tb:
            sys.exit("a text contains a tab: %r %r" % (ta, tb))
        print("%s\t%s\t%.17g\t%s" % (ta, tb, float(y), KINDS[kind]))


if __name__ == "__main__":
    main()
