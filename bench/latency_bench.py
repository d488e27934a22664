"""Daemon benchmarks: end-of-speech → intent latency at an MQTT subscriber, and CPU/RSS while listening to silence.

    python bench/latency_bench.py latency [--commands 20] [--model DIR]
    python bench/latency_bench.py idle [--seconds 60] [--model DIR]

The daemon runs as a subprocess (``voicecmd run``) reading raw PCM on stdin, which this script writes in real time
like a microphone; a local mosquitto and a paho subscriber receive the events. Targets (issue 5): p95 latency beyond
the configured trailing silence ≤ 150 ms; idle ≤ 2 % of one core and ≤ 80 MB RSS without the model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon import paths  # noqa: E402
from daemon.commands.bench import missing_programs, program_install_hint, python_install_hint  # noqa: E402
from daemon.service.local_broker import LocalBroker, mosquitto_binary  # noqa: E402

SR = 16000
FIXTURE_MODEL = ROOT.parent / "shared" / "fixtures" / "wenet" / "u2pp_conformer"
FIXTURE_GRAMMAR = 'language: en\nintents:\n  LightOff:\n    data:\n      - sentences:\n          - "turn light off"\n'
PHRASES_EN = ["turn on the kitchen light", "turn off the bedroom fan", "set the living room light to fifty percent",
              "turn off the light", "open the garage door"]


def synth(text: str, workdir: Path) -> np.ndarray:
    """flite (or espeak-ng) speech as 16 kHz int16 samples, via sox."""
    raw, out = workdir / "raw.wav", workdir / "out.raw"
    if shutil.which("flite"):
        subprocess.run(["flite", "-voice", "slt", "-t", text, "-o", str(raw)], check=True, capture_output=True)
    else:
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw",
                    str(out)], check=True, capture_output=True)
    return np.frombuffer(out.read_bytes(), dtype="<i2").astype(np.int16)


def speech_end_s(samples: np.ndarray, threshold: int = 300) -> float:
    """Time of the last sample above ``threshold`` (the speech end a listener would hear)."""
    return float(np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)[-1] / SR)


def pick_model(model: Optional[str]) -> tuple[Path, Optional[str]]:
    """The model dir and a grammar text override (the random fixture model only spells a tiny grammar)."""
    if model:
        return Path(model).resolve(), None  # the daemon runs in a scratch directory
    default = paths.default_model_dir()
    if (default / "units.txt").exists() or (default / "whisper.json").exists():
        return default, None
    return FIXTURE_MODEL, FIXTURE_GRAMMAR


def write_config(workdir: Path, model_dir: Path, grammar_text: Optional[str], port: Optional[int],
                 trailing_ms: int, mic: bool = False) -> Path:
    """A daemon config reading stdin."""
    import yaml

    grammar_paths = [str(paths.default_grammar_dir())]
    if grammar_text:
        (workdir / "grammar.yaml").write_text(grammar_text)
        grammar_paths = [str(workdir / "grammar.yaml")]
    config = {
        "audio": {"source": "microphone", "device": "pulse"} if mic else {"source": "stdin"},
        "vad": {"trailing_silence_ms": trailing_ms},
        "model": {"dir": str(model_dir)},
        "grammar": {"paths": grammar_paths, "watch": False},
        "service": {"site_id": "bench", "state_dir": str(workdir / "state")},
        "logging": {"target": "stderr", "level": os.environ.get("BENCH_LOG_LEVEL", "warning")},
    }
    if port:
        config["mqtt"] = {"host": "127.0.0.1", "port": port, "discovery": False, "hermes": False}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


class PacedWriter:
    """Writes audio to the daemon's stdin in real time: queued speech, else silence."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._proc = proc
        self._pending = np.zeros(0, np.int16)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t0 = 0.0
        self._written = 0
        self._thread = threading.Thread(target=self._run, name="pcm-writer", daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._t0 = time.monotonic()
        self._thread.start()

    def say(self, samples: np.ndarray) -> float:
        """Queue speech; returns the wall-clock time at which its first sample will have been written."""
        with self._lock:
            start_sample = self._written + len(self._pending)
            self._pending = np.concatenate([self._pending, samples])
        return time.time() + (self._t0 + start_sample / SR - time.monotonic())

    def _run(self) -> None:
        silence = np.zeros(480, np.int16)
        while not self._stop.is_set():
            with self._lock:
                if len(self._pending):
                    block, self._pending = self._pending[:480], self._pending[480:]
                else:
                    block = silence
            try:
                self._proc.stdin.write(block.astype("<i2").tobytes())  # type: ignore[union-attr]
                self._proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError, OSError):
                return
            self._written += len(block)
            delay = self._t0 + self._written / SR - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def stop(self) -> None:
        """Stop writing (stdin stays open)."""
        self._stop.set()
        self._thread.join(2)


