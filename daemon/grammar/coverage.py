"""Speech the sentence does not cover: a Whisper sentence that fits as well without the last second of speech."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from daemon.grammar.words import contains_cjk
from daemon.vad import SAMPLE_RATE, make_webrtc_detector
from runtime.errors import DecodeCancelled
from runtime.whisper.search import ConstrainedResult, sentence_logprobs

# Chosen on the synthetic held-out corpus only (never on the real dev recordings): 300 held-out commands and 160
# held-out commands each followed, 150 ms later, by an out-of-grammar sentence in another voice. Before this test
# 111 of those 160 were accepted as the command alone. Cutting the last second of speech costs every command's own
# sentence at least 0.58 nats per token (it loses its last words: 218 commands long enough to cut); 98 of the 111
# commands-with-a-sentence-after-them lose less than 0.4.
UNCOVERED_SECONDS = 1.0
MIN_LOGPROB_DROP = 0.4
MIN_PREFIX_SECONDS = 0.5  # less audio than this left after the cut: nothing to compare
# The test costs an encoder run and two decoder calls, so it runs only where doubt is plausible: a margin below -1.0
# (where the synthetic out-of-grammar sentences that were ever accepted lie), or few sentence tokens per second of
# speech. Commands (5th percentile / median): en 2.0 / 3.1, zh 3.1 / 4.8 tokens a second; a command with a sentence
# after it: en 1.1 / 1.8, zh 2.3 / 3.4. With the bounds below 29 % of the commands are tested, and 91 of the 111
# commands-with-a-sentence-after-them are tested and rejected.
CHECK_BELOW_MARGIN = -1.0
CHECK_BELOW_TOKENS_PER_SECOND = 2.5
CHECK_BELOW_TOKENS_PER_SECOND_CJK = 4.0  # Whisper writes Mandarin with more tokens per second of speech
_VAD_FRAME = 480  # 30 ms
_VAD_AGGRESSIVENESS = 2  # the daemon's default (vad.aggressiveness)


@dataclass(frozen=True)
class SpeechSpan:
    """First and last voiced sample (webrtcvad, 30 ms frames); end 0 when nothing is voiced."""

    start: int
    end: int

    @property
    def seconds(self) -> float:
        """Length of the span in seconds."""
        return max(0, self.end - self.start) / SAMPLE_RATE


def speech_span(audio: np.ndarray) -> SpeechSpan:
    """Where the speech in ``audio`` (int16, 16 kHz) starts and ends."""
    # A fresh detector each time: webrtcvad adapts to what it has heard, so a shared one would answer differently
    # for the same utterance depending on the ones before it.
    detector = make_webrtc_detector(_VAD_AGGRESSIVENESS)
    voiced = [begin for begin in range(0, len(audio) - _VAD_FRAME + 1, _VAD_FRAME)
              if detector(audio[begin:begin + _VAD_FRAME].tobytes())]
    if not voiced:
        return SpeechSpan(0, 0)
    return SpeechSpan(voiced[0], voiced[-1] + _VAD_FRAME)


def worth_checking(search: ConstrainedResult, span: SpeechSpan) -> bool:
    """True when the sentence may leave speech uncovered: a doubtful margin, or few tokens for the speech's length."""
    text_tokens = len(search.tokens)
    seconds = span.seconds
    if seconds - UNCOVERED_SECONDS < MIN_PREFIX_SECONDS:
        return False
    sparse = CHECK_BELOW_TOKENS_PER_SECOND_CJK if contains_cjk(search.text) else CHECK_BELOW_TOKENS_PER_SECOND
    return search.margin < CHECK_BELOW_MARGIN or text_tokens / seconds < sparse


def uncovered_speech(model: Any, result: Any, search: ConstrainedResult) -> str | None:
    """Why the sentence does not cover the utterance, or None when it does (or when there is nothing to test).

    The sentence is read from the utterance, and again from the utterance without its last UNCOVERED_SECONDS of
    speech. A sentence whose words were all said before that loses almost nothing (mean log-prob drop per token below
    MIN_LOGPROB_DROP): the speech after it is something the grammar does not have (a coffee order heard as "make the
    light pink", a command followed by a remark)."""
    audio = getattr(result, "audio", None)
    if audio is None or not search.tokens or search.language is None:
        return None
    span = speech_span(audio)
    if not worth_checking(search, span):
        return None
    cut = span.end - int(UNCOVERED_SECONDS * SAMPLE_RATE)
    cancelled = getattr(result, "cancelled", None)
    if cancelled is not None and cancelled():
        raise DecodeCancelled("the decode was cancelled")
    # Both readings the same way (one call each), so that the comparison carries no bias of how they were computed.
    whole = sentence_logprobs(model, result.encoded, search.language, search.tokens)
    shorter = sentence_logprobs(model, result.encode_first(cut), search.language, search.tokens)
    drop = (sum(whole) - sum(shorter)) / len(search.tokens)
    if drop >= MIN_LOGPROB_DROP:
        return None
    return (f"the speech goes on after the sentence: without its last {UNCOVERED_SECONDS:.1f} s the sentence loses "
            f"only {drop:.2f} nats per token (a command's last words lose >= {MIN_LOGPROB_DROP})")
