#!/usr/bin/env python3
"""Tokenizer throughput of Hugging Face's Rust `tokenizers` on the WordNet
3.0 noun lemmas, one thread, side by side with bench/tokenizer.c.

    python bench/tokenizer_hf.py [--clipt build/bench/tokenizer] [--repeat N]

HF's CLIPTokenizer (transformers 5, backed by `tokenizers`) is built from
vocab.json and merges.txt written from data/bpe_simple_vocab_16e6.txt.gz.
Each repetition builds a fresh tokenizer (not timed) and encodes the whole
list with encode_batch_fast ("cold", its BPE cache starts empty), then
again ("warm"); TOKENIZERS_PARALLELISM=false keeps it on one thread. Ids
are counted with the start and end ids. With --clipt the C benchmark runs
too and the ratio libclipt / HF is printed for both passes.
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import tempfile
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"

MERGES = "data/bpe_simple_vocab_16e6.txt.gz"
CLIP_MERGE_COUNT = 49152 - 256 - 2


def byte_characters():
    """CLIP's characters for bytes 0..255, in vocabulary order."""
    printable = [b for b in range(256) if 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or b >= 0xAE]
    moved = [b for b in range(256) if b not in printable]
    chars = {b: chr(b) for b in printable}
    chars.update({b: chr(0x100 + i) for i, b in enumerate(moved)})
    return [chars[b] for b in printable + moved]


def write_hf_files(directory):
    lines = gzip.open(MERGES).read().decode("utf-8").split("\n")[1:CLIP_MERGE_COUNT + 1]
    merges = [line.split() for line in lines]
    chars = byte_characters()
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({token: i for i, token in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")


def read_lemmas(path):
    with open(path, encoding="ascii") as f:
        return [line.split(" ", 1)[0].replace("_", " ") for line in f if not line.startswith(" ")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", default="/usr/share/wordnet/index.noun")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clipt", help="path of the built bench/tokenizer program")
    args = parser.parse_args()

    from transformers import CLIPTokenizer
    import tokenizers

    lemmas = read_lemmas(args.index)
    best = {"cold": float("inf"), "warm": float("inf")}
    ids = {}
    with tempfile.TemporaryDirectory() as directory:
        write_hf_files(directory)
        for _ in range(args.repeat):
            backend = CLIPTokenizer.from_pretrained(directory).backend_tokenizer
            for name in ("cold", "warm"):
                start = time.perf_counter()
                encodings = backend.encode_batch_fast(lemmas)
                seconds = time.perf_counter() - start
                ids[name] = sum(len(e.ids) for e in encodings)
                best[name] = min(best[name], seconds)
    rates = {}
    for name in ("cold", "warm"):
        rates[name] = ids[name] / best[name]
        print(f"HF tokenizers {tokenizers.__version__} {name}: {len(lemmas)} texts, {ids[name]} "
              f"ids, {best[name]:.4f} s, {rates[name]:.0f} ids/s")

    if args.clipt:
        out = subprocess.run([args.clipt, "--index", args.index, "--repeat", str(args.repeat)],
                             check=True, capture_output=True, text=True).stdout
        print(out, end="")
        for name in ("cold", "warm"):
            found = re.search(rf"libclipt {name}: \d+ texts, (\d+) ids, .*?, (\d+) ids/s", out)
            assert int(found.group(1)) == ids[name], "the two sides counted different ids"
            print(f"ratio {name}: libclipt / HF = {int(found.group(2)) / rates[name]:.1f}x")


if __name__ == "__main__":
    main()
