"""Under systemd (JOURNAL_STREAM matches stderr) the daemon logs to the journal with structured fields
(SYSLOG_IDENTIFIER=voicecmd, INTENT=, SITE_ID=, UTTERANCE_ID=, ...)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.daemon.speech import synth_samples, write_wav
from tests.integration.daemon_proc import FIXTURE_MODEL, ROOT, TINY_GRAMMAR, write_config

JOURNAL_DIR = Path("/run/systemd/journal")
JOURNAL_SOCKET = JOURNAL_DIR / "socket"


def parse_native(datagram: bytes) -> dict[str, str]:
    """Decode one journal native-protocol datagram (KEY=value lines, or KEY\\n<le64 size><data>\\n)."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            size = int.from_bytes(datagram[nl + 1 : nl + 9], "little")
            value = datagram[nl + 9 : nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode()] = value.decode("utf-8", "replace")
    return fields


def journald_alive() -> bool:
    """True when something listens on the journal socket (a stale socket file refuses connections)."""
    if not JOURNAL_SOCKET.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(JOURNAL_SOCKET))
        except OSError:
            return False
    return True


class FakeJournal:
    """Receives what sd_journal_send writes to /run/systemd/journal/socket (no journald on this machine)."""

    def __init__(self) -> None:
        self.created_dir = not JOURNAL_DIR.exists()
        JOURNAL_DIR.mkdir(parents=True, exist_ok=True)
        JOURNAL_SOCKET.unlink(missing_ok=True)  # a stale socket left behind by a dead journald
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(JOURNAL_SOCKET))
        self.sock.settimeout(0.1)
        self.entries: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="fake-journal", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                data, ancdata, _flags, _addr = self.sock.recvmsg(1 << 20, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:  # large entries come as a memfd (SCM_RIGHTS)
                for level, kind, payload in ancdata:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fd = int.from_bytes(payload[:4], "little")
                        with os.fdopen(fd, "rb") as f:
                            data = f.read()
            self.entries.append(parse_native(data))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        self.sock.close()
        JOURNAL_SOCKET.unlink(missing_ok=True)
        if self.created_dir:
            shutil.rmtree(JOURNAL_DIR, ignore_errors=True)


def journal_entries(identifier: str, fake: FakeJournal | None) -> list[dict[str, str]]:
    if fake is not None:
        return [e for e in fake.entries if e.get("SYSLOG_IDENTIFIER") == identifier]
    out = subprocess.run(["journalctl", "-t", identifier, "-o", "json", "--no-pager"], capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_intents_are_logged_to_the_journal_with_fields(tmp_path):
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    rec = tmp_path / "rec"
    rec.mkdir()
    write_wav(rec / "cmd.wav", synth_samples("turn the light off"))
    site = f"journal-{uuid.uuid4().hex[:6]}"
    config = write_config(
        tmp_path,
        audio={"source": "wav", "wav_path": str(rec), "realtime": False},
        model={"dir": str(FIXTURE_MODEL)},
        grammar={"paths": [str(grammar)], "watch": False, "reject_threshold": -1e6},
        service={"site_id": site},
        logging={"target": "auto"},
    )
    # A real journald keeps its socket; without one, stand in for it (and clean up afterwards).
    fake = None if journald_alive() else FakeJournal()
    try:
        stderr_path = tmp_path / "stderr"
        with open(stderr_path, "wb") as stderr:
            st = os.fstat(stderr.fileno())
            env = dict(os.environ, PYTHONPATH=str(ROOT), JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            # the identifier defaults to "voicecmd"; the site id makes this run's entries unique
            proc = subprocess.run([sys.executable, "-m", "daemon", "run", "--config", str(config)],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr, timeout=60)
        assert proc.returncode == 0, stderr_path.read_text()
        time.sleep(0.3)
        entries = [e for e in journal_entries("voicecmd", fake) if e.get("SITE_ID") == site]
        intents = [e for e in entries if e.get("INTENT")]
        assert len(intents) == 1, entries
        entry = intents[0]
        assert entry["INTENT"] == "LightOff" and entry["MESSAGE"].startswith("intent LightOff")
        assert len(entry["UTTERANCE_ID"]) == 32 and entry["TEXT"] == "turn light off"
        assert entry["PRIORITY"] == "6" and entry["LOGGER"] == "daemon.pipeline"
        assert "intent LightOff" not in stderr_path.read_text()  # went to the journal, not to stderr
    finally:
        if fake is not None:
            fake.close()
