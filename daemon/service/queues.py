"""A bounded queue that drops the oldest item when full (and counts the drops) instead of blocking the producer."""

from __future__ import annotations

import collections
import threading
from typing import Deque, Generic, Optional, TypeVar

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Thread-safe FIFO of at most ``maxsize`` items; put() never blocks, get() waits up to a timeout."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._items: Deque[T] = collections.deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        """Append ``item``; when full, the oldest item is discarded and counted."""
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def put_wait(self, item: T, stop: threading.Event, poll_s: float = 0.1) -> bool:
        """Append ``item``, waiting for room (back-pressure for files and pipes); False if ``stop`` was set."""
        with self._cond:
            while len(self._items) >= self._maxsize:
                if stop.is_set():
                    return False
                self._cond.wait(poll_s)
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        """The oldest item, or None when nothing arrived within ``timeout`` seconds."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            item = self._items.popleft()
            self._cond.notify_all()  # wakes a producer waiting in put_wait
            return item

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
