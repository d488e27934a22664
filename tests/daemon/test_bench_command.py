"""``voicecmd bench ...`` after the run set-up (no test extras): a missing peer package or program is skipped with a
note or named with what to install, never a traceback (issue 12)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from daemon.commands import bench
from daemon.errors import VoicecmdError

ROOT = Path(__file__).resolve().parents[2]


def hide_modules(tmp_path: Path, *names: str) -> Path:
    """A directory that, put first on PYTHONPATH, makes ``import name`` fail as if the package were not installed."""
    shadow = tmp_path / "shadow"
    for name in names:
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}' (hidden by the test)\", name={name!r})\n")
    return shadow


def voicecmd_bench(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daemon", "bench", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, **env), timeout=timeout)


def test_grammar_bench_without_hassil_skips_the_peer_column_with_a_note(tmp_path):
    proc = voicecmd_bench("grammar", "--seconds", "0.01", env={"PYTHONPATH": str(hide_modules(tmp_path, "hassil"))})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "zh: " in proc.stdout and "en: " in proc.stdout and "voicecmd" in proc.stdout
    assert "hassil column skipped" in proc.stdout and "pip install hassil" in proc.stdout
    assert "== compile" in proc.stdout


def test_runtime_bench_without_kaldi_native_fbank_says_what_to_install(tmp_path):
    shadow = hide_modules(tmp_path, "kaldi_native_fbank")
    proc = voicecmd_bench("runtime", "--repeat", "1", env={"PYTHONPATH": str(shadow)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "voicecmd: error: bench runtime: needs the Python package providing 'kaldi_native_fbank', which is not "
        "installed: pip install kaldi-native-fbank (bash script/setup test installs them all)")


def test_synthetic_accuracy_bench_without_scipy_says_what_to_install(tmp_path):
    proc = voicecmd_bench("accuracy-synthetic", env={"PYTHONPATH": str(hide_modules(tmp_path, "scipy"))})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "pip install scipy" in proc.stderr


def test_real_speech_accuracy_bench_runs_without_pocketsphinx(tmp_path):
    """The real-speech bench on one clip per set: the voicecmd line and a note instead of the peer column."""
    proc = voicecmd_bench("accuracy", "--limit", "1", "--conditions", "clean", "--work", str(tmp_path / "work"),
                          env={"PYTHONPATH": str(hide_modules(tmp_path, "pocketsphinx"))})
    assert proc.returncode == 0, proc.stderr
    assert "pocketsphinx column skipped" in proc.stdout
    assert "voicecmd whisper-base: coffee clean" in proc.stdout and "out-of-grammar false accepts" in proc.stdout


@pytest.mark.parametrize("args, needs", [
    (["latency", "--corpus", ""], ["sox", "flite", "espeak-ng"]),  # no corpus: it synthesises the commands
    (["idle", "--mic"], ["pulseaudio", "pactl"]),
    (["search", "--calibrate"], ["espeak-ng", "sox"]),
    (["search", "--calibrate", "--voice", "flite"], ["flite", "sox"]),
])
def test_benchmarks_name_the_programs_they_miss(tmp_path, args, needs):
    if args[0] == "search" and not (ROOT / "models" / "default" / "units.txt").exists():
        pytest.skip("search --calibrate needs the bundled model")
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = voicecmd_bench(*args, env={"PATH": str(empty)})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert "missing: " + ", ".join(needs) in message and "apt install " in message


def _fake_bench(tmp_path: Path, monkeypatch, body: str) -> argparse.Namespace:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "fake.py").write_text(body)
    monkeypatch.setattr(bench.paths, "SOURCE_ROOT", tmp_path)
    monkeypatch.setitem(bench.BENCHMARKS, "fake", ("fake.py", []))
    return argparse.Namespace(name="fake", bench_args=[])


def test_any_missing_peer_module_becomes_one_line(tmp_path, monkeypatch):
    args = _fake_bench(tmp_path, monkeypatch, "import pocketsphinx_not_installed_here\n")
    with pytest.raises(VoicecmdError, match="bench fake: needs the Python package providing "
                                            "'pocketsphinx_not_installed_here'.*pip install"):
        bench.run(args)


def test_any_missing_program_becomes_one_line(tmp_path, monkeypatch):
    args = _fake_bench(tmp_path, monkeypatch, "import subprocess\nsubprocess.run(['no-such-tts-engine', '-t', 'x'])\n")
    with pytest.raises(VoicecmdError, match="bench fake: needs the program no-such-tts-engine.*apt install"):
        bench.run(args)


def test_a_missing_module_of_our_own_is_a_bug_and_not_hidden(tmp_path, monkeypatch):
    args = _fake_bench(tmp_path, monkeypatch, "import daemon.no_such_module\n")
    with pytest.raises(ModuleNotFoundError):
        bench.run(args)


def test_search_bench_weakest_unit_gap_ranks_clear_commands():
    """The calibration's second feature: positive and growing as the path's weakest unit gets clearer."""
    import importlib.util
    import math

    import numpy as np

    spec = importlib.util.spec_from_file_location("search_bench", ROOT / "bench" / "search_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    logprobs = np.log(np.array([[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))
    gap = module.weakest_unit_gap(logprobs, (1, 2), ((1, 1), (3, 3)))
    assert gap == pytest.approx(math.log(0.6 / 0.3))
    assert module.weakest_unit_gap(logprobs, (), ()) == -math.inf
