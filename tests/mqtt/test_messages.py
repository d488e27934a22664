"""Message classes: topics, payload round-trips, Hermes fields (rhasspy-hermes parses them), HA requirements."""

from __future__ import annotations

import json
import random

import pytest
from rhasspyhermes.asr import AsrTextCaptured
from rhasspyhermes.nlu import NluIntent, NluIntentNotRecognized

from daemon.events import IntentEvent, TokenInfo
from daemon.mqtt.messages import (
    CommandError,
    CommandMessage,
    DiscoveryMessage,
    ErrorMessage,
    HaEventMessage,
    HermesIntent,
    HermesIntentNotRecognized,
    HermesTextCaptured,
    IntentMessage,
    LastCommandMessage,
    NotRecognizedMessage,
    StateMessage,
    StatusMessage,
    discovery_messages,
    intent_messages,
    is_ha_birth,
    not_recognized_messages,
)
from daemon.mqtt.topics import SiteTopics, check_site_id, discovery_topic, topic_level
from tests.mqtt.factories import make_intent, make_not_recognized

TOPICS = SiteTopics("voicecmd", "kitchen")


def ha_snips_reads(payload: bytes) -> dict:
    """What Home Assistant's snips integration reads from hermes/intent/#; KeyError/AssertionError if it would fail."""
    request = json.loads(payload)
    assert isinstance(request["input"], str)
    assert isinstance(request["intent"]["intentName"], str)
    float(request["intent"]["confidenceScore"])  # compared with snips: probability_threshold
    slots = {}
    for slot in request.get("slots", []):
        assert isinstance(slot["slotName"], str)
        assert isinstance(slot["value"]["kind"], str)
        assert set(slot["value"]) <= {"kind", "value", "rawValue"}
        slots[slot["slotName"]] = slot["value"]["value"] if "value" in slot["value"] else slot["rawValue"]
        slots[slot["slotName"] + "_raw"] = slot["rawValue"]
    return slots


# ------------------------------------------------------------------------------------------------ round trips

ROUND_TRIPS = [
    IntentMessage("voicecmd", make_intent(3)),
    NotRecognizedMessage("voicecmd", make_not_recognized(4)),
    StatusMessage("voicecmd", "kitchen", True),
    StatusMessage("home/voice", "kitchen", False),
    StateMessage("voicecmd", "kitchen", {"listening": True, "muted": False, "grammar_version": "abc", "model": "m"}),
    ErrorMessage("voicecmd", "kitchen", "grammar lights.yaml:3:1: bad rule", 1700000000.5),
    HaEventMessage.for_intent("voicecmd", make_intent(5)),
    HaEventMessage.for_not_recognized("voicecmd", make_not_recognized(6)),
    LastCommandMessage.from_event("voicecmd", make_intent(7)),
    HermesIntent.from_event(make_intent(8)),
    HermesIntentNotRecognized.from_event(make_not_recognized(9)),
    HermesTextCaptured.from_event(make_intent(10)),
    HermesTextCaptured.from_event(make_not_recognized(11)),
    *discovery_messages(TOPICS, "homeassistant", ["SetBrightness", "TurnOn"], "0.1.0"),
    CommandMessage("voicecmd", "kitchen", "mute"),
]


@pytest.mark.parametrize("msg", ROUND_TRIPS, ids=lambda m: f"{type(m).__name__}:{m.topic()}")
def test_payload_round_trip(msg):
    parsed = type(msg).from_payload(msg.topic(), msg.payload()) if not isinstance(msg, CommandMessage) else (
        CommandMessage.from_payload(TOPICS, msg.topic(), msg.payload())
    )
    assert parsed == msg
    assert parsed.topic() == msg.topic()


def test_native_intent_topic_and_fields():
    ev = make_intent(1)
    msg = IntentMessage("voicecmd", ev)
    assert msg.topic() == "voicecmd/kitchen/intent/SetBrightness"
    assert IntentMessage.is_topic(msg.topic()) and not IntentMessage.is_topic("voicecmd/kitchen/intent")
    d = json.loads(msg.payload())
    assert d["intent"] == "SetBrightness" and d["slots"] == {"area": "living_room", "brightness": 50}
    assert d["site_id"] == "kitchen" and d["utterance_id"] == "utt-00001" and d["confidence"] == 0.875
    assert d["start_time"] < d["end_time"] and d["text"] == ev.text
    assert msg.qos == 1 and not msg.retain


