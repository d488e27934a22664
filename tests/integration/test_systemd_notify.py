"""The daemon under a test NOTIFY_SOCKET: READY once audio flows, WATCHDOG only while it flows, STOPPING on SIGTERM."""

from __future__ import annotations

import signal
import time

import pytest

from tests.daemon.notify_harness import NotifyReceiver, env_for
from tests.integration.daemon_proc import FIXTURE_MODEL, TINY_GRAMMAR, DaemonProcess, write_config


@pytest.fixture
def config(tmp_path):
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    return write_config(
        tmp_path,
        audio={"source": "stdin"},
        model={"dir": str(FIXTURE_MODEL)},
        grammar={"paths": [str(grammar)], "watch": False},
        service={"site_id": "notify-test", "stall_timeout_s": 0.6},
        logging={"target": "stderr"},
    )


def test_ready_watchdog_stall_and_stopping(tmp_path, config):
    with NotifyReceiver(tmp_path / "notify.sock") as rx, \
            DaemonProcess(config, env=env_for(rx, watchdog_usec=400_000), stdin_audio=True) as daemon:
        # no audio yet: not READY, no watchdog pings
        time.sleep(1.5)
        assert daemon.proc.poll() is None, daemon.log()
        assert "READY=1" not in rx.lines() and "WATCHDOG=1" not in rx.lines()
        daemon.start_silence()
        assert rx.wait_for(lambda ls: "READY=1" in ls, 10), daemon.log()
        assert rx.wait_for(lambda ls: ls.count("WATCHDOG=1") >= 4, 5), rx.lines()
        assert any(line.startswith("STATUS=listening") for line in rx.lines())

        daemon.stop_silence()  # stdin stays open: the audio source stalls, the daemon is deaf
        stalled_at = time.monotonic()
        time.sleep(2.0)
        last_ping = max(rx.times_of("WATCHDOG=1"))
        assert last_ping < stalled_at + 0.6 + 0.6, "watchdog kept pinging while no audio arrived"
        assert any(line.startswith("STATUS=deaf") for line in rx.lines())

        daemon.start_silence()  # audio again: pings resume
        resumed_at = time.monotonic()
        assert rx.wait_for(lambda ls: False, 1.0) is False
        assert max(rx.times_of("WATCHDOG=1")) > resumed_at

        daemon.signal(signal.SIGTERM)
        assert daemon.wait(10) == 0, daemon.log()
        assert rx.wait_for(lambda ls: "STOPPING=1" in ls, 2)
        assert rx.lines().index("STOPPING=1") > rx.lines().index("READY=1")


def test_no_watchdog_pings_without_watchdog_usec(tmp_path, config):
    with NotifyReceiver(tmp_path / "notify.sock") as rx, \
            DaemonProcess(config, env=env_for(rx), stdin_audio=True) as daemon:
        daemon.start_silence()
        assert rx.wait_for(lambda ls: "READY=1" in ls, 10), daemon.log()
        time.sleep(0.5)
        assert "WATCHDOG=1" not in rx.lines()
        daemon.signal(signal.SIGINT)
        assert daemon.wait(10) == 0
        assert "STOPPING=1" in rx.lines()
