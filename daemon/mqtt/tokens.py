"""Model units turned into the words of an utterance's text: what the native ``tokens`` and Hermes ``asrTokens`` carry.

WeNet units are word pieces (``▁TW``, ``O``: upper-case English pieces, a ``▁`` marking a word start, sometimes alone)
or single CJK characters. Published tokens are whole words located in the text: English lower-case as Rhasspy sends
them, one token per CJK character, no bare ``▁``. Units that do not spell the text word for word (a rejected grammar
path next to a free transcript) are not passed off as its tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

from daemon.events import TokenInfo
from daemon.mqtt.language import has_cjk

__all__ = ["SUBWORD_MARK", "TextWord", "units_to_words", "units_of_text", "words_in_text"]

SUBWORD_MARK = "\u2581"  # WeNet/sentencepiece word-start marker
_TEXT_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+(?:['’][^\W_]+)*")


@dataclass(frozen=True)
class TextWord:
    """A word of the text: value, confidence, character range in the text, time span in seconds (None: unknown)."""

    value: str
    confidence: float
    range_start: int
    range_end: int
    start_s: Optional[float]
    end_s: Optional[float]


def units_to_words(tokens: Sequence[TokenInfo]) -> list[TokenInfo]:
    """Merge word pieces into words (confidence: the lowest piece's; time: first start to last end); a CJK unit is a
    word of its own, a bare ``▁`` only separates, non-CJK words are lower-cased."""
    words: list[TokenInfo] = []
    open_word = False  # the last word may still grow
    for tok in tokens:
        text = tok.text.strip()
        starts = text.startswith(SUBWORD_MARK)
        piece = text.replace(SUBWORD_MARK, "")
        if not piece:  # a bare word-boundary unit
            open_word = False
            continue
        if has_cjk(piece):
            words.append(TokenInfo(piece, tok.confidence, tok.start_s, tok.end_s))
            open_word = False
            continue
        piece = piece.lower()
        if open_word and not starts and words:
            last = words[-1]
            words[-1] = TokenInfo(last.text + piece, min(last.confidence, tok.confidence), last.start_s, tok.end_s)
        else:
            words.append(TokenInfo(piece, tok.confidence, tok.start_s, tok.end_s))
        open_word = True
    return words


def _text_words(text: str) -> list[tuple[str, int, int]]:
    """(lower-case word, start, end) of each word of ``text``; a CJK character is a word."""
    return [(m.group(0).lower(), m.start(), m.end()) for m in _TEXT_WORD.finditer(text)]


def _locate(text: str, words: Sequence[TokenInfo]) -> Optional[list[TextWord]]:
    """The words with their ranges in ``text`` when they are exactly the words of ``text``, else None."""
    spans = _text_words(text)
    if [w.text for w in words] != [span[0] for span in spans]:
        return None
    return [TextWord(w.text, w.confidence, start, end, w.start_s, w.end_s) for w, (_, start, end) in zip(words, spans)]


def words_in_text(text: str, tokens: Sequence[TokenInfo], confidence: float) -> list[TextWord]:
    """The words of ``text`` with their ranges: from the recognised units when they spell the text (with their
    times and confidences), else split from the text itself (``confidence`` each, no times)."""
    located = _locate(text, units_to_words(tokens)) if tokens else None
    if located:
        return located
    return [TextWord(word, confidence, start, end, None, None) for word, start, end in _text_words(text)]


def units_of_text(text: str, tokens: Sequence[TokenInfo]) -> tuple[TokenInfo, ...]:
    """The recognised units when they spell ``text`` word for word (bare ``▁`` units left out), else none."""
    if not tokens or _locate(text, units_to_words(tokens)) is None:
        return ()
    return tuple(t for t in tokens if t.text.strip().replace(SUBWORD_MARK, ""))
