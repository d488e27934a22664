"""Pure parts of the Wyoming server: PCM conversion, the limited event reader, the home file, the HA converter."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import yaml

from daemon.commands.grammar_from_ha import Home, convert
from daemon.errors import ConfigError
from daemon.wyoming.audio import AudioFormatError, PcmConverter, check_format
from daemon.wyoming.protocol import EventLimits, ProtocolError, read_event


def _tone(rate: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_width_becomes_int16(width):
    samples = _tone(16000)
    wide = samples.astype(np.int32) << 16
    raw = {1: ((samples >> 8) + 128).astype(np.uint8).tobytes(), 2: samples.astype("<i2").tobytes(),
           3: wide.astype("<i4").view(np.uint8).reshape(-1, 4)[:, 1:].tobytes(), 4: wide.astype("<i4").tobytes()}
    out = PcmConverter(16000, width, 1).convert(raw[width])
    assert len(out) == len(samples)
    assert np.max(np.abs(out.astype(np.int32) - samples)) <= (256 if width == 1 else 1)


def test_stereo_48k_split_mid_frame_is_mixed_and_resampled():
    left = _tone(48000, 1.0)
    frames = np.stack([left, left], axis=1).astype("<i2").tobytes()
    conv = PcmConverter(48000, 2, 2)
    out = np.concatenate([conv.convert(frames[i:i + 1001]) for i in range(0, len(frames), 1001)])
    assert abs(len(out) - 16000) <= 16 and conv.seconds == pytest.approx(1.0)
    assert 7000 < np.max(np.abs(out[1000:-1000])) < 8500


@pytest.mark.parametrize("fmt", [(16000, 2, 0), (4000, 2, 1), (16000, 6, 1), ("16000", 2, 1), (16000, True, 1)])
def test_bad_formats_are_refused(fmt):
    with pytest.raises(AudioFormatError):
        check_format(*fmt)


def _read(data: bytes, limits: EventLimits = EventLimits()):
    async def go():
        reader = asyncio.StreamReader(limit=limits.max_header_bytes)
        reader.feed_data(data)
        reader.feed_eof()
        return await read_event(reader, limits)

    return asyncio.run(go())


def test_an_event_with_data_and_payload_is_read():
    event = _read(b'{"type": "audio-chunk", "data": {"rate": 1}, "data_length": 12, "payload_length": 3}\n'
                  b'{"width": 2}abc')
    assert (event.type, event.data, event.payload) == ("audio-chunk", {"rate": 1, "width": 2}, b"abc")


def test_eof_between_or_inside_events_is_none():
    assert _read(b"") is None
    assert _read(b'{"type": "x", "payload_length": 10}\nabc') is None


@pytest.mark.parametrize("data,code", [
    (b"garbage\n", "malformed-event"), (b"[1, 2]\n", "malformed-event"), (b'{"type": 3}\n', "malformed-event"),
    (b'{"type": "x", "data": []}\n', "malformed-event"), (b'{"type": "x", "payload_length": -1}\n', "malformed-event"),
    (b'{"type": "x", "payload_length": 99999999}\n', "event-too-large"),
    (b'{"type": "x", "data_length": 2}\n[]', "malformed-event"),
])
def test_bad_events_raise_protocol_errors(data, code):
    with pytest.raises(ProtocolError) as err:
        _read(data)
    assert err.value.code == code


def test_home_file_accepts_the_intents_fixture_format():
    home = Home.from_dict({"areas": [{"name": "Kitchen", "id": "kitchen"}, "Hall"],
                           "entities": [{"name": "Lamp", "id": "light.lamp", "area": "kitchen"},
                                        {"name": "Fan", "domain": "fan", "aliases": ["breeze"]}]})
    assert list(home.areas) == ["Kitchen", "Hall"]
    assert [(e.name, e.domain, e.area, e.aliases) for e in home.entities] == [
        ("Lamp", "light", "Kitchen", ()), ("Fan", "fan", None, ("breeze",))]
    for bad in ([], {"rooms": []}, {"entities": [{"name": "x"}]}, {"areas": [{"id": 1}]}):
        with pytest.raises(ConfigError):
            Home.from_dict(bad)


def test_convert_keeps_blocks_whose_lists_and_domains_exist():
    ha = {"language": "en", "lists": {"brightness": {"range": {"from": 0, "to": 100}}, "q": {"wildcard": True},
                                      "k": {"range": {"from": 1000, "to": 10000, "step": 100}}},
          "expansion_rules": {"the": "the", "area": "[<the>] {area}"},
          "intents": {"HassTurnOn": {"data": [
              {"sentences": ["turn on <area> light[s]"], "slots": {"domain": "light"}},
              {"sentences": ["open <area> garage"], "slots": {"domain": "cover"}},
              {"sentences": ["play {q}"]},
              {"sentences": ["turn on {name}", "light up"], "requires_context": {"area": {"slot": True}}},
              {"sentences": ["set to {k} kelvin day[ ]light"]}]}}}
    home = Home.from_dict({"areas": ["kitchen"], "entities": [{"name": "lamp (big)", "id": "light.x"}]})
    out = convert(ha, home, ["HassTurnOn"], "en")
    blocks = out.intents["HassTurnOn"]["intents"]["HassTurnOn"]["data"]
    assert [b["sentences"] for b in blocks] == [["turn on <area> light[s]"], ["turn on {name}", "light up"],
                                                ["set to {k} kelvin day light"]]
    assert "requires_context" not in blocks[1]
    assert out.dropped_blocks == 2
    lists = out.common["lists"]
    assert lists["k"]["range"]["to"] == 9900 and "q" not in lists and "brightness" not in lists
    assert lists["name"]["values"] == [{"in": "lamp \\(big\\)", "out": "lamp (big)", "context": {"domain": "light"}}]
    assert out.common["expansion_rules"] == {"area": "[<the>] {area}", "the": "the"}
    with pytest.raises(ConfigError):
        convert(ha, home, ["HassNoSuchIntent"], "en")


def test_the_guide_s_examples_load():
    import re

    from daemon.config import config_from_dict
    from tests.wyoming.helpers import REPO

    text = (REPO / "docs" / "home-assistant.md").read_text(encoding="utf-8")
    section = text[text.index("## 4. Wyoming"):]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]
    home = next(b for b in blocks if "areas" in b)
    assert Home.from_dict(home).domains == {"light", "scene"}
    config = next(b for b in blocks if "wyoming" in b)
    assert config_from_dict(config).wyoming.enabled
