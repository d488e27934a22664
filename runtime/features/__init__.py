"""Acoustic front end: streaming Kaldi-compatible log-mel filterbank features."""

from __future__ import annotations

from runtime.features.fbank import FbankOptions, StreamingFbank, compute_fbank

__all__ = ["FbankOptions", "StreamingFbank", "compute_fbank"]
