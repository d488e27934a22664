"""A NOTIFY_SOCKET receiver for tests; a thread drains it continuously (10 undrained datagrams block sd_notify)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Callable, Optional


class NotifyReceiver:
    """Binds an AF_UNIX datagram socket and records every message with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="notify-receiver", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))
                self._cond.notify_all()

    def lines(self) -> list[str]:
        """Every KEY=VALUE line received so far."""
        with self._cond:
            return [line for _, m in self.messages for line in m.splitlines()]

    def times_of(self, line: str) -> list[float]:
        """Arrival times of messages containing ``line``."""
        with self._cond:
            return [t for t, m in self.messages if line in m.splitlines()]

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until ``predicate(lines)`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                lines = [line for _, m in self.messages for line in m.splitlines()]
                if predicate(lines):
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self._sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def __enter__(self) -> "NotifyReceiver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def env_for(receiver: NotifyReceiver, watchdog_usec: Optional[int] = None) -> dict[str, str]:
    """Environment additions that make a child talk to ``receiver``."""
    env = {"NOTIFY_SOCKET": receiver.path}
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return env
