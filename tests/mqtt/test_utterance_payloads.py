"""What an utterance's payloads say (issue 12): its language, Home Assistant's ``domain`` slot, and tokens that are
words of the published text. Decoded with the shipped grammars and the bundled model's units (no audio needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rhasspyhermes.asr import AsrTextCaptured
from rhasspyhermes.nlu import NluIntent

from daemon.events import NotRecognizedEvent, TokenInfo
from daemon.grammar import load_grammar
from daemon.grammar.decode import GrammarDecoder
from daemon.mqtt.hermes import HermesIntent, HermesTextCaptured
from daemon.mqtt.language import utterance_language
from daemon.mqtt.messages import HaEventMessage, IntentMessage, NotRecognizedMessage
from daemon.pipeline import ActiveGrammar, utterance_event
from runtime.tokenizer import ModelTokenizer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def active() -> ActiveGrammar:
    grammar = load_grammar([REPO / "grammars"])  # en and zh, en loaded first
    tokenizer = ModelTokenizer.for_model_dir(REPO / "models" / "default")
    return ActiveGrammar(decoder=GrammarDecoder(grammar, tokenizer), language=grammar.language, version="t",
                         grammar=grammar)


def _said(active: ActiveGrammar, units: list[str], seed: int = 0) -> np.ndarray:
    """Peaky synthetic CTC log-probs of a unit sequence (3 frames apart) over the model's units."""
    table = active.decoder.tokenizer.units
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.0, (6 + 3 * len(units), len(table)))
    logits[:, 0] += 7.0
    for i, unit in enumerate(units):
        logits[3 + 3 * i, table.symbol_to_id[unit]] += 16.0
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)


def _event(active: ActiveGrammar, units: list[str]):
    decoded = active.decoder.decode(_said(active, units), 80)
    return utterance_event(decoded, active, None, site_id="kitchen", start_time=100.0, end_time=101.5)


def _payloads(ev) -> dict:
    messages = [IntentMessage("voicecmd", ev), HermesIntent.from_event(ev), HermesTextCaptured.from_event(ev),
                HaEventMessage.for_intent("voicecmd", ev)]
    return {type(m).__name__: json.loads(m.payload()) for m in messages}


# ------------------------------------------------------------------------------------------------ language


def test_a_mandarin_intent_carries_mandarin_everywhere(active):
    assert active.languages == ("en", "zh-cn")  # what the state reports: every language of the grammar
    ev = _event(active, list("把客厅的电视打开"))
    assert ev.intent == "HassTurnOn" and ev.language == "zh-cn"
    p = _payloads(ev)
    assert p["IntentMessage"]["language"] == "zh-cn"
    assert p["HermesIntent"]["lang"] == "zh-cn" and p["HermesTextCaptured"]["lang"] == "zh-cn"
    assert p["HaEventMessage"]["language"] == "zh-cn"
    assert NluIntent.from_dict(p["HermesIntent"]).lang == "zh-cn"


def test_an_english_intent_of_the_same_grammar_is_english(active):
    ev = _event(active, ["▁TURN", "▁ON", "▁THE", "▁KITCHEN", "▁LIGHT"])
    assert ev.text == "turn on the kitchen light" and ev.language == "en"
    assert _payloads(ev)["HermesTextCaptured"]["lang"] == "en"


def test_not_recognized_speech_carries_its_language(active):
    ev = NotRecognizedEvent("kitchen", "u1", "今天天气怎么样", 0.2, 0.0, 1.0, "rejected",
                            language=utterance_language("今天天气怎么样", active.languages))
    assert json.loads(NotRecognizedMessage("voicecmd", ev).payload())["language"] == "zh-cn"
    assert json.loads(HermesTextCaptured.from_event(ev).payload())["lang"] == "zh-cn"
    rejected = _event(active, ["▁SEV", "▁FAN", "▁TO", "▁THE", "▁BLIND"])
    assert isinstance(rejected, NotRecognizedEvent) and rejected.language == "en"


@pytest.mark.parametrize("text,languages,matched,expected", [
    ("把灯打开", ["en", "zh-cn"], (), "zh-cn"),
    ("把灯打开", ["en"], (), "zh"),
    ("turn on the light", ["zh-cn", "en"], (), "en"),
    ("licht an", ["en", "de", "zh"], ("de",), "de"),
    ("", ["en", "zh-cn"], (), None),
    ("", ["zh-cn"], (), "zh-cn"),
])
def test_utterance_language(text, languages, matched, expected):
    assert utterance_language(text, languages, matched) == expected


# ------------------------------------------------------------------------------------------------ Home Assistant domain


