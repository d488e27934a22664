"""Outbox: the bounded, journaled queue of messages awaiting PUBACK survives a restart and a torn write."""

from __future__ import annotations

import json
import logging

from daemon.mqtt.outbox import Outbox


def msg(i: int) -> tuple[str, bytes, int, bool]:
    """Outbox entry ``i``: (topic, non-ASCII JSON payload, QoS 1, not retained)."""
    return (f"voicecmd/kitchen/intent/N{i}", f'{{"n":{i},"t":"客厅"}}'.encode(), 1, False)


def test_survives_restart_in_order(tmp_path):
    path = tmp_path / "state" / "q.jsonl"
    box = Outbox(path, 100)
    added = [box.append([msg(i)])[0][0] for i in range(5)]
    assert [e.seq for e in added] == [1, 2, 3, 4, 5]
    assert box.remove(2) and not box.remove(2)
    box.close()
    again = Outbox(path, 100)
    assert [(e.topic, e.payload) for e in again.pending()] == [msg(i)[:2] for i in (0, 2, 3, 4)]
    assert again.recovered == 4
    assert again.append([msg(9)])[0][0].seq == 6  # sequence numbers continue after a restart


def test_journal_without_close_is_replayed(tmp_path):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 100)
    box.append([msg(1)])
    box.append([msg(2)])
    box.remove(1)  # no close(): as after SIGKILL
    assert [e.seq for e in Outbox(path, 100).pending()] == [2]


def test_binary_payload_round_trips(tmp_path):
    path = tmp_path / "q.jsonl"
    raw = bytes(range(256))
    Outbox(path, 10).append([("t", raw, 1, True)])
    entry = Outbox(path, 10).pending()[0]
    assert entry.payload == raw and entry.retain and entry.qos == 1


def test_torn_line_is_skipped(tmp_path, caplog):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 10)
    box.append([msg(1)])
    box.append([msg(2)])
    with path.open("a") as f:
        f.write('{"add": 3, "topic": "x", "payl')  # power cut in the middle of a write
    with caplog.at_level(logging.WARNING):
        box = Outbox(path, 10)
    assert [e.seq for e in box.pending()] == [1, 2]
    assert "q.jsonl:3: unreadable queue record skipped" in caplog.text


def test_bound_drops_oldest_and_counts(tmp_path, caplog):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 3)
    with caplog.at_level(logging.WARNING):
        for i in range(5):
            box.append([msg(i)])
    assert [e.topic for e in box.pending()] == [msg(i)[0] for i in (2, 3, 4)]
    assert box.dropped == 2 and "dropped the oldest 1 utterance(s)" in caplog.text
    assert len(Outbox(path, 3)) == 3
    smaller = Outbox(path, 2)  # a smaller queue_max after a restart keeps the newest
    assert [e.seq for e in smaller.pending()] == [4, 5] and smaller.dropped == 1


def test_journal_is_compacted(tmp_path):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 10_000)
    for i in range(20):
        (entry,), _ = box.append([msg(i)])
        box.remove(entry.seq)
    assert path.stat().st_size == 0  # rewritten empty whenever the queue drains
    for i in range(1000):
        box.append([msg(i)])
    for entry in box.pending()[:-1]:
        box.remove(entry.seq)
    assert len(path.read_text().splitlines()) <= 2 + 256 + 1  # dead lines are compacted away
    assert [e.seq for e in Outbox(path, 10_000).pending()] == [1020]


def test_unwritable_state_dir_falls_back_to_memory(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        box = Outbox(blocker / "sub" / "q.jsonl", 10)
    box.append([msg(1)])
    assert len(box) == 1 and box.path is None
    assert "will not survive a restart" in caplog.text


def test_an_utterance_is_kept_or_dropped_whole(tmp_path):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 2)  # two utterances
    for u in range(3):
        _added, dropped = box.append([msg(10 * u + k) for k in range(4)])
    assert dropped is not None and dropped.reason == "full" and dropped.utterances == 1
    assert [e.topic for e in dropped.entries] == [msg(k)[0] for k in range(4)]
    assert (box.utterances, len(box), box.dropped) == (2, 8, 1)
    first = box.pending()[0]
    box.remove(first.seq)  # a delivered message leaves its utterance partly queued: still one utterance
    box.append([msg(99)])
    assert [e.topic for e in box.pending()] == [msg(20 + k)[0] for k in range(4)] + [msg(99)[0]]
    again = Outbox(path, 1)  # the bound applies to whole utterances after a restart too
    assert [e.topic for e in again.pending()] == [msg(99)[0]] and again.recovered_dropped.utterances == 1


def test_expire_drops_old_utterances_whole(tmp_path, monkeypatch):
    path = tmp_path / "q.jsonl"
    box = Outbox(path, 10)
    monkeypatch.setattr("daemon.mqtt.outbox.time.time", lambda: 1000.0)
    box.append([msg(1), msg(2)])
    monkeypatch.setattr("daemon.mqtt.outbox.time.time", lambda: 2000.0)
    box.append([msg(3), msg(4)])
    assert box.expire(999.0) is None
    dropped = box.expire(1500.0)
    assert dropped.reason == "expired" and dropped.utterances == 1 and len(dropped.entries) == 2
    assert [e.topic for e in box.pending()] == [msg(3)[0], msg(4)[0]] and box.expired == 1
    assert [e.topic for e in Outbox(path, 10).pending()] == [msg(3)[0], msg(4)[0]]  # journaled


def test_journal_lines_without_group_are_one_utterance_each(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("".join(
        json.dumps({"add": i, "topic": f"t/{i}", "payload": "{}", "qos": 1, "retain": False, "created": 1.0}) + "\n"
        for i in (1, 2, 3)))
    box = Outbox(path, 2)
    assert [e.seq for e in box.pending()] == [2, 3] and box.utterances == 2
