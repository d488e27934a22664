"""The pipeline decodes during the trailing silence (sessions with snapshot(), i.e. Whisper) and uses that result
at the endpoint; speech that resumes voids it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from daemon.events import IntentEvent
from daemon.speculation import SpeculativeDecoder
from tests.daemon.fakes import ScriptedRecognizer, ScriptedSession
from tests.daemon.speech import speech_bounds, synth_samples
from tests.daemon.test_pipeline import feed_all, make

SR = 16000


class SnapshotSession(ScriptedSession):
    """A scripted session that can be copied, like runtime.whisper.recognizer.WhisperSession."""

    def snapshot(self) -> "SnapshotSession":
        copy = SnapshotSession(self._rec)
        copy.samples = self.samples
        self._rec.snapshots.append(self.samples)
        return copy


class SnapshotRecognizer(ScriptedRecognizer):
    decodes_at_end = True  # like Whisper
    trailing_context_ms = 60

    def __init__(self) -> None:
        super().__init__()
        self.snapshots: list[int] = []

    def create_session(self) -> SnapshotSession:
        return SnapshotSession(self)


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    return synth_samples("turn on the kitchen light")


def test_the_endpoint_uses_the_decode_made_during_the_silence(command):
    pipeline, rec, dec, sink = make(SnapshotRecognizer(), lookahead_after_ms=150, early_commit=False)
    [event] = feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)]))
    assert isinstance(event, IntentEvent) and sink.intents == [event]
    # one decode only: the look-ahead's, on the audio up to ~150 ms into the silence (not the full 500 ms)
    assert len(dec.calls) == 1 and len(rec.snapshots) == 1
    assert rec.finalized == [rec.snapshots[0]]
    assert pipeline._lookahead.used == 1


def test_speech_after_a_pause_voids_the_look_ahead(command):
    pipeline, rec, dec, sink = make(SnapshotRecognizer(), lookahead_after_ms=150, trailing_silence_ms=700, early_commit=False)
    first, last = speech_bounds(command)
    speech = command[int(first * SR):int(last * SR)]
    pause = np.zeros(int(0.35 * SR), np.int16)  # longer than the look-ahead delay, shorter than the endpoint
    [event] = feed_all(pipeline, np.concatenate([speech, pause, speech, np.zeros(SR, np.int16)]))
    assert isinstance(event, IntentEvent)
    assert len(rec.snapshots) == 2  # one in the pause, one after the second phrase
    assert pipeline._lookahead.discarded >= 1 and pipeline._lookahead.used == 1
    # the decoded audio covers both phrases
    assert rec.finalized[-1] == rec.snapshots[-1] > 2 * len(speech)


def test_no_look_ahead_when_disabled_or_streaming(command):
    pipeline, rec, dec, _ = make(SnapshotRecognizer(), lookahead_after_ms=0, early_commit=False)
    feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)]))
    assert rec.snapshots == [] and len(dec.calls) == 1
    pipeline, rec, dec, _ = make(ScriptedRecognizer(), lookahead_after_ms=150)  # no snapshot(): CTC streams
    feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)]))
    assert len(dec.calls) == 1


class CancellableSession(SnapshotSession):
    """A snapshot that records being cancelled, like WhisperSession.cancel()."""

    cancelled = False

    def snapshot(self) -> "CancellableSession":
        copy = CancellableSession(self._rec)
        copy.samples = self.samples
        self._rec.snapshots.append(copy)
        return copy

    def cancel(self) -> None:
        self.cancelled = True


def test_speech_that_resumes_cancels_the_running_decode():
    recognizer = SnapshotRecognizer()
    session = CancellableSession(recognizer)
    started, release = threading.Event(), threading.Event()

    def slow_decode(snapshot, active):
        started.set()
        release.wait(10)
        return None, None

    ahead = SpeculativeDecoder(slow_decode, 60)
    ahead.maybe_start(session, object(), silence_ms=60)
    assert started.wait(10)
    ahead.discard()
    [copy] = recognizer.snapshots
    assert copy.cancelled and not session.cancelled and ahead.idle
    release.set()
    ahead.close()
