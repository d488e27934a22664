"""What a reliability audit (issue 12) found in the link, against a real mosquitto: connection failures that said
nothing, stale message ids after a broker crash, outbox drops nobody saw, partial and stale utterances, and
discovery re-published for every Home Assistant birth."""

from __future__ import annotations

import json
import logging
import signal
import time
from pathlib import Path

from daemon.mqtt.config import MqttConfig
from daemon.mqtt.link import MqttLink
from tests.helpers.mosquitto import Broker, Subscriber, free_port, make_tls_material
from tests.mqtt.factories import make_intent

FAST = {"host": "127.0.0.1", "reconnect_min_s": 0.05, "reconnect_max_s": 0.2}


def _link(port: int, state_dir: Path, **cfg) -> MqttLink:
    link = MqttLink(MqttConfig.from_dict({**FAST, "port": port, **cfg}), "kitchen", state_dir, None)
    link.start()
    return link


def _until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _ids(messages, prefix: str, key: str) -> list[str]:
    return sorted(json.loads(m.payload)[key] for m in messages if m.topic.startswith(prefix))


# ------------------------------------------------------------------------------------------------ connection failures


def test_a_refused_connection_is_logged_once_and_kept_as_the_problem(tmp_path, caplog):
    port = free_port()  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="daemon.mqtt"):
        link = _link(port, tmp_path)
        try:
            _until(lambda: link.stats["connect_failures"] >= 3, what="three failed attempts")
            link.publish_intent(make_intent(1))
            assert link.queued_utterances == 1
            assert "connection refused" in link.problem
            assert link.status_text().startswith(f"MQTT not connected to 127.0.0.1:{port} (connection refused")
        finally:
            link.stop(0.2)
    lines = [r.getMessage() for r in caplog.records if "cannot connect" in r.getMessage()]
    assert len(lines) == 1, lines  # said once, not on every retry
    assert lines[0].startswith(f"MQTT cannot connect to 127.0.0.1:{port}: connection refused")


def test_tls_against_a_plain_port_says_so(tmp_path, broker, caplog):
    tls = make_tls_material(tmp_path / "tls")
    with caplog.at_level(logging.ERROR, logger="daemon.mqtt"):
        link = _link(broker.port, tmp_path, tls={"ca_file": str(tls.ca_cert)})
        try:
            _until(lambda: link.stats["connect_failures"] >= 2, what="two failed TLS attempts")
            assert not link.connected and link.problem.startswith("TLS handshake failed")
        finally:
            link.stop(0.2)
    assert caplog.text.count("TLS handshake failed") == 1, caplog.text


def test_a_broker_crash_is_reported_as_a_lost_connection(tmp_path, broker, caplog):
    link = _link(broker.port, tmp_path)
    try:
        assert link.wait_connected(5)
        assert link.problem is None and link.status_text() == f"MQTT connected to 127.0.0.1:{broker.port}"
        with caplog.at_level(logging.WARNING, logger="daemon.mqtt"):
            broker.kill()
            _until(lambda: not link.connected, what="the link to notice")
            time.sleep(0.1)
        assert "Unspecified error" not in caplog.text
        assert "MQTT disconnected from 127.0.0.1:%d: connection lost" % broker.port in caplog.text
        assert link.problem
    finally:
        link.stop(0.2)


# ------------------------------------------------------------------------------------------------ at-least-once


def test_stale_message_ids_never_count_a_queued_intent_as_delivered(tmp_path, broker):
    """Messages in flight when the broker crashes are re-sent by paho after the reconnect; their PUBACKs must not
    leave ids behind that, once paho's 16-bit mid counter wraps onto them, "acknowledge" new intents."""
    link = _link(broker.port, tmp_path)
    try:
        assert link.wait_connected(5)
        client = link._client
        first_mid = client._last_mid + 1
        broker.process.send_signal(signal.SIGSTOP)  # alive but mute: publishes get no PUBACK
        link.publish_state({"state": "listening"})
        link.publish_discovery(["TurnOn"])  # 1 state + 6 discovery configs, in flight
        time.sleep(0.2)
        broker.kill()
        broker.start()
        assert link.wait_connected(5)
        _until(lambda: not client._out_messages, what="paho to deliver what it re-sent")
        time.sleep(0.2)
        # the counter wraps (65535 -> 1 ...) onto the ids of the crash: simulated by setting it back
        with client._mid_generate_mutex:
            client._last_mid = first_mid - 1
        broker.process.send_signal(signal.SIGSTOP)
        link.publish_intent(make_intent(1))  # 4 messages that now get the stale ids
        time.sleep(0.5)
        assert link.queued == 4, "counted delivered without a PUBACK"
        broker.process.send_signal(signal.SIGCONT)
        _until(lambda: link.queued == 0, what="delivery once the broker answers again")
    finally:
        if broker.running:
            broker.process.send_signal(signal.SIGCONT)
        link.stop(0.5)


# ------------------------------------------------------------------------------------------------ outbox


def _persistent_subscriber(broker: Broker, topics: list[str], client_id: str) -> None:
    """Leave a persistent session behind, so what the link publishes before the subscriber is back waits for it."""
    Subscriber(broker.port, topics, client_id=client_id, clean_session=False).start().stop()


