"""Speech beyond the sentence: real Whisper, real and synthesised audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.audio.audiofile import read_audio
from daemon.grammar import load_grammar
from daemon.grammar.coverage import SpeechSpan, speech_span, worth_checking
from daemon.grammar.decoders import make_grammar_decoder
from runtime.recognizer import open_recognizer
from runtime.whisper.search import constrained_decode, free_continuation, sentence_logprobs

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "whisper-base"
REAL = REPO.parent / "shared" / "data" / "real-speech-dev"
DEMO = REPO / "demo" / "audio"
GAP = np.zeros(2400, np.int16)  # 150 ms between a command and what follows it


@pytest.fixture(scope="module")
def recognizer():
    return open_recognizer(MODEL, num_threads=2)


@pytest.fixture(scope="module")
def home_decoder(recognizer):
    return make_grammar_decoder(load_grammar([REPO / "grammars"]), recognizer)


def _decode(recognizer, decoder, samples):
    session = recognizer.create_session()
    session.accept_waveform(samples)
    return decoder.decode_result(session.finalize())


def test_speech_span_finds_the_voiced_part() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    voiced = (8000 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
              + rng.normal(0, 300, 16000)).astype(np.int16)
    audio = np.concatenate([np.zeros(8000, np.int16), voiced, np.zeros(16000, np.int16)])
    span = speech_span(audio)
    assert abs(span.start - 8000) <= 960 and 0 <= span.end - 24000 <= 1920  # webrtcvad hangs on ~90 ms
    assert speech_span(np.zeros(16000, np.int16)) == SpeechSpan(0, 0)


def test_short_speech_and_dense_sentences_are_not_checked(recognizer, home_decoder) -> None:
    session = recognizer.create_session()
    session.accept_waveform(read_audio(DEMO / "en_bedroom_temperature_22.wav"))
    search = constrained_decode(recognizer.model, session.finalize().encoded, home_decoder.automata)
    tokens = len(search.tokens)
    assert search.margin > -1.0
    assert worth_checking(search, SpeechSpan(0, 16000 * tokens // 2))  # 2 sentence tokens a second: sparse
    assert not worth_checking(search, SpeechSpan(0, 16000 * tokens // 4))  # 4 a second: the sentence fills it
    assert not worth_checking(search, SpeechSpan(0, 22400))  # 1.4 s: too little left once 1 s is cut


def test_reading_a_sentence_gives_the_searchs_log_probs(recognizer, home_decoder) -> None:
    session = recognizer.create_session()
    session.accept_waveform(read_audio(DEMO / "zh_bedroom_ac_26_degrees.wav"))
    encoded = session.finalize().encoded
    calls = recognizer.model.decoder_calls
    search = constrained_decode(recognizer.model, encoded, home_decoder.automata)
    assert recognizer.model.decoder_calls - calls > len(search.tokens)  # the search: a call per token
    calls = recognizer.model.decoder_calls
    read, longer = sentence_logprobs(recognizer.model, encoded, search.language,
                                     [search.tokens, search.tokens + search.tokens])
    assert recognizer.model.decoder_calls - calls == 1  # the reading: one call, one row per sentence
    read = np.array(read)
    # Not to the last digit: the int8 output projection quantises the positions read together with one scale (the
    # search's rows too, which is why its own log-probs move by up to ~1 nat with the batch they are computed in); a
    # position read off by one would be off by nats on most tokens.
    difference = np.abs(read - np.array(search.token_logprobs[:-1]))
    assert difference.mean() < 0.3 and difference.max() < 2.0, difference
    # The shorter row is padded at its end, which its own positions do not see.
    assert np.abs(read - np.array(longer[: len(read)])).mean() < 0.3


def test_the_free_transcript_goes_on_to_its_end_and_not_round(recognizer, home_decoder) -> None:
    session = recognizer.create_session()
    session.accept_waveform(np.concatenate([read_audio(DEMO / "en_turn_on_kitchen_light.wav"), GAP,
                                            read_audio(DEMO / "en_not_a_command.wav")]))
    encoded = session.finalize().encoded
    search = constrained_decode(recognizer.model, encoded, home_decoder.automata, accept_margin=-1.75)
    assert len(search.free.tokens) <= len(search.tokens)  # the search stopped it at the sentence's length
    vocab = recognizer.model.vocabulary
    free = free_continuation(recognizer.model, encoded, search.free.language, search.free.tokens, 64)
    assert free[: len(search.free.tokens)] == search.free.tokens
    text = vocab.text_of(free).lower()
    assert "weather" in text, text  # the remark after the command, which the sentence does not have
    words = [vocab.bytes_of(token).strip().lower() for token in free]
    trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    assert len(trigrams) == len(set(trigrams))


@pytest.mark.parametrize("name, after", [
    ("en_bedroom_temperature_22", "en_not_a_command"),  # a remark after the command
    ("zh_bedroom_ac_26_degrees", "zh_turn_on_living_room_light"),  # two commands in one breath: no sentence of it
])
def test_a_command_followed_by_other_speech_is_not_the_command(recognizer, home_decoder, name, after) -> None:
    command = read_audio(DEMO / f"{name}.wav")
    alone = _decode(recognizer, home_decoder, command)
    assert alone.recognized, alone
    followed = _decode(recognizer, home_decoder, np.concatenate([command, GAP, read_audio(DEMO / f"{after}.wav")]))
    assert not followed.recognized, followed
    assert "goes on after the sentence" in followed.reason


def test_a_command_with_silence_after_it_is_still_the_command(recognizer, home_decoder) -> None:
    command = read_audio(DEMO / "en_turn_on_kitchen_light.wav")
    result = _decode(recognizer, home_decoder, np.concatenate([np.zeros(16000, np.int16), command,
                                                               np.zeros(32000, np.int16)]))
    assert result.recognized and result.intent == "HassTurnOn", result


def test_real_coffee_order_heard_as_a_shorter_home_command_is_rejected(recognizer, home_decoder) -> None:
    """A real speaker's "make my light roast 8 oz iced mocha": Whisper's best home sentence is "make the light
    pink" at a margin the threshold lets through; the last second of the order is speech it does not cover."""
    clip = REAL / "coffee" / "clean" / "72aa10d4-dee5-461e-b366-dbaa2cd98a31.flac"
    result = _decode(recognizer, home_decoder, read_audio(clip))
    assert not result.recognized
    assert "goes on after the sentence" in result.reason, result.reason
