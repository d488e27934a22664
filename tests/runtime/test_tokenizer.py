"""ModelTokenizer: CJK characters, greedy longest match over ▁-units, sentencepiece models, unit case."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import ModelLoadError
from runtime.tokenizer import ModelTokenizer, find_bpe_model
from runtime.units import UnitTable


@pytest.fixture(scope="module")
def fixture_units(wenet_fixtures: Path) -> UnitTable:
    return UnitTable.from_file(wenet_fixtures / "transformer_sub8" / "units.txt")


def symbols(units: UnitTable, ids) -> list[str]:
    return [units.symbols[i] for i in ids]


def test_cjk_characters_map_to_their_units(fixture_units):
    tok = ModelTokenizer(fixture_units)
    assert symbols(fixture_units, tok.encode_word("打")) == ["打"]
    assert symbols(fixture_units, tok.encode_word("客厅")) == ["客", "厅"]


def test_cjk_character_missing_from_units_cannot_be_spelled(fixture_units):
    assert ModelTokenizer(fixture_units).encode_word("窗") is None


def test_lowercase_words_match_uppercase_units_greedily(fixture_units):
    tok = ModelTokenizer(fixture_units)
    assert symbols(fixture_units, tok.encode_word("kitchen")) == ["▁KITCHEN"]
    assert symbols(fixture_units, tok.encode_word("conditioner")) == ["▁CONDITION", "ER"]
    assert symbols(fixture_units, tok.encode_word("rooms")) == ["▁ROOM", "S"]
    assert symbols(fixture_units, tok.encode_word("opened")) == ["▁OPEN", "ED"]


def test_word_without_a_leading_piece_cannot_be_spelled(fixture_units):
    tok = ModelTokenizer(fixture_units)
    # "ER" exists but only inside a word; "er" alone needs a "▁E..." piece.
    assert tok.encode_word("er") is None
    assert tok.encode_word("xyz") is None
    assert tok.encode_word("") is None


def test_longest_match_prefers_longer_units():
    units = UnitTable(["<blank>", "<unk>", "▁a", "▁ab", "c", "bc", "<sos/eos>"])
    tok = ModelTokenizer(units)
    # Greedy takes "▁ab" then "c", as WeNet's context tokenizer does, not "▁a" + "bc".
    assert symbols(units, tok.encode_word("abc")) == ["▁ab", "c"]


def test_lowercase_units_match_words_of_any_case():
    units = UnitTable(["<blank>", "<unk>", "▁turn", "▁on", "<sos/eos>"])
    tok = ModelTokenizer(units)
    assert tok.encode_word("turn") == (2,)
    assert tok.encode_word("Turn") == (2,)
    assert tok.encode_word("turns") is None


def test_mixed_word_splits_cjk_and_latin(fixture_units):
    tok = ModelTokenizer(fixture_units)
    assert symbols(fixture_units, tok.encode_word("打fan")) == ["打", "▁FAN"]


def test_results_are_cached_and_stable(fixture_units):
    tok = ModelTokenizer(fixture_units)
    first = tok.encode_word("living")
    assert tok.encode_word("living") is first
    assert tok.encode_words(["turn", "on", "the", "light"]) == tuple(
        fixture_units.symbol_to_id[s] for s in ["▁TURN", "▁ON", "▁THE", "▁LIGHT"]
    )
    assert tok.encode_words(["turn", "xyz"]) is None


def test_for_model_dir_reads_units_and_has_no_bpe(wenet_fixtures):
    tok = ModelTokenizer.for_model_dir(wenet_fixtures / "u2pp_conformer")
    assert not tok.uses_bpe
    assert tok.encode_word("light") == (tok.units.symbol_to_id["▁LIGHT"],)


def _train_bpe(tmp_path: Path) -> Path:
    import sentencepiece as spm

    corpus = tmp_path / "text.txt"
    lines = ["TURN ON THE KITCHEN LIGHT", "TURN OFF THE LIVING ROOM LIGHTS", "OPEN THE BEDROOM CURTAINS"] * 50
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp_path / "bpe"),
        vocab_size=40,
        model_type="bpe",
        character_coverage=1.0,
        minloglevel=2,
    )
    return tmp_path / "bpe.model"


def test_sentencepiece_model_in_model_dir_is_used(tmp_path):
    import sentencepiece as spm

    bpe = _train_bpe(tmp_path)
    processor = spm.SentencePieceProcessor(model_file=str(bpe))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    unit_symbols = ["<blank>", "<unk>"] + [p for p in pieces if p not in ("<unk>", "<s>", "</s>")] + ["<sos/eos>"]
    (tmp_path / "units.txt").write_text("".join(f"{s} {i}\n" for i, s in enumerate(unit_symbols)), encoding="utf-8")
    assert find_bpe_model(tmp_path) == bpe
    tok = ModelTokenizer.for_model_dir(tmp_path)
    assert tok.uses_bpe
    ids = tok.encode_word("curtains")
    assert ids is not None
    assert [tok.units.symbols[i] for i in ids] == processor.encode("CURTAINS", out_type=str)
    assert tok.units.symbols[ids[0]].startswith("▁")


def test_sentencepiece_piece_missing_from_units_cannot_be_spelled(tmp_path):
    _train_bpe(tmp_path)
    (tmp_path / "units.txt").write_text("<blank> 0\n<unk> 1\n▁TURN 2\n<sos/eos> 3\n", encoding="utf-8")
    tok = ModelTokenizer.for_model_dir(tmp_path)
    assert tok.encode_word("curtains") is None


def test_corrupt_bpe_model_is_a_model_load_error(tmp_path):
    (tmp_path / "units.txt").write_text("<blank> 0\n<unk> 1\n", encoding="utf-8")
    (tmp_path / "bpe.model").write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="bpe.model"):
        ModelTokenizer.for_model_dir(tmp_path)
