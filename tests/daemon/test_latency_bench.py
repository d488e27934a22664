"""The latency bench (``voicecmd bench latency``, issue 12): microphone-like delivery, the last phoneme from the TTS
waveform, outcomes counted apart from latency samples, and a smoke run of the real daemon on four commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bench import latency_bench, latency_commands
from bench.latency_bench import PacedWriter, Received, outcome_of, summarize
from daemon.commands.bench import missing_programs

ROOT = Path(__file__).resolve().parents[2]
SR = 16000


def tone(seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.int16)


def test_last_phoneme_is_the_end_of_the_last_frame_within_40_db_of_the_loudest():
    speech = np.concatenate([tone(0.5), tone(0.2, 8000 / 50), tone(0.3, 8000 / 200), np.zeros(SR // 2, np.int16)])
    # -34 dB still counts as speech, -46 dB and digital silence are the trailing silence
    assert latency_commands.last_phoneme_end_s(speech) == pytest.approx(0.7, abs=0.011)
    assert latency_commands.last_phoneme_end_s(tone(0.333)) == pytest.approx(0.333, abs=1e-3)  # speech to the end


class _Sink:
    """A stand-in for the daemon's stdin recording when each block arrives."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:
        self.arrivals.append((time.monotonic(), data))

    def flush(self) -> None:
        pass


class _Proc:
    def __init__(self) -> None:
        self.stdin = _Sink()


def test_blocks_arrive_only_after_their_last_sample_has_sounded():
    proc = _Proc()
    writer = PacedWriter(proc)  # type: ignore[arg-type]
    writer.start()
    speech = tone(0.1)
    first = writer.say(speech, lead_s=0.06)
    time.sleep(0.35)
    writer.stop()
    blocks = proc.stdin.arrivals
    assert all(len(data) == 2 * latency_bench.BLOCK for _, data in blocks)
    for k, (t, _) in enumerate(blocks):  # block k holds samples [480k, 480k+480)
        assert t >= writer.time_of(latency_bench.BLOCK * (k + 1)) - 1e-4
    stream = np.frombuffer(b"".join(data for _, data in blocks), dtype="<i2")
    assert first % latency_bench.BLOCK == 0 and first >= 0.06 * SR
    assert np.array_equal(stream[first:first + len(speech)], speech) and not stream[:first].any()
    assert len(writer.speech_lateness_s) == 4  # 100 ms of speech = 3 1/3 blocks, the last padded with silence


def test_outcomes_are_classified_from_the_first_native_reply():
    slots = {"area": "kitchen", "brightness": 40}

    def reply(kind: str, **payload) -> Received:
        return Received(0.0, kind, payload)

    assert outcome_of(reply("intent", intent="HassLightSet", slots=dict(slots)), "HassLightSet", slots) == "correct"
    assert outcome_of(reply("intent", intent="HassLightSet", slots={"area": "kitchen", "brightness": 50}),
                      "HassLightSet", slots) == "wrong_slots"
    assert outcome_of(reply("intent", intent="HassTurnOn", slots={}), "HassLightSet", slots) == "wrong_intent"
    assert outcome_of(reply("not_recognized", reason="margin -2.9 is below the threshold -1.5"),
                      "HassLightSet", slots) == "rejected"
    assert outcome_of(reply("not_recognized", reason="no grammar sentence fits the audio"),
                      "HassLightSet", slots) == "not_recognized"
    assert outcome_of(None, "HassLightSet", slots) == "no_event"


def test_only_correct_intents_are_latency_samples():
    records = [{"outcome": o, "latency_ms": ms, "hermes_latency_ms": ms, "extra_events": 0}
               for o, ms in [("correct", 520.0), ("correct", 540.0), ("rejected", 900.0), ("wrong_intent", -10.0),
                             ("no_event", None)]]
    s = summarize(records)
    assert s["commands"] == 5 and sum(s["counts"].values()) == 5 and s["counts"]["correct"] == 2
    assert s["latency_ms"]["n"] == 2 and s["latency_ms"]["max"] == 540.0 and s["latency_ms"]["p50"] == 530.0
    assert s["replies_before_last_phoneme"] == 1  # the wrong intent came while the command was still being spoken


