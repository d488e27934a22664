"""Spell grammar words with the model's units: CJK characters one by one, English via BPE or greedy longest match."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable, Sequence

from runtime.errors import ModelLoadError
from runtime.units import WORD_START, UnitTable

_LOGGER = logging.getLogger(__name__)

_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A grammar word is split into CJK characters and the non-CJK stretches between them (WeNet's
# tokenize_by_bpe_model does the same for mixed text).
_CJK_OR_STRETCH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\s]+")
_BPE_MODEL_NAMES = ("bpe.model", "train_unigram5000.model", "unigram.model")
_SPECIAL = frozenset({"<blank>", "<unk>", "<sos/eos>", "<sos>", "<eos>", "<context>", "</context>"})


def _unit_case(symbols: Sequence[str]) -> Callable[[str], str]:
    """Return the case mapping that makes lowercase grammar words look like the model's Latin units."""
    upper = lower = 0
    for sym in symbols:
        if sym in _SPECIAL:
            continue
        for ch in sym:
            if ch.isalpha() and ch.isascii():
                if ch.isupper():
                    upper += 1
                else:
                    lower += 1
    if upper > lower:
        return str.upper
    if lower > upper:
        return str.lower
    return lambda text: text


def find_bpe_model(model_dir: str | Path) -> Path | None:
    """The sentencepiece model of a model directory (``bpe.model`` or another ``*.model``), if any."""
    model_dir = Path(model_dir)
    for name in _BPE_MODEL_NAMES:
        if (model_dir / name).is_file():
            return model_dir / name
    candidates = sorted(p for p in model_dir.glob("*.model") if p.is_file())
    return candidates[0] if candidates else None


class ModelTokenizer:
    """Map grammar words to unit-id sequences of one model; results are cached per word."""

    def __init__(self, units: UnitTable, bpe_model: str | Path | None = None) -> None:
        self.units = units
        self._ids = units.symbol_to_id
        self._case = _unit_case(units.symbols)
        self._sp = None
        self.bpe_model = Path(bpe_model) if bpe_model is not None else None
        if self.bpe_model is not None:
            self._sp = _load_sentencepiece(self.bpe_model)
        # Greedy longest match needs the longest unit length to bound its search.
        self._max_unit_len = max((len(s) for s in units.symbols if s not in _SPECIAL), default=1)
        self._cache: dict[str, tuple[int, ...] | None] = {}

    @classmethod
    def for_model_dir(cls, model_dir: str | Path, units: UnitTable | None = None) -> "ModelTokenizer":
        """Tokenizer for a model directory: its units.txt plus its sentencepiece model when one is present."""
        model_dir = Path(model_dir)
        if units is None:
            units = UnitTable.from_file(model_dir / "units.txt")
        return cls(units, find_bpe_model(model_dir))

    @property
    def uses_bpe(self) -> bool:
        """True when English words go through the model's sentencepiece model."""
        return self._sp is not None

    def encode_word(self, word: str) -> tuple[int, ...] | None:
        """Unit ids spelling one grammar word, or None when the model's units cannot spell it."""
        cached = self._cache.get(word, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        result = self._encode_uncached(word)
        self._cache[word] = result
        return result

    def encode_words(self, words: Sequence[str]) -> tuple[int, ...] | None:
        """Unit ids of several words in a row, or None if any of them cannot be spelled."""
        out: list[int] = []
        for word in words:
            ids = self.encode_word(word)
            if ids is None:
                return None
            out.extend(ids)
        return tuple(out)

    def _encode_uncached(self, word: str) -> tuple[int, ...] | None:
        pieces = _CJK_OR_STRETCH.findall(word)
        if not pieces:
            return None
        out: list[int] = []
        for piece in pieces:
            if _CJK_CHAR.fullmatch(piece):
                unit = self._ids.get(piece)
                if unit is None:
                    return None
                out.append(unit)
                continue
            ids = self._encode_latin(self._case(piece))
            if ids is None:
                return None
            out.extend(ids)
        return tuple(out)

    def _encode_latin(self, text: str) -> tuple[int, ...] | None:
        if self._sp is not None:
            ids: list[int] = []
            for piece in self._sp.encode(text, out_type=str):
                unit = self._ids.get(piece)
                if unit is None:
                    return None
                ids.append(unit)
            return tuple(ids)
        return self._greedy_longest_match(text)

    def _greedy_longest_match(self, text: str) -> tuple[int, ...] | None:
        """WeNet's SplitContextToUnits: longest unit first, the word's first piece carries ``▁``."""
        ids: list[int] = []
        pos = 0
        while pos < len(text):
            prefix = WORD_START if pos == 0 else ""
            for end in range(min(len(text), pos + self._max_unit_len), pos, -1):
                unit = self._ids.get(prefix + text[pos:end])
                if unit is not None:
                    ids.append(unit)
                    pos = end
                    break
            else:
                return None
        return tuple(ids)


_MISSING = object()


def _load_sentencepiece(path: Path):
    try:
        import sentencepiece  # imported lazily: only models with a BPE model need it
    except ImportError:
        raise ModelLoadError(
            f"{path}: this model spells English with a sentencepiece model; install it with "
            "'pip install sentencepiece'"
        ) from None
    processor = sentencepiece.SentencePieceProcessor()
    try:
        processor.load(str(path))
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(f"{path}: cannot load the sentencepiece model ({exc})") from None
    return processor
