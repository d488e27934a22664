"""MqttLink against a real mosquitto and a real paho subscriber: payloads, retained state, discovery, commands,
TLS/passwords, last will, and the persisted queue across a crash of the daemon."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt
import pytest

from daemon.mqtt.config import MqttConfig
from daemon.mqtt.link import MqttLink
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
)
from tests.helpers.mosquitto import Broker, Subscriber, make_tls_material
from tests.mqtt.factories import make_intent, make_not_recognized

REPO = Path(__file__).resolve().parents[2]
FAST = {"host": "127.0.0.1", "reconnect_min_s": 0.05, "reconnect_max_s": 0.4}


@pytest.fixture
def links():
    """Factory for started MqttLinks (stopped at teardown)."""
    made: list[MqttLink] = []

    def make(port: int, state_dir: Path, on_command=None, site: str = "kitchen", **cfg) -> MqttLink:
        config = MqttConfig.from_dict({**FAST, "port": port, **cfg})
        link = MqttLink(config, site, state_dir, on_command)
        link.start()
        made.append(link)
        return link

    yield make
    for link in made:
        link.stop(timeout=1.0)


def by_topic(messages, topic):
    """The received messages published on ``topic``, in arrival order."""
    return [m for m in messages if m.topic == topic]


def test_every_message_round_trips_over_the_wire(broker, subscribe, links, tmp_path):
    sub = subscribe(["voicecmd/#", "hermes/#", "homeassistant/#"])
    link = links(broker.port, tmp_path / "state")
    assert link.wait_connected(5)
    intent, nr = make_intent(1), make_not_recognized(2)
    state = {"listening": True, "muted": False, "grammar_version": "g1", "model": "default"}
    link.publish_state(state)
    link.publish_discovery(["SetBrightness", "TurnOn"])
    link.publish_intent(intent)
    link.publish_not_recognized(nr)
    link.publish_error("grammar lights.yaml:3:1: unknown list {colour}")
    expected = [
        StatusMessage("voicecmd", "kitchen", True),
        StateMessage("voicecmd", "kitchen", {**state, "dropped": {"full": 0, "expired": 0}}),
        *discovery_messages(link.topics, "homeassistant", ["SetBrightness", "TurnOn"], __import__("daemon").__version__),
        IntentMessage("voicecmd", intent),
        HermesTextCaptured.from_event(intent),
        HermesIntent.from_event(intent),
        HaEventMessage.for_intent("voicecmd", intent),
        LastCommandMessage.from_event("voicecmd", intent),
        NotRecognizedMessage("voicecmd", nr),
        HermesTextCaptured.from_event(nr),
        HermesIntentNotRecognized.from_event(nr),
        HaEventMessage.for_not_recognized("voicecmd", nr),
    ]
    wanted = [(msg.topic(), msg.payload()) for msg in expected]
    got = sub.wait_for(lambda ms: all(w in [(m.topic, m.payload) for m in ms] for w in wanted)
                       and by_topic(ms, "voicecmd/kitchen/error"))
    time.sleep(0.1)
    got = list(sub.messages)
    assert len(got) == len(expected) + 1, [m.topic for m in got]  # nothing else, nothing twice
    error = by_topic(got, "voicecmd/kitchen/error")
    assert ErrorMessage.from_payload(error[0].topic, error[0].payload).message.startswith("grammar lights.yaml:3:1")
    for m in got:  # every message parses back with its own class
        for cls in (IntentMessage, HermesIntent):
            if cls.is_topic(m.topic):
                assert cls.from_payload(m.topic, m.payload).topic() == m.topic
        if m.topic.endswith("/config"):
            assert json.loads(m.payload)["device"]["identifiers"] == ["voicecmd_kitchen"]
            DiscoveryMessage.from_payload(m.topic, m.payload)
    assert {m.qos for m in got if "intent" in m.topic} == {1}  # QoS 1 end to end
    assert link.queued == 0 and link.stats["delivered"] == 8

    late = subscribe(["voicecmd/#", "homeassistant/#"])  # retained: what a freshly started HA sees
    configs = {f"homeassistant/{c}/voicecmd_kitchen/{o}/config" for c, o in [
        ("event", "command"), ("sensor", "last_command"), ("sensor", "state"),
        ("button", "mute"), ("button", "unmute"), ("button", "reload")]}
    retained = late.wait_for(lambda ms: len(ms) >= 3 + len(configs))
    assert {m.topic for m in retained if m.retain} == {
        "voicecmd/kitchen/status", "voicecmd/kitchen/state", "voicecmd/kitchen/last_command", *configs}


def test_discovery_reannounced_on_home_assistant_birth(broker, subscribe, links, tmp_path):
    sub = subscribe(["homeassistant/event/#", "homeassistant/sensor/#", "voicecmd/+/status"])
    link = links(broker.port, tmp_path)
    assert link.wait_connected(5)
    link.publish_discovery(["TurnOn"])
    sub.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/config")]) == 3)
    sub.clear()
    sub.publish("homeassistant/status", b"offline")
    sub.publish("homeassistant/status", b"online")
    got = sub.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/config")]) == 3)
    configs = {m.topic: json.loads(m.payload) for m in got if m.topic.endswith("/config")}
    assert configs["homeassistant/event/voicecmd_kitchen/command/config"]["event_types"] == ["TurnOn", "not_recognized"]
    assert any(m.topic == "voicecmd/kitchen/status" and m.payload == b"online" for m in got)


def test_commands_parse_and_malformed_ones_never_break_the_link(broker, subscribe, links, tmp_path, caplog):
    received: list[tuple[str, dict]] = []

    def on_command(name, args):
        if args.get("explode"):
            raise RuntimeError("handler bug")
        received.append((name, args))

    sub = subscribe(["voicecmd/kitchen/error", "voicecmd/kitchen/intent/#"])
    sub.publish("voicecmd/kitchen/set/mute", b"{}", retain=True)  # a retained command would replay on every reconnect
    link = links(broker.port, tmp_path, on_command)
    assert link.wait_connected(5)
    sub.publish("voicecmd/kitchen/set/mute", b"")
    sub.publish("voicecmd/kitchen/set/unmute", b'{"reason": "morning"}')
    sub.publish("voicecmd/kitchen/set/reload", b"null")
    sub.publish("voicecmd/other_site/set/mute", b"")  # another site's command is not ours
    rng = random.Random(7)
    bad = [
        ("voicecmd/kitchen/set/mute", b"[1,2,3]"),
        ("voicecmd/kitchen/set/mute", b"17"),
        ("voicecmd/kitchen/set/unmute", b'"yes"'),
        ("voicecmd/kitchen/set/reload", b"{broken"),
        ("voicecmd/kitchen/set/reload", b"\xc3\x28\xa0\xa1"),
        ("voicecmd/kitchen/set/reload", b"{" * 300_000),
        ("voicecmd/kitchen/set/reload", b"x" * 2_000_000),
        ("voicecmd/kitchen/set/selfdestruct", b""),
        ("voicecmd/kitchen/set/mute", b'{"explode": true}'),
        *[("voicecmd/kitchen/set/mute", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
          for _ in range(30)],
    ]
    fuzz_valid = []  # random bytes may happen to form a valid command (e.g. only whitespace)
    for topic, payload in bad:
        try:
            fuzz_valid.append(CommandMessage.from_payload(link.topics, topic, payload).command)
        except CommandError:
            pass
    with caplog.at_level(logging.WARNING, logger="daemon.mqtt"):
        for topic, payload in bad:
            sub.publish(topic, payload)
        sub.publish("voicecmd/kitchen/set/unmute", b"{}")
        expected_errors = len(bad) - len(fuzz_valid) + 2  # + the retained one + the failing handler
        errors = sub.wait_for(lambda ms: len(by_topic(ms, "voicecmd/kitchen/error")) >= expected_errors)
        deadline = time.time() + 5
        while len(received) < 3 + len(fuzz_valid) and time.time() < deadline:
            time.sleep(0.02)
    assert received[:3] == [("mute", {}), ("unmute", {"reason": "morning"}), ("reload", {})]
    assert received[-1] == ("unmute", {})
    assert len(received) == 3 + (len(fuzz_valid) - 1) + 1  # the exploding one is valid but its handler failed
    texts = [json.loads(m.payload)["error"] for m in by_topic(errors, "voicecmd/kitchen/error")]
    assert len(texts) == expected_errors
    assert any("must be a JSON object, got list" in t for t in texts)
    assert any("too large" in t for t in texts)
    assert any("unknown command 'selfdestruct'" in t for t in texts)
    assert any("command mute failed: handler bug" in t for t in texts)
    assert any("retained command ignored" in t for t in texts), texts
    assert all(len(t) < 300 and "\n" not in t for t in texts)
    assert "MQTT command rejected" in caplog.text
    # still up: connected, network thread alive, intents still flow
    assert link.connected and any(t.name == "mqtt-kitchen" and t.is_alive() for t in threading.enumerate())
    link.publish_intent(make_intent(99))
    sub.wait_for(lambda ms: any(m.topic == "voicecmd/kitchen/intent/SetBrightness" for m in ms))
    assert link.stats["bad_commands"] == expected_errors - 1


def test_network_thread_is_named_and_supervised(broker, links, tmp_path):
    link = links(broker.port, tmp_path)
    assert link.wait_connected(5)
    names = {t.name for t in threading.enumerate()}
    assert {"mqtt-kitchen", "mqtt-outbox-kitchen"} <= names


def test_tls_with_password_and_client_certificate(tmp_path, caplog):
    tls = make_tls_material(tmp_path / "tls")
    secret = "tls-s3cret-value"
    pw = tmp_path / "pw"
    pw.write_text(secret + "\n")
    with Broker(tmp_path / "broker", tls=tls, users={"voice": secret}) as broker:
        with Subscriber(broker.port, ["voicecmd/#"]) as sub, caplog.at_level(logging.DEBUG):
            cfg = {**FAST, "host": "localhost", "username": "voice", "password_file": str(pw),
                   "tls": {"ca_file": str(tls.ca_cert)}}
            link = MqttLink(MqttConfig.from_dict({**cfg, "port": broker.tls_port}), "kitchen", tmp_path / "a", None)
            link.start()
            try:
                assert link.wait_connected(5), broker.log()
                link.publish_intent(make_intent(1))
                sub.wait_for(lambda ms: any(m.topic == "voicecmd/kitchen/intent/SetBrightness" for m in ms))
            finally:
                link.stop(1)
            # client certificate required by the listener
            cert_cfg = {**FAST, "host": "localhost", "port": broker.cert_port, "client_id": "cert-client",
                        "tls": {"ca_file": str(tls.ca_cert), "cert_file": str(tls.client_cert),
                                "key_file": str(tls.client_key)}}
            link = MqttLink(MqttConfig.from_dict(cert_cfg), "hall", tmp_path / "b", None)
            link.start()
            try:
                assert link.wait_connected(5), broker.log()
                link.publish_intent(make_intent(2, site_id="hall"))
                sub.wait_for(lambda ms: any(m.topic == "voicecmd/hall/intent/SetBrightness" for m in ms))
            finally:
                link.stop(1)
            no_cert = {**cert_cfg, "client_id": "no-cert", "tls": {"ca_file": str(tls.ca_cert)}}
            link = MqttLink(MqttConfig.from_dict(no_cert), "attic", tmp_path / "c", None)
            link.start()
            try:
                assert not link.wait_connected(1.0)
            finally:
                link.stop(0.2)
    assert secret not in caplog.text


def test_wrong_password_is_refused_reported_and_never_logged(tmp_path, caplog, monkeypatch):
    with Broker(tmp_path / "broker", users={"voice": "right-one"}) as broker:
        monkeypatch.setenv("VOICECMD_TEST_MQTT_PW", "wrong-pw-value")
        cfg = MqttConfig.from_dict({**FAST, "port": broker.password_port, "username": "voice",
                                    "password_env": "VOICECMD_TEST_MQTT_PW"})
        with caplog.at_level(logging.DEBUG):
            link = MqttLink(cfg, "kitchen", tmp_path, None)
            link.start()
            try:
                assert not link.wait_connected(1.0)
                link.publish_intent(make_intent(1))  # queued, not lost
                assert link.queued == 4
            finally:
                link.stop(0.2)
        assert "refused the connection" in caplog.text and "not authori" in caplog.text.lower()
        assert caplog.text.count("refused the connection") == 1  # not repeated on every retry
        assert "wrong-pw-value" not in caplog.text and "wrong-pw-value" not in repr(cfg)


def _child(port: int, state_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.mqtt.link_child", "--port", str(port), "--state-dir", str(state_dir), *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_last_will_marks_a_crashed_daemon_offline(broker, subscribe, tmp_path):
    sub = subscribe(["voicecmd/+/status"])
    child = _child(broker.port, tmp_path, "--hold", "--wait-connected", "5")
    try:
        line = json.loads(child.stdout.readline())
        assert line["connected"] is True
        sub.wait_for(lambda ms: [m.payload for m in ms] == [b"online"])
        child.send_signal(signal.SIGKILL)
        child.wait(5)
        got = sub.wait_for(lambda ms: len(ms) >= 2)
        assert [m.payload for m in got] == [b"online", b"offline"]
    finally:
        child.kill()
        child.wait()


def test_queue_survives_a_daemon_crash_while_the_broker_is_away(tmp_path, broker, subscribe):
    state = tmp_path / "state"
    broker.stop()  # the broker is away while the daemon hears 12 commands, then the daemon is killed
    child = _child(broker.port, state, "--count", "12", "--hold")
    try:
        line = json.loads(child.stdout.readline())
        assert line == {"paho": paho.mqtt.__version__, "queued": 12 * 4, "connected": False}
        child.send_signal(signal.SIGKILL)
        child.wait(5)
    finally:
        child.kill()
        child.wait()
    queue_file = state / "mqtt-outbox-kitchen.jsonl"
    assert len(queue_file.read_text().splitlines()) == 48
    broker.start()
    sub = subscribe(["voicecmd/kitchen/intent/#", "hermes/intent/#"])
    restarted = MqttLink(MqttConfig.from_dict({**FAST, "port": broker.port}), "kitchen", state, None)
    assert restarted.queued == 48
    restarted.start()
    try:
        got = sub.wait_for(lambda ms: len(ms) >= 24)
        native = sorted(json.loads(m.payload)["utterance_id"] for m in got if m.topic.startswith("voicecmd/"))
        hermes = sorted(json.loads(m.payload)["id"] for m in got if m.topic.startswith("hermes/"))
        assert native == hermes == [f"utt-{i:05d}" for i in range(12)]
        deadline = time.time() + 5
        while restarted.queued and time.time() < deadline:
            time.sleep(0.02)
        assert restarted.queued == 0
    finally:
        restarted.stop(1)
    assert queue_file.read_text() == ""
    time.sleep(0.2)
    assert len(sub.messages) == 24  # nothing delivered twice


def test_stop_flushes_and_publishes_offline(broker, subscribe, tmp_path):
    sub = subscribe(["voicecmd/#"])
    link = MqttLink(MqttConfig.from_dict({**FAST, "port": broker.port}), "kitchen", tmp_path, None)
    link.start()
    assert link.wait_connected(5)
    for i in range(50):
        link.publish_intent(make_intent(i))
    link.stop(timeout=5)
    assert link.queued == 0
    got = sub.wait_for(lambda ms: any(m.payload == b"offline" for m in ms))
    assert len([m for m in got if "/intent/" in m.topic]) == 50
    assert got[-1].topic == "voicecmd/kitchen/status" and got[-1].payload == b"offline"
    late = Subscriber(broker.port, ["voicecmd/kitchen/status"]).start()
    try:
        retained = late.wait_for(lambda ms: len(ms) == 1)
        assert retained[0].retain and retained[0].payload == b"offline"
    finally:
        late.stop()


def test_a_dead_network_thread_is_restarted(broker, subscribe, links, tmp_path, caplog):
    sub = subscribe(["voicecmd/kitchen/intent/#"])
    link = links(broker.port, tmp_path)
    assert link.wait_connected(5)
    with caplog.at_level(logging.ERROR):
        link._client.loop_stop()  # the network thread ends as if it had crashed
        deadline = time.time() + 5
        while not any(t.name == "mqtt-kitchen" and t.is_alive() for t in threading.enumerate()):
            assert time.time() < deadline, "network thread not restarted"
            time.sleep(0.05)
    assert "network thread ended unexpectedly" in caplog.text
    link.publish_intent(make_intent(5))
    sub.wait_for(lambda ms: len(ms) == 1)


def test_an_unpublishable_queued_message_is_dropped_not_stuck(broker, subscribe, tmp_path, caplog):
    from daemon.mqtt.outbox import Outbox

    box = Outbox(tmp_path / "mqtt-outbox-kitchen.jsonl", 10)
    box.append([("voicecmd/kitchen/intent/#bad", b"{}", 1, False), ("voicecmd/kitchen/intent/Good", b"{}", 1, False)])
    box.close()
    sub = subscribe(["voicecmd/kitchen/intent/#"])
    link = MqttLink(MqttConfig.from_dict({**FAST, "port": broker.port}), "kitchen", tmp_path, None)
    with caplog.at_level(logging.ERROR):
        link.start()
        try:
            got = sub.wait_for(lambda ms: len(ms) == 1)
            deadline = time.time() + 5
            while link.queued and time.time() < deadline:
                time.sleep(0.02)
            assert link.queued == 0 and got[0].topic == "voicecmd/kitchen/intent/Good"
        finally:
            link.stop(1)
    assert "dropping unpublishable queued message for voicecmd/kitchen/intent/#bad" in caplog.text


def test_starting_before_the_broker_is_up_delivers_once_it_is(tmp_path):
    broker = Broker(tmp_path / "broker", persistence=True)
    topics = ["voicecmd/kitchen/intent/#"]
    with broker:  # leave a persistent subscriber session behind, so what the link sends first waits for it
        Subscriber(broker.port, topics, client_id="early-sub", clean_session=False).start().stop()
    link = MqttLink(MqttConfig.from_dict({**FAST, "port": broker.port}), "kitchen", tmp_path / "state", None)
    link.start()
    try:
        for i in range(3):
            link.publish_intent(make_intent(i))
        time.sleep(0.5)
        assert not link.connected and link.queued == 12
        broker.start()
        assert link.wait_connected(5)
        with Subscriber(broker.port, topics, client_id="early-sub", clean_session=False) as sub:
            got = sub.wait_for(lambda ms: len(ms) == 3)
            assert sorted(json.loads(m.payload)["utterance_id"] for m in got) == ["utt-00000", "utt-00001", "utt-00002"]
    finally:
        link.stop(1)
        broker.stop()


def test_a_full_queue_drops_the_oldest_counts_and_logs(tmp_path, caplog):
    broker = Broker(tmp_path / "broker", persistence=True)
    topics = ["voicecmd/kitchen/intent/#"]
    with broker:
        Subscriber(broker.port, topics, client_id="bound-sub", clean_session=False).start().stop()
    cfg = MqttConfig.from_dict({**FAST, "port": broker.port, "queue_max": 8, "hermes": False, "discovery": False})
    link = MqttLink(cfg, "kitchen", tmp_path / "state", None)
    link.start()
    try:
        with caplog.at_level(logging.WARNING):
            for i in range(12):  # one message per intent with Hermes and discovery off
                link.publish_intent(make_intent(i))
        assert link.queued == 8 and link.dropped == 4
        assert "MQTT queue full (8 utterances): dropped the oldest 1 utterance(s), 1 message(s) (4 dropped in all)" \
            in caplog.text
        broker.start()
        with Subscriber(broker.port, topics, client_id="bound-sub", clean_session=False) as sub:
            got = sub.wait_for(lambda ms: len(ms) == 8)
            assert sorted(json.loads(m.payload)["utterance_id"] for m in got) == [f"utt-{i:05d}" for i in range(4, 12)]
    finally:
        link.stop(1)
        broker.stop()
