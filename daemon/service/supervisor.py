"""Named worker threads that restart their body with capped exponential backoff and escalate when they cannot recover."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

_LOGGER = logging.getLogger(__name__)


class Backoff:
    """Capped exponential delays: min, 2*min, 4*min, ... max; reset() after a success."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.minimum, self.maximum = minimum, maximum
        self._next = minimum

    def next_delay(self) -> float:
        """The delay to wait now; doubles the next one up to the cap."""
        delay = self._next
        self._next = min(self.maximum, self._next * 2)
        return delay

    def reset(self) -> None:
        """Back to the minimum delay."""
        self._next = self.minimum


class SupervisedThread:
    """Runs ``body(stop_event)`` in a named thread; exceptions restart it with backoff until the budget is spent.

    A body returning normally ends the thread (``finished`` is set). More than ``max_restarts`` crashes within
    ``window_s`` call ``on_fatal(name, exc)``: the daemon then exits non-zero so systemd restarts it.
    """

    def __init__(
        self,
        name: str,
        body: Callable[[threading.Event], None],
        stop: threading.Event,
        *,
        on_fatal: Callable[[str, BaseException], None],
        backoff: Optional[Backoff] = None,
        max_restarts: int = 5,
        window_s: float = 60.0,
        daemon: bool = False,
    ) -> None:
        self.name = name
        self._body = body
        self._stop = stop
        self._on_fatal = on_fatal
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._max_restarts = max_restarts
        self._window_s = window_s
        self._crashes: list[float] = []
        self.restarts = 0
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=daemon)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        """True while the thread runs."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._body(self._stop)
                    return
                except Exception as exc:  # every crash is logged, counted and restarted (or escalated)
                    now = time.monotonic()
                    self._crashes = [t for t in self._crashes if now - t < self._window_s] + [now]
                    if len(self._crashes) > self._max_restarts:
                        _LOGGER.critical("%s: giving up after %d failures in %.0f s: %s", self.name,
                                         len(self._crashes), self._window_s, exc, exc_info=True)
                        self._on_fatal(self.name, exc)
                        return
                    delay = self._backoff.next_delay()
                    self.restarts += 1
                    _LOGGER.error("%s failed (%s); restarting in %.1f s", self.name, exc, delay, exc_info=True)
                    if self._stop.wait(delay):
                        return
        finally:
            self.finished.set()
