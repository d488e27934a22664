"""A private PulseAudio server with a 16 kHz null sink: PyAudio (ALSA pulse plugin) captures what paplay plays."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Optional


class PulseServer:
    """``pulseaudio`` in user mode with its runtime dir under ``workdir``; ``env`` points clients at it."""

    def __init__(self, workdir: Path) -> None:
        self.runtime_dir = Path(workdir) / "xdg"
        self.runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path = Path(workdir) / "pulseaudio.log"
        self.proc: Optional[subprocess.Popen] = None
        self.env = {"XDG_RUNTIME_DIR": str(self.runtime_dir), "PULSE_SOURCE": "vsink.monitor",
                    "PULSE_SINK": "vsink", "HOME": str(workdir)}

    def _client_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env

    def start(self, timeout: float = 10.0) -> "PulseServer":
        """Start the server and wait until ``pactl info`` answers."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [shutil.which("pulseaudio") or "/usr/bin/pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                 "--use-pid-file=no", "-L", "module-native-protocol-unix auth-anonymous=1",
                 "-L", "module-null-sink sink_name=vsink rate=16000 channels=1"],
                env=self._client_env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if subprocess.run(["pactl", "info"], env=self._client_env(), capture_output=True).returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"pulseaudio did not start: {self.log_path.read_text(errors='replace')[-2000:]}")

    def play(self, wav: Path) -> subprocess.Popen:
        """Start playing ``wav`` into the null sink (keep the capture running meanwhile)."""
        return subprocess.Popen(["paplay", "--device=vsink", str(wav)], env=self._client_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        """Terminate the server."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> "PulseServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
