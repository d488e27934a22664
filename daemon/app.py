"""The daemon: wires model, grammars, audio, pipeline and MQTT into supervised threads with systemd integration."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from daemon import paths
from daemon.audio.source import AudioSource, make_source
from daemon.config import DaemonConfig, ModelConfig
from daemon.errors import AudioSourceError, ConfigError, ModelError
from daemon.pipeline import ActiveGrammar, CommandPipeline, RecognizerLike, intent_names_of
from daemon.service.grammars import GrammarBuilder, GrammarManager, grammar_version
from daemon.service.notify import Notifier
from daemon.service.queues import DropOldestQueue
from daemon.service.supervisor import Backoff, SupervisedThread

_LOGGER = logging.getLogger(__name__)
SAMPLE_RATE = 16000
_END_OF_STREAM = object()
# How long shutdown waits for each thread before giving up on it (audio reads may block in the driver).
_JOIN_TIMEOUT_S = 3.0
_SINK_STOP_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------------------------------------------
# Concrete builders (the only place that names the runtime, grammar and MQTT classes)


def build_recognizer(config: DaemonConfig) -> Any:
    """Load the acoustic model named by the config (ModelError with the runtime's message on failure)."""
    from runtime.errors import SpeechRuntimeError
    from runtime.recognizer import open_recognizer

    model_dir = config.model.dir or paths.default_model_dir(config.model.backend)
    if not Path(model_dir).is_dir():
        raise ModelError(f"model.dir: {model_dir}: no such model directory")
    try:
        return open_recognizer(model_dir, backend=config.model.backend, beam_size=config.model.beam,
                               num_threads=config.model.threads, encoder_threads=encoder_threads(config.model))
    except SpeechRuntimeError as exc:
        raise ModelError(f"model.dir: {model_dir}: {exc}") from None


def encoder_threads(model: ModelConfig) -> int:
    """Threads for Whisper's encoder: the configured count, else every core up to 4."""
    return model.encoder_threads or max(1, min(4, os.cpu_count() or 1))


def make_grammar_builder(recognizer: Any, reject_threshold: Optional[float]) -> GrammarBuilder:
    """A function compiling grammar paths into an ActiveGrammar for this model (its units or its writing)."""
    from daemon.grammar import load_grammar
    from daemon.grammar.decoders import make_grammar_decoder

    def build(grammar_paths: tuple[Path, ...]) -> ActiveGrammar:
        grammar = load_grammar(list(grammar_paths))
        decoder = make_grammar_decoder(grammar, recognizer, reject_threshold)
        active = ActiveGrammar(decoder=decoder, language=getattr(grammar, "language", None),
                               version=grammar_version(grammar_paths), intent_names=intent_names_of(grammar),
                               grammar=grammar)
        _ = active.completion  # built here, on the loading thread, not at the first early commit
        return active

    return build


def make_sink(config: DaemonConfig, on_command: Callable[[str, dict], None]) -> Any:
    """The MQTT link when ``mqtt`` is configured, else events printed to stdout."""
    if config.mqtt is not None:
        from daemon.mqtt.link import MqttLink

        return MqttLink(config.mqtt, config.service.site_id, config.service.state_dir, on_command)
    from daemon.mqtt.stdout_sink import StdoutSink

    return StdoutSink(None, config.service.site_id, config.service.state_dir, on_command)


@dataclass
class AudioHealth:
    """What the watchdog looks at: when audio last arrived and when the pipeline last made progress."""

    last_frame: float = 0.0
    last_processed: float = 0.0
    frames: int = 0
    reopens: int = 0


# --------------------------------------------------------------------------------------------------------------


class Daemon:
    """The voice-command service. ``run()`` blocks until SIGTERM/SIGINT, end of input, or a fatal error."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        notifier: Optional[Notifier] = None,
        recognizer: Optional[RecognizerLike] = None,
        grammar_builder: Optional[GrammarBuilder] = None,
        sink_factory: Optional[Callable[[DaemonConfig, Callable[[str, dict], None]], Any]] = None,
        source_factory: Optional[Callable[[], AudioSource]] = None,
        detector: Optional[Callable[[bytes], bool]] = None,
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self._recognizer = recognizer
        self._grammar_builder = grammar_builder
        self._sink_factory = sink_factory or make_sink
        self._source_factory = source_factory or (lambda: make_source(config.audio))
        self._detector = detector
        self._stop = threading.Event()
        self._audio_up = threading.Event()
        self._exit_code = 0
        self._stop_reason = ""
        self._threads: list[SupervisedThread] = []
        block_s = config.audio.frames_per_buffer / SAMPLE_RATE
        self._queue: DropOldestQueue[Any] = DropOldestQueue(max(2, int(config.audio.queue_s / block_s)))
        self.health = AudioHealth()
        self.sink: Any = None
        self.source: Optional[AudioSource] = None
        self.pipeline: Optional[CommandPipeline] = None
        self.grammars: Optional[GrammarManager] = None
        self.wyoming: Any = None  # daemon.wyoming.server.WyomingService when wyoming.enabled
        self._ready = False
        self._stall_logged = False
        self._model_name = ""

    # ---- control, from any thread or a signal handler (only sets flags)

    def request_stop(self, reason: str, exit_code: int = 0) -> None:
        """Begin an orderly shutdown."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._exit_code = max(self._exit_code, exit_code)
        self._stop.set()

    def request_reload(self, reason: str) -> None:
        """Recompile the grammars in the background."""
        if self.grammars is not None:
            self.grammars.request_reload(reason)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT stop the daemon, SIGHUP reloads the grammars (main thread only)."""
        signal.signal(signal.SIGTERM, lambda *_: self.request_stop("SIGTERM"))
        signal.signal(signal.SIGINT, lambda *_: self.request_stop("SIGINT"))
        signal.signal(signal.SIGHUP, lambda *_: self.request_reload("SIGHUP"))

    # ---- start-up

    def start(self) -> None:
        """Load model and grammars, connect the sink, open the audio source and start the threads."""
        cfg = self.config
        self.notifier.status("loading model")
        if self._recognizer is None:
            self._recognizer = build_recognizer(cfg)
        model_dir = getattr(self._recognizer, "model_dir", None)
        self._model_name = Path(model_dir).name if model_dir else "model"
        self.notifier.status("compiling grammars")
        if self._grammar_builder is None:
            self._grammar_builder = make_grammar_builder(self._recognizer, cfg.grammar.reject_threshold)
        grammar_paths = cfg.grammar.paths or (paths.default_grammar_dir(),)
        self.grammars = GrammarManager(
            grammar_paths, self._grammar_builder, on_swap=self._on_grammar_swap, on_error=self._on_grammar_error,
            watch=cfg.grammar.watch, watch_interval_s=cfg.grammar.watch_interval_s,
        )
        active = self.grammars.load_initial()
        _LOGGER.info("grammar version %s loaded from %s (%d intents)", active.version,
                     ", ".join(str(p) for p in self.grammars.paths), len(active.intent_names))
        self.sink = self._sink_factory(cfg, self._on_command)
        self.sink.start()
        self.pipeline = CommandPipeline(self._recognizer, self.grammars.current, self.sink, cfg.vad,
                                        cfg.service.site_id, detector=self._detector)
        self.notifier.status("opening audio")
        self.source = self._source_factory()
        self.source.open()  # fails fast at start-up; later device losses are retried with backoff
        _LOGGER.info("audio source %s open", self.source.name)
        self._safe_sink_call("publish_discovery", list(active.intent_names))
        self._publish_state()
        if cfg.wyoming.enabled:
            self.wyoming = self._start_wyoming()
        svc = cfg.service
        common = dict(on_fatal=self._on_fatal, max_restarts=svc.max_restarts, window_s=svc.restart_window_s)
        self._threads = [
            SupervisedThread("audio", self._audio_body, self._stop, daemon=True,
                             backoff=Backoff(cfg.audio.reopen_min_s, cfg.audio.reopen_max_s), **common),
            SupervisedThread("pipeline", self._pipeline_body, self._stop, **common),
            SupervisedThread("grammar", self.grammars.run_worker, self._stop, daemon=True, **common),  # abandonable
        ]
        if svc.watchdog and self.notifier.watchdog_interval_s:
            self._threads.append(SupervisedThread("watchdog", self._watchdog_body, self._stop, **common))
        for thread in self._threads:
            thread.start()

    # ---- main loop

    def run(self) -> int:
        """Start, send READY=1 once audio flows, wait for a stop request, shut down; returns the exit code."""
        try:
            self.start()
        except BaseException:
            self._shutdown(starting=True)
            raise
        while True:
            stopping = self._stop.wait(1.0 if self._ready else 0.1)  # signals still run: handlers only set flags
            # READY even when stopping: a short file input may already have ended.
            if not self._ready and self._audio_up.is_set():
                self._ready = True
                self.notifier.ready(self._status_line())
                _LOGGER.info("ready: listening on %s (site %s)%s", self.source.name if self.source else "?",
                             self.config.service.site_id, self._sink_problem(),
                             extra={"SITE_ID": self.config.service.site_id})
            if stopping:
                break
        self._shutdown()
        return self._exit_code

    def _shutdown(self, starting: bool = False) -> None:
        reason = self._stop_reason or ("start-up failed" if starting else "stop")
        self.notifier.stopping(f"stopping ({reason})")
        _LOGGER.info("stopping (%s)", reason)
        self._stop.set()
        if self.grammars is not None:
            self.grammars.wake()
        for thread in self._threads:
            if thread.name != "audio" and not thread.join(_JOIN_TIMEOUT_S):
                _LOGGER.warning("thread %s did not stop within %.0f s", thread.name, _JOIN_TIMEOUT_S)
        audio_stuck = False
        for thread in self._threads:
            if thread.name == "audio" and not thread.join(1.0):
                audio_stuck = True  # a read blocked in the driver: abandon it (daemon thread), never close under it
        if self.source is not None and not audio_stuck:
            self.source.close()
        if self.wyoming is not None:
            self.wyoming.stop()
        if self.sink is not None:
            try:
                self.sink.stop(timeout=_SINK_STOP_TIMEOUT_S)  # publishes offline, flushes queued intents
            except Exception:
                _LOGGER.exception("event sink did not stop cleanly")
        if self._queue.dropped:
            _LOGGER.warning("%d audio blocks were dropped because the pipeline fell behind", self._queue.dropped)

    # ---- threads

    def _audio_body(self, stop: threading.Event) -> None:
        cfg = self.config.audio
        source = self.source
        assert source is not None
        backoff = Backoff(cfg.reopen_min_s, cfg.reopen_max_s)
        paced = source.live or (cfg.source == "wav" and cfg.realtime)
        is_open = True
        while not stop.is_set():
            if not is_open:
                try:
                    source.open()
                    is_open = True
                    self.health.reopens += 1
                    _LOGGER.info("audio source %s reopened", source.name)
                except (AudioSourceError, OSError) as exc:
                    delay = backoff.next_delay()
                    _LOGGER.warning("audio source %s unavailable (%s); retrying in %.1f s", source.name, exc, delay)
                    stop.wait(delay)
                    continue
            try:
                block = source.read()
            except (AudioSourceError, OSError) as exc:
                if not source.live:
                    raise
                delay = backoff.next_delay()
                _LOGGER.warning("audio source %s failed (%s); reopening in %.1f s", source.name, exc, delay)
                source.close()
                is_open = False
                stop.wait(delay)
                continue
            if block is None:
                self._end_of_stream(stop)
                return
            now = time.monotonic()
            self.health.last_frame = now
            self.health.frames += 1
            if self.health.frames % 100 == 0:
                backoff.reset()
            if paced:
                self._queue.put((block, time.time()))  # live audio: drop the oldest rather than fall behind
            elif not self._queue.put_wait((block, time.time()), stop):
                return
            self._audio_up.set()

    def _end_of_stream(self, stop: threading.Event) -> None:
        _LOGGER.info("audio source %s ended", self.source.name if self.source else "?")
        self._audio_up.set()
        self._queue.put_wait(_END_OF_STREAM, stop)
        if self.config.audio.at_end != "idle":
            return
        # Keep "listening" to silence so the service stays up (and its watchdog fed) after a finite input.
        block = np.zeros(self.config.audio.frames_per_buffer, dtype=np.int16)
        period = len(block) / SAMPLE_RATE
        while not stop.wait(period):
            self.health.last_frame = time.monotonic()
            self._queue.put((block, time.time()))

    def _pipeline_body(self, stop: threading.Event) -> None:
        pipeline = self.pipeline
        assert pipeline is not None
        pipeline.reset()
        self.health.last_processed = time.monotonic()
        while not stop.is_set():
            item = self._queue.get(timeout=0.2)
            self.health.last_processed = time.monotonic()
            if item is None:
                continue
            if item is _END_OF_STREAM:
                events = pipeline.flush()
                if events:
                    self._after_events()
                if self.config.audio.at_end == "exit":
                    self.request_stop("end of input")
                    return
                continue
            block, capture_time = item
            try:
                events = pipeline.feed(block, capture_time)
            except Exception as exc:
                # reported, then re-raised: the supervisor restarts the pipeline or, if it keeps failing, exits 1
                self._safe_sink_call("publish_error", f"recognition failed: {type(exc).__name__}: {exc}")
                raise
            if events:
                self._after_events()

    def _watchdog_body(self, stop: threading.Event) -> None:
        interval = self.notifier.watchdog_interval_s or 1.0
        stall = self.config.service.stall_timeout_s
        while not stop.wait(interval):
            now = time.monotonic()
            audio_age = now - self.health.last_frame
            pipeline_age = now - self.health.last_processed
            if self._audio_up.is_set() and audio_age < stall and pipeline_age < 2 * stall:
                self.notifier.watchdog()
                if self._stall_logged:
                    _LOGGER.info("audio flowing again")
                self._stall_logged = False
            elif self._audio_up.is_set() and not self._stall_logged:
                self._stall_logged = True
                _LOGGER.error("no audio for %.1f s (pipeline idle %.1f s): withholding WATCHDOG=1",
                              audio_age, pipeline_age)
                self.notifier.status(f"deaf: no audio for {audio_age:.0f} s")

    # ---- callbacks

    def _on_fatal(self, name: str, exc: BaseException) -> None:
        _LOGGER.critical("component %s cannot recover (%s): exiting", name, exc)
        self.request_stop(f"{name} failed", exit_code=1)

    def _on_command(self, name: str, payload: dict) -> None:
        """MQTT commands (called on the MQTT thread): mute, unmute, reload."""
        try:
            pipeline = self.pipeline
            if name == "mute" and pipeline is not None:
                pipeline.mute()
                _LOGGER.info("muted by MQTT command")
            elif name == "unmute" and pipeline is not None:
                pipeline.unmute()
                _LOGGER.info("unmuted by MQTT command")
            elif name == "reload":
                self.request_reload("mqtt")
                return
            else:
                _LOGGER.warning("ignoring unknown command %r", name)
                return
            self._publish_state()
            self.notifier.status(self._status_line())
        except Exception:
            _LOGGER.exception("command %r failed", name)

    def _on_grammar_swap(self, active: ActiveGrammar) -> None:
        self._safe_sink_call("publish_discovery", list(active.intent_names))
        self._publish_state()
        self.notifier.status(self._status_line())

    def _on_grammar_error(self, message: str) -> None:
        self._safe_sink_call("publish_error", message)
        self.notifier.status(f"{self._status_line()} | grammar reload rejected")

    def _after_events(self) -> None:
        self.notifier.status(self._status_line())

    def _start_wyoming(self) -> Any:
        """The Wyoming server beside the microphone, on the same recognizer and grammar (its own thread)."""
        try:
            from daemon.wyoming.server import WyomingServer, WyomingService
        except ImportError as exc:
            raise ConfigError(f"wyoming.enabled: needs PyPI {exc.name or 'wyoming'}: "
                              "pip install 'voicecmd[wyoming]'") from None
        server = WyomingServer(self.config.wyoming, self._recognizer, self.grammars.current,  # type: ignore[arg-type]
                               site_id=self.config.service.site_id, model_name=self._model_name,
                               on_event=self._on_wyoming_event)
        service = WyomingService(server)
        try:
            service.start()
        except OSError as exc:
            raise ConfigError(f"wyoming.uri: {self.config.wyoming.uri}: cannot listen ({exc.strerror or exc})") from None
        return service

    def _on_wyoming_event(self, event: Any) -> None:
        """A transcription made over Wyoming goes out like one from the microphone (Wyoming thread)."""
        if not self.config.wyoming.publish_intents:
            return
        from daemon.events import IntentEvent

        self._safe_sink_call("publish_intent" if isinstance(event, IntentEvent) else "publish_not_recognized", event)

    # ---- helpers

    def _safe_sink_call(self, method: str, *args: Any) -> None:
        fn = getattr(self.sink, method, None)
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            _LOGGER.exception("event sink %s failed", method)

    def _publish_state(self) -> None:
        if self.grammars is None:
            return
        active = self.grammars.current()
        muted = self.pipeline.muted if self.pipeline is not None else False
        self._safe_sink_call("publish_state", {
            "state": "muted" if muted else "listening",
            "grammar_version": active.version,
            "language": active.language,
            "languages": list(active.languages),
            "intents": list(active.intent_names),
            "model": self._model_name,
            "site_id": self.config.service.site_id,
        })

    def _status_line(self) -> str:
        pipeline = self.pipeline
        if pipeline is None:
            return "starting"
        st = pipeline.stats
        state = "muted" if pipeline.muted else "listening"
        version = self.grammars.current().version if self.grammars else "-"
        last = f", last {st.last_intent}" if st.last_intent else ""
        return (f"{state}; {st.intents} intents, {st.not_recognized} not recognized{last}; grammar {version}"
                f"{self._sink_problem()}")

    def _sink_problem(self) -> str:
        """``; MQTT not connected to ... (why)`` while the event sink cannot deliver, else nothing."""
        status = getattr(self.sink, "status_text", None)
        return f"; {status()}" if getattr(self.sink, "problem", None) and callable(status) else ""


def run_daemon(config: DaemonConfig, **kwargs: Any) -> int:
    """Build and run the daemon with signal handlers installed; returns the exit code."""
    daemon = Daemon(config, **kwargs)
    daemon.install_signal_handlers()
    return daemon.run()
