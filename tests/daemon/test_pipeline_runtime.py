"""CommandPipeline on the real runtime (fixture model) and the real grammar decoder: the encoder has already run
over the speech when the endpoint comes, so only the last partial chunk is left for finalize()."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.app import make_grammar_builder
from daemon.config import VadConfig
from daemon.events import IntentEvent
from daemon.pipeline import CommandPipeline
from runtime.recognizer import Recognizer
from tests.daemon.fakes import RecordingSink
from tests.daemon.speech import synth_samples

FIXTURE_MODEL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "wenet" / "u2pp_conformer"
GRAMMAR = 'language: en\nintents:\n  LightOff:\n    data:\n      - sentences:\n          - "turn light off"\n'


class WatchedSession:
    """Delegates to a real session and records how many CTC frames existed when finalize() was called."""

    def __init__(self, inner, log):
        self._inner, self._log = inner, log

    def accept_waveform(self, samples):
        self._inner.accept_waveform(samples)

    def endpoint_detected(self):
        return self._inner.endpoint_detected()

    def finalize(self):
        before = len(self._inner.logprobs)
        result = self._inner.finalize()
        self._log.append((before, len(result.logprobs)))
        return result

    def reset(self):
        self._inner.reset()


class WatchedRecognizer:
    def __init__(self, inner):
        self._inner, self.finalized = inner, []
        self.frame_shift_ms = inner.frame_shift_ms

    def create_session(self):
        return WatchedSession(self._inner.create_session(), self.finalized)


def test_speech_is_encoded_while_it_is_spoken(tmp_path):
    recognizer = Recognizer(FIXTURE_MODEL)
    (tmp_path / "g.yaml").write_text(GRAMMAR)
    active = make_grammar_builder(recognizer, -1e6)((tmp_path / "g.yaml",))
    watched = WatchedRecognizer(recognizer)
    sink = RecordingSink()
    pipeline = CommandPipeline(watched, lambda: active, sink, VadConfig(model_endpoint=False), "rt")
    samples = np.concatenate([synth_samples("turn the light off"), np.zeros(16000, np.int16)])
    for i in range(0, len(samples), 480):
        pipeline.feed(samples[i : i + 480])
    [event] = sink.intents
    assert isinstance(event, IntentEvent) and event.intent == "LightOff"
    [(before, after)] = watched.finalized
    chunk_frames = recognizer.info["chunk_size"]
    assert after - before <= chunk_frames  # only the last partial chunk was left for the endpoint
    assert before >= 20  # the spoken part (about 1 s = 25 frames of 40 ms) was encoded before the endpoint
