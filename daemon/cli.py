"""The ``voicecmd`` command line: a thin argparse front that dispatches to ``daemon.commands.*``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

from daemon import __version__
from daemon.errors import VoicecmdError
from runtime.errors import SpeechRuntimeError

# Sub-command name -> module. Modules import their heavy dependencies inside ``run`` so that
# ``voicecmd --help`` stays fast on the board's A53 cores.
COMMANDS: dict[str, str] = {
    "run": "daemon.commands.run",
    "transcribe": "daemon.commands.transcribe",
    "recognize": "daemon.commands.recognize",
    "parse": "daemon.commands.parse",
    "check-grammar": "daemon.commands.check_grammar",
    "devices": "daemon.commands.devices",
    "bench": "daemon.commands.bench",
    "wyoming": "daemon.commands.wyoming",
    "grammar": "daemon.commands.grammar_from_ha",
}

# Exit code for bad input (audio, model directory, config): one clear line, never a traceback.
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per available command."""
    parser = argparse.ArgumentParser(prog="voicecmd", description="Offline voice-command daemon")
    parser.add_argument("--version", action="version", version=f"voicecmd {__version__}")
    parser.add_argument("--debug", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        help_line = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else None
        sub = subparsers.add_parser(name, help=help_line, description=help_line)
        module.add_arguments(sub)
        sub.set_defaults(_command_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``voicecmd``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module = getattr(args, "_command_module", None)
    if module is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(module.run(args) or 0)
    except VoicecmdError as exc:
        print(f"voicecmd: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SpeechRuntimeError as exc:
        print(f"voicecmd: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
