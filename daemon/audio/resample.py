"""Streaming polyphase resampler (numpy): capture rates such as 44.1/48 kHz to 16 kHz, with an anti-alias filter."""

from __future__ import annotations

from math import gcd

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Filter half-length in zero crossings of the slower rate: 12 gives > 60 dB stop-band with this Kaiser window
# and a 0.9-Nyquist pass-band edge, at about 50 multiply-adds per output sample for 48 kHz or 44.1 kHz input.
_ZERO_CROSSINGS = 12
_KAISER_BETA = 7.0
# Cut-off as a fraction of the output Nyquist: leaves a transition band so speech up to ~7 kHz passes.
_CUTOFF_FRACTION = 0.9


def taps_per_phase(up: int, down: int, zero_crossings: int = _ZERO_CROSSINGS) -> int:
    """Taps each polyphase branch needs so that the filter spans ``2*zero_crossings`` periods of the cut-off."""
    return max(4, -(-2 * zero_crossings * max(up, down) // up))


def design_lowpass(up: int, down: int, taps_per_phase: int) -> np.ndarray:
    """Kaiser-windowed sinc low-pass for the up-sampled rate, gain ``up`` at DC, shaped (taps_per_phase, up)."""
    length = up * taps_per_phase
    cutoff = _CUTOFF_FRACTION * 0.5 / max(up, down)  # cycles per up-sampled sample, 0.9 x output Nyquist
    t = np.arange(length) - (length - 1) / 2.0
    h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(length, _KAISER_BETA)
    h *= up / h.sum()
    # polyphase[k, p] = h[p + k*up]: branch p convolves the input with every up-th tap.
    return h.reshape(taps_per_phase, up).astype(np.float32)


class StreamingResampler:
    """Resamples int16 blocks of any size from ``in_rate`` to ``out_rate``; state carries across calls."""

    def __init__(self, in_rate: int, out_rate: int = 16000) -> None:
        g = gcd(in_rate, out_rate)
        self.in_rate, self.out_rate = in_rate, out_rate
        self._up, self._down = out_rate // g, in_rate // g
        taps = taps_per_phase(self._up, self._down)
        self._taps = taps
        # (up, taps), taps reversed so that a window of the input (oldest..newest) lines up with them
        self._poly = design_lowpass(self._up, self._down, taps).T[:, ::-1].copy()
        self._history = np.zeros(taps - 1, dtype=np.float32)
        self._history_start = -(taps - 1)  # absolute index of _history[0]
        self._consumed = 0  # input samples seen so far
        self._next_out = 0  # absolute index of the next output sample

    @property
    def delay(self) -> float:
        """Output samples by which the (linear-phase) filter delays the signal."""
        return (self._up * self._taps - 1) / (2 * self._down)

    @property
    def passthrough(self) -> bool:
        """True when the rates are equal (no filtering needed)."""
        return self._up == self._down

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Feed int16 input samples, get the int16 output samples they complete."""
        if self.passthrough:
            return samples.astype(np.int16, copy=False)
        buf = np.concatenate([self._history, samples.astype(np.float32)])
        self._consumed += len(samples)
        last_input = self._consumed - 1
        # Output n needs input index floor(n*down/up); emit every n whose newest input is available.
        n_end = (last_input * self._up) // self._down + 1
        if n_end <= self._next_out:
            self._keep_history(buf)
            return np.zeros(0, dtype=np.int16)
        n = np.arange(self._next_out, n_end, dtype=np.int64)
        pos = n * self._down
        oldest = pos // self._up - self._history_start - (self._taps - 1)
        windows = sliding_window_view(buf, self._taps)[oldest]  # (outputs, taps)
        if self._up == 1:  # integer decimation (48/32/96 kHz): one branch, a matrix-vector product
            out = windows @ self._poly[0]
        else:
            out = np.einsum("nk,nk->n", windows, self._poly[pos % self._up])
        self._next_out = n_end
        self._keep_history(buf)
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

    def _keep_history(self, buf: np.ndarray) -> None:
        keep = self._taps - 1
        next_newest = (self._next_out * self._down) // self._up
        start = min(next_newest - keep, self._consumed - keep)
        offset = start - self._history_start
        self._history = buf[offset:].copy()
        self._history_start = start


def resample(samples: np.ndarray, in_rate: int, out_rate: int = 16000) -> np.ndarray:
    """A whole signal (int16, or float on the int16 scale) at ``out_rate`` as int16, aligned with the input.

    The streaming filter's delay is removed and the tail flushed, so the output has ``round(n * out / in)`` samples
    and its sample k lies at the time of input sample ``k * in / out``.
    """
    resampler = StreamingResampler(in_rate, out_rate)
    if resampler.passthrough:
        return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    length = round(len(samples) * out_rate / in_rate)
    skip = round(resampler.delay)
    flush = np.zeros(resampler._taps + 1, dtype=np.float32)
    out = resampler.process(np.concatenate([np.asarray(samples, dtype=np.float32), flush]))
    return out[skip : skip + length]