def start_daemon(config: Path, log: Path, env: Optional[dict] = None) -> subprocess.Popen:
    """``voicecmd run --config`` as a subprocess with stdin as a pipe and stderr in ``log``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "daemon", "run", "--config", str(config)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=open(log, "wb"))


def stop_daemon(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_latency(args: argparse.Namespace) -> int:
    """Speak N commands; latency = subscriber receipt − speech end − trailing silence."""
    from daemon.mqtt.paho_compat import make_client

    missing = missing_programs("mosquitto", "sox") + (["flite"] if missing_programs("flite", "espeak-ng") == ["flite", "espeak-ng"] else [])
    if missing:
        print(f"latency bench: needs mosquitto (the broker), flite or espeak-ng (the speech) and sox; missing: "
              f"{', '.join(missing)}: {program_install_hint(missing)}", file=sys.stderr)
        return 2
    binary = mosquitto_binary()
    assert binary is not None
    model_dir, grammar_text = pick_model(args.model)
    with tempfile.TemporaryDirectory(prefix="voicecmd-bench-") as tmp:
        work = Path(tmp)
        phrases = [synth(p, work) for p in PHRASES_EN]
        broker = LocalBroker(binary).start()
        received: list[tuple[float, dict]] = []
        cond = threading.Condition()

        def on_message(_c, _u, msg):
            if "/intent/" in msg.topic or msg.topic.endswith("/not_recognized"):
                with cond:
                    received.append((time.time(), json.loads(msg.payload)))
                    cond.notify_all()

        sub = make_client("bench-sub")
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("voicecmd/bench/#", qos=1)
        sub.loop_start()
        config = write_config(work, model_dir, grammar_text, broker.port, args.trailing_ms)
        proc = start_daemon(config, work / "daemon.log")
        writer = PacedWriter(proc)
        writer.start()
        try:
            time.sleep(args.warmup)
            from_energy, from_vad = [], []
            for i in range(args.commands):
                speech = phrases[i % len(phrases)]
                with cond:
                    before = len(received)
                t_start = writer.say(speech)
                t_speech_end = t_start + speech_end_s(speech)
                with cond:
                    if not cond.wait_for(lambda: len(received) > before, timeout=len(speech) / SR + 10):
                        print(f"command {i}: no event; daemon log:\n{(work / 'daemon.log').read_text()[-2000:]}")
                        return 1
                    t_recv, payload = received[-1]
                from_energy.append((t_recv - t_speech_end) * 1000 - args.trailing_ms)
                if args.verbose:
                    print(f"{i}: {payload.get('intent', payload.get('reason'))} speech end {t_speech_end:.3f} "
                          f"vad end {payload['end_time']:.3f} received {t_recv:.3f}")
                from_vad.append((t_recv - payload["end_time"]) * 1000 - args.trailing_ms)
                time.sleep(0.5)
        finally:
            writer.stop()
            stop_daemon(proc)
            if args.verbose:
                print((work / "daemon.log").read_text()[-6000:])
            sub.loop_stop()
            broker.stop()
    e, v = np.array(from_energy), np.array(from_vad)
    print(f"model: {model_dir}  commands: {args.commands}  trailing silence: {args.trailing_ms} ms")
    print(f"latency beyond trailing silence, from the audible speech end: p50 {np.percentile(e, 50):.0f} ms, "
          f"p95 {np.percentile(e, 95):.0f} ms, max {e.max():.0f} ms")
    print(f"latency beyond trailing silence, from the VAD speech end (payload end_time): "
          f"p50 {np.percentile(v, 50):.0f} ms, p95 {np.percentile(v, 95):.0f} ms, max {v.max():.0f} ms")
    print(f"target p95 <= 150 ms: {'met' if np.percentile(e, 95) <= 150 else 'NOT met'}")
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _private_mb(pid: int) -> float:
    """Private (unshared) memory from smaps_rollup: what the process alone costs."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_MODEL_RSS_SNIPPET = """
