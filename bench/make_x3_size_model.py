"""Write a random-weight conformer of the X3 Pi demo's size in WeNet's CPU ONNX form, to measure runtime overhead.

The fixture models are tiny (their inference takes less time than any fbank), so the overhead ratio of
bench/runtime_bench.py is also worth reading on a model the size of WeNet's X3 demo: conv2d8, 12 blocks, width 512,
8 heads, 2048 feed-forward units, 5538 units, chunk 8 / 16 left chunks (82.5 M parameters, ~330 MB, not kept).
Random weights give near-uniform CTC outputs: the worst case for prefix beam search. Needs torch (training/):

    .venv/bin/python bench/make_x3_size_model.py /tmp/x3size
    .venv/bin/python bench/runtime_bench.py --no-fixture-models --model /tmp/x3size
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from training.export import export_cpu  # noqa: E402
from training.model import CommandModel, ModelConfig  # noqa: E402

VOCAB = 5538


def main() -> None:
    """Build, export and write units.txt."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    config = ModelConfig(vocab_size=VOCAB, output_size=512, attention_heads=8, linear_units=2048, num_blocks=12)
    model = CommandModel(config).eval()
    export_cpu(model, args.out, chunk=8, left=16)
    units = ["<blank> 0", "<unk> 1"] + [f"U{i} {i}" for i in range(2, VOCAB - 1)] + [f"<sos/eos> {VOCAB - 1}"]
    (args.out / "units.txt").write_text("\n".join(units) + "\n", encoding="utf-8")
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"{args.out}: {params:.1f} M parameters, chunk 8, 16 left chunks, {VOCAB} units")


if __name__ == "__main__":
    main()
