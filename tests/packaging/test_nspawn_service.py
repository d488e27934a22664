"""The real unit under a real systemd: boot Debian 12 with systemd-nspawn, install the .deb, READY, watchdog restart."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.packaging.conftest import DEMO_DIR, DEMO_INTENTS
from tests.packaging.debroot import BootedContainer, OverlayRoot, cached_root

pytestmark = pytest.mark.slow

TEST_DIR = "/srv/voicecmd-test"  # not /tmp or /var/tmp: the unit has PrivateTmp=yes
FEED_FIFO = "/run/voicecmd-test/feed"
WATCHDOG_SEC = 3
DROP_IN = "/etc/systemd/system/voicecmd.service.d/test.conf"
DEMO_NAME = "en_turn_on_kitchen_light.wav"
DEMO_WAV = f"{DEMO_DIR}/{DEMO_NAME}"
# Start to READY=1 (check-config, Whisper base load, grammar compile). The postinst's start already waits for it:
# apt-get install took 42 s in the container against 28 s in a chroot without the start (2-core machine).
ACTIVE_TIMEOUT_S = 90


def daemon_config(audio: str) -> str:
    """A daemon config for the container: the installed default model, no broker (intents printed to the journal),
    a short stall timeout."""
    return (f"audio:\n{audio}grammar:\n  watch: false\nmqtt: null\n"
            "service:\n  stall_timeout_s: 1.0\nlogging:\n  level: info\n")


def drop_in(config: str, extra: str = "") -> str:
    """A unit drop-in pointing the service at a test config, with a short watchdog."""
    return ("[Service]\nExecStartPre=\n"
            f"ExecStartPre=/usr/bin/voicecmd run --check-config --config {config}\n"
            f"ExecStart=\nExecStart=/usr/bin/voicecmd run --config {config}\n"
            f"WatchdogSec={WATCHDOG_SEC}\nRestartSec=1\n{extra}")


def wait_for(container: BootedContainer, what: str, probe: Callable[[], bool], timeout: float) -> float:
    """Poll ``probe`` until it is true; returns the seconds it took (fails after ``timeout``, showing the journal)."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; journal:\n{journal(container)[-6000:]}")
        time.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def container(deb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BootedContainer]:
    """A booted Debian 12 with the .deb installed; the unit reads the installed demo command at real-time pace (no
    microphone in a container) with the installed default model (Whisper base)."""
    base = tmp_path_factory.mktemp("nspawn")
    with OverlayRoot(cached_root(), base / "overlay") as root:
        root.put(deb_path, "/var/tmp/voicecmd.deb")
        wav_audio = f"  source: wav\n  wav_path: {DEMO_WAV}\n  realtime: true\n  at_end: idle\n"
        root.write(f"{TEST_DIR}/wav.yaml", daemon_config(wav_audio))
        root.write(f"{TEST_DIR}/stall.yaml", daemon_config("  source: stdin\n  at_end: exit\n"))
        # In place before the package's postinst starts the unit, so the first start already uses the WAV.
        root.write(DROP_IN, drop_in(f"{TEST_DIR}/wav.yaml"))
        with BootedContainer(root, base / "nspawn.log") as booted:
            booted.exec("apt-get", "update", "-q")  # the cached root's lists may be older than the mirror
            started = time.monotonic()
            install = booted.exec("apt-get", "install", "-y", "-q", "/var/tmp/voicecmd.deb", check=False, timeout=900)
            assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
            print(f"\npackaging: apt-get install in the booted container took {time.monotonic() - started:.1f} s")
            yield booted


def unit_properties(container: BootedContainer) -> dict[str, str]:
    """`systemctl show voicecmd` as a dict."""
    out = container.exec("systemctl", "show", "voicecmd", "--no-pager").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def journal(container: BootedContainer) -> str:
    """The unit's journal (systemd's own messages about it included)."""
    return container.exec("journalctl", "-u", "voicecmd", "--no-pager", "-o", "short-monotonic").stdout


def test_service_active_after_install(container: BootedContainer) -> None:
    """postinst enabled and started the unit; Type=notify reaches active only after READY=1."""
    took = wait_for(container, "voicecmd active",
                    lambda: container.exec("systemctl", "is-active", "voicecmd", check=False).stdout.strip()
                    == "active", ACTIVE_TIMEOUT_S)
    print(f"packaging: systemctl is-active voicecmd -> active ({took:.1f} s after install)")
    props = unit_properties(container)
    assert props["Type"] == "notify"
    assert props["UnitFileState"] == "enabled"
    assert props["WatchdogUSec"] == f"{WATCHDOG_SEC}s"
    assert props["NRestarts"] == "0"
    uid = container.exec("id", "-u", "voicecmd").stdout.strip()
    audio_gid = container.exec("getent", "group", "audio").stdout.split(":")[2]
    status = container.exec("cat", f"/proc/{props['MainPID']}/status").stdout
    fields = dict(line.split(":", 1) for line in status.splitlines())
    assert fields["Uid"].split()[0] == uid
    assert audio_gid in fields["Groups"].split()


