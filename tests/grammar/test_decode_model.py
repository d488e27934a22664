"""The project's model (models/default) on its demo recordings: search invariants with real log-probs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.audio.wavfile import read_wav_int16
from daemon.grammar import load_grammar
from daemon.grammar.decode import GrammarDecoder
from runtime.decoding.constrained import constrained_search, free_best_path
from runtime.recognizer import Recognizer
from runtime.tokenizer import ModelTokenizer

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "default"
DEMO = REPO / "demo" / "audio"


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer(MODEL, backend="onnx")


@pytest.fixture(scope="module")
def decoders(recognizer) -> dict[str, GrammarDecoder]:
    tokenizer = ModelTokenizer.for_model_dir(MODEL, recognizer.units)
    assert tokenizer.uses_bpe  # the bundled model spells English with its sentencepiece model
    return {lang: GrammarDecoder(load_grammar([REPO / "grammars" / lang]), tokenizer) for lang in ("zh", "en")}


def demo_logprobs(recognizer: Recognizer, wav: Path) -> np.ndarray:
    session = recognizer.create_session()
    samples = read_wav_int16(wav)
    for begin in range(0, len(samples), 1600):
        session.accept_waveform(samples[begin : begin + 1600])
    return session.finalize().logprobs


def test_bundled_model_spells_every_shipped_grammar_word(decoders):
    for decoder in decoders.values():
        assert decoder.unknown_words == ()


@pytest.mark.parametrize("wav", sorted(p.name for p in DEMO.glob("*.wav")))
def test_demo_recording_search_invariants(recognizer, decoders, wav):
    lang = wav.split("_", 1)[0]
    decoder = decoders[lang]
    lp = demo_logprobs(recognizer, DEMO / wav)
    duration_ms = len(read_wav_int16(DEMO / wav)) * 1000 // 16000
    pruned = constrained_search(lp, decoder.graph)
    exhaustive = constrained_search(lp, decoder.graph, beam=1e9, max_active=10**6)
    # Pruning can only lose paths; on commands the default pruning finds the best grammar path (on
    # out-of-grammar speech it may not, which only lowers an already rejected margin).
    assert pruned.accepted and exhaustive.accepted
    assert pruned.log_likelihood <= exhaustive.log_likelihood + 1e-4
    if "not_a_command" not in wav:
        assert pruned.log_likelihood == pytest.approx(exhaustive.log_likelihood, abs=1e-3)
        assert pruned.tokens == exhaustive.tokens
    # The grammar path can never beat the free path; the free path is the greedy transcript.
    assert pruned.log_likelihood <= pruned.free_log_likelihood + 1e-4
    assert free_best_path(lp)[1] == pruned.free_tokens
    result = decoder.result_of(pruned, recognizer.frame_shift_ms)
    assert result.free_text == recognizer.units.text_of(pruned.free_tokens)
    frame_ms = recognizer.frame_shift_ms
    assert all(0 <= start < end <= len(lp) * frame_ms for _, start, end, _ in result.tokens)
    assert len(lp) * frame_ms <= duration_ms + 2 * 8 * frame_ms  # at most the padded last chunk beyond the audio
    assert all(0.0 < conf <= 1.0 for *_, conf in result.tokens)


def test_demo_speech_that_is_not_a_command_is_rejected_by_default(recognizer, decoders):
    result = decoders["en"].decode(demo_logprobs(recognizer, DEMO / "en_not_a_command.wav"), recognizer.frame_shift_ms)
    assert not result.recognized
    assert result.intent is None and result.free_text
