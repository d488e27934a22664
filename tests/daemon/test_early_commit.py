"""Early commit: a complete, unambiguous command is published after a short guard of non-speech, before the
trailing silence; a sentence the grammar could continue waits for the endpoint."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from daemon.config import VadConfig
from daemon.events import IntentEvent
from daemon.grammar import load_grammar
from daemon.pipeline import ActiveGrammar, CommandPipeline
from tests.daemon.fakes import RecordingSink, ScriptedDecoder
from tests.daemon.speech import speech_bounds, synth_samples
from tests.daemon.test_lookahead import SnapshotRecognizer
from tests.grammar.helpers import PREFIX_AMBIGUOUS_LIGHTS

SR = 16000
BLOCK = 480  # 30 ms, like the microphone


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    return synth_samples("turn on the kitchen light")


@pytest.fixture
def grammar(tmp_path):
    path = tmp_path / "lights.yaml"
    path.write_text(PREFIX_AMBIGUOUS_LIGHTS, encoding="utf-8")
    return load_grammar([path])


def whole_command_frames(command: np.ndarray) -> int:
    """The scripted decoder recognizes the sentence only once the audio reaches the last phoneme (a decode made
    in a pause inside the command is rejected, as a real one would give an incomplete sentence)."""
    first, last = speech_bounds(command)
    # the session's audio starts at the VAD onset (~90 ms in) less the 300 ms pre-roll
    return int((last - first + 0.15) * SR) // 640


def run(grammar, command, decoded_text: str, recognizer=None, extra_frames: int = 0, **vad):
    """Feed command + 1 s of silence block by block (waiting for each look-ahead, as real time would);
    returns (events with the sample count fed when each appeared, pipeline)."""
    decoder = ScriptedDecoder(text=decoded_text, min_frames=whole_command_frames(command) + extra_frames)
    active = ActiveGrammar(decoder=decoder, language="en", version="v1", intent_names=("LightOn",), grammar=grammar)
    pipeline = CommandPipeline(recognizer or SnapshotRecognizer(), lambda: active, RecordingSink(), VadConfig(**vad),
                               "kitchen")
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    events = []
    for begin in range(0, len(samples), BLOCK):
        for event in pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR):
            events.append((begin + BLOCK, event))
        pipeline.settle()
    return events, pipeline


def test_a_final_command_is_published_before_the_trailing_silence(grammar, command):
    events, pipeline = run(grammar, command, "turn on the kitchen light")
    [(fed, event)] = events
    assert isinstance(event, IntentEvent) and event.text == "turn on the kitchen light"
    _, last = speech_bounds(command)
    after_speech_ms = (fed / SR - last) * 1000
    # the guard (200 ms) plus VAD framing, well before the 500 ms trailing silence
    assert 200 <= after_speech_ms < 350, after_speech_ms
    assert pipeline.stats.early_commits == 1 and pipeline.stats.endpoint_reasons == {"early_commit": 1}


def test_a_sentence_the_grammar_can_continue_waits_for_the_endpoint(grammar, command):
    events, pipeline = run(grammar, command, "turn on the light")  # "... in the kitchen" could follow
    [(fed, event)] = events
    assert isinstance(event, IntentEvent)
    _, last = speech_bounds(command)
    assert (fed / SR - last) * 1000 >= 500
    assert pipeline.stats.early_commits == 0 and pipeline.stats.endpoint_reasons == {"silence": 1}
    # the endpoint decodes again (Whisper hears a clip cut 60 ms after the speech less well than at 150 ms)
    assert pipeline._early.started >= 1 and pipeline._early.used == 0 and pipeline._lookahead.used == 1


def test_a_rejected_early_decode_leaves_the_endpoint_to_the_look_ahead(grammar, command):
    # the scripted decoder wants one frame more than the early decode (60 ms into the silence) has: it is
    # rejected, the look-ahead (150 ms) is not
    first = SnapshotRecognizer()
    run(grammar, command, "turn on the kitchen light", recognizer=first)
    wanted = first.snapshots[-1] // 640 + 1  # the early decode's audio, committed there
    events, pipeline = run(grammar, command, "turn on the kitchen light", recognizer=SnapshotRecognizer(),
                           extra_frames=wanted - whole_command_frames(command))
    [(fed, event)] = events
    assert isinstance(event, IntentEvent)
    assert pipeline.stats.endpoint_reasons == {"silence": 1}
    assert pipeline._early.started >= 1 and pipeline._lookahead.used == 1


class GatedDecoder(ScriptedDecoder):
    """A scripted decoder whose every decode waits for ``gate`` (a slow model)."""

    def __init__(self, gate: threading.Event, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate = gate

    def decode_result(self, result):
        self.gate.wait(10)
        return super().decode_result(result)


def gated_pipeline(grammar, command, decoded_text: str, gate: threading.Event):
    """(pipeline whose decodes wait for ``gate``, command + 1 s of silence)."""
    decoder = GatedDecoder(gate, text=decoded_text, min_frames=whole_command_frames(command))
    active = ActiveGrammar(decoder=decoder, language="en", version="v1", intent_names=("LightOn",), grammar=grammar)
    pipeline = CommandPipeline(SnapshotRecognizer(), lambda: active, RecordingSink(), VadConfig(), "kitchen")
    return pipeline, np.concatenate([command, np.zeros(SR, np.int16)])


def test_the_look_ahead_waits_for_the_early_decode(grammar, command):
    """Two decodes at once on a small CPU halve each other's speed: the look-ahead starts after the early one."""
    gate = threading.Event()
    pipeline, samples = gated_pipeline(grammar, command, "turn on the light", gate)
    _, last = speech_bounds(command)
    held_until = int((last + 0.4) * SR)  # well past the look-ahead's 150 ms
    events = []
    for begin in range(0, len(samples), BLOCK):
        if begin >= held_until and not gate.is_set():
            assert pipeline._lookahead.started == 0 and not pipeline._early.idle
            gate.set()
            pipeline.settle()
        events += pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR)
    pipeline.settle()
    assert [type(e) for e in events] == [IntentEvent]
    assert pipeline._lookahead.used == 1  # started once the early decode had finished
    # ... on the audio up to 150 ms of silence (as without early commit), not up to when it started
    *_, early_audio, lookahead_audio = pipeline._recognizer.snapshots
    assert 0 < lookahead_audio - early_audio <= (150 - 60 + 30) * SR // 1000


