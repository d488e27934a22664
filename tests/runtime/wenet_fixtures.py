"""Paths and loaders for the WeNet golden fixtures in ../shared/fixtures/wenet, shared by the runtime tests."""

from __future__ import annotations

import json
import shutil
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "wenet"
WAV_NAMES = ("zh_dakai_keting_de_deng", "en_turn_on_the_kitchen_light", "mix_en_zh_3p5s", "long_concat_12s")
# (model dir relative to FIXTURES, export tag) of every CPU export with references.
CPU_EXPORTS = ("u2pp_conformer", "u2pp_conformer/left_chunks_-1", "transformer_sub8", "bpu_conformer_sub8")


def wav_path(name: str) -> Path:
    """The fixture WAV called ``name``."""
    return FIXTURES / "audio" / f"{name}.wav"


@lru_cache(maxsize=None)
def wav_samples(name: str) -> np.ndarray:
    """The int16 samples of a fixture WAV."""
    with wave.open(str(wav_path(name)), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def ref(export: str, wav: str, file: str) -> np.ndarray:
    """A reference array of ``export`` (a directory under FIXTURES) for one WAV."""
    return np.load(FIXTURES / export / "ref" / wav / file)


def greedy_info(export: str, wav: str) -> dict:
    """The export's greedy_ids.json for one WAV."""
    return json.loads((FIXTURES / export / "ref" / wav / "greedy_ids.json").read_text())


def complete_model_dir(export: str, dest: Path) -> Path:
    """Copy an export into ``dest`` with units.txt added (left_chunks_-1 and bpu/ ship without it)."""
    src = FIXTURES / export
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("encoder.onnx", "ctc.onnx"):
        shutil.copy(src / name, dest / name)
    units = src / "units.txt"
    if not units.exists():
        units = FIXTURES / "u2pp_conformer" / "units.txt"
    shutil.copy(units, dest / "units.txt")
    return dest


def model_dir(export: str, tmp_root: Path) -> Path:
    """A usable model directory for ``export``: the fixture itself if complete, else a completed copy."""
    src = FIXTURES / export
    if (src / "units.txt").exists():
        return src
    return complete_model_dir(export, tmp_root / export.replace("/", "_"))
