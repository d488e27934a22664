"""Serve Home Assistant Assist over the Wyoming protocol: speech-to-text and intent recognition with the grammars."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--uri, --model, --grammar, --no-zeroconf and the per-connection limits."""
    from daemon.config import WyomingConfig

    defaults = WyomingConfig()
    parser.add_argument("--uri", default=defaults.uri, help=f"tcp://HOST:PORT or unix:///path (default {defaults.uri})")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the bundled model)")
    parser.add_argument("--grammar", type=Path, nargs="+", action="extend", metavar="PATH",
                        help="grammar files or directories (default: the shipped grammars); repeatable")
    parser.add_argument("--backend", default="auto", choices=("auto", "onnx", "bpu-onnx", "bpu"),
                        help="model backend (default auto)")
    parser.add_argument("--threads", type=int, default=1,
                        help="ONNX Runtime threads per model call (WeNet chunks, Whisper's decoder; default 1)")
    parser.add_argument("--encoder-threads", type=int, default=None,
                        help="threads for Whisper's encoder (default: every core up to 4)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="rejection threshold (default: the decoder's measured default)")
    parser.add_argument("--no-zeroconf", action="store_true", help="do not advertise _wyoming._tcp over mDNS")
    parser.add_argument("--zeroconf-name", default=None, help="mDNS service name (default voicecmd-<site id>)")
    parser.add_argument("--site-id", default="wyoming", help="site id put into the intent events (default wyoming)")
    parser.add_argument("--max-connections", type=int, default=defaults.max_connections)
    parser.add_argument("--max-audio-seconds", type=float, default=defaults.max_audio_s)
    parser.add_argument("--idle-timeout", type=float, default=defaults.idle_timeout_s, metavar="SECONDS")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="recognition threads")


def wyoming_config(args: argparse.Namespace) -> Any:
    """The command line as a WyomingConfig, validated like the config file's ``wyoming`` section."""
    return _command_line_config(args).wyoming


def _command_line_config(args: argparse.Namespace) -> Any:
    """The command line as a DaemonConfig (``wyoming`` and ``model`` sections), validated like the config file."""
    from daemon.config import config_from_dict

    return config_from_dict({
        "wyoming": {
            "enabled": True, "uri": args.uri, "zeroconf": not args.no_zeroconf, "zeroconf_name": args.zeroconf_name,
            "max_connections": args.max_connections, "max_audio_s": args.max_audio_seconds,
            "idle_timeout_s": args.idle_timeout, "workers": args.workers,
        },
        "model": {"backend": args.backend, "threads": args.threads, "encoder_threads": args.encoder_threads},
    })


def build_server(args: argparse.Namespace) -> Any:
    """Load the model and grammars and make the (not yet started) server."""
    from daemon import paths
    from daemon.app import build_recognizer, make_grammar_builder
    from daemon.service.grammars import GrammarManager
    from daemon.wyoming.server import WyomingServer

    command_line = _command_line_config(args)
    config = command_line.wyoming
    if args.model is not None and not args.model.is_dir():
        raise ConfigError(f"--model {args.model}: no such model directory")
    model = dataclasses.replace(command_line.model, dir=args.model)
    recognizer = build_recognizer(dataclasses.replace(command_line, model=model))
    grammars = GrammarManager(tuple(args.grammar or (paths.default_grammar_dir(),)),
                              make_grammar_builder(recognizer, args.threshold), watch=False)
    active = grammars.load_initial()
    _LOGGER.info("grammar %s: %d intents from %s", active.version, len(active.intent_names),
                 ", ".join(str(p) for p in grammars.paths))
    return WyomingServer(config, recognizer, grammars.current, site_id=args.site_id,
                         model_name=Path(recognizer.model_dir).name, on_event=_log_event)


def _log_event(event: Any) -> None:
    _LOGGER.debug("%s", event)


async def serve(server: Any) -> None:
    """Run until SIGTERM/SIGINT."""
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    print(f"voicecmd wyoming: serving on {server.config.uri}" + (f" (port {server.port})" if server.port else ""),
          flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def run(args: argparse.Namespace) -> int:
    """``voicecmd wyoming``."""
    try:
        import wyoming  # noqa: F401
    except ImportError:
        raise ConfigError("the Wyoming server needs PyPI wyoming: pip install 'voicecmd[wyoming]'") from None
    server = build_server(args)
    try:
        asyncio.run(serve(server))
    except OSError as exc:
        raise ConfigError(f"--uri {args.uri}: cannot listen ({exc.strerror or exc})") from None
    return 0
