"""Non-device audio sources: audio files or a directory of them (paced or fast), and raw s16le PCM on stdin."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import numpy as np

from daemon.audio.audiofile import AUDIO_SUFFIXES, read_audio
from daemon.errors import AudioSourceError

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 16000


def wav_files(path: Path) -> list[Path]:
    """The audio file itself, or the sorted audio files (``*.wav``, ``*.flac``, ...) of a directory.

    AudioSourceError when the path does not exist or the directory holds no audio file."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if not files:
            raise AudioSourceError(f"{path}: directory has no audio files (.wav, .flac, ...)")
        return files
    if not path.exists():
        raise AudioSourceError(f"{path}: no such audio file or directory")
    return [path]


class WavSource:
    """Plays audio files as if they came from a microphone, with ``gap_s`` of silence after each file.

    A directory's unreadable files are skipped with a logged error; a single bad file, or a directory of them
    only, fails ``open``."""

    live = False

    def __init__(self, path: Path, *, block: int = 480, realtime: bool = True, gap_s: float = 1.0) -> None:
        self.path = Path(path)
        self.name = f"wav:{self.path}"
        self._block = block
        self._realtime = realtime
        self._gap = np.zeros(int(gap_s * SAMPLE_RATE), dtype=np.int16)
        self._blocks: Optional[Iterator[np.ndarray]] = None
        self._t0 = 0.0
        self._emitted = 0
        self.current_file: Optional[Path] = None

    def open(self) -> None:
        """Check the files (all of them, so that bad ones are known at start-up) and start the clock."""
        files = wav_files(self.path)
        if self.path.is_dir():
            files = [f for f in files if self._readable(f)]
            if not files:
                raise AudioSourceError(f"{self.path}: no readable audio file in the directory (see the errors above)")
        else:
            read_audio(files[0])
        self._blocks = self._iter_blocks(files)
        self._t0 = time.monotonic()
        self._emitted = 0

    @staticmethod
    def _readable(path: Path) -> bool:
        try:
            read_audio(path)
        except AudioSourceError as exc:
            _LOGGER.error("skipping %s: %s", path, exc)
            return False
        return True

    def _iter_blocks(self, files: list[Path]) -> Iterator[np.ndarray]:
        for f in files:
            self.current_file = f
            try:
                audio = read_audio(f)
            except AudioSourceError as exc:  # changed since open()
                _LOGGER.error("skipping %s: %s", f, exc)
                continue
            _LOGGER.info("playing %s", f)
            samples = np.concatenate([audio, self._gap])
            for start in range(0, len(samples), self._block):
                yield samples[start : start + self._block]
        self.current_file = None

    def read(self) -> Optional[np.ndarray]:
        """The next block, paced to real time when asked; None after the last file."""
        if self._blocks is None:
            raise AudioSourceError(f"{self.path}: source not open")
        block = next(self._blocks, None)
        if block is None:
            return None
        if self._realtime:
            due = self._t0 + (self._emitted + len(block)) / SAMPLE_RATE
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self._emitted += len(block)
        return block

    def close(self) -> None:
        """Forget the file iterator."""
        self._blocks = None


class RawStdinSource:
    """Raw 16 kHz mono s16le PCM read from a file descriptor (stdin by default) or a stream; EOF ends it."""

    live = False

    def __init__(self, *, block: int = 480, stream: Optional[BinaryIO] = None, fd: Optional[int] = None) -> None:
        self.name = "stdin"
        self._block_bytes = 2 * block
        self._stream = stream
        self._fd = fd
        self._pending = b""

    def open(self) -> None:
        """Bind to stdin's file descriptor unless a stream was given."""
        if self._stream is None and self._fd is None:
            # os.read on the descriptor, not sys.stdin.buffer: a read blocked in a daemon thread must not hold
            # the buffered reader's lock at interpreter shutdown (that aborts the process).
            self._fd = sys.stdin.fileno()

    def _read_some(self, n: int) -> bytes:
        if self._stream is not None:
            return self._stream.read(n)
        assert self._fd is not None
        return os.read(self._fd, n)

    def read(self) -> Optional[np.ndarray]:
        """Block until a full block arrived; a short tail at EOF is returned once, then None."""
        data = self._pending
        while len(data) < self._block_bytes:
            chunk = self._read_some(self._block_bytes - len(data))
            if not chunk:
                break
            data += chunk
        self._pending = b""
        if not data:
            return None
        if len(data) % 2:
            data = data[:-1]
        return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=False)

    def close(self) -> None:
        """Nothing to release (stdin belongs to the process)."""
