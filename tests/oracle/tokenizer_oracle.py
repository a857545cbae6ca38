#!/usr/bin/env python3
"""Expected token ids for tests/test_tokenizer*.c, from open_clip's tokenizer.

Writes three gzip files under tests/fixtures/:

  tokenizer_wordnet.bin.gz   ids of every WordNet 3.0 noun lemma (index.noun,
                             underscores turned into spaces) and of the same
                             lemma in "a photo of a {}."; layout: magic
                             "CLPTWNT1", u32 lemma count, u32 CRC-32 of the
                             lemmas joined by newlines, the template's prefix
                             and suffix ids, then per lemma its ids and its
                             template's ids or 0 when the template is prefix
                             + lemma + suffix (a count, then the ids, all
                             LEB128 varints)
  tokenizer_hard.json.gz     ids of a list of hard strings (below)
  tokenizer_codepoints.json.gz
                             for every code point: how CLIP's pre-tokenizer
                             expression classifies it, and what the text
                             cleaning makes of it as a one-character text

open_clip's SimpleTokenizer is the reference. Hugging Face's CLIPTokenizer
(the Rust `tokenizers` backend in transformers 5), built from the same
merges, is run on the same strings: it must agree on every WordNet string,
and the script prints the hard strings where it differs. The library
follows open_clip where the two differ, because open_clip keeps OpenAI's
cleaning (ftfy, HTML unescaping), which is what CLIP was trained with; HF's
tokenizer skips both and normalizes with NFC only.

Run from the repository root with the Python that has open_clip, ftfy,
regex and transformers installed:
    /work/pyenv/bin/python tests/oracle/tokenizer_oracle.py [--wordnet DIR]
"""
import argparse
import gzip
import hashlib
import json
import os
import struct
import sys
import tempfile
import unicodedata
import zlib

import ftfy
import open_clip
import regex
from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode, default_bpe

MERGES_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"
CONTEXT_LENGTH = 77
WORDNET_MAGIC = b"CLPTWNT1"
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

