"""Audio augmentation: speed/pitch perturbation (sox), generated noise and babble, synthetic reverberation, gain."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
from scipy.signal import fftconvolve, lfilter

_LOGGER = logging.getLogger(__name__)

SAMPLE_RATE = 16000

# Noise families. Training and the held-out test set use disjoint generators, so test noise is never seen in training.
TRAIN_NOISES = ("white", "pink", "brown", "hum", "babble", "clicks")
TEST_NOISES = ("fan", "music", "street", "babble_heldout")


def sox_perturb(audio: np.ndarray, speed: float = 1.0, pitch_cents: float = 0.0) -> np.ndarray:
    """Kaldi-style speed perturbation and a pitch+formant shift (sox `speed` / `pitch`), float in, float out."""
    if abs(speed - 1.0) < 1e-3 and abs(pitch_cents) < 1:
        return audio
    pcm = np.clip(audio * 32767, -32768, 32767).astype("<i2").tobytes()
    fmt = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1"]
    effects = []
    if abs(pitch_cents) >= 1:
        effects += ["pitch", f"{pitch_cents:.0f}"]
    if abs(speed - 1.0) >= 1e-3:
        effects += ["speed", f"{speed:.4f}", "rate", str(SAMPLE_RATE)]
    out = subprocess.run(["sox", "-D", *fmt, "-", *fmt, "-", *effects], input=pcm, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float32) / 32768.0


def _colored(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Gaussian noise with a 1/f^exponent power spectrum."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    freqs[0] = freqs[1] if n > 1 else 1.0
    spec /= freqs ** (exponent / 2)
    return np.fft.irfft(spec, n).astype(np.float32)


def _normalize(x: np.ndarray) -> np.ndarray:
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-9)).astype(np.float32)


def make_noise(kind: str, n: int, rng: np.random.Generator, babble_pool: list[np.ndarray] | None = None) -> np.ndarray:
    """`n` samples of unit-RMS noise of one family (see TRAIN_NOISES / TEST_NOISES)."""
    t = np.arange(n) / SAMPLE_RATE
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _colored(rng, n, 1.0)
    elif kind == "brown":
        x = _colored(rng, n, 2.0)
    elif kind == "hum":
        base = rng.choice([50.0, 60.0, 100.0, 120.0])
        x = sum(rng.uniform(0.2, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.28)) for k in range(1, 8))
        x = x + 0.3 * rng.standard_normal(n)
    elif kind == "clicks":
        x = 0.05 * rng.standard_normal(n)
        for pos in rng.integers(0, n, size=max(1, int(n / SAMPLE_RATE * rng.uniform(2, 12)))):
            width = int(rng.integers(40, 400))
            x[pos:pos + width] += rng.standard_normal(min(width, n - pos)) * np.exp(-np.arange(min(width, n - pos)) / 60)
    elif kind == "fan":
        # Resonant band noise with a slow blade modulation: unlike any training family.
        f0 = rng.uniform(150, 900)
        r = 0.97
        a = [1, -2 * r * np.cos(2 * np.pi * f0 / SAMPLE_RATE), r * r]
        x = lfilter([1.0], a, rng.standard_normal(n)) * (1 + 0.4 * np.sin(2 * np.pi * rng.uniform(8, 30) * t))
        x = _normalize(x) + 0.5 * _normalize(_colored(rng, n, 1.5))
    elif kind == "music":
        x = np.zeros(n)
        pos = 0
        while pos < n:
            dur = int(rng.uniform(0.12, 0.5) * SAMPLE_RATE)
            f = 110 * 2 ** (rng.integers(0, 36) / 12)
            seg = np.arange(min(dur, n - pos)) / SAMPLE_RATE
            note = sum(0.6 ** k * np.sin(2 * np.pi * f * (k + 1) * seg) for k in range(5)) * np.exp(-seg * rng.uniform(2, 8))
            x[pos:pos + len(seg)] += note
            pos += dur
    elif kind == "street":
        x = _normalize(_colored(rng, n, 2.5)) + 0.3 * _normalize(_colored(rng, n, 0.5))
        for _ in range(int(rng.integers(0, 3))):
            start = int(rng.integers(0, n))
            seg = np.arange(min(int(0.4 * SAMPLE_RATE), n - start)) / SAMPLE_RATE
            x[start:start + len(seg)] += 2 * np.sign(np.sin(2 * np.pi * rng.uniform(300, 600) * seg))
    elif kind in ("babble", "babble_heldout"):
        if not babble_pool:
            raise ValueError("babble noise needs a pool of speech recordings")
        x = np.zeros(n)
        for _ in range(int(rng.integers(3, 7))):
            src = babble_pool[int(rng.integers(0, len(babble_pool)))]
            reps = np.tile(src, int(np.ceil(n / max(1, len(src)))) + 1)
            off = int(rng.integers(0, max(1, len(src))))
            x += _normalize(reps[off:off + n]) * rng.uniform(0.5, 1.0)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    return _normalize(np.asarray(x, dtype=np.float32))


def add_noise(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix unit-RMS `noise` into `speech` at `snr_db`, measured over the speech's active part."""
    active = speech[np.abs(speech) > 0.02 * (np.abs(speech).max() + 1e-9)]
    p_speech = np.mean(active ** 2) if active.size else np.mean(speech ** 2)
    scale = np.sqrt(p_speech / (10 ** (snr_db / 10)))
    return (speech + scale * noise[: len(speech)]).astype(np.float32)


def synthetic_rir(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A room impulse response: direct path, a few early reflections, exponentially decaying diffuse tail."""
    n = int(rt60 * 1.1 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.003 * SAMPLE_RATE)] = 0
    h = tail * rng.uniform(0.1, 0.5)
    h[0] = 1.0
    for _ in range(6):
        h[int(rng.uniform(0.002, 0.03) * SAMPLE_RATE)] += rng.uniform(-0.6, 0.6)
    return (h / np.sqrt(np.sum(h ** 2))).astype(np.float32)


def reverberate(audio: np.ndarray, rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Convolve with a synthetic RIR, keeping the length and the peak level."""
    out = fftconvolve(audio, synthetic_rir(rng, rt60))[: len(audio)]
    return (out * (np.abs(audio).max() / (np.abs(out).max() + 1e-9))).astype(np.float32)


def pad_silence(audio: np.ndarray, rng: np.random.Generator, lo: float = 0.1, hi: float = 0.7) -> np.ndarray:
    """Add `lo`..`hi` seconds of faint noise on both sides (what a VAD-cut utterance looks like)."""
    before, after = (int(rng.uniform(lo, hi) * SAMPLE_RATE) for _ in range(2))
    floor = 10 ** (rng.uniform(-75, -55) / 20)
    return np.concatenate([rng.standard_normal(before) * floor, audio, rng.standard_normal(after) * floor]).astype(np.float32)


def apply_gain(audio: np.ndarray, rng: np.random.Generator, lo_db: float = -25.0, hi_db: float = -1.0) -> np.ndarray:
    """Scale to a random peak level in dBFS."""
    peak = np.abs(audio).max() + 1e-9
    return (audio * (10 ** (rng.uniform(lo_db, hi_db) / 20) / peak)).astype(np.float32)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float [-1, 1) to int16 with clipping."""
    return np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)
