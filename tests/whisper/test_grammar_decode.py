"""Grammar-constrained decoding with Whisper: written forms of grammar sentences, decoding and rejection on speech."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daemon.audio.audiofile import read_audio
from daemon.grammar import load_grammar
from daemon.grammar.decoders import default_reject_threshold, make_grammar_decoder
from daemon.grammar.surface import normalize_written, written_automata, written_grammar
from runtime.recognizer import open_recognizer

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "whisper-base"
REAL = REPO.parent / "shared" / "data" / "real-speech-dev"


@pytest.fixture(scope="module")
def home_grammar():
    return load_grammar([REPO / "grammars"])


@pytest.fixture(scope="module")
def automata(home_grammar):
    return written_automata(home_grammar)


@pytest.mark.parametrize("text", [
    " Turn on the kitchen light.",
    "turn on the kitchen light",
    " TURN ON THE KITCHEN LIGHT!",
    " Set the kitchen light to 40%.",
    " Set the kitchen light to forty percent.",
    " Set the bedroom temperature to 22 degrees.",
    " Turn on the kitchen light, please.",
])
def test_english_written_forms_are_accepted(automata, home_grammar, text: str) -> None:
    assert automata["en"].accepts(text.encode())
    assert home_grammar.parse(normalize_written(text)) is not None


@pytest.mark.parametrize("text", ["把卧室的空调调到26度", "把卧室的空调调到二十六度。", "打开 客厅的灯", "打开客厅的灯！"])
def test_mandarin_written_forms_are_accepted(automata, home_grammar, text: str) -> None:
    assert automata["zh-cn"].accepts(text.encode())
    assert home_grammar.parse(normalize_written(text)) is not None


@pytest.mark.parametrize("text", [
    " Turn on the kitchenlight.",  # words run together would not parse back
    " Turn on the kitchen light light.",
    " Turn on the kitchen light..",  # one mark after a word, not a run of them
    " What is the weather like today?",
    "打开客厅的灯 light",
])
def test_other_text_is_refused(automata, text: str) -> None:
    assert not automata["en"].accepts(text.encode())
    assert not automata["zh-cn"].accepts(text.encode())


def test_choices_follow_the_automaton(automata) -> None:
    recognizer = open_recognizer(MODEL)
    vocabulary = recognizer.model.vocabulary
    choices = automata["en"].choices(automata["en"].start_states(), vocabulary.trie())
    texts = {vocabulary.bytes_of(int(t)) for t in choices.token_ids}
    assert b" Turn" in texts and b" turn" in texts and b"Turn" in texts
    assert b" What" not in texts
    assert not choices.can_end


@pytest.fixture(scope="module")
def recognizer():
    return open_recognizer(MODEL, num_threads=2)


def _decode(recognizer, decoder, samples):
    session = recognizer.create_session()
    for begin in range(0, len(samples), 1600):
        session.accept_waveform(samples[begin:begin + 1600])
    return decoder.decode_result(session.finalize())


@pytest.mark.parametrize("name, intent, slots", [
    ("en_turn_on_kitchen_light", "HassTurnOn", {"area": "kitchen", "device": "light", "domain": "light"}),
    ("en_bedroom_temperature_22", "HassClimateSetTemperature", {"area": "bedroom", "temperature": 22}),
    ("zh_turn_on_living_room_light", "HassTurnOn", {"area": "living_room", "device": "light", "domain": "light"}),
    ("zh_bedroom_ac_26_degrees", "HassClimateSetTemperature", {"area": "bedroom", "temperature": 26}),
])
def test_demo_commands(recognizer, home_grammar, name, intent, slots) -> None:
    decoder = make_grammar_decoder(home_grammar, recognizer)
    result = _decode(recognizer, decoder, read_audio(REPO / "demo" / "audio" / f"{name}.wav"))
    assert result.recognized, result
    assert (result.intent, result.slots) == (intent, slots)
    assert result.language == name[:2]
    assert 0.0 < result.confidence <= 1.0
    # published tokens are the words of the sentence (one unit per CJK character, ▁ before an English word)
    units = [unit.replace("\u2581", "") for unit, *_ in result.tokens]
    assert units == (result.text.split() if name.startswith("en") else list(result.text))


def test_speech_that_is_no_command_is_rejected(recognizer, home_grammar) -> None:
    decoder = make_grammar_decoder(home_grammar, recognizer)
    result = _decode(recognizer, decoder, read_audio(REPO / "demo" / "audio" / "en_not_a_command.wav"))
    assert not result.recognized
    assert result.margin < default_reject_threshold(recognizer)
    assert "weather" in result.free_text.lower()


def test_real_coffee_orders_with_words_no_model_of_ours_was_trained_on(recognizer) -> None:
    """Three real speakers of Picovoice's benchmark (dev clips): cappuccino, americano, sweetener ... are only
    grammar words; each order comes out with every slot."""
    grammar = load_grammar([REAL / "coffee" / "coffee_en.yaml"])
    labels = json.loads((REAL / "coffee" / "label.json").read_text())
    decoder = make_grammar_decoder(grammar, recognizer)
    clips = sorted((REAL / "coffee" / "clean").glob("*.flac"))[::70]
    for clip in clips:
        result = _decode(recognizer, decoder, read_audio(clip))
        label = labels[clip.stem + ".wav"]
        assert result.recognized, (clip.name, result)
        assert (result.intent, result.slots) == (label["intent"], label["slots"]), clip.name


def test_real_coffee_order_is_not_a_home_command(recognizer, home_grammar) -> None:
    decoder = make_grammar_decoder(home_grammar, recognizer)
    clip = sorted((REAL / "coffee" / "clean").glob("*.flac"))[5]
    result = _decode(recognizer, decoder, read_audio(clip))
    assert not result.recognized
    assert "whole milk" in result.free_text.lower()  # the full free transcript, not cut at the grammar sentence


def test_only_the_first_word_may_go_without_a_separator() -> None:
    """After an optional first word ("the"), the next word needs its space: "TheLeaving" would not parse."""
    import yaml

    grammar = load_grammar_text(yaml.safe_dump({"language": "en", "intents": {"Away": {"data": [
        {"sentences": ["[the] leaving home mode"]}]}}}))
    automaton = written_automata(grammar)["en"]
    assert automaton.accepts(b" The leaving home mode.")
    assert automaton.accepts(b"leaving home mode")
    assert not automaton.accepts(b" TheLeaving home mode")


def test_traditional_characters_are_read_back_as_the_grammars(home_grammar) -> None:
    written = written_grammar(home_grammar)
    assert written.automata["zh-cn"].accepts("打開客廳的燈".encode())
    assert home_grammar.parse(written.to_parser_text("打開客廳的燈。")).intent == "HassTurnOn"


def load_grammar_text(text: str):
    """A grammar from YAML text (written to a temporary file)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "g.yaml"
        path.write_text(text, encoding="utf-8")
        return load_grammar([path])


