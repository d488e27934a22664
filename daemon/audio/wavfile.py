"""Read WAV (and FLAC, Ogg, MP3, ...) files as 16 kHz mono int16 samples, with one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from daemon.audio.audiofile import SAMPLE_RATE, read_audio

__all__ = ["SAMPLE_RATE", "read_wav_int16"]


def read_wav_int16(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples of an audio file as mono int16 at ``sample_rate`` Hz; raise AudioSourceError otherwise.

    Any channel count, rate and PCM/float width is converted (see ``daemon.audio.audiofile``); the name is kept
    from when only 16 kHz mono 16-bit WAV was read.
    """
    return read_audio(path, sample_rate=sample_rate)
