#!/usr/bin/env python3
"""Writes tests/fixtures/wordnet-tiny/nltk_pairs.txt: NLTK's wup_similarity
and the textbook value for every ordered pair of synsets of the hand-written
dict in tests/fixtures/wordnet-tiny, plus each synset's name and depths, for
tests/test_wordnet.c.

Run with a Python that has nltk (3.8 or later):
    python3 tests/oracle/wordnet_tiny_nltk.py

NLTK seeks to a synset's offset in data.noun, while the tiny dict uses
offsets as plain labels. The script therefore writes a copy in a temporary
directory with every label replaced by the byte offset of its line. Labels
and byte offsets both have 8 digits, so no line moves. It adds the files
NLTK's reader opens: empty adjective, adverb and verb files, a data.adj
header that names WordNet 3.0, and a lexnames file. The output maps the
offsets back to labels. Lines:
    S <label> <name> <min depth> <max depth>
    P <label a> <label b> <nltk wup> <textbook wup>
The textbook value is defined as in tests/oracle/wordnet_nltk.py."""
import itertools
import os
import re
import shutil
import tempfile
import warnings

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader

HERE = os.path.dirname(os.path.abspath(__file__))
TINY = os.path.join(HERE, "..", "fixtures", "wordnet-tiny")


class DictReader(WordNetCorpusReader):
    """NLTK's reader without the version mapping that needs nltk_data."""

    def map_wn(self, version="wordnet"):
        return None


def write_byte_offset_copy(workdir):
    """Returns {byte offset: label} after writing the converted dict."""
    with open(os.path.join(TINY, "data.noun")) as f:
        lines = f.read().split("\n")
    label_to_byte, position = {}, 0
    for line in lines:
        if line and not line.startswith(" "):
            label_to_byte[line[:8]] = "%08d" % position
        position += len(line) + 1

    def relabel(text):
        return re.sub(r"\b\d{8}\b", lambda m: label_to_byte.get(m.group(0), m.group(0)), text)

    with open(os.path.join(workdir, "data.noun"), "w") as f:
        f.write(relabel("\n".join(lines)))
    with open(os.path.join(TINY, "index.noun")) as f:
        index = f.read()
    with open(os.path.join(workdir, "index.noun"), "w") as f:
        f.write(relabel(index))
    with open(os.path.join(workdir, "data.adj"), "w") as f:
        f.write("  1 WordNet 3.0 Copyright 2006 by Princeton University.\n")
    for name in ["data.verb", "data.adv", "index.adj", "index.adv", "index.verb",
                 "adj.exc", "adv.exc", "noun.exc", "verb.exc"]:
        open(os.path.join(workdir, name), "w").close()
    with open(os.path.join(workdir, "lexnames"), "w") as f:
        f.writelines("%02d\tnoun.file%02d\t1\n" % (i, i) for i in range(45))
    return {int(b): label for label, b in label_to_byte.items()}


def textbook_wup(a, b):
    lcs = a.lowest_common_hypernyms(b, use_min_depth=False)[0]
    depth = lcs.max_depth() + 1
    return 2.0 * depth / (a.max_depth() + 1 + b.max_depth() + 1)


def main():
    workdir = tempfile.mkdtemp(prefix="wordnet-tiny-")
    try:
        label = write_byte_offset_copy(workdir)
        nltk.data.path.append(workdir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wn = DictReader(workdir, None)
        synsets = list(wn.all_synsets("n"))
        lines = ["clipt-fixture wordnet-tiny-nltk 1", "nltk %s" % nltk.__version__]
        for s in synsets:
            lines.append("S %s %s %d %d" % (label[s.offset()], s.name(),
                                            s.min_depth(), s.max_depth()))
        for a, b in itertools.product(synsets, synsets):
            lines.append("P %s %s %r %r" % (label[a.offset()], label[b.offset()],
                                            a.wup_similarity(b), textbook_wup(a, b)))
        with open(os.path.join(TINY, "nltk_pairs.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("wrote %d synsets and %d pairs" % (len(synsets), len(synsets) ** 2))
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
