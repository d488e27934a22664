"""GrammarDecoder: intents and slots from log-probs, rejection by margin, agreement with brute force."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from daemon.grammar import load_grammar
from daemon.grammar.decode import DEFAULT_REJECT_THRESHOLD, GrammarDecoder, command_confidence
from runtime.tokenizer import ModelTokenizer
from runtime.units import UnitTable
from tests.grammar.test_token_compiler import EN_GRAMMAR, ZH_GRAMMAR, word_sentences
from tests.runtime.test_constrained import ctc_viterbi

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fixture_model(wenet_fixtures: Path) -> Path:
    return wenet_fixtures / "transformer_sub8"


@pytest.fixture(scope="module")
def tokenizer(fixture_model: Path) -> ModelTokenizer:
    return ModelTokenizer.for_model_dir(fixture_model)


@pytest.fixture()
def zh_grammar(tmp_path):
    path = tmp_path / "zh.yaml"
    path.write_text(ZH_GRAMMAR, encoding="utf-8")
    return load_grammar([path])


@pytest.fixture()
def en_grammar(tmp_path):
    path = tmp_path / "en.yaml"
    path.write_text(EN_GRAMMAR, encoding="utf-8")
    return load_grammar([path])


def said(units: UnitTable, symbols: list[str], rng, lead=3, gap=3, tail=3) -> np.ndarray:
    """Peaky synthetic log-probs of a unit sequence over the fixture vocabulary."""
    num_frames = lead + gap * len(symbols) + tail
    logits = rng.normal(0, 1.0, (num_frames, len(units)))
    logits[:, 0] += 7.0
    for i, sym in enumerate(symbols):
        logits[lead + gap * i, units.symbol_to_id[sym]] += 16.0
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


def test_default_threshold_is_a_measured_negative_margin():
    assert -1.0 < DEFAULT_REJECT_THRESHOLD < -0.05
    # A clear weakest unit (posterior 0.99): the margin maps the threshold region (tests/grammar/test_confidence.py).
    assert command_confidence(0.0, 0.99) > 0.75
    assert 0.2 < command_confidence(DEFAULT_REJECT_THRESHOLD, 0.99) < 0.6
    assert command_confidence(-1.0, 0.99) < 0.01
    assert command_confidence(-math.inf, 0.99) == 0.0
    margins = [-2.0, -0.5, -0.2, -0.1, 0.0]
    assert [command_confidence(m, 0.99) for m in margins] == sorted(command_confidence(m, 0.99) for m in margins)


def test_in_grammar_zh_command_gives_intent_and_slots(zh_grammar, tokenizer):
    decoder = GrammarDecoder(zh_grammar, tokenizer)
    lp = said(tokenizer.units, list("打开卧室的风扇"), np.random.default_rng(0))
    result = decoder.decode(lp, 80)
    assert result.recognized
    assert (result.intent, result.slots, result.text) == ("TurnOn", {"room": "bedroom"}, "打开卧室的风扇")
    assert result.raw_slots == {"room": "卧室"}
    assert result.free_text == "打开卧室的风扇"
    assert result.margin > -0.05
    weakest = min(t[3] for t in result.tokens)
    assert result.confidence == pytest.approx(command_confidence(result.margin, weakest)) and result.confidence > 0.7
    assert [t[0] for t in result.tokens] == list("打开卧室的风扇")
    starts = [t[1] for t in result.tokens]
    assert starts == sorted(starts) and all(t[2] > t[1] for t in result.tokens)
    assert starts[0] == 3 * 80  # the first unit peaks at frame 3
    # The same sentence through the text parser means the same thing.
    parsed = zh_grammar.parse(result.text)
    assert (parsed.intent, parsed.slots) == (result.intent, result.slots)


def test_in_grammar_en_command_with_multi_piece_word(en_grammar, tokenizer):
    decoder = GrammarDecoder(en_grammar, tokenizer)
    lp = said(tokenizer.units, ["▁TURN", "▁ON", "▁AIR", "▁CONDITION", "ER"], np.random.default_rng(1))
    result = decoder.decode(lp, 80)
    assert result.recognized and result.intent == "TurnOn" and result.text == "turn on air conditioner"
    lp = said(tokenizer.units, ["▁TURN", "▁ON", "▁THE", "▁LIVING", "▁ROOM", "▁LIGHT"], np.random.default_rng(2))
    result = decoder.decode(lp, 80)
    assert result.slots == {"room": "living_room"} and result.raw_slots == {"room": "living room"}


def test_out_of_grammar_speech_is_rejected_with_the_free_transcript(en_grammar, tokenizer):
    decoder = GrammarDecoder(en_grammar, tokenizer)
    lp = said(tokenizer.units, ["▁I", "▁CLOSE", "▁IT", "▁PLEASE", "▁A", "▁BED"], np.random.default_rng(3))
    result = decoder.decode(lp, 80)
    assert not result.recognized
    assert result.intent is None and result.slots == {}
    assert result.free_text == "i close it please a bed"
    assert result.margin < DEFAULT_REJECT_THRESHOLD
    assert "threshold" in result.reason
    # A permissive threshold accepts the same audio as its nearest command.
    loose = GrammarDecoder(en_grammar, tokenizer, reject_threshold=-100.0)
    assert loose.decode(lp, 80).recognized


def test_audio_too_short_for_any_command_is_not_recognized(zh_grammar, tokenizer):
    decoder = GrammarDecoder(zh_grammar, tokenizer)
    lp = said(tokenizer.units, ["打"], np.random.default_rng(4), lead=0, gap=1, tail=0)
    result = decoder.decode(lp, 80)
    assert not result.recognized and result.margin == -math.inf and result.confidence == 0.0
    assert "fits" in result.reason
    assert json.loads(json.dumps(result.to_json_dict()))["margin"] is None
    empty = decoder.decode(np.zeros((0, len(tokenizer.units)), np.float32), 80)
    assert not empty.recognized and empty.reason == "no audio"


def test_decoder_is_immutable(zh_grammar, tokenizer):
    decoder = GrammarDecoder(zh_grammar, tokenizer)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoder.reject_threshold = 0.0  # type: ignore[misc]


@pytest.mark.parametrize("model", ["transformer_sub8", "u2pp_conformer", "bpu_conformer_sub8"])
@pytest.mark.parametrize("wav", ["zh_dakai_keting_de_deng", "en_turn_on_the_kitchen_light"])
def test_fixture_model_logprobs_decode_to_the_brute_force_best_sentence(
    tmp_path, wenet_fixtures, tokenizer, model, wav
):
    both = tmp_path / "both"
    both.mkdir()
    (both / "zh.yaml").write_text(ZH_GRAMMAR, encoding="utf-8")
    (both / "en.yaml").write_text(EN_GRAMMAR, encoding="utf-8")
    grammar = load_grammar([both])
    lp = np.load(wenet_fixtures / model / "ref" / wav / "ctc_logprobs_chunked_cppfeed.npy")
    decoder = GrammarDecoder(grammar, tokenizer, reject_threshold=-100.0, beam=1e9, max_active=10**6)
    result = decoder.decode(lp, 80)
    # Brute force: CTC forced alignment of every sentence of the grammar.
    scored = []
    for words in word_sentences(grammar.word_graph()):
        ids = tokenizer.encode_words(words)
        if ids is not None:
            scored.append((ctc_viterbi(lp, ids), words))
    best_score = max(s for s, _ in scored)
    best_texts = {grammar.parse(" ".join(w)).text for s, w in scored if s > best_score - 1e-4}
    assert result.recognized
    assert result.text in best_texts
    assert result.margin == pytest.approx((best_score - float(lp.max(axis=1).sum())) / len(lp), abs=1e-5)
    parsed = grammar.parse(result.text)
    assert (parsed.intent, parsed.slots) == (result.intent, result.slots)
    # The default pruning finds the same sentence on these inputs.
    pruned = GrammarDecoder(grammar, tokenizer, reject_threshold=-100.0).decode(lp, 80)
    assert pruned.text == result.text


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "daemon", "recognize", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_recognize_cli_prints_one_json_line_per_wav(tmp_path, wenet_fixtures, fixture_model):
    grammar = tmp_path / "zh.yaml"
    grammar.write_text(ZH_GRAMMAR, encoding="utf-8")
    wavs = [wenet_fixtures / "audio" / f for f in ("zh_dakai_keting_de_deng.wav", "en_turn_on_the_kitchen_light.wav")]
    proc = run_cli("--model", str(fixture_model), "--grammar", str(grammar), "--threshold", "-50", *map(str, wavs))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(w) for w in wavs]
    for line in lines:
        assert list(line) == ["file", "recognized", "intent", "slots", "text", "free_text", "confidence", "margin"]
        assert line["recognized"] is True  # a random model, but -50 nats/frame accepts anything that fits
        assert line["intent"] in ("TurnOn", "TurnOff")
        assert line["margin"] <= 0.0


def test_recognize_cli_errors_are_one_line(tmp_path, fixture_model):
    grammar = tmp_path / "zh.yaml"
    grammar.write_text(ZH_GRAMMAR, encoding="utf-8")
    proc = run_cli("--model", str(fixture_model), "--grammar", str(grammar), str(tmp_path / "missing.wav"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == f"voicecmd: error: {tmp_path / 'missing.wav'}: no such file"
    assert "Traceback" not in proc.stderr
    proc = run_cli("--model", str(fixture_model), "--grammar", str(tmp_path / "nope.yaml"), "x.wav")
    assert proc.returncode == 1 and "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("--model", str(tmp_path), "--grammar", str(grammar), "x.wav")
    assert proc.returncode == 2 and proc.stderr.startswith("voicecmd: error: ")


def vocabulary_tokenizer(grammar) -> ModelTokenizer:
    """A unit table that spells every grammar word (one unit per CJK character / English word)."""
    words = grammar.word_graph().vocabulary()
    symbols = sorted({("\u2581" + w.upper()) if w.isascii() else w for w in words})
    return ModelTokenizer(UnitTable(["<blank>", "<unk>", *symbols, "<sos/eos>"]))


def spoken_words(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split():
        out.extend([word.lower()] if word.isascii() else list(word))
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_shipped_grammar_sentences_decode_to_their_intent_and_slots(repo_root, lang):
    from daemon.grammar import sample_sentences

    grammar = load_grammar([repo_root / "grammars" / lang])
    tokenizer = vocabulary_tokenizer(grammar)
    decoder = GrammarDecoder(grammar, tokenizer)
    rng = np.random.default_rng(5)
    samples = sample_sentences(grammar, 40, seed=3)
    assert len({s.intent for s in samples}) >= 5
    for sample in samples:
        ids = tokenizer.encode_words(spoken_words(sample.text))
        assert ids is not None, sample.text
        symbols = [tokenizer.units.symbols[i] for i in ids]
        result = decoder.decode(said(tokenizer.units, symbols, rng), 80)
        assert result.recognized, sample.text
        assert (result.intent, result.slots) == (sample.intent, sample.slots), sample.text


@pytest.mark.parametrize("model", ["transformer_sub8", "u2pp_conformer"])
def test_streamed_audio_decodes_like_the_reference_logprobs(tmp_path, wenet_fixtures, model):
    from daemon.audio.wavfile import read_wav_int16
    from runtime.recognizer import Recognizer

    grammar_dir = tmp_path / "g"
    grammar_dir.mkdir()
    (grammar_dir / "zh.yaml").write_text(ZH_GRAMMAR, encoding="utf-8")
    (grammar_dir / "en.yaml").write_text(EN_GRAMMAR, encoding="utf-8")
    grammar = load_grammar([grammar_dir])
    recognizer = Recognizer(wenet_fixtures / model, backend="onnx")
    decoder = GrammarDecoder(grammar, ModelTokenizer.for_model_dir(recognizer.model_dir, recognizer.units),
                             reject_threshold=-100.0)
    session = recognizer.create_session()
    for wav in ("zh_dakai_keting_de_deng", "en_turn_on_the_kitchen_light"):
        session.reset()
        samples = read_wav_int16(wenet_fixtures / "audio" / f"{wav}.wav")
        for begin in range(0, len(samples), 1234):  # odd chunk sizes: streaming must not matter
            session.accept_waveform(samples[begin : begin + 1234])
        final = session.finalize()
        reference = np.load(wenet_fixtures / model / "ref" / wav / "ctc_logprobs_chunked_cppfeed.npy")
        assert final.logprobs.shape == reference.shape
        streamed = decoder.decode(final.logprobs, final.frame_shift_ms)
        expected = decoder.decode(reference, final.frame_shift_ms)
        assert streamed.recognized and expected.recognized
        assert (streamed.text, streamed.intent, streamed.slots) == (expected.text, expected.intent, expected.slots)
        assert streamed.margin == pytest.approx(expected.margin, abs=1e-3)
        assert streamed.tokens[-1][2] <= len(reference) * final.frame_shift_ms
