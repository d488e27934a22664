"""Test helpers shared by several parts' tests (real brokers, subscribers)."""

from __future__ import annotations
