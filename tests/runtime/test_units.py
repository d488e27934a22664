"""units.txt parsing (both <sos/eos> conventions) and text post-processing."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import ModelLoadError
from runtime.units import UnitTable, postprocess_text
from tests.runtime.wenet_fixtures import FIXTURES


def test_fixture_units_sos_eos_last() -> None:
    table = UnitTable.from_file(FIXTURES / "u2pp_conformer" / "units.txt")
    assert len(table) == 40
    assert (table.blank_id, table.unk_id, table.sos_eos_id) == (0, 1, 39)
    assert table.symbols[16] == "\u2581TURN"
    assert table.symbol_to_id["灯"] == 6


def test_sos_eos_at_id_two(tmp_path: Path) -> None:
    units = tmp_path / "units.txt"
    units.write_text("<blank> 0\n<unk> 1\n<sos/eos> 2\n\u2581HI 3\n好 4\n", encoding="utf-8")
    table = UnitTable.from_file(units)
    assert table.sos_eos_id == 2
    assert table.text_of([3, 2, 4]) == "hi好"


def test_text_post_processing() -> None:
    table = UnitTable.from_file(FIXTURES / "u2pp_conformer" / "units.txt")
    ids = [table.symbol_to_id[s] for s in ["\u2581TURN", "\u2581ON", "\u2581THE", "\u2581KITCHEN", "\u2581LIGHT"]]
    assert table.text_of(ids) == "turn on the kitchen light"
    ids = [table.symbol_to_id[s] for s in ["打", "开", "\u2581THE", "\u2581LIGHT", "S", "客", "厅", "<unk>"]]
    assert table.text_of(ids) == "打开the lights客厅"
    assert table.text_of([]) == ""
    assert postprocess_text("  \u2581A  b  c ") == "a b c"


@pytest.mark.parametrize(
    "content, message",
    [
        ("<blank> 0\n<unk>\n", "units.txt:2: expected"),
        ("<blank> 0\n<unk> x\n", "units.txt:2: unit id 'x'"),
        ("<blank> 0\n<unk> 2\n", "contiguous"),
        ("", "empty"),
    ],
)
def test_bad_unit_tables_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    units = tmp_path / "units.txt"
    units.write_text(content, encoding="utf-8")
    with pytest.raises(ModelLoadError, match=message):
        UnitTable.from_file(units)


def test_missing_units_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="units.txt is missing"):
        UnitTable.from_file(tmp_path / "units.txt")
