"""Logging: journald with structured fields (INTENT=, SITE_ID=, ...) under systemd, plain stderr otherwise."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Mapping, Optional

from daemon.config import LoggingConfig

_LOGGER = logging.getLogger(__name__)
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
SYSLOG_IDENTIFIER = "voicecmd"


def running_under_journald(environ: Optional[Mapping[str, str]] = None) -> bool:
    """True when stderr is connected to the journal (JOURNAL_STREAM matches it) and the journal socket exists."""
    env = os.environ if environ is None else environ
    stream = env.get("JOURNAL_STREAM")
    if not stream or not JOURNAL_SOCKET.exists():
        return False
    try:
        device, inode = (int(x) for x in stream.split(":", 1))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return st.st_dev == device and st.st_ino == inode


def _journal_handler() -> Optional[logging.Handler]:
    try:
        from systemd.journal import JournalHandler
    except ImportError:
        return None
    return JournalHandler(SYSLOG_IDENTIFIER=SYSLOG_IDENTIFIER)


def setup_logging(config: LoggingConfig, *, debug: bool = False) -> str:
    """Install one root handler (journal or stderr) at the configured level; returns which one."""
    level = logging.DEBUG if debug else getattr(logging, config.level.upper())
    root = logging.getLogger()
    target = config.target
    handler: Optional[logging.Handler] = None
    if target == "journal" or (target == "auto" and running_under_journald()):
        handler = _journal_handler()
        if handler is not None:
            handler.setFormatter(logging.Formatter("%(message)s"))
            target = "journal"
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        # Under systemd without journald fields, the journal adds its own timestamps.
        fmt = "%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM") else \
            "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
        handler.setFormatter(logging.Formatter(fmt))
        target = "stderr"
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return target
