"""``voicecmd run --check-config`` (the unit's ExecStartPre): config, model directory and grammars; exit 0 or 1."""

from __future__ import annotations

import subprocess
import sys

from tests.integration.daemon_proc import FIXTURE_MODEL, ROOT, TINY_GRAMMAR, write_config


def check(config):
    return subprocess.run([sys.executable, "-m", "daemon", "run", "--check-config", "--config", str(config)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_good_config_passes(tmp_path):
    grammar = tmp_path / "g.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    proc = check(write_config(tmp_path, model={"dir": str(FIXTURE_MODEL)}, grammar={"paths": [str(grammar)]}))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("config ok: model ") and "1 intents" in proc.stdout


def test_missing_model_dir_fails_with_its_field(tmp_path):
    proc = check(write_config(tmp_path, model={"dir": str(tmp_path / "nope")}))
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"voicecmd: error: model.dir: {tmp_path / 'nope'}: no such model directory"


def test_unusable_model_dir_fails(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "units.txt").write_text("<blank> 0\n")
    proc = check(write_config(tmp_path, model={"dir": str(tmp_path / "model")}))
    assert proc.returncode == 1 and proc.stderr.startswith("voicecmd: error: model.dir: ")
    assert "Traceback" not in proc.stderr


def test_broken_grammar_fails_with_file_and_line(tmp_path):
    grammar = tmp_path / "g.yaml"
    grammar.write_text("language: en\nintents:\n  X:\n    data:\n      - sentences: [\"turn {nolist} on\"]\n")
    proc = check(write_config(tmp_path, model={"dir": str(FIXTURE_MODEL)}, grammar={"paths": [str(grammar)]}))
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"voicecmd: error: {grammar}:") and "nolist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
