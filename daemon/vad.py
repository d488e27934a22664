"""webrtcvad gating: turns a 16 kHz sample stream into utterances (start with pre-roll, audio, end) as it arrives."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from typing import Callable, Deque, Optional, Union

import numpy as np

from daemon.config import VadConfig

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class UtteranceStart:
    """Speech onset: ``audio`` holds the pre-roll and onset frames; ``start_sample`` is the first voiced sample."""

    audio: np.ndarray
    start_sample: int


@dataclass(frozen=True)
class UtteranceAudio:
    """More audio of the current utterance (speech or trailing silence)."""

    audio: np.ndarray


@dataclass(frozen=True)
class UtteranceEnd:
    """End of the utterance: ``reason`` is silence/max_length/endpoint; ``too_short`` = drop it as noise."""

    reason: str
    speech_end_sample: int
    end_sample: int
    speech_ms: int
    too_short: bool


VadEvent = Union[UtteranceStart, UtteranceAudio, UtteranceEnd]


def _energy(frame: np.ndarray) -> float:
    """Mean square of an int16 frame."""
    f = frame.astype(np.float32)
    return float(np.dot(f, f)) / len(f)


def make_webrtc_detector(aggressiveness: int) -> Callable[[bytes], bool]:
    """A frame → is-speech function backed by webrtcvad at 16 kHz."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    is_speech = vad.is_speech
    return lambda frame: is_speech(frame, SAMPLE_RATE)


class VadSegmenter:
    """Frame-by-frame endpointing state machine; feed any block size, get events in order."""

    def __init__(self, config: VadConfig, detector: Optional[Callable[[bytes], bool]] = None) -> None:
        self.config = config
        self._detect = detector or make_webrtc_detector(config.aggressiveness)
        self._frame = SAMPLE_RATE * config.frame_ms // 1000
        self._onset_frames = max(1, -(-config.onset_ms // config.frame_ms))
        self._trailing_frames = max(1, -(-config.trailing_silence_ms // config.frame_ms))
        self._max_frames = int(config.max_utterance_s * 1000) // config.frame_ms
        self._ring: Deque[np.ndarray] = collections.deque(
            maxlen=self._onset_frames + config.preroll_ms // config.frame_ms
        )
        self._leftover = np.zeros(0, dtype=np.int16)
        self._sample = 0  # absolute index of the next frame's first sample
        self.in_utterance = False
        self._run = 0
        self._silence_run = 0
        self._speech_frames = 0
        self._frames_in_utt = 0
        self._speech_end = 0
        gate_db = config.silence_below_peak_db
        self._gate_ratio = 10.0 ** (-gate_db / 10.0) if gate_db is not None else 0.0
        self._peak_energy = 0.0

    @property
    def frame_samples(self) -> int:
        """Samples per VAD frame."""
        return self._frame

    @property
    def speech_end_sample(self) -> int:
        """Sample index just after the current utterance's last speech frame."""
        return self._speech_end

    @property
    def silence_ms(self) -> int:
        """Milliseconds of non-speech since the utterance's last speech frame (0 outside an utterance)."""
        return self._silence_run * self.config.frame_ms if self.in_utterance else 0

    @property
    def samples_seen(self) -> int:
        """Samples consumed into complete frames so far."""
        return self._sample

    def process(self, samples: np.ndarray) -> list[VadEvent]:
        """Consume samples; return the events they complete (audio is forwarded frame by frame)."""
        if len(self._leftover):
            samples = np.concatenate([self._leftover, samples])
        n = len(samples) // self._frame
        events: list[VadEvent] = []
        pending: list[np.ndarray] = []  # utterance audio collected within this call, sent as one block
        for i in range(n):
            frame = samples[i * self._frame : (i + 1) * self._frame]
            speech = self._detect(frame.tobytes())
            self._sample += self._frame
            if not self.in_utterance:
                self._ring.append(frame)
                self._run = self._run + 1 if speech else 0
                if self._run >= self._onset_frames:
                    ring = list(self._ring)
                    self._peak_energy = max(_energy(f) for f in ring[-self._run :])
                    audio = np.concatenate(ring)
                    self._ring.clear()
                    self.in_utterance = True
                    self._speech_frames = self._run
                    self._frames_in_utt = self._run
                    self._silence_run = 0
                    self._speech_end = self._sample
                    events.append(UtteranceStart(audio, self._sample - self._run * self._frame))
                continue
            pending.append(frame)
            self._frames_in_utt += 1
            if speech and self._gate_ratio:
                energy = _energy(frame)
                if energy > self._peak_energy:
                    self._peak_energy = energy
                elif energy < self._peak_energy * self._gate_ratio:
                    speech = False  # webrtcvad hangover: far too quiet to be speech of this utterance
            if speech:
                self._speech_frames += 1
                self._silence_run = 0
                self._speech_end = self._sample
            else:
                self._silence_run += 1
            reason = None
            if self._silence_run >= self._trailing_frames:
                reason = "silence"
            elif self._frames_in_utt >= self._max_frames:
                reason = "max_length"
            if reason is not None:
                events.append(UtteranceAudio(np.concatenate(pending)))
                pending = []
                events.append(self._end(reason))
        if pending:
            events.append(UtteranceAudio(np.concatenate(pending)))
        self._leftover = samples[n * self._frame :].copy()
        return events

    def force_end(self, reason: str = "endpoint") -> Optional[UtteranceEnd]:
        """End the current utterance from outside (e.g. the recognizer's endpoint rules); None when idle."""
        if not self.in_utterance:
            return None
        return self._end(reason)

    def reset(self) -> None:
        """Drop any utterance in progress and the pre-roll (e.g. on mute)."""
        self.in_utterance = False
        self._ring.clear()
        self._run = 0
        self._leftover = np.zeros(0, dtype=np.int16)

    def _end(self, reason: str) -> UtteranceEnd:
        speech_ms = self._speech_frames * self.config.frame_ms
        self.in_utterance = False
        self._run = 0
        self._ring.clear()
        return UtteranceEnd(reason, self._speech_end, self._sample, speech_ms, speech_ms < self.config.min_speech_ms)

