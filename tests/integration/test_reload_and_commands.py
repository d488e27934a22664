"""Grammar reloads (SIGHUP, file change, MQTT reload) swap atomically; a broken grammar is rejected and reported;
mute/unmute and fuzzed MQTT commands keep the daemon up."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import numpy as np
import pytest

from tests.daemon.speech import synth_samples
from tests.helpers.mosquitto import Broker, Subscriber
from tests.integration.daemon_proc import FIXTURE_MODEL, TINY_GRAMMAR, DaemonProcess, write_config

SITE = "reload-test"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return synth_samples("turn the light off")


def intents(sub: Subscriber, name: str) -> list:
    return [m for m in sub.messages if m.topic == f"voicecmd/{SITE}/intent/{name}"]


def start(tmp_path, broker, watch: bool):
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="OldIntent"))
    config = write_config(
        tmp_path,
        audio={"source": "stdin"},
        model={"dir": str(FIXTURE_MODEL)},
        # the fixture model has random weights: accept every path through the grammar so swaps are observable
        grammar={"paths": [str(grammar)], "watch": watch, "watch_interval_s": 0.2, "reject_threshold": -1e6},
        mqtt={"host": "127.0.0.1", "port": broker.port, "discovery": False},
        service={"site_id": SITE},
        logging={"target": "stderr"},
    )
    daemon = DaemonProcess(config, stdin_audio=True)
    daemon.start_silence()
    return daemon, grammar


def wait_state(sub: Subscriber, predicate, timeout=10):
    return sub.wait_for(lambda ms: any(m.topic == f"voicecmd/{SITE}/state" and predicate(m.json()) for m in ms),
                        timeout)


def test_sighup_with_a_broken_grammar_keeps_the_old_one_and_reports_it(tmp_path, speech):
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, ["voicecmd/#"]) as sub:
        daemon, grammar = start(tmp_path, broker, watch=False)
        with daemon:
            wait_state(sub, lambda s: s["state"] == "listening")
            old_version = [m.json() for m in sub.on(f"voicecmd/{SITE}/state")][-1]["grammar_version"]
            daemon.say(speech)
            sub.wait_for(lambda ms: len(intents(sub, "OldIntent")) == 1, 10)

            grammar.write_text("language: en\nintents:\n  Broken:\n    data:\n      - sentences: [\"turn {nolist}\"\n")
            daemon.signal(signal.SIGHUP)
            sub.wait_for(lambda ms: any(m.topic == f"voicecmd/{SITE}/error" for m in ms), 10)
            error = sub.on(f"voicecmd/{SITE}/error")[-1].payload.decode()
            assert "grammar.yaml" in error and old_version in error, error
            assert "grammar reload (SIGHUP) rejected" in daemon.log()

            daemon.say(speech)  # the old grammar still works
            sub.wait_for(lambda ms: len(intents(sub, "OldIntent")) == 2, 10)
            assert daemon.proc.poll() is None

            grammar.write_text(TINY_GRAMMAR.format(intent="NewIntent"))
            sub.publish(f"voicecmd/{SITE}/set/reload", b"")
            wait_state(sub, lambda s: s["grammar_version"] != old_version and "NewIntent" in s["intents"])
            daemon.say(speech)
            sub.wait_for(lambda ms: len(intents(sub, "NewIntent")) == 1, 10)
            assert len(intents(sub, "OldIntent")) == 2
            assert daemon.stop() == 0
        statuses = [m.payload for m in sub.on(f"voicecmd/{SITE}/status")]
        assert statuses[-1] == b"offline"


def test_grammar_file_change_is_picked_up(tmp_path, speech):
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, ["voicecmd/#"]) as sub:
        daemon, grammar = start(tmp_path, broker, watch=True)
        with daemon:
            wait_state(sub, lambda s: "OldIntent" in s["intents"])
            grammar.write_text(TINY_GRAMMAR.format(intent="EditedIntent"))
            wait_state(sub, lambda s: "EditedIntent" in s["intents"])
            daemon.say(speech)
            sub.wait_for(lambda ms: len(intents(sub, "EditedIntent")) == 1, 10)


def test_mute_unmute_and_fuzzed_commands_keep_the_daemon_up(tmp_path, speech):
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, ["voicecmd/#"]) as sub:
        daemon, _ = start(tmp_path, broker, watch=False)
        with daemon:
            wait_state(sub, lambda s: s["state"] == "listening")
            sub.publish(f"voicecmd/{SITE}/set/mute", b"")
            wait_state(sub, lambda s: s["state"] == "muted")
            daemon.say(speech)
            time.sleep(1.0)
            assert intents(sub, "OldIntent") == []
            sub.publish(f"voicecmd/{SITE}/set/unmute", b"{}")
            wait_state(sub, lambda s: s["state"] == "listening")

            rng = random.Random(7)
            payloads = [b"", b"null", b"{", b"[1,2]", b"\xff\xfe", b"x" * 70000, b'{"a": ' * 500, b"42",
                        json.dumps({"deep": [[[[]]]]}).encode(), os.urandom(64)]
            names = ["mute", "unmute", "reload", "explode", "", "set", "../mute", "mute/extra"]
            for _ in range(60):
                topic = f"voicecmd/{SITE}/set/{rng.choice(names)}"
                if topic.endswith("/set/mute"):
                    continue  # a valid mute would (rightly) stop the intent below
                sub.publish(topic, rng.choice(payloads))
            sub.publish(f"voicecmd/{SITE}/set/unmute", b"")
            time.sleep(0.5)
            assert daemon.proc.poll() is None, daemon.log()
            daemon.say(speech)
            sub.wait_for(lambda ms: len(intents(sub, "OldIntent")) == 1, 10)
            assert any(m.topic == f"voicecmd/{SITE}/error" for m in sub.messages)  # bad commands are reported
            assert "Traceback" not in daemon.log()
