"""Decode an utterance while its trailing silence is still being confirmed, so the intent is ready at the endpoint."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any, Callable, Optional

_LOGGER = logging.getLogger(__name__)


class SpeculativeDecoder:
    """One look-ahead decode at a time on a named worker thread.

    When the speech has been followed by ``after_ms`` of silence, ``maybe_start`` decodes a snapshot of the
    session (audio so far) in the background; if the silence lasts until the endpoint, ``take`` hands over that
    result instead of decoding again. Speech that resumes (``discard``) makes the look-ahead void. Sessions
    without ``snapshot()`` take no part.
    """

    def __init__(self, decode: Callable[[Any, Any], tuple[Any, Any]], after_ms: int,
                 executor: Optional[concurrent.futures.Executor] = None) -> None:
        self._decode = decode
        self.after_ms = after_ms
        # A caller's executor (the Wyoming server's workers: no thread per utterance) is used and never shut down.
        self._shared_executor = executor is not None
        self._executor: Optional[concurrent.futures.Executor] = executor
        self._future: Optional[concurrent.futures.Future] = None
        self._held: Optional[tuple] = None  # (snapshot, grammar) taken but not decoding yet
        self._snapshot: Any = None
        self._active: Any = None
        self._lock = threading.Lock()
        self.started = 0
        self.used = 0
        self.discarded = 0

    def maybe_start(self, session: Any, active: Any, silence_ms: int, hold: bool = False) -> None:
        """Start a look-ahead once per silence run, when enabled and the session can be snapshotted; with
        ``hold``, only take its snapshot now (the audio it decodes) and decode it on ``release()``."""
        if (self.after_ms <= 0 or self._future is not None or self._held is not None
                or silence_ms < self.after_ms):
            return
        snapshot = getattr(session, "snapshot", None)
        if snapshot is None:
            return
        self._held = (snapshot(), active)
        if not hold:
            self.release()

    def release(self) -> None:
        """Start decoding the snapshot held by ``maybe_start(..., hold=True)``, if any."""
        if self._held is None:
            return
        copy, active = self._held
        self._held = None
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="speculative-decode")
        self._snapshot = copy
        self._active = active
        self._future = self._executor.submit(self._decode, copy, active)
        self.started += 1

    def discard(self) -> None:
        """Speech resumed (or the utterance was dropped): forget the look-ahead."""
        self._held = None
        if self._future is not None:
            self._future.cancel()  # not started yet: never start
            # Running: a session that can be cancelled stops at its next decoder step and frees the worker.
            cancel = getattr(self._snapshot, "cancel", None)
            if cancel is not None:
                cancel()
            self._future = None
            self._snapshot = None
            self._active = None
            self.discarded += 1

    @property
    def idle(self) -> bool:
        """No look-ahead is running or queued (a held snapshot is neither)."""
        future = self._future
        return future is None or future.done()

    def ready(self, active: Any) -> Optional[Any]:
        """The look-ahead's outcome if it has finished, succeeded and used ``active``; else None. Keeps it for
        ``take``."""
        future = self._future
        if future is None or not future.done() or self._active is not active or future.exception() is not None:
            return None
        return future.result()

    def take(self, active: Any, timeout_s: float = 10.0,
             wanted: Optional[Callable[[Any], bool]] = None) -> Optional[Any]:
        """The look-ahead's outcome (what ``decode`` returned) when it was made with the same grammar, succeeded
        and is ``wanted`` (when given); else None. A held snapshot is decoded now."""
        self.release()
        future, made_with = self._future, self._active
        self._future = None
        self._snapshot = None
        self._active = None
        if future is None:
            return None
        if made_with is not active:  # the grammar was reloaded meanwhile
            self.discarded += 1
            return None
        try:
            outcome = future.result(timeout=timeout_s)
        except Exception:  # the normal decode runs instead and reports its own error, if any
            _LOGGER.warning("look-ahead decode failed; decoding again at the endpoint", exc_info=True)
            return None
        if wanted is not None and not wanted(outcome):
            self.discarded += 1
            return None
        self.used += 1
        return outcome

    def close(self) -> None:
        """Stop the worker thread (a running decode finishes in the background)."""
        if self._executor is not None and not self._shared_executor:
            self._executor.shutdown(wait=False)
            self._executor = None
