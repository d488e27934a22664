"""The grammar search stops as soon as its answer is settled, and a decode can be cancelled between steps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.audio.audiofile import read_audio
from daemon.grammar import load_grammar
from daemon.grammar.surface import written_automata
from runtime.errors import DecodeCancelled
from runtime.recognizer import open_recognizer
from runtime.whisper.search import constrained_decode

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "audio"


@pytest.fixture(scope="module")
def recognizer():
    return open_recognizer(REPO / "models" / "whisper-base", num_threads=2)


@pytest.fixture(scope="module")
def automata():
    return written_automata(load_grammar([REPO / "grammars"]))


def _encoded(recognizer, name: str):
    session = recognizer.create_session()
    session.accept_waveform(np.concatenate([read_audio(DEMO / f"{name}.wav"), np.zeros(4800, np.int16)]))
    return session.finalize().encoded


def _calls(model, decode):
    before = model.decoder_calls
    result = decode()
    return result, model.decoder_calls - before


@pytest.mark.parametrize("name", ["en_turn_on_kitchen_light", "zh_bedroom_ac_26_degrees"])
def test_an_accepted_sentence_stops_the_free_transcript_at_its_length(recognizer, automata, name):
    model = recognizer.model
    encoded = _encoded(recognizer, name)
    full, full_calls = _calls(model, lambda: constrained_decode(model, encoded, automata))
    short, short_calls = _calls(model, lambda: constrained_decode(model, encoded, automata, accept_margin=-1.75))
    assert full.accepted and full.margin >= -1.75
    # the same sentence and margin; the free transcript only as long as the margin needs
    assert (short.text, short.tokens, short.margin) == (full.text, full.tokens, full.margin)
    assert full.free.tokens[: len(short.free.tokens)] == short.free.tokens
    assert len(short.free.tokens) >= len(short.tokens) or short.free.tokens == full.free.tokens
    assert short_calls <= full_calls


def test_a_rejected_sentence_keeps_its_whole_free_transcript(recognizer, automata):
    model = recognizer.model
    encoded = _encoded(recognizer, "en_not_a_command")
    free = constrained_decode(model, encoded, automata).free
    strict = constrained_decode(model, encoded, automata, accept_margin=10.0)  # no sentence clears this
    assert strict.free.tokens == free.tokens and strict.free.text.strip()


def test_a_cancelled_decode_stops_between_steps(recognizer, automata):
    model = recognizer.model
    encoded = _encoded(recognizer, "en_turn_on_kitchen_light")
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return len(asked) > 2

    before = model.decoder_calls
    with pytest.raises(DecodeCancelled):
        constrained_decode(model, encoded, automata, cancelled=cancelled)
    assert model.decoder_calls - before <= 4  # language, prompts and two steps, not the whole sentence


def test_cancelling_a_snapshot_leaves_the_session_alone(recognizer):
    session = recognizer.create_session()
    session.accept_waveform(read_audio(DEMO / "en_turn_on_kitchen_light.wav"))
    snapshot = session.snapshot()
    snapshot.cancel()
    with pytest.raises(DecodeCancelled):
        snapshot.finalize()
    assert session.finalize().encoded is not None
