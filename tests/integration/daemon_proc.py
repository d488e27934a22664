"""Start ``voicecmd run`` as a subprocess with a generated config; feed it audio on stdin; stop it with signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
FIXTURE_MODEL = SHARED / "fixtures" / "wenet" / "u2pp_conformer"
PROJECT_MODEL = Path(os.environ.get("VOICECMD_MODEL_DIR") or ROOT / "models" / "default")  # as daemon.paths
SR = 16000

# A grammar the fixture model (random weights, 40 units) can spell; with a very low reject threshold every
# utterance decodes to this grammar's only intent, which makes grammar swaps observable without a trained model.
TINY_GRAMMAR = """\
language: en
intents:
  {intent}:
    data:
      - sentences:
          - "turn light off"
"""


def write_config(directory: Path, **sections: Any) -> Path:
    """config.yaml in ``directory`` with the given sections (nested dicts)."""
    directory.mkdir(parents=True, exist_ok=True)
    sections.setdefault("service", {}).setdefault("state_dir", str(directory / "state"))
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(sections, sort_keys=False))
    return path


class DaemonProcess:
    """``python -m daemon run --config ...`` with stdin as a pipe (for audio.source: stdin) and logs in a file."""

    def __init__(self, config: Path, *, env: Optional[dict[str, str]] = None, stdin_audio: bool = False,
                 args: tuple[str, ...] = ()) -> None:
        self.log_path = config.parent / "daemon.log"
        self._log = open(self.log_path, "wb")
        full_env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC",
                                                                      "WATCHDOG_PID", "JOURNAL_STREAM")}
        full_env.update(env or {})
        full_env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config), *args],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE if not stdin_audio else self._log,
            stderr=self._log, stdin=subprocess.PIPE if stdin_audio else subprocess.DEVNULL,
        )
        self._writer: Optional[threading.Thread] = None
        self._silence = threading.Event()
        self._stop_writer = threading.Event()
        self._lock = threading.Lock()
        self._pending = np.zeros(0, np.int16)
        self._said = threading.Event()

    # ---- audio on stdin

    def write(self, samples: np.ndarray, *, realtime: bool = True, block: int = 480) -> None:
        """Write samples to the daemon's stdin (paced like a microphone when ``realtime``)."""
        assert self.proc.stdin is not None
        t0 = time.monotonic()
        for i in range(0, len(samples), block):
            chunk = samples[i : i + block]
            with self._lock:
                self.proc.stdin.write(chunk.astype("<i2").tobytes())
                self.proc.stdin.flush()
            if realtime:
                delay = t0 + (i + len(chunk)) / SR - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def start_silence(self) -> None:
        """Keep writing real-time audio in a thread: what say() queued, silence otherwise; until stop_silence()."""
        self._stop_writer.clear()

        def run() -> None:
            silence = np.zeros(480, np.int16)
            t0 = time.monotonic()
            written = 0
            while not self._stop_writer.is_set():
                with self._lock:
                    if len(self._pending):
                        block, self._pending = self._pending[:480], self._pending[480:]
                        if len(self._pending) == 0:
                            self._said.set()
                    else:
                        block = silence
                try:
                    assert self.proc.stdin is not None
                    self.proc.stdin.write(block.astype("<i2").tobytes())
                    self.proc.stdin.flush()
                except (BrokenPipeError, ValueError, OSError):
                    return
                written += len(block)
                delay = t0 + written / SR - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

        self._writer = threading.Thread(target=run, name="audio-writer", daemon=True)
        self._writer.start()

    def say(self, samples: np.ndarray, wait: bool = True) -> None:
        """Queue speech for the writer thread (started by start_silence); wait until it has been written."""
        with self._lock:
            self._said.clear()
            self._pending = np.concatenate([self._pending, samples.astype(np.int16)])
        if wait:
            self._said.wait(len(samples) / SR + 5)

    def stop_silence(self) -> None:
        """Stop the writer thread (stdin stays open: the daemon's audio source stalls)."""
        self._stop_writer.set()
        if self._writer is not None:
            self._writer.join(2)

    # ---- lifecycle

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 15) -> int:
        return self.proc.wait(timeout)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM and wait (kill after 10 s)."""
        self.stop_silence()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> "DaemonProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
