"""``voicecmd bench memory``: the daemon's RSS with the model as different commands are decoded, against the budget."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_prints_rss_after_each_stage_and_the_verdict():
    """Commands synthesised (no corpus, as in CI), English and Mandarin, with Whisper base."""
    proc = subprocess.run([sys.executable, "-m", "daemon", "bench", "memory", "--utterances", "4", "--every", "2",
                           "--corpus", "", "--model", "models/whisper-base"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "flite (en) / espeak-ng (zh)" in out
    loaded = float(re.search(r"with the model and grammars (\d+) MB", out).group(1))
    after = [float(x) for x in re.findall(r"after +\d+ utterances: RSS (\d+) MB", out)]
    assert len(after) == 3  # after 1, 2 and 4
    assert 100 < loaded <= max(after)  # the model is in; decoding adds caches
    assert re.search(r"caches en \d+/\d+/\d+, zh-cn \d+/\d+/\d+", out)
    assert re.search(r"budget: RSS <= 250 MB with the model: (met|NOT met) \(highest \d+ MB\)", out)
