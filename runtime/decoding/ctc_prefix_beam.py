"""Streaming CTC prefix beam search (WeNet's ctc_prefix_beam_search.cc) with per-frame numpy pruning."""

from __future__ import annotations

import logging
import math
from typing import Dict, Tuple

import numpy as np

from runtime.decoding.hypothesis import Hypothesis

_LOGGER = logging.getLogger(__name__)

NEG_INF = float("-inf")


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class _Prefix:
    """Scores of one prefix: total over paths ending in blank (s) / non-blank (ns), and their Viterbi paths."""

    __slots__ = ("s", "ns", "vs", "vns", "ts", "tns", "ps", "pns")

    def __init__(self) -> None:
        self.s = self.ns = self.vs = self.vns = NEG_INF
        self.ts: Tuple[int, ...] = ()
        self.tns: Tuple[int, ...] = ()
        self.ps: Tuple[float, ...] = ()
        self.pns: Tuple[float, ...] = ()

    @property
    def score(self) -> float:
        return _logaddexp(self.s, self.ns)


class CtcPrefixBeamSearch:
    """Prefix beam search that runs as chunks arrive; partial results at any time.

    Per frame only the ``beam_size`` most likely tokens are expanded (numpy ``argpartition`` over the whole
    chunk). Frames whose blank probability is at least ``blank_skip`` only extend existing prefixes with
    blank or with their own last token, the mass this leaves out is below 1 − ``blank_skip``.
    """

    def __init__(self, beam_size: int = 10, blank_id: int = 0, blank_skip: float = 0.999) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self.beam_size = beam_size
        self.blank_id = blank_id
        self._blank_skip_logp = math.log(blank_skip) if 0.0 < blank_skip <= 1.0 else float("inf")
        self.reset()

    def reset(self) -> None:
        """Start a new utterance."""
        start = _Prefix()
        start.s = 0.0
        start.vs = 0.0
        self._beams: list[tuple[Tuple[int, ...], _Prefix]] = [((), start)]
        self._num_frames = 0

    def accept(self, logprobs: np.ndarray) -> None:
        """Advance the search over a (T, V) block of CTC log-probs."""
        if not len(logprobs):
            return
        k = min(self.beam_size, logprobs.shape[1])
        if k < logprobs.shape[1]:
            top = np.argpartition(-logprobs, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(k), (len(logprobs), k))
        top_logp = np.take_along_axis(logprobs, top, axis=1)
        blank_logp = logprobs[:, self.blank_id].tolist()
        tops, top_logps = top.tolist(), top_logp.tolist()
        for i in range(len(logprobs)):
            t = self._num_frames + i
            if blank_logp[i] >= self._blank_skip_logp:
                self._blank_frame(t, blank_logp[i], logprobs[i])
            else:
                self._frame(t, tops[i], top_logps[i])
        self._num_frames += len(logprobs)

    def _blank_frame(self, t: int, pb: float, row: np.ndarray) -> None:
        beams = []
        for prefix, h in self._beams:
            n = _Prefix()
            n.s = h.score + pb
            if h.vs >= h.vns:
                n.vs, n.ts, n.ps = h.vs + pb, h.ts, h.ps
            else:
                n.vs, n.ts, n.ps = h.vns + pb, h.tns, h.pns
            if prefix and h.ns != NEG_INF:
                p = float(row[prefix[-1]])
                n.ns = h.ns + p
                n.vns = h.vns + p
                n.tns, n.pns = (h.tns[:-1] + (t,), h.pns[:-1] + (p,)) if p > h.pns[-1] else (h.tns, h.pns)
            beams.append((prefix, n))
        beams.sort(key=lambda item: item[1].score, reverse=True)
        self._beams = beams

    def _frame(self, t: int, tokens: list, logps: list) -> None:
        blank = self.blank_id
        nxt: Dict[Tuple[int, ...], _Prefix] = {}
        for prefix, h in self._beams:
            score = h.score
            if h.vs >= h.vns:
                vbest, tbest, pbest = h.vs, h.ts, h.ps
            else:
                vbest, tbest, pbest = h.vns, h.tns, h.pns
            last = prefix[-1] if prefix else -1
            for tok, p in zip(tokens, logps):
                if tok == blank:
                    n = nxt.get(prefix)
                    if n is None:
                        n = nxt[prefix] = _Prefix()
                    n.s = _logaddexp(n.s, score + p)
                    if vbest + p > n.vs:
                        n.vs, n.ts, n.ps = vbest + p, tbest, pbest
                    continue
                if tok == last:
                    n = nxt.get(prefix)
                    if n is None:
                        n = nxt[prefix] = _Prefix()
                    n.ns = _logaddexp(n.ns, h.ns + p)
                    if h.vns + p > n.vns:
                        n.vns = h.vns + p
                        if p > h.pns[-1]:  # keep the token's peak frame as its time
                            n.tns, n.pns = h.tns[:-1] + (t,), h.pns[:-1] + (p,)
                        else:
                            n.tns, n.pns = h.tns, h.pns
                    base, vbase, tbase, pbase = h.s, h.vs, h.ts, h.ps
                else:
                    base, vbase, tbase, pbase = score, vbest, tbest, pbest
                if base == NEG_INF:
                    continue
                extended = prefix + (tok,)
                n = nxt.get(extended)
                if n is None:
                    n = nxt[extended] = _Prefix()
                n.ns = _logaddexp(n.ns, base + p)
                if vbase + p > n.vns:
                    n.vns, n.tns, n.pns = vbase + p, tbase + (t,), pbase + (p,)
        ranked = sorted(nxt.items(), key=lambda item: item[1].score, reverse=True)
        self._beams = ranked[: self.beam_size]

    def nbest(self) -> list[Hypothesis]:
        """The current beam, best first, each with its Viterbi token times and probabilities."""
        scores = [h.score for _, h in self._beams]
        top = max(scores)
        norm = top + math.log(sum(math.exp(s - top) for s in scores))
        out = []
        for prefix, h in self._beams:
            times, logps = (h.ts, h.ps) if h.vs >= h.vns else (h.tns, h.pns)
            out.append(
                Hypothesis(
                    token_ids=prefix,
                    frames=times,
                    token_probs=tuple(math.exp(p) for p in logps),
                    score=h.score,
                    confidence=math.exp(h.score - norm),
                )
            )
        return out

    def result(self) -> Hypothesis:
        """The best prefix so far."""
        return self.nbest()[0]
