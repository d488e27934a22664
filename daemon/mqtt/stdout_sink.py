"""StdoutSink: the MqttLink interface without a broker, printing one JSON line per message (demo mode)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO, Callable, Mapping, Optional, Sequence

import daemon
from daemon.events import IntentEvent, NotRecognizedEvent
from daemon.mqtt.config import MqttConfig
from daemon.mqtt.messages import (
    ErrorMessage,
    LastCommandMessage,
    Message,
    StateMessage,
    StatusMessage,
    discovery_messages,
    intent_messages,
    not_recognized_messages,
)
from daemon.mqtt.topics import SiteTopics

__all__ = ["StdoutSink"]

_LOGGER = logging.getLogger(__name__)


class StdoutSink:
    """Writes ``{"topic": ..., "payload": ..., "retain": ...}`` lines instead of publishing.

    Without a config only the native voicecmd topics are printed (no Hermes, no Home Assistant discovery)."""

    def __init__(
        self,
        mqtt_config: Optional[MqttConfig] = None,
        site_id: str = "default",
        state_dir: Optional[Path] = None,
        on_command: Optional[Callable[[str, dict], None]] = None,
        *,
        stream: Optional[IO[str]] = None,
    ) -> None:
        self._config = mqtt_config or MqttConfig(hermes=False, discovery=False)
        self._site_id = site_id
        self._topics = SiteTopics(self._config.topic_prefix, site_id)
        self._stream = stream
        self._lock = threading.Lock()
        self._started = False

    @property
    def topics(self) -> SiteTopics:
        """This site's native topics."""
        return self._topics

    def start(self) -> None:
        """Print the ``online`` status."""
        self._started = True
        self._emit(StatusMessage(self._config.topic_prefix, self._site_id, True))

    def stop(self, timeout: float = 5.0) -> None:
        """Print the ``offline`` status."""
        if self._started:
            self._emit(StatusMessage(self._config.topic_prefix, self._site_id, False))
            self._started = False

    def publish_intent(self, ev: IntentEvent) -> None:
        """Print the messages of a recognised intent."""
        cfg = self._config
        for msg in intent_messages(cfg.topic_prefix, ev, hermes=cfg.hermes, ha_event=cfg.discovery):
            self._emit(msg)
        if cfg.discovery:
            self._emit(LastCommandMessage.from_event(cfg.topic_prefix, ev))

    def publish_not_recognized(self, ev: NotRecognizedEvent) -> None:
        """Print the messages of rejected speech."""
        cfg = self._config
        for msg in not_recognized_messages(cfg.topic_prefix, ev, hermes=cfg.hermes, ha_event=cfg.discovery):
            self._emit(msg)

    def publish_state(self, state: Mapping[str, object]) -> None:
        """Print the state message."""
        self._emit(StateMessage(self._config.topic_prefix, self._site_id, dict(state)))

    def publish_discovery(self, intent_names: Sequence[str]) -> None:
        """Print the discovery configs (only when discovery is enabled in the config)."""
        if self._config.discovery:
            for msg in discovery_messages(self._topics, self._config.discovery_prefix, intent_names, daemon.__version__):
                self._emit(msg)

    def publish_error(self, msg: str) -> None:
        """Print an error message."""
        self._emit(ErrorMessage(self._config.topic_prefix, self._site_id, msg))

    def _emit(self, msg: Message) -> None:
        raw = msg.payload()
        try:
            payload: object = json.loads(raw)
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        line = json.dumps({"topic": msg.topic(), "payload": payload, "retain": msg.retain}, ensure_ascii=False)
        stream = self._stream or sys.stdout
        with self._lock:
            try:
                stream.write(line + "\n")
                stream.flush()
            except (OSError, ValueError) as err:  # closed pipe: keep the daemon alive, say it once per line
                _LOGGER.warning("stdout sink: cannot write %s: %s", msg.topic(), err)
