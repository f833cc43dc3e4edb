#!/usr/bin/env python3
"""A byte-level BPE tokenizer, trained by the project, saved as a Hugging Face `tokenizer.json`.

    /usr/bin/python3 examples/scripts/bpe_tokenizer.py train            # examples/data -> examples/models/*/
    /usr/bin/python3 examples/scripts/bpe_tokenizer.py encode --text "In the beginning"
    /usr/bin/python3 examples/scripts/bpe_tokenizer.py --help

GPT-2-style byte-level BPE, written out in full here (trainer, encoder, decoder) so that nothing is
borrowed from a library whose behaviour we would then have to trust:

* pre-tokenization: the GPT-2 regex (`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|
  \\s+(?!\\S)|\\s+`, the pattern of the Hugging Face `ByteLevel` pre-tokenizer with `use_regex: true`,
  no prefix space), then each piece's UTF-8 bytes mapped to printable characters (GPT-2's
  `bytes_to_unicode`);
* model: ids 0..255 are the 256 bytes (id = byte value), then one id per new merged string in
  training order, then the special token `<|endoftext|>` (BOS, EOS and PAD) as the last id;
* training: count pre-tokenized words in the training text, then repeatedly merge the most frequent
  adjacent pair (ties: the smaller (left, right) pair of token strings), with incremental pair counts;
* encoding: split on `<|endoftext|>` first, then per piece merge the lowest-ranked pair until none
  applies (the leftmost on equal rank); `add_special_tokens=True` prepends `<|endoftext|>` (the
  `TemplateProcessing` post-processor in tokenizer.json does the same);
* decoding: special tokens verbatim (or skipped), other tokens' bytes concatenated and decoded as
  UTF-8 with U+FFFD for invalid sequences.

`train` writes `tokenizer.json` + `tokenizer_config.json` into each model folder and
`examples/data/tokenizer-cases.json`: texts with the ids and decodings this implementation gives, which
`examples/test/tokenizer.test.ts` checks `@huggingface/tokenizers` (JS) against.

Needs the `regex` module for `\\p{L}` / `\\p{N}` (Debian: apt-get install python3-regex).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import heapq
import json
import os
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import regex
except ImportError:  # pragma: no cover - environment problem, said plainly
    sys.exit("bpe_tokenizer.py needs the `regex` module (\\p{L}, \\p{N}): apt-get install python3-regex "
             "(Debian) or pip install regex")

import prepare_kjv  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA_DIR = os.path.join(REPO_ROOT, "examples", "data")
DEFAULT_MODEL_DIRS = [os.path.join(REPO_ROOT, "examples", "models", n) for n in ("kjv-gpt2", "kjv-llama")]

EOT = "<|endoftext|>"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_PAT = regex.compile(GPT2_PATTERN)
DEFAULT_VOCAB_SIZE = 2048


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map (printable Latin-1 bytes map to themselves)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENCODER = bytes_to_unicode()
BYTE_DECODER = {c: b for b, c in BYTE_ENCODER.items()}


def pre_tokenize(text: str) -> List[str]:
    """GPT-2 regex split, each piece as byte-level characters (what the HF ByteLevel pre-tokenizer yields)."""
    return ["".join(BYTE_ENCODER[b] for b in piece.encode("utf-8")) for piece in _PAT.findall(text)]


class ByteLevelBPE:
    """A trained byte-level BPE: `vocab` (token string -> id), `merges` (in rank order), one special token."""

    def __init__(self, vocab: Dict[str, int], merges: Sequence[Tuple[str, str]], special_token: str = EOT):
        self.vocab = dict(vocab)
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.special_token = special_token
        if special_token not in self.vocab:
            raise ValueError(f"special token {special_token!r} is not in the vocabulary")
        self.special_id = self.vocab[special_token]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        if len(self.id_to_token) != len(self.vocab):
            raise ValueError("vocabulary ids are not unique")
        self._cache: Dict[str, List[int]] = {}

    # ---------------------------------------------------------------- training
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = DEFAULT_VOCAB_SIZE, special_token: str = EOT,
              verbose: bool = False) -> "ByteLevelBPE":
        """Learn merges over the pre-tokenized words of `texts` until the vocabulary (256 bytes, merged
        strings, the special token) has `vocab_size` entries."""
        n_tokens_wanted = vocab_size - 1  # all but the special token
        if n_tokens_wanted < 256:
            raise ValueError(f"vocab_size {vocab_size} < 257 (256 bytes + {special_token})")
        counts: collections.Counter = collections.Counter()
        for t in texts:
            for piece in t.split(special_token):
                counts.update(pre_tokenize(piece))
        words: List[List[str]] = [list(w) for w in sorted(counts)]
        freqs: List[int] = [counts[w] for w in sorted(counts)]

        pair_counts: Dict[Tuple[str, str], int] = collections.defaultdict(int)
        where: Dict[Tuple[str, str], set] = collections.defaultdict(set)
        for wi, w in enumerate(words):
            for a, b in zip(w, w[1:]):
                pair_counts[(a, b)] += freqs[wi]
                where[(a, b)].add(wi)
        heap = [(-c, p) for p, c in pair_counts.items()]
        heapq.heapify(heap)

        merges: List[Tuple[str, str]] = []
        tokens = {BYTE_ENCODER[b] for b in range(256)}
        t0 = time.perf_counter()
        # A merge may produce a string that an earlier merge already produced ("t"+"he" after
        # "th"+"e"): it is still a merge (encoding needs it) but adds no token, as in the HF trainer.
        while len(tokens) < n_tokens_wanted and heap:
            neg, pair = heapq.heappop(heap)
            cur = pair_counts.get(pair, 0)
            if cur <= 0:
                continue
            if -neg != cur:  # stale heap entry: re-push with the current count
                heapq.heappush(heap, (-cur, pair))
                continue
            merges.append(pair)
            a, b = pair
            merged = a + b
            tokens.add(merged)
            touched: Dict[Tuple[str, str], int] = collections.defaultdict(int)
            for wi in sorted(where.pop(pair, ())):
                w = words[wi]
                f = freqs[wi]
                for x, y in zip(w, w[1:]):
                    touched[(x, y)] -= f
                out: List[str] = []
                i = 0
                while i < len(w):
                    if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                        out.append(merged)
                        i += 2
                    else:
                        out.append(w[i])
                        i += 1
                words[wi] = out
                for x, y in zip(out, out[1:]):
                    touched[(x, y)] += f
                    where[(x, y)].add(wi)
            for p, d in touched.items():
                if d == 0:
                    continue
                pair_counts[p] = pair_counts.get(p, 0) + d
                if pair_counts[p] <= 0:
                    pair_counts.pop(p, None)
                elif d > 0:
                    heapq.heappush(heap, (-pair_counts[p], p))
            pair_counts.pop(pair, None)
            if verbose and len(merges) % 250 == 0:
                print(f"  {len(merges)} merges ({time.perf_counter() - t0:.1f} s), last {a!r}+{b!r} x{cur}")

        vocab: Dict[str, int] = {BYTE_ENCODER[b]: b for b in range(256)}
        for a, b in merges:
            vocab.setdefault(a + b, len(vocab))
        vocab[special_token] = len(vocab)
        return cls(vocab, merges, special_token)

    # ---------------------------------------------------------------- encode / decode
    def _bpe(self, piece: str) -> List[int]:
        """Merge one pre-tokenized piece: lowest rank first, leftmost on equal rank.

        The same procedure as the Rust `tokenizers` crate (`Word::merge_all`) and tokenizers.js: a
        priority queue of (rank, position of the left symbol) over a linked list of symbols. (The
        textbook loop "merge every occurrence of the best pair, repeat" differs from it when two
        merges produce the same string, which byte-level BPE training does produce.)
        """
        hit = self._cache.get(piece)
        if hit is not None:
            return hit
        toks = list(piece)
        n = len(toks)
        nxt = list(range(1, n)) + [-1]
        prv = list(range(-1, n - 1))
        alive = [True] * n
        heap: List[Tuple[int, int, str, str]] = []
        for i in range(n - 1):
            r = self.ranks.get((toks[i], toks[i + 1]))
            if r is not None:
                heap.append((r, i, toks[i], toks[i + 1]))
        heapq.heapify(heap)
        while heap:
            _, pos, a, b = heapq.heappop(heap)
            j = nxt[pos]
            if not alive[pos] or j < 0 or toks[pos] != a or toks[j] != b:
                continue  # stale entry
            toks[pos] = a + b
            alive[j] = False
            nxt[pos] = nxt[j]
            if nxt[j] >= 0:
                prv[nxt[j]] = pos
            p = prv[pos]
            if p >= 0:
                r = self.ranks.get((toks[p], toks[pos]))
                if r is not None:
                    heapq.heappush(heap, (r, p, toks[p], toks[pos]))
            q = nxt[pos]
            if q >= 0:
                r = self.ranks.get((toks[pos], toks[q]))
                if r is not None:
                    heapq.heappush(heap, (r, pos, toks[pos], toks[q]))
        ids = [self.vocab[toks[i]] for i in range(n) if alive[i]]
        self._cache[piece] = ids
        return ids

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        """Token ids of `text`; `<|endoftext|>` in the text is the special token; BOS prepended if asked."""
        ids: List[int] = [self.special_id] if add_special_tokens else []
        for k, part in enumerate(text.split(self.special_token)):
            if k > 0:
                ids.append(self.special_id)
            for piece in pre_tokenize(part):
                ids.extend(self._bpe(piece))
        return ids

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        out: List[str] = []
        buf = bytearray()
        for i in ids:
            tok = self.id_to_token[int(i)]
            if tok == self.special_token:
                if buf:
                    out.append(buf.decode("utf-8", errors="replace"))
                    buf = bytearray()
                if not skip_special_tokens:
                    out.append(tok)
            else:
                buf.extend(BYTE_DECODER[c] for c in tok)
        if buf:
            out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    # ---------------------------------------------------------------- Hugging Face files
    def to_hf_json(self) -> dict:
        """The `tokenizer.json` of the Hugging Face `tokenizers` library (format of tokenizers 0.20+)."""
        special = {"id": self.special_id, "content": self.special_token, "single_word": False, "lstrip": False,
                   "rstrip": False, "normalized": False, "special": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [special],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": self.special_token, "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": self.special_token, "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": self.special_token, "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {self.special_token: {"id": self.special_token, "ids": [self.special_id],
                                                        "tokens": [self.special_token]}},
            },
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": dict(sorted(self.vocab.items(), key=lambda kv: kv[1])),
                "merges": [[a, b] for a, b in self.merges],
            },
        }

    def hf_tokenizer_config(self, model_max_length: int) -> dict:
        """`tokenizer_config.json`: special tokens and no clean-up of spaces (decode is exact)."""
        return {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self.special_token,
            "eos_token": self.special_token,
            "pad_token": self.special_token,
            "unk_token": None,
            "add_bos_token": True,
            "add_eos_token": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": model_max_length,
            "added_tokens_decoder": {str(self.special_id): {"content": self.special_token, "lstrip": False,
                                                           "normalized": False, "rstrip": False,
                                                           "single_word": False, "special": True}},
        }

    @classmethod
    def from_hf_json(cls, d: dict) -> "ByteLevelBPE":
        m = d["model"]
        special = [t["content"] for t in d.get("added_tokens", []) if t.get("special")]
        if m.get("type") != "BPE" or len(special) != 1:
            raise ValueError("not a tokenizer.json written by bpe_tokenizer.py (BPE with one special token)")
        merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ", 1)) for x in m["merges"]]
        vocab = dict(m["vocab"])
        for t in d["added_tokens"]:
            vocab[t["content"]] = t["id"]
        return cls(vocab, merges, special[0])

    @classmethod
    def load(cls, path: str) -> "ByteLevelBPE":
        with open(path, encoding="utf-8") as f:
            return cls.from_hf_json(json.load(f))


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------

def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_if_changed(path: str, data: bytes) -> bool:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return True


# Edge cases the JS tokenizer must agree on, besides verses of the validation text.
EDGE_CASES = [
    "",
    " ",
    "In the beginning God created the heaven and the earth.",
    "  leading spaces, trailing spaces   ",
    "line one\nline two\n\n\nafter blank lines\n",
    "tabs\tand\r\nwindows line ends\r\n",
    "I'm sure they'll say it's what we've done; he'd said you're right. DON'T SHOUT's",
    "numbers 3:16, 1611 A.D., 12345678901234567890 and 1.5e-3",
    "punctuation!!! ...? (brackets) [x] {y} \"quotes\" 'single' -- dashes -- @#$%^&*_+=~`|\\/<>",
    "naïve café résumé — “curly quotes” ‘too’ … £5 €10",
    "Ελληνικά, русский, עברית, العربية, 中文, 日本語のテキスト, 한국어",
    "emoji 🙂👍🏽 👨‍👩‍👧 and symbols ∑ √ ∞ ≠",
    "ﬁ ligature, full-width ＡＢＣ１２３, superscript ² and ½",
    f"before{EOT}after",
    f"{EOT}starts with the special token",
    f"ends with it{EOT}",
    f"two{EOT}{EOT}in a row",
    "<|endoftext| almost special <|endoftext",
    "a" * 300,
    "The LORD is my shepherd; I shall not want.",
]


def make_cases(tok: ByteLevelBPE, valid_path: str, n_verses: int) -> dict:
    docs = prepare_kjv.chapter_documents(valid_path)
    verses = [v for d in docs for v in d.split("\n")]
    step = max(1, len(verses) // n_verses)
    texts = EDGE_CASES + verses[::step][:n_verses] + [docs[0]]
    cases = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=True)
        cases.append({
            "text": t,
            "ids": ids,
            "ids_without_special": tok.encode(t, add_special_tokens=False),
            "decoded": tok.decode(ids),
            "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
        })
    with open(valid_path, encoding="utf-8") as f:
        whole = f.read()
    whole_ids = tok.encode(whole, add_special_tokens=False)
    return {
        "generator": "examples/scripts/bpe_tokenizer.py train",
        "tokenizer": "examples/models/kjv-gpt2/tokenizer.json",
        "note": "ids from the Python implementation in bpe_tokenizer.py; decoded = decode(ids) with special tokens kept",
        "cases": cases,
        "whole_file": {
            "file": "examples/data/" + os.path.basename(valid_path),
            "ids_count": len(whole_ids),
            "ids_sha256": hashlib.sha256(",".join(map(str, whole_ids)).encode()).hexdigest(),
            "ids_sha256_note": "sha256 of the decimal ids joined by ',' (encode without special tokens)",
        },
    }


def cmd_train(args) -> int:
    t0 = time.perf_counter()
    train_docs = prepare_kjv.chapter_documents(os.path.join(args.data, "kjv-train.txt"))
    tok = ByteLevelBPE.train(train_docs, vocab_size=args.vocab_size, verbose=args.verbose)
    t_train = time.perf_counter() - t0
    print(f"trained {len(tok.merges)} merges, vocab {len(tok.vocab)} in {t_train:.1f} s "
          f"(special {EOT} = id {tok.special_id})")

    t0 = time.perf_counter()
    n_tokens = sum(len(tok.encode(d, add_special_tokens=True)) for d in train_docs)
    n_chars = sum(len(d) + 1 for d in train_docs)
    print(f"train split: {n_tokens} tokens incl. one {EOT} per chapter ({n_chars / n_tokens:.2f} chars/token), "
          f"encoded in {time.perf_counter() - t0:.1f} s")
    longest = sorted((t for t in tok.vocab if t != EOT), key=lambda t: (-len(t), t))[:12]
    print("longest tokens: " + ", ".join(repr(tok.decode([tok.vocab[t]])) for t in longest))

    tj = json_bytes(tok.to_hf_json())
    tc = json_bytes(tok.hf_tokenizer_config(args.model_max_length))
    for d in args.model_dirs:
        for name, data in (("tokenizer.json", tj), ("tokenizer_config.json", tc)):
            path = os.path.join(d, name)
            changed = write_if_changed(path, data)
            print(f"{os.path.relpath(path, REPO_ROOT)}: {len(data)} bytes{'' if changed else ' (unchanged)'}")
    cases = make_cases(tok, os.path.join(args.data, "kjv-valid.txt"), args.case_verses)
    path = os.path.join(args.data, "tokenizer-cases.json")
    changed = write_if_changed(path, json_bytes(cases))
    print(f"{os.path.relpath(path, REPO_ROOT)}: {len(cases['cases'])} cases + whole validation file "
          f"({cases['whole_file']['ids_count']} ids){'' if changed else ' (unchanged)'}")
    return 0


def cmd_encode(args) -> int:
    tok = ByteLevelBPE.load(args.tokenizer)
    ids = tok.encode(args.text, add_special_tokens=not args.no_special)
    print(json.dumps({"ids": ids, "tokens": [tok.id_to_token[i] for i in ids], "decoded": tok.decode(ids)},
                     ensure_ascii=False))
    return 0


def cmd_check_hf(args) -> int:
    """Compare with the Rust `tokenizers` library (Python binding; on the GPU machine, not here)."""
    try:
        import tokenizers
    except ImportError:
        print("the `tokenizers` Python package is not installed here; nothing checked")
        return 0
    rust = tokenizers.Tokenizer.from_file(args.tokenizer)
    with open(args.cases, encoding="utf-8") as f:
        cases = json.load(f)
    bad = 0
    for c in cases["cases"]:
        got = rust.encode(c["text"], add_special_tokens=True).ids
        got_ns = rust.encode(c["text"], add_special_tokens=False).ids
        dec = rust.decode(c["ids"], skip_special_tokens=False)
        dec_skip = rust.decode(c["ids"], skip_special_tokens=True)
        if (got, got_ns, dec, dec_skip) != (c["ids"], c["ids_without_special"], c["decoded"], c["decoded_skip_special"]):
            bad += 1
            print(f"  DIFFERS: {c['text'][:60]!r}: ids {got[:12]} vs {c['ids'][:12]}; decoded {dec[:40]!r} "
                  f"vs {c['decoded'][:40]!r}; skip {dec_skip[:40]!r} vs {c['decoded_skip_special'][:40]!r}")
    w = cases["whole_file"]
    with open(os.path.join(REPO_ROOT, w["file"]), encoding="utf-8") as f:
        ids = rust.encode(f.read(), add_special_tokens=False).ids
    same_whole = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest() == w["ids_sha256"]
    bad += not same_whole
    print(f"tokenizers {tokenizers.__version__} (Rust): {len(cases['cases']) - bad + (not same_whole)}/"
          f"{len(cases['cases'])} cases equal; whole {w['file']} ({len(ids)} ids) "
          f"{'equal' if same_whole else 'DIFFERS'}")
    return 1 if bad else 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on examples/data/kjv-train.txt and write the tokenizer files")
    t.add_argument("--data", default=DATA_DIR, help="folder with kjv-train.txt / kjv-valid.txt")
    t.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB_SIZE, help="bytes + merges + 1 special")
    t.add_argument("--model-max-length", type=int, default=256, help="tokenizer_config.json model_max_length")
    t.add_argument("--model-dirs", nargs="+", default=DEFAULT_MODEL_DIRS, help="where to write tokenizer.json")
    t.add_argument("--case-verses", type=int, default=120, help="validation verses recorded as test cases")
    t.add_argument("--verbose", action="store_true")
    e = sub.add_parser("encode", help="encode a text with a tokenizer.json (this implementation)")
    e.add_argument("--tokenizer", default=os.path.join(DEFAULT_MODEL_DIRS[0], "tokenizer.json"))
    e.add_argument("--text", required=True)
    e.add_argument("--no-special", action="store_true", help="do not prepend <|endoftext|>")
    c = sub.add_parser("check-hf", help="compare with the Rust `tokenizers` library, where it is installed")
    c.add_argument("--tokenizer", default=os.path.join(DEFAULT_MODEL_DIRS[0], "tokenizer.json"))
    c.add_argument("--cases", default=os.path.join(DATA_DIR, "tokenizer-cases.json"))
    args = p.parse_args(argv)
    return {"train": cmd_train, "encode": cmd_encode, "check-hf": cmd_check_hf}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
