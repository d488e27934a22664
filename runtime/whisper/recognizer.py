"""Whisper recognizer sessions with the streaming Recognizer's interface: audio in while it arrives, encode at the end."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from runtime.errors import DecodeCancelled, checked_pcm16_mono
from runtime.features.whisper_mel import SAMPLE_RATE, whisper_log_mel
from runtime.whisper.model import MAX_MEL_FRAMES, Encoded, WhisperModel
from runtime.whisper.search import FreeResult, free_decode

_LOGGER = logging.getLogger(__name__)

MAX_SAMPLES = MAX_MEL_FRAMES * 160  # 30 s: the encoder's reach; later audio of one utterance is not heard


class WhisperResult:
    """The encoded utterance; its free transcript (``text``) is decoded on first use."""

    def __init__(self, recognizer: "WhisperRecognizer", encoded: Encoded | None, num_samples: int,
                 cancelled: Callable[[], bool] | None = None, audio: np.ndarray | None = None) -> None:
        self.recognizer = recognizer
        self.encoded = encoded
        self.num_samples = num_samples
        #: The samples behind ``encoded`` (int16), to encode a part of them again (encode_first).
        self.audio = audio
        #: Asked by the grammar search before each decoder step (a snapshot's decode can be cancelled).
        self.cancelled = cancelled
        self.frame_shift_ms = 20
        self.logprobs = None  # no CTC log-probs: grammar decoding uses the encoder output
        self._free: FreeResult | None = None

    @property
    def free(self) -> FreeResult:
        """Greedy unconstrained transcript."""
        if self._free is None:
            if self.encoded is None:
                self._free = FreeResult("", (), (), "")
            else:
                self._free = free_decode(self.recognizer.model, self.encoded)
        return self._free

    def encode_first(self, num_samples: int) -> Encoded:
        """Encode only the utterance's first ``num_samples`` samples, followed by the zeros Whisper expects after
        speech (end_padding_ms)."""
        if self.audio is None:
            raise ValueError("this result keeps no audio")
        padding = np.zeros(self.recognizer.end_padding_ms * SAMPLE_RATE // 1000, np.int16)
        audio = np.concatenate([self.audio[:max(0, num_samples)], padding])
        model = self.recognizer.model
        return model.encode(whisper_log_mel(audio, model.mel_filters))

    @property
    def text(self) -> str:
        """Free transcript, stripped."""
        return self.free.text.strip()

    @property
    def confidence(self) -> float:
        """Geometric mean probability of the free transcript's tokens."""
        logprobs = self.free.logprobs
        return float(np.exp(np.mean(logprobs))) if logprobs else 0.0

    @property
    def token_ids(self) -> tuple[int, ...]:
        """Free transcript's token ids."""
        return self.free.tokens


class WhisperRecognizer:
    """A loaded Whisper model directory that makes independent sessions (thread-safe, like Recognizer)."""

    kind = "whisper"
    #: Everything happens in finalize() (encoder and search): worth starting ahead of the endpoint.
    decodes_at_end = True
    #: Audio after the last word needed for a settled decode, with end_padding_ms of zeros after it: 30–60 ms
    #: gives the same sentences and margins as 500 ms on demo/audio (each clip cut 0…500 ms after its last loud
    #: sample); without the padding some real recordings cut 60 ms after the speech come out as nonsense.
    trailing_context_ms = 60
    #: Digital silence appended to a decode made before the endpoint: Whisper always sees zeros after the audio
    #: (it was trained on 30 s windows padded with them).
    end_padding_ms = 300

    def __init__(self, model_dir: str | Path, num_threads: int = 1, encoder_threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.model = WhisperModel(self.model_dir, num_threads=num_threads, encoder_threads=encoder_threads)
        self.units = None
        self.beam_size = 1

    @property
    def frame_shift_ms(self) -> int:
        """Milliseconds per encoder position."""
        return 20

    @property
    def info(self) -> dict[str, Any]:
        """Kind and size of the model."""
        return self.model.info()

    def create_session(self) -> "WhisperSession":
        """A new independent utterance buffer."""
        return WhisperSession(self)


class WhisperSession:
    """One audio stream: samples are kept while the utterance lasts and encoded at the end (or on a snapshot)."""

    def __init__(self, recognizer: WhisperRecognizer) -> None:
        self.recognizer = recognizer
        self._chunks: list[np.ndarray] = []
        self._num_samples = 0
        self._finalized = False
        self._cancel = threading.Event()
        self.feature_seconds = 0.0
        self.search_seconds = 0.0

    def reset(self, keep_features: bool = False) -> None:
        """Forget the utterance."""
        self._chunks = []
        self._num_samples = 0
        self._finalized = False

    def accept_waveform(self, samples: np.ndarray) -> None:
        """Add int16 samples (16 kHz mono)."""
        samples = checked_pcm16_mono(samples)
        if self._finalized:
            raise RuntimeError("accept_waveform() after finalize(); call reset() first")
        room = MAX_SAMPLES - self._num_samples
        if room <= 0:
            return
        samples = samples[:room].copy()
        self._chunks.append(samples)
        self._num_samples += len(samples)

    @property
    def num_samples(self) -> int:
        """Samples of the utterance so far."""
        return self._num_samples

    def endpoint_detected(self) -> bool:
        """Whisper has no frame-level endpointer: the caller's VAD ends utterances."""
        return False

    def _audio(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, np.int16)

    def _encode(self, audio: np.ndarray) -> Encoded:
        model = self.recognizer.model
        start = time.perf_counter()
        mel = whisper_log_mel(audio, model.mel_filters)
        self.feature_seconds += time.perf_counter() - start
        return model.encode(mel)

    def cancel(self) -> None:
        """Stop a decode of this session running in another thread (at its next decoder step): DecodeCancelled."""
        self._cancel.set()

    def snapshot(self) -> "WhisperSession":
        """An independent session holding a copy of the audio so far (to decode ahead in another thread)."""
        copy = WhisperSession(self.recognizer)
        audio = self._audio()
        if len(audio):
            copy._chunks = [audio.copy()]
            copy._num_samples = len(audio)
        return copy

    def partial_result(self) -> WhisperResult:
        """Nothing is decoded before the end of the utterance: an empty result."""
        return WhisperResult(self.recognizer, None, self._num_samples)

    def finalize(self) -> WhisperResult:
        """Encode the whole utterance; decoding happens in the grammar decoder."""
        self._finalized = True
        audio = self._audio()
        if len(audio) < SAMPLE_RATE // 10:
            return WhisperResult(self.recognizer, None, len(audio))
        if self._cancel.is_set():
            raise DecodeCancelled("the decode was cancelled")
        return WhisperResult(self.recognizer, self._encode(audio), len(audio), self._cancel.is_set, audio)
