"""Synthesised test speech: flite (English) or espeak-ng (plumbing, Mandarin), converted to 16 kHz mono WAV by sox."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np

from daemon.audio.wavfile import read_wav_int16

CACHE = Path("/tmp/voicecmd-test-speech")


def synth_wav(text: str, *, engine: str = "flite", voice: str = "", pad_s: float = 0.5) -> Path:
    """A cached 16 kHz mono 16-bit WAV of ``text`` with ``pad_s`` of silence before and after."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(f"{engine}|{voice}|{pad_s}|{text}".encode()).hexdigest()[:16]
    out = CACHE / f"{engine}-{key}.wav"
    if out.exists():
        return out
    raw = CACHE / f"{engine}-{key}.raw.wav"
    if engine == "flite":
        subprocess.run([shutil.which("flite") or "flite", "-voice", voice or "slt", "-t", text, "-o", str(raw)],
                       check=True, capture_output=True)
    elif engine == "espeak":
        subprocess.run([shutil.which("espeak-ng") or "espeak-ng", "-v", voice or "en-us", "-w", str(raw), text],
                       check=True, capture_output=True)
    else:
        raise ValueError(engine)
    tmp = out.with_suffix(".tmp.wav")
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(tmp),
                    "pad", str(pad_s), str(pad_s)], check=True, capture_output=True)
    raw.unlink()
    tmp.rename(out)
    return out


def synth_samples(text: str, **kwargs) -> np.ndarray:
    """The samples of ``synth_wav``."""
    return read_wav_int16(synth_wav(text, **kwargs))


def speech_bounds(samples: np.ndarray, threshold: int = 300) -> tuple[float, float]:
    """First and last sample above ``threshold`` in seconds (ground truth for VAD timing)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    return loud[0] / 16000, loud[-1] / 16000


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Write 16 kHz mono int16 samples."""
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path