# Strings that exercise every cleaning step and the pre-tokenizer. Each must
# give the same ids from open_clip and from the C library.
LONG_TEXT = (
    "The quick brown fox jumps over the lazy dog while a photographer in a "
    "yellow raincoat takes pictures of the scene, hoping that the light "
    "will hold long enough for one more frame before the storm arrives and "
    "everyone runs for cover under the old oak tree near the river bank, "
    "where the ducks have already gathered in a noisy crowd."
)
HARD_STRINGS = [
    # Plain text, case and whitespace
    "", " ", "x", "hello world", "Hello   World!!", "a photo of a cat",
    "  leading and trailing  ", "MiXeD CaSe WoRdS", "hot_dog", "a_b_c",
    # Contractions and apostrophes
    "don't", "DON'T", "I'm", "we'll", "they've", "you're", "she'd", "it's",
    "It\u2019s", "rock 'n' roll", "'s", "o'clock", "ain't", "y'all", "'''",
    "rock'n'roll", "''quoted''", "\u2018single\u2019", "\u201cdouble\u201d",
    "\u201elow\u201c", "\u2039angle\u203a", "\u00abguillemets\u00bb",
    "\u02bcmodifier apostrophe", "'\u017f", "'S", "can\u2019t won\u2019t",
    # Accents and case mapping
    "caf\u00e9", "na\u00efve", "\u00c6r\u00f8sk\u00f8bing",
    "cr\u00e8me br\u00fbl\u00e9e", "S\u00e3o Paulo", "Z\u00fcrich",
    "Dvo\u0159\u00e1k", "\u0141\u00f3d\u017a", "cafe\u0301",
    "e\u0301\u0301", "\u0130stanbul", "\u0130", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3",
    "\u03a3", "\u03a3\u0391\u03a3 \u03a3\u0391\u03a3.", "\u0391\u03a3'", "\u0391\u03a3\u0301 x",
    "\u00df", "\u1e9e", "\u01c5", "\u0390", "\u212a", "\u00b5", "\u1fbc",
    "\u2126mega", "\u017f",
    # Scripts
    "\u6771\u4eac\u30bf\u30ef\u30fc", "\u5317\u4eac\u5927\u5b66",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
    "\u1100\u1161\u11a8",
    # Full-width and half-width forms
    "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", "\uff11\uff12\uff13",
    "\uff21\uff22\uff23\uff01", "\uff73\uff99\uff84\uff97\uff8f\uff9d", "\uff35\uff80\uff70\uff9d",
    "\uff76\uff9e", "\uffe3\uffe5\uffe0", "\uffa1\uffa4",
    # Ligatures and digraphs
    "\ufb01nance \ufb02ow \ufb00 \ufb03 \ufb04 \ufb05 \ufb06", "\u0132ssel", "\u01c6", "\u0149",
    "\u01f1\u01f2\u01f3",
    # Emoji and symbols
    "I \u2764\ufe0f NY", "\U0001f44d\U0001f3fd", "family \U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f1eb\U0001f1f7 flag", "\U0001f600\U0001f600\U0001f600", "\u2603 \u2605 \u2192 \u221e",
    "\u00a9 \u00ae \u2122", "$100 \u20ac50 \u00a320 \u00a5",
    # Digits and separators
    "123", "3.14159", "1,000,000", "2024-01-31", "12:30pm", "+1 (555) 123-4567",
    "\u00bd \u00bc \u00be", "\u00b2\u00b3", "\u0663", "\u0664\u0665", "\u216b", "\u2460",
    "10\u00b3", "0x1F", "1e-9", "v2.0.1",
    # Repeated punctuation
    "!!!", "?!?!", "...", "----", "***", "wow!!!!!!!!", "(((x)))", "#hashtag @user",
    "a.b.c", "e.g.,", "--flag=value", "<<>>", "\\path\\to", "~~~", "\u2026",
    # Tabs, newlines and other whitespace
    "a\tb", "line1\nline2", "a\r\nb", "a\rb", "\u2028sep\u2029", "\u00a0nbsp\u00a0",
    "x\u3000y", "\x1cfile sep\x1f", "a\x0bb\x0cc", "a\u2003b\u2009c", "a\u200bb",
    "\n\n", "\t", "a\u0085b", "a\u180eb", "a\u205fb\u202fc",
    # Control and format characters
    "a\x07b", "\ufeffBOM", "x\u206ay", "\ufffc", "a\x7fb", "\x1b[36;44mblue\x1b[0m",
    "\x1b[1mbold", "\x1b]not", "soft\u00adhyphen", "a\u200db", "\u200eltr\u200f",
    "\x80\x93\x9f", "\x81\x8d", "bell\x07\x08",
    # HTML references
    "&amp;", "&lt;b&gt;", "AT&amp;T", "&amp;amp;amp;", "&quot;hi&quot;", "&eacute;",
    "P&EACUTE;REZ", "&#39;", "&#x27;", "&#8217;", "&#128;", "&nbsp;", "&notit;",
    "&amp", "Tom &amp Jerry", "<b>&ldquo;bold&rdquo;</b>", "a < b &amp; c", "&#0;",
    "&#x110000;", "&#xD800;", "&#1;", "&SZLIG;", "fish &chips;", "&#12a;", "&#65",
    "&ampamp;", "&amp;lt;", "&#x41;&#X42;&#67;", "&copy 2024", "&NotANamedEntity;",
    "&aacute;&Aacute;&AACUTE;", "&lt;x&gt;\n&amp;", "line\n<tag>\n&amp;", "&#13;x&#10;y",
    "&#x1F600;", "&#99999999999999999999;", "&Jscr;ohn", "&nGt;", "&;", "&#;",
    "&#x;", "& amp;", "&&amp;", "&amp;&amp;&amp;",
    # Special-token spellings
    "<start_of_text>", "<end_of_text>", "a <end_of_text> b", "<|startoftext|>",
    "<|endoftext|>", "<START_OF_TEXT>", "<\u017ftart_of_text>",
    # U+0345 is dropped by the reference's case-insensitive expression
    "a\u0345b", "\u03b1\u0345", "x \u0345 y", "\u0345",
    # Long pre-tokens and long text
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious" * 3,
    "!" * 100, "\U0001f600" * 30, "\u6771" * 60, "ab" * 150,
    LONG_TEXT, LONG_TEXT.upper(), LONG_TEXT + " " + LONG_TEXT, " ".join(["word"] * 80),
    # 77 ids exactly (no truncation), then one more
    " ".join(["word"] * 75), " ".join(["word"] * 76),
]

# Mojibake that ftfy repairs and the library does not (documented there);
# printed for reference, not part of the fixture.
MOJIBAKE = ["caf\u00c3\u00a9", "\u00e2\u0153\u201d No problems", "voil\u00c3 le travail"]


def read_lemmas(wordnet_dir):
    lemmas = []
    with open(os.path.join(wordnet_dir, "index.noun"), encoding="ascii") as f:
        for line in f:
            if line.startswith(" "):
                continue
            lemmas.append(line.split(" ", 1)[0].replace("_", " "))
    return lemmas


