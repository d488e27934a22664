"""Export a trained checkpoint the way WeNet's exporters do: CPU ONNX (export_onnx_cpu.py) and BPU 4-D ONNX
(export_onnx_bpu.py), plus units.txt, bpe.model, global_cmvn, train.yaml and SHA256SUMS; then self-check both forms."""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from training.model import RIGHT_CONTEXT, SUBSAMPLING, CommandModel, ModelConfig  # noqa: E402

_LOGGER = logging.getLogger("training.export")


def decoding_window(chunk: int) -> int:
    """Feature frames one chunk needs: (c - 1) * s + r + 1."""
    return (chunk - 1) * SUBSAMPLING + RIGHT_CONTEXT + 1


# ---- BPU form: every activation (B, T, C) becomes (B, C, 1, T) ---------------------------------------------------


def _conv1x1(linear: nn.Linear) -> nn.Conv2d:
    conv = nn.Conv2d(linear.in_features, linear.out_features, 1, bias=linear.bias is not None)
    conv.weight.data = linear.weight.data.view(linear.out_features, linear.in_features, 1, 1).clone()
    if linear.bias is not None:
        conv.bias.data = linear.bias.data.clone()
    return conv


def _conv1d_to_2d(conv1d: nn.Conv1d) -> nn.Conv2d:
    out_ch, in_ch, k = conv1d.weight.shape
    conv = nn.Conv2d(conv1d.in_channels, out_ch, (1, k), groups=conv1d.groups, bias=conv1d.bias is not None)
    conv.weight.data = conv1d.weight.data.view(out_ch, in_ch, 1, k).clone()
    if conv1d.bias is not None:
        conv.bias.data = conv1d.bias.data.clone()
    return conv


