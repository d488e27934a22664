"""Streaming CTC prefix beam search (WeNet's ctc_prefix_beam_search.cc), vectorised over beam × tokens per frame."""

from __future__ import annotations

import logging
import math

import numpy as np

from runtime.decoding.hypothesis import Hypothesis

_LOGGER = logging.getLogger(__name__)

NEG_INF = float("-inf")


class CtcPrefixBeamSearch:
    """Prefix beam search that runs as chunks arrive; partial results at any time.

    Same recursion as WeNet: per frame the top ``beam_size`` tokens of the frame extend every prefix (blank
    keeps it, its last token repeats it, others append), equal prefixes are merged with log-add and the best
    ``beam_size`` survive. Scores for all beam × token pairs are computed with numpy at once; prefixes are
    nodes of a trie, so merging a new prefix into an existing one is an index lookup, not tuple hashing.

    Frames with P(blank) >= ``blank_skip`` only extend prefixes by blank or their own last token (the mass
    this ignores is below 1 − ``blank_skip``); use ``blank_skip=1.0`` for the exact search.

    A token's time is the frame where it is most likely along its prefix's history, and its confidence is
    that probability; the utterance confidence is the best prefix's share of the beam's total probability.
    """

    def __init__(self, beam_size: int = 10, blank_id: int = 0, blank_skip: float = 0.999) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self.beam_size = beam_size
        self.blank_id = blank_id
        self._blank_skip_logp = math.log(blank_skip) if 0.0 < blank_skip <= 1.0 else 0.0
        self.reset()

    def reset(self) -> None:
        """Start a new utterance."""
        # Trie of prefixes: node 0 is the empty prefix.
        self._parent: list[int] = [-1]
        self._token: list[int] = [-1]
        self._children: dict[int, int] = {}
        # Beam, best first.
        self._node = np.zeros(1, dtype=np.int64)
        self._s = np.zeros(1)
        self._ns = np.full(1, NEG_INF)
        self._last = np.full(1, -1, dtype=np.int64)
        self._peak_p = np.full(1, NEG_INF)
        self._peak_t = np.zeros(1, dtype=np.int64)
        self._done_t: list[tuple[int, ...]] = [()]
        self._done_p: list[tuple[float, ...]] = [()]
        self._parent_slot = np.full(1, -1, dtype=np.int64)
        self._num_frames = 0

    def accept(self, logprobs: np.ndarray) -> None:
        """Advance the search over a (T, V) block of CTC log-probs."""
        if not len(logprobs):
            return
        logprobs = np.asarray(logprobs, dtype=np.float64)
        vocab = logprobs.shape[1]
        k = min(self.beam_size, vocab)
        if k < vocab:
            top = np.argpartition(-logprobs, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(vocab), (len(logprobs), vocab))
        skip = (logprobs[:, self.blank_id] >= self._blank_skip_logp).tolist()
        count, i = len(logprobs), 0
        while i < count:
            end = i + 1
            while end < count and skip[i] and skip[end]:
                end += 1
            if end - i > 1:
                self._blank_run(self._num_frames + i, logprobs[i:end], top[i:end])
            else:
                self._frame(self._num_frames + i, logprobs[i], top[i], skip[i])
            i = end
        self._num_frames += count

    def _blank_run(self, t0: int, rows: np.ndarray, tops: np.ndarray) -> None:
        """Several consecutive blank-skip frames at once: no prefix is added, so only scores, peaks and order change.

        The scores follow exactly the per-frame recursion of ``_frame``; the beam is re-sorted once at the end
        (per-frame sorting could only differ for exactly tied totals).
        """
        blank = self.blank_id
        last = self._last
        has_last = last >= 0
        safe_last = np.where(has_last, last, 0)
        last_in_top = (tops[:, :, None] == safe_last[None, None, :]).any(axis=1) & has_last[None, :]
        p_last = np.where(last_in_top, rows[:, safe_last], NEG_INF)  # (frames, beam)
        p_blank = np.where((tops == blank).any(axis=1), rows[:, blank], NEG_INF).tolist()
        s, ns = self._s, self._ns
        for k, pb in enumerate(p_blank):
            s, ns = np.logaddexp(s, ns) + pb, ns + p_last[k]
        best_k = p_last.argmax(axis=0)
        best_p = p_last[best_k, np.arange(len(last))]
        peaked = best_p > self._peak_p
        peak_p = np.where(peaked, best_p, self._peak_p)
        peak_t = np.where(peaked, t0 + best_k, self._peak_t)
        order = np.argsort(-np.logaddexp(s, ns), kind="stable")
        if (order == np.arange(len(order))).all():
            self._s, self._ns, self._peak_p, self._peak_t = s, ns, peak_p, peak_t
            return
        new_node = self._node[order]
        self._node, self._s, self._ns, self._last = new_node, s[order], ns[order], last[order]
        self._peak_p, self._peak_t = peak_p[order], peak_t[order]
        self._done_t = [self._done_t[j] for j in order.tolist()]
        self._done_p = [self._done_p[j] for j in order.tolist()]
        slot = {node: j for j, node in enumerate(new_node.tolist())}
        parents_of = self._parent
        self._parent_slot = np.array([slot.get(parents_of[node], -1) for node in new_node.tolist()], dtype=np.int64)

    def _frame(self, t: int, row: np.ndarray, top: np.ndarray, blank_only: bool) -> None:
        blank = self.blank_id
        s, ns, last = self._s, self._ns, self._last
        score = np.logaddexp(s, ns)
        # last == -1 (empty prefix) never matches a token; row[-1] is then read but masked out.
        last_ok = (top[None, :] == last[:, None]).any(axis=1)
        p_last = np.where(last_ok, row[last], NEG_INF)
        stay_s = score + (row[blank] if (top == blank).any() else NEG_INF)
        stay_ns = ns + p_last
        if blank_only:
            ext = np.empty((len(s), 0))
            tokens = np.empty(0, dtype=np.int64)
        else:
            tokens = top[top != blank]
            token_p = row[tokens]
            is_last = tokens[None, :] == last[:, None]
            ext = np.where(is_last, s[:, None], score[:, None]) + token_p[None, :]
            # prefix + token may already be in the beam (as the child of its parent): merge it there.
            parents = self._parent_slot
            merge = (parents >= 0) & is_last.any(axis=1)
            if merge.any():
                rows_ = parents[merge]
                cols = is_last[merge].argmax(axis=1)
                stay_ns[merge] = np.logaddexp(stay_ns[merge], ext[rows_, cols])
                ext[rows_, cols] = NEG_INF
        stay_total = np.logaddexp(stay_s, stay_ns)
        totals = np.concatenate([stay_total, ext.ravel()])
        chosen = np.argsort(-totals, kind="stable")[: self.beam_size]
        chosen = chosen[totals[chosen] > NEG_INF]
        if not len(chosen):  # nothing survives (all-inf frame): keep the beam as it was
            return
        n = len(s)
        is_stay = chosen < n
        stay_at = np.where(is_stay, chosen, 0)
        flat = np.where(is_stay, 0, chosen - n)
        width_k = max(len(tokens), 1)
        parent, col = flat // width_k, flat % width_k
        if len(tokens):
            new_token = tokens[col]
            ext_ns = ext[parent, col]
        else:
            new_token = np.zeros(len(chosen), dtype=np.int64)
            ext_ns = np.full(len(chosen), NEG_INF)
        new_s = np.where(is_stay, stay_s[stay_at], NEG_INF)
        new_ns = np.where(is_stay, stay_ns[stay_at], ext_ns)
        new_last = np.where(is_stay, last[stay_at], new_token)
        peaked = p_last[stay_at] > self._peak_p[stay_at]
        new_peak_p = np.where(is_stay, np.where(peaked, p_last[stay_at], self._peak_p[stay_at]), row[new_token])
        new_peak_t = np.where(is_stay & ~peaked, self._peak_t[stay_at], t)
        new_node = self._node[stay_at].copy()
        done_t: list[tuple[int, ...]] = []
        done_p: list[tuple[float, ...]] = []
        vocab = len(row)
        old_nodes, old_last = self._node.tolist(), last.tolist()
        old_peak_t, old_peak_p = self._peak_t.tolist(), self._peak_p.tolist()
        for j, (stay, c, par, token) in enumerate(
            zip(is_stay.tolist(), stay_at.tolist(), parent.tolist(), new_token.tolist())
        ):
            if stay:
                done_t.append(self._done_t[c])
                done_p.append(self._done_p[c])
                continue
            node = old_nodes[par]
            key = node * vocab + token
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = len(self._parent)
                self._parent.append(node)
                self._token.append(token)
            new_node[j] = child
            if old_last[par] >= 0:
                done_t.append(self._done_t[par] + (old_peak_t[par],))
                done_p.append(self._done_p[par] + (old_peak_p[par],))
            else:
                done_t.append(())
                done_p.append(())
        slot = {node: j for j, node in enumerate(new_node.tolist())}
        parents_of = self._parent
        self._parent_slot = np.array([slot.get(parents_of[node], -1) for node in new_node.tolist()], dtype=np.int64)
        self._node, self._s, self._ns, self._last = new_node, new_s, new_ns, new_last
        self._peak_p, self._peak_t, self._done_t, self._done_p = new_peak_p, new_peak_t, done_t, done_p

    def _prefix(self, node: int) -> tuple[int, ...]:
        tokens = []
        while node > 0:
            tokens.append(self._token[node])
            node = self._parent[node]
        return tuple(reversed(tokens))

    def _hypothesis(self, j: int, norm: float) -> Hypothesis:
        frames, logps = self._done_t[j], self._done_p[j]
        if self._last[j] >= 0:
            frames = frames + (int(self._peak_t[j]),)
            logps = logps + (float(self._peak_p[j]),)
        score = float(np.logaddexp(self._s[j], self._ns[j]))
        return Hypothesis(
            token_ids=self._prefix(int(self._node[j])),
            frames=frames,
            token_probs=tuple(math.exp(p) for p in logps),
            score=score,
            confidence=math.exp(score - norm),
        )

    def nbest(self) -> list[Hypothesis]:
        """The current beam, best first, with token times (frames), probabilities and posteriors."""
        norm = float(np.logaddexp.reduce(np.logaddexp(self._s, self._ns)))
        return [self._hypothesis(j, norm) for j in range(len(self._s))]

    def result(self) -> Hypothesis:
        """The best prefix so far."""
        return self._hypothesis(0, float(np.logaddexp.reduce(np.logaddexp(self._s, self._ns))))

    def has_tokens(self) -> bool:
        """Whether the best prefix is non-empty (cheap; for endpointing)."""
        return int(self._node[0]) != 0
