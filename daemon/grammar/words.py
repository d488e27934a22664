"""Splitting text into spoken words (lowercase English words, single CJK characters) and joining them back."""

from __future__ import annotations

import re

from daemon.grammar.numbers import digits_to_words, is_chinese

_CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK_RANGES}])"
    r"|(?P<num>\d+(?:\.\d+)?)(?P<unit>\s*(?:%|℃|°\s*[cCfF]?))?"
    rf"|(?P<word>[^\W_{_CJK_RANGES}]+(?:['’][^\W_{_CJK_RANGES}]+)*)"
)
_CJK_CHAR = re.compile(rf"[{_CJK_RANGES}]")
_ALL_CJK = re.compile(rf"[{_CJK_RANGES}]*").fullmatch


def is_cjk(word: str) -> bool:
    """True when ``word`` is a single CJK character."""
    if len(word) != 1:
        return False
    code = ord(word)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


def contains_cjk(text: str) -> bool:
    """True when ``text`` has at least one CJK character."""
    return _CJK_CHAR.search(text) is not None


def _unit_words(unit: str, language: str) -> str:
    unit = unit.strip()
    if not unit:
        return ""
    if unit == "%":
        return "百分之" if is_chinese(language) else "percent"
    return "度" if is_chinese(language) else "degrees"


#: ``str.translate`` table turning sentence punctuation (ASCII and CJK) into spaces.
PUNCTUATION_TO_SPACE = {ord(c): " " for c in ",.!?;:\"()[]{}<>，。！？；：、“”（）《》…—~"}

# Fast path of split_words: text that is only letters/apostrophes/CJK between spaces and punctuation.
_SIMPLE_LATIN = re.compile(r"[a-z ]*")
_SIMPLE_CJK = re.compile(rf"[{_CJK_RANGES} ]*")
_PURE_CJK = re.compile(rf"[{_CJK_RANGES}]+").fullmatch
_PURE_LATIN = re.compile(r"[a-z]+(?: [a-z]+)*").fullmatch


def split_words(text: str, language: str, speak_units: bool = True) -> list[str]:
    """Words of ``text``: case-folded, punctuation dropped, CJK split per character, digits spoken
    (with ``speak_units`` a ``%``/``°C`` after a number is spoken too: 百分之五十 / "fifty percent")."""
    if _PURE_CJK(text):  # the common spoken-command cases: nothing to normalise
        return list(text)
    if _PURE_LATIN(text):
        return text.split()
    simple = text.casefold().translate(PUNCTUATION_TO_SPACE)
    if _SIMPLE_LATIN.fullmatch(simple):
        return simple.split()
    if _SIMPLE_CJK.fullmatch(simple):
        return list(simple.replace(" ", ""))
    return _split_words_slow(text, language, speak_units)


def has_unit_sign(text: str) -> bool:
    """True when ``text`` has a number followed by %, °C or ℃ (read either as words or as nothing)."""
    return any(match.group("unit") for match in _TOKEN.finditer(text) if match.group("num"))


def _split_words_slow(text: str, language: str, speak_units: bool = True) -> list[str]:
    words: list[str] = []
    for match in _TOKEN.finditer(text):
        cjk = match.group("cjk")
        if cjk is not None:
            words.append(cjk)
            continue
        number = match.group("num")
        if number is not None:
            spoken = digits_to_words(number, language)
            if spoken is None:
                words.append(number)
                continue
            unit = _unit_words(match.group("unit") or "", language) if speak_units else ""
            if unit == "百分之":
                spoken = unit + spoken
            elif unit:
                spoken = f"{spoken} {unit}"
            words.extend(_split_plain(spoken))
            continue
        words.append(match.group("word").casefold().replace("’", "'"))
    return words


def _split_plain(text: str) -> list[str]:
    result: list[str] = []
    for piece in text.split():
        if contains_cjk(piece):
            result.extend(piece)
        else:
            result.append(piece)
    return result


def join_words(words) -> str:
    """Spoken text of ``words``: no space between CJK characters, one space elsewhere."""
    joined = "".join(words)
    if len(joined) == len(words) and _ALL_CJK(joined):
        return joined
    if _CJK_CHAR.search(joined) is None:
        return " ".join(words)
    parts: list[str] = []
    previous_cjk = False
    for word in words:
        cjk = is_cjk(word)
        if parts and not (cjk and previous_cjk):
            parts.append(" ")
        parts.append(word)
        previous_cjk = cjk
    return "".join(parts)