def test_early_commit_switched_off(grammar, command):
    events, pipeline = run(grammar, command, "turn on the kitchen light", early_commit=False)
    [(fed, event)] = events
    _, last = speech_bounds(command)
    assert (fed / SR - last) * 1000 >= 500 and pipeline.stats.early_commits == 0


def test_a_longer_guard_delays_the_commit(grammar, command):
    events, _ = run(grammar, command, "turn on the kitchen light", early_commit_after_ms=350)
    [(fed, _event)] = events
    _, last = speech_bounds(command)
    assert 350 <= (fed / SR - last) * 1000 < 500


def test_speech_after_an_early_commit_starts_a_new_utterance(grammar, command):
    decoder = ScriptedDecoder(text="turn on the kitchen light", min_frames=whole_command_frames(command))
    active = ActiveGrammar(decoder=decoder, language="en", version="v1", intent_names=("LightOn",), grammar=grammar)
    pipeline = CommandPipeline(SnapshotRecognizer(), lambda: active, RecordingSink(), VadConfig(), "kitchen")
    first, last = speech_bounds(command)
    pause = np.zeros(int(0.3 * SR), np.int16)
    samples = np.concatenate([command[: int(last * SR)], pause, command, np.zeros(SR, np.int16)])
    events = []
    for begin in range(0, len(samples), BLOCK):
        events += pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR)
        pipeline.settle()
    assert [type(e) for e in events] == [IntentEvent, IntentEvent]
    assert pipeline.stats.early_commits == 2


def test_the_early_decode_starts_before_the_guard_on_padded_audio(grammar, command):
    recognizer = SnapshotRecognizer()
    recognizer.end_padding_ms = 300
    events, pipeline = run(grammar, command, "turn on the kitchen light", recognizer=recognizer)
    [(fed, _event)] = events
    # the early decode's snapshot (after the model's 60 ms), decoded with 300 ms of silence appended
    early_snapshot = recognizer.snapshots[0]
    assert recognizer.finalized[0] == early_snapshot + 300 * SR // 1000
    _, last = speech_bounds(command)
    decoded_up_to = (pipeline._utt_start_sample + early_snapshot) / SR
    assert decoded_up_to - last < 0.15 <= 0.2 <= fed / SR - last  # decoded early, committed after the guard
    assert pipeline.stats.early_commits == 1


def test_a_final_sentence_decoded_after_the_endpoint_is_used_there(grammar, command):
    """A slow early decode of a final sentence still running at the endpoint is waited for, not repeated."""
    gate = threading.Event()
    pipeline, samples = gated_pipeline(grammar, command, "turn on the kitchen light", gate)
    release = threading.Timer(0.5, gate.set)  # long after the feeding below reaches the endpoint
    release.start()
    events = []
    for begin in range(0, len(samples), BLOCK):
        events += pipeline.feed(samples[begin:begin + BLOCK], 1000.0 + (begin + BLOCK) / SR)
    release.join()
    assert [type(e) for e in events] == [IntentEvent]
    assert pipeline.stats.endpoint_reasons == {"silence": 1}
    assert pipeline._early.used == 1 and pipeline._lookahead.started == 0
