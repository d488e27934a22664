"""Early commit with the real models (Whisper, the CPU default; the WeNet CTC model, the BPU default) and the shipped
grammars: the demo commands are published after the guard of non-speech, before the trailing silence; a
not-a-command clip is not committed early."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.app import make_grammar_builder
from daemon.audio.audiofile import read_audio
from daemon.config import VadConfig
from daemon.events import IntentEvent
from daemon.pipeline import CommandPipeline
from runtime.recognizer import open_recognizer
from tests.daemon.fakes import RecordingSink

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "audio"
SR = 16000
BLOCK = 480


_LOADED: dict = {}


def loaded(model: str):
    """(recognizer, active shipped grammar) of a bundled model, loaded once per test run."""
    if model not in _LOADED:
        recognizer = open_recognizer(REPO / "models" / model, num_threads=2)
        _LOADED[model] = recognizer, make_grammar_builder(recognizer, None)((REPO / "grammars",))
    return _LOADED[model]


def feed_waiting(pipeline, samples):
    """Feed 30 ms blocks, letting each look-ahead finish before the next block (a decoder faster than real time)."""
    events = []
    for begin in range(0, len(samples), BLOCK):
        for event in pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR):
            events.append((begin + BLOCK, event))
        pipeline.settle()
    return events


def last_loud_s(samples: np.ndarray) -> float:
    return float(np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)[-1] / SR)


COMMANDS = [
    ("en_turn_on_kitchen_light.wav", "HassTurnOn"),
    ("zh_turn_on_living_room_light.wav", "HassTurnOn"),
    ("en_bedroom_temperature_22.wav", "HassClimateSetTemperature"),
    ("zh_bedroom_ac_26_degrees.wav", "HassClimateSetTemperature"),
]


# (the WeNet model rejects the last clip even at the endpoint: margin -0.22)
@pytest.mark.parametrize("model, clip, intent", [("whisper-base", *c) for c in COMMANDS] +
                         [("default", *c) for c in COMMANDS[:3]])
def test_demo_commands_are_committed_early(model, clip, intent):
    recognizer, grammar = loaded(model)
    speech = read_audio(DEMO / clip)
    pipeline = CommandPipeline(recognizer, lambda: grammar, RecordingSink(), VadConfig(), "kitchen")
    events = feed_waiting(pipeline, np.concatenate([speech, np.zeros(SR, np.int16)]))
    [(fed, event)] = events
    assert isinstance(event, IntentEvent) and event.intent == intent
    assert pipeline.stats.endpoint_reasons == {"early_commit": 1}
    assert (fed / SR - last_loud_s(speech)) * 1000 < 400  # the endpoint would be >= 500 ms


@pytest.mark.parametrize("model", ["whisper-base", "default"])
def test_not_a_command_waits_for_the_endpoint(model):
    recognizer, grammar = loaded(model)
    speech = read_audio(DEMO / "en_not_a_command.wav")
    pipeline = CommandPipeline(recognizer, lambda: grammar, RecordingSink(), VadConfig(), "kitchen")
    events = feed_waiting(pipeline, np.concatenate([speech, np.zeros(SR, np.int16)]))
    assert [type(e).__name__ for _, e in events] == ["NotRecognizedEvent"]
    assert pipeline.stats.early_commits == 0
