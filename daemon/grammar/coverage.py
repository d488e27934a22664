"""Speech the sentence does not cover: a Whisper sentence that fits as well without the last second of speech."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from daemon.grammar.words import contains_cjk
from daemon.vad import SAMPLE_RATE, make_webrtc_detector
from runtime.errors import DecodeCancelled
from runtime.whisper.search import ConstrainedResult, free_continuation, sentence_logprobs

# Chosen on the synthetic held-out corpus only (never on the real dev recordings): 300 held-out commands clean and at
# 12 dB, and 160 held-out commands each followed, 150 ms later, by an out-of-grammar sentence of the held-out set (the
# "followed" set of `voicecmd bench accuracy-synthetic`). Cutting the last second of speech costs a command's own
# sentence its last words: >= 2.08 nats in 484 of the 486 accepted commands long enough to cut; of the other two one
# was decoded "to 4" for "forty five" (a wrong slot), one is a 12 dB clip whose noise the voice detector took for
# speech. A sentence that loses less than MAX_SENTENCE_DROP while the free transcript loses MIN_FREE_EXCESS more was
# said before the last second, and the speech after it is no command: 89 of the 138 accepted commands-with-a-
# sentence-after-them (96 if every sentence were tested).
UNCOVERED_SECONDS = 1.0
MAX_SENTENCE_DROP = 1.5  # nats, the whole sentence
MIN_FREE_EXCESS = 3.0  # nats: the free transcript needs the last second this much more than the sentence
MIN_SPEECH_SECONDS = 1.5  # shorter speech: nothing left to compare once the last second is cut
# The test costs an encoder run and about four decoder calls, so it runs only where doubt is plausible: a margin
# below -1.0 (where the synthetic out-of-grammar sentences that were ever accepted lie), or few sentence tokens per
# second of speech. Commands (5th percentile / median): en 2.0 / 3.1, zh 3.1 / 4.8 tokens a second; a command with a
# sentence after it: en 1.1 / 1.8, zh 2.3 / 3.4.
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
    if seconds < MIN_SPEECH_SECONDS:
        return False
    sparse = CHECK_BELOW_TOKENS_PER_SECOND_CJK if contains_cjk(search.text) else CHECK_BELOW_TOKENS_PER_SECOND
    return search.margin < CHECK_BELOW_MARGIN or text_tokens / seconds < sparse


def last_second_drops(model: Any, result: Any, search: ConstrainedResult, span: SpeechSpan) -> tuple[float, float]:
    """How many nats the sentence and the free transcript (carried on to its end) lose when the utterance is read
    without its last UNCOVERED_SECONDS of speech."""
    sentence = search.tokens
    free_language = search.free.language or search.language
    free = free_continuation(model, result.encoded, free_language, search.free.tokens, 2 * len(sentence) + 24)
    shorter = result.encode_first(span.end - int(UNCOVERED_SECONDS * SAMPLE_RATE))
    sums = []
    for encoded in (result.encoded, shorter):
        if free_language == search.language:
            read = sentence_logprobs(model, encoded, search.language, [sentence, free])
        else:
            read = (sentence_logprobs(model, encoded, search.language, [sentence])
                    + sentence_logprobs(model, encoded, free_language, [free]))
        sums.append([sum(tokens) for tokens in read])
    return sums[0][0] - sums[1][0], sums[0][1] - sums[1][1]


def uncovered_speech(model: Any, result: Any, search: ConstrainedResult) -> str | None:
    """Why the sentence does not cover the utterance, or None when it does (or when there is nothing to test).

    A command's sentence needs its last words: read without the last second of speech it loses much. One whose words
    were all said before that loses almost nothing, while the free transcript, which heard the rest, loses much more:
    the speech after the sentence is something the grammar does not have (a coffee order heard as "make the light
    pink", a command followed by a remark). When the last second holds no speech (noise, silence the voice detector
    took for speech) neither loses much, and the sentence stands."""
    audio = getattr(result, "audio", None)
    if audio is None or not search.tokens or search.language is None:
        return None
    span = speech_span(audio)
    if not worth_checking(search, span):
        return None
    cancelled = getattr(result, "cancelled", None)
    if cancelled is not None and cancelled():
        raise DecodeCancelled("the decode was cancelled")
    sentence_drop, free_drop = last_second_drops(model, result, search, span)
    if sentence_drop >= MAX_SENTENCE_DROP or free_drop - sentence_drop < MIN_FREE_EXCESS:
        return None
    return (f"the speech goes on after the sentence: without its last {UNCOVERED_SECONDS:.1f} s the sentence loses "
            f"{sentence_drop:.1f} nats, the free transcript {free_drop:.1f}")
