"""Grammar-constrained beam search with Whisper's decoder, side by side with free greedy decoding for rejection."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from runtime.errors import DecodeCancelled
from runtime.whisper.automaton import TextAutomaton
from runtime.whisper.model import Encoded, WhisperModel

DEFAULT_BEAM = 4
#: Hypotheses more than this many nats behind the best are dropped.
SCORE_BEAM = 12.0
TOKENS_PER_SECOND = 10


@dataclass(frozen=True)
class FreeResult:
    """Unconstrained greedy transcript: language, tokens and each token's log-probability."""

    language: str
    tokens: tuple[int, ...]
    logprobs: tuple[float, ...]
    text: str


@dataclass(frozen=True)
class ConstrainedResult:
    """Best transcript the automata allow (empty when none fits) and the free transcript beside it."""

    language: str | None
    text: str
    tokens: tuple[int, ...]
    token_logprobs: tuple[float, ...]  # of the text tokens and the end of text
    score: float  # their sum
    free: FreeResult
    margin: float  # (grammar - free) log-likelihood per grammar token (see constrained_decode); -inf: nothing fits
    no_speech_prob: float = 0.0  # Whisper's <|nocaptions|> probability at the first position
    language_probability: float = 1.0  # Whisper's probability that the audio is in the sentence's language

    @property
    def accepted(self) -> bool:
        """True when some allowed sentence was found."""
        return math.isfinite(self.margin)

    @property
    def mean_logprob(self) -> float:
        """Mean log-prob of the sentence's text tokens (-inf when nothing fits)."""
        text = self.token_logprobs[:-1]
        return sum(text) / len(text) if text else -math.inf


@dataclass
class _Row:
    tokens: list
    logprobs: list
    score: float
    states: frozenset | None  # None for the free row
    language: str


@dataclass(frozen=True)
class _FirstPosition:
    """Log-probs after <|startoftranscript|>: language identification and the no-speech probability."""

    logprobs: np.ndarray | None  # None on an English-only model
    no_speech_prob: float = 0.0

    def best_language(self, vocab) -> str:
        if self.logprobs is None:
            return "en"
        codes = vocab.language_codes
        return max(codes, key=lambda code: self.logprobs[codes[code]])

    def language_probability(self, vocab, language: str) -> float:
        """Whisper's probability that the audio is in ``language`` (its language tokens renormalised, as its own
        detect_language does); 1.0 on an English-only model."""
        if self.logprobs is None:
            return 1.0
        token = vocab.language_token(language)
        if token is None:
            return 0.0
        scores = self.logprobs[list(vocab.language_codes.values())]
        peak = float(scores.max())
        return float(np.exp(self.logprobs[token] - peak) / np.exp(scores - peak).sum())


def _first_position(model: WhisperModel, encoded: Encoded) -> _FirstPosition:
    vocab = model.vocabulary
    empty = model.empty_cache(1)
    logprobs, _, _ = model.decode(np.array([[vocab.sot]]), 0, empty, empty, encoded)
    no_speech = vocab.no_speech
    probability = float(np.exp(logprobs[0, no_speech])) if no_speech is not None else 0.0
    return _FirstPosition(logprobs[0] if vocab.multilingual else None, probability)


_RESTART_TOKENS = 3


def _restarts(tokens: list[int]) -> bool:
    """True when the last few tokens repeat the transcript's first few (a restart, not speech)."""
    return len(tokens) >= 2 * _RESTART_TOKENS and tokens[-_RESTART_TOKENS:] == tokens[:_RESTART_TOKENS]


def _ends_sentence(token_bytes: bytes) -> bool:
    return token_bytes.rstrip().endswith((b".", b"?", b"!", "。".encode(), "？".encode(), "！".encode()))


def _prompt(model: WhisperModel, language: str) -> list[int]:
    vocab = model.vocabulary
    if vocab.multilingual:
        return [vocab.sot, vocab.language_token(language) or vocab.language_token("en"), vocab.transcribe,
                vocab.no_timestamps]
    return [vocab.sot, vocab.no_timestamps]


def free_decode(model: WhisperModel, encoded: Encoded, language: str | None = None, max_tokens: int = 96) -> FreeResult:
    """Greedy unconstrained transcript (the language detected when none is given)."""
    return constrained_decode(model, encoded, {}, free_language=language, max_tokens=max_tokens).free


