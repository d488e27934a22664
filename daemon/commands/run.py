"""Run the voice-command daemon (``--demo``: bundled model, grammars, microphone or demo recordings, local broker)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from daemon import paths
from daemon.config import DEFAULT_CONFIG_PATH, AudioConfig, DaemonConfig, GrammarConfig, ServiceConfig, load_config
from daemon.errors import ConfigError, VoicecmdError

_LOGGER = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --check-config, --demo."""
    parser.add_argument("--config", type=Path, default=None,
                        help=f"configuration file (default {DEFAULT_CONFIG_PATH})")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the config, model directory and grammars, then exit 0 (ok) or 1")
    parser.add_argument("--demo", action="store_true",
                        help="run on the bundled model and grammars: the microphone if there is one, else the "
                             "demo recordings (then exit); events go to a local mosquitto if installed, else stdout")


def check_config(config: DaemonConfig) -> str:
    """Load the model and compile the grammars named by ``config``; returns a one-line summary."""
    from daemon.app import build_recognizer, make_grammar_builder
    from daemon.service.grammars import expand_grammar_paths

    recognizer = build_recognizer(config)
    build = make_grammar_builder(recognizer, config.grammar.reject_threshold)
    grammar_paths = expand_grammar_paths(config.grammar.paths or (paths.default_grammar_dir(),))
    active = build(grammar_paths)
    if config.audio.source == "wav":
        from daemon.audio.files import wav_files

        assert config.audio.wav_path is not None
        wav_files(config.audio.wav_path)
    return (f"config ok: model {recognizer.model_dir}, grammar version {active.version} "
            f"({len(active.intent_names)} intents from {', '.join(str(p) for p in grammar_paths)})")


def demo_config(state_dir: Path) -> tuple[DaemonConfig, str]:
    """The bundled default configuration and a description of the chosen audio input."""
    from daemon.audio.microphone import has_input_device

    if has_input_device():
        audio = AudioConfig(source="microphone")
        described = "the default microphone (Ctrl-C to stop)"
    else:
        demo_dir = paths.default_demo_audio_dir()
        if not demo_dir.exists():
            raise ConfigError(f"no microphone found and no demo recordings at {demo_dir}")
        audio = AudioConfig(source="wav", wav_path=demo_dir, realtime=True, at_end="exit")
        described = f"the demo recordings in {demo_dir} (no microphone found; exits when they are done)"
    config = DaemonConfig(
        audio=audio,
        grammar=GrammarConfig(paths=(paths.default_grammar_dir(),), watch=False),
        service=ServiceConfig(site_id="demo", state_dir=state_dir),
    )
    return config, described


def run_demo(args: argparse.Namespace) -> int:
    """``voicecmd run --demo``."""
    from daemon.app import run_daemon
    from daemon.service.local_broker import LocalBroker, PrintingSubscriber, mosquitto_binary

    state = tempfile.TemporaryDirectory(prefix="voicecmd-demo-state-")
    config, described = demo_config(Path(state.name))
    binary = mosquitto_binary()
    broker: Any = None
    subscriber: Any = None
    try:
        if binary:
            from daemon.mqtt.config import MqttConfig

            broker = LocalBroker(binary).start()
            config = dataclasses.replace(config, mqtt=MqttConfig.from_dict(
                {"host": "127.0.0.1", "port": broker.port, "discovery": False}, path="mqtt"))
            subscriber = PrintingSubscriber(broker.port)
            subscriber.start()
            where = f"a local mosquitto on 127.0.0.1:{broker.port} (messages printed below)"
        else:
            where = "stdout (mosquitto is not installed)"
        print(f"voicecmd demo: listening to {described}; publishing to {where}", file=sys.stderr, flush=True)
        return run_daemon(config)
    finally:
        if subscriber is not None:
            subscriber.stop()
        if broker is not None:
            broker.stop()
        state.cleanup()


def run(args: argparse.Namespace) -> int:
    """Load the config and run the daemon until SIGTERM/SIGINT (or just check the config)."""
    from daemon.service.logging_setup import setup_logging

    if args.demo:
        if args.check_config:
            config, _ = demo_config(Path(tempfile.gettempdir()))
            return _check(config)
        return run_demo(args)
    config_path = args.config or DEFAULT_CONFIG_PATH
    if args.check_config:
        try:
            config = load_config(config_path)
        except VoicecmdError as exc:
            print(f"voicecmd: error: {exc}", file=sys.stderr)
            return 1
        return _check(config)
    if args.config is None and not config_path.exists():
        raise ConfigError(f"{config_path}: no such config file (give --config FILE, or --demo for the bundled default)")
    config = load_config(config_path)
    setup_logging(config.logging, debug=getattr(args, "debug", False))
    from daemon.app import run_daemon

    return run_daemon(config)


def _check(config: DaemonConfig) -> int:
    from runtime.errors import SpeechRuntimeError

    try:
        print(check_config(config))
    except (VoicecmdError, SpeechRuntimeError) as exc:
        print(f"voicecmd: error: {exc}", file=sys.stderr)
        return 1
    return 0
