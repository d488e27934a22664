"""Bounded FIFO of messages awaiting their PUBACK, journaled as JSON lines so it survives a daemon restart."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

__all__ = ["OutboxEntry", "Outbox"]

_LOGGER = logging.getLogger(__name__)

_COMPACT_SLACK = 256  # journal lines beyond the live entries tolerated before the file is rewritten


@dataclass(frozen=True)
class OutboxEntry:
    """One message waiting for delivery: sequence number, topic, payload, QoS, retain flag, creation time."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float


def _entry_line(entry: OutboxEntry) -> str:
    # surrogateescape keeps arbitrary payload bytes round-trippable through JSON's \\u escapes
    record = {
        "add": entry.seq,
        "topic": entry.topic,
        "payload": entry.payload.decode("utf-8", "surrogateescape"),
        "qos": entry.qos,
        "retain": entry.retain,
        "created": entry.created,
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


class Outbox:
    """Pending messages in order; ``append`` persists (write now, fsync by ``sync()``), ``remove`` forgets one after
    its PUBACK.

    The journal holds ``{"add": seq, ...}`` and ``{"del": seq}`` lines and is compacted when mostly dead.
    When ``path`` is None or cannot be written, the outbox works in memory only (logged once)."""

    def __init__(self, path: Optional[Path], max_entries: int) -> None:
        self._path = path
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: "OrderedDict[int, OutboxEntry]" = OrderedDict()
        self._next_seq = 1
        self._journal: Optional[IO[str]] = None
        self._journal_lines = 0
        self._dirty = False
        self.dropped = 0
        self.recovered = 0
        if path is not None:
            self._open(path)

    # ---------------------------------------------------------------------------------------------- persistence

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                self._replay(path)
            self._rewrite()
        except OSError as err:
            _LOGGER.warning("MQTT queue file %s unusable (%s): queued intents will not survive a restart", path, err)
            self._journal = None
            self._path = None

    def _replay(self, path: Path) -> None:
        bad = 0
        with path.open("r", encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                    if "add" in record:
                        seq = int(record["add"])
                        self._entries[seq] = OutboxEntry(
                            seq,
                            str(record["topic"]),
                            str(record["payload"]).encode("utf-8", "surrogateescape"),
                            int(record["qos"]),
                            bool(record["retain"]),
                            float(record["created"]),
                        )
                        self._next_seq = max(self._next_seq, seq + 1)
                    else:
                        self._entries.pop(int(record["del"]), None)
                except (ValueError, KeyError, TypeError):
                    bad += 1  # a torn last line after a power cut is expected; anything else is still skipped
                    _LOGGER.warning("%s:%d: unreadable queue record skipped", path, number)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
            self.dropped += 1
        self.recovered = len(self._entries)
        if self.recovered or bad:
            _LOGGER.info("MQTT queue %s: %d message(s) recovered, %d bad line(s)", path, self.recovered, bad)

    def _rewrite(self) -> None:
        """Write the live entries to a fresh journal atomically (temp file + rename)."""
        if self._path is None:
            return
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        tmp = self._path.with_name(self._path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for entry in self._entries.values():
                f.write(_entry_line(entry))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._path)
        self._journal = self._path.open("a", encoding="utf-8")
        self._dirty = False
        self._journal_lines = len(self._entries)

    def _write(self, text: str) -> None:
        """Append to the journal: flushed to the OS (survives a crash of the process), fsync'ed later by sync()."""
        if self._journal is None:
            return
        try:
            self._journal.write(text)
            self._journal.flush()
            self._dirty = True
            self._journal_lines += text.count("\n")
            if not self._entries:  # drained (the usual case while connected): empty the file, no rewrite
                self._journal.truncate(0)
                self._journal_lines = 0
            elif self._journal_lines > 2 * len(self._entries) + _COMPACT_SLACK:
                self._rewrite()
        except OSError as err:
            _LOGGER.error("MQTT queue file %s: write failed (%s); continuing in memory", self._path, err)
            self._journal = None
            self._path = None

    # ---------------------------------------------------------------------------------------------- API

    @property
    def path(self) -> Optional[Path]:
        """The journal file (None when in memory only)."""
        return self._path

    def append(self, messages: list[tuple[str, bytes, int, bool]]) -> list[OutboxEntry]:
        """Queue (topic, payload, qos, retain) messages durably; the oldest are dropped (and counted) when full."""
        now = time.time()
        with self._lock:
            added = []
            for topic, payload, qos, retain in messages:
                entry = OutboxEntry(self._next_seq, topic, payload, qos, retain, now)
                self._next_seq += 1
                self._entries[entry.seq] = entry
                added.append(entry)
            dropped = []
            while len(self._entries) > self._max:
                dropped.append(self._entries.popitem(last=False)[1])
            text = "".join(_entry_line(e) for e in added) + "".join(
                json.dumps({"del": e.seq}) + "\n" for e in dropped
            )
            self._write(text)
            if dropped:
                self.dropped += len(dropped)
                _LOGGER.warning(
                    "MQTT queue full (%d messages): dropped %d oldest (%d dropped in all)",
                    self._max, len(dropped), self.dropped,
                )
            return added

    def remove(self, seq: int) -> bool:
        """Forget a delivered entry; False when it was not queued (already removed or dropped)."""
        with self._lock:
            if self._entries.pop(seq, None) is None:
                return False
            self._write(json.dumps({"del": seq}) + "\n")
            return True

    def sync(self) -> None:
        """fsync what was appended since the last sync (kept off the caller's path: the sender thread calls it)."""
        with self._lock:
            if not self._dirty or self._journal is None:
                return
            try:
                os.fsync(self._journal.fileno())
                self._dirty = False
            except OSError as err:
                _LOGGER.error("MQTT queue file %s: fsync failed (%s)", self._path, err)

    def pending(self) -> list[OutboxEntry]:
        """A snapshot of the queued entries, oldest first."""
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def close(self) -> None:
        """Compact and close the journal (entries still queued stay on disk for the next start)."""
        with self._lock:
            try:
                self._rewrite()
            except OSError as err:
                _LOGGER.error("MQTT queue file %s: cannot compact (%s)", self._path, err)
            if self._journal is not None:
                self._journal.close()
                self._journal = None
