"""Microphone capture through PyAudio (imported lazily): device by index or name, resampled to 16 kHz mono int16."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Union

import numpy as np

from daemon.audio.resample import StreamingResampler
from daemon.errors import AudioSourceError

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 16000
# Rates tried, in order, when the device cannot capture 16 kHz itself.
_FALLBACK_RATES = (48000, 44100, 32000, 22050, 96000)


@dataclass(frozen=True)
class InputDevice:
    """One capture device as PortAudio reports it."""

    index: int
    name: str
    max_input_channels: int
    default_rate: float
    host_api: str


def _import_pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError:
        raise AudioSourceError(
            "PyAudio is not installed: install python3-pyaudio or 'pip install voicecmd[audio]'"
        ) from None
    return pyaudio


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence PortAudio's ALSA/JACK probing chatter, which goes straight to fd 2."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_pyaudio() -> Any:
    """A PyAudio instance created with the library's stderr noise suppressed."""
    pyaudio = _import_pyaudio()
    with _quiet_stderr():
        return pyaudio.PyAudio()


def list_input_devices(pa: Any = None) -> list[InputDevice]:
    """All devices with at least one input channel."""
    own = pa is None
    pa = pa or open_pyaudio()
    try:
        devices = []
        for i in range(pa.get_device_count()):
            info = pa.get_device_info_by_index(i)
            if int(info.get("maxInputChannels", 0)) < 1:
                continue
            try:
                api = pa.get_host_api_info_by_index(info["hostApi"])["name"]
            except Exception:  # host API lookup is cosmetic
                api = "?"
            devices.append(
                InputDevice(i, str(info["name"]), int(info["maxInputChannels"]), float(info["defaultSampleRate"]), api)
            )
        return devices
    finally:
        if own:
            pa.terminate()


def find_device(pa: Any, device: Union[int, str, None]) -> Optional[InputDevice]:
    """Resolve an index or a case-insensitive name substring to an input device; None = PortAudio's default."""
    devices = list_input_devices(pa)
    if device is None:
        return None
    if isinstance(device, int):
        for d in devices:
            if d.index == device:
                return d
        raise AudioSourceError(f"audio.device: no input device with index {device} ({_describe(devices)})")
    matches = [d for d in devices if device.lower() in d.name.lower()]
    if not matches:
        raise AudioSourceError(f"audio.device: no input device matching {device!r} ({_describe(devices)})")
    exact = [d for d in matches if d.name.lower() == device.lower()]
    return (exact or matches)[0]


def _describe(devices: list[InputDevice]) -> str:
    if not devices:
        return "no input devices found"
    return "available: " + ", ".join(f"{d.index}:{d.name}" for d in devices)


class MicrophoneSource:
    """Blocking PyAudio capture; opens at 16 kHz when possible, otherwise at a supported rate and resamples."""

    live = True

    def __init__(self, *, device: Union[int, str, None] = None, input_rate: Optional[int] = None, block: int = 480):
        self.name = f"microphone:{device if device is not None else 'default'}"
        self._device = device
        self._input_rate = input_rate
        self._block = block
        self._pa: Any = None
        self._stream: Any = None
        self._resampler: Optional[StreamingResampler] = None
        self._channels = 1
        self._frames_per_read = block
        self.rate = SAMPLE_RATE

    def open(self) -> None:
        """Open the device, choosing a capture rate and channel count it supports."""
        pyaudio = _import_pyaudio()
        self.close()
        self._pa = open_pyaudio()
        try:
            dev = find_device(self._pa, self._device)
            if dev is None:
                try:
                    info = self._pa.get_default_input_device_info()
                except (IOError, OSError):
                    raise AudioSourceError("no default input device (set audio.device; see 'voicecmd devices')") from None
                dev = InputDevice(int(info["index"]), str(info["name"]), int(info["maxInputChannels"]),
                                  float(info["defaultSampleRate"]), "")
            rate, channels = self._choose_format(pyaudio, dev)
            self.rate, self._channels = rate, channels
            self._resampler = StreamingResampler(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None
            self._frames_per_read = max(1, round(self._block * rate / SAMPLE_RATE))
            with _quiet_stderr():
                self._stream = self._pa.open(
                    format=pyaudio.paInt16, channels=channels, rate=rate, input=True,
                    input_device_index=dev.index, frames_per_buffer=self._frames_per_read,
                )
            self.name = f"microphone:{dev.index}:{dev.name}"
            _LOGGER.info("capturing from %s at %d Hz, %d channel(s)%s", dev.name, rate, channels,
                         " (resampled to 16 kHz)" if self._resampler else "")
        except Exception:
            self.close()
            raise

    def _choose_format(self, pyaudio: Any, dev: InputDevice) -> tuple[int, int]:
        rates = [self._input_rate] if self._input_rate else [SAMPLE_RATE, int(dev.default_rate), *_FALLBACK_RATES]
        channel_options = [1] + ([2] if dev.max_input_channels >= 2 else [])
        for channels in channel_options:
            for rate in dict.fromkeys(rates):
                try:
                    if self._pa.is_format_supported(rate, input_device=dev.index, input_channels=channels,
                                                    input_format=pyaudio.paInt16):
                        return rate, channels
                except ValueError:
                    continue
        raise AudioSourceError(f"{dev.name}: supports none of the rates {sorted(set(rates))} for 16-bit capture")

    def read(self) -> Optional[np.ndarray]:
        """The next block (16 kHz mono int16); raises OSError when the device fails."""
        if self._stream is None:
            raise OSError("microphone not open")
        data = self._stream.read(self._frames_per_read, exception_on_overflow=False)
        samples = np.frombuffer(data, dtype="<i2")
        if self._channels > 1:
            samples = samples.reshape(-1, self._channels).mean(axis=1).astype(np.int16)
        if self._resampler is not None:
            samples = self._resampler.process(samples)
        return samples

    def close(self) -> None:
        """Stop and release the stream and PortAudio."""
        stream, self._stream = self._stream, None
        pa, self._pa = self._pa, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.stop_stream()
            with contextlib.suppress(Exception):
                stream.close()
        if pa is not None:
            with contextlib.suppress(Exception):
                pa.terminate()


def has_input_device() -> bool:
    """True when PyAudio is importable and lists at least one input device."""
    try:
        pa = open_pyaudio()
    except AudioSourceError:
        return False
    try:
        if not list_input_devices(pa):
            return False
        try:
            pa.get_default_input_device_info()
        except (IOError, OSError):
            return False
        return True
    finally:
        pa.terminate()
