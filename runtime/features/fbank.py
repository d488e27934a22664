"""Streaming Kaldi fbank in numpy (WeNet's inference settings), identical however the audio is split."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_LOGGER = logging.getLogger(__name__)

FLT_EPSILON = float(np.finfo(np.float32).eps)
# Kaldi's (and kaldi-native-fbank's) time-domain steps run in float32: DC removal (a float sum and mean),
# pre-emphasis and the window. Their rounding shows in the low-energy bins, so they are done the same way here.
# The FFT and what follows run in float64; kaldi-native-fbank's FFT is float32 (kissfft), and its rounding is
# the gap that remains: up to 2.1e-3 in bins ~e^-20 below the frame's strongest (tests/runtime/test_fbank.py).
WAVE_DTYPE = np.float32
DTYPE = np.float64


@dataclass(frozen=True)
class FbankOptions:
    """Kaldi fbank options; the defaults are WeNet's (80 bins, 25/10 ms, povey, dither 0, snip_edges)."""

    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemph_coeff: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0: offset from Nyquist, as in Kaldi
    remove_dc_offset: bool = True

    @property
    def frame_length(self) -> int:
        """Samples per frame (400 at 16 kHz)."""
        return int(self.sample_rate * self.frame_length_ms / 1000)

    @property
    def frame_shift(self) -> int:
        """Samples between frame starts (160 at 16 kHz)."""
        return int(self.sample_rate * self.frame_shift_ms / 1000)

    @property
    def fft_size(self) -> int:
        """Padded window length: the next power of two (512 for 400 samples)."""
        return 1 << (self.frame_length - 1).bit_length()


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return np.float32(1127.0) * np.log(np.float32(1.0) + np.asarray(freq, dtype=np.float32) / np.float32(700.0))


