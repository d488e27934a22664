"""systemd glue and process plumbing: sd_notify, logging, supervised threads, bounded queues, grammar reloads."""

from __future__ import annotations
