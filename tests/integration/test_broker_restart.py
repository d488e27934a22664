"""The broker stops and comes back in the middle of a stream of spoken commands: every intent arrives."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.daemon.speech import synth_samples
from tests.helpers.mosquitto import Broker, Subscriber
from tests.integration.daemon_proc import FIXTURE_MODEL, TINY_GRAMMAR, DaemonProcess, write_config

SITE = "restart-test"


@pytest.mark.slow
def test_intents_spoken_while_the_broker_is_down_are_delivered_after_it_returns(tmp_path):
    speech = synth_samples("turn the light off")
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    broker = Broker(tmp_path / "broker", persistence=True).start()
    sub = Subscriber(broker.port, [f"voicecmd/{SITE}/intent/#"], client_id="restart-sub", clean_session=False).start()
    config = write_config(
        tmp_path,
        audio={"source": "stdin"},
        model={"dir": str(FIXTURE_MODEL)},
        grammar={"paths": [str(grammar)], "watch": False, "reject_threshold": -1e6},
        mqtt={"host": "127.0.0.1", "port": broker.port, "discovery": False, "hermes": False,
              "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
        service={"site_id": SITE},
        logging={"target": "stderr"},
    )
    try:
        with DaemonProcess(config, stdin_audio=True) as daemon:
            daemon.start_silence()
            gap = np.zeros(1600, np.int16)
            daemon.say(np.concatenate([speech, gap]))
            sub.wait_for(lambda ms: len(ms) == 1, 10)
            broker.stop()  # SIGTERM: the subscriber's session and its queued messages are kept
            for _ in range(2):  # spoken while the broker is away: queued by the daemon
                daemon.say(np.concatenate([speech, gap]))
            time.sleep(1.0)
            broker.start()
            daemon.say(np.concatenate([speech, gap]))
            messages = sub.wait_for(lambda ms: len(ms) >= 4, 20)
            time.sleep(0.5)
            ids = [m.json()["utterance_id"] for m in sub.messages]
            assert len(ids) == len(set(ids)) == 4, [m.topic for m in messages]
            assert "Traceback" not in daemon.log()
    finally:
        sub.stop()
        broker.stop()