import sys, numpy as np
import runtime.recognizer
try:
    import onnxruntime  # the backend library is not the model: load it before measuring
except ImportError:
    pass
def rss():
    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]) / 1024
before = rss()
r = runtime.recognizer.open_recognizer(sys.argv[1])
s = r.create_session()
s.accept_waveform(np.zeros(3 * 16000, np.int16)); s.finalize(); s.reset()
print(rss() - before)
"""


def model_rss_mb(model_dir: Path) -> float:
    """RSS the loaded model adds (ONNX Runtime sessions after one utterance), measured in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", _MODEL_RSS_SNIPPET, str(model_dir)], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    return float(out.stdout.strip().splitlines()[-1])


def bench_idle(args: argparse.Namespace) -> int:
    """CPU share and RSS of a daemon listening to ``--seconds`` of real-time silence (events to stdout).

    Default input: raw PCM on stdin. ``--mic``: the real capture path, PyAudio reading a private PulseAudio
    null sink's monitor through ALSA's pulse plugin (only the daemon's own CPU time is counted)."""
    if args.mic:
        missing = missing_programs("pulseaudio", "pactl")
        if missing:
            print(f"idle bench --mic: needs a private PulseAudio server; missing: {', '.join(missing)}: "
                  f"{program_install_hint(missing)}", file=sys.stderr)
            return 2
        try:
            import pyaudio  # noqa: F401
        except ImportError:
            print(f"idle bench --mic: captures through PyAudio, which is not installed: "
                  f"{python_install_hint('pyaudio')}", file=sys.stderr)
            return 2
    model_dir, grammar_text = pick_model(args.model)
    with tempfile.TemporaryDirectory(prefix="voicecmd-bench-") as tmp:
        work = Path(tmp)
        config = write_config(work, model_dir, grammar_text, None, 500, mic=args.mic)
        pulse = None
        env = None
        if args.mic:
            from tests.integration.pulse import PulseServer

            pulse = PulseServer(work).start()
            env = pulse.env
        proc = start_daemon(config, work / "daemon.log", env=env)
        writer = None
        if not args.mic:
            writer = PacedWriter(proc)
            writer.start()
        try:
            time.sleep(args.warmup)
            if proc.poll() is not None:
                print((work / "daemon.log").read_text()[-3000:])
                return 1
            cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.seconds)
            cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
            rss = _rss_mb(proc.pid)
            private = _private_mb(proc.pid)
        finally:
            if writer is not None:
                writer.stop()
            stop_daemon(proc)
            if pulse is not None:
                pulse.stop()
    share = 100 * (cpu1 - cpu0) / (t1 - t0)
    model_mb = model_rss_mb(model_dir)
    print(f"model: {model_dir} (adds {model_mb:.1f} MB RSS once loaded); "
          f"input: {'PulseAudio via PyAudio' if args.mic else 'stdin'}")
    print(f"listening to {args.seconds:.0f} s of silence: CPU {share:.2f} % of one core, RSS {rss:.1f} MB "
          f"(private {private:.1f} MB; the rest is shared library code)")
    print(f"targets: CPU <= 2 %: {'met' if share <= 2 else 'NOT met'}; "
          f"RSS <= 80 MB without the model: {'met' if rss - model_mb <= 80 else 'NOT met'} "
          f"(RSS minus the model's share {rss - model_mb:.1f} MB)")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: ``latency`` or ``idle``."""
    parser = argparse.ArgumentParser(prog="latency_bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    lat = sub.add_parser("latency", help="end of speech -> intent at an MQTT subscriber")
    lat.add_argument("--commands", type=int, default=20)
    lat.add_argument("--trailing-ms", type=int, default=500)
    lat.add_argument("--warmup", type=float, default=3.0)
    lat.add_argument("--model", default=None, help="model dir (default: models/default, else the fixture model)")
    lat.add_argument("--verbose", action="store_true", help="print every command's timing")
    idle = sub.add_parser("idle", help="CPU and RSS while listening to silence")
    idle.add_argument("--seconds", type=float, default=60.0)
    idle.add_argument("--warmup", type=float, default=3.0)
    idle.add_argument("--model", default=None)
    idle.add_argument("--mic", action="store_true", help="capture from a PulseAudio null sink through PyAudio")
    args = parser.parse_args(argv)
    return bench_latency(args) if args.what == "latency" else bench_idle(args)


if __name__ == "__main__":
    raise SystemExit(main())
