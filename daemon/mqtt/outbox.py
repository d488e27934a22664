"""Bounded FIFO of utterances' messages awaiting their PUBACK, journaled as JSON lines so it survives a daemon
restart. The bound and the age limit count utterances: the messages of one ``append`` are kept or dropped together."""

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

__all__ = ["OutboxEntry", "Outbox", "Dropped"]

_LOGGER = logging.getLogger(__name__)

_COMPACT_SLACK = 256  # journal lines beyond the live entries tolerated before the file is rewritten


@dataclass(frozen=True)
class OutboxEntry:
    """One message waiting for delivery: sequence number, topic, payload, QoS, retain flag, creation time, and its
    group (the sequence number of the first message of its utterance)."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float
    group: int = 0


@dataclass(frozen=True)
class Dropped:
    """Utterances the outbox let go undelivered: how many and their messages (``reason`` ``full`` or ``expired``)."""

    reason: str
    utterances: int
    entries: tuple[OutboxEntry, ...]


def _entry_line(entry: OutboxEntry) -> str:
    # surrogateescape keeps arbitrary payload bytes round-trippable through JSON's \\u escapes
    record = {
        "add": entry.seq,
        "topic": entry.topic,
        "payload": entry.payload.decode("utf-8", "surrogateescape"),
        "qos": entry.qos,
        "retain": entry.retain,
        "created": entry.created,
        "group": entry.group,
    }
    return json.dumps(record, separators=(",", ":")) + "\n"


def _del_line(entry: OutboxEntry) -> str:
    return json.dumps({"del": entry.seq}) + "\n"


class Outbox:
    """Pending messages in order; ``append`` persists one utterance's messages (write now, fsync by ``sync()``),
    ``remove`` forgets one after its PUBACK, ``expire`` drops utterances older than an age limit.

    At most ``max_utterances`` utterances are kept: appending one more drops the oldest utterance with all its
    messages still queued. The journal holds ``{"add": seq, ...}`` and ``{"del": seq}`` lines and is compacted when
    mostly dead. When ``path`` is None or cannot be written, the outbox works in memory only (logged once)."""

    def __init__(self, path: Optional[Path], max_utterances: int) -> None:
        self._path = path
        self._max = max_utterances
        self._lock = threading.Lock()
        self._entries: "OrderedDict[int, OutboxEntry]" = OrderedDict()
        self._next_seq = 1
        self._journal: Optional[IO[str]] = None
        self._journal_lines = 0
        self._dirty = False
        self._groups: "OrderedDict[int, int]" = OrderedDict()  # group -> number of its entries still queued
        self.dropped = 0  # utterances dropped because the outbox was full
        self.expired = 0  # utterances dropped because they were too old
        self.recovered = 0
        self.recovered_dropped: Optional[Dropped] = None  # what a smaller bound dropped while replaying
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
                            int(record.get("group", seq)),  # journals before groups: one message per group
                        )
                        self._next_seq = max(self._next_seq, seq + 1)
                    else:
                        self._entries.pop(int(record["del"]), None)
                except (ValueError, KeyError, TypeError):
                    bad += 1  # a torn last line after a power cut is expected; anything else is still skipped
                    _LOGGER.warning("%s:%d: unreadable queue record skipped", path, number)
        for entry in self._entries.values():
            self._groups[entry.group] = self._groups.get(entry.group, 0) + 1
        dropped = self._drop_oldest_groups()
        if dropped:
            self.dropped += len({e.group for e in dropped})
            self.recovered_dropped = Dropped("full", len({e.group for e in dropped}), tuple(dropped))
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

    def append(self, messages: list[tuple[str, bytes, int, bool]]) -> tuple[list[OutboxEntry], Optional[Dropped]]:
        """Queue one utterance's (topic, payload, qos, retain) messages durably; when that makes more than the bound,
        the oldest utterances are dropped whole (counted, logged and returned)."""
        now = time.time()
        with self._lock:
            added = []
            group = self._next_seq
            for topic, payload, qos, retain in messages:
                entry = OutboxEntry(self._next_seq, topic, payload, qos, retain, now, group)
                self._next_seq += 1
                self._entries[entry.seq] = entry
                added.append(entry)
            if added:
                self._groups[group] = len(added)
            dropped = self._drop_oldest_groups()
            self._write("".join(_entry_line(e) for e in added) + "".join(_del_line(e) for e in dropped))
            if not dropped:
                return added, None
            utterances = len({e.group for e in dropped})
            self.dropped += utterances
            _LOGGER.warning(
                "MQTT queue full (%d utterances): dropped the oldest %d utterance(s), %d message(s) (%d dropped in all)",
                self._max, utterances, len(dropped), self.dropped,
            )
            return added, Dropped("full", utterances, tuple(dropped))

    def expire(self, older_than: float) -> Optional[Dropped]:
        """Drop every utterance created before the unix time ``older_than`` (all its queued messages)."""
        with self._lock:
            if not self._entries or next(iter(self._entries.values())).created >= older_than:
                return None  # the usual case: one comparison
            old_groups = {e.group for e in self._entries.values() if e.created < older_than}
            dropped = [e for e in self._entries.values() if e.group in old_groups]
            for entry in dropped:
                del self._entries[entry.seq]
            for group in old_groups:
                self._groups.pop(group, None)
            self._write("".join(_del_line(e) for e in dropped))
            self.expired += len(old_groups)
            return Dropped("expired", len(old_groups), tuple(dropped))

    def remove(self, seq: int) -> bool:
        """Forget a delivered entry; False when it was not queued (already removed or dropped)."""
        with self._lock:
            entry = self._entries.pop(seq, None)
            if entry is None:
                return False
            left = self._groups.get(entry.group, 1) - 1
            if left > 0:
                self._groups[entry.group] = left
            else:
                self._groups.pop(entry.group, None)
            self._write(_del_line(entry))
            return True

    def has(self, seq: int) -> bool:
        """True while entry ``seq`` is queued (not delivered, dropped or expired)."""
        with self._lock:
            return seq in self._entries

    def _drop_oldest_groups(self) -> list[OutboxEntry]:
        """Take out the oldest utterances beyond the bound (caller holds the lock and writes the journal)."""
        dropped: list[OutboxEntry] = []
        while len(self._groups) > self._max:
            group, _count = self._groups.popitem(last=False)
            members = [e for e in self._entries.values() if e.group == group]
            for entry in members:
                del self._entries[entry.seq]
            dropped.extend(members)
        return dropped

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
        """Messages queued."""
        with self._lock:
            return len(self._entries)

    @property
    def utterances(self) -> int:
        """Utterances with at least one message queued."""
        with self._lock:
            return len(self._groups)

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
