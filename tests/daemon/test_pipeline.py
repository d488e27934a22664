"""CommandPipeline with a scripted recognizer: streaming during speech, events at the endpoint, mute, model endpoint."""

from __future__ import annotations

import numpy as np
import pytest

from daemon.config import VadConfig
from daemon.events import IntentEvent, NotRecognizedEvent
from daemon.pipeline import ActiveGrammar, CommandPipeline
from tests.daemon.fakes import RecordingSink, ScriptedDecoder, ScriptedRecognizer
from tests.daemon.speech import speech_bounds, synth_samples

SR = 16000


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    return synth_samples("turn on the kitchen light")


def make(recognizer=None, decoder=None, **vad):
    recognizer = recognizer or ScriptedRecognizer()
    decoder = decoder or ScriptedDecoder()
    sink = RecordingSink()
    active = ActiveGrammar(decoder=decoder, language="en", version="v1", intent_names=("light_on",))
    pipeline = CommandPipeline(recognizer, lambda: active, sink, VadConfig(**vad), "kitchen")
    return pipeline, recognizer, decoder, sink


def feed_all(pipeline, samples, block=480, t0=1000.0):
    events = []
    for i in range(0, len(samples), block):
        chunk = samples[i : i + block]
        events += pipeline.feed(chunk, t0 + (i + len(chunk)) / SR)
    return events


def test_command_becomes_an_intent_event_with_timing(command):
    pipeline, rec, dec, sink = make()
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    [event] = feed_all(pipeline, samples)
    assert isinstance(event, IntentEvent) and sink.intents == [event]
    assert event.site_id == "kitchen" and event.intent == "light_on" and event.slots == {"area": "kitchen"}
    assert event.language == "en" and event.confidence == pytest.approx(0.9) and len(event.utterance_id) == 32
    first, last = speech_bounds(command)
    assert event.start_time - 1000.0 == pytest.approx(first, abs=0.1)
    assert event.end_time - 1000.0 == pytest.approx(last, abs=0.2)
    assert [t.text for t in event.tokens] == ["▁TURN", "▁ON"]
    assert [(t.start_s, t.end_s) for t in event.tokens] == [(0.0, 0.12), (0.12, 0.2)]
    # the session saw pre-roll + speech + trailing silence, in many small feeds (streamed), then was reset
    assert len(rec.feeds) > 20
    assert rec.finalized[0] / SR == pytest.approx(0.3 + (last - first) + 0.5, abs=0.25)  # VAD hangover
    assert dec.calls == [(rec.finalized[0] // 640, 40)]
    assert pipeline.stats.intents == 1 and pipeline.stats.endpoint_reasons == {"silence": 1}


def test_audio_reaches_the_recognizer_before_the_endpoint(command):
    pipeline, rec, _, _ = make()
    first, last = speech_bounds(command)
    feed_all(pipeline, command[: int((last - 0.1) * SR)])
    assert sum(rec.feeds) / SR > (last - 0.1 - first)  # nearly all speech already fed, no result yet
    assert rec.finalized == []


def test_rejected_utterance_becomes_not_recognized(command):
    pipeline, _, _, sink = make(decoder=ScriptedDecoder(min_frames=10_000))
    [event] = feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)]))
    assert isinstance(event, NotRecognizedEvent) and sink.not_recognized == [event]
    assert event.text == "mumble" and event.reason == "rejected" and event.site_id == "kitchen"


def test_model_endpoint_ends_the_utterance_early(command):
    pipeline, rec, _, sink = make(recognizer=ScriptedRecognizer(endpoint_after_samples=int(0.8 * SR)))
    events = feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)]))
    assert len(events) >= 1 and pipeline.stats.endpoint_reasons.get("endpoint", 0) >= 1
    assert rec.finalized[0] < int(0.8 * SR) + 960


def test_mute_drops_audio_and_unmute_listens_again(command):
    pipeline, rec, _, sink = make()
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    pipeline.mute()
    assert feed_all(pipeline, samples) == [] and rec.feeds == []
    pipeline.unmute()
    assert len(feed_all(pipeline, samples)) == 1


def test_mute_in_the_middle_of_an_utterance_discards_it(command):
    pipeline, rec, _, sink = make()
    first, _ = speech_bounds(command)
    feed_all(pipeline, command[: int((first + 0.5) * SR)])
    pipeline.mute()
    pipeline.feed(np.zeros(480, np.int16))
    pipeline.unmute()
    assert feed_all(pipeline, np.zeros(SR, np.int16)) == []
    assert rec.finalized == [] and sink.intents == []


def test_short_noise_is_dropped_without_decoding(command):
    pipeline, rec, dec, sink = make(min_speech_ms=2000)
    assert feed_all(pipeline, np.concatenate([command, np.zeros(SR, np.int16)])) == []
    assert dec.calls == [] and pipeline.stats.too_short == 1


def test_flush_decodes_an_utterance_cut_by_end_of_stream(command):
    pipeline, _, _, sink = make()
    first, last = speech_bounds(command)
    feed_all(pipeline, command[: int(last * SR)])
    [event] = pipeline.flush()
    assert event.intent == "light_on" and pipeline.stats.endpoint_reasons == {"end_of_stream": 1}


def test_a_failing_sink_does_not_stop_the_pipeline(command):
    pipeline, _, _, sink = make()

    def broken(event):
        raise RuntimeError("broker gone")

    sink.publish_intent = broken
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    assert len(feed_all(pipeline, samples)) == 1
    assert len(feed_all(pipeline, samples)) == 1
