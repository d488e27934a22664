"""Grammar lifecycle: compile at start, recompile in the background on request or file change, swap atomically."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Callable, Iterable, Optional

from daemon.errors import GrammarError
from daemon.pipeline import ActiveGrammar

_LOGGER = logging.getLogger(__name__)

GrammarBuilder = Callable[[tuple[Path, ...]], ActiveGrammar]


def expand_grammar_paths(paths: Iterable[Path]) -> tuple[Path, ...]:
    """Grammar paths for load_grammar: a directory without ``*.yaml`` but with language subdirectories expands to them."""
    out: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir() and not any(path.glob("*.yaml")):
            subdirs = sorted(d for d in path.iterdir() if d.is_dir() and any(d.glob("*.yaml")))
            out.extend(subdirs or [path])
        else:
            out.append(path)
    return tuple(out)


def grammar_files(paths: Iterable[Path]) -> list[Path]:
    """Every grammar file the paths name (directories contribute their ``*.yaml``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.yaml") if p.is_file()))
        else:
            files.append(path)
    return files


def grammar_version(paths: Iterable[Path]) -> str:
    """A short content hash of the grammar files (shown in the state JSON)."""
    digest = hashlib.sha1()
    for f in grammar_files(paths):
        digest.update(str(f).encode())
        try:
            digest.update(f.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()[:12]


def _snapshot(paths: Iterable[Path]) -> dict[str, tuple[int, int]]:
    snap: dict[str, tuple[int, int]] = {}
    for path in paths:
        for p in [path, *(grammar_files([path]) if path.is_dir() else [])]:
            try:
                st = p.stat()
                snap[str(p)] = (st.st_mtime_ns, st.st_size)
            except OSError:
                snap[str(p)] = (-1, -1)
    return snap


class GrammarManager:
    """Holds the active grammar; ``reload()`` builds a new one off the audio path and swaps it only if it compiles."""

    def __init__(
        self,
        paths: tuple[Path, ...],
        build: GrammarBuilder,
        *,
        on_swap: Optional[Callable[[ActiveGrammar], None]] = None,
        on_error: Optional[Callable[[str], None]] = None,
        watch: bool = True,
        watch_interval_s: float = 2.0,
    ) -> None:
        self.paths = expand_grammar_paths(paths)
        self._build = build
        self._on_swap = on_swap
        self._on_error = on_error
        self._watch = watch
        self._interval = watch_interval_s
        self._active: Optional[ActiveGrammar] = None
        self._requested = threading.Event()
        self._reasons: list[str] = []
        self._lock = threading.Lock()
        self._snapshot = _snapshot(self.paths)
        self.reloads = 0
        self.failures = 0
        self.last_error: Optional[str] = None

    def current(self) -> ActiveGrammar:
        """The grammar in force (a plain attribute read: swapping is atomic)."""
        active = self._active
        if active is None:
            raise RuntimeError("grammar not loaded yet")
        return active

    def load_initial(self) -> ActiveGrammar:
        """Compile the grammar at start-up; GrammarError propagates (the daemon cannot start without one)."""
        self._snapshot = _snapshot(self.paths)
        self._active = self._build(self.paths)
        return self._active

    def request_reload(self, reason: str) -> None:
        """Ask the worker thread to recompile (SIGHUP, MQTT reload command); returns at once."""
        with self._lock:
            self._reasons.append(reason)
        self._requested.set()

    def reload_now(self, reason: str) -> bool:
        """Recompile synchronously; on success swap and return True, on failure keep the old grammar."""
        self._snapshot = _snapshot(self.paths)
        try:
            new = self._build(self.paths)
        except GrammarError as exc:
            return self._fail(f"grammar reload ({reason}) rejected, keeping version "
                              f"{self._active.version if self._active else '?'}: {exc}")
        except Exception as exc:  # a crash in the compiler must not take the old grammar down
            _LOGGER.debug("grammar build crashed", exc_info=True)
            return self._fail(f"grammar reload ({reason}) failed, keeping the old grammar: {type(exc).__name__}: {exc}")
        old = self._active
        self._active = new
        self.reloads += 1
        self.last_error = None
        _LOGGER.info("grammar reloaded (%s): version %s -> %s", reason, old.version if old else "-", new.version,
                     extra={"GRAMMAR_VERSION": new.version})
        if self._on_swap is not None:
            self._on_swap(new)
        return True

    def _fail(self, message: str) -> bool:
        self.failures += 1
        self.last_error = message
        _LOGGER.error("%s", message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:  # reporting must not break the reload loop
                _LOGGER.exception("could not report the grammar error")
        return False

    def wake(self) -> None:
        """Wake the worker (at shutdown, so it notices the stop event at once)."""
        self._requested.set()

    def changed_on_disk(self) -> bool:
        """True when a grammar file's mtime/size changed (or a file appeared/disappeared) since the last build."""
        return _snapshot(self.paths) != self._snapshot

    def run_worker(self, stop: threading.Event) -> None:
        """Thread body: wait for reload requests; poll file mtimes every ``watch_interval_s`` when watching."""
        while not stop.is_set():
            requested = self._requested.wait(self._interval if self._watch else 1.0)
            if stop.is_set():
                return
            if requested:
                self._requested.clear()
                with self._lock:
                    reasons, self._reasons = self._reasons, []
                if reasons:
                    self.reload_now(", ".join(dict.fromkeys(reasons)))
            elif self._watch and self.changed_on_disk():
                self.reload_now("file change")
