"""Read audio files of any common kind as 16 kHz mono int16, with one-line errors naming the file.

WAV (RIFF/WAVE) is parsed here: 8-bit unsigned, 16/24/32-bit signed and 32/64-bit float PCM, plain or
WAVE_FORMAT_EXTENSIBLE, with empty and truncated files reported as such. Everything else (FLAC, Ogg Vorbis/Opus,
MP3, AIFF, CAF, other WAV encodings such as A-law or ADPCM) is decoded by libsndfile through ``soundfile``, imported
only for those files. Several channels are mixed down to their mean; other rates go through the daemon's resampler.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Optional

import numpy as np

from daemon.audio.resample import resample
from daemon.errors import AudioSourceError

SAMPLE_RATE: Final = 16000

# Suffixes taken as audio (command-line arguments, the daemon's WAV directory); libsndfile reads all but .wav's
# plain PCM/float encodings, which are parsed here.
AUDIO_SUFFIXES: Final = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf",
    ".w64", ".rf64",
})

_FORMAT_PCM: Final = 0x0001
_FORMAT_FLOAT: Final = 0x0003
_FORMAT_EXTENSIBLE: Final = 0xFFFE
# Data sizes a recorder writing to a pipe leaves in the header (it cannot seek back): read to the end of file.
_UNKNOWN_SIZES: Final = (0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000)
_SNDFILE_BLOCK: Final = 4096  # frames per libsndfile read (a truncated file reports what came before the cut)
_MIN_RATE: Final = 4000
_MAX_RATE: Final = 768000
_INSTALL_SOUNDFILE: Final = ("install the Python package soundfile ('pip install soundfile', "
                             "or 'apt install python3-soundfile')")


@dataclass(frozen=True)
class _Decoded:
    """Decoded audio: (frames, channels) float32 on the int16 scale, or int16 for plain 16-bit PCM."""

    samples: np.ndarray
    rate: int


def is_audio_path(path: str | Path) -> bool:
    """True when the file name has a known audio suffix (``.wav``, ``.flac``, ...)."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def read_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The samples of an audio file as mono int16 at ``sample_rate`` Hz; AudioSourceError names the file."""
    path = Path(path)
    decoded = _decode(path)
    samples = decoded.samples
    if samples.shape[0] == 0:
        raise AudioSourceError(f"{path}: empty: the file holds no audio samples")
    if samples.shape[1] > 1:
        samples = samples.astype(np.float32).mean(axis=1)
    else:
        samples = samples[:, 0]
    if decoded.rate != sample_rate:
        return resample(samples, decoded.rate, sample_rate)
    if samples.dtype == np.int16:
        return samples
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


def _decode(path: Path) -> _Decoded:
    try:
        with open(path, "rb") as stream:
            head = stream.read(12)
    except FileNotFoundError:
        raise AudioSourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioSourceError(f"{path}: is a directory, not an audio file") from None
    except OSError as exc:
        raise AudioSourceError(f"{path}: cannot read ({exc.strerror})") from None
    if not head:
        raise AudioSourceError(f"{path}: empty file (0 bytes)")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        decoded = _read_riff_wave(path, path.read_bytes())
        if decoded is not None:
            return decoded
    return _read_with_soundfile(path)


# ---------------------------------------------------------------------------- RIFF/WAVE


def _read_riff_wave(path: Path, data: bytes) -> Optional[_Decoded]:
    """Parse a RIFF/WAVE file; None when its encoding is one for libsndfile (A-law, ADPCM, ...)."""
    fmt: Optional[bytes] = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt = data[body : body + size]
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioSourceError(f"{path}: not a readable WAV file (data chunk before the fmt chunk)")
            if _size_unknown(size, data[body + size : body + size + 8]):
                size = len(data) - body
            return _pcm_samples(path, fmt, data[body : body + size], declared=size, available=len(data) - body)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    if fmt is None:
        raise AudioSourceError(f"{path}: not a readable WAV file (no fmt chunk)")
    raise AudioSourceError(f"{path}: empty: the WAV file has no data chunk")


def _size_unknown(size: int, after: bytes) -> bool:
    """A data size left unfilled by a recorder writing to a pipe; ``after`` = the 8 bytes after the chunk.

    0 is also the size of a real empty data chunk, which another chunk (printable id, size within the file) may
    follow: then the file is empty, not streamed."""
    if size == 0:
        if len(after) < 8:
            return bool(after)
        chunk_like = all(0x20 <= c <= 0x7E for c in after[:4])
        return not chunk_like
    return size in _UNKNOWN_SIZES


