"""One Wyoming transcription: audio converted and fed to a recognizer session as it arrives, decoded at the end."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from daemon.pipeline import ActiveGrammar, RecognizerLike, RecognizerSessionLike, decode_utterance, utterance_event
from daemon.events import UtteranceEvent
from daemon.service.memory import release_freed_memory
from daemon.speculation import SpeculativeDecoder
from daemon.wyoming.audio import SAMPLE_RATE, PcmConverter


# Look-ahead for recognizers that decode at the end (Whisper's ``snapshot()``): a block counts as silence when its
# RMS is this far below the loudest block so far (once speech was heard); after ``lookahead_after_ms`` of it the
# audio so far is decoded while the client's VAD is still confirming the end (the pipeline's SpeculativeDecoder).
_SILENCE_BELOW_PEAK = 10 ** (-35 / 20)
_MIN_SPEECH_RMS = 300.0


class AudioTooLong(Exception):
    """More audio than the per-connection limit allows."""


# Heap pages freed by finished transcriptions go back every this many sessions: without it the worker threads'
# malloc arenas keep growing by fragmentation (issue 11: RSS after 1,000 sessions within 5 MB of after 10).
_TRIM_EVERY = 20


class SessionPool:
    """Recognizer sessions kept for reuse (reset between utterances), so a busy server does not rebuild them."""

    def __init__(self, recognizer: RecognizerLike, max_idle: int) -> None:
        self._recognizer = recognizer
        self._idle: list[RecognizerSessionLike] = []
        self._max_idle = max_idle
        self._lock = threading.Lock()
        self.created = 0
        self.released = 0

    def acquire(self) -> RecognizerSessionLike:
        """An idle session, or a new one."""
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.created += 1
        return self._recognizer.create_session()

    def release(self, session: RecognizerSessionLike) -> None:
        """Reset a session and keep it (up to ``max_idle``)."""
        session.reset()
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(session)
            self.released += 1
            trim = self.released % _TRIM_EVERY == 0
        if trim:
            release_freed_memory()


@dataclass(frozen=True)
class Transcription:
    """The outcome of one transcription: the event the pipeline would emit, and the text for the transcript."""

    event: UtteranceEvent
    text: str  # the grammar sentence; empty when rejected
    language: Optional[str]
    decode_ms: float


class TranscriptionSession:
    """Audio of one ``audio-start`` .. ``audio-stop``; every method runs on a worker thread, one call at a time."""

    def __init__(self, pool: SessionPool, rate: int, width: int, channels: int, max_audio_s: float, *,
                 lookahead_after_ms: int = 0, grammar: Optional[Callable[[], ActiveGrammar]] = None,
                 executor: Optional[Executor] = None, clock: Callable[[], float] = time.time) -> None:
        self._converter = PcmConverter(rate, width, channels)  # validates the format first
        self._pool = pool
        self._session: Optional[RecognizerSessionLike] = pool.acquire()
        self._max_audio_s = max_audio_s
        self._clock = clock
        self.start_time = clock()
        self._grammar = grammar
        self._lookahead: Optional[SpeculativeDecoder] = None
        recognizer = getattr(self._session, "recognizer", None)
        # Only for models that decode at the end: a streaming model's finish is cheap already.
        if (grammar is not None and lookahead_after_ms > 0 and hasattr(self._session, "snapshot")
                and getattr(recognizer, "decodes_at_end", False)):
            self._lookahead = SpeculativeDecoder(decode_utterance, lookahead_after_ms, executor)
        self._peak_rms = 0.0
        self._silence_ms = 0.0

    @property
    def seconds(self) -> float:
        """Audio received so far."""
        return self._converter.seconds

    def matches(self, rate: int, width: int, channels: int) -> bool:
        """Whether a chunk's format is the one declared by audio-start."""
        c = self._converter
        return (rate, width, channels) == (c.rate, c.width, c.channels)

    def feed(self, pcm: bytes) -> None:
        """Convert and recognize one chunk (raises AudioTooLong past the limit)."""
        samples = self._converter.convert(pcm)
        if self._converter.seconds > self._max_audio_s:
            raise AudioTooLong(f"more than {self._max_audio_s:g} s of audio in one transcription")
        if len(samples) and self._session is not None:
            self._session.accept_waveform(samples)
            if self._lookahead is not None:
                self._track_silence(samples)

    def _track_silence(self, samples: np.ndarray) -> None:
        assert self._lookahead is not None and self._grammar is not None
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        self._peak_rms = max(self._peak_rms, rms)
        if self._peak_rms < _MIN_SPEECH_RMS or rms >= self._peak_rms * _SILENCE_BELOW_PEAK:
            self._silence_ms = 0.0
            self._lookahead.discard()  # (still) speech: a decode made during a pause is void
            return
        self._silence_ms += len(samples) * 1000.0 / SAMPLE_RATE
        self._lookahead.maybe_start(self._session, self._grammar(), int(self._silence_ms))

    @property
    def looked_ahead(self) -> bool:
        """Whether the result came from a decode made during the trailing silence (never for streaming models)."""
        return self._lookahead is not None and self._lookahead.used > 0

    def finish(self, active: ActiveGrammar, site_id: str) -> Transcription:
        """Decode with the grammar in force and give the session back to the pool."""
        assert self._session is not None, "finish() after close()"
        t0 = time.perf_counter()
        try:
            ahead = self._lookahead.take(active) if self._lookahead is not None and self._silence_ms else None
            result, decoded = ahead if ahead is not None else decode_utterance(self._session, active)
        finally:
            self.close()
        end_time = self._clock()
        event = utterance_event(decoded, active, result, site_id=site_id, start_time=self.start_time,
                                end_time=end_time)
        recognized = bool(getattr(decoded, "recognized", False))
        language = getattr(event, "language", None) or active.language
        return Transcription(event, str(decoded.text) if recognized else "", language,
                             (time.perf_counter() - t0) * 1000.0)

    def close(self) -> None:
        """Give the recognizer session back (idempotent; a client that vanished mid-stream ends up here)."""
        session, self._session = self._session, None
        if self._lookahead is not None:
            self._lookahead.discard()
            self._lookahead.close()
        if session is not None:
            self._pool.release(session)

