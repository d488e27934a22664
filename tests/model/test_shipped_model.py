"""The bundled model (models/default): checksums, size, WeNet export conventions, both forms load and agree."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from daemon.audio.wavfile import read_wav_int16
from runtime.recognizer import Recognizer

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "models" / "default"
AUDIO_DIR = Path(__file__).resolve().parent / "audio"
MAX_BYTES = 20 * 1024 * 1024


def _io_signature(path: Path) -> dict:
    model = onnx.load(str(path), load_external_data=False)
    def sig(values):
        return {v.name: (v.type.tensor_type.elem_type, len(v.type.tensor_type.shape.dim)) for v in values}
    return {"inputs": sig(model.graph.input), "outputs": sig(model.graph.output),
            "opset": {o.domain: o.version for o in model.opset_import}, "ir": model.ir_version,
            "meta": {p.key: p.value for p in model.metadata_props},
            "shapes": {v.name: [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]
                       for v in list(model.graph.input) + list(model.graph.output)}}


def test_files_match_recorded_checksums() -> None:
    """Every file listed in SHA256SUMS exists with that hash, and nothing unlisted is shipped."""
    listed = {}
    for line in (MODEL_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name.strip()] = digest
    for name, digest in listed.items():
        assert hashlib.sha256((MODEL_DIR / name).read_bytes()).hexdigest() == digest, name
    shipped = {p.relative_to(MODEL_DIR).as_posix() for p in MODEL_DIR.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert shipped == set(listed)
    assert {"encoder.onnx", "ctc.onnx", "units.txt", "global_cmvn", "train.yaml", "bpe.model",
            "bpu/encoder.onnx", "bpu/ctc.onnx", "bpu/units.txt"} <= shipped


def test_model_is_small_enough_to_ship() -> None:
    """At most 20 MB in all."""
    assert sum(p.stat().st_size for p in MODEL_DIR.rglob("*") if p.is_file()) <= MAX_BYTES


@pytest.mark.parametrize("form", ["", "bpu/"])
def test_export_follows_wenet_conventions(form: str, wenet_fixtures: Path) -> None:
    """Input/output names, dtypes, ranks, opset, IR version and metadata keys as WeNet's own exporters write them."""
    for name in ("encoder.onnx", "ctc.onnx"):
        ours = _io_signature(MODEL_DIR / form / name)
        ref = _io_signature(wenet_fixtures / "bpu_conformer_sub8" / form / name)
        assert ours["inputs"] == ref["inputs"], name
        assert ours["outputs"] == ref["outputs"], name
        assert ours["opset"] == ref["opset"] and ours["ir"] == ref["ir"], name
        assert set(ours["meta"]) == set(ref["meta"]), name
    enc = _io_signature(MODEL_DIR / form / "encoder.onnx")
    meta = enc["meta"]
    units = (MODEL_DIR / "units.txt").read_text(encoding="utf-8").splitlines()
    assert units[0] == "<blank> 0" and units[1] == "<unk> 1" and units[-1].startswith("<sos/eos> ")
    if form == "":
        assert meta["chunk_size"] == "8" and meta["left_chunks"] == "16" and meta["subsampling_rate"] == "8"
        assert int(meta["vocab_size"]) == len(units)
        assert enc["shapes"]["chunk"] == [1, "T", 80]
    else:
        d = int(meta["output_size"])
        shapes = enc["shapes"]
        assert shapes["chunk"] == [1, 1, 71, 80]
        assert shapes["att_cache"][3] == 128 and shapes["att_mask"][2:] == [8, 136]
        assert shapes["output"] == [1, d, 1, 8]
        assert meta["input_shape"] == ";".join("x".join(str(v) for v in shapes[k])
                                               for k in ("chunk", "att_cache", "cnn_cache", "att_mask"))
        assert _io_signature(MODEL_DIR / "bpu" / "ctc.onnx")["shapes"]["probs"] == [1, len(units), 1, 8]


def test_both_forms_give_the_same_log_probs() -> None:
    """The runtime runs the CPU form and the BPU form; their log-probs agree within 1e-3 on real speech."""
    cpu = Recognizer(MODEL_DIR, backend="onnx")
    bpu = Recognizer(MODEL_DIR / "bpu", backend="bpu-onnx")
    assert cpu.info["kind"] != bpu.info["kind"]
    manifest = json.loads((AUDIO_DIR / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest[:3]:
        samples = read_wav_int16(AUDIO_DIR / entry["file"])
        outs = []
        for rec in (cpu, bpu):
            session = rec.create_session()
            session.accept_waveform(samples)
            outs.append(session.finalize().logprobs)
        frames = min(len(outs[0]), len(outs[1]))
        assert frames >= len(samples) / 16000 * 12.5 - 2
        # The BPU form zero-pads its last chunk (as WeNet's BPU runtime does): compare the complete chunks.
        feat_frames = 1 + (len(samples) - 400) // 160
        full = ((feat_frames - 71) // 64 + 1) * 8
        assert np.abs(outs[0][:full] - outs[1][:full]).max() < 1e-3
