"""The model's output unit table (``units.txt``) and turning unit ids into text."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable, Sequence

from runtime.errors import ModelLoadError

_LOGGER = logging.getLogger(__name__)

WORD_START = "\u2581"  # sentencepiece's "▁": the unit starts a new word
_DROPPED_SYMBOLS = frozenset({"<blank>", "<unk>", "<sos/eos>", "<sos>", "<eos>", "<context>", "</context>"})
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


class UnitTable:
    """The id ↔ symbol table of a WeNet model: blank 0, ``<unk>``, ``<sos/eos>`` last or at id 2."""

    def __init__(self, symbols: Sequence[str], source: str = "<units>") -> None:
        if not symbols:
            raise ModelLoadError(f"{source}: the unit table is empty")
        self.symbols: list[str] = list(symbols)
        self.source = source
        self.symbol_to_id: dict[str, int] = {sym: i for i, sym in enumerate(self.symbols)}
        self.blank_id = self.symbol_to_id.get("<blank>", 0)
        self.unk_id = self.symbol_to_id.get("<unk>", 1 if len(self.symbols) > 1 else 0)
        sos = self.symbol_to_id.get("<sos/eos>", self.symbol_to_id.get("<sos>"))
        self.sos_eos_id = sos if sos is not None else len(self.symbols) - 1
        # Pieces that produce no text; precomputed so text_of() is a lookup per token.
        self._texts = [self._piece_text(sym) for sym in self.symbols]

    @classmethod
    def from_file(cls, path: str | Path) -> "UnitTable":
        """Read ``<symbol> <id>`` lines (ids contiguous from 0); raise ModelLoadError naming the line at fault."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ModelLoadError(f"{path}: units.txt is missing (copy the model's units.txt into the model directory)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path}: cannot read the unit table ({exc})") from None
        by_id: dict[int, str] = {}
        for lineno, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ModelLoadError(f"{path}:{lineno}: expected '<symbol> <id>', got {line.strip()!r}")
            symbol, id_text = fields
            try:
                unit_id = int(id_text)
            except ValueError:
                raise ModelLoadError(f"{path}:{lineno}: unit id {id_text!r} is not an integer") from None
            if unit_id in by_id:
                raise ModelLoadError(f"{path}:{lineno}: unit id {unit_id} appears twice")
            by_id[unit_id] = symbol
        if not by_id:
            raise ModelLoadError(f"{path}: the unit table is empty")
        if sorted(by_id) != list(range(len(by_id))):
            missing = next(i for i in range(len(by_id)) if i not in by_id)
            raise ModelLoadError(f"{path}: unit ids must be contiguous from 0; id {missing} is missing")
        return cls([by_id[i] for i in range(len(by_id))], source=str(path))

    def __len__(self) -> int:
        return len(self.symbols)

    def __repr__(self) -> str:
        return f"UnitTable({self.source!r}, {len(self)} units)"

    @staticmethod
    def _piece_text(symbol: str) -> str:
        if symbol in _DROPPED_SYMBOLS:
            return ""
        return symbol.replace(WORD_START, " ")

    def text_of(self, ids: Iterable[int]) -> str:
        """Join the units' text: ``▁`` starts a word, special symbols vanish, no spaces between CJK, lowercase."""
        texts = self._texts
        return postprocess_text("".join(texts[i] for i in ids))


def postprocess_text(raw: str) -> str:
    """Collapse spaces, keep a space only between two non-CJK words and lowercase (WeNet's PostProcessor)."""
    words = raw.replace(WORD_START, " ").lower().split()
    if not words:
        return ""
    out = [words[0]]
    for word in words[1:]:
        if _CJK.match(out[-1][-1]) or _CJK.match(word[0]):
            out.append(word)
        else:
            out.append(" " + word)
    return "".join(out)
