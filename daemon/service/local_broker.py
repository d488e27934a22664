"""A throw-away local mosquitto for ``voicecmd run --demo`` plus a subscriber that prints what is published."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Optional

_LOGGER = logging.getLogger(__name__)
_START_TIMEOUT_S = 5.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_binary() -> Optional[str]:
    """Path of the mosquitto broker, if installed (also looked up in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


class LocalBroker:
    """mosquitto listening on 127.0.0.1:<free port>, anonymous, no persistence; stop() ends it."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="voicecmd-mosquitto-")
        self._proc: Optional[subprocess.Popen] = None

    def start(self) -> "LocalBroker":
        """Start the broker and wait until it accepts connections."""
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        log = open(Path(self._dir.name) / "mosquitto.log", "wb")
        self._proc = subprocess.Popen([self.binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise OSError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        """Terminate the broker (kill after 3 s)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._dir.cleanup()


class PrintingSubscriber:
    """Subscribes to the voicecmd and Hermes topics and prints each message as ``topic payload``."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("voicecmd/#", "hermes/#")) -> None:
        from daemon.mqtt.paho_compat import make_client

        self._client: Any = make_client(f"voicecmd-demo-sub-{port}")
        self._topics = topics
        self._port = port
        self._lock = threading.Lock()
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def _on_connect(self, client: Any, *_args: Any) -> None:
        for topic in self._topics:
            client.subscribe(topic, qos=1)

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        if msg.topic.startswith("homeassistant/"):
            return
        payload = msg.payload.decode("utf-8", "replace")
        with self._lock:
            print(f"{msg.topic} {payload}", flush=True)

    def start(self) -> None:
        """Connect and start paho's network thread."""
        self._client.connect("127.0.0.1", self._port)
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect."""
        try:
            self._client.disconnect()
        finally:
            self._client.loop_stop()
