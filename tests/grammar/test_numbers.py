"""Spoken numbers: value -> words (generator/sampler) and words -> value (parse), Mandarin and English."""

from __future__ import annotations

import re

import pytest

from daemon.grammar import sample_sentences
from daemon.grammar.numbers import number_variants, number_words
from tests.grammar.helpers import grammar_from, one_intent

ZH_CANONICAL = {
    0: "零", 1: "一", 2: "二", 10: "十", 11: "十一", 15: "十五", 20: "二十", 26: "二十六", 99: "九十九",
    100: "一百", 101: "一百零一", 110: "一百一十", 115: "一百一十五", 200: "两百", 202: "两百零二",
    250: "两百五十", 999: "九百九十九",
}
EN_CANONICAL = {
    0: "zero", 7: "seven", 13: "thirteen", 20: "twenty", 22: "twenty two", 40: "forty", 99: "ninety nine",
    100: "one hundred", 105: "one hundred five", 120: "one hundred twenty", 999: "nine hundred ninety nine",
}


@pytest.mark.parametrize("value,words", sorted(ZH_CANONICAL.items()))
def test_mandarin_canonical_words(value, words):
    assert number_words(value, "zh-cn") == words


@pytest.mark.parametrize("value,words", sorted(EN_CANONICAL.items()))
def test_english_canonical_words(value, words):
    assert number_words(value, "en") == words


def test_accepted_variants():
    assert "一十五" in number_variants(15, "zh")
    assert "二百" in number_variants(200, "zh")
    assert "one hundred and five" in number_variants(105, "en")


def test_english_words_never_have_hyphens_or_digits():
    for value in range(1000):
        assert re.fullmatch(r"[a-z]+( [a-z]+)*", number_words(value, "en")), value


def test_mandarin_words_are_number_characters():
    for value in range(1000):
        assert re.fullmatch(r"[零一二两三四五六七八九十百]+", number_words(value, "zh")), value


def _range_grammar(tmp_path, language, to=100):
    sentence = "数值{n}" if language.startswith("zh") else "value {n}"
    return grammar_from(tmp_path, one_intent([sentence], f"n:\n  range: {{from: 0, to: {to}}}", language))


@pytest.mark.parametrize("language,prefix", [("zh-cn", "数值"), ("en", "value ")])
def test_words_to_value_0_to_100(tmp_path, language, prefix):
    grammar = _range_grammar(tmp_path, language)
    for value in range(101):
        for spoken in number_variants(value, language):
            match = grammar.parse(prefix + spoken)
            assert match is not None and match.slots == {"n": value}, (spoken, match)
        assert grammar.parse(f"{prefix}{value}").slots == {"n": value}  # digits are accepted too


@pytest.mark.parametrize("language,prefix", [("zh-cn", "数值"), ("en", "value ")])
def test_value_to_words_0_to_100_via_sampler(tmp_path, language, prefix):
    grammar = _range_grammar(tmp_path, language)
    sampled = sample_sentences(grammar, 101, seed=3)
    by_value = {s.slots["n"]: s.text for s in sampled}
    assert sorted(by_value) == list(range(101))  # balanced: every number once in 101 draws
    for value, text in by_value.items():
        assert text == prefix + number_words(value, language)


@pytest.mark.parametrize("language,prefix", [("zh-cn", "数值"), ("en", "value ")])
def test_round_trip_to_999(tmp_path, language, prefix):
    grammar = _range_grammar(tmp_path, language, to=999)
    for value in range(0, 1000, 7):
        assert grammar.parse(prefix + number_words(value, language)).slots == {"n": value}


@pytest.mark.parametrize("language,text", [("zh-cn", "数值一百零一"), ("zh-cn", "数值101"), ("en", "value one hundred one"),
                                           ("en", "value 101"), ("en", "value twenty twenty")])
def test_out_of_range_numbers_do_not_match(tmp_path, language, text):
    assert _range_grammar(tmp_path, language).parse(text) is None


def test_percent_and_degree_signs(tmp_path):
    zh = grammar_from(tmp_path, one_intent(["亮度百分之{n}", "温度{n}度"], "n:\n  range: {from: 0, to: 100}", "zh-cn"))
    assert zh.parse("亮度50%").slots == {"n": 50}
    assert zh.parse("温度26℃").slots == {"n": 26}
    en = grammar_from(tmp_path, one_intent(["{n} percent", "{n} degrees"], "n:\n  range: {from: 0, to: 100}"), "en.yaml")
    assert en.parse("50%").slots == {"n": 50}
    assert en.parse("26°C").slots == {"n": 26}


def test_unit_sign_written_in_the_template_is_punctuation(tmp_path):
    en = grammar_from(tmp_path, one_intent(["brightness {n}%"], "n:\n  range: {from: 0, to: 100}"))
    assert en.parse("brightness 50%").slots == {"n": 50}
    zh = grammar_from(tmp_path, one_intent(["亮度{n}%"], "n:\n  range: {from: 0, to: 100}", "zh-cn"), "zh.yaml")
    assert zh.parse("亮度50%").slots == {"n": 50}
    assert zh.parse("亮度五十").slots == {"n": 50}
