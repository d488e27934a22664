"""List the audio input devices PyAudio can capture from (use the index or a name substring as audio.device)."""

from __future__ import annotations

import argparse

from daemon.audio.microphone import list_input_devices


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    """Print one line per input device: index, name, channels, default rate, host API."""
    devices = list_input_devices()
    if not devices:
        print("no audio input devices found")
        return 1
    for d in devices:
        print(f"{d.index:3d}  {d.name}  ({d.max_input_channels} ch, {d.default_rate:.0f} Hz, {d.host_api})")
    return 0
