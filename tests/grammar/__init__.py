"""Grammar language tests: syntax, errors, matching, word graph, sampling, shipped grammars."""

from __future__ import annotations
