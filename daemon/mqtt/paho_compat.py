"""One paho-mqtt client constructor and callback adapters that behave the same on paho 1.6 (Debian/Ubuntu) and 2.x."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

import paho.mqtt as _paho
import paho.mqtt.client as mqtt

__all__ = [
    "PAHO_VERSION",
    "PAHO_V2",
    "make_client",
    "install_callbacks",
    "network_thread",
    "result_is_success",
]

_LOGGER = logging.getLogger(__name__)

PAHO_VERSION: str = getattr(_paho, "__version__", "unknown")
# paho 2.x added CallbackAPIVersion; 2.0.0 refuses Client() without it, 1.x does not have it at all.
PAHO_V2: bool = hasattr(mqtt, "CallbackAPIVersion")

ConnectHandler = Callable[[bool, str], None]
DisconnectHandler = Callable[[str], None]
MessageHandler = Callable[[str, bytes, bool], None]
PublishHandler = Callable[[int], None]
SubscribeHandler = Callable[[int], None]


def make_client(client_id: str, *, clean_session: bool = True) -> mqtt.Client:
    """A paho Client speaking MQTT 3.1.1 with the version-2 callback API when the installed paho has it."""
    if PAHO_V2:
        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
        )
    return mqtt.Client(client_id=client_id, clean_session=clean_session, protocol=mqtt.MQTTv311)


def result_is_success(rc: object) -> bool:
    """True for a paho result/reason code meaning success (int 0 on 1.x, ReasonCode on 2.x)."""
    try:
        return rc == 0
    except Exception:  # pragma: no cover - defensive: exotic ReasonCode comparisons
        return False


def _describe(rc: object) -> str:
    """A readable text for a CONNACK/disconnect code of either paho API."""
    if isinstance(rc, int) and not PAHO_V2:
        return f"{mqtt.connack_string(rc)} ({rc})"
    return str(rc)


def _isolated(name: str, handler: Callable[..., None]) -> Callable[..., None]:
    """Wrap a handler so an exception is logged and never unwinds into (and kills) paho's network thread."""

    def call(*args: object) -> None:
        try:
            handler(*args)
        except Exception:
            _LOGGER.exception("MQTT %s handler failed", name)

    return call


def install_callbacks(
    client: mqtt.Client,
    *,
    on_connect: ConnectHandler,
    on_disconnect: DisconnectHandler,
    on_message: MessageHandler,
    on_publish: PublishHandler,
    on_subscribe: Optional[SubscribeHandler] = None,
) -> None:
    """Attach version-independent handlers: connect(ok, reason), disconnect(reason), message(topic, payload, retained),
    publish(mid), subscribe(mid). Each runs isolated so its exceptions are logged, not raised into paho."""
    connect = _isolated("connect", on_connect)
    disconnect = _isolated("disconnect", on_disconnect)
    message = _isolated("message", on_message)
    publish = _isolated("publish", on_publish)

    def _on_connect(_client, _userdata, _flags, rc, _properties=None):  # v1: (c, u, flags, rc); v2 adds properties
        connect(result_is_success(rc), _describe(rc))

    def _on_disconnect(_client, _userdata, *args):  # v1: (c, u, rc); v2: (c, u, flags, reason_code, properties)
        rc = args[0] if len(args) == 1 else args[1]
        disconnect("clean" if result_is_success(rc) else _describe(rc))

    def _on_message(_client, _userdata, msg):
        message(msg.topic, bytes(msg.payload or b""), bool(msg.retain))

    def _on_publish(_client, _userdata, mid, *_rest):  # v2 adds reason_code, properties
        publish(int(mid))

    if on_subscribe is not None:
        subscribe = _isolated("subscribe", on_subscribe)

        def _on_subscribe(_client, _userdata, mid, *_rest):  # v1: granted_qos; v2: reason_codes, properties
            subscribe(int(mid))

        client.on_subscribe = _on_subscribe
    client.on_connect = _on_connect
    client.on_disconnect = _on_disconnect
    client.on_message = _on_message
    client.on_publish = _on_publish


def network_thread(client: mqtt.Client) -> Optional[threading.Thread]:
    """The thread loop_start() created (paho keeps it in a private attribute on every version we support)."""
    thread = getattr(client, "_thread", None)
    return thread if isinstance(thread, threading.Thread) else None
