"""Config validation: defaults, unknown keys with their path and line, types, ranges, YAML syntax errors, fuzzing."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from daemon.config import DaemonConfig, config_from_dict, load_config
from daemon.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "systemd" / "config.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_empty_file_gives_defaults(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config == DaemonConfig()
    assert config.vad.max_utterance_s <= 10
    assert config.mqtt is None


def test_shipped_config_loads_and_matches_the_defaults():
    config = load_config(SHIPPED)
    assert config.vad == DaemonConfig().vad
    assert config.audio == DaemonConfig().audio
    assert config.service == DaemonConfig().service
    assert config.mqtt is not None and config.mqtt.host == "localhost" and config.mqtt.port == 1883


def test_shipped_config_names_every_key_of_every_section():
    data = yaml.safe_load(SHIPPED.read_text())
    import dataclasses

    from daemon.config import _SECTIONS

    for section, cls in _SECTIONS.items():
        documented = set(data[section]) | {line.split(":")[0].strip("# ").strip()
                                           for line in SHIPPED.read_text().splitlines() if line.startswith("  # ")}
        missing = {f.name for f in dataclasses.fields(cls)} - documented
        assert not missing, f"{section}: {missing} not in systemd/config.yaml"


def test_unknown_key_names_path_and_line(tmp_path):
    path = write(tmp_path, "vad:\n  aggressiveness: 2\n  aggresiveness: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:3: vad.aggresiveness: unknown key")


def test_unknown_section(tmp_path):
    with pytest.raises(ConfigError, match=r"config.yaml:2: vda: unknown section"):
        load_config(write(tmp_path, "vad: {}\nvda: {}\n"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("vad:\n  aggressiveness: 7\n", "vad.aggressiveness: 7 is above the maximum 3"),
        ("vad:\n  aggressiveness: two\n", "vad.aggressiveness: expected an integer, got 'two'"),
        ("vad:\n  frame_ms: 25\n", "vad.frame_ms: 25 is not one of 10, 20, 30"),
        ("vad:\n  max_utterance_s: 30\n", "vad.max_utterance_s: 30 is above the maximum 10"),
        ("vad:\n  model_endpoint: 1\n", "vad.model_endpoint: expected true/false, got 1"),
        ("audio:\n  source: wav\n", "audio.wav_path: required when audio.source is 'wav'"),
        ("audio:\n  device: [1, 2]\n", "audio.device: expected an integer or a string"),
        ("audio: 5\n", "audio: expected a mapping of settings, got 5"),
        ("service:\n  site_id: kitchen/1\n", "service.site_id: 'kitchen/1' must be non-empty"),
        ("model:\n  backend: gpu\n", "model.backend: 'gpu' is not one of"),
        ("model:\n  encoder_threads: 0\n", "model.encoder_threads: 0 is below the minimum 1"),
        ("grammar:\n  paths: [1]\n", "grammar.paths[0]: expected a path, got 1"),
        ("mqtt:\n  prot: 1883\n", "mqtt.prot: unknown key"),
        ("- a\n- b\n", "top level: expected a mapping of sections"),
    ],
)
def test_bad_values_name_the_field(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error_gives_file_line_column(tmp_path):
    path = write(tmp_path, "vad:\n  aggressiveness: 2\n  frame_ms: [30\naudio: {}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:4:")
    assert str(err.value).count(":") >= 3


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_config(write(tmp_path, "audio:\n  source: wav\n  wav_path: rec\ngrammar:\n  paths: [g, /abs]\n"))
    assert config.audio.wav_path == tmp_path / "rec"
    assert config.grammar.paths == (tmp_path / "g", Path("/abs"))


def test_asr_is_accepted_as_the_model_section():
    assert config_from_dict({"asr": {"beam": 4}}).model.beam == 4


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def _mutations(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    choice = rng.randrange(6)
    i = rng.randrange(len(lines))
    if choice == 0:  # delete a character
        line = lines[i]
        if line:
            j = rng.randrange(len(line))
            lines[i] = line[:j] + line[j + 1 :]
    elif choice == 1:  # insert a random character
        j = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:j] + rng.choice("{}[]:-#'\"\t ,&*!|>%@`x9") + lines[i][j:]
    elif choice == 2:  # replace a value
        if ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = key + ": " + rng.choice(["-1", "1e9", "true", "[]", "{}", "null", "~", "'x'", "0x10", "3.5"])
    elif choice == 3:  # duplicate a line
        lines.insert(i, lines[i])
    elif choice == 4:  # change indentation
        lines[i] = " " * rng.randrange(5) + lines[i].lstrip()
    else:  # drop a line
        del lines[i]
    return "\n".join(lines) + "\n"


def test_fuzzed_config_files_give_config_errors_never_tracebacks(tmp_path):
    rng = random.Random(1234)
    base = SHIPPED.read_text()
    outcomes = {"ok": 0, "error": 0}
    for n in range(400):
        text = base
        for _ in range(rng.randrange(1, 4)):
            text = _mutations(rng, text)
        path = tmp_path / f"c{n}.yaml"
        path.write_text(text)
        try:
            load_config(path)
            outcomes["ok"] += 1
        except ConfigError as exc:
            message = str(exc)
            assert message.startswith(str(path)), message
            assert "\n" not in message
            outcomes["error"] += 1
    assert outcomes["ok"] > 20 and outcomes["error"] > 100, outcomes


def test_check_config_cli_prints_one_line_and_exits_1(tmp_path):
    path = write(tmp_path, "vad:\n  aggresiveness: 3\n")
    proc = subprocess.run([sys.executable, "-m", "daemon", "run", "--check-config", "--config", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"voicecmd: error: {path}:2: vad.aggresiveness: unknown key " \
                                  "(known: aggressiveness, early_commit, early_commit_after_ms, frame_ms, lookahead_after_ms, max_utterance_s, min_speech_ms, " \
                                  "model_endpoint, onset_ms, preroll_ms, silence_below_peak_db, trailing_silence_ms)"
    assert "Traceback" not in proc.stderr


def test_run_with_a_bad_config_exits_2_without_traceback(tmp_path):
    path = write(tmp_path, "vad: [\n")
    proc = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"voicecmd: error: {path}:")
    assert "Traceback" not in proc.stderr
