"""MQTT settings: frozen dataclasses validated from the ``mqtt:`` config section (secrets are referenced, never stored)."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

from daemon.errors import ConfigError

__all__ = ["MqttConfig", "MqttTlsConfig"]

_LOGGER = logging.getLogger(__name__)

_TOPIC_FORBIDDEN = set("+#\0")
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


# --------------------------------------------------------------------------------------------------------------
# Field checks: each returns the clean value or raises ConfigError naming the key path.


def _fail(key: str, problem: str, value: Any) -> ConfigError:
    return ConfigError(f"{key}: {problem}, got {value!r}")


def _str(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(key, "must be a non-empty string", value)
    return value


def _optional_str(key: str, value: Any) -> Optional[str]:
    return None if value is None else _str(key, value)


def _int(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(key, f"must be an integer from {lo} to {hi}", value)
    return value


def _float(key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= float(value) <= hi:
        raise _fail(key, f"must be a number from {lo} to {hi}", value)
    return float(value)


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.lower()]
    raise _fail(key, "must be true or false", value)


def _topic_prefix(key: str, value: Any) -> str:
    text = _str(key, value)
    if set(text) & _TOPIC_FORBIDDEN or text.startswith("/") or text.endswith("/") or "//" in text:
        raise _fail(key, "must be an MQTT topic prefix without '+', '#', empty levels or a leading/trailing '/'", value)
    return text


def _readable_file(key: str, value: Any) -> str:
    text = _str(key, value)
    path = Path(text).expanduser()
    if not path.is_file():
        raise _fail(key, "file not found", value)
    if not os.access(path, os.R_OK):
        raise _fail(key, "file is not readable", value)
    return str(path)


def _check_keys(data: Mapping[str, Any], known: tuple[str, ...], path: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of settings, got {data!r}")
    for key in data:
        if key not in known:
            hint = " (give password_file or password_env instead)" if key == "password" else ""
            raise ConfigError(f"{path}.{key}: unknown key{hint}; known keys: {', '.join(known)}")


# --------------------------------------------------------------------------------------------------------------
# Dataclasses


@dataclass(frozen=True)
class MqttTlsConfig:
    """TLS towards the broker: CA bundle (None = system CAs), optional client certificate and key."""

    ca_file: Optional[str] = None
    cert_file: Optional[str] = None
    key_file: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Any, path: str = "mqtt.tls") -> Optional["MqttTlsConfig"]:
        """``tls: false/null`` = plain TCP, ``tls: true`` = TLS with system CAs, a mapping = these files."""
        if data is None or data is False:
            return None
        if data is True:
            return cls()
        _check_keys(data, tuple(f.name for f in dataclasses.fields(cls)), path)
        values = {key: _readable_file(f"{path}.{key}", value) for key, value in data.items() if value is not None}
        if "key_file" in values and "cert_file" not in values:
            raise ConfigError(f"{path}.key_file: needs {path}.cert_file (the client certificate) as well")
        return cls(**values)


@dataclass(frozen=True)
class MqttConfig:
    """Broker connection, topics and offline queue; the password is only referenced (file or environment variable)."""

    host: str = "localhost"
    port: int = 1883
    client_id: Optional[str] = None  # None: "voicecmd-<site_id>"
    username: Optional[str] = None
    password_file: Optional[str] = None
    password_env: Optional[str] = None
    tls: Optional[MqttTlsConfig] = None
    keepalive: int = 30
    topic_prefix: str = "voicecmd"
    hermes: bool = True
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    queue_max: int = 1000  # utterances (each is 1 to 4 messages) kept while the broker is away; oldest dropped
    queue_max_age_s: float = 3600.0  # queued utterances older than this are dropped, never replayed; 0 = no limit
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ConfigError("mqtt.reconnect_max_s: must be >= mqtt.reconnect_min_s")
        if self.password_file and self.password_env:
            raise ConfigError("mqtt.password_env: give either mqtt.password_file or mqtt.password_env, not both")
        if (self.password_file or self.password_env) and not self.username:
            raise ConfigError("mqtt.username: required when a password is configured")

    @classmethod
    def from_dict(cls, data: Any, path: str = "mqtt") -> "MqttConfig":
        """Validate a config mapping; unknown keys and bad values raise ConfigError naming ``<path>.<key>``."""
        if data is None:
            data = {}
        known = tuple(f.name for f in dataclasses.fields(cls))
        _check_keys(data, known, path)
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = f"{path}.{key}"
            if key == "host":
                values[key] = _str(name, value)
            elif key == "port":
                values[key] = _int(name, value, 1, 65535)
            elif key in ("client_id", "username", "password_env"):
                values[key] = _optional_str(name, value)
            elif key == "password_file":
                values[key] = None if value is None else _readable_file(name, value)
            elif key == "tls":
                values[key] = MqttTlsConfig.from_dict(value, f"{path}.tls")
            elif key == "keepalive":
                values[key] = _int(name, value, 5, 3600)
            elif key in ("topic_prefix", "discovery_prefix"):
                values[key] = _topic_prefix(name, value)
            elif key in ("hermes", "discovery"):
                values[key] = _bool(name, value)
            elif key == "queue_max":
                values[key] = _int(name, value, 1, 1_000_000)
            elif key == "queue_max_age_s":
                values[key] = _float(name, value, 0.0, 366 * 86400.0)
            elif key in ("reconnect_min_s", "reconnect_max_s"):
                values[key] = _float(name, value, 0.01, 3600.0)
        if "port" not in values and values.get("tls") is not None:
            values["port"] = 8883
        return cls(**values)

    def effective_client_id(self, site_id: str) -> str:
        """The MQTT client id: the configured one, or ``voicecmd-<site_id>``."""
        return self.client_id or f"voicecmd-{site_id}"

    def resolve_password(self) -> Optional[str]:
        """Read the password from its file or environment variable (None when none is configured)."""
        if self.password_file:
            try:
                secret = Path(self.password_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as err:
                raise ConfigError(f"mqtt.password_file: cannot read {self.password_file}: {err.__class__.__name__}")
            if not secret:
                raise ConfigError(f"mqtt.password_file: {self.password_file} is empty")
            return secret
        if self.password_env:
            secret = os.environ.get(self.password_env)
            if not secret:
                raise ConfigError(f"mqtt.password_env: environment variable {self.password_env} is not set or empty")
            return secret
        return None
