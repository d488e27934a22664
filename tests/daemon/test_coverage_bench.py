"""``voicecmd bench coverage``: the Whisper coverage test's cost, each command decoded with and without it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_prints_counts_and_both_decode_times():
    """Commands synthesised (no corpus, as in CI), English and Mandarin, with Whisper base."""
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "coverage", "--commands", "4", "--corpus", ""],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("4 commands: sentences sampled from the shipped grammars, flite (en) / espeak-ng (zh)")
    ran, changed, rejected = map(int, re.search(
        r"the coverage test ran on (\d+); outcomes changed (\d+) \(commands it rejected: (\d+)\)", out).groups())
    assert 0 <= rejected <= changed <= ran <= 4
    means = [float(x) for x in re.findall(r"decode (?:without|with) +the test \(encoder \+ search\), ms: mean (\d+)", out)]
    assert len(means) == 2 and all(m > 0 for m in means)
    assert re.search(r"added per command, ms: mean -?\d+, p95 -?\d+", out)


def test_a_wenet_model_is_refused_with_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "coverage", "--commands", "2", "--corpus", "",
                           "--model", "models/default"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 2
    assert "the coverage test is part of the Whisper decoder" in proc.stderr
