"""Tests of the bundled model: files, export conventions, both forms, end to end, training smoke test."""

from __future__ import annotations
