"""Helpers for grammar tests: write an inline YAML grammar to a temporary file and load it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from daemon.grammar import Grammar, load_grammar


def write_grammar(tmp_path: Path, text: str, name: str = "grammar.yaml") -> Path:
    """Write dedented YAML ``text`` to ``tmp_path/name``."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def grammar_from(tmp_path: Path, text: str, name: str = "grammar.yaml") -> Grammar:
    """Load an inline YAML grammar."""
    return load_grammar([write_grammar(tmp_path, text, name)])


def one_intent(sentences: list[str], lists: str = "", language: str = "en", extra: str = "") -> str:
    """YAML of a grammar with intent ``Test`` having ``sentences``."""
    lines = [f"language: {language}", "intents:", "  Test:", "    data:", "      - sentences:"]
    lines += [f"          - {s!r}" if "'" not in s else f'          - "{s}"' for s in sentences]
    text = "\n".join(lines) + "\n"
    if lists:
        text += "lists:\n" + textwrap.indent(textwrap.dedent(lists).strip("\n"), "  ") + "\n"
    if extra:
        text += textwrap.dedent(extra).strip("\n") + "\n"
    return text
