"""Error hierarchy of the service; every message names the file/line or field at fault."""

from __future__ import annotations


class VoicecmdError(Exception):
    """Base class for errors reported to the user as one line (CLI exit code ``exit_code``)."""

    exit_code = 2


class ConfigError(VoicecmdError):
    """A configuration file or value is invalid; the message names the key path."""


class GrammarError(VoicecmdError):
    """A grammar file is invalid; the message is ``file:line:column: problem``."""

    exit_code = 1


class AudioSourceError(VoicecmdError):
    """Audio input (WAV, device, stdin) is missing or in the wrong format."""


class ModelError(VoicecmdError):
    """The model directory cannot be used (wraps the runtime's load errors)."""


class MqttError(VoicecmdError):
    """MQTT settings or connection problems that cannot be retried."""
