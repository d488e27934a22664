"""Parse texts with the command grammars: one JSON line {"text", "intent", "slots"} per text."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``voicecmd parse``."""
    parser.add_argument(
        "--grammar", "-g", nargs="+", action="extend", metavar="PATH",
        help="grammar files or directories (default: the shipped grammars); repeatable",
    )
    parser.add_argument("texts", nargs="*", metavar="TEXT", help="texts to parse (default: lines of stdin)")


def _split_grammar_and_texts(grammar_args: list[str] | None, texts: list[str]) -> tuple[list[str], list[str]]:
    """``--grammar a.yaml "turn on"`` puts the text into --grammar; move trailing non-paths back to the texts."""
    if not grammar_args:
        return [], texts
    paths = list(grammar_args)
    moved: list[str] = []
    while len(paths) > 1 and not Path(paths[-1]).exists():
        moved.insert(0, paths.pop())
    return paths, moved + texts


def run(args: argparse.Namespace) -> int:
    """Load the grammar, then print one JSON line per text in order."""
    from daemon.grammar import load_grammar
    from daemon.paths import default_grammar_dir

    paths, texts = _split_grammar_and_texts(args.grammar, list(args.texts))
    grammar = load_grammar(paths or [default_grammar_dir()])
    lines = texts if texts else (line.rstrip("\n") for line in sys.stdin)
    out = sys.stdout
    for text in lines:
        match = grammar.parse(text)
        record = {
            "text": text,
            "intent": match.intent if match else None,
            "slots": match.slots if match else {},
        }
        out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    out.flush()
    return 0
