"""VAD gating on synthesised speech: onset with pre-roll, endpoint after trailing silence, minimum and maximum length."""

from __future__ import annotations

import numpy as np
import pytest

from daemon.config import VadConfig
from daemon.vad import UtteranceAudio, UtteranceEnd, UtteranceStart, VadSegmenter
from tests.daemon.speech import speech_bounds, synth_samples

SR = 16000


def run(segmenter: VadSegmenter, samples: np.ndarray, block: int = 777) -> list:
    events = []
    for i in range(0, len(samples), block):
        events.extend(segmenter.process(samples[i : i + block]))
    return events


def utterances(events: list) -> list[tuple[UtteranceStart, np.ndarray, UtteranceEnd]]:
    out, start, audio = [], None, []
    for e in events:
        if isinstance(e, UtteranceStart):
            start, audio = e, [e.audio]
        elif isinstance(e, UtteranceAudio):
            assert start is not None, "audio outside an utterance"
            audio.append(e.audio)
        else:
            out.append((start, np.concatenate(audio), e))
            start = None
    return out


@pytest.fixture(scope="module")
def command() -> np.ndarray:
    return synth_samples("turn on the kitchen light")


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_one_command_is_one_utterance_with_preroll(command, frame_ms):
    config = VadConfig(frame_ms=frame_ms, preroll_ms=300, trailing_silence_ms=500)
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    [(start, audio, end)] = utterances(run(VadSegmenter(config), samples))
    first, last = speech_bounds(command)
    assert abs(start.start_sample / SR - first) < 0.15
    assert abs(end.speech_end_sample / SR - last) < 0.15
    assert end.reason == "silence" and not end.too_short
    # the endpoint comes trailing_silence_ms after the last voiced frame
    assert (end.end_sample - end.speech_end_sample) / SR == pytest.approx(0.5, abs=frame_ms / 1000 + 1e-9)
    # pre-roll: the recognizer gets audio from before the onset, contiguous up to the endpoint
    audio_start = end.end_sample - len(audio)
    assert (start.start_sample - audio_start) / SR == pytest.approx(0.3, abs=frame_ms / 1000 + 1e-9)
    assert np.array_equal(audio, samples[audio_start : end.end_sample])


def test_audio_is_streamed_while_speech_continues(command):
    segmenter = VadSegmenter(VadConfig())
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    seen = []
    for i in range(0, len(samples), 480):
        for e in segmenter.process(samples[i : i + 480]):
            seen.append((i, type(e).__name__))
    start_block = next(i for i, name in seen if name == "UtteranceStart")
    end_block = next(i for i, name in seen if name == "UtteranceEnd")
    during = [i for i, name in seen if name == "UtteranceAudio" and start_block < i < end_block]
    assert len(during) >= (end_block - start_block) // 480 - 1  # every block in between was forwarded at once


def test_silence_and_quiet_noise_give_nothing():
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal(5 * SR) * 5).astype(np.int16)
    assert run(VadSegmenter(VadConfig(aggressiveness=3)), noise) == []
    assert run(VadSegmenter(VadConfig()), np.zeros(3 * SR, np.int16)) == []


def test_short_burst_is_marked_too_short(command):
    first, _ = speech_bounds(command)
    burst = command[int(first * SR) : int(first * SR) + int(0.12 * SR)]
    samples = np.concatenate([np.zeros(SR // 2, np.int16), burst, np.zeros(SR, np.int16)])
    ends = [e for e in run(VadSegmenter(VadConfig(min_speech_ms=400)), samples) if isinstance(e, UtteranceEnd)]
    assert len(ends) == 1 and ends[0].too_short


def test_maximum_utterance_length_cuts_continuous_speech(command):
    first, last = speech_bounds(command)
    speech = command[int(first * SR) : int(last * SR)]
    samples = np.concatenate([np.zeros(SR // 2, np.int16)] + [speech] * 4 + [np.zeros(SR, np.int16)])
    config = VadConfig(max_utterance_s=2.0, trailing_silence_ms=1500)
    ends = [e for e in run(VadSegmenter(config), samples) if isinstance(e, UtteranceEnd)]
    assert ends[0].reason == "max_length"
    lengths = [u[1] for u in utterances(run(VadSegmenter(config), samples))]
    assert all(len(a) / SR <= 2.0 + 0.3 + 0.1 for a in lengths)  # cap + pre-roll + onset


def test_two_commands_give_two_utterances(command):
    samples = np.concatenate([command, np.zeros(SR // 2, np.int16), command, np.zeros(SR, np.int16)])
    assert len(utterances(run(VadSegmenter(VadConfig()), samples))) == 2


def test_force_end_and_reset(command):
    segmenter = VadSegmenter(VadConfig())
    first, _ = speech_bounds(command)
    segmenter.process(command[: int((first + 0.4) * SR)])
    assert segmenter.in_utterance
    end = segmenter.force_end("endpoint")
    assert end is not None and end.reason == "endpoint" and not segmenter.in_utterance
    assert segmenter.force_end() is None


def test_energy_gate_cuts_the_webrtcvad_hangover(command):
    samples = np.concatenate([command, np.zeros(SR, np.int16)])
    _, last = speech_bounds(command)

    def speech_end(gate):
        ends = [e for e in run(VadSegmenter(VadConfig(silence_below_peak_db=gate)), samples)
                if isinstance(e, UtteranceEnd)]
        assert len(ends) == 1
        return ends[0].speech_end_sample / SR - last

    without, with_gate = speech_end(None), speech_end(40.0)
    assert without > 0.07  # webrtcvad keeps saying "speech" after the audible end
    assert abs(with_gate) < 0.05 and with_gate < without - 0.05
