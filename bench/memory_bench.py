"""Memory benchmark: the daemon's resident set with the model and the shipped grammars, after one utterance and as
ever more different commands are decoded (caches and allocator growth), against the 250 MB budget.

Usage: voicecmd bench memory [--model DIR] [--utterances N] [--every N] [--corpus DIR]

The commands are those of the latency bench (bench/latency_commands.py: the synthetic corpus's held-out commands
when it is there, else sentences of the shipped grammars spoken by flite / espeak-ng), decoded the way the daemon
decodes them (recognizer session + grammar decoder, one at a time), each command once; the commands wait on disk, one
in memory at a time, as a microphone's audio would. RSS is VmRSS after glibc's malloc_trim, as the daemon trims after
a grammar load.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.latency_bench import DEFAULT_CORPUS, rss_mb as process_rss_mb  # noqa: E402
from bench.latency_commands import add_corpus_argument, bench_commands  # noqa: E402

BUDGET_MB = 250.0


def rss_mb() -> float:
    """This process's resident set (VmRSS) in MB, after handing freed heap back to the system."""
    from daemon.service.memory import release_freed_memory

    release_freed_memory()
    return process_rss_mb(os.getpid())


def cache_sizes(decoder) -> str:
    """Entries in each language automaton's caches (closures / byte steps / token choices), when it has them."""
    automata = getattr(decoder, "automata", {}) or {}
    return ", ".join(f"{language} " + "/".join(map(str, a.cache_sizes())) for language, a in automata.items()
                     if hasattr(a, "cache_sizes"))


def decode_all(args: argparse.Namespace, audio_files: list[Path], source: str) -> float:
    """Load the model, decode every command once, print RSS as it goes; the highest RSS seen."""
    from daemon.app import make_grammar_builder
    from daemon.paths import default_grammar_dir, default_model_dir
    from runtime.recognizer import open_recognizer

    model_dir = args.model or default_model_dir()
    start_mb = rss_mb()
    recognizer = open_recognizer(model_dir, num_threads=1)
    decoder = make_grammar_builder(recognizer, None)((default_grammar_dir(),)).decoder
    print(f"model {model_dir}; {len(audio_files)} commands: {source}")
    print(f"RSS before the model {start_mb:.0f} MB, with the model and grammars {rss_mb():.0f} MB")
    busy = 0.0
    peak = 0.0
    for index, path in enumerate(audio_files, 1):
        samples = np.load(path)
        begin = time.perf_counter()
        session = recognizer.create_session()
        session.accept_waveform(samples)
        decoder.decode_result(session.finalize())
        busy += time.perf_counter() - begin
        if index == 1 or index % args.every == 0 or index == len(audio_files):
            now = rss_mb()
            peak = max(peak, now)
            print(f"after {index:4d} utterances: RSS {now:.0f} MB (mean decode {1000 * busy / index:.0f} ms; "
                  f"caches {cache_sizes(decoder) or 'none'})", flush=True)
    return peak


def main(argv: list[str] | None = None) -> int:
    """Print RSS after the model load, after one utterance and every ``--every`` utterances."""
    parser = argparse.ArgumentParser(prog="voicecmd bench memory", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--utterances", type=int, default=300, help="different commands decoded, en and zh")
    parser.add_argument("--every", type=int, default=100, help="print RSS every N utterances")
    add_corpus_argument(parser, DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    loaded = bench_commands("memory", args.utterances, Path(args.corpus) if args.corpus else None, "--utterances")
    if loaded is None:
        return 2
    commands, source = loaded

    with tempfile.TemporaryDirectory(prefix="voicecmd-memory-") as tmp:
        audio_files = []
        for index, command in enumerate(commands):
            audio_files.append(Path(tmp) / f"{index}.npy")
            np.save(audio_files[-1], command.samples)
        del commands
        gc.collect()
        peak = decode_all(args, audio_files, source)
    verdict = "met" if peak <= BUDGET_MB else "NOT met"
    print(f"budget: RSS <= {BUDGET_MB:.0f} MB with the model: {verdict} (highest {peak:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
