"""The voicecmd entry point: version, help and one-line errors."""

from __future__ import annotations

import subprocess
import sys

from daemon import __version__
from daemon.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "daemon", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"voicecmd {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: voicecmd" in capsys.readouterr().out