def _pcm_samples(path: Path, fmt: bytes, payload: bytes, *, declared: int, available: int) -> Optional[_Decoded]:
    if len(fmt) < 16:
        raise AudioSourceError(f"{path}: not a readable WAV file (fmt chunk of {len(fmt)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    width = (bits + 7) // 8
    if tag not in (_FORMAT_PCM, _FORMAT_FLOAT) or (tag == _FORMAT_PCM and width not in (1, 2, 3, 4)) or (
            tag == _FORMAT_FLOAT and width not in (4, 8)):
        return None
    if channels < 1 or block_align != channels * width:
        raise AudioSourceError(f"{path}: not a readable WAV file ({channels} channel(s), {bits}-bit, "
                               f"{block_align}-byte frames)")
    _check_rate(path, rate)
    frames = len(payload) // block_align
    if available < declared:
        want = declared // block_align
        raise AudioSourceError(f"{path}: truncated: read {frames} of the {want} samples the header declares "
                               f"({frames / rate:.2f} s of {want / rate:.2f} s)")
    payload = payload[: frames * block_align]
    if tag == _FORMAT_FLOAT:
        x = np.frombuffer(payload, dtype="<f4" if width == 4 else "<f8").astype(np.float32) * 32768.0
    elif width == 1:
        x = (np.frombuffer(payload, dtype=np.uint8).astype(np.float32) - 128.0) * 256.0
    elif width == 2:
        x = np.frombuffer(payload, dtype="<i2").astype(np.int16, copy=False)
    elif width == 3:
        b = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).astype(np.float32) / 65536.0
    else:
        x = np.frombuffer(payload, dtype="<i4").astype(np.float32) / 65536.0
    return _Decoded(x.reshape(-1, channels), rate)


def _check_rate(path: Path, rate: int) -> None:
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise AudioSourceError(f"{path}: sample rate {rate} Hz is not usable for speech "
                               f"(expected {_MIN_RATE}..{_MAX_RATE} Hz)")


# ---------------------------------------------------------------------------- libsndfile


def _read_with_soundfile(path: Path) -> _Decoded:
    kind = "WAV" if path.suffix.lower() in (".wav", ".wave") else "audio"
    try:
        import soundfile
    except ImportError:
        if kind == "WAV":
            raise AudioSourceError(f"{path}: not a readable WAV file (no RIFF/WAVE header with PCM or float samples; "
                                   f"other encodings need libsndfile: {_INSTALL_SOUNDFILE})") from None
        raise AudioSourceError(f"{path}: reading {path.suffix or 'these'} files needs libsndfile: "
                               f"{_INSTALL_SOUNDFILE}") from None
    except OSError as exc:  # the module is there but libsndfile is not
        raise AudioSourceError(f"{path}: soundfile cannot load libsndfile ({exc}): install libsndfile1 (apt) "
                               "or a soundfile wheel that bundles it") from None
    blocks: list[np.ndarray] = []
    read = 0
    try:
        with soundfile.SoundFile(str(path)) as audio:
            rate, declared = audio.samplerate, audio.frames
            try:
                while len(block := audio.read(_SNDFILE_BLOCK, dtype="float32", always_2d=True)):
                    blocks.append(block)
                    read += len(block)
            except (RuntimeError, ValueError) as exc:
                if not 0 < declared < (1 << 62):
                    raise
                raise AudioSourceError(f"{path}: truncated: read {read} of the {declared} samples the header "
                                       f"declares ({read / rate:.2f} s of {declared / rate:.2f} s; "
                                       f"{_sndfile_reason(exc)})") from None
            channels = audio.channels
    except (RuntimeError, ValueError) as exc:  # soundfile.LibsndfileError is a RuntimeError
        raise AudioSourceError(f"{path}: not a readable {kind} file ({_sndfile_reason(exc)})") from None
    _check_rate(path, rate)
    if 0 < declared < (1 << 62) and read < declared:
        raise AudioSourceError(f"{path}: truncated: read {read} of the {declared} samples the header "
                               f"declares ({read / rate:.2f} s of {declared / rate:.2f} s)")
    samples = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
    return _Decoded(samples * 32768.0, rate)


def _sndfile_reason(exc: Exception) -> str:
    """libsndfile's own words, without soundfile's "Error opening '<path>': " prefix."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