@pytest.mark.parametrize("units,device,domain", [
    (list("打开客厅的灯"), "light", "light"),
    (list("把卧室的空调关掉"), "climate", "climate"),
    (["▁TURN", "▁ON", "▁THE", "▁KITCHEN", "▁LIGHT"], "light", "light"),
])
def test_the_device_word_gives_home_assistant_its_domain(active, units, device, domain):
    ev = _event(active, units)
    assert ev.slots["device"] == device and ev.slots["domain"] == domain
    slots = {s["slotName"]: s for s in _payloads(ev)["HermesIntent"]["slots"]}
    assert slots["domain"]["value"] == {"kind": "Unknown", "value": domain}  # what HA's built-in handlers read
    assert _payloads(ev)["HaEventMessage"]["domain"] == domain


def test_a_tv_is_a_media_player(active):
    ev = _event(active, list("把客厅的电视打开"))
    assert (ev.slots["device"], ev.slots["domain"]) == ("tv", "media_player")


# ------------------------------------------------------------------------------------------------ tokens


def test_english_asr_tokens_are_whole_lower_case_words_without_bare_marks():
    units = [TokenInfo("\u2581TURN", 0.9, 0.1, 0.3), TokenInfo("\u2581", 0.8, 0.3, 0.32),
             TokenInfo("\u2581O", 0.95, 0.32, 0.4), TokenInfo("N", 0.7, 0.4, 0.5),
             TokenInfo("\u2581THE", 0.9, 0.5, 0.6), TokenInfo("\u2581TW", 0.6, 0.6, 0.7), TokenInfo("O", 0.9, 0.7, 0.8)]
    ev = NotRecognizedEvent("kitchen", "u", "Turn on the two", 0.8, 0.0, 1.0, "rejected", tokens=tuple(units))
    d = json.loads(HermesTextCaptured.from_event(ev).payload())
    tokens = d["asrTokens"][0]
    assert [t["value"] for t in tokens] == ["turn", "on", "the", "two"]
    assert [d["text"][t["rangeStart"]:t["rangeEnd"]].lower() for t in tokens] == ["turn", "on", "the", "two"]
    assert tokens[1]["time"] == {"start": 0.32, "end": 0.5} and tokens[1]["confidence"] == 0.7
    native = json.loads(NotRecognizedMessage("voicecmd", ev).payload())["tokens"]
    assert "\u2581" not in [t["text"] for t in native] and len(native) == 6
    AsrTextCaptured.from_dict(d)


def test_a_rejected_grammar_path_is_not_sent_as_the_transcript_tokens():
    path_units = tuple(TokenInfo(u, 0.5, i * 0.1, i * 0.1 + 0.1)
                       for i, u in enumerate(["\u2581THE", "\u2581WAKE", "\u2581UP", "\u2581MODE"]))
    ev = NotRecognizedEvent("kitchen", "u", "what a lovely day", 0.31, 0.0, 1.0, "rejected", tokens=path_units)
    assert json.loads(NotRecognizedMessage("voicecmd", ev).payload())["tokens"] == []
    d = json.loads(HermesTextCaptured.from_event(ev).payload())
    tokens = d["asrTokens"][0]
    assert [t["value"] for t in tokens] == ["what", "a", "lovely", "day"]
    assert [(t["rangeStart"], t["rangeEnd"]) for t in tokens] == [(0, 4), (5, 6), (7, 13), (14, 17)]
    assert all(t["time"] is None and t["confidence"] == 0.31 for t in tokens)
    parsed = AsrTextCaptured.from_dict(d)
    assert parsed.asr_tokens[0][2].value == "lovely"


@pytest.mark.parametrize("units", [
    ["▁SEV", "▁FAN", "▁TO", "▁THE", "▁BLIND"],  # best grammar path: switch fan to low
    ["▁FAN", "▁EIGHT", "▁OPEN", "▁BLIND", "▁CHANNEL"],  # best grammar path: open blind (words of the text, not it)
])
def test_decoded_not_recognized_tokens_are_the_transcripts_words(active, units):
    ev = _event(active, units)
    assert isinstance(ev, NotRecognizedEvent) and ev.text == " ".join(u[1:].lower() for u in units)
    assert json.loads(NotRecognizedMessage("voicecmd", ev).payload())["tokens"] == []  # the path's units are not it
    d = json.loads(HermesTextCaptured.from_event(ev).payload())
    tokens = d["asrTokens"][0]
    assert [t["value"] for t in tokens] == ev.text.split()
    assert all(ev.text[t["rangeStart"]:t["rangeEnd"]] == t["value"] for t in tokens)