def mel_filterbank(opts: FbankOptions) -> np.ndarray:
    """The (fft_size//2 + 1, num_mel_bins) HTK triangular filters Kaldi uses (Nyquist bin weight 0)."""
    weights, is_up = _triangles(opts)
    banks = np.zeros((opts.fft_size // 2 + 1, opts.num_mel_bins), dtype=np.float32)
    banks[: weights.shape[1]] = weights.T
    return banks


def _triangles(opts: FbankOptions) -> tuple[np.ndarray, np.ndarray]:
    """Per filter and FFT bin: Kaldi's weight (0 outside the triangle) and whether the bin is on the rising side.

    In float32 with Kaldi's order of operations: the filter edges are close together in mel, so float32
    rounding moves the weights of bins near an edge, and the low-energy filters show it.
    """
    f32 = np.float32
    num_fft_bins = opts.fft_size // 2
    nyquist = f32(0.5) * f32(opts.sample_rate)
    high = f32(opts.high_freq) if opts.high_freq > 0 else nyquist + f32(opts.high_freq)
    mel_low, mel_high = _mel(opts.low_freq), _mel(high)
    delta = (mel_high - mel_low) / f32(opts.num_mel_bins + 1)
    bin_width = f32(opts.sample_rate) / f32(opts.fft_size)
    fft_mels = _mel(bin_width * np.arange(num_fft_bins, dtype=np.float32))[None, :]
    bins = np.arange(opts.num_mel_bins, dtype=np.float32)[:, None]
    left, center, right = mel_low + bins * delta, mel_low + (bins + 1) * delta, mel_low + (bins + 2) * delta
    is_up = fft_mels <= center
    weights = np.where(is_up, (fft_mels - left) / (center - left), (right - fft_mels) / (right - center))
    inside = (fft_mels > left) & (fft_mels < right)
    return np.where(inside, weights, f32(0.0)), is_up & inside


class _MelSums:
    """Applies the mel filters as per-frame sequential sums, so a frame's value never depends on the batch.

    A BLAS matmul is faster on paper but rounds differently for 1 row than for 100, which would make the
    features depend on how the audio was split. Each filter covers a contiguous run of FFT bins, so one
    gather of every (filter, bin) pair, one multiply and one ``reduceat`` give all filters' sums.
    """

    def __init__(self, opts: FbankOptions) -> None:
        weights, _ = _triangles(opts)
        index, scale, starts = [], [], []
        for row in weights:
            cols = np.flatnonzero(row > 0)
            if not cols.size:  # an empty filter sums one zero-weighted bin (reduceat has no empty segments)
                cols = np.zeros(1, dtype=np.intp)
            starts.append(len(index))
            index.extend(cols.tolist())
            scale.extend(row[cols].tolist())
        self.index = np.asarray(index, dtype=np.intp)
        self._scale = np.asarray(scale, dtype=np.float64)
        self._starts = np.asarray(starts, dtype=np.intp)

    def __call__(self, power: np.ndarray, picked: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Filter sums of ``power`` (n × bins) into ``out`` (n × filters); ``picked`` is n × len(index) scratch."""
        np.take(power, self.index, axis=1, out=picked)
        picked *= self._scale
        return np.add.reduceat(picked, self._starts, axis=1, out=out)


def povey_window(length: int) -> np.ndarray:
    """Kaldi's povey window: a Hann window raised to the power 0.85."""
    step = 2 * np.pi / (length - 1)
    return ((0.5 - 0.5 * np.cos(step * np.arange(length, dtype=np.float64))) ** 0.85).astype(np.float32)


@lru_cache(maxsize=8)
def _tables(opts: FbankOptions) -> tuple[np.ndarray, _MelSums]:
    """Window and mel sums for ``opts``, built once per process (sessions share them read-only)."""
    window = povey_window(opts.frame_length)
    window.flags.writeable = False
    return window, _MelSums(opts)


# numpy >= 2.0 can write the FFT into a preallocated array.
_RFFT_TAKES_OUT = "out" in inspect.signature(np.fft.rfft).parameters

# Frames computed per numpy pass: big enough that one encoder call's frames (71, then 64 for the X3 model) are
# one pass, small enough to stay in cache; the work buffers for it take about 2.5 MB per stream.
_BLOCK_FRAMES = 128


class StreamingFbank:
    """Turns int16 audio pieces into fbank frames; leftover samples carry over, so the split never matters.

    ``push`` only buffers samples; ``pull`` computes every complete frame. A caller that needs frames only
    now and then (the recognizer needs a whole encoder chunk) pushes each small piece and pulls when
    ``frames_ready`` is enough, so the numpy work runs on large batches. ``accept`` = push + pull.
    """

    def __init__(self, opts: FbankOptions | None = None) -> None:
        self.opts = opts or FbankOptions()
        self._window, self._mel_sums = _tables(self.opts)
        self._length, self._shift = self.opts.frame_length, self.opts.frame_shift
        self._samples = np.zeros(16 * self._length, dtype=WAVE_DTYPE)
        self._size = 0
        self._buffers: dict[str, np.ndarray] | None = None
        self.num_frames = 0  # frames produced since the last reset

    @property
    def dim(self) -> int:
        """Feature dimension (number of mel bins)."""
        return self.opts.num_mel_bins

    @property
    def frames_ready(self) -> int:
        """Complete frames buffered and not yet pulled."""
        if self._size < self._length:
            return 0
        return 1 + (self._size - self._length) // self._shift

    def reset(self) -> None:
        """Forget buffered samples and the frame count (start of a new stream)."""
        self._size = 0
        self.num_frames = 0

    def push(self, samples: np.ndarray) -> None:
        """Buffer samples (int16 values, any length) without computing anything."""
        samples = np.asarray(samples).reshape(-1)
        need = self._size + len(samples)
        if need > len(self._samples):
            grown = np.zeros(max(need, 2 * len(self._samples)), dtype=WAVE_DTYPE)
            grown[: self._size] = self._samples[: self._size]
            self._samples = grown
        self._samples[self._size:need] = samples
        self._size = need

    def pull(self) -> np.ndarray:
        """The (n, num_mel_bins) float32 frames complete so far (and not pulled before)."""
        count = self.frames_ready
        if not count:
            return np.zeros((0, self.dim), dtype=np.float32)
        length, shift = self._length, self._shift
        buf = self._samples
        # Overlapping frames as a strided view of the sample buffer (np.ndarray directly: as_strided costs ~30 µs).
        step = buf.itemsize
        frames = np.ndarray((count, length), dtype=buf.dtype, buffer=buf, strides=(step * shift, step))
        out = np.empty((count, self.dim), dtype=np.float32)
        for begin in range(0, count, _BLOCK_FRAMES):
            self._compute(frames[begin:begin + _BLOCK_FRAMES], out[begin:begin + _BLOCK_FRAMES])
        consumed = count * shift
        self._samples[: self._size - consumed] = self._samples[consumed:self._size]
        self._size -= consumed
        self.num_frames += count
        return out

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """Add samples (int16 values, any length); return the (n, num_mel_bins) float32 frames now complete."""
        self.push(samples)
        return self.pull()

    def _scratch(self) -> dict[str, np.ndarray]:
        """Work buffers for one block of frames, allocated once: fresh ~200 kB temporaries per numpy step cost
        more than the arithmetic (the allocator hands them back to the OS and page-faults them in again)."""
        if self._buffers is None:
            block, length, bins = _BLOCK_FRAMES, self._length, self.opts.fft_size // 2 + 1
            self._buffers = {
                "centred": np.empty((block, length), dtype=WAVE_DTYPE),
                "emphasised": np.empty((block, length), dtype=WAVE_DTYPE),
                "windowed": np.empty((block, length), dtype=DTYPE),
                "spectrum": np.empty((block, bins), dtype=np.complex128),
                "power": np.empty((block, bins), dtype=DTYPE),
                "imag2": np.empty((block, bins), dtype=DTYPE),
                "picked": np.empty((block, len(self._mel_sums.index)), dtype=DTYPE),
                "mel": np.empty((block, self.dim), dtype=DTYPE),
            }
        return self._buffers

    def _compute(self, frames: np.ndarray, out: np.ndarray) -> None:
        """Write the fbank of ``frames`` (n ≤ _BLOCK_FRAMES, n × frame_length) into ``out`` (n × bins, float32)."""
        opts, n, buffers = self.opts, len(frames), self._scratch()
        centred = buffers["centred"][:n]
        if opts.remove_dc_offset:
            # Kaldi sums in float32; with int16-valued samples any order gives the exact sum (|sum| < 2**24).
            total = frames.sum(axis=1, keepdims=True)
            np.subtract(frames, total / np.float32(len(frames[0])), out=centred)
        else:
            centred[...] = frames
        emphasised = buffers["emphasised"][:n]
        coeff = np.float32(opts.preemph_coeff)
        # Kaldi: x[i] -= c*x[i-1] for i > 0 and x[0] -= c*x[0]; the right-hand side uses the original values.
        np.multiply(centred[:, :-1], coeff, out=emphasised[:, 1:])
        np.subtract(centred[:, 1:], emphasised[:, 1:], out=emphasised[:, 1:])
        np.multiply(centred[:, 0], coeff, out=emphasised[:, 0])
        np.subtract(centred[:, 0], emphasised[:, 0], out=emphasised[:, 0])
        # The window product is rounded to float32 (as in Kaldi) and lands in the float64 FFT input in one pass.
        windowed = np.multiply(emphasised, self._window, out=buffers["windowed"][:n], dtype=np.float32,
                               casting="unsafe")
        if _RFFT_TAKES_OUT:
            spectrum = np.fft.rfft(windowed, n=opts.fft_size, axis=1, out=buffers["spectrum"][:n])
        else:  # numpy < 2.0 (Debian 12, Ubuntu 22.04 system numpy)
            spectrum = np.fft.rfft(windowed, n=opts.fft_size, axis=1)
        power, imag2 = buffers["power"][:n], buffers["imag2"][:n]
        np.multiply(spectrum.real, spectrum.real, out=power)
        np.multiply(spectrum.imag, spectrum.imag, out=imag2)
        power += imag2
        mel = self._mel_sums(power, buffers["picked"][:n], buffers["mel"][:n])
        out[...] = mel
        np.maximum(out, FLT_EPSILON, out=out)
        np.log(out, out=out)


def compute_fbank(samples: np.ndarray, opts: FbankOptions | None = None) -> np.ndarray:
    """Fbank of a whole utterance (int16 values) in one go."""
    return StreamingFbank(opts).accept(samples)
