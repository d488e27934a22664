"""Read WAV files as 16 kHz mono int16 samples, with one-line errors for anything else."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from daemon.errors import AudioSourceError

SAMPLE_RATE = 16000


def read_wav_int16(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Return the samples of a 16-bit mono WAV at ``sample_rate`` Hz; raise AudioSourceError otherwise."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            if channels != 1 or width != 2 or rate != sample_rate:
                raise AudioSourceError(
                    f"{path}: expected {sample_rate} Hz mono 16-bit PCM, got {rate} Hz, "
                    f"{channels} channel(s), {8 * width}-bit; convert with "
                    f"'sox {path.name} -r {sample_rate} -c 1 -b 16 out.wav'"
                )
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise AudioSourceError(f"{path}: no such file") from None
    except (wave.Error, EOFError) as exc:
        raise AudioSourceError(f"{path}: not a readable WAV file ({exc})") from None
    if len(frames) % 2:
        frames = frames[:-1]
    return np.frombuffer(frames, dtype="<i2").astype(np.int16, copy=False)
