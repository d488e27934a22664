"""sd_notify sender (systemd-python and the socket fallback), supervised threads, drop-oldest queue, backoff."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from daemon.service.notify import Notifier, _socket_sender
from daemon.service.queues import DropOldestQueue
from daemon.service.supervisor import Backoff, SupervisedThread
from tests.daemon.notify_harness import NotifyReceiver


def test_fallback_sender_reaches_a_path_socket(tmp_path):
    with NotifyReceiver(tmp_path / "n.sock") as rx:
        notifier = Notifier({"NOTIFY_SOCKET": rx.path, "WATCHDOG_USEC": "2000000"})
        assert notifier.enabled and notifier.watchdog_interval_s == 1.0
        assert notifier.ready("listening")
        assert notifier.watchdog() and notifier.stopping("bye")
        assert rx.wait_for(lambda ls: "STOPPING=1" in ls, 2)
        assert rx.lines() == ["READY=1", "STATUS=listening", "WATCHDOG=1", "STOPPING=1", "STATUS=bye"]


def test_fallback_sender_reaches_an_abstract_socket():
    name = f"voicecmd-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    try:
        assert _socket_sender("READY=1", "@" + name)
        assert server.recv(100) == b"READY=1"
    finally:
        server.close()


def test_systemd_python_sender_is_used_from_the_environment(tmp_path, monkeypatch):
    import systemd.daemon  # noqa: F401  (systemd-python is a declared extra)
    with NotifyReceiver(tmp_path / "n.sock") as rx:
        monkeypatch.setenv("NOTIFY_SOCKET", rx.path)
        notifier = Notifier()
        assert notifier.status("hello")
        assert rx.wait_for(lambda ls: "STATUS=hello" in ls, 2)


def test_no_socket_means_no_op():
    notifier = Notifier({})
    assert not notifier.enabled and not notifier.ready("x") and notifier.watchdog_interval_s is None


def test_watchdog_for_another_pid_is_ignored():
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None


def test_a_vanished_socket_is_logged_not_raised(tmp_path):
    assert Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).notify("READY=1") is False


def test_backoff_doubles_up_to_the_cap():
    b = Backoff(0.5, 3.0)
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_supervised_thread_restarts_then_escalates():
    stop = threading.Event()
    calls, fatal = [], []

    def body(_stop):
        calls.append(threading.current_thread().name)
        raise RuntimeError("boom")

    t = SupervisedThread("worker", body, stop, on_fatal=lambda n, e: fatal.append((n, str(e))),
                         backoff=Backoff(0.01, 0.02), max_restarts=3, window_s=60)
    t.start()
    assert t.join(5)
    assert calls == ["worker"] * 4 and fatal == [("worker", "boom")] and t.restarts == 3


def test_supervised_thread_recovers_after_a_crash():
    stop = threading.Event()
    attempts = []

    def body(_stop):
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("device lost")

    t = SupervisedThread("audio", body, stop, on_fatal=lambda *a: pytest.fail("escalated"),
                         backoff=Backoff(0.01, 0.02))
    t.start()
    assert t.join(5) and len(attempts) == 2 and t.finished.is_set()


def test_stop_interrupts_the_backoff_wait():
    stop = threading.Event()

    def body(_stop):
        raise RuntimeError("x")

    t = SupervisedThread("w", body, stop, on_fatal=lambda *a: None, backoff=Backoff(30, 30))
    t.start()
    time.sleep(0.1)
    stop.set()
    assert t.join(2)


def test_drop_oldest_queue_counts_drops():
    q: DropOldestQueue[int] = DropOldestQueue(3)
    for i in range(5):
        q.put(i)
    assert q.dropped == 2 and [q.get(0), q.get(0), q.get(0)] == [2, 3, 4]
    assert q.get(timeout=0.01) is None


def test_drop_oldest_queue_wakes_a_waiting_consumer():
    q: DropOldestQueue[str] = DropOldestQueue(2)
    threading.Timer(0.05, lambda: q.put("x")).start()
    t0 = time.monotonic()
    assert q.get(timeout=2) == "x" and time.monotonic() - t0 < 1


def test_without_systemd_python_the_socket_fallback_is_used(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "systemd", None)  # "import systemd" now raises ImportError
    monkeypatch.setitem(sys.modules, "systemd.daemon", None)
    with NotifyReceiver(tmp_path / "n.sock") as rx:
        monkeypatch.setenv("NOTIFY_SOCKET", rx.path)
        notifier = Notifier()
        assert notifier.enabled and notifier.ready("fallback")
        assert rx.wait_for(lambda ls: "STATUS=fallback" in ls, 2)
