"""``voicecmd transcribe`` as a subprocess: JSON lines, log-prob dumps, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from tests.runtime.conftest import FAKE_PYEASY_DNN
from tests.runtime.wenet_fixtures import FIXTURES, WAV_NAMES, greedy_info, ref, wav_path, wav_samples

REPO = Path(__file__).resolve().parents[2]


def _transcribe(*args: str, extra_path: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "daemon", "transcribe", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voicecmd: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_json_lines_and_logprob_dumps(tmp_path: Path, model_dirs: dict[str, Path]) -> None:
    export = "u2pp_conformer/left_chunks_-1"
    wavs = [str(wav_path(w)) for w in WAV_NAMES]
    proc = _transcribe("--model", str(model_dirs[export]), "--json", "--dump-logprobs", str(tmp_path / "out"), *wavs)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in records] == wavs
    for wav, record in zip(WAV_NAMES, records):
        dumped = np.load(tmp_path / "out" / f"{wav}.npy")
        expected = ref(export, wav, "ctc_logprobs_chunked_cppfeed.npy")
        assert dumped.dtype == np.float32 and dumped.shape == expected.shape
        assert np.abs(dumped - expected).max() < 1e-3
        info = greedy_info(export, wav)
        if info["min_top1_top2_margin"]["chunked_cppfeed"] > 1e-3:
            assert record["token_ids"] == info["chunked_cppfeed"]["ids"]
        assert isinstance(record["text"], str)


def test_bpu_backend_through_fake_board_module(tmp_path: Path, bin_model_dir: Path) -> None:
    proc = _transcribe("--model", str(bin_model_dir), "--backend", "bpu", "--json", "--dump-logprobs", str(tmp_path),
                       str(wav_path("en_turn_on_the_kitchen_light")), extra_path=str(FAKE_PYEASY_DNN))
    assert proc.returncode == 0, proc.stderr
    dumped = np.load(tmp_path / "en_turn_on_the_kitchen_light.npy")
    expected = ref("bpu_conformer_sub8", "en_turn_on_the_kitchen_light", "ctc_logprobs_chunked_cppfeed.npy")
    assert np.abs(dumped - expected).max() < 1e-3


def _write_wav(path: Path, samples: np.ndarray, rate: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def test_other_sample_rates_and_channels_are_converted(tmp_path: Path, model_dirs: dict[str, Path]) -> None:
    """8 kHz and stereo files are resampled and mixed down (issue 12: what users have), not refused."""
    model = str(model_dirs["transformer_sub8"])
    samples = wav_samples("en_turn_on_the_kitchen_light")
    slow = _write_wav(tmp_path / "8k.wav", samples[::2], 8000, 1)
    stereo = _write_wav(tmp_path / "stereo.wav", np.repeat(samples, 2), 16000, 2)
    proc = _transcribe("--model", model, str(slow), str(stereo))
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == [str(slow), str(stereo)]


def test_bad_model_directories(tmp_path: Path) -> None:
    wav = str(wav_path("en_turn_on_the_kitchen_light"))
    model = tmp_path / "model"
    model.mkdir()
    for name in ("encoder.onnx", "ctc.onnx"):
        shutil.copy(FIXTURES / "transformer_sub8" / name, model / name)
    _assert_one_line_error(_transcribe("--model", str(model), wav), "units.txt is missing")
    units = (FIXTURES / "transformer_sub8" / "units.txt").read_text(encoding="utf-8").splitlines()
    (model / "units.txt").write_text("\n".join(units[:30]) + "\n", encoding="utf-8")
    _assert_one_line_error(_transcribe("--model", str(model), wav), "30 units", "40 classes")
    (model / "units.txt").write_text("\n".join(units) + "\n", encoding="utf-8")
    data = (model / "encoder.onnx").read_bytes()
    (model / "encoder.onnx").write_bytes(data[:1000])
    _assert_one_line_error(_transcribe("--model", str(model), wav), "encoder.onnx", "truncated or corrupt")
    _assert_one_line_error(_transcribe("--model", str(tmp_path / "absent"), wav), "does not exist")
