#!/usr/bin/env python3
"""Make the committed training text: the King James Bible as plain text, with a fixed split.

    apt-get install bible-kjv                      # Debian: the `bible` program + the KJV text
    /usr/bin/python3 examples/scripts/prepare_kjv.py
    /usr/bin/python3 examples/scripts/prepare_kjv.py --input kjv.txt   # from `bible "Gen1:1-Rev22:21"` output

Reads the output of `bible "Gen1:1-Rev22:21"` (Debian package bible-kjv / bible-kjv-text 4.38): one
heading line per chapter ("Genesis 1") between blank lines, then verses as "  <n> text" wrapped at
~80 columns. Writes into examples/data/:

  kjv-train.txt   1130 chapters
  kjv-valid.txt     59 chapters: every 20th chapter of the Bible (0-based chapter index i with
                    i % 20 == 10: Genesis 11, Genesis 31, Exodus 1, ...), a fixed split that samples
                    every part of the book

Format of both files (UTF-8, here pure ASCII, "\\n" line ends): per chapter a heading line
("Genesis 1"), then one line per verse with the verse number removed and the wrapped lines joined
with one space, then one blank line. The language models are trained on the verse lines only:
each chapter is one document (verses joined by "\\n"), documents separated by <|endoftext|>
(`read_chapters` below is the one parser every script uses).

Deterministic: the same input gives byte-identical files; the script prints their sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
from typing import List, Tuple

sys.dont_write_bytecode = True

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "examples", "data")
VALID_EVERY = 20
VALID_OFFSET = 10
BIBLE_RANGE = "Gen1:1-Rev22:21"

Chapter = Tuple[str, List[str]]  # (heading, verses)

_VERSE = re.compile(r"^\s+(\d+) (.*)$")


class KjvFormatError(ValueError):
    """The `bible` output did not have the expected layout (line number and text in the message)."""


def parse_bible_output(text: str) -> List[Chapter]:
    """Parse `bible` output into chapters of verse strings (verse numbers dropped, lines unwrapped)."""
    lines = text.split("\n")
    chapters: List[Chapter] = []
    heading = None
    verses: List[str] = []
    expected_verse = 1
    for lineno, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        prev_blank = lineno == 1 or lines[lineno - 2].strip() == ""
        next_blank = lineno == len(lines) or lines[lineno].strip() == ""
        if not line:
            continue
        if prev_blank and next_blank and not line[0].isspace():
            if heading is not None:
                chapters.append((heading, verses))
            heading, verses, expected_verse = line, [], 1
            continue
        m = _VERSE.match(line)
        if m:
            n = int(m.group(1))
            if n != expected_verse:
                raise KjvFormatError(f"line {lineno}: verse {n} where {expected_verse} was expected: {line!r}")
            expected_verse += 1
            verses.append(m.group(2).strip())
        elif verses and not line[0].isspace():
            verses[-1] = verses[-1] + " " + line.strip()
        else:
            raise KjvFormatError(f"line {lineno}: neither heading, verse nor continuation: {line!r}")
    if heading is not None:
        chapters.append((heading, verses))
    for h, vs in chapters:
        if not vs:
            raise KjvFormatError(f"chapter {h!r} has no verses")
    return chapters


def format_chapters(chapters: List[Chapter]) -> str:
    return "".join(h + "\n" + "".join(v + "\n" for v in vs) + "\n" for h, vs in chapters)


def read_chapters(path: str) -> List[Chapter]:
    """Read kjv-train.txt / kjv-valid.txt back into (heading, verses) chapters."""
    with open(path, encoding="utf-8") as f:
        blocks = f.read().split("\n\n")
    out: List[Chapter] = []
    for b in blocks:
        ls = [x for x in b.split("\n") if x]
        if ls:
            out.append((ls[0], ls[1:]))
    return out


def chapter_documents(path: str) -> List[str]:
    """The training documents of a data file: one per chapter, its verses joined by newlines."""
    return ["\n".join(vs) for _, vs in read_chapters(path)]


def split(chapters: List[Chapter]) -> Tuple[List[Chapter], List[Chapter]]:
    train, valid = [], []
    for i, c in enumerate(chapters):
        (valid if i % VALID_EVERY == VALID_OFFSET else train).append(c)
    return train, valid


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", help=f"a file holding `bible \"{BIBLE_RANGE}\"` output (default: run `bible`)")
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder (default examples/data)")
    args = p.parse_args(argv)

    if args.input:
        with open(args.input, encoding="utf-8") as f:
            text = f.read()
    else:
        try:
            text = subprocess.run(["bible", BIBLE_RANGE], check=True, capture_output=True, text=True).stdout
        except FileNotFoundError:
            print("`bible` not found: apt-get install bible-kjv (Debian), or pass --input", file=sys.stderr)
            return 2
    chapters = parse_bible_output(text)
    n_verses = sum(len(vs) for _, vs in chapters)
    if len(chapters) != 1189 or n_verses != 31102:
        raise KjvFormatError(f"expected 1189 chapters / 31102 verses (the Protestant canon), got "
                             f"{len(chapters)} / {n_verses}")
    train, valid = split(chapters)
    os.makedirs(args.out, exist_ok=True)
    for name, part in (("kjv-train.txt", train), ("kjv-valid.txt", valid)):
        data = format_chapters(part).encode("utf-8")
        path = os.path.join(args.out, name)
        with open(path, "wb") as f:
            f.write(data)
        words = sum(len(v.split()) for _, vs in part for v in vs)
        print(f"{os.path.relpath(path, REPO_ROOT)}: {len(part)} chapters, {sum(len(vs) for _, vs in part)} verses, "
              f"{words} words, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
