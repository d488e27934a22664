"""Grammar-constrained beam search with Whisper's decoder, side by side with free greedy decoding for rejection."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

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
    token_logprobs: tuple[float, ...]
    score: float  # log-probability of the text tokens and the end of text (language token excluded)
    free: FreeResult
    margin: float  # mean constrained minus mean free token log-prob over as many tokens; -inf when nothing fits

    @property
    def accepted(self) -> bool:
        """True when some allowed sentence was found."""
        return math.isfinite(self.margin)


@dataclass
class _Row:
    tokens: list
    logprobs: list
    score: float
    states: frozenset | None  # None for the free row
    language: str


def _ends_sentence(token_bytes: bytes) -> bool:
    return token_bytes.rstrip().endswith((b".", b"?", b"!", "。".encode(), "？".encode(), "！".encode()))


def _prompt(model: WhisperModel, language_token: int) -> list[int]:
    vocab = model.vocabulary
    if vocab.multilingual:
        return [vocab.sot, language_token, vocab.transcribe, vocab.no_timestamps]
    return [vocab.sot, vocab.no_timestamps]


def language_logprobs(model: WhisperModel, encoded: Encoded, languages: list[str]) -> dict[str, float]:
    """log P(<|language|> | audio) of each language (0 for all on an English-only model)."""
    vocab = model.vocabulary
    if not vocab.multilingual:
        return {lang: 0.0 for lang in languages}
    empty = model.empty_cache(1)
    logprobs, _, _ = model.decode(np.array([[vocab.sot]]), 0, empty, empty, encoded)
    return {lang: float(logprobs[0, vocab.language_token(lang)]) for lang in languages}


def free_decode(model: WhisperModel, encoded: Encoded, language: str | None = None, max_tokens: int = 96) -> FreeResult:
    """Greedy unconstrained transcript (the language detected when none is given)."""
    return constrained_decode(model, encoded, {}, free_language=language, max_tokens=max_tokens).free


def _best_language(model: WhisperModel, encoded: Encoded) -> tuple[str, float]:
    vocab = model.vocabulary
    if not vocab.multilingual:
        return "en", 0.0
    empty = model.empty_cache(1)
    logprobs, _, _ = model.decode(np.array([[vocab.sot]]), 0, empty, empty, encoded)
    codes = [(tok[2:-2], i) for tok, i in vocab.special.items() if 2 <= len(tok) - 4 <= 3 and tok[2:-2].isalpha()
             and tok[2:-2].islower()]
    code, index = max(codes, key=lambda item: logprobs[0, item[1]])
    return code, float(logprobs[0, index])


def constrained_decode(
    model: WhisperModel,
    encoded: Encoded,
    automata: dict[str, TextAutomaton],
    beam: int = DEFAULT_BEAM,
    max_tokens: int = 96,
    free_language: str | None = None,
) -> ConstrainedResult:
    """Best sentence of ``automata`` (one per language) for the audio, plus the free greedy transcript.

    All hypotheses advance one token per decoder call, batched with the free row; a hypothesis ends with
    <|endoftext|> where its automaton accepts. The search stops when no open hypothesis can beat the best
    finished one (log-probabilities only fall).
    """
    vocab = model.vocabulary
    trie = vocab.trie()
    lang_scores = language_logprobs(model, encoded, list(automata)) if automata else {}
    if free_language is None:
        if lang_scores:
            free_language = max(lang_scores, key=lang_scores.get)
        else:
            free_language = _best_language(model, encoded)[0]
    rows = [_Row([], [], 0.0, None, free_language)]
    for language, automaton in automata.items():
        rows.append(_Row([], [], lang_scores[language], automaton.start_states(), language))
    prompts = [_prompt(model, vocab.language_token(row.language) or vocab.sot) for row in rows]
    prompt_len = len(prompts[0])
    empty = model.empty_cache(len(rows))
    logprobs, keys, values = model.decode(np.array(prompts), 0, empty, empty, encoded)
    offset = prompt_len
    free_done: _Row | None = None
    finished: list[_Row] = []
    eot = vocab.eot
    text_limit = vocab.num_text_tokens
    # Nobody says more than ~10 tokens a second (Mandarin's multi-byte characters included): a cap that ends
    # hopeless searches on out-of-grammar speech early.
    max_tokens = min(max_tokens, 12 + encoded.num_frames * TOKENS_PER_SECOND // 100)
    for _ in range(max_tokens):
        candidates: list[tuple[float, int, int, frozenset | None]] = []  # (score, row, token, states)
        next_rows: list[_Row] = []
        parents: list[int] = []
        for index, row in enumerate(rows):
            lp = logprobs[index]
            if row.states is None:
                token = int(np.argmax(lp[: eot + 1]))
                value = float(lp[token])
                if token == eot:
                    free_done = _Row(row.tokens, row.logprobs + [value], row.score + value, None, row.language)
                else:
                    next_rows.append(_Row(row.tokens + [token], row.logprobs + [value], row.score + value, None,
                                          row.language))
                    parents.append(index)
                continue
            choices = automata[row.language].choices(row.states, trie)
            if choices.can_end:
                value = float(lp[eot])
                finished.append(_Row(row.tokens, row.logprobs + [value], row.score + value, row.states, row.language))
            if len(choices.token_ids):
                scores = lp[choices.token_ids] + row.score
                keep = min(beam, len(scores))
                best = np.argpartition(-scores, keep - 1)[:keep] if keep < len(scores) else np.arange(len(scores))
                for position in best:
                    candidates.append((float(scores[position]), index, int(choices.token_ids[position]),
                                       choices.next_states[position]))
        best_finished = max(finished, key=lambda row: row.score, default=None)
        floor = best_finished.score if best_finished is not None else -math.inf
        candidates.sort(key=lambda item: -item[0])
        if candidates:
            floor = max(floor, candidates[0][0] - SCORE_BEAM)
        for score, index, token, states in candidates[:beam]:
            if score <= floor:
                break
            parent = rows[index]
            next_rows.append(_Row(parent.tokens + [token], parent.logprobs + [float(logprobs[index, token])], score,
                                  states, parent.language))
            parents.append(index)
        if not any(row.states is not None for row in next_rows) and automata:
            # Only the free row is left: it goes on to the end of its first sentence that is at least as long as
            # the best grammar sentence (the not-recognized transcript), not into Whisper's repetitions.
            wanted = len(best_finished.tokens) if best_finished is not None else 0
            keep = [i for i, row in enumerate(next_rows)
                    if len(row.tokens) <= wanted or not _ends_sentence(vocab.bytes_of(row.tokens[-1]))]
            next_rows = [next_rows[i] for i in keep]
            parents = [parents[i] for i in keep]
        if not next_rows or offset + 1 >= model.max_text_positions:
            break
        rows = next_rows
        parent_index = np.array(parents)
        tokens = np.array([[row.tokens[-1]] for row in rows])
        logprobs, keys, values = model.decode(tokens, offset, keys[:, parent_index], values[:, parent_index], encoded)
        offset += 1
    else:
        rows = []
    if free_done is None:
        free_done = next((row for row in rows if row.states is None), None)
        for row in next_rows:
            if row.states is None:
                free_done = row
    free_source = free_done or _Row([], [], 0.0, None, free_language)
    free_tokens = [t for t in free_source.tokens if t < text_limit]
    free = FreeResult(free_source.language, tuple(free_tokens), tuple(free_source.logprobs[: len(free_tokens)]),
                      vocab.text_of(free_tokens))
    if not finished:
        return ConstrainedResult(None, "", (), (), -math.inf, free, -math.inf)
    best = max(finished, key=lambda row: row.score)
    text_logprobs = best.logprobs[:-1]  # without the end of text
    count = max(1, min(len(text_logprobs), len(free.logprobs)) if free.logprobs else len(text_logprobs))
    own = sum(text_logprobs) / max(1, len(text_logprobs))
    reference = sum(free.logprobs[:count]) / count if free.logprobs else own
    score = best.score - lang_scores.get(best.language, 0.0)
    return ConstrainedResult(best.language, vocab.text_of(best.tokens), tuple(best.tokens), tuple(best.logprobs),
                             score, free, own - reference)
