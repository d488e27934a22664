"""The daemon as a subprocess on synthesised speech, a real mosquitto and a real paho subscriber: payloads in the
native and Hermes topics; two daemons with different site_ids on one broker."""

from __future__ import annotations

import time

import pytest

from tests.daemon.speech import speech_bounds, synth_samples, write_wav
from tests.helpers.mosquitto import Broker, Subscriber
from tests.integration.daemon_proc import FIXTURE_MODEL, TINY_GRAMMAR, DaemonProcess, write_config


def make_recordings(directory, count: int) -> list[tuple[float, float]]:
    """``count`` WAVs of a synthesised command; returns each file's (speech start, speech end) in seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    speech = synth_samples("turn the light off")
    for i in range(count):
        write_wav(directory / f"cmd{i}.wav", speech)
    return [speech_bounds(speech)] * count


def site_config(tmp_path, site: str, recordings, port: int, grammar):
    return write_config(
        tmp_path / site,
        audio={"source": "wav", "wav_path": str(recordings), "realtime": False, "gap_s": 1.0},
        model={"dir": str(FIXTURE_MODEL)},
        grammar={"paths": [str(grammar)], "watch": False, "reject_threshold": -1e6},
        mqtt={"host": "127.0.0.1", "port": port},
        service={"site_id": site},
        logging={"target": "stderr"},
    )


def test_intent_payloads_native_and_hermes(tmp_path):
    from rhasspyhermes.nlu import NluIntent

    recordings = tmp_path / "rec"
    bounds = make_recordings(recordings, 1)
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    with Broker(tmp_path / "broker").start() as broker, \
            Subscriber(broker.port, ["voicecmd/#", "hermes/#", "homeassistant/#"]) as sub:
        before = time.time()
        daemon = DaemonProcess(site_config(tmp_path, "hall", recordings, broker.port, grammar))
        assert daemon.wait(60) == 0, daemon.log()
        daemon.stop()
        sub.wait_for(lambda ms: any(m.topic == "hermes/intent/LightOff" for m in ms), 10)
        [native] = sub.on("voicecmd/hall/intent/LightOff")
        payload = native.json()
        assert native.qos == 1 and not native.retain
        assert payload["intent"] == "LightOff" and payload["site_id"] == "hall"
        assert payload["text"] == "turn light off" and 0.0 <= payload["confidence"] <= 1.0
        (first, last), = bounds
        assert payload["start_time"] < payload["end_time"] < time.time()
        assert payload["end_time"] - payload["start_time"] == pytest.approx(last - first, abs=0.3)
        assert payload["end_time"] > before - 5
        assert len(payload["utterance_id"]) == 32

        [hermes] = sub.on("hermes/intent/LightOff")
        nlu = NluIntent.from_dict(hermes.json())
        assert nlu.site_id == "hall" and nlu.intent.intent_name == "LightOff" and nlu.input == "turn light off"
        assert nlu.session_id == payload["utterance_id"]
        assert sub.on("voicecmd/hall/status")[-1].payload == b"offline"
        assert any(m.topic.startswith("homeassistant/") for m in sub.messages)  # discovery announced


def test_two_sites_on_one_broker_each_command_once_under_its_own_site(tmp_path):
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    counts = {"kitchen": 2, "bedroom": 3}
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, ["voicecmd/#", "hermes/#"]) as sub:
        daemons = []
        for site, n in counts.items():
            make_recordings(tmp_path / f"rec-{site}", n)
            daemons.append(DaemonProcess(site_config(tmp_path, site, tmp_path / f"rec-{site}", broker.port, grammar)))
        for d in daemons:
            assert d.wait(60) == 0, d.log()
            d.stop()
        total = sum(counts.values())
        sub.wait_for(lambda ms: sum(m.topic == "hermes/intent/LightOff" for m in ms) >= total, 10)
        time.sleep(0.3)  # nothing more may arrive
        for site, n in counts.items():
            native = sub.on(f"voicecmd/{site}/intent/LightOff")
            assert len(native) == n
            assert {m.json()["site_id"] for m in native} == {site}
            hermes = [m.json() for m in sub.on("hermes/intent/LightOff") if m.json()["siteId"] == site]
            assert len(hermes) == n
            assert {h["sessionId"] for h in hermes} == {m.json()["utterance_id"] for m in native}
        ids = [m.json()["utterance_id"] for m in sub.messages if "/intent/" in m.topic and m.topic.startswith("voicecmd")]
        assert len(ids) == len(set(ids)) == total
