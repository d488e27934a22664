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


#: Lights with prefix-ambiguous sentences ("turn on the light" / "... in the {area}"), a number range, synonyms
#: and a wildcard sentence: what early commit must tell apart.
PREFIX_AMBIGUOUS_LIGHTS = """
language: en
skip_words: ["please"]
intents:
  LightOn:
    data:
      - sentences:
          - "turn on the light"
          - "turn on the light in the {area}"
          - "turn on the {area} (light | lights)"
  SetLevel:
    data:
      - sentences:
          - "set the light to {level} [percent]"
  Order:
    data:
      - sentences:
          - "order {anything}"
lists:
  area:
    values: [kitchen, bedroom, living room]
  level:
    range: {from: 0, to: 100}
  anything:
    wildcard: true
"""
