"""voicecmd service: audio capture, VAD, grammars, pipeline, MQTT, systemd glue and the CLI."""

__version__ = "0.1.0"
