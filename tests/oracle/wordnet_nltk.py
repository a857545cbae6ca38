#!/usr/bin/env python3
"""Writes tests/fixtures/wordnet_nltk.txt.gz: Wu-Palmer similarities of noun
synset pairs and of lemma pairs computed by NLTK's wup_similarity, for
tests/test_wordnet.c, and tests/fixtures/wordnet_nltk_speed.txt with NLTK's
pairs per second for bench/wordnet.c.

Run with a Python that has nltk (3.8 or later), on the same WordNet 3.0 dict
directory the C tests read:
    python3 tests/oracle/wordnet_nltk.py [--dict /usr/share/wordnet]

NLTK's reader needs three things a Debian wordnet-base directory lacks or
breaks, and all are handled here, never in the library:
- the `lexnames` file (45 lines "NN name category"). It is rebuilt from the
  lexnames(5WN) man page of the same package, in a temporary directory that
  contains a copy of the dict directory's files (NLTK rejects symbolic links
  that leave the corpus root).
- NLTK 3.9 and later call map_wn() in the reader's constructor, which tries
  to load NLTK's own downloaded WordNet to map versions. A subclass makes it
  return None, as NLTK 3.8.1 did for 3.0 data.
- newer NLTK releases (3.10 here) read corpora only inside the directories
  listed in nltk.data.path, so the temporary directory is added there.

Fixture lines (pairs are ordered: NLTK's value depends on argument order):
    P <category> <offset a> <offset b> <nltk wup> <textbook wup>
    S <offset> <name> <min depth> <max depth>
    W <lemma a> <lemma b> <nltk max over the noun senses>
The textbook value is 2 (D(lcs) + 1) / (D(a) + 1 + D(b) + 1) with D the
max_depth and lcs a common hypernym of greatest max_depth, the one NLTK's
lowest_common_hypernyms(use_min_depth=False) returns. Values are written
with repr(), which round-trips exactly through strtod."""
import argparse
import gzip
import os
import random
import re
import shutil
import tempfile
import time
import warnings

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
SEED = 20240917
CATEGORY_CODES = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class DictReader(WordNetCorpusReader):
    """NLTK's reader without the version mapping that needs nltk_data."""

    def map_wn(self, version="wordnet"):
        return None


def lexnames_from_man_page(path):
    """Returns the 45 lexnames lines "NN name category" from lexnames(5WN)."""
    with gzip.open(path, "rt", encoding="latin-1") as f:
        text = f.read()
    rows = re.findall(r"^(\d\d)\s+([a-z]+\.[A-Za-z]+)\s", text, re.M)
    lines = []
    for number, name in rows:
        if int(number) != len(lines):
            raise SystemExit("lexnames(5WN): unexpected entry %s %s" % (number, name))
        category = CATEGORY_CODES[name.split(".")[0]]
        lines.append("%s\t%s\t%d\n" % (number, name, category))
    if len(lines) != 45:
        raise SystemExit("lexnames(5WN): found %d entries, expected 45" % len(lines))
    return lines


