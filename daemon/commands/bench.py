"""Run a benchmark script from bench/ (latency, idle, runtime, search, grammar, accuracy) and print its figures."""

from __future__ import annotations

import argparse
import runpy
import sys

from daemon import paths
from daemon.errors import VoicecmdError

# name -> (script in bench/, arguments put in front of the user's)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "latency": ("latency_bench.py", ["latency"]),
    "idle": ("latency_bench.py", ["idle"]),
    "runtime": ("runtime_bench.py", []),
    "search": ("search_bench.py", []),
    "grammar": ("grammar_bench.py", []),
    "accuracy": ("accuracy.py", []),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark name, then that benchmark's own options (see ``voicecmd bench NAME --help``)."""
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="options passed to the benchmark script")


def run(args: argparse.Namespace) -> int:
    """Execute bench/<script> as ``__main__`` with the remaining arguments."""
    script, fixed = BENCHMARKS[args.name]
    path = paths.SOURCE_ROOT / "bench" / script
    if not path.exists():
        raise VoicecmdError(f"bench {args.name}: {path} not found (benchmarks ship with the source checkout)")
    saved = sys.argv
    sys.argv = [str(path), *fixed, *args.bench_args]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    finally:
        sys.argv = saved
    return 0
