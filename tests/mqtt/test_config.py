"""MqttConfig.from_dict: defaults, validation errors naming mqtt.<key>, secrets referenced and never shown."""

from __future__ import annotations

import dataclasses

import pytest

from daemon.errors import ConfigError
from daemon.mqtt.config import MqttConfig, MqttTlsConfig


def test_defaults():
    cfg = MqttConfig.from_dict({})
    assert (cfg.host, cfg.port, cfg.topic_prefix, cfg.discovery_prefix) == ("localhost", 1883, "voicecmd", "homeassistant")
    assert cfg.hermes and cfg.discovery and cfg.tls is None and cfg.queue_max >= 100 and cfg.queue_max_age_s == 3600
    assert cfg.effective_client_id("kitchen") == "voicecmd-kitchen"
    assert MqttConfig.from_dict(None) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.port = 1  # type: ignore[misc]


def test_full_config(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    cfg = MqttConfig.from_dict({
        "host": "broker.lan", "client_id": "x3", "username": "voice", "password_file": str(pw),
        "tls": {"ca_file": str(ca)}, "keepalive": 60, "topic_prefix": "home/voice", "hermes": False,
        "discovery": "no", "discovery_prefix": "ha", "queue_max": 10, "reconnect_min_s": 1, "reconnect_max_s": 8.5,
    })
    assert cfg.port == 8883  # TLS default port
    assert cfg.tls == MqttTlsConfig(ca_file=str(ca)) and cfg.reconnect_min_s == 1.0 and cfg.discovery is False
    assert cfg.resolve_password() == "s3cret"
    assert MqttConfig.from_dict({"tls": True}).tls == MqttTlsConfig()
    assert MqttConfig.from_dict({"tls": None}).tls is None


@pytest.mark.parametrize("data,key", [
    ({"hots": "x"}, "mqtt.hots: unknown key"),
    ({"password": "plain"}, "mqtt.password: unknown key (give password_file or password_env"),
    ({"port": "1883"}, "mqtt.port"),
    ({"port": 0}, "mqtt.port"),
    ({"port": 70000}, "mqtt.port"),
    ({"port": True}, "mqtt.port"),
    ({"host": ""}, "mqtt.host"),
    ({"host": 5}, "mqtt.host"),
    ({"keepalive": 1}, "mqtt.keepalive"),
    ({"topic_prefix": "a/+/b"}, "mqtt.topic_prefix"),
    ({"topic_prefix": "a/"}, "mqtt.topic_prefix"),
    ({"discovery_prefix": "#"}, "mqtt.discovery_prefix"),
    ({"hermes": "maybe"}, "mqtt.hermes"),
    ({"queue_max": 0}, "mqtt.queue_max"),
    ({"queue_max": 1.5}, "mqtt.queue_max"),
    ({"queue_max_age_s": -1}, "mqtt.queue_max_age_s"),
    ({"queue_max_age_s": "1h"}, "mqtt.queue_max_age_s"),
    ({"reconnect_min_s": -1}, "mqtt.reconnect_min_s"),
    ({"reconnect_min_s": 5, "reconnect_max_s": 1}, "mqtt.reconnect_max_s"),
    ({"password_file": "/nonexistent/pw", "username": "u"}, "mqtt.password_file: file not found"),
    ({"password_env": "X", "password_file": None}, "mqtt.username: required"),
    ({"tls": {"ca_file": "/nonexistent/ca.crt"}}, "mqtt.tls.ca_file: file not found"),
    ({"tls": {"cafile": "x"}}, "mqtt.tls.cafile: unknown key"),
    ({"tls": "yes please"}, "mqtt.tls: expected a mapping"),
    ("not a mapping", "mqtt: expected a mapping"),
])
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError) as err:
        MqttConfig.from_dict(data)
    assert str(err.value).startswith(key), str(err.value)
    assert "\n" not in str(err.value)


def test_path_prefix_is_used():
    with pytest.raises(ConfigError, match=r"^sites\.kitchen\.mqtt\.port"):
        MqttConfig.from_dict({"port": -1}, path="sites.kitchen.mqtt")


def test_key_file_needs_cert_file(tmp_path):
    key = tmp_path / "k"
    key.write_text("x")
    with pytest.raises(ConfigError, match="mqtt.tls.key_file: needs mqtt.tls.cert_file"):
        MqttConfig.from_dict({"tls": {"key_file": str(key)}})


def test_password_from_env_and_never_in_repr(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICECMD_TEST_PW", "hunter2-env")
    cfg = MqttConfig.from_dict({"username": "voice", "password_env": "VOICECMD_TEST_PW"})
    assert cfg.resolve_password() == "hunter2-env"
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg)
    monkeypatch.delenv("VOICECMD_TEST_PW")
    with pytest.raises(ConfigError, match="mqtt.password_env: environment variable VOICECMD_TEST_PW is not set"):
        cfg.resolve_password()
    pw = tmp_path / "pw"
    pw.write_text("hunter2-file")
    cfg = MqttConfig.from_dict({"username": "voice", "password_file": str(pw)})
    assert "hunter2" not in repr(cfg)
    pw.write_text("")
    with pytest.raises(ConfigError, match="is empty") as err:
        cfg.resolve_password()
    assert "hunter2" not in str(err.value)
