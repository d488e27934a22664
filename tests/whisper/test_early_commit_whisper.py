"""Early commit with the real Whisper model and the shipped grammars: the demo commands (en + zh) are published
after the guard of non-speech, before the trailing silence; a not-a-command clip is not committed early."""

from __future__ import annotations

import time
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


@pytest.fixture(scope="module")
def active():
    recognizer = open_recognizer(REPO / "models" / "whisper-base", num_threads=2)
    return recognizer, make_grammar_builder(recognizer, None)((REPO / "grammars",))


def feed_waiting(pipeline, samples):
    """Feed 30 ms blocks, letting each look-ahead finish before the next block (a decoder faster than real time)."""
    events = []
    for begin in range(0, len(samples), BLOCK):
        for event in pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR):
            events.append((begin + BLOCK, event))
        future = pipeline._lookahead._future
        while future is not None and not future.done():
            time.sleep(0.002)
    return events


def last_loud_s(samples: np.ndarray) -> float:
    return float(np.flatnonzero(np.abs(samples.astype(np.int32)) > 300)[-1] / SR)


@pytest.mark.parametrize("clip, intent", [
    ("en_turn_on_kitchen_light.wav", "HassTurnOn"),
    ("zh_turn_on_living_room_light.wav", "HassTurnOn"),
    ("zh_bedroom_ac_26_degrees.wav", "HassClimateSetTemperature"),
])
def test_demo_commands_are_committed_early(active, clip, intent):
    recognizer, grammar = active
    speech = read_audio(DEMO / clip)
    pipeline = CommandPipeline(recognizer, lambda: grammar, RecordingSink(), VadConfig(), "kitchen")
    events = feed_waiting(pipeline, np.concatenate([speech, np.zeros(SR, np.int16)]))
    [(fed, event)] = events
    assert isinstance(event, IntentEvent) and event.intent == intent
    assert pipeline.stats.endpoint_reasons == {"early_commit": 1}
    assert (fed / SR - last_loud_s(speech)) * 1000 < 400  # the endpoint would be >= 500 ms


def test_not_a_command_waits_for_the_endpoint(active):
    recognizer, grammar = active
    speech = read_audio(DEMO / "en_not_a_command.wav")
    pipeline = CommandPipeline(recognizer, lambda: grammar, RecordingSink(), VadConfig(), "kitchen")
    events = feed_waiting(pipeline, np.concatenate([speech, np.zeros(SR, np.int16)]))
    assert [type(e).__name__ for _, e in events] == ["NotRecognizedEvent"]
    assert pipeline.stats.early_commits == 0
