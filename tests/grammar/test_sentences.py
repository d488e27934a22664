"""Data-driven sentence tests (home-assistant/intents style): tests/grammar/sentences/<lang>/*.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from daemon.grammar import load_grammar
from daemon.grammar.model import RangeList, ValueList

REPO = Path(__file__).resolve().parents[2]
SENTENCES = Path(__file__).resolve().parent / "sentences"
LANGUAGES = ("zh", "en")


def _cases(language: str):
    for path in sorted((SENTENCES / language).glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["tests"]:
            expected = group["intent"]
            for sentence in group["sentences"]:
                yield pytest.param(language, sentence, expected, id=f"{language}/{path.stem}/{sentence}")


@pytest.fixture(scope="module")
def grammars():
    """The shipped grammar of every language, by language."""
    return {language: load_grammar(REPO / "grammars" / language) for language in LANGUAGES}


@pytest.mark.parametrize(
    "language,sentence,expected", [case for language in LANGUAGES for case in _cases(language)]
)
def test_sentence(grammars, language, sentence, expected):
    match = grammars[language].parse(sentence)
    if expected is None:
        assert match is None, f"{sentence!r} should not match but gave {match}"
        return
    assert match is not None, f"{sentence!r} did not match"
    assert match.intent == expected["name"]
    assert match.slots == expected.get("slots", {})


@pytest.mark.parametrize("language", LANGUAGES)
def test_sentence_files_cover_every_intent_and_list_value(grammars, language):
    grammar = grammars[language]
    tested_intents: set[str] = set()
    tested_values: set[tuple[str, object]] = set()
    for path in (SENTENCES / language).glob("*.yaml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            if group["intent"] is None:
                continue
            tested_intents.add(group["intent"]["name"])
            for slot, value in group["intent"].get("slots", {}).items():
                tested_values.add((slot, value))
    assert tested_intents == set(grammar.intents)
    tested_slots = {slot for slot, _ in tested_values}
    for slot_list in grammar.all_lists():
        if isinstance(slot_list, ValueList):
            for value in slot_list.values:
                assert (slot_list.name, value.value) in tested_values, (slot_list.name, value.value)
        elif isinstance(slot_list, RangeList):
            assert slot_list.name in tested_slots, slot_list.name


def test_zh_and_en_grammars_share_intents_slots_and_values(grammars):
    zh, en = grammars["zh"], grammars["en"]
    assert set(zh.intents) == set(en.intents)
    zh_lists = {lst.name: lst for lst in zh.all_lists()}
    en_lists = {lst.name: lst for lst in en.all_lists()}
    assert set(zh_lists) == set(en_lists)
    for name, zh_list in zh_lists.items():
        if isinstance(zh_list, ValueList):
            assert {v.value for v in zh_list.values} == {v.value for v in en_lists[name].values}, name
        else:
            assert zh_list.numbers() == en_lists[name].numbers(), name