def test_corpus_commands_are_the_rows_the_shipped_grammars_parse(tmp_path):
    from daemon.grammar import load_grammar
    from daemon.paths import default_grammar_dir
    from tests.daemon.speech import write_wav

    (tmp_path / "clean").mkdir()
    rows = [("en-1", "in", "turn on the kitchen light", "HassTurnOn"),
            ("en-2", "oog", "what is the weather like today", ""),
            ("en-3", "in", "this sentence is in no grammar", "HassTurnOn"),
            ("en-4", "in", "set the kitchen light to forty percent", "HassLightSet")]
    lines = ["uid\tsid\tlang\tsplit\tkind\tengine\tvoice\tparams\ttext\tintent\tslots"]
    for uid, kind, text, intent in rows:
        lines.append(f"{uid}\t{uid}\ten\ttest\t{kind}\tflite\tslt\t{{}}\t{text}\t{intent}\t{{}}")
        write_wav(tmp_path / "clean" / f"{uid}.wav", np.concatenate([tone(0.4), np.zeros(1600, np.int16)]))
    (tmp_path / "clean-en.tsv").write_text("\n".join(lines) + "\n")
    commands = latency_commands.corpus_commands(tmp_path, "en", 5, load_grammar([default_grammar_dir()]))
    assert [c.uid for c in commands] == ["en-1", "en-4"]
    assert commands[1].slots == {"area": "kitchen", "brightness": 40} and commands[1].voice == "flite:slt"
    assert commands[0].last_phoneme_s == pytest.approx(0.4, abs=0.011)


@pytest.mark.slow
def test_smoke_run_of_the_real_daemon_on_four_commands(tmp_path):
    """English and Mandarin, early commit off, commands synthesised (as in CI, where no corpus is built)."""
    missing = missing_programs("mosquitto", "sox", "flite", "espeak-ng")
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    if not (ROOT / "models" / "whisper-base" / "whisper.json").exists():
        pytest.skip("needs the bundled Whisper base model")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("webrtcvad")
    out = tmp_path / "latency.json"
    proc = subprocess.run(
        [sys.executable, "bench/latency_bench.py", "latency", "--commands", "4", "--early-commit", "off",
         "--warmup-commands", "0", "--corpus", "", "--gap-s", "0.5", "--model", "models/whisper-base",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "last phoneme: TTS waveform energy" in proc.stdout and "early commit" in proc.stdout
    result = json.loads(out.read_text())
    assert result["settings"] == ["off"] and result["commands"]["per_language"] == {"en": 2, "zh": 2}
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    expected = head.stdout.strip() if head.returncode == 0 else ""
    assert (result["commit"] or "").split("+")[0] == expected  # which code the figures belong to
    groups = result["results"]["off"]
    for group, n in (("overall", 4), ("en", 2), ("zh", 2)):
        assert groups[group]["commands"] == n and sum(groups[group]["counts"].values()) == n
        assert set(groups[group]["counts"]) == set(latency_bench.OUTCOMES)
    records = result["records"]
    assert len(records) == 4 and all(r["early_commit"] == "off" for r in records)
    replies = [r for r in records if r["outcome"] != "no_event"]
    assert replies, records
    for r in replies:  # without early commit nothing can come before the trailing silence has (nearly) passed
        assert 0.5 * result["trailing_silence_ms"] < r["latency_ms"] < result["trailing_silence_ms"] + 3000, r
        assert 0 < r["last_phoneme_s"] <= r["duration_s"]
    overall = groups["overall"]
    assert overall["counts"]["correct"] >= 1, records  # the English flite commands are recognised
    lat = overall["latency_ms"]
    assert lat["n"] == overall["counts"]["correct"] and 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert result["delivery"]["lateness_ms_max"] >= 0
