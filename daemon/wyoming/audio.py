"""Wyoming audio (any rate, sample width and channel count) to the 16 kHz mono int16 the recognizer takes."""

from __future__ import annotations

import numpy as np

from daemon.audio.resample import StreamingResampler

SAMPLE_RATE = 16000
MIN_RATE, MAX_RATE = 8000, 192000
MAX_CHANNELS = 8
WIDTHS = (1, 2, 3, 4)  # bytes per sample: unsigned 8-bit, signed 16/24/32-bit little-endian (Wyoming's PCM)


class AudioFormatError(ValueError):
    """The declared audio format cannot be converted."""


def check_format(rate: object, width: object, channels: object) -> tuple[int, int, int]:
    """Validate an audio-start/audio-chunk format; returns it as ints."""
    for name, value in (("rate", rate), ("width", width), ("channels", channels)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise AudioFormatError(f"audio {name} must be an integer, got {value!r}")
    assert isinstance(rate, int) and isinstance(width, int) and isinstance(channels, int)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFormatError(f"audio rate {rate} Hz is outside {MIN_RATE}..{MAX_RATE}")
    if width not in WIDTHS:
        raise AudioFormatError(f"audio width {width} is not one of {WIDTHS} bytes")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioFormatError(f"audio channels {channels} is outside 1..{MAX_CHANNELS}")
    return rate, width, channels


class PcmConverter:
    """Streams little-endian PCM bytes of one format into 16 kHz mono int16 blocks (a frame split across chunks
    is kept for the next one)."""

    def __init__(self, rate: int, width: int, channels: int) -> None:
        self.rate, self.width, self.channels = check_format(rate, width, channels)
        self._frame_bytes = width * channels
        self._pending = b""
        self._resampler = StreamingResampler(rate, SAMPLE_RATE)
        self.input_frames = 0  # per channel, at the input rate

    @property
    def seconds(self) -> float:
        """Audio received so far."""
        return self.input_frames / self.rate

    def convert(self, data: bytes) -> np.ndarray:
        """PCM bytes in, int16 samples at 16 kHz out (possibly empty)."""
        if self._pending:
            data = self._pending + data
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        if not usable:
            return np.zeros(0, dtype=np.int16)
        samples = _to_int16(data[:usable], self.width)
        if self.channels > 1:
            frames = samples.reshape(-1, self.channels).astype(np.int32)
            samples = (frames.sum(axis=1) // self.channels).astype(np.int16)
        self.input_frames += len(samples)
        return self._resampler.process(samples)


def _to_int16(data: bytes, width: int) -> np.ndarray:
    if width == 2:
        return np.frombuffer(data, dtype="<i2").astype(np.int16, copy=True)
    if width == 1:  # WAV-style unsigned 8-bit
        return ((np.frombuffer(data, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 4:
        return (np.frombuffer(data, dtype="<i4") >> 16).astype(np.int16)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)  # 24-bit: keep the two high bytes
    return (raw[:, 1].astype(np.uint16) | (raw[:, 2].astype(np.uint16) << 8)).view(np.int16)
