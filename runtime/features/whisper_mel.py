"""Whisper's log-mel front end (n_fft 400, hop 160, periodic Hann, log10, 8-decade floor, (x + 4) / 4) in numpy."""

from __future__ import annotations

import numpy as np

N_FFT = 400
HOP_LENGTH = 160
SAMPLE_RATE = 16000

_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def whisper_log_mel(samples: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """(n_mels, frames) float32 log-mel of 16 kHz mono audio (int16 or float in [-1, 1]), one frame per 10 ms.

    Matches ``whisper.audio.log_mel_spectrogram`` without its 30 s zero padding: a centred STFT with reflect
    padding, the last frame dropped, so ``len(samples) // 160`` frames.
    """
    audio = np.asarray(samples)
    audio = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {audio.shape}")
    if len(audio) <= N_FFT // 2:
        # Too short for reflect padding: a few samples of silence make no difference to the result.
        audio = np.pad(audio, (0, N_FFT // 2 + 1 - len(audio)))
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    num_frames = 1 + (len(padded) - N_FFT) // HOP_LENGTH
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(num_frames, N_FFT), strides=(padded.strides[0] * HOP_LENGTH, padded.strides[0]))
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)[:-1]
    mel = filters.astype(np.float32) @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
