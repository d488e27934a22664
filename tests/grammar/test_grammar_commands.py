"""``voicecmd parse`` and ``voicecmd check-grammar`` end to end through the CLI entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys


from daemon.cli import main
from tests.grammar.helpers import one_intent, write_grammar


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_parse_prints_one_json_line_per_text(capsys, repo_root):
    code, out, _ = _run(capsys, ["parse", "--grammar", str(repo_root / "grammars" / "zh"), str(repo_root / "grammars" / "en"),
                                 "打开客厅的灯", "Set the kitchen lights to 50%", "hello there"])
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines == [
        {"text": "打开客厅的灯", "intent": "HassTurnOn",
             "slots": {"area": "living_room", "device": "light", "domain": "light"}},
        {"text": "Set the kitchen lights to 50%", "intent": "HassLightSet", "slots": {"area": "kitchen", "brightness": 50}},
        {"text": "hello there", "intent": None, "slots": {}},
    ]
    assert "打开" in out  # UTF-8, not \\u escapes


def test_parse_reads_stdin_when_no_text(capsys, monkeypatch, repo_root):
    monkeypatch.setattr(sys, "stdin", io.StringIO("空调调到26度\n静音\n"))
    code, out, _ = _run(capsys, ["parse", "-g", str(repo_root / "grammars" / "zh")])
    assert code == 0
    assert [json.loads(line)["slots"] for line in out.splitlines()] == [{"temperature": 26}, {}]


def test_parse_with_repeated_grammar_flags_and_default_grammar(capsys, tmp_path):
    path = write_grammar(tmp_path, one_intent(["hello world"]))
    code, out, _ = _run(capsys, ["parse", "--grammar", str(path), "--grammar", str(path), "hello world"])
    assert code == 0 and json.loads(out)["intent"] == "Test"
    code, out, _ = _run(capsys, ["parse", "关灯"])  # shipped grammars by default
    assert code == 0 and json.loads(out)["intent"] == "HassTurnOff"


def test_parse_bad_grammar_is_one_error_line(capsys, tmp_path):
    path = write_grammar(tmp_path, one_intent(["turn on {nothing}"]))
    code, out, err = _run(capsys, ["parse", "--grammar", str(path), "turn on"])
    assert code == 1 and out == ""
    assert err.startswith(f"voicecmd: error: {path}:6:22: unknown list {{nothing}}") and err.count("\n") == 1


def test_check_grammar_clean(capsys, repo_root):
    code, out, _ = _run(capsys, ["check-grammar", str(repo_root / "grammars" / "zh"), str(repo_root / "grammars" / "en")])
    assert code == 0
    assert out.startswith("ok: 14 files, 17 intents")


def test_check_grammar_reports_every_problem(capsys, tmp_path):
    path = write_grammar(tmp_path, one_intent(["turn on {nothing}", "turn (on", "go <nowhere>"]))
    code, out, _ = _run(capsys, ["check-grammar", str(path)])
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 3 and all(line.startswith(f"{path}:") for line in lines)
    assert "unclosed '('" in lines[0] and "unknown list" in lines[1] and "unknown rule" in lines[2]


def test_check_grammar_ambiguity_exit_code(capsys, tmp_path):
    path = write_grammar(tmp_path, one_intent(["turn on {a}", "turn on the light"], "a:\n  values: [the light]"))
    code, out, _ = _run(capsys, ["check-grammar", str(path)])
    assert code == 1 and "ambiguous: 'turn on the light'" in out
    code, out, _ = _run(capsys, ["check-grammar", "--no-ambiguity", str(path)])
    assert code == 0


def test_check_grammar_with_model_reports_unspellable_words(capsys, tmp_path, wenet_fixtures):
    model = wenet_fixtures / "u2pp_conformer"
    good = write_grammar(tmp_path, one_intent(["打开客厅的灯", "turn on the kitchen light[s]"], language="zh-cn"), "good.yaml")
    code, out, _ = _run(capsys, ["check-grammar", "--model", str(model), str(good)])
    assert code == 0, out
    bad = write_grammar(tmp_path, one_intent(["打开卧室的台灯", "turn on the garage light"], language="zh-cn"), "bad.yaml")
    code, out, _ = _run(capsys, ["check-grammar", "--model", str(model), str(bad)])
    assert code == 1
    lines = out.splitlines()
    assert lines == [
        f"{bad}:6:14: the model cannot spell '台' with its units; use another word or a model whose units cover it",
        f"{bad}:7:14: the model cannot spell 'garage' with its units; use another word or a model whose units cover it",
    ]


def test_check_grammar_with_bad_model_dir(capsys, tmp_path, repo_root):
    code, _, err = _run(capsys, ["check-grammar", "--model", str(tmp_path), str(repo_root / "grammars" / "en")])
    assert code == 2 and "no units.txt" in err


def test_console_entry_runs_without_traceback(repo_root):
    result = subprocess.run([sys.executable, "-m", "daemon", "check-grammar", str(repo_root / "grammars")],
                            capture_output=True, text=True, cwd=repo_root, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
