"""The command model: a small causal conformer (WeNet's BPU-exportable layout) with a CTC head, in PyTorch."""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

_LOGGER = logging.getLogger(__name__)

SUBSAMPLING = 8
RIGHT_CONTEXT = 14
NEG_INF = -1e9  # finite, so a fully masked padding row cannot turn into NaN during training


@dataclass(frozen=True)
class ModelConfig:
    """Architecture hyper-parameters (the subset of WeNet's encoder_conf this model varies)."""

    input_dim: int = 80
    vocab_size: int = 100
    output_size: int = 144
    attention_heads: int = 4
    linear_units: int = 576
    num_blocks: int = 6
    cnn_module_kernel: int = 7
    dropout_rate: float = 0.1

    def to_dict(self) -> dict:
        """Plain dict (stored in checkpoints)."""
        return asdict(self)


def subsampled_length(frames: torch.Tensor | int) -> torch.Tensor | int:
    """Frames after three 3x3 stride-2 convolutions (Conv2dSubsampling8)."""
    return (((frames - 1) // 2 - 1) // 2 - 1) // 2


class GlobalCMVN(nn.Module):
    """(x - mean) * istd with the training set's statistics baked in as buffers."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("istd", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise (..., dim) features."""
        return (x - self.mean) * self.istd


class Conv2dSubsampling8(nn.Module):
    """Three 3x3 stride-2 convolutions and a linear projection: 80 ms per output frame."""

    def __init__(self, idim: int, odim: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, odim, 3, 2), nn.ReLU(),
            nn.Conv2d(odim, odim, 3, 2), nn.ReLU(),
            nn.Conv2d(odim, odim, 3, 2), nn.ReLU(),
        )
        self.freq = ((((idim - 1) // 2) - 1) // 2 - 1) // 2
        self.out = nn.Linear(odim * self.freq, odim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, F) features -> (B, T', odim)."""
        x = self.conv(x.unsqueeze(1))
        b, c, t, f = x.size()
        return self.out(x.transpose(1, 2).reshape(b, t, c * f))


class FeedForward(nn.Module):
    """Position-wise feed-forward with ReLU."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class SelfAttention(nn.Module):
    """Multi-head self-attention without positional encoding, with a [key || value] cache."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.h = heads
        self.d_k = dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, cache: torch.Tensor | None = None):
        """x (B, T, D); mask (B, 1 or T, T_cache + T) bool; cache (1, H, T_cache, 2*d_k) -> (out, new cache)."""
        b, t, _ = x.size()
        q = self.linear_q(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        if cache is not None:
            k_cache, v_cache = torch.split(cache, self.d_k, dim=-1)
            k = torch.cat([k_cache, k], dim=2)
            v = torch.cat([v_cache, v], dim=2)
        new_cache = torch.cat([k, v], dim=-1)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        blocked = ~mask[:, :, : scores.size(-1)].unsqueeze(1)
        scores = scores.masked_fill(blocked, NEG_INF)
        attn = torch.softmax(scores, dim=-1).masked_fill(blocked, 0.0)
        out = torch.matmul(self.dropout(attn), v).transpose(1, 2).reshape(b, t, self.h * self.d_k)
        return self.linear_out(out), new_cache


class CausalConvModule(nn.Module):
    """Conformer convolution module: pointwise + GLU, causal depthwise conv, BatchNorm, ReLU, pointwise."""

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.lorder = kernel - 1
        self.pointwise_conv1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel, groups=dim)
        self.norm = nn.BatchNorm1d(dim)
        self.pointwise_conv2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None, cache: torch.Tensor | None = None):
        """x (B, T, D); pad_mask (B, 1, T) bool; cache (B, D, lorder) -> (out, new cache)."""
        x = x.transpose(1, 2)
        if pad_mask is not None:
            x = x.masked_fill(~pad_mask, 0.0)
        if cache is None:
            x = F.pad(x, (self.lorder, 0))
        else:
            x = torch.cat([cache, x], dim=2)
        new_cache = x[:, :, -self.lorder:]
        x = F.glu(self.pointwise_conv1(x), dim=1)
        x = F.relu(self.norm(self.depthwise_conv(x)))
        x = self.pointwise_conv2(x)
        if pad_mask is not None:
            x = x.masked_fill(~pad_mask, 0.0)
        return x.transpose(1, 2), new_cache


class ConformerBlock(nn.Module):
    """Macaron conformer block, pre-norm (normalize_before), final LayerNorm."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.output_size
        self.feed_forward_macaron = FeedForward(d, cfg.linear_units, cfg.dropout_rate)
        self.self_attn = SelfAttention(d, cfg.attention_heads, cfg.dropout_rate)
        self.conv_module = CausalConvModule(d, cfg.cnn_module_kernel)
        self.feed_forward = FeedForward(d, cfg.linear_units, cfg.dropout_rate)
        self.norm_ff_macaron = nn.LayerNorm(d, eps=1e-5)
        self.norm_mha = nn.LayerNorm(d, eps=1e-5)
        self.norm_conv = nn.LayerNorm(d, eps=1e-5)
        self.norm_ff = nn.LayerNorm(d, eps=1e-5)
        self.norm_final = nn.LayerNorm(d, eps=1e-5)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def forward(self, x, att_mask, pad_mask=None, att_cache=None, cnn_cache=None):
        """One block; returns (x, new attention cache, new conv cache)."""
        x = x + 0.5 * self.dropout(self.feed_forward_macaron(self.norm_ff_macaron(x)))
        att, new_att_cache = self.self_attn(self.norm_mha(x), att_mask, att_cache)
        x = x + self.dropout(att)
        conv, new_cnn_cache = self.conv_module(self.norm_conv(x), pad_mask, cnn_cache)
        x = x + self.dropout(conv)
        x = x + 0.5 * self.dropout(self.feed_forward(self.norm_ff(x)))
        return self.norm_final(x), new_att_cache, new_cnn_cache


def chunk_attention_mask(length: int, chunk: int, left_chunks: int, device=None) -> torch.Tensor:
    """(T, T) bool: frame i sees frames of its own chunk and up to `left_chunks` chunks before (<0: all)."""
    idx = torch.arange(length, device=device)
    q_chunk = (idx // chunk).unsqueeze(1)
    k_chunk = (idx // chunk).unsqueeze(0)
    mask = k_chunk <= q_chunk
    if left_chunks >= 0:
        mask &= k_chunk >= q_chunk - left_chunks
    return mask


class CommandModel(nn.Module):
    """CMVN -> conv2d8 subsampling -> causal conformer blocks -> LayerNorm -> CTC projection."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.output_size
        self.global_cmvn = GlobalCMVN(cfg.input_dim)
        self.embed = Conv2dSubsampling8(cfg.input_dim, d)
        self.encoders = nn.ModuleList(ConformerBlock(cfg) for _ in range(cfg.num_blocks))
        self.after_norm = nn.LayerNorm(d, eps=1e-5)
        self.ctc_lo = nn.Linear(d, cfg.vocab_size)

    def encode(self, feats: torch.Tensor, feat_lens: torch.Tensor, chunk: int, left_chunks: int):
        """Whole-utterance encoder with a chunk mask: (B, T, 80) -> ((B, T', D), (B,) lengths)."""
        x = self.embed(self.global_cmvn(feats))
        lens = subsampled_length(feat_lens)
        t = x.size(1)
        valid = torch.arange(t, device=x.device).unsqueeze(0) < lens.unsqueeze(1)  # (B, T')
        pad_mask = valid.unsqueeze(1)
        att_mask = valid.unsqueeze(1) & chunk_attention_mask(t, chunk if chunk > 0 else t, left_chunks, x.device)
        for block in self.encoders:
            x, _, _ = block(x, att_mask, pad_mask)
        return self.after_norm(x), lens

    def forward(self, feats, feat_lens, chunk: int, left_chunks: int) -> tuple[torch.Tensor, torch.Tensor]:
        """CTC log-probs (B, T', V) and their lengths."""
        enc, lens = self.encode(feats, feat_lens, chunk, left_chunks)
        return F.log_softmax(self.ctc_lo(enc), dim=-1), lens

    def forward_chunk(self, chunk: torch.Tensor, required_cache_size: torch.Tensor, att_cache: torch.Tensor,
                      cnn_cache: torch.Tensor, att_mask: torch.Tensor):
        """WeNet's streaming step (batch 1): raw fbank window -> (output, r_att_cache, r_cnn_cache)."""
        x = self.embed(self.global_cmvn(chunk))
        key_size = att_cache.size(2) + x.size(1)
        start = torch.clamp(key_size - required_cache_size, min=0)
        r_att, r_cnn = [], []
        for i, block in enumerate(self.encoders):
            x, new_att, new_cnn = block(x, att_mask, None, att_cache[i:i + 1], cnn_cache[i])
            r_att.append(new_att[:, :, start:, :])
            r_cnn.append(new_cnn.unsqueeze(0))
        return self.after_norm(x), torch.cat(r_att, dim=0), torch.cat(r_cnn, dim=0)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
