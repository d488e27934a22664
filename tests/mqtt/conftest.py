"""Fixtures for the MQTT tests: a real mosquitto per test, a real paho subscriber, event factories."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import paho.mqtt
import pytest

from tests.helpers.mosquitto import Broker, Subscriber

# test_paho16.py re-runs these modules in a child Python whose PYTHONPATH puts paho-mqtt 1.6.1 first
EXPECTED_PAHO = os.environ.get("VOICECMD_EXPECT_PAHO")


@pytest.fixture(scope="session", autouse=True)
def _paho_version_is_the_expected_one() -> None:
    if EXPECTED_PAHO:
        assert paho.mqtt.__version__ == EXPECTED_PAHO, (paho.mqtt.__file__, paho.mqtt.__version__)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A plain anonymous mosquitto on a free 127.0.0.1 port."""
    with Broker(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def subscribe(broker: Broker) -> Iterator[Callable[..., Subscriber]]:
    """Factory: ``subscribe(["topic/#"])`` -> a started Subscriber on the test broker (stopped at teardown)."""
    subs: list[Subscriber] = []

    def make(topics: list[str], **kwargs) -> Subscriber:
        sub = Subscriber(broker.port, topics, **kwargs).start()
        subs.append(sub)
        return sub

    yield make
    for sub in subs:
        sub.stop()