def test_a_full_queue_drops_whole_utterances_and_says_so(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True)
    topics = ["voicecmd/#", "hermes/#"]
    with broker:
        _persistent_subscriber(broker, topics, "full-sub")
    link = _link(broker.port, tmp_path / "state", queue_max=2)
    try:
        link.publish_state({"state": "listening"})
        for i in range(3):  # 3 utterances of 4 messages each into a queue of 2 utterances
            link.publish_intent(make_intent(i))
        assert (link.queued_utterances, link.queued, link.dropped) == (2, 8, 1)
        broker.start()
        assert link.wait_connected(5)
        with Subscriber(broker.port, topics, client_id="full-sub", clean_session=False) as sub:
            got = sub.wait_for(lambda ms: any(m.topic == "voicecmd/kitchen/error" for m in ms)
                               and len(_ids(ms, "hermes/intent/", "id")) == 2)
            time.sleep(0.2)
            got = list(sub.messages)
        # kept or dropped together: both surviving utterances complete on every topic family, the oldest on none
        assert _ids(got, "voicecmd/kitchen/intent/", "utterance_id") == ["utt-00001", "utt-00002"]
        assert _ids(got, "hermes/intent/", "id") == ["utt-00001", "utt-00002"]
        assert _ids(got, "voicecmd/kitchen/event", "utterance_id") == ["utt-00001", "utt-00002"]
        assert len([m for m in got if m.topic == "hermes/asr/textCaptured"]) == 2
        errors = [json.loads(m.payload)["error"] for m in got if m.topic == "voicecmd/kitchen/error"]
        assert len(errors) == 1 and errors[0].startswith(
            "MQTT queue: 1 utterance(s) dropped undelivered because the queue was full (queue_max 2 utterances)")
        late = Subscriber(broker.port, ["voicecmd/kitchen/state"]).start()
        try:
            state = late.wait_for(lambda ms: len(ms) == 1)[0]
            assert state.retain and json.loads(state.payload)["dropped"] == {"full": 1, "expired": 0}
        finally:
            late.stop()
    finally:
        link.stop(1)
        broker.stop()


def test_stale_utterances_are_dropped_not_replayed_as_live(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True)
    topics = ["voicecmd/kitchen/intent/#", "hermes/intent/#", "voicecmd/kitchen/error"]
    with broker:
        _persistent_subscriber(broker, topics, "age-sub")
    broker.start()
    link = _link(broker.port, tmp_path / "state", queue_max_age_s=1.0)
    try:
        assert link.wait_connected(5)
        link.publish_state({"state": "listening"})
        broker.process.send_signal(signal.SIGSTOP)
        link.publish_intent(make_intent(1))  # handed to paho, never acknowledged: paho would re-send it
        time.sleep(0.3)
        broker.kill()
        link.publish_intent(make_intent(2))  # queued while the broker is away
        time.sleep(1.3)  # both are older than queue_max_age_s now
        link.publish_intent(make_intent(3))
        broker.start()
        assert link.wait_connected(5)
        with Subscriber(broker.port, topics, client_id="age-sub", clean_session=False) as sub:
            got = sub.wait_for(lambda ms: len(_ids(ms, "hermes/intent/", "id")) >= 1
                               and any(m.topic == "voicecmd/kitchen/error" for m in ms))
            time.sleep(0.5)
            got = list(sub.messages)
        assert _ids(got, "voicecmd/kitchen/intent/", "utterance_id") == ["utt-00003"]
        assert _ids(got, "hermes/intent/", "id") == ["utt-00003"]
        errors = [json.loads(m.payload)["error"] for m in got if m.topic == "voicecmd/kitchen/error"]
        assert any("2 utterance(s) dropped undelivered because they were older than queue_max_age_s" in e
                   for e in errors), errors
        assert link.expired == 2 and link.queued == 0
    finally:
        if broker.running:
            broker.process.send_signal(signal.SIGCONT)
        link.stop(1)
        broker.stop()


# ------------------------------------------------------------------------------------------------ Home Assistant birth


def test_a_burst_of_home_assistant_births_costs_one_rediscovery(broker, subscribe, tmp_path):
    link = _link(broker.port, tmp_path)
    try:
        assert link.wait_connected(5)
        link.publish_discovery(["TurnOn"])
        sub = subscribe(["homeassistant/+/+/+/config"])
        sub.wait_for(lambda ms: len(ms) == 6)  # the retained configs
        sub.clear()
        births = 500
        started = time.monotonic()
        for _ in range(births):
            sub.publish("homeassistant/status", b"online")
        burst_s = time.monotonic() - started
        _until(lambda: link.stats["ha_births"] == births, what="every birth to arrive")
        sub.wait_for(lambda ms: len(ms) >= 6, timeout=5)
        time.sleep(1.5)  # a second debounce window: nothing more may come
        republished = len(sub.messages)
        print(f"{births} births in {burst_s:.2f} s -> {republished} discovery re-publishes")
        windows = int(burst_s // 1.0) + 2  # at most one re-announcement per debounce window of 1 s
        assert 6 <= republished <= 6 * windows
    finally:
        link.stop(0.5)
