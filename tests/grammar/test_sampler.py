"""sample_sentences: balanced over intents, list values and numbers; spoken text that parses back."""

from __future__ import annotations

import collections
import re

import pytest

from daemon.grammar import load_grammar, sample_sentences


@pytest.fixture(scope="module", params=["zh", "en"])
def shipped(request, repo_root):
    """(language, grammar) of each shipped grammar directory."""
    return request.param, load_grammar(repo_root / "grammars" / request.param)


def test_deterministic_for_a_seed(shipped):
    _, grammar = shipped
    assert sample_sentences(grammar, 50, seed=7) == sample_sentences(grammar, 50, seed=7)
    assert sample_sentences(grammar, 50, seed=7) != sample_sentences(grammar, 50, seed=8)


def test_balanced_over_intents(shipped):
    _, grammar = shipped
    count = 17 * len(grammar.intents)
    counts = collections.Counter(s.intent for s in sample_sentences(grammar, count, seed=1))
    assert set(counts) == set(grammar.intents)
    assert set(counts.values()) == {17}


def test_balanced_over_list_values(shipped):
    _, grammar = shipped
    sampled = sample_sentences(grammar, 2000, seed=2)
    colors = collections.Counter(s.slots["color"] for s in sampled if "color" in s.slots)
    assert len(colors) == 9 and max(colors.values()) - min(colors.values()) <= 1
    temperatures = collections.Counter(s.slots["temperature"] for s in sampled if "temperature" in s.slots)
    assert sorted(temperatures) == list(range(16, 31))
    assert max(temperatures.values()) - min(temperatures.values()) <= 1


def test_text_is_spoken_and_parses_back(shipped):
    language, grammar = shipped
    for sentence in sample_sentences(grammar, 500, seed=3):
        assert not re.search(r"\d", sentence.text)
        if language == "zh":
            assert " " not in sentence.text
        else:
            assert sentence.text == sentence.text.lower() and "-" not in sentence.text
        match = grammar.parse(sentence.text)
        assert match is not None and (match.intent, match.slots) == (sentence.intent, sentence.slots), sentence
        assert match.raw_slots == sentence.raw_slots


def test_zero_count_and_empty_grammar(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("language: en\nlists:\n  x:\n    values: [a]\n", encoding="utf-8")
    grammar = load_grammar([path])
    assert sample_sentences(grammar, 10, seed=0) == []


def test_skip_words_at_the_requested_rate(shipped):
    language, grammar = shipped
    plain = sample_sentences(grammar, 400, seed=4)
    with_skips = sample_sentences(grammar, 400, seed=4, skip_word_rate=0.5)
    assert [(s.intent, s.slots) for s in plain] == [(s.intent, s.slots) for s in with_skips]
    changed = [s for p, s in zip(plain, with_skips) if s.text != p.text]
    assert 0.4 * 400 < len(changed) < 0.8 * 400
    starts = ("请", "麻烦", "帮我", "吧") if language == "zh" else ("please", "could you", "can you")
    assert any(s.text.startswith(starts) for s in changed)
    for sentence in changed:
        match = grammar.parse(sentence.text)
        assert (match.intent, match.slots) == (sentence.intent, sentence.slots)
