"""A Whisper model directory (encoder.onnx, decoder.onnx, vocabulary.txt, whisper.json, mel_filters.npy) on ONNX Runtime."""

from __future__ import annotations

import concurrent.futures
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ModelLoadError
from runtime.models.ort import create_session
from runtime.whisper.tokens import WhisperVocabulary

_LOGGER = logging.getLogger(__name__)

#: Files a Whisper model directory must hold; ``whisper.json`` is what marks a directory as Whisper.
MODEL_FILES = ("encoder.onnx", "decoder.onnx", "vocabulary.txt", "whisper.json", "mel_filters.npy")
MAX_MEL_FRAMES = 3000  # the encoder's positional embedding covers 30 s
_LAST = np.array([-1], np.int64)  # decode(): the log-probs after the last new token only


def is_whisper_model_dir(model_dir: Path) -> bool:
    """True when ``model_dir`` holds a Whisper model (its whisper.json)."""
    return (Path(model_dir) / "whisper.json").is_file()


@dataclass(frozen=True)
class Encoded:
    """Encoder output of one utterance: cross-attention keys (layers, heads, head width, positions) and values
    (layers, heads, positions, head width)."""

    keys: np.ndarray
    values: np.ndarray
    num_frames: int  # log-mel frames (10 ms each) behind it


class WhisperModel:
    """Loaded encoder and cached decoder sessions plus the vocabulary; thread-safe (ONNX Runtime runs are)."""

    def __init__(self, model_dir: str | Path, num_threads: int = 1, encoder_threads: int | None = None) -> None:
        self.model_dir = Path(model_dir)
        self.encoder_threads = max(1, int(encoder_threads or num_threads))
        if not self.model_dir.is_dir():
            raise ModelLoadError(f"{self.model_dir}: model directory does not exist")
        missing = [name for name in MODEL_FILES if not (self.model_dir / name).is_file()]
        if missing:
            raise ModelLoadError(f"{self.model_dir}: Whisper model directory lacks {', '.join(missing)}")
        config_path = self.model_dir / "whisper.json"
        try:
            self.config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
            self.num_layers = int(self.config["n_text_layer"])
            self.width = int(self.config["n_text_state"])
            self.num_mels = int(self.config["n_mels"])
            self.max_text_positions = int(self.config["n_text_ctx"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{config_path}: not a valid whisper.json ({exc.__class__.__name__}: {exc})") from None
        filters_path = self.model_dir / "mel_filters.npy"
        try:
            self.mel_filters = np.load(filters_path).astype(np.float32)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"{filters_path}: not a readable .npy file ({exc})") from None
        if self.mel_filters.ndim != 2 or self.mel_filters.shape[0] != self.num_mels:
            raise ModelLoadError(f"{filters_path}: shape {self.mel_filters.shape}, expected ({self.num_mels}, 201)")
        # Both sessions load in a helper thread (ONNX Runtime releases the GIL) while the vocabulary is read here.
        # The encoder runs once per utterance: its weights unpacked (no prepacked copy) save ~40 MB at no
        # measurable cost; the decoder runs per token and needs its prepacked int8 weights (3x faster). The encoder's
        # few large matrix products split well over cores (2 threads: -25 % here); the decoder's per-token ones do not.
        # No memory arena: each utterance has its own length, and an arena kept the largest one's buffers for good
        # (300 different utterances: RSS 228 -> 254 MB with it, 208 -> 213 MB without; decoding no slower).
        with concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="whisper-load") as pool:
            encoder = pool.submit(create_session, self.model_dir / "encoder.onnx", "whisper", self.encoder_threads,
                                  spinning=False, prepack=False, arena=False)
            decoder = pool.submit(create_session, self.model_dir / "decoder.onnx", "whisper", num_threads,
                                  spinning=False, arena=False)
            self.vocabulary = WhisperVocabulary.from_file(self.model_dir / "vocabulary.txt")
            self.vocabulary.trie()
            self._encoder = encoder.result()
            self._decoder = decoder.result()
        self._check_io()
        self.encoder_seconds = 0.0  # for benchmarks
        self.decoder_calls = 0

    def _check_io(self) -> None:
        encoder_inputs = [i.name for i in self._encoder.get_inputs()]
        decoder_inputs = [i.name for i in self._decoder.get_inputs()]
        want = ["tokens", "offset", "self_keys", "self_values", "cross_keys", "cross_values", "positions"]
        if encoder_inputs != ["mel"]:
            raise ModelLoadError(f"{self.model_dir / 'encoder.onnx'}: inputs {encoder_inputs}, expected ['mel'] "
                                 "(export it with training/whisper_export.py)")
        if decoder_inputs != want:
            raise ModelLoadError(f"{self.model_dir / 'decoder.onnx'}: inputs {decoder_inputs}, expected {want} "
                                 "(export it with training/whisper_export.py)")
        vocab_out = self._decoder.get_outputs()[0].shape[-1]
        if isinstance(vocab_out, int) and vocab_out != len(self.vocabulary):
            raise ModelLoadError(f"{self.model_dir / 'vocabulary.txt'}: {len(self.vocabulary)} tokens but the decoder "
                                 f"outputs {vocab_out}")

    def encode(self, mel: np.ndarray) -> Encoded:
        """Run the encoder on (n_mels, frames) log-mel; frames beyond 30 s are cut, an odd last frame dropped."""
        frames = min(mel.shape[1], MAX_MEL_FRAMES)
        frames -= frames % 2
        if frames < 2:
            mel = np.zeros((self.num_mels, 2), np.float32) + mel.min(initial=-1.5)
            frames = 2
        keys, values = self._encoder.run(None, {"mel": np.ascontiguousarray(mel[None, :, :frames], np.float32)})
        return Encoded(keys, values, frames)

    def empty_cache(self, batch: int) -> np.ndarray:
        """A self-attention cache with no positions yet (layers, batch, 0, width)."""
        return np.zeros((self.num_layers, batch, 0, self.width), np.float32)

    def decode(self, tokens: np.ndarray, offset: int, self_keys: np.ndarray, self_values: np.ndarray,
               encoded: Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One decoder call: (batch, new) token ids after ``offset`` cached positions → (log-probs of the last
        position (batch, vocab), grown keys, grown values)."""
        logprobs, keys, values = self.decode_positions(tokens, offset, self_keys, self_values, encoded, _LAST)
        return logprobs[:, 0], keys, values

    def decode_positions(self, tokens: np.ndarray, offset: int, self_keys: np.ndarray, self_values: np.ndarray,
                         encoded: Encoded, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One decoder call: (batch, new) token ids after ``offset`` cached positions → (log-probs after the new
        tokens at ``positions`` (batch, len(positions), vocab), grown keys, grown values).

        The log-probs of the positions asked for are computed together: the int8 output projection quantises them
        with one scale, so a position's log-probs differ slightly (~0.1) with the company it is read in, as they do
        with the batch's other rows."""
        self.decoder_calls += 1
        logprobs, keys, values = self._decoder.run(None, {
            "tokens": np.ascontiguousarray(tokens, np.int64),
            "offset": np.array(offset, np.int64),
            "self_keys": self_keys,
            "self_values": self_values,
            "cross_keys": encoded.keys,
            "cross_values": encoded.values,
            "positions": np.ascontiguousarray(positions, np.int64),
        })
        return logprobs, keys, values

    def info(self) -> dict[str, Any]:
        """Kind, size and languages, for logs and `voicecmd bench`."""
        return {
            "kind": "whisper",
            "layers": self.num_layers,
            "width": self.width,
            "vocab_size": len(self.vocabulary),
            "multilingual": self.vocabulary.multilingual,
        }