def open_reader(dict_dir, man_page, workdir):
    for name in os.listdir(dict_dir):
        path = os.path.join(dict_dir, name)
        if os.path.isfile(path):
            shutil.copy(path, workdir)
    if not os.path.exists(os.path.join(dict_dir, "lexnames")):
        with open(os.path.join(workdir, "lexnames"), "w") as f:
            f.writelines(lexnames_from_man_page(man_page))
    nltk.data.path.append(workdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return DictReader(workdir, None)


def parents(s):
    return s.hypernyms() + s.instance_hypernyms()


def textbook_wup(a, b):
    lcs = a.lowest_common_hypernyms(b, use_min_depth=False)[0]
    depth = lcs.max_depth() + 1
    return 2.0 * depth / (a.max_depth() + 1 + b.max_depth() + 1)


def build_pairs(wn, nouns, rng):
    """Returns [(category, a, b)], ordered synset pairs of every kind the
    C implementation must reproduce."""
    pairs = []
    by_name = {s.name(): s for s in nouns}
    descendants = {}

    def subtree(s):
        if s.name() not in descendants:
            descendants[s.name()] = list(s.closure(lambda x: x.hyponyms() + x.instance_hyponyms()))
        return descendants[s.name()]

    # Examples whose values are known: asymmetry and self-similarity below 1.
    named = [("dog.n.01", "cat.n.01"), ("dog.n.01", "dog.n.01"),
             ("einstein.n.01", "physicist.n.01"), ("physicist.n.01", "einstein.n.01"),
             ("entity.n.01", "entity.n.01"), ("entity.n.01", "dog.n.01"),
             ("dog.n.01", "entity.n.01"), ("chef.n.01", "fireman.n.01")]
    for a, b in named:
        pairs.append(("named", by_name[a], by_name[b]))

    # Uniformly random pairs.
    for _ in range(2000):
        pairs.append(("random", rng.choice(nouns), rng.choice(nouns)))

    # Pairs inside one subtree of at least 20 synsets.
    roots = [s for s in rng.sample(nouns, 4000) if len(subtree(s)) >= 20]
    for i in range(1000):
        members = subtree(roots[i % len(roots)])
        pairs.append(("subtree", rng.choice(members), rng.choice(members)))

    # Instance synsets with random synsets, each other and their classes.
    instances = [s for s in nouns if s.instance_hypernyms()]
    for i in range(900):
        x = rng.choice(instances)
        kind = i % 3
        y = rng.choice(nouns) if kind == 0 else rng.choice(instances) if kind == 1 \
            else rng.choice(x.instance_hypernyms())
        pairs.append(("instance", x, y) if i % 2 == 0 else ("instance", y, x))

    # Synonymous words: the senses of one lemma compared with each other.
    polysemous = [l for l, m in wn._lemma_pos_offset_map.items() if len(m.get("n", [])) >= 2]
    for _ in range(500):
        offsets = wn._lemma_pos_offset_map[rng.choice(polysemous)]["n"]
        a, b = rng.sample(offsets, 2)
        pairs.append(("senses", wn.synset_from_pos_and_offset("n", a),
                      wn.synset_from_pos_and_offset("n", b)))

    # Self pairs: a random sample, plus every synset of a larger sample whose
    # self-similarity is below 1.
    for s in rng.sample(nouns, 500):
        pairs.append(("self", s, s))
    for s in rng.sample(nouns, 8000):
        if s.wup_similarity(s) < 1.0:
            pairs.append(("self-below-1", s, s))

    # Multiple inheritance: synsets with two or more parents against random
    # synsets, their own ancestors, and each other.
    multi = [s for s in nouns if len(parents(s)) >= 2]
    for i in range(1000):
        x = rng.choice(multi)
        kind = i % 3
        if kind == 0:
            y = rng.choice(nouns)
        elif kind == 1:
            y = rng.choice(sorted(set(x.closure(parents))))
        else:
            y = rng.choice(multi)
        pairs.append(("multi", x, y) if i % 2 == 0 else ("multi", y, x))

    # A synset with a hypernym at distance 1 to 5, in both orders.
    for i in range(600):
        x = rng.choice(nouns)
        y = x
        for _ in range(1 + i % 5):
            up = parents(y)
            if not up:
                break
            y = rng.choice(up)
        pairs.append(("hypernym", x, y) if i % 2 == 0 else ("hypernym", y, x))
    return pairs


def build_word_pairs(wn, nouns, rng):
    """Returns [(lemma a, lemma b)] for the word-level maximum."""
    lemmas = sorted(l for l, m in wn._lemma_pos_offset_map.items() if "n" in m)
    words = []
    for _ in range(150):
        words.append((rng.choice(lemmas), rng.choice(lemmas)))
    for _ in range(100):  # synonyms: two lemmas of one synset
        s = rng.choice([s for s in rng.sample(nouns, 50) if len(s.lemma_names()) >= 2])
        a, b = rng.sample(s.lemma_names(), 2)
        words.append((a.lower(), b.lower()))
    for _ in range(100):  # a lemma and a lemma of one of its hypernyms
        s = rng.choice([s for s in rng.sample(nouns, 50) if parents(s)])
        words.append((rng.choice(s.lemma_names()).lower(),
                      rng.choice(rng.choice(parents(s)).lemma_names()).lower()))
    for a, b in [("dog", "cat"), ("dog", "dog"), ("car", "automobile"),
                 ("bank", "river"), ("head", "body"), ("einstein", "physicist")]:
        words.append((a, b))
    return words


def word_wup(wn, a, b):
    senses_a = [wn.synset_from_pos_and_offset("n", o) for o in wn._lemma_pos_offset_map[a]["n"]]
    senses_b = [wn.synset_from_pos_and_offset("n", o) for o in wn._lemma_pos_offset_map[b]["n"]]
    return max(x.wup_similarity(y) for x in senses_a for y in senses_b)


def measure_pairs_per_second(nouns, rng, count=20000):
    """NLTK's throughput on uniformly random pairs, with every synset already
    loaded and its ancestor set cached (the best case for NLTK)."""
    sample = [(rng.choice(nouns), rng.choice(nouns)) for _ in range(count)]
    for a, b in sample:
        a.wup_similarity(b)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for a, b in sample:
            a.wup_similarity(b)
        best = max(best, count / (time.perf_counter() - t0))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict", default="/usr/share/wordnet",
                        help="WordNet 3.0 dict directory (default /usr/share/wordnet)")
    parser.add_argument("--man-page", default="/usr/share/man/man5/lexnames.5WN.gz",
                        help="lexnames(5WN) man page used to rebuild the lexnames file")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="wordnet-nltk-")
    try:
        wn = open_reader(args.dict, args.man_page, workdir)
        rng = random.Random(SEED)
        nouns = list(wn.all_synsets("n"))
        pairs = build_pairs(wn, nouns, rng)
        words = build_word_pairs(wn, nouns, rng)

        lines = ["clipt-fixture wordnet-nltk 1",
                 "nltk %s" % nltk.__version__,
                 "dict %s synsets %d" % (args.dict, len(nouns))]
        for category, a, b in pairs:
            lines.append("P %s %08d %08d %r %r" % (category, a.offset(), b.offset(),
                                                    a.wup_similarity(b), textbook_wup(a, b)))
        listed = {s.offset(): s for c, a, b in pairs if c == "named" for s in (a, b)}
        for s in rng.sample(nouns, 3000):
            listed[s.offset()] = s
        for offset in sorted(listed):
            s = listed[offset]
            lines.append("S %08d %s %d %d" % (offset, s.name(), s.min_depth(), s.max_depth()))
        for a, b in words:
            lines.append("W %s %s %r" % (a, b, word_wup(wn, a, b)))

        speed = measure_pairs_per_second(nouns, rng)
        with gzip.GzipFile(os.path.join(FIXTURES, "wordnet_nltk.txt.gz"), "wb", mtime=0) as f:
            f.write(("\n".join(lines) + "\n").encode("ascii"))
        with open(os.path.join(FIXTURES, "wordnet_nltk_speed.txt"), "w") as f:
            f.write("# NLTK %s wup_similarity on random noun pairs of %s, warm caches,\n"
                    "# best of 3 runs of 20000 pairs (tests/oracle/wordnet_nltk.py)\n"
                    "nltk_pairs_per_second %.0f\n" % (nltk.__version__, args.dict, speed))
        print("wrote %d synset pairs, %d synsets, %d word pairs; NLTK %.0f pairs/s"
              % (len(pairs), len(listed), len(words), speed))
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
