"""One paho-mqtt client constructor and callback adapters that behave the same on paho 1.6 (Debian/Ubuntu) and 2.x."""

from __future__ import annotations

import logging
import socket
import ssl
import sys
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
    "describe_connect_error",
    "discard_messages",
]

_LOGGER = logging.getLogger(__name__)

PAHO_VERSION: str = getattr(_paho, "__version__", "unknown")
# paho 2.x added CallbackAPIVersion; 2.0.0 refuses Client() without it, 1.x does not have it at all.
PAHO_V2: bool = hasattr(mqtt, "CallbackAPIVersion")

ConnectHandler = Callable[[bool, str], None]
ConnectFailHandler = Callable[[str], None]
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
    """A readable text for a CONNACK code of either paho API."""
    if isinstance(rc, int) and not PAHO_V2:
        return f"{mqtt.connack_string(rc)} ({rc})"
    return str(rc)


_CONNECTION_LOST = "connection lost: the broker closed the connection or the network dropped (broker stopped or crashed?)"
_KEEPALIVE_LOST = "connection lost: no reply from the broker within the keepalive interval"


def _describe_disconnect(rc: object, from_server: bool = False) -> str:
    """Why a connection ended, for either paho API: 1.x passes an MQTT_ERR_* int, 2.x a DISCONNECT ReasonCode
    (a lost socket becomes "Unspecified error" there, which says nothing)."""
    if isinstance(rc, int) and not PAHO_V2:
        if rc == mqtt.MQTT_ERR_CONN_LOST:
            return _CONNECTION_LOST
        if rc == getattr(mqtt, "MQTT_ERR_KEEPALIVE", 16):
            return _KEEPALIVE_LOST
        return f"{mqtt.error_string(rc)} ({rc})"
    name = getattr(rc, "getName", lambda: str(rc))()
    if from_server:
        return f"the broker disconnected us: {name}"
    if name == "Keep alive timeout":
        return _KEEPALIVE_LOST
    if name == "Unspecified error":
        return _CONNECTION_LOST
    return str(name)


def describe_connect_error(err: Optional[BaseException], tls: bool = False) -> str:
    """A readable reason for a failed connection attempt (the OSError paho caught before calling on_connect_fail);
    ``tls`` says whether the attempt was a TLS one."""
    if err is None:
        return "connection failed (no reason given)"
    if tls and isinstance(err, (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)):
        return ("TLS handshake failed: the broker closed the connection (is the port a TLS listener? "
                "a plain MQTT port drops a TLS hello)")
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {err.verify_message or err}"
    if isinstance(err, ssl.SSLError):
        detail = err.reason or err.__class__.__name__
        return f"TLS handshake failed ({detail}): is the port a TLS listener, and the CA the broker's?"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is the broker running and listening on that port?)"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host name: {err.strerror or err}"
    if isinstance(err, (socket.timeout, TimeoutError)):
        return "timed out connecting"
    if isinstance(err, (ConnectionResetError, BrokenPipeError)):
        return "the broker closed the connection while connecting (a TLS-only port spoken to without TLS?)"
    return f"{err.__class__.__name__}: {err}" if str(err) else err.__class__.__name__


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
    on_connect_fail: Optional[ConnectFailHandler] = None,
    tls: bool = False,
) -> None:
    """Attach version-independent handlers: connect(ok, reason), disconnect(reason), message(topic, payload, retained),
    publish(mid), subscribe(mid), connect_fail(reason). Each runs isolated so its exceptions are logged, not raised
    into paho.

    connect_fail covers what never reaches a CONNACK (refused TCP connection, failed TLS handshake, unknown host):
    paho 1.6 and 2.x both call ``on_connect_fail(client, userdata)`` from inside the ``except OSError`` of their
    network loop without the error, so the handler reads it from ``sys.exc_info()``."""
    connect = _isolated("connect", on_connect)
    disconnect = _isolated("disconnect", on_disconnect)
    message = _isolated("message", on_message)
    publish = _isolated("publish", on_publish)

    def _on_connect(_client, _userdata, _flags, rc, _properties=None):  # v1: (c, u, flags, rc); v2 adds properties
        connect(result_is_success(rc), _describe(rc))

    def _on_disconnect(_client, _userdata, *args):  # v1: (c, u, rc); v2: (c, u, flags, reason_code, properties)
        rc = args[0] if len(args) == 1 else args[1]
        from_server = len(args) > 1 and bool(getattr(args[0], "is_disconnect_packet_from_server", False))
        disconnect("clean" if result_is_success(rc) else _describe_disconnect(rc, from_server))

    def _on_message(_client, _userdata, msg):
        message(msg.topic, bytes(msg.payload or b""), bool(msg.retain))

    def _on_publish(_client, _userdata, mid, *_rest):  # v2 adds reason_code, properties
        publish(int(mid))

    if on_subscribe is not None:
        subscribe = _isolated("subscribe", on_subscribe)

        def _on_subscribe(_client, _userdata, mid, *_rest):  # v1: granted_qos; v2: reason_codes, properties
            subscribe(int(mid))

        client.on_subscribe = _on_subscribe
    if on_connect_fail is not None:
        connect_fail = _isolated("connect_fail", on_connect_fail)

        def _on_connect_fail(_client, _userdata):
            connect_fail(describe_connect_error(sys.exc_info()[1], tls))

        client.on_connect_fail = _on_connect_fail
    client.on_connect = _on_connect
    client.on_disconnect = _on_disconnect
    client.on_message = _on_message
    client.on_publish = _on_publish


def network_thread(client: mqtt.Client) -> Optional[threading.Thread]:
    """The thread loop_start() created (paho keeps it in a private attribute on every version we support)."""
    thread = getattr(client, "_thread", None)
    return thread if isinstance(thread, threading.Thread) else None


def discard_messages(client: mqtt.Client, mids: set[int]) -> int:
    """Make paho forget queued outgoing messages ``mids`` so it does not re-send them after a reconnect; the number
    forgotten. Call it from on_connect: paho re-sends its held messages right after that callback (1.6 and 2.x).
    Uses paho's private ``_out_messages`` (as ``network_thread`` uses ``_thread``); does nothing if that changed."""
    out = getattr(client, "_out_messages", None)
    lock = getattr(client, "_out_message_mutex", None)
    if out is None or lock is None or not mids:
        return 0
    with lock:
        gone = [mid for mid in mids if out.pop(mid, None) is not None]
    return len(gone)