def test_retained_and_never_retained():
    assert StatusMessage.retain and StateMessage.retain and LastCommandMessage.retain and DiscoveryMessage.retain
    # an HA event or an intent replayed on reconnect/restart would trigger automations again
    assert not HaEventMessage.retain and not IntentMessage.retain and not HermesIntent.retain


# ------------------------------------------------------------------------------------------------ Hermes


def test_hermes_intent_fields_follow_rhasspy():
    msg = HermesIntent.from_event(make_intent(0))
    d = json.loads(msg.payload())
    assert msg.topic() == "hermes/intent/SetBrightness"
    assert set(d) == {"input", "rawInput", "intent", "slots", "id", "siteId", "sessionId", "customData", "asrTokens",
                      "asrConfidence", "wakewordId", "lang"}
    assert d["rawInput"] == "set the living room light to fifty"
    assert d["input"] == "set the living_room light to 50"
    assert d["intent"] == {"intentName": "SetBrightness", "confidenceScore": 0.875}
    by_name = {s["slotName"]: s for s in d["slots"]}
    bright = by_name["brightness"]
    assert bright["value"] == {"kind": "Number", "value": 50} and bright["rawValue"] == "fifty"
    assert by_name["area"]["value"] == {"kind": "Unknown", "value": "living_room"}
    for slot in d["slots"]:
        r = slot["range"]
        assert d["input"][r["start"]:r["end"]] == str(slot["value"]["value"])
        assert d["rawInput"][r["rawStart"]:r["rawEnd"]] == slot["rawValue"]
        assert set(slot) == {"entity", "slotName", "rawValue", "value", "confidence", "range"}
    tok = d["asrTokens"][0][2]
    assert tok["value"] == "living" and d["rawInput"][tok["rangeStart"]:tok["rangeEnd"]] == "living"
    assert tok["time"] == {"start": 0.30, "end": 0.52}
    assert d["siteId"] == "kitchen" and d["sessionId"] == d["id"] == "utt-00000" and d["lang"] == "en"


def test_hermes_example_of_peers_spec():
    ev = IntentEvent("default", "u", "SetBrightness", {"brightness": 50}, {"brightness": "fifty"},
                     "set brightness to fifty", 1.0, 0.0, 1.0)
    slot = json.loads(HermesIntent.from_event(ev).payload())["slots"][0]
    assert slot["range"] == {"start": 18, "end": 20, "rawStart": 18, "rawEnd": 23}


def test_hermes_mandarin_ranges():
    ev = IntentEvent("default", "u", "TurnOn", {"room": "客厅", "level": 3}, {"room": "客厅", "level": "三"},
                     "把客厅的灯调到三档", 0.9, 0.0, 1.0,
                     tokens=tuple(TokenInfo(c, 0.9, i / 10, i / 10 + 0.1) for i, c in enumerate("把客厅的灯调到三档")),
                     language="zh")
    d = json.loads(HermesIntent.from_event(ev).payload())
    assert d["input"] == "把客厅的灯调到3档"
    rooms = [s for s in d["slots"] if s["slotName"] == "room"][0]
    assert rooms["range"] == {"start": 1, "end": 3, "rawStart": 1, "rawEnd": 3}
    assert [(t["rangeStart"], t["rangeEnd"]) for t in d["asrTokens"][0]] == [(i, i + 1) for i in range(9)]


def test_slot_not_in_text_has_no_range_but_keeps_ha_fields():
    ev = IntentEvent("default", "u", "Scene", {"scene": "movie"}, {}, "cinema time", 0.7, 0.0, 1.0)
    d = json.loads(HermesIntent.from_event(ev).payload())
    assert d["slots"] == [{"entity": "scene", "slotName": "scene", "rawValue": "movie",
                           "value": {"kind": "Unknown", "value": "movie"}, "confidence": 0.7}]
    assert ha_snips_reads(HermesIntent.from_event(ev).payload()) == {"scene": "movie", "scene_raw": "movie"}


