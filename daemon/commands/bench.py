"""Run a benchmark script from bench/ (latency, idle, memory, runtime, search, accuracy, ...) and print its figures."""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
from typing import Final, Iterable

from daemon import paths
from daemon.errors import VoicecmdError

# name -> (script in bench/, arguments put in front of the user's)
BENCHMARKS: dict[str, tuple[str, list[str]]] = {
    "latency": ("latency_bench.py", ["latency"]),
    "idle": ("latency_bench.py", ["idle"]),
    "runtime": ("runtime_bench.py", []),
    "search": ("search_bench.py", []),
    "grammar": ("grammar_bench.py", []),
    "accuracy": ("real_speech.py", []),  # real human speech (the shared dev set), pocketsphinx beside
    "accuracy-synthetic": ("accuracy.py", []),  # the held-out synthetic corpus built by training/
    "wyoming": ("wyoming_bench.py", []),
    "memory": ("memory_bench.py", []),
    "coverage": ("coverage_bench.py", []),  # the cost of the Whisper decoder's coverage test
}

# Python packages benchmarks compare with or plot through, which `script/setup run` does not install:
# import name -> what to install.
PYTHON_PEERS: Final[dict[str, str]] = {
    "hassil": "pip install hassil",
    "kaldi_native_fbank": "pip install kaldi-native-fbank",
    "pocketsphinx": "pip install pocketsphinx",
    "matplotlib": "pip install matplotlib",
    "onnxruntime": "pip install 'voicecmd[cpu]'",
    "onnx": "pip install onnx",
    "torch": "pip install torch",
    "scipy": "pip install scipy",
    "pyaudio": "apt install python3-pyaudio, or pip install 'voicecmd[audio]'",
}
# Programs benchmarks run -> the Debian package that has them.
PROGRAM_PACKAGES: Final[dict[str, str]] = {
    "sox": "sox",
    "flite": "flite",
    "espeak-ng": "espeak-ng",
    "mosquitto": "mosquitto",
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
}
_TEST_SETUP: Final = "bash script/setup test installs them all"
# Top-level packages of this repository: a missing module there is a bug, not a missing peer.
_OWN_PACKAGES: Final = frozenset({"daemon", "runtime", "bench", "training", "tests"})


def python_install_hint(module: str) -> str:
    """How to install the Python package that provides ``module``."""
    top = module.split(".")[0]
    return f"{PYTHON_PEERS.get(top, f'pip install {top}')} ({_TEST_SETUP})"


def missing_programs(*programs: str) -> list[str]:
    """The programs of ``programs`` not on PATH (mosquitto is also looked for in the sbin directories)."""
    def found(name: str) -> bool:
        return bool(shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin"))

    return [p for p in programs if not found(p)]


def program_install_hint(programs: Iterable[str]) -> str:
    """``apt install`` line for the Debian packages holding ``programs``."""
    packages = dict.fromkeys(PROGRAM_PACKAGES.get(p, p) for p in programs)
    return f"apt install {' '.join(packages)} ({_TEST_SETUP})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Benchmark name, then that benchmark's own options (see ``voicecmd bench NAME --help``)."""
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help="options passed to the benchmark script")


def run(args: argparse.Namespace) -> int:
    """Execute bench/<script> as ``__main__`` with the remaining arguments.

    A missing peer package or program ends in one line saying what to install, never a traceback."""
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
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.split(".")[0] in _OWN_PACKAGES:
            raise
        raise VoicecmdError(f"bench {args.name}: needs the Python package providing '{exc.name}', which is not "
                            f"installed: {python_install_hint(exc.name)}") from None
    except FileNotFoundError as exc:
        program = exc.filename if isinstance(exc.filename, str) else ""
        if not program or "/" in program or "." in program:  # a data file, not a program run by name
            raise
        raise VoicecmdError(f"bench {args.name}: needs the program {program}, which is not installed: "
                            f"{program_install_hint([program])}") from None
    finally:
        sys.argv = saved
    return 0