class BPULayerNorm(nn.Module):
    """LayerNorm over channels of a (1, C, 1, T) tensor."""

    def __init__(self, ln: nn.LayerNorm) -> None:
        super().__init__()
        c = ln.weight.numel()
        self.eps = ln.eps
        self.register_buffer("weight", ln.weight.data.view(1, c, 1, 1).clone())
        self.register_buffer("bias", ln.bias.data.view(1, c, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise over dim 1."""
        mean = x.mean(dim=1, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dim=1, keepdim=True)
        return centered / torch.sqrt(var + self.eps) * self.weight + self.bias


class BPUFeedForward(nn.Module):
    """1x1 conv, ReLU, 1x1 conv."""

    def __init__(self, ff) -> None:
        super().__init__()
        self.w_1 = _conv1x1(ff.w_1)
        self.w_2 = _conv1x1(ff.w_2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(1, D, 1, T) -> (1, D, 1, T)."""
        return self.w_2(F.relu(self.w_1(x)))


class BPUBlock(nn.Module):
    """A conformer block on (1, D, 1, T) with NCHW caches."""

    def __init__(self, block, heads: int, chunk: int) -> None:
        super().__init__()
        att = block.self_attn
        self.h, self.d_k, self.chunk = heads, att.d_k, chunk
        self.dim = heads * att.d_k
        self.linear_q, self.linear_k = _conv1x1(att.linear_q), _conv1x1(att.linear_k)
        self.linear_v, self.linear_out = _conv1x1(att.linear_v), _conv1x1(att.linear_out)
        conv = block.conv_module
        self.lorder = conv.lorder
        self.pointwise_conv1 = _conv1d_to_2d(conv.pointwise_conv1)
        self.depthwise_conv = _conv1d_to_2d(conv.depthwise_conv)
        self.norm = nn.BatchNorm2d(self.dim, eps=conv.norm.eps)
        self.norm.load_state_dict(conv.norm.state_dict())
        self.pointwise_conv2 = _conv1d_to_2d(conv.pointwise_conv2)
        self.ff_macaron, self.ff = BPUFeedForward(block.feed_forward_macaron), BPUFeedForward(block.feed_forward)
        self.norm_ff_macaron, self.norm_mha = BPULayerNorm(block.norm_ff_macaron), BPULayerNorm(block.norm_mha)
        self.norm_conv, self.norm_ff = BPULayerNorm(block.norm_conv), BPULayerNorm(block.norm_ff)
        self.norm_final = BPULayerNorm(block.norm_final)
        self.register_buffer("ff_scale", torch.full((1, self.dim, 1, 1), 0.5))

    def attention(self, x, mask, cache):
        """Self-attention; cache (1, H, 2*d_k, cache_t) -> (out, new cache without the oldest chunk)."""
        t = x.size(3)
        q = self.linear_q(x).view(1, self.h, self.d_k, t)
        k = self.linear_k(x).view(1, self.h, self.d_k, t)
        v = self.linear_v(x).view(1, self.h, self.d_k, t)
        k_cache, v_cache = torch.split(cache, self.d_k, dim=2)
        k = torch.cat([k_cache, k], dim=3)
        v = torch.cat([v_cache, v], dim=3)
        new_cache = torch.cat([k, v], dim=2)[:, :, :, self.chunk:]
        scores = torch.matmul(q.transpose(2, 3), k) * (1.0 / math.sqrt(self.d_k))
        blocked = mask.eq(0)
        scores = scores.masked_fill(blocked, -1e9)
        attn = torch.softmax(scores, dim=-1).masked_fill(blocked, 0.0)
        out = torch.matmul(attn, v.transpose(2, 3)).transpose(2, 3).reshape(1, self.dim, 1, t)
        return self.linear_out(out), new_cache

    def conv_module(self, x, cache):
        """Causal conv module; cache (1, D, 1, lorder)."""
        x = torch.cat([cache, x], dim=3)
        new_cache = x[:, :, :, -self.lorder:]
        x = self.pointwise_conv1(x)
        x = x[:, : self.dim] * torch.sigmoid(x[:, self.dim:])
        x = F.relu(self.norm(self.depthwise_conv(x)))
        return self.pointwise_conv2(x), new_cache

    def forward(self, x, mask, att_cache, cnn_cache):
        """One block step."""
        x = x + self.ff_scale * self.ff_macaron(self.norm_ff_macaron(x))
        att, new_att = self.attention(self.norm_mha(x), mask, att_cache)
        x = x + att
        conv, new_cnn = self.conv_module(self.norm_conv(x), cnn_cache)
        x = x + conv
        x = x + self.ff_scale * self.ff(self.norm_ff(x))
        return self.norm_final(x), new_att, new_cnn


class BPUEncoder(nn.Module):
    """Static 4-D encoder: chunk (1,1,W,F), att_cache (1,N*H,2*d_k,c*L), cnn_cache (1,D,N,k-1), att_mask (1,H,c,c*L+c)."""

    def __init__(self, model: CommandModel, chunk: int) -> None:
        super().__init__()
        model = copy.deepcopy(model).eval()
        cfg = model.cfg
        self.heads = cfg.attention_heads
        f = cfg.input_dim
        self.register_buffer("mean", model.global_cmvn.mean.view(1, 1, 1, f).clone())
        self.register_buffer("istd", model.global_cmvn.istd.view(1, 1, 1, f).clone())
        self.conv = model.embed.conv
        d, freq = cfg.output_size, model.embed.freq
        weight = model.embed.out.weight.data.view(d, d, freq)  # (out, channel, freq)
        # XJ3 limits kernels to 7: the projection over (channel x freq) becomes convs of at most 7 frequency rows.
        self.pieces = nn.ModuleList()
        self.piece_rows: list[tuple[int, int]] = []
        for start in range(0, freq, 7):
            stop = min(freq, start + 7)
            conv = nn.Conv2d(d, d, (stop - start, 1), bias=start == 0)
            conv.weight.data = weight[:, :, start:stop].unsqueeze(-1).clone()
            if start == 0:
                conv.bias.data = model.embed.out.bias.data.clone()
            self.pieces.append(conv)
            self.piece_rows.append((start, stop))
        self.blocks = nn.ModuleList(BPUBlock(b, cfg.attention_heads, chunk) for b in model.encoders)
        self.after_norm = BPULayerNorm(model.after_norm)

    def forward(self, chunk, att_cache, cnn_cache, att_mask):
        """One static chunk step -> (output (1,D,1,c), r_att_cache, r_cnn_cache)."""
        x = self.conv((chunk - self.mean) * self.istd)  # (1, D, T', freq)
        x = x.transpose(2, 3)  # (1, D, freq, T')
        out = None
        for conv, (start, stop) in zip(self.pieces, self.piece_rows):
            y = conv(x[:, :, start:stop, :])
            out = y if out is None else out + y
        x = out
        r_att, r_cnn = [], []
        for n, block in enumerate(self.blocks):
            x, new_att, new_cnn = block(x, att_mask, att_cache[:, n * self.heads:(n + 1) * self.heads],
                                        cnn_cache[:, :, n:n + 1, :])
            r_att.append(new_att)
            r_cnn.append(new_cnn)
        return self.after_norm(x), torch.cat(r_att, dim=1), torch.cat(r_cnn, dim=2)


class BPUCTC(nn.Module):
    """CTC projection as a 1x1 conv: (1, D, 1, c) -> raw logits (1, V, 1, c); no log_softmax (WeNet's BPU form)."""

    def __init__(self, model: CommandModel) -> None:
        super().__init__()
        self.ctc_lo = _conv1x1(model.ctc_lo)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits."""
        return self.ctc_lo(hidden)


# ---- CPU form ----------------------------------------------------------------------------------------------------


class CPUEncoder(nn.Module):
    """export_onnx_cpu.py's encoder wrapper: forward_chunk with required_cache_size and att_mask inputs."""

    def __init__(self, model: CommandModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, chunk, required_cache_size, att_cache, cnn_cache, att_mask):
        """Streaming step."""
        return self.model.forward_chunk(chunk, required_cache_size, att_cache, cnn_cache, att_mask)


class CPUCTC(nn.Module):
    """CTC head with log_softmax (what export_onnx_cpu.py writes)."""

    def __init__(self, model: CommandModel) -> None:
        super().__init__()
        self.ctc_lo = model.ctc_lo

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Log-probs."""
        return F.log_softmax(self.ctc_lo(hidden), dim=-1)


def _set_metadata(path: Path, meta: dict) -> None:
    import onnx  # noqa: PLC0415

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, str(value)
    onnx.save(model, str(path))


def export_cpu(model: CommandModel, out_dir: Path, chunk: int, left: int) -> None:
    """encoder.onnx and ctc.onnx, opset 13, dynamic time axes, metadata as export_onnx_cpu.py writes it."""
    cfg = model.cfg
    n, h, d, k = cfg.num_blocks, cfg.attention_heads, cfg.output_size, cfg.cnn_module_kernel
    window = decoding_window(chunk)
    cache_t = chunk * left
    inputs = (torch.randn(1, window, cfg.input_dim), torch.tensor(cache_t, dtype=torch.int64),
              torch.zeros(n, h, cache_t, 2 * (d // h)), torch.zeros(n, 1, d, k - 1),
              torch.ones(1, 1, cache_t + chunk, dtype=torch.bool))
    torch.onnx.export(CPUEncoder(model).eval(), inputs, str(out_dir / "encoder.onnx"), opset_version=13,
                      input_names=["chunk", "required_cache_size", "att_cache", "cnn_cache", "att_mask"],
                      output_names=["output", "r_att_cache", "r_cnn_cache"],
                      dynamic_axes={"chunk": {1: "T"}, "att_cache": {2: "T_CACHE"}, "att_mask": {2: "T_ADD_T_CACHE"},
                                    "output": {1: "T"}, "r_att_cache": {2: "T_CACHE"}},
                      do_constant_folding=True, dynamo=False)
    torch.onnx.export(CPUCTC(model).eval(), (torch.randn(1, chunk, d),), str(out_dir / "ctc.onnx"), opset_version=13,
                      input_names=["hidden"], output_names=["probs"],
                      dynamic_axes={"hidden": {1: "T"}, "probs": {1: "T"}}, do_constant_folding=True, dynamo=False)
    meta = {"output_dir": out_dir.name, "batch": 1, "chunk_size": chunk, "left_chunks": left, "reverse_weight": 0.0,
            "output_size": d, "num_blocks": n, "cnn_module_kernel": k, "head": h, "feature_size": cfg.input_dim,
            "vocab_size": cfg.vocab_size, "decoding_window": window, "encoder": "conformer", "decoder": "none",
            "subsampling_rate": SUBSAMPLING, "right_context": RIGHT_CONTEXT, "sos_symbol": cfg.vocab_size - 1,
            "eos_symbol": cfg.vocab_size - 1, "is_bidirectional_decoder": 0}
    for name in ("encoder.onnx", "ctc.onnx"):
        _set_metadata(out_dir / name, meta)


def export_bpu(model: CommandModel, out_dir: Path, chunk: int, left: int, checkpoint: str) -> None:
    """bpu/encoder.onnx and bpu/ctc.onnx: static NCHW graphs at opset 11 with hb_mapper hints in the metadata."""
    cfg = model.cfg
    n, h, d, k = cfg.num_blocks, cfg.attention_heads, cfg.output_size, cfg.cnn_module_kernel
    window, cache_t, dk2 = decoding_window(chunk), chunk * left, 2 * (d // h)
    out_dir.mkdir(parents=True, exist_ok=True)
    shapes = [(1, 1, window, cfg.input_dim), (1, n * h, dk2, cache_t), (1, d, n, k - 1), (1, h, chunk, cache_t + chunk)]
    inputs = tuple(torch.zeros(s) for s in shapes[:3]) + (torch.ones(shapes[3]),)
    torch.onnx.export(BPUEncoder(model, chunk).eval(), inputs, str(out_dir / "encoder.onnx"), opset_version=11,
                      input_names=["chunk", "att_cache", "cnn_cache", "att_mask"],
                      output_names=["output", "r_att_cache", "r_cnn_cache"], do_constant_folding=True, dynamo=False)
    torch.onnx.export(BPUCTC(model).eval(), (torch.zeros(1, d, 1, chunk),), str(out_dir / "ctc.onnx"), opset_version=11,
                      input_names=["hidden"], output_names=["probs"], do_constant_folding=True, dynamo=False)
    common = {"config": "train.yaml", "checkpoint": checkpoint, "output_dir": out_dir.name, "chunk_size": chunk,
              "num_decoding_left_chunks": left, "reverse_weight": 0.0, "ln_run_on_bpu": False,
              "feature_size": cfg.input_dim, "output_size": d, "decoding_window": window}
    shape_str = ";".join("x".join(str(v) for v in s) for s in shapes)
    _set_metadata(out_dir / "encoder.onnx", {
        **common, "input_name": "chunk;att_cache;cnn_cache;att_mask", "output_name": "output;r_att_cache;r_cnn_cache",
        "input_type": ";".join(["featuremap"] * 4), "norm_type": ";".join(["no_preprocess"] * 4),
        "input_layout_train": ";".join(["NCHW"] * 4), "input_layout_rt": ";".join(["NCHW"] * 4),
        "input_shape": shape_str})
    _set_metadata(out_dir / "ctc.onnx", {
        **common, "input_name": "hidden", "input_type": "featuremap", "norm_type": "no_preprocess",
        "input_layout_train": "NCHW", "input_layout_rt": "NCHW", "input_shape": f"1x{d}x1x{chunk}"})


def train_yaml(cfg: ModelConfig, chunk: int, left: int) -> str:
    """WeNet-style train.yaml describing this model (the keys init_model() and the exporters read)."""
    return f"""# voicecmd command model (training/), WeNet-compatible description; CTC only, no attention decoder.
input_dim: {cfg.input_dim}
output_dim: {cfg.vocab_size}
vocab_size: {cfg.vocab_size}
encoder: conformer
encoder_conf:
  output_size: {cfg.output_size}
  attention_heads: {cfg.attention_heads}
  linear_units: {cfg.linear_units}
  num_blocks: {cfg.num_blocks}
  dropout_rate: {cfg.dropout_rate}
  positional_dropout_rate: {cfg.dropout_rate}
  attention_dropout_rate: {cfg.dropout_rate}
  input_layer: conv2d8
  normalize_before: true
  cnn_module_kernel: {cfg.cnn_module_kernel}
  use_cnn_module: true
  activation_type: relu
  pos_enc_layer_type: no_pos
  selfattention_layer_type: selfattn
  causal: true
  use_dynamic_chunk: true
  cnn_module_norm: batch_norm
  use_dynamic_left_chunk: true
decoder: none
tokenizer: bpe
tokenizer_conf:
  symbol_table_path: units.txt
  split_with_space: false
  bpe_path: bpe.model
  non_lang_syms_path: null
  is_multilingual: false
  num_languages: 1
  special_tokens:
    <blank>: 0
    <unk>: 1
    <sos>: {cfg.vocab_size - 1}
    <eos>: {cfg.vocab_size - 1}
ctc: ctc
ctc_conf:
  ctc_blank_id: 0
cmvn: global_cmvn
cmvn_conf:
  cmvn_file: global_cmvn
  is_json_cmvn: true
model: asr_model
model_conf:
  ctc_weight: 1.0
dataset_conf:
  fbank_conf:
    num_mel_bins: 80
    frame_shift: 10
    frame_length: 25
    dither: 0.0
decoding:
  chunk_size: {chunk}
  num_decoding_left_chunks: {left}
"""


def load_model(checkpoints: list[Path]) -> CommandModel:
    """Model from one checkpoint, or the parameter average of several (same architecture)."""
    states = [torch.load(p, map_location="cpu", weights_only=False) for p in checkpoints]
    model = CommandModel(ModelConfig(**states[0]["config"]))
    avg = {}
    for key, value in states[0]["model"].items():
        if value.is_floating_point():
            avg[key] = sum(s["model"][key] for s in states) / len(states)
        else:
            avg[key] = value
    model.load_state_dict(avg)
    return model.eval()


def cppfeed_logprobs(encoder_path: Path, ctc_path: Path, feats: np.ndarray, chunk: int, left: int) -> np.ndarray:
    """CTC log-probs from the CPU ONNX files fed the way WeNet's runtime/core does (for self-checks)."""
    import onnxruntime as ort  # noqa: PLC0415

    enc = ort.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    ctc = ort.InferenceSession(str(ctc_path), providers=["CPUExecutionProvider"])
    names = {i.name for i in enc.get_inputs()}
    meta = enc.get_modelmeta().custom_metadata_map
    n, h, d, k = (int(meta[x]) for x in ("num_blocks", "head", "output_size", "cnn_module_kernel"))
    att = np.zeros((n, h, chunk * left, 2 * (d // h)), np.float32)
    cnn = np.zeros((n, 1, d, k - 1), np.float32)
    window, stride = decoding_window(chunk), chunk * SUBSAMPLING
    out, start, idx = [], 0, 0
    while start + RIGHT_CONTEXT + 1 <= len(feats):
        piece = feats[start:start + window]
        mask = np.ones((1, 1, chunk * left + chunk), bool)
        if idx < left:
            mask[:, :, : (left - idx) * chunk] = False
        feed = {"chunk": piece[None].astype(np.float32), "att_cache": att, "cnn_cache": cnn, "att_mask": mask,
                "required_cache_size": np.array(chunk * left, np.int64)}
        o, att, cnn = enc.run(None, {k_: v for k_, v in feed.items() if k_ in names})
        out.append(ctc.run(None, {"hidden": o})[0][0])
        start += stride
        idx += 1
    return np.concatenate(out)


def bpu_logprobs(encoder_path: Path, ctc_path: Path, feats: np.ndarray, chunk: int, left: int) -> np.ndarray:
    """Log-probs from the BPU-form ONNX files fed the way runtime/horizonbpu does (zero-padded last chunk)."""
    import onnxruntime as ort  # noqa: PLC0415

    enc = ort.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    ctc = ort.InferenceSession(str(ctc_path), providers=["CPUExecutionProvider"])
    shapes = {i.name: i.shape for i in enc.get_inputs()}
    att = np.zeros(shapes["att_cache"], np.float32)
    cnn = np.zeros(shapes["cnn_cache"], np.float32)
    mask = np.zeros(shapes["att_mask"], np.float32)
    window, stride = decoding_window(chunk), chunk * SUBSAMPLING
    total = chunk * (left + 1)
    out, start, chunk_id = [], 0, 0
    while start + RIGHT_CONTEXT + 1 <= len(feats):
        piece = np.zeros(shapes["chunk"], np.float32)
        real = feats[start:start + window]
        piece[0, 0, : len(real)] = real
        chunk_id += 1
        valid = chunk_id * chunk
        if valid <= total:
            mask[:] = 1.0
            mask[:, :, :, : total - valid] = 0.0
        o, att, cnn = enc.run(None, {"chunk": piece, "att_cache": att, "cnn_cache": cnn, "att_mask": mask})
        logits = ctc.run(None, {"hidden": o})[0][0, :, 0, :].T
        out.append(logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True))
                   - logits.max(1, keepdims=True))
        start += stride
    return np.concatenate(out)


def self_check(model: CommandModel, out_dir: Path, feats: np.ndarray, chunk: int, left: int) -> dict:
    """Compare torch (chunk-masked whole utterance), CPU ONNX and BPU ONNX log-probs on one utterance."""
    with torch.no_grad():
        ref, _ = model(torch.from_numpy(feats)[None], torch.tensor([len(feats)]), chunk, left)
    ref = ref[0].numpy()
    cpu = cppfeed_logprobs(out_dir / "encoder.onnx", out_dir / "ctc.onnx", feats, chunk, left)
    bpu = bpu_logprobs(out_dir / "bpu" / "encoder.onnx", out_dir / "bpu" / "ctc.onnx", feats, chunk, left)
    full = (len(ref) // chunk) * chunk  # the BPU's zero-padded last chunk is not masked, so compare full chunks
    return {"frames": len(ref), "torch_vs_cpu": float(np.abs(ref - cpu[: len(ref)]).max()),
            "cpu_vs_bpu_full_chunks": float(np.abs(cpu[:full] - bpu[:full]).max())}


def export(checkpoints: list[Path], lang_dir: Path, cmvn: Path, out_dir: Path, chunk: int, left: int,
           check_feats: np.ndarray | None = None) -> dict:
    """Write the complete model directory; returns the self-check figures."""
    model = load_model(checkpoints)
    out_dir.mkdir(parents=True, exist_ok=True)
    export_cpu(model, out_dir, chunk, left)
    export_bpu(model, out_dir / "bpu", chunk, left, checkpoints[-1].name)
    model.eval()  # the exporter restores the wrappers' default training mode onto the model
    # bpu/ is a complete model directory of its own (the runtime opens it with --backend bpu-onnx).
    for target in (out_dir, out_dir / "bpu"):
        shutil.copyfile(lang_dir / "units.txt", target / "units.txt")
        shutil.copyfile(lang_dir / "bpe.model", target / "bpe.model")
    stats = json.loads(cmvn.read_text())
    (out_dir / "global_cmvn").write_text(json.dumps(stats) + "\n")
    (out_dir / "train.yaml").write_text(train_yaml(model.cfg, chunk, left))
    report = self_check(model, out_dir, check_feats, chunk, left) if check_feats is not None else {}
    write_checksums(out_dir)
    return report


def write_checksums(out_dir: Path) -> None:
    """SHA256SUMS over every file of the model directory (sha256sum -c format)."""
    lines = []
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(out_dir).as_posix()}")
    (out_dir / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    p.add_argument("--checkpoint", type=Path, nargs="+", help="one checkpoint, or several to average")
    p.add_argument("--average", type=int, default=0, help="average the last N epoch checkpoints of <corpus>/exp")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "default")
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--left", type=int, default=16)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    checkpoints = args.checkpoint
    if args.average:
        checkpoints = sorted((args.corpus / "exp").glob("epoch*.pt"))[-args.average:]
    if not checkpoints:
        p.error("no checkpoint given")
    dev = np.load(args.corpus / "feats" / "dev.npz")
    feats = dev["feats"][: int(dev["lengths"][0])].astype(np.float32)
    report = export(checkpoints, args.corpus / "lang", args.corpus / "global_cmvn", args.out, args.chunk, args.left,
                    feats)
    print(json.dumps({"checkpoints": [c.name for c in checkpoints], **report}, indent=1))


if __name__ == "__main__":
    main()