def test_rhasspy_hermes_parses_our_messages():
    ev = make_intent(2)
    msg = HermesIntent.from_event(ev)
    parsed = NluIntent.from_dict(json.loads(msg.payload()))
    assert NluIntent.is_topic(msg.topic()) and NluIntent.get_intent_name(msg.topic()) == "SetBrightness"
    assert NluIntent.topic(intent_name="SetBrightness") == msg.topic()
    assert parsed.intent.intent_name == "SetBrightness" and parsed.intent.confidence_score == 0.875
    assert parsed.site_id == "kitchen" and parsed.session_id == "utt-00002" and parsed.raw_input == ev.text
    assert {s.slot_name: (s.raw_value, s.value["value"]) for s in parsed.slots} == {
        "area": ("living room", "living_room"), "brightness": ("fifty", 50)}
    assert parsed.slots[0].range.raw_end > parsed.slots[0].range.raw_start
    assert [t.value for t in parsed.asr_tokens[0]] == ["set", "the", "living", "room", "light", "to", "fifty", "2"]
    assert parsed.asr_tokens[0][1].time.start == 0.22

    nr = HermesIntentNotRecognized.from_event(make_not_recognized(1))
    parsed_nr = NluIntentNotRecognized.from_dict(json.loads(nr.payload()))
    assert nr.topic() == NluIntentNotRecognized.topic() == "hermes/nlu/intentNotRecognized"
    assert parsed_nr.input == "what a lovely day" and parsed_nr.site_id == "kitchen" and parsed_nr.id == "nr-00001"

    tc = HermesTextCaptured.from_event(ev)
    parsed_tc = AsrTextCaptured.from_dict(json.loads(tc.payload()))
    assert tc.topic() == AsrTextCaptured.topic() == "hermes/asr/textCaptured"
    assert parsed_tc.text == ev.text and parsed_tc.likelihood == 0.875 and parsed_tc.seconds == pytest.approx(1.25)
    assert parsed_tc.site_id == "kitchen" and len(parsed_tc.asr_tokens[0]) == 8


def test_home_assistant_snips_integration_reads_every_slot():
    slots = ha_snips_reads(HermesIntent.from_event(make_intent(0)).payload())
    assert slots == {"area": "living_room", "area_raw": "living room", "brightness": 50, "brightness_raw": "fifty"}


# ------------------------------------------------------------------------------------------------ Home Assistant


def test_discovery_configs():
    msgs = discovery_messages(TOPICS, "homeassistant", ["SetBrightness", "TurnOn", "SetBrightness"], "1.2.3")
    configs = {(m.component, m.object_name): json.loads(m.payload()) for m in msgs}
    assert set(configs) == {("event", "command"), ("sensor", "last_command"), ("sensor", "state"),
                            ("button", "mute"), ("button", "unmute"), ("button", "reload")}
    assert msgs[0].topic() == "homeassistant/event/voicecmd_kitchen/command/config"
    event = configs["event", "command"]
    assert event["event_types"] == ["SetBrightness", "TurnOn", "not_recognized"]
    assert event["state_topic"] == TOPICS.event
    assert configs["sensor", "last_command"]["state_topic"] == TOPICS.last_command
    assert configs["sensor", "last_command"]["value_template"] == "{{ value_json.text }}"
    assert configs["sensor", "state"]["state_topic"] == TOPICS.state
    for (component, name), cfg in configs.items():
        assert cfg["availability_topic"] == "voicecmd/kitchen/status"
        assert cfg["unique_id"] == f"voicecmd_kitchen_{name}"
        assert cfg["device"] == event["device"]  # one device per site
        assert cfg["device"]["identifiers"] == ["voicecmd_kitchen"] and cfg["device"]["sw_version"] == "1.2.3"
        assert cfg["origin"]["name"] == "voicecmd"
        if component == "button":  # what the button sends must be a command the link accepts
            cmd = CommandMessage.from_payload(TOPICS, cfg["command_topic"], cfg["payload_press"].encode())
            assert cmd.command == name
    assert all(m.retain for m in msgs)