def test_language_probability_is_the_speech_language(recognizer, home_grammar) -> None:
    from runtime.whisper.search import constrained_decode

    decoder = make_grammar_decoder(home_grammar, recognizer)
    for name, language in (("zh_turn_on_living_room_light", "zh-cn"), ("en_turn_on_kitchen_light", "en")):
        session = recognizer.create_session()
        session.accept_waveform(read_audio(REPO / "demo" / "audio" / f"{name}.wav"))
        heard = constrained_decode(recognizer.model, session.finalize().encoded, decoder.automata)
        assert heard.language == language
        assert heard.language_probability > 0.5, (name, heard.language_probability)
        other = {"en": "zh-cn", "zh-cn": "en"}[language]
        alone = constrained_decode(recognizer.model, session.finalize().encoded, {other: decoder.automata[other]})
        assert alone.language == other and alone.language_probability < 0.5


@pytest.mark.parametrize("probability, recognized", [(0.005, False), (0.02, True)])
def test_a_sentence_in_a_language_not_heard_is_rejected(recognizer, home_grammar, monkeypatch, probability,
                                                        recognized) -> None:
    import dataclasses

    import daemon.grammar.whisper_decode as whisper_decode

    real = whisper_decode.constrained_decode
    monkeypatch.setattr(whisper_decode, "constrained_decode", lambda *args, **kwargs: dataclasses.replace(
        real(*args, **kwargs), language_probability=probability))
    decoder = make_grammar_decoder(home_grammar, recognizer)
    result = _decode(recognizer, decoder, read_audio(REPO / "demo" / "audio" / "en_turn_on_kitchen_light.wav"))
    assert result.recognized is recognized
    if not recognized:
        assert "language probability 0.0050" in result.reason
        assert result.margin >= default_reject_threshold(recognizer)  # the margin alone would have accepted it
