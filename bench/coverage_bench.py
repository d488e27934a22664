"""Coverage-test benchmark: what the Whisper decoder's test for speech the sentence does not cover costs per command.

Usage: voicecmd bench coverage [--model DIR] [--commands N] [--corpus DIR]

Each command (the latency bench's: the synthetic corpus's held-out commands when it is there, else sentences of the
shipped grammars spoken by flite / espeak-ng) is decoded as the daemon's early decode sees it (60 ms of the silence
after it, then 300 ms of zeros), twice: with the test and without it, in alternating order so that the machine's
drift falls on both alike. Printed: on how many commands the test ran, how many outcomes it changed, and the decode
time (encoder and search) with and without it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency_bench import DEFAULT_CORPUS  # noqa: E402
from bench.latency_commands import add_corpus_argument, bench_commands  # noqa: E402

TRAILING_MS = 60  # the early decode's trailing context (WhisperRecognizer.trailing_context_ms)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def measure(model_dir: Path, commands: list) -> dict:
    """Decode every command with and without the coverage test; times in ms and counts."""
    import daemon.grammar.whisper_decode as whisper_decode
    from daemon.app import make_grammar_builder
    from daemon.grammar import coverage
    from daemon.paths import default_grammar_dir
    from runtime.recognizer import open_recognizer

    recognizer = open_recognizer(model_dir, num_threads=1)
    if getattr(recognizer, "kind", "") != "whisper":
        raise ValueError(f"{model_dir}: the coverage test is part of the Whisper decoder; give a Whisper model")
    decoder = make_grammar_builder(recognizer, None)((default_grammar_dir(),)).decoder
    padding = np.zeros((TRAILING_MS + recognizer.end_padding_ms) * 16, np.int16)
    real = coverage.uncovered_speech
    ran = 0

    def counting(model, result, search):
        nonlocal ran
        ran += coverage.worth_checking(search, coverage.speech_span(result.audio))
        return real(model, result, search)

    times: dict[str, list[float]] = {"with": [], "without": []}
    changed = rejected = 0
    try:
        for index, command in enumerate(commands):
            audio = np.concatenate([command.samples, padding])
            outcomes = {}
            for mode in (("with", "without") if index % 2 == 0 else ("without", "with")):
                whisper_decode.uncovered_speech = counting if mode == "with" else (lambda *args: None)
                session = recognizer.create_session()
                session.accept_waveform(audio)
                begin = time.perf_counter()
                result = decoder.decode_result(session.finalize())
                times[mode].append(1000 * (time.perf_counter() - begin))
                outcomes[mode] = (result.recognized, result.intent, result.slots)
            changed += outcomes["with"] != outcomes["without"]
            rejected += outcomes["without"][0] and not outcomes["with"][0]
    finally:
        whisper_decode.uncovered_speech = real
    added = [w - wo for w, wo in zip(times["with"], times["without"])]
    return {"commands": len(commands), "ran": ran, "changed": changed, "rejected": rejected, "times": times,
            "added": added}


def main(argv: list[str] | None = None) -> int:
    """Print the coverage test's cost on the latency bench's commands."""
    parser = argparse.ArgumentParser(prog="voicecmd bench coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="Whisper model directory (default: the bundled one)")
    parser.add_argument("--commands", type=int, default=80, help="commands, en and zh alternating")
    add_corpus_argument(parser, DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    from daemon.paths import default_model_dir

    loaded = bench_commands("coverage", args.commands, Path(args.corpus) if args.corpus else None, "--commands")
    if loaded is None:
        return 2
    commands, source = loaded
    try:
        figures = measure(args.model or default_model_dir(), commands)
    except ValueError as exc:
        print(f"bench coverage: {exc}", file=sys.stderr)
        return 2
    print(f"{figures['commands']} commands: {source}")
    print(f"the coverage test ran on {figures['ran']}; outcomes changed {figures['changed']} "
          f"(commands it rejected: {figures['rejected']})")
    for mode in ("without", "with"):
        values = figures["times"][mode]
        print(f"decode {mode:7s} the test (encoder + search), ms: mean {np.mean(values):.0f}, "
              f"p50 {_percentile(values, 50):.0f}, p95 {_percentile(values, 95):.0f}")
    added = figures["added"]
    print(f"added per command, ms: mean {np.mean(added):.0f}, p95 {_percentile(added, 95):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
