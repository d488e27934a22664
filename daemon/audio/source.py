"""The AudioSource protocol (open/read/close of 16 kHz mono int16 blocks) and the factory choosing one from config."""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np

from daemon.config import AudioConfig

SAMPLE_RATE = 16000


class AudioSource(Protocol):
    """A stream of 16 kHz mono int16 blocks; ``read`` returns None once the stream has ended for good."""

    name: str
    live: bool  # True for devices that may recover after an error (reopened with backoff)

    def open(self) -> None:
        """Acquire the device/file; raise AudioSourceError (or OSError) when it cannot be opened."""

    def read(self) -> Optional[np.ndarray]:
        """Block until the next block of samples is available; None at end of stream."""

    def close(self) -> None:
        """Release the device/file; safe to call twice."""


def make_source(config: AudioConfig) -> AudioSource:
    """Build the audio source the config asks for (PyAudio is only imported for the microphone)."""
    if config.source == "wav":
        from daemon.audio.files import WavSource

        assert config.wav_path is not None  # guaranteed by AudioConfig validation
        return WavSource(config.wav_path, block=config.frames_per_buffer, realtime=config.realtime, gap_s=config.gap_s)
    if config.source == "stdin":
        from daemon.audio.files import RawStdinSource

        return RawStdinSource(block=config.frames_per_buffer)
    from daemon.audio.microphone import MicrophoneSource

    return MicrophoneSource(device=config.device, input_rate=config.input_rate, block=config.frames_per_buffer)
