"""Sentence lists for the corpus: in-grammar sentences sampled from the shipped grammars plus out-of-grammar speech.

Writes <corpus>/sentences.tsv (sid, lang, split, kind, text, intent, slots). Test sentences are held out: an
in-grammar test sentence never occurs in the training split, and the out-of-grammar files are split in two halves.
Run with the project's venv (it imports daemon.grammar).
"""

from __future__ import annotations

import logging
import argparse
import json
import random
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from daemon.grammar import load_grammar, sample_sentences  # noqa: E402

_LOGGER = logging.getLogger(__name__)

FIELDS = ["sid", "lang", "split", "kind", "text", "intent", "slots"]


def read_oog(path: Path) -> list[str]:
    """Non-empty, non-comment lines of an out-of-grammar sentence file."""
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def accepted(grammar, text: str) -> bool:
    """Whether the grammar's text parser accepts `text` (such sentences are not out-of-grammar)."""
    try:
        return grammar.parse(text) is not None
    except ImportError:  # parser not available: fall back to no filtering
        return False


def build(lang: str, train_count: int, test_count: int, seed: int) -> list[dict]:
    """Rows of sentences.tsv for one language."""
    grammar = load_grammar([REPO_ROOT / "grammars" / lang])
    rows: list[dict] = []
    train = sample_sentences(grammar, train_count, seed)
    seen = set()
    for i, s in enumerate(train):
        if s.text in seen:
            continue
        seen.add(s.text)
        rows.append({"sid": f"{lang}-tr-{i:05d}", "lang": lang, "split": "train", "kind": "in", "text": s.text,
                     "intent": s.intent, "slots": json.dumps(s.slots, ensure_ascii=False, sort_keys=True)})
    test_pool = sample_sentences(grammar, test_count * 6, seed + 1)
    tests = [s for s in test_pool if s.text not in seen]
    picked, taken = [], set()
    for s in tests:
        if s.text not in taken:
            taken.add(s.text)
            picked.append(s)
    for i, s in enumerate(picked[:test_count]):
        rows.append({"sid": f"{lang}-te-{i:05d}", "lang": lang, "split": "test", "kind": "in", "text": s.text,
                     "intent": s.intent, "slots": json.dumps(s.slots, ensure_ascii=False, sort_keys=True)})
    oog = [t for t in read_oog(REPO_ROOT / "training" / f"oog_sentences_{lang}.txt") if not accepted(grammar, t)]
    random.Random(seed).shuffle(oog)
    half = len(oog) // 2
    for i, text in enumerate(oog):
        split = "train" if i < half else "test"
        rows.append({"sid": f"{lang}-oog-{i:04d}", "lang": lang, "split": split, "kind": "oog", "text": text,
                     "intent": "", "slots": "{}"})
    return rows


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--train", default="zh=2600,en=3200", help="sampled training sentences per language")
    parser.add_argument("--test", default="zh=250,en=300", help="held-out test sentences per language")
    args = parser.parse_args(argv)
    train = {k: int(v) for k, v in (x.split("=") for x in args.train.split(","))}
    test = {k: int(v) for k, v in (x.split("=") for x in args.test.split(","))}
    rows = []
    for lang in train:
        rows += build(lang, train[lang], test.get(lang, 0), args.seed)
    args.corpus.mkdir(parents=True, exist_ok=True)
    lines = ["\t".join(FIELDS)] + ["\t".join(str(r[f]).replace("\t", " ") for f in FIELDS) for r in rows]
    (args.corpus / "sentences.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for lang in train:
        for split in ("train", "test"):
            for kind in ("in", "oog"):
                n = sum(1 for r in rows if r["lang"] == lang and r["split"] == split and r["kind"] == kind)
                print(f"{lang} {split} {kind}: {n}")


if __name__ == "__main__":
    main()
