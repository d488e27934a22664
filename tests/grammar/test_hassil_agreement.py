"""voicecmd's parser agrees with hassil (the reference implementation) on the same grammars and sentences."""

from __future__ import annotations

import random
from pathlib import Path

import hassil  # the reference implementation (script/requirements-test-extra.txt)
import pytest
import yaml
from hassil.util import merge_dict

from daemon.grammar import load_grammar, sample_sentences

DATA = Path(__file__).resolve().parent / "data"


def _hassil_intents(paths: list[Path]):
    merged: dict = {}
    for path in paths:
        merge_dict(merged, yaml.safe_load(path.read_text(encoding="utf-8")))
    return hassil.Intents.from_dict(merged)


def _hassil_result(intents, text):
    result = hassil.recognize(text, intents)
    if result is None:
        return None
    return result.intent.name, {name: entity.value for name, entity in result.entities.items()}


def _ours(grammar, text):
    match = grammar.parse(text)
    return None if match is None else (match.intent, match.slots)


def _perturbed(texts: list[str], rng: random.Random, chinese: bool) -> list[str]:
    result = []
    for text in texts:
        words = list(text) if chinese else text.split()
        if len(words) > 1:
            index = rng.randrange(len(words))
            result.append(("" if chinese else " ").join(words[:index] + words[index + 1:]))
    return result


@pytest.mark.parametrize("directory", ["grammars/zh", "grammars/en"])
def test_shipped_grammars_agree_with_hassil(repo_root, directory):
    paths = sorted((repo_root / directory).glob("*.yaml"))
    intents, grammar = _hassil_intents(paths), load_grammar(paths)
    texts = [s.text for s in sample_sentences(grammar, 300, seed=11)]
    texts += _perturbed(texts[:100], random.Random(1), directory.endswith("zh"))
    disagreements = [(t, _hassil_result(intents, t), _ours(grammar, t)) for t in texts
                     if _hassil_result(intents, t) != _ours(grammar, t)]
    assert disagreements == []


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*") if p.is_dir()))
def test_hassil_style_grammars_agree_with_hassil(name):
    directory = DATA / name
    paths = sorted(directory.glob("*.yaml"))
    grammar_paths = [p for p in paths if not p.name.startswith("test")]
    intents, grammar = _hassil_intents(grammar_paths), load_grammar(grammar_paths)
    texts = [s.text for s in sample_sentences(grammar, 200, seed=5)]
    for test_file in (p for p in paths if p.name.startswith("test")):
        texts += yaml.safe_load(test_file.read_text(encoding="utf-8"))["sentences"]
    texts += _perturbed(texts[:60], random.Random(2), name.startswith("zh"))
    matched = 0
    for text in texts:
        expected = _hassil_result(intents, text)
        matched += expected is not None
        assert _ours(grammar, text) == expected, text
    assert matched >= 100
