"""Offline training of voicecmd's own command model (corpus, units, model, trainer, WeNet-convention export)."""

from __future__ import annotations
