"""A real mosquitto on 127.0.0.1 for tests (plain, TLS, password listeners) and a real paho subscriber.

Usage::

    from tests.helpers.mosquitto import Broker, Subscriber
    with Broker(tmp_path) as broker:
        with Subscriber(broker.port, ["voicecmd/#"]) as sub:
            ...
            sub.wait_for(lambda msgs: len(msgs) >= 1, timeout=5)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import paho.mqtt.client as mqtt

__all__ = ["Broker", "TlsMaterial", "Subscriber", "Received", "free_port", "make_tls_material", "paho_client"]

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_ports(1)[0]


def free_ports(count: int) -> list:
    """``count`` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    # All sockets stay bound until every port is known: closing each before the next bind let the kernel
    # hand out the same port twice (CI: two listeners of one broker on one port, "Address already in use").
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class TlsMaterial:
    """A throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate, all PEM files."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_tls_material(directory: Path) -> TlsMaterial:
    """Generate the CA, server and client certificates with openssl (about 1 s)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        subprocess.run([OPENSSL, *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", "ca.key", "-out", "ca.crt",
        "-subj", "/CN=voicecmd-test-ca")
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, cn, ext in (("server", "localhost", ["-extfile", "san.ext"]), ("client", "voicecmd-client", [])):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", *ext)
    for path in d.iterdir():
        path.chmod(0o644)  # mosquitto started as root drops to user mosquitto
    return TlsMaterial(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key")


class Broker:
    """mosquitto with an anonymous plain listener on ``port``; optionally

    * ``tls`` material: ``tls_port`` (TLS + username/password) and ``cert_port`` (TLS + client certificate required);
    * ``users`` {name: password}: ``password_port`` (plain TCP, password required);
    * ``persistence``: keeps sessions and queued messages across a ``restart()`` after a SIGTERM stop."""

    def __init__(
        self,
        workdir: Path,
        *,
        tls: Optional[TlsMaterial] = None,
        users: Optional[dict[str, str]] = None,
        persistence: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.tls = tls
        self.users = dict(users or {})
        if tls and not self.users:
            self.users = {"voice": "s3cret"}
        self._pick_ports()
        self.persistence = persistence
        self.conf_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.process: Optional[subprocess.Popen] = None
        self._write_config()

    # -------------------------------------------------------------------------------------------- config

    def _pick_ports(self) -> None:
        port, password_port, tls_port, cert_port = free_ports(4)
        self.port = port
        self.password_port = password_port if self.users else None
        self.tls_port = tls_port if self.tls else None
        self.cert_port = cert_port if self.tls else None

    def _write_config(self) -> None:
        lines = ["per_listener_settings true", "user root", f"log_dest file {self.log_path}",
                 "log_type error", "log_type warning", "log_type notice", "log_type information",
                 "connection_messages true"]
        if self.persistence:
            store = self.workdir / "store"
            store.mkdir(exist_ok=True)
            os.chmod(store, 0o777)
            lines += ["persistence true", f"persistence_location {store}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        lines += [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        if self.users:
            pwfile = self.workdir / "passwd"
            pwfile.write_text("")
            for user, password in self.users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(pwfile), user, password], check=True, capture_output=True)
            pwfile.chmod(0o644)
            lines += [f"listener {self.password_port} 127.0.0.1", "allow_anonymous false", f"password_file {pwfile}"]
            if self.tls:
                t = self.tls
                lines += [f"listener {self.tls_port} 127.0.0.1", "allow_anonymous false", f"password_file {pwfile}",
                          f"cafile {t.ca_cert}", f"certfile {t.server_cert}", f"keyfile {t.server_key}"]
                lines += [f"listener {self.cert_port} 127.0.0.1", "allow_anonymous true",
                          f"cafile {t.ca_cert}", f"certfile {t.server_cert}", f"keyfile {t.server_key}",
                          "require_certificate true"]
        self.conf_path.write_text("\n".join(lines) + "\n")

    # -------------------------------------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 5.0) -> "Broker":
        """Start mosquitto and wait until every listener accepts connections."""
        if self.process is not None and self.process.poll() is None:
            return self
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        ports = [p for p in (self.port, self.password_port, self.tls_port, self.cert_port) if p]
        deadline = time.monotonic() + timeout
        while not all(_port_open(p) for p in ports):
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {err}\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on {ports} within {timeout} s\n{self.log()}")
            time.sleep(0.02)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        """Stop mosquitto with ``sig`` (SIGTERM saves persistence; SIGKILL is a crash) and wait for it."""
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr:
            proc.stderr.close()
        self.process = None

    def kill(self) -> None:
        """Crash the broker (SIGKILL): nothing is saved, connections drop at once."""
        self.stop(signal.SIGKILL)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """Stop with ``sig`` then start again on the same ports."""
        self.stop(sig)
        self.start()

    @property
    def running(self) -> bool:
        """True while the mosquitto process is alive."""
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        """The broker's log so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "Broker":
        # A port free when picked can be taken by another process before mosquitto binds it; nobody has
        # been told the ports yet, so the first start may pick again.
        for attempt in range(3):
            try:
                return self.start()
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == 2:
                    raise
                self._pick_ports()
                self._write_config()
        raise AssertionError("unreachable")

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ------------------------------------------------------------------------------------------------ subscriber


def paho_client(client_id: str, *, clean_session: bool = True) -> mqtt.Client:
    """A paho client on either API (independent of the code under test)."""
    if hasattr(mqtt, "CallbackAPIVersion"):
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    return mqtt.Client(client_id=client_id, clean_session=clean_session)


@dataclass(frozen=True)
class Received:
    """One message a Subscriber got."""

    topic: str
    payload: bytes
    retain: bool
    qos: int
    time: float
    dup: bool = False  # the broker re-sent it (QoS 1 redelivery)

    def json(self) -> object:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


class Subscriber:
    """A real paho subscriber that records everything on ``topics`` (QoS 1) and re-subscribes after reconnects.

    With ``client_id`` and ``clean_session=False`` it keeps a persistent session on a persistent broker."""

    def __init__(
        self,
        port: int,
        topics: Iterable[str],
        *,
        host: str = "127.0.0.1",
        client_id: Optional[str] = None,
        clean_session: bool = True,
    ) -> None:
        self.port = port
        self.host = host
        self.topics = list(topics)
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self._client = paho_client(client_id or f"test-sub-{uuid.uuid4().hex[:8]}", clean_session=clean_session)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.reconnect_delay_set(0.05, 0.2)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        if rc == 0:
            client.subscribe([(t, 1) for t in self.topics])

    def _on_subscribe(self, *args):
        self._subscribed.set()

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append(
                Received(msg.topic, bytes(msg.payload), bool(msg.retain), msg.qos, time.time(), bool(msg.dup))
            )
            self._cond.notify_all()

    def start(self, timeout: float = 5.0) -> "Subscriber":
        """Connect, subscribe and wait for the SUBACK."""
        self._client.connect_async(self.host, self.port, keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            raise RuntimeError(f"subscriber not subscribed to {self.topics} on port {self.port} within {timeout} s")
        return self

    def stop(self) -> None:
        """Disconnect."""
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes | str = b"", *, qos: int = 1, retain: bool = False) -> None:
        """Publish through this client and wait for the broker's acknowledgement."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=5)

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 5.0) -> list[Received]:
        """Block until ``predicate(messages)`` holds; AssertionError with what arrived on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    topics = [m.topic for m in self.messages[-20:]]
                    raise AssertionError(f"timed out after {timeout} s; {len(self.messages)} messages, last: {topics}")
                self._cond.wait(left)
            return list(self.messages)

    def on(self, topic: str) -> list[Received]:
        """Messages received on exactly ``topic``."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def clear(self) -> None:
        """Forget what was received so far."""
        with self._cond:
            self.messages.clear()

    def __enter__(self) -> "Subscriber":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
