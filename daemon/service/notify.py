"""sd_notify (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) via systemd-python, or a tiny AF_UNIX sender without it."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Mapping, Optional

_LOGGER = logging.getLogger(__name__)


def _socket_sender(message: str, address: str) -> bool:
    """Send one datagram to $NOTIFY_SOCKET (path or abstract '@name')."""
    target = "\0" + address[1:] if address.startswith("@") else address
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(target)
        sock.sendall(message.encode("utf-8"))
    return True


def _systemd_sender() -> Optional[Callable[[str], bool]]:
    try:
        from systemd import daemon as sd_daemon
    except ImportError:
        return None
    return lambda message: bool(sd_daemon.notify(message))


class Notifier:
    """Sends service-manager notifications; a no-op when not started by systemd (no NOTIFY_SOCKET)."""

    def __init__(self, environ: Optional[Mapping[str, str]] = None, *, prefer_systemd: bool = True) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET") or None
        self._lock = threading.Lock()
        sender = _systemd_sender() if (prefer_systemd and environ is None) else None
        if sender is None and self.address:
            address = self.address
            sender = lambda message: _socket_sender(message, address)  # noqa: E731
        self._send = sender
        usec = env.get("WATCHDOG_USEC")
        pid = env.get("WATCHDOG_PID")
        self.watchdog_usec: Optional[int] = None
        if usec and usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_usec = int(usec)

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self.address is not None and self._send is not None

    @property
    def watchdog_interval_s(self) -> Optional[float]:
        """How often to ping: half of WatchdogSec, or None when the watchdog is off."""
        return self.watchdog_usec / 2e6 if self.watchdog_usec else None

    def notify(self, message: str) -> bool:
        """Send ``message``; failures are logged once per call, never raised."""
        if not self.enabled:
            return False
        try:
            with self._lock:
                return bool(self._send(message))  # type: ignore[misc]
        except OSError as exc:
            _LOGGER.warning("sd_notify %r failed: %s", message.split("=", 1)[0], exc)
            return False

    def ready(self, status: str) -> bool:
        """READY=1 with a STATUS= line."""
        return self.notify(f"READY=1\nSTATUS={status}")

    def status(self, status: str) -> bool:
        """STATUS= line shown by systemctl status."""
        return self.notify(f"STATUS={status}")

    def watchdog(self) -> bool:
        """WATCHDOG=1 keep-alive."""
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> bool:
        """STOPPING=1 at the start of an orderly shutdown."""
        return self.notify(f"STOPPING=1\nSTATUS={status}")