def build_hf(directory):
    """Writes vocab.json and merges.txt for the gz merges and loads HF's tokenizer."""
    byte_chars = list(bytes_to_unicode().values())
    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({token: i for i, token in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.write("\n".join(" ".join(m) for m in merges) + "\n")
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(directory).backend_tokenizer


def write_varint(out, value):
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def pretoken_class(pattern, c):
    """L (letter run), N (single number), S (symbol run) or W (whitespace)."""
    found = regex.findall(pattern, "a" + c + c + "1")
    if found == ["a" + c + c, "1"]:
        return "L"
    if found == ["a", c, c, "1"]:
        return "N"
    if found == ["a", c + c, "1"]:
        return "S"
    if found == ["a", "1"]:
        return "W"
    raise AssertionError(f"U+{ord(c):04X} splits as {found!r}")


def runs(values):
    """[(first, last, value)] over code points 0..0x10FFFF, surrogates skipped."""
    out = []
    for cp, value in values:
        if out and out[-1][2] == value and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp, value])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wordnet", default="/usr/share/wordnet")
    args = parser.parse_args()

    with open(default_bpe(), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest == MERGES_SHA256, f"unexpected merges file {default_bpe()}: {digest}"
    tok = SimpleTokenizer()
    sot, eot = tok.sot_token_id, tok.eot_token_id
    print(f"open_clip {open_clip.__version__}, ftfy {ftfy.__version__}, regex "
          f"{regex.__version__}, Python unicodedata {unicodedata.unidata_version}")

    def reference(text):
        return [sot] + tok.encode(text) + [eot]

    with tempfile.TemporaryDirectory() as directory:
        hf = build_hf(directory)

    # WordNet lemmas and the photo template. Almost every template row is
    # the prefix, the lemma's ids between start and end, then the suffix;
    # such a row is stored as a 0, and the others are stored whole.
    lemmas = read_lemmas(args.wordnet)
    prefix, suffix = reference("a photo of a")[:-1], reference(".")[1:]
    blob = bytearray(WORDNET_MAGIC)
    blob += struct.pack("<II", len(lemmas), zlib.crc32("\n".join(lemmas).encode()))
    for part in (prefix, suffix):
        write_varint(blob, len(part))
        for i in part:
            write_varint(blob, i)
    hf_disagree = explicit = 0
    for lemma in lemmas:
        ids = reference(lemma)
        template = reference(f"a photo of a {lemma}.")
        for text, row in ((lemma, ids), (f"a photo of a {lemma}.", template)):
            if hf.encode(text).ids != row:
                hf_disagree += 1
                print(f"HF differs on WordNet string {text!r}")
        write_varint(blob, len(ids))
        for i in ids:
            write_varint(blob, i)
        if template == prefix + ids[1:-1] + suffix:
            write_varint(blob, 0)
        else:
            explicit += 1
            write_varint(blob, len(template))
            for i in template:
                write_varint(blob, i)
    assert hf_disagree == 0, "HF and open_clip must agree on WordNet"
    with gzip.GzipFile(os.path.join(FIXTURES, "tokenizer_wordnet.bin.gz"), "wb", 9,
                       mtime=0) as f:
        f.write(bytes(blob))
    print(f"WordNet: {len(lemmas)} lemmas x 2 strings, open_clip and HF agree on all; "
          f"{explicit} template rows stored whole")

    # Hard strings; open_clip's own truncated row is kept for long ones.
    cases = []
    print("HF differs from open_clip on these hard strings (the library follows open_clip):")
    for text in HARD_STRINGS:
        assert "\0" not in text
        ids = reference(text)
        case = {"text": text, "ids": ids}
        if len(ids) > CONTEXT_LENGTH:
            case["row"] = tok([text], context_length=CONTEXT_LENGTH)[0].tolist()
        hf_ids = hf.encode(text).ids
        case["hf_agrees"] = hf_ids == ids
        if hf_ids != ids:
            print(f"  {text!r}: open_clip {ids} HF {hf_ids}")
        cases.append(case)
    with gzip.GzipFile(os.path.join(FIXTURES, "tokenizer_hard.json.gz"), "wb", 9, mtime=0) as f:
        f.write(json.dumps({"context_length": CONTEXT_LENGTH, "cases": cases},
                           ensure_ascii=True, indent=0).encode())
    print(f"hard strings: {len(cases)}, HF agrees on {sum(c['hf_agrees'] for c in cases)}")

    # Per code point: pre-token class, Unicode 14 assignment, single-character clean.
    classes, assigned, cleaned = [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        classes.append((cp, pretoken_class(tok.pat, c)))
        assigned.append((cp, unicodedata.category(c) != "Cn"))
        out = tok.clean_fn(c)
        if out != c:
            cleaned.append([cp, out])
    table = {
        "unicode_version": unicodedata.unidata_version,
        "classes": runs(classes),
        "assigned": [[a, b] for a, b, v in runs(assigned) if v],
        "clean": cleaned,
    }
    with gzip.GzipFile(os.path.join(FIXTURES, "tokenizer_codepoints.json.gz"), "wb", 9,
                       mtime=0) as f:
        f.write(json.dumps(table, ensure_ascii=True, separators=(",", ":")).encode())
    print(f"code points: {len(table['classes'])} class runs, {len(cleaned)} changed by the clean")

    print("mojibake that open_clip repairs and the library does not:")
    for text in MOJIBAKE:
        print(f"  {text!r} -> {tok.clean_fn(text)!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