def test_ha_event_payload_carries_event_type_and_slots():
    d = json.loads(HaEventMessage.for_intent("voicecmd", make_intent(0)).payload())
    assert d["event_type"] == "SetBrightness" and d["brightness"] == 50 and d["area"] == "living_room"
    assert d["slots"] == {"area": "living_room", "brightness": 50}
    nr = json.loads(HaEventMessage.for_not_recognized("voicecmd", make_not_recognized(0)).payload())
    assert nr["event_type"] == "not_recognized" and nr["text"] == "what a lovely day"


def test_ha_birth_detection():
    assert is_ha_birth("homeassistant", "homeassistant/status", b"online")
    assert not is_ha_birth("homeassistant", "homeassistant/status", b"offline")
    assert not is_ha_birth("homeassistant", "other/status", b"online")


def test_messages_for_one_utterance():
    ev = make_intent(0)
    topics = [m.topic() for m in intent_messages("voicecmd", ev, hermes=True, ha_event=True)]
    assert topics == ["voicecmd/kitchen/intent/SetBrightness", "hermes/asr/textCaptured",
                      "hermes/intent/SetBrightness", "voicecmd/kitchen/event"]
    assert [m.topic() for m in intent_messages("voicecmd", ev, hermes=False, ha_event=False)] == topics[:1]
    nr_topics = [m.topic() for m in not_recognized_messages("v", make_not_recognized(), hermes=True, ha_event=False)]
    assert nr_topics == ["v/kitchen/not_recognized", "hermes/asr/textCaptured", "hermes/nlu/intentNotRecognized"]


# ------------------------------------------------------------------------------------------------ topics


def test_topic_helpers():
    assert topic_level("a/b+c#") == "a_b_c_"
    assert discovery_topic("homeassistant", "event", "voicecmd.kit chen", "x") == \
        "homeassistant/event/voicecmd_kit_chen/x/config"
    assert TOPICS.command_name("voicecmd/kitchen/set/mute") == "mute"
    assert TOPICS.command_name("voicecmd/kitchen/set/mute/x") is None
    assert TOPICS.command_name("voicecmd/other/set/mute") is None
    for bad in ("", "a/b", "a+", "#", " x"):
        with pytest.raises(ValueError):
            check_site_id(bad)
    assert IntentMessage("voicecmd", make_intent(0, intent="Odd/Name#")).topic() == "voicecmd/kitchen/intent/Odd_Name_"


# ------------------------------------------------------------------------------------------------ commands


@pytest.mark.parametrize("payload,args", [(b"", {}), (b"  \n", {}), (b"null", {}), (b"{}", {}),
                                          (b'{"reason": "night"}', {"reason": "night"})])
def test_command_lenient_payloads(payload, args):
    cmd = CommandMessage.from_payload(TOPICS, "voicecmd/kitchen/set/mute", payload)
    assert cmd.command == "mute" and dict(cmd.args) == args


@pytest.mark.parametrize("topic,payload,words", [
    ("voicecmd/kitchen/set/explode", b"", "unknown command"),
    ("voicecmd/kitchen/set/mute", b"[1, 2]", "JSON object"),
    ("voicecmd/kitchen/set/mute", b"42", "JSON object"),
    ("voicecmd/kitchen/set/mute", b'"mute"', "JSON object"),
    ("voicecmd/kitchen/set/mute", b"{not json", "not JSON"),
    ("voicecmd/kitchen/set/mute", b"\xff\xfe\x00", "not UTF-8"),
    ("voicecmd/kitchen/set/reload", b"[" * 100000, "too large"),
    ("voicecmd/kitchen/set/reload", b"[" * 4000, "not JSON"),
])
def test_command_malformed(topic, payload, words):
    with pytest.raises(CommandError, match=words):
        CommandMessage.from_payload(TOPICS, topic, payload)


def test_command_fuzz_raises_only_command_error():
    rng = random.Random(1234)
    for _ in range(2000):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        try:
            cmd = CommandMessage.from_payload(TOPICS, "voicecmd/kitchen/set/unmute", payload)
        except CommandError:
            continue
        assert cmd.command == "unmute" and isinstance(cmd.args, dict)
