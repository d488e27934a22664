"""SentenceCompletion: a recognized sentence is final only when nothing the grammar allows after it changes its meaning."""

from __future__ import annotations

import pytest

from daemon import paths
from daemon.grammar import load_grammar
from daemon.grammar.completion import SentenceCompletion
from tests.grammar.helpers import PREFIX_AMBIGUOUS_LIGHTS as LIGHTS, grammar_from



@pytest.fixture
def lights(tmp_path):
    return SentenceCompletion(grammar_from(tmp_path, LIGHTS))


def test_a_sentence_that_a_longer_sentence_continues_is_not_final(lights):
    assert not lights.is_final("turn on the light")  # "... in the kitchen" would add a slot
    assert lights.is_final("turn on the light in the kitchen")
    assert lights.is_final("turn on the light in the living room")


def test_continuations_with_the_same_meaning_do_not_hold_the_commit(lights):
    # "turn on the kitchen light" may go on as "... lights" or "... please": same intent, same slots
    assert lights.is_final("turn on the kitchen light")
    assert lights.is_final("turn on the kitchen lights please")


def test_a_number_that_could_grow_is_not_final(lights):
    assert not lights.is_final("set the light to fifty")  # "fifty five"
    assert lights.is_final("set the light to fifty five")  # only "percent" (an optional word) may follow
    assert lights.is_final("set the light to fifty five percent")


def test_prefixes_unknown_text_and_wildcards_are_not_final(lights):
    assert not lights.is_final("turn on the")
    assert not lights.is_final("make me a sandwich")
    assert not lights.is_final("")
    assert not lights.is_final("order a coffee")  # wildcard sentences are not in the speech graph


def test_shipped_grammars_mandarin_and_english():
    completion = SentenceCompletion(load_grammar([paths.default_grammar_dir()]))
    assert completion.is_final("打开客厅的灯")  # "…灯光" and a trailing 麻烦 mean the same
    assert completion.is_final("把卧室的空调调到二十六度")
    assert completion.is_final("turn on the kitchen light")
    assert not completion.is_final("set the living room light to fifty")
    assert completion.is_final("set the living room light to fifty percent")
