"""Streaming recognizer: int16 audio in, fbank → chunked encoder + CTC → search, partial and final results."""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.decoding.ctc_greedy import CtcGreedySearch
from runtime.decoding.ctc_prefix_beam import CtcPrefixBeamSearch
from runtime.decoding.endpoint import EndpointConfig, EndpointDetector, EndpointRule
from runtime.decoding.hypothesis import Hypothesis
from runtime.errors import ModelLoadError, checked_pcm16_mono
from runtime.features.fbank import FbankOptions, StreamingFbank
from runtime.models import StreamingModel, load_model
from runtime.models.stream import EncoderStream
from runtime.units import UnitTable

_LOGGER = logging.getLogger(__name__)

__all__ = ["EndpointConfig", "EndpointRule", "RecognitionResult", "Recognizer", "RecognizerSession", "open_recognizer"]


@dataclass(frozen=True)
class RecognitionResult:
    """Tokens with times (ms from the utterance start) and confidences, plus the CTC log-probs behind them."""

    token_ids: tuple[int, ...]
    text: str
    timestamps_ms: tuple[int, ...]
    token_confidences: tuple[float, ...]
    confidence: float
    logprobs: np.ndarray = field(repr=False, compare=False)
    frame_shift_ms: int = 40


class Recognizer:
    """A loaded model directory (encoder, CTC, units.txt) that makes independent sessions.

    ``beam_size`` > 1 selects CTC prefix beam search (utterance confidence = the best prefix's share of the
    beam's probability), 1 selects greedy search (confidence = geometric mean of the token probabilities).
    Token confidences are each token's peak frame probability, timestamps that frame's start.
    """

    #: Streaming: finalize() only runs the last chunk, so decoding ahead of the endpoint saves nothing.
    decodes_at_end = False
    #: Audio after the last word the model needs before its decode is settled: the bundled model's last word
    #: comes out right with 180 ms of it, not with 120 ms (demo/audio, each clip cut 60…500 ms after its last
    #: loud sample).
    trailing_context_ms = 200

    def __init__(
        self,
        model_dir: str | Path,
        backend: str = "auto",
        beam_size: int = 10,
        endpoint: EndpointConfig | None = None,
        num_threads: int = 1,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.beam_size = int(beam_size)
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self.endpoint = endpoint or EndpointConfig()
        self.model: StreamingModel = load_model(self.model_dir, backend=backend, num_threads=num_threads)
        self.units = UnitTable.from_file(self.model_dir / "units.txt")
        vocab = self.model.geometry.vocab_size
        if len(self.units) != vocab:
            raise ModelLoadError(
                f"{self.model_dir / 'units.txt'}: has {len(self.units)} units but the model outputs {vocab} classes; "
                "use the units.txt the model was trained with"
            )
        if not 20 <= self.model.geometry.feature_dim <= 256:
            raise ModelLoadError(
                f"{self.model_dir}: the encoder takes {self.model.geometry.feature_dim}-dim features; "
                "expected a WeNet fbank model (usually 80 mel bins)"
            )
        self.fbank_options = FbankOptions(num_mel_bins=self.model.geometry.feature_dim)
        _LOGGER.debug("loaded %s", self.info)

    @property
    def info(self) -> dict[str, Any]:
        """Kind, chunk size, left chunks, subsampling, vocabulary size and the rest of the model's geometry."""
        info = self.model.info()
        info["frame_shift_ms"] = self.frame_shift_ms
        info["beam_size"] = self.beam_size
        return info

    @property
    def frame_shift_ms(self) -> int:
        """Milliseconds per CTC frame (subsampling × 10 ms)."""
        return self.model.geometry.subsampling * 10

    def create_session(self) -> "RecognizerSession":
        """A new independent stream."""
        return RecognizerSession(self)


class RecognizerSession:
    """One audio stream: feed int16 samples, read partial results, detect endpoints, finalize."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self._units = recognizer.units
        self._fbank = StreamingFbank(recognizer.fbank_options)
        self._encoder = EncoderStream(recognizer.model)
        blank = self._units.blank_id
        self._search: CtcPrefixBeamSearch | CtcGreedySearch
        if recognizer.beam_size > 1:
            self._search = CtcPrefixBeamSearch(recognizer.beam_size, blank_id=blank)
        else:
            self._search = CtcGreedySearch(blank_id=blank)
        self._endpoint = EndpointDetector(recognizer.endpoint, recognizer.frame_shift_ms, blank_id=blank)
        self._logprob_buffer = np.zeros((0, recognizer.model.geometry.vocab_size), dtype=np.float32)
        self._num_frames = 0
        self._cached: tuple[int, RecognitionResult] | None = None
        self._endpoint_cached: tuple[int, bool] | None = None
        self._finalized = False
        self.search_seconds = 0.0  # time in search + endpointing; for benchmarks
        self.feature_seconds = 0.0  # time in fbank; for benchmarks

    def reset(self, keep_features: bool = False) -> None:
        """Start a new utterance: encoder caches, search, endpointer and (unless ``keep_features``, WeNet's
        continuous mode) the audio and feature frames not yet decoded."""
        if not keep_features:
            self._fbank.reset()
        self._encoder.reset(keep_unread=keep_features)
        self._search.reset()
        self._endpoint.reset()
        # A fresh buffer, so results handed out before the reset keep their log-probs.
        self._logprob_buffer = np.zeros((0, self._logprob_buffer.shape[1]), dtype=np.float32)
        self._num_frames = 0
        self._cached = None
        self._endpoint_cached = None
        self._finalized = False

    def accept_waveform(self, samples: np.ndarray) -> None:
        """Add int16 samples (16 kHz mono, any length); runs the encoder on every chunk that is complete."""
        samples = checked_pcm16_mono(samples)
        if self._finalized:
            raise RuntimeError("accept_waveform() after finalize(); call reset() first")
        self._fbank.push(samples)
        # Features are computed only when they complete an encoder call: nothing downstream changes before
        # that, and one big fbank batch costs far less than many small ones.
        if self._fbank.frames_ready >= self._encoder.frames_wanted:
            self._advance()

    def _advance(self) -> None:
        start = time.perf_counter()
        feats = self._fbank.pull()
        self.feature_seconds += time.perf_counter() - start
        for block in self._encoder.accept(feats):
            self._consume(block)

    def _consume(self, block: np.ndarray) -> None:
        start = time.perf_counter()
        end = self._num_frames + len(block)
        if end > len(self._logprob_buffer):
            # Grow by doubling into a new array: views handed out earlier keep their (unchanged) rows.
            grown = np.zeros((max(end, 2 * len(self._logprob_buffer), 64), self._logprob_buffer.shape[1]), np.float32)
            grown[: self._num_frames] = self._logprob_buffer[: self._num_frames]
            self._logprob_buffer = grown
        self._logprob_buffer[self._num_frames:end] = block
        self._num_frames = end
        self._search.accept(block)
        self._endpoint.accept(block)
        self.search_seconds += time.perf_counter() - start

    @property
    def logprobs(self) -> np.ndarray:
        """(T, V) float32 CTC log-probs streamed so far (a read-only view; later chunks never change it)."""
        view = self._logprob_buffer[: self._num_frames]
        view.flags.writeable = False
        return view

    def _result(self, hyp: Hypothesis) -> RecognitionResult:
        shift = self.recognizer.frame_shift_ms
        return RecognitionResult(
            token_ids=hyp.token_ids,
            text=self._units.text_of(hyp.token_ids),
            timestamps_ms=tuple(f * shift for f in hyp.frames),
            token_confidences=hyp.token_probs,
            confidence=hyp.confidence,
            logprobs=self.logprobs,
            frame_shift_ms=shift,
        )

    def partial_result(self) -> RecognitionResult:
        """The best result over the chunks decoded so far (cached until the next chunk arrives)."""
        if self._cached is None or self._cached[0] != self._num_frames:
            self._cached = (self._num_frames, self._result(self._search.result()))
        return self._cached[1]

    def endpoint_detected(self) -> bool:
        """Whether WeNet's rule 1/2/3 fires on the frames so far (not checked after finalize)."""
        if self._finalized:
            return False
        if self._endpoint_cached is None or self._endpoint_cached[0] != self._num_frames:
            self._endpoint_cached = (self._num_frames, self._endpoint.detected(self._search.has_tokens()))
        return self._endpoint_cached[1]

    def snapshot(self) -> "RecognizerSession":
        """An independent copy of the stream so far (features, encoder caches, search), sharing the model: it can
        be finalized in another thread while this session goes on."""
        shared = {id(obj): obj for obj in (self.recognizer, self._units, self._encoder.model)}
        return copy.deepcopy(self, shared)

    def finalize(self) -> RecognitionResult:
        """Run the last (short) chunk and return the final result; call reset() before reusing the session."""
        if not self._finalized:
            self._advance()
            block = self._encoder.flush()
            if block is not None:
                self._consume(block)
            self._finalized = True
        return self.partial_result()


def open_recognizer(
    model_dir: str | Path,
    backend: str = "auto",
    beam_size: int = 10,
    endpoint: EndpointConfig | None = None,
    num_threads: int = 1,
    encoder_threads: int | None = None,
) -> Any:
    """A Recognizer for a WeNet model directory, or a WhisperRecognizer when the directory holds whisper.json
    (``encoder_threads``: its encoder's threads, default ``num_threads``; a WeNet model has no separate encoder pass)."""
    from runtime.whisper.model import is_whisper_model_dir

    if is_whisper_model_dir(Path(model_dir)):
        if backend not in ("auto", "onnx"):
            raise ModelLoadError(f"{model_dir}: a Whisper model runs on ONNX Runtime only (backend 'auto' or 'onnx'), "
                                 f"not '{backend}'; use a WeNet encoder.bin/ctc.bin model for the BPU")
        from runtime.whisper.recognizer import WhisperRecognizer

        return WhisperRecognizer(model_dir, num_threads=num_threads, encoder_threads=encoder_threads)
    return Recognizer(model_dir, backend=backend, beam_size=beam_size, endpoint=endpoint, num_threads=num_threads)