def test_demo_command_reaches_the_intent_topic(container: BootedContainer) -> None:
    """The service recognises the paced demo command with the installed default model and prints its intent
    message (mqtt: null) to the journal."""
    intent, slots = DEMO_INTENTS[DEMO_NAME]
    lines: list[dict] = []

    def intent_logged() -> bool:
        lines[:] = [json.loads(line[line.index("{"):]) for line in journal(container).splitlines()
                    if f'/intent/{intent}"' in line]
        return bool(lines)

    took = wait_for(container, f"the {intent} intent in the journal", intent_logged, 60)
    print(f"packaging: {intent} intent in the journal {took:.1f} s after active: {lines[0]}")
    payload = lines[0]["payload"]
    assert {key: payload["slots"][key] for key in slots} == slots, payload


def test_watchdog_stays_fed_while_audio_flows(container: BootedContainer) -> None:
    """A paced WAV then idle silence: several watchdog periods pass without a timeout or restart."""
    time.sleep(3 * WATCHDOG_SEC)
    props = unit_properties(container)
    assert props["ActiveState"] == "active" and props["NRestarts"] == "0", props
    assert "Watchdog timeout" not in journal(container)


def test_watchdog_kills_and_restarts_a_stalled_source(container: BootedContainer) -> None:
    """Audio on stdin from a FIFO that delivers 1 s and then nothing: systemd's watchdog kills, then restarts it."""
    feeder = ("[Service]\nExecStartPre=/bin/mkdir -p /run/voicecmd-test\n"
              f"ExecStartPre=/bin/sh -c '[ -p {FEED_FIFO} ] || mkfifo {FEED_FIFO}'\n"
              # O_RDWR never blocks on a FIFO; 1 s of silence every 8 s, so each restarted instance gets READY.
              f"ExecStart=/bin/sh -c 'exec 3<>{FEED_FIFO}; while :; do head -c 32000 /dev/zero >&3; sleep 8; done'\n")
    container.exec("sh", "-c", f"cat > /etc/systemd/system/voicecmd-test-feeder.service <<'EOF'\n{feeder}EOF\n")
    stall_drop_in = drop_in(f"{TEST_DIR}/stall.yaml",
                            f"StandardInput=file:{FEED_FIFO}\nStandardOutput=journal\nStandardError=journal\n")
    container.exec("sh", "-c", f"cat > {DROP_IN} <<'EOF'\n{stall_drop_in}EOF\n")
    container.exec("systemctl", "daemon-reload")
    container.exec("systemctl", "start", "voicecmd-test-feeder")
    container.exec("systemctl", "restart", "voicecmd")
    took = wait_for(container, "a watchdog restart", lambda: int(unit_properties(container)["NRestarts"]) >= 1, 60)
    log = journal(container)
    print("packaging: journal after the stall:\n" + "\n".join(
        line for line in log.splitlines() if any(word in line for word in ("atchdog", "restart", "Started", "READY",
                                                                           "no audio", "Failed"))))
    assert "Watchdog timeout" in log
    assert "Failed with result 'watchdog'" in log
    assert "Scheduled restart job" in log
    print(f"packaging: watchdog restart {took:.1f} s after the stalled start")
    wait_for(container, "voicecmd active again after the restart",
             lambda: unit_properties(container)["ActiveState"] == "active", 30)
    # The SIGABRT of a watchdog kill must not leave core files in the state directory (an SD card on the board).
    state_files = container.exec("ls", "-a", "/var/lib/voicecmd").stdout.split()
    print(f"packaging: /var/lib/voicecmd after the watchdog kill: {state_files}")
    assert not [name for name in state_files if name.startswith("core")]


def test_purge_stops_and_disables_the_service(container: BootedContainer) -> None:
    """apt-get purge in the running system stops the unit, removes it and deletes the state directory."""
    container.exec("apt-get", "purge", "-y", "-q", "voicecmd")
    state = container.exec("systemctl", "is-active", "voicecmd", check=False).stdout.strip()
    assert state in ("inactive", "failed", "unknown"), state
    assert container.exec("test", "-e", "/var/lib/voicecmd", check=False).returncode != 0
    assert container.exec("test", "-e", "/etc/systemd/system/multi-user.target.wants/voicecmd.service",
                          check=False).returncode != 0
