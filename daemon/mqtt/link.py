"""MqttLink: publishes the daemon's events to a broker (native, Hermes, Home Assistant) and receives commands."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import daemon
from daemon.errors import ConfigError, MqttError
from daemon.events import IntentEvent, NotRecognizedEvent
from daemon.mqtt import paho_compat
from daemon.mqtt.config import MqttConfig
from daemon.mqtt.messages import (
    CommandError,
    CommandMessage,
    ErrorMessage,
    LastCommandMessage,
    Message,
    StateMessage,
    StatusMessage,
    discovery_messages,
    intent_messages,
    is_ha_birth,
    not_recognized_messages,
)
from daemon.mqtt.outbox import Dropped, Outbox
from daemon.mqtt.topics import SiteTopics, check_site_id, ha_status_topic, object_id

__all__ = ["MqttLink", "CommandHandler"]

_LOGGER = logging.getLogger(__name__)

CommandHandler = Callable[[str, dict], None]

_SUPERVISE_EVERY_S = 1.0  # how often the sender thread checks paho's network thread when idle
_SENDER_BACKOFF_MAX_S = 30.0
_OFFLINE_PUBLISH_WAIT_S = 1.0
# Home Assistant birth messages are answered once per window: a burst of births (HA restarting in a loop, several HA
# instances, a replayed retained "online") costs one re-announcement, not one per birth.
_BIRTH_DEBOUNCE_S = 1.0


class MqttLink:
    """Connection to one broker for one site.

    Events are queued in a persisted outbox and handed to paho by the ``mqtt-outbox-<site>`` thread while connected;
    an entry leaves the outbox only on its PUBACK. paho's own network thread (``mqtt-<site>``, started with
    loop_start) connects with capped exponential backoff; each (re)connect re-subscribes and re-announces status,
    state, the last command and discovery. ``on_command(name, args)`` runs on the network thread: keep it short.

    The outbox holds at most ``queue_max`` utterances for at most ``queue_max_age_s``; what it drops is reported on
    ``<prefix>/<site>/error`` and counted under ``dropped`` in the retained state. A connection that cannot be made
    is logged once per distinct reason and kept in ``problem`` until the link connects."""

    def __init__(
        self,
        mqtt_config: MqttConfig,
        site_id: str,
        state_dir: Optional[Path],
        on_command: Optional[CommandHandler] = None,
    ) -> None:
        try:
            check_site_id(site_id)
        except ValueError as err:
            raise MqttError(f"service.site_id: {err}") from None
        self._config = mqtt_config
        self._site_id = site_id
        self._topics = SiteTopics(mqtt_config.topic_prefix, site_id)
        self._on_command = on_command
        queue_file = Path(state_dir) / f"mqtt-outbox-{object_id(site_id)}.jsonl" if state_dir is not None else None
        self._outbox = Outbox(queue_file, mqtt_config.queue_max)
        self._drops = {"full": self._outbox.dropped, "expired": 0}  # utterances dropped since start, by reason
        self._drops_unreported: list[Dropped] = []  # reported on the error topic once connected
        if self._outbox.recovered_dropped is not None:
            self._drops_unreported.append(self._outbox.recovered_dropped)
        self._client = None
        self._sender: Optional[threading.Thread] = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        # stop() and the supervisor both stop/start paho's thread: never at the same time
        self._lifecycle_lock = threading.Lock()
        self._net_restarts = 0
        self._net_restart_at = 0.0
        self._started = False
        self._stopped = False
        # mid -> outbox seq (None for messages that are not queued); PUBACKs that beat the bookkeeping wait in
        # _early_acks. Never held while calling paho: paho calls on_publish with its own locks taken.
        self._ack_lock = threading.Lock()
        self._inflight: dict[int, Optional[int]] = {}
        self._early_acks: set[int] = set()
        self._handed: set[int] = set()
        # Serialises remembered retained messages against the (re)connect announcement, so none is sent twice
        # or lost when the service updates them while the link connects.
        self._announce_lock = threading.Lock()
        self._state: Optional[dict] = None
        self._intent_names: Optional[tuple[str, ...]] = None
        self._last_command: Optional[LastCommandMessage] = None
        self._last_refusal: Optional[str] = None
        self._problem: Optional[str] = "not connected yet"
        self._birth_due: Optional[float] = None  # monotonic time of the pending (debounced) re-announcement
        self.stats = {"connects": 0, "disconnects": 0, "connect_failures": 0, "delivered": 0, "commands": 0,
                      "bad_commands": 0, "ha_births": 0, "announces": 0}

    # ------------------------------------------------------------------------------------------------ properties

    @property
    def topics(self) -> SiteTopics:
        """This site's native topics."""
        return self._topics

    @property
    def connected(self) -> bool:
        """True while the broker connection is up."""
        return self._connected.is_set()

    @property
    def queued(self) -> int:
        """Messages not yet acknowledged by the broker (in the outbox)."""
        return len(self._outbox)

    @property
    def queued_utterances(self) -> int:
        """Utterances with messages not yet acknowledged by the broker."""
        return self._outbox.utterances

    @property
    def dropped(self) -> int:
        """Utterances dropped because the outbox was full."""
        return self._outbox.dropped

    @property
    def expired(self) -> int:
        """Utterances dropped because they waited longer than ``queue_max_age_s``."""
        return self._outbox.expired

    @property
    def problem(self) -> Optional[str]:
        """Why the link is not connected (refused, TLS failure, connection lost...), None while connected."""
        return None if self._connected.is_set() else self._problem

    def status_text(self) -> str:
        """One line for the service status: connected, or why not and how much waits."""
        cfg = self._config
        if self._connected.is_set():
            return f"MQTT connected to {cfg.host}:{cfg.port}"
        return (f"MQTT not connected to {cfg.host}:{cfg.port} ({self._problem}); "
                f"{self.queued_utterances} utterance(s) queued")

    @property
    def queue_file(self) -> Optional[Path]:
        """The outbox journal (None when running in memory only)."""
        return self._outbox.path

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected and subscribed to commands (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        return self._connected.wait(timeout) and self._subscribed.wait(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Connect in the background (retried with backoff) and start the outbox sender thread."""
        if self._started:
            raise MqttError("MQTT link already started")
        cfg = self._config
        client = paho_compat.make_client(cfg.effective_client_id(self._site_id))
        paho_compat.install_callbacks(
            client,
            on_connect=self._handle_connect,
            on_disconnect=self._handle_disconnect,
            on_message=self._handle_message,
            on_publish=self._handle_publish,
            on_subscribe=self._handle_subscribe,
            on_connect_fail=self._handle_connect_fail,
            tls=cfg.tls is not None,
        )
        offline = StatusMessage(cfg.topic_prefix, self._site_id, False)
        client.will_set(offline.topic(), offline.payload(), qos=1, retain=True)
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.resolve_password())
        if cfg.tls is not None:
            client.tls_set_context(self._tls_context())
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)
        client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive)
        self._client = client
        self._started = True
        self._start_network_thread()
        self._sender = threading.Thread(target=self._sender_main, name=f"mqtt-outbox-{self._site_id}", daemon=True)
        self._sender.start()
        _LOGGER.info(
            "MQTT link for site %r to %s:%d%s (paho %s, %d queued utterance(s))",
            self._site_id, cfg.host, cfg.port, " with TLS" if cfg.tls else "", paho_compat.PAHO_VERSION,
            self.queued_utterances,
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout`` s while connected), publish ``offline`` (retained), disconnect."""
        if not self._started or self._stopped:
            self._stopped = True
            self._outbox.close()
            return
        deadline = time.monotonic() + timeout
        while self._outbox.pending() and self._connected.is_set() and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._stopping.set()
        self._wake.set()
        if self._connected.is_set():
            offline = StatusMessage(self._config.topic_prefix, self._site_id, False)
            info = self._client.publish(offline.topic(), offline.payload(), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=max(0.1, min(_OFFLINE_PUBLISH_WAIT_S, deadline - time.monotonic())))
            except (RuntimeError, ValueError) as err:
                _LOGGER.warning("MQTT: offline status not published: %s", err)
        with self._lifecycle_lock:
            self._client.disconnect()
            self._client.loop_stop()
        if self._sender is not None:
            self._sender.join(timeout=2.0)
        self._stopped = True
        left = len(self._outbox)
        self._outbox.close()
        _LOGGER.info(
            "MQTT link stopped: %d message(s) delivered, %d left queued%s, %d utterance(s) dropped (queue full), "
            "%d expired", self.stats["delivered"], left, f" in {self._outbox.path}" if left and self._outbox.path else "",
            self.dropped, self.expired,
        )

    # ------------------------------------------------------------------------------------------------ publishing

    def publish_intent(self, ev: IntentEvent) -> None:
        """Queue a recognised intent on every enabled topic family (QoS 1, delivered at least once)."""
        cfg = self._config
        self._enqueue(intent_messages(cfg.topic_prefix, ev, hermes=cfg.hermes, ha_event=cfg.discovery))
        with self._announce_lock:
            self._last_command = LastCommandMessage.from_event(cfg.topic_prefix, ev)
            self._publish_now(self._last_command)

    def publish_not_recognized(self, ev: NotRecognizedEvent) -> None:
        """Queue rejected speech (native not_recognized, Hermes intentNotRecognized/textCaptured, HA event)."""
        cfg = self._config
        self._enqueue(not_recognized_messages(cfg.topic_prefix, ev, hermes=cfg.hermes, ha_event=cfg.discovery))

    def publish_state(self, state: Mapping[str, object]) -> None:
        """Publish (retained) and remember the daemon state; it is re-sent on every reconnect. The link adds
        ``dropped``: utterances its outbox let go undelivered since start, by reason (``full``, ``expired``)."""
        with self._announce_lock:
            self._state = dict(state)
            self._publish_now(self._state_message())

    def publish_discovery(self, intent_names: Sequence[str]) -> None:
        """Announce (retained) the Home Assistant device for these intents; re-sent on reconnect and HA birth."""
        with self._announce_lock:
            self._intent_names = tuple(intent_names)
            if self._config.discovery:
                for msg in self._discovery():
                    self._publish_now(msg)

    def publish_error(self, msg: str) -> None:
        """Report an error on ``<prefix>/<site_id>/error`` (dropped, not queued, while disconnected)."""
        self._publish_now(ErrorMessage(self._config.topic_prefix, self._site_id, msg))

    # ------------------------------------------------------------------------------------------------ internals

    def _tls_context(self) -> ssl.SSLContext:
        tls = self._config.tls
        try:
            context = ssl.create_default_context(cafile=tls.ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(f"mqtt.tls.ca_file: cannot load {tls.ca_file}: {err}") from None
        if tls.cert_file:
            try:
                context.load_cert_chain(tls.cert_file, tls.key_file)
            except (OSError, ssl.SSLError) as err:
                raise ConfigError(f"mqtt.tls.cert_file: cannot load {tls.cert_file}: {err}") from None
        return context

    def _discovery(self) -> list[Message]:
        if self._intent_names is None:
            return []
        return discovery_messages(self._topics, self._config.discovery_prefix, self._intent_names, daemon.__version__)

    def _state_message(self) -> StateMessage:
        return StateMessage(self._config.topic_prefix, self._site_id, {**(self._state or {}), "dropped": dict(self._drops)})

    def _enqueue(self, messages: list[Message]) -> None:
        if self._stopped:
            _LOGGER.warning("MQTT link stopped: %s not published", ", ".join(m.topic() for m in messages))
            return
        _added, dropped = self._outbox.append([(m.topic(), m.payload(), m.qos, m.retain) for m in messages])
        if dropped is not None:
            self._note_drop(dropped)
        self._wake.set()

    def _expire(self) -> None:
        """Drop queued utterances older than ``queue_max_age_s``: a stale command must not arrive as a live one."""
        if self._config.queue_max_age_s > 0:
            dropped = self._outbox.expire(time.time() - self._config.queue_max_age_s)
            if dropped is not None:
                _LOGGER.warning("MQTT queue: dropped %d utterance(s) older than %.0f s (%d expired in all)",
                                dropped.utterances, self._config.queue_max_age_s, self.expired)
                self._note_drop(dropped)

    def _note_drop(self, dropped: Dropped) -> None:
        """Count dropped utterances; report them now when connected, else on the next connect."""
        with self._announce_lock:
            self._drops[dropped.reason] += dropped.utterances
            self._drops_unreported.append(dropped)
            if self._connected.is_set():
                self._report_drops()

    def _report_drops(self, *, connecting: bool = False) -> None:
        """Publish the unreported drops on the error topic and the state with the new counts (announce lock held)."""
        if not self._drops_unreported:
            return
        cfg = self._config
        for reason in ("full", "expired"):
            batch = [d for d in self._drops_unreported if d.reason == reason]
            if not batch:
                continue
            count = sum(d.utterances for d in batch)
            why = (f"the queue was full (queue_max {cfg.queue_max} utterances)" if reason == "full"
                   else f"they were older than queue_max_age_s ({cfg.queue_max_age_s:.0f} s)")
            topics = sorted({e.topic for d in batch for e in d.entries})
            text = (f"MQTT queue: {count} utterance(s) dropped undelivered because {why} "
                    f"({sum(len(d.entries) for d in batch)} message(s) on {', '.join(topics)[:300]})")
            self._publish_now(ErrorMessage(cfg.topic_prefix, self._site_id, text), connecting=connecting)
        self._drops_unreported.clear()
        if self._state is not None:
            self._publish_now(self._state_message(), connecting=connecting)

    def _publish_now(self, msg: Message, *, connecting: bool = False) -> None:
        """Publish a message that is re-sent on reconnect anyway (retained state, errors): skipped while offline."""
        if (connecting or self._connected.is_set()) and not self._stopped:
            self._publish(msg.topic(), msg.payload(), msg.qos, msg.retain, None)

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool, seq: Optional[int]) -> None:
        client = self._client
        if client is None:
            return
        info = client.publish(topic, payload, qos=qos, retain=retain)
        if qos == 0 and not paho_compat.result_is_success(info.rc):
            return  # paho keeps QoS>0 messages for resending after a reconnect, but drops QoS 0 ones
        with self._ack_lock:
            acked = info.mid in self._early_acks
            if acked:
                self._early_acks.discard(info.mid)
            else:
                self._inflight[info.mid] = seq
        if acked and seq is not None:
            self._delivered(seq)

    def _delivered(self, seq: int) -> None:
        if self._outbox.remove(seq):
            self.stats["delivered"] += 1
        with self._ack_lock:
            self._handed.discard(seq)

    def _hand_pending(self) -> None:
        """Give paho every queued entry it does not hold yet (it re-sends held ones itself after a reconnect)."""
        for entry in self._outbox.pending():
            if not self._connected.is_set() or self._stopping.is_set():
                return
            with self._ack_lock:
                if entry.seq in self._handed:
                    continue
                self._handed.add(entry.seq)
            try:
                self._publish(entry.topic, entry.payload, entry.qos, entry.retain, entry.seq)
            except (ValueError, TypeError) as err:  # paho refuses it (bad topic, oversized): it never will publish
                _LOGGER.error("MQTT: dropping unpublishable queued message for %s: %s", entry.topic[:100], err)
                self._outbox.remove(entry.seq)

    def _start_network_thread(self) -> None:
        self._client.loop_start()
        thread = paho_compat.network_thread(self._client)
        if thread is not None:
            thread.name = f"mqtt-{self._site_id}"

    def _supervise_network_thread(self) -> None:
        """Restart paho's thread if it died (paho 1.6 lets e.g. a TLS alert escape loop_forever), with backoff."""
        with self._lifecycle_lock:
            thread = paho_compat.network_thread(self._client)
            if self._stopping.is_set() or (thread is not None and thread.is_alive()):
                return
            now = time.monotonic()
            if now < self._net_restart_at:
                return
            self._net_restarts += 1
            delay = min(self._config.reconnect_max_s, self._config.reconnect_min_s * 2 ** min(self._net_restarts, 16))
            self._net_restart_at = now + delay
            _LOGGER.error("MQTT network thread ended unexpectedly (%d time(s) in a row); restarting it",
                          self._net_restarts)
            self._client.loop_stop()
            if not self._client.is_connected():  # else the new thread carries on with the open session
                self._connected.clear()
                self._subscribed.clear()
            self._start_network_thread()

    def _sender_main(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            due = self._birth_due
            self._wake.wait(_SUPERVISE_EVERY_S if due is None else max(0.0, min(_SUPERVISE_EVERY_S, due - time.monotonic())))
            self._wake.clear()
            if self._stopping.is_set():
                break
            try:
                self._supervise_network_thread()
                self._expire()
                self._answer_birth()
                if self._connected.is_set():
                    self._hand_pending()
                self._outbox.sync()  # after handing over: the disk never delays a publish
                failures = 0
            except Exception:
                failures += 1
                delay = min(_SENDER_BACKOFF_MAX_S, 0.1 * 2 ** min(failures, 10))
                _LOGGER.exception("MQTT sender failed (%d in a row); retrying in %.1f s", failures, delay)
                self._stopping.wait(delay)

    # ------------------------------------------------------------------------------------------------ paho callbacks

    def _handle_connect_fail(self, reason: str) -> None:
        """No CONNACK at all: refused TCP connection, failed TLS handshake, unknown host (paho retries)."""
        self.stats["connect_failures"] += 1
        self._problem = reason
        if reason != self._last_refusal:  # the same failure repeats on every retry: say it once
            _LOGGER.error("MQTT cannot connect to %s:%d: %s; retrying with backoff, %d utterance(s) queued",
                          self._config.host, self._config.port, reason, self.queued_utterances)
        self._last_refusal = reason

    def _handle_connect(self, ok: bool, reason: str) -> None:
        if not ok:
            self.stats["connect_failures"] += 1
            self._problem = f"refused: {reason}"
            if reason != self._last_refusal:
                _LOGGER.error("MQTT broker %s:%d refused the connection: %s", self._config.host, self._config.port, reason)
            self._last_refusal = reason
            return
        self._last_refusal = None
        self._problem = None
        self._net_restarts = 0
        self.stats["connects"] += 1
        _LOGGER.info("MQTT connected to %s:%d", self._config.host, self._config.port)
        self._expire()
        with self._ack_lock:
            # PUBACKs that arrived for no known mid belong to earlier connections: forgotten, so that paho's 16-bit
            # mid counter wrapping onto them cannot count a new message delivered without its PUBACK.
            self._early_acks.clear()
            # paho re-sends every message it holds right after this callback, acknowledged ones get their PUBACK
            # then; only queued messages the outbox dropped meanwhile (full, expired) are taken back from paho.
            stale = {mid for mid, seq in self._inflight.items() if seq is not None and not self._outbox.has(seq)}
            for mid in stale:
                self._handed.discard(self._inflight.pop(mid))
        if stale:
            taken = paho_compat.discard_messages(self._client, stale)
            _LOGGER.info("MQTT: %d dropped queued message(s) not re-sent (%d taken back from paho)", len(stale), taken)
        client = self._client
        client.subscribe([(self._topics.command_filter, 1), (ha_status_topic(self._config.discovery_prefix), 1)])
        with self._announce_lock:
            self._announce()
            self._connected.set()
        self._wake.set()

    def _announce(self) -> None:
        """Status online, state, last command and discovery: everything retained that a fresh broker lacks; then
        drops not reported yet."""
        self.stats["announces"] += 1
        self._publish_now(StatusMessage(self._config.topic_prefix, self._site_id, True), connecting=True)
        if self._state is not None:
            self._publish_now(self._state_message(), connecting=True)
        if self._last_command is not None:
            self._publish_now(self._last_command, connecting=True)
        if self._config.discovery:
            for msg in self._discovery():
                self._publish_now(msg, connecting=True)
        self._report_drops(connecting=True)

    def _answer_birth(self) -> None:
        """Re-announce once the debounce window of a Home Assistant birth has passed (sender thread)."""
        due = self._birth_due
        if due is None or time.monotonic() < due:
            return
        with self._announce_lock:
            self._birth_due = None
            if self._connected.is_set():
                _LOGGER.info("Home Assistant came online: re-announcing discovery")
                self._announce()

    def _handle_disconnect(self, reason: str) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._subscribed.clear()
        if was_connected:
            self.stats["disconnects"] += 1
        if self._stopping.is_set():
            return
        self._problem = reason
        if was_connected:
            _LOGGER.warning(
                "MQTT disconnected from %s:%d: %s; reconnecting with backoff, %d utterance(s) queued",
                self._config.host, self._config.port, reason, self.queued_utterances,
            )
        elif self._last_refusal is None:  # a failed handshake repeats on every retry: say it once
            _LOGGER.error("MQTT cannot connect to %s:%d: %s", self._config.host, self._config.port, reason)
            self._last_refusal = reason

    def _handle_subscribe(self, mid: int) -> None:
        self._subscribed.set()

    def _handle_publish(self, mid: int) -> None:
        with self._ack_lock:
            if mid in self._inflight:
                seq = self._inflight.pop(mid)
            else:
                self._early_acks.add(mid)
                return
        if seq is not None:
            self._delivered(seq)

    def _handle_message(self, topic: str, payload: bytes, retained: bool) -> None:
        if is_ha_birth(self._config.discovery_prefix, topic, payload):
            self.stats["ha_births"] += 1
            with self._announce_lock:
                if self._birth_due is None:
                    self._birth_due = time.monotonic() + _BIRTH_DEBOUNCE_S
            self._wake.set()
            return
        if self._topics.command_name(topic) is None:
            return
        try:
            if retained:
                raise CommandError(f"{topic}: retained command ignored (publish commands without the retain flag)")
            command = CommandMessage.from_payload(self._topics, topic, payload)
        except CommandError as err:
            self.stats["bad_commands"] += 1
            _LOGGER.warning("MQTT command rejected: %s", err)
            self.publish_error(str(err))
            return
        self.stats["commands"] += 1
        _LOGGER.info("MQTT command %s %s", command.command, dict(command.args) or "")
        if self._on_command is None:
            return
        try:
            self._on_command(command.command, dict(command.args))
        except Exception as err:
            _LOGGER.exception("MQTT command %s failed", command.command)
            self.publish_error(f"{topic}: command {command.command} failed: {err}")