def constrained_decode(
    model: WhisperModel,
    encoded: Encoded,
    automata: dict[str, TextAutomaton],
    beam: int = DEFAULT_BEAM,
    max_tokens: int = 96,
    free_language: str | None = None,
    accept_margin: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ConstrainedResult:
    """Best sentence of ``automata`` (one per language) for the audio, plus the free greedy transcript.

    Whisper's own beam search, restricted to what the automata allow: every open hypothesis proposes its
    allowed tokens (and <|endoftext|> where its automaton may end); the ``beam`` best proposals go on, chosen
    ends are collected until ``beam`` sentences have ended, and the winner is the most probable sentence: the
    highest sum of token log-probs, end of text included. (Whisper's free decoding divides by the length so
    that it does not stop early; here a sentence that stops early pays for it in its end-of-text probability,
    and the grammar's wordings of one command — *lots of* / *a lot of* — compete on likelihood alone.) The free
    greedy row rides in the same batch.

    Ends are not waited for once the best ended sentence is at least as probable as every open hypothesis (log-probs
    only fall, so none of them can overtake it), and proposals below it are not followed. With ``accept_margin``,
    the free row stops once the sentence's margin is known to reach it, so an accepted command's free transcript
    covers the sentence's length only; a rejected one's runs on to its sentence end. ``cancelled`` is asked before
    every decoder step: when it says so, DecodeCancelled is raised.
    """
    vocab = model.vocabulary
    trie = vocab.trie()
    first = _first_position(model, encoded)
    if free_language is None:
        # The free row speaks whatever language Whisper hears, not only the grammar's: Mandarin speech against
        # an English grammar must not be compared with a forced English transcript.
        free_language = first.best_language(vocab)
    rows = [_Row([], [], 0.0, None, free_language)]
    for language, automaton in automata.items():
        rows.append(_Row([], [], 0.0, automaton.start_states(), language))
    prompts = [_prompt(model, row.language) for row in rows]
    width = len(prompts[0])
    empty = model.empty_cache(len(rows))
    logprobs, keys, values = model.decode(np.array(prompts), 0, empty, empty, encoded)
    offset = width
    free_done: _Row | None = None
    finished: list[_Row] = []
    eot = vocab.eot
    text_limit = vocab.num_text_tokens
    # Nobody says more than ~10 tokens a second (Mandarin's multi-byte characters included): a cap that ends
    # hopeless searches on out-of-grammar speech early.
    max_tokens = min(max_tokens, 12 + encoded.num_frames * TOKENS_PER_SECOND // 100)
    next_rows: list[_Row] = []
    best_ended = -math.inf  # score of the most probable ended sentence so far
    for _ in range(max_tokens):
        if cancelled is not None and cancelled():
            raise DecodeCancelled("the decode was cancelled")
        candidates: list[tuple[float, int, int, frozenset | None]] = []  # (score, row, token or -1 = end, states)
        next_rows = []
        parents: list[int] = []
        for index, row in enumerate(rows):
            lp = logprobs[index]
            if row.states is None:
                token = int(np.argmax(lp[: eot + 1]))
                value = float(lp[token])
                if token == eot:
                    free_done = _Row(row.tokens, row.logprobs + [value], row.score + value, None, row.language)
                elif _restarts(row.tokens + [token]):
                    # Whisper without its 30 s padding sometimes starts the utterance over: stop there.
                    cut = len(row.tokens) + 1 - _RESTART_TOKENS
                    free_done = _Row(row.tokens[:cut], row.logprobs[:cut], sum(row.logprobs[:cut]), None,
                                     row.language)
                else:
                    next_rows.append(_Row(row.tokens + [token], row.logprobs + [value], row.score + value, None,
                                          row.language))
                    parents.append(index)
                continue
            choices = automata[row.language].choices(row.states, trie)
            if choices.can_end:
                candidates.append((row.score + float(lp[eot]), index, -1, row.states))
            if len(choices.token_ids):
                scores = lp[choices.token_ids] + row.score
                keep = min(beam, len(scores))
                best = np.argpartition(-scores, keep - 1)[:keep] if keep < len(scores) else np.arange(len(scores))
                for position in best:
                    candidates.append((float(scores[position]), index, int(choices.token_ids[position]),
                                       choices.next_states[position]))
        candidates.sort(key=lambda item: -item[0])
        # Nothing below an ended sentence can win: log-probs only fall.
        floor = max(candidates[0][0] - SCORE_BEAM, best_ended) if candidates else 0.0
        for score, index, token, states in candidates[:beam]:
            if score < floor:
                break
            parent = rows[index]
            value = float(logprobs[index, eot if token < 0 else token])
            if token < 0:
                finished.append(_Row(parent.tokens, parent.logprobs + [value], score, states, parent.language))
                best_ended = max(best_ended, score)
                continue
            next_rows.append(_Row(parent.tokens + [token], parent.logprobs + [value], score, states, parent.language))
            parents.append(index)
        best_open = max((row.score for row in next_rows if row.states is not None), default=-math.inf)
        if len(finished) >= beam or best_ended >= best_open:  # none can win now: only the free row goes on
            keep = [i for i, row in enumerate(next_rows) if row.states is None]
            next_rows = [next_rows[i] for i in keep]
            parents = [parents[i] for i in keep]
        if automata and not any(row.states is not None for row in next_rows):
            # Only the free row is left: it goes on to the end of its first sentence that is at least as long as
            # the best grammar sentence (the not-recognized transcript), not into Whisper's repetitions.
            best_finished = _best(finished)
            wanted = len(best_finished.tokens) if best_finished is not None else 0
            if accept_margin is not None and best_finished is not None:
                settled = [row for row in next_rows if len(row.tokens) >= wanted]
                if settled and _margin(best_finished, settled[0].logprobs) >= accept_margin:
                    # The sentence is accepted whatever the free row says next: its transcript stops at the span
                    # the margin compares.
                    row = settled[0]
                    free_done = _Row(row.tokens[:wanted], row.logprobs[:wanted], sum(row.logprobs[:wanted]), None,
                                     row.language)
                    break
            ended = [row for row in next_rows
                     if len(row.tokens) >= wanted and _ends_sentence(vocab.bytes_of(row.tokens[-1]))]
            if ended:
                free_done = ended[0]
            keep = [i for i, row in enumerate(next_rows) if row not in ended]
            next_rows = [next_rows[i] for i in keep]
            parents = [parents[i] for i in keep]
        if not next_rows or offset + 1 >= model.max_text_positions:
            break
        rows = next_rows
        parent_index = np.array(parents)
        tokens = np.array([[row.tokens[-1]] for row in rows])
        logprobs, keys, values = model.decode(tokens, offset, keys[:, parent_index], values[:, parent_index], encoded)
        offset += 1
    if free_done is None:
        free_done = next((row for row in next_rows if row.states is None), None) or \
            next((row for row in rows if row.states is None), None)
    free_source = free_done or _Row([], [], 0.0, None, free_language)
    free_tokens = [t for t in free_source.tokens if t < text_limit]
    free = FreeResult(free_source.language, tuple(free_tokens), tuple(free_source.logprobs[: len(free_tokens)]),
                      vocab.text_of(free_tokens))
    best = _best(finished)
    if best is None:
        return ConstrainedResult(None, "", (), (), -math.inf, free, -math.inf, first.no_speech_prob)
    return ConstrainedResult(best.language, vocab.text_of(best.tokens), tuple(best.tokens), tuple(best.logprobs),
                             best.score, free, _margin(best, free.logprobs), first.no_speech_prob,
                             first.language_probability(vocab, best.language))


def sentence_logprobs(model: WhisperModel, encoded: Encoded, language: str,
                      sentences: "list[tuple[int, ...] | list[int]]") -> list[tuple[float, ...]]:
    """Log-prob of each token of each sentence (in ``language``) given the ones before it: the decoder reads the
    sentences, one row each, in one call rather than choosing them token by token."""
    prompt = _prompt(model, language)
    longest = max((len(tokens) for tokens in sentences), default=0)
    if not longest:
        return [() for _ in sentences]
    # A shorter row is padded at its end: attention is causal, so the padding changes none of its positions.
    fed = np.array([prompt + list(tokens[:-1]) + [model.vocabulary.eot] * (longest - max(1, len(tokens)))
                    for tokens in sentences])
    positions = np.arange(len(prompt) - 1, len(prompt) - 1 + longest)
    empty = model.empty_cache(len(sentences))
    logprobs, _, _ = model.decode_positions(fed, 0, empty, empty, encoded, positions)
    return [tuple(float(logprobs[row, index, token]) for index, token in enumerate(tokens))
            for row, tokens in enumerate(sentences)]


_REPEAT_TOKENS = 3


def _repeats(words: list[bytes]) -> bool:
    """True when the last few tokens (case and spacing aside) already appeared together: Whisper going round."""
    tail = words[-_REPEAT_TOKENS:]
    return len(words) > _REPEAT_TOKENS and any(
        words[start:start + _REPEAT_TOKENS] == tail for start in range(len(words) - _REPEAT_TOKENS))


def free_continuation(model: WhisperModel, encoded: Encoded, language: str, tokens: "tuple[int, ...] | list[int]",
                      max_tokens: int) -> tuple[int, ...]:
    """The free greedy transcript ``tokens`` carried on to its end: end of text, or Whisper starting to repeat itself
    (cut before the repeat), at most ``max_tokens``."""
    vocab = model.vocabulary
    tokens = list(tokens)
    words = [vocab.bytes_of(token).strip().lower() for token in tokens]
    prompt = _prompt(model, language)
    empty = model.empty_cache(1)
    logprobs, keys, values = model.decode(np.array([prompt + tokens]), 0, empty, empty, encoded)
    offset = len(prompt) + len(tokens)
    while len(tokens) < max_tokens:
        token = int(np.argmax(logprobs[0, : vocab.eot + 1]))
        if token == vocab.eot or token >= vocab.num_text_tokens:
            break
        words.append(vocab.bytes_of(token).strip().lower())
        if _repeats(words):
            tokens = tokens[: len(words) - _REPEAT_TOKENS]
            break
        tokens.append(token)
        logprobs, keys, values = model.decode(np.array([[token]]), offset, keys, values, encoded)
        offset += 1
    return tuple(tokens)


def _margin(best: _Row, free_logprobs: "list[float] | tuple[float, ...]") -> float:
    """Log-likelihood ratio of the grammar sentence to the free transcript, per grammar token; the free side over
    no more tokens than the sentence has (speech beyond the sentence shows in the end-of-text probability)."""
    text_logprobs = best.logprobs[:-1]  # without the end of text
    count = len(text_logprobs)
    return (sum(text_logprobs) - sum(free_logprobs[:count])) / max(1, count)


def _best(finished: list[_Row]) -> "_Row | None":
    """The most probable ended hypothesis (sum of its token log-probs, end of text included)."""
    return max(finished, key=lambda row: row.score, default=None)
