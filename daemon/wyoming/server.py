"""The Wyoming server: accepts clients (one handler each), shares the recognizer and grammar, advertises itself.

``WyomingServer`` runs on an asyncio loop (``voicecmd wyoming`` runs it with ``asyncio.run``); ``WyomingService``
runs one in a named thread of its own for the threaded daemon (``voicecmd run`` with ``wyoming.enabled``).
Recognition happens on a small thread pool so that the loop keeps serving other clients meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlparse

from wyoming.event import Event, async_write_event
from wyoming.error import Error
from wyoming.info import AsrModel, AsrProgram, Attribution, Info, IntentModel, IntentProgram

from daemon import __version__
from daemon.config import WyomingConfig
from daemon.events import UtteranceEvent
from daemon.pipeline import ActiveGrammar, RecognizerLike
from daemon.wyoming.handler import WyomingHandler
from daemon.wyoming.protocol import EventLimits
from daemon.wyoming.session import SessionPool

_LOGGER = logging.getLogger(__name__)

ATTRIBUTION = Attribution(name="voicecmd", url="https://github.com/voicecmd/voicecmd")
# A connection refused because the server is full gets this long to read the error event.
_REFUSE_WRITE_TIMEOUT_S = 2.0


@dataclass
class ServerStats:
    """Counters (read by tests, benchmarks and the log)."""

    connections: int = 0
    open_connections: int = 0
    transcriptions: int = 0
    dropped: int = 0  # transcriptions abandoned by their client
    errors: int = 0  # connections closed with an error event
    refused: int = 0  # connections over max_connections
    looked_ahead: int = 0  # transcripts decoded during the trailing silence (Whisper)


def wyoming_languages(languages: Any) -> list[str]:
    """Grammar languages as Wyoming/HA language codes, regional ones also by their base language so that any
    pipeline language of that family matches (zh-cn -> zh-CN, zh; en stays en)."""
    out: list[str] = []
    for lang in languages or ():
        base, _, region = str(lang).partition("-")
        codes = [f"{base.lower()}-{region.upper()}", base.lower()] if region else [base.lower()]
        out.extend(code for code in codes if code not in out)
    return out or ["en"]


def build_info(model_name: str, active: ActiveGrammar) -> Info:
    """The ``info`` answer to ``describe``: an asr program (the model with the grammar's languages) and an intent
    program (the grammar)."""
    grammar = active.grammar
    languages = wyoming_languages(getattr(grammar, "languages", None) or [active.language or "en"])
    description = (f"voicecmd {__version__}: grammar-constrained speech recognition (model {model_name}, grammar "
                   f"{active.version}); the transcript is the recognized command sentence, empty when rejected")
    asr = AsrProgram(
        name="voicecmd", attribution=ATTRIBUTION, installed=True, version=__version__, description=description,
        models=[AsrModel(name=model_name, attribution=ATTRIBUTION, installed=True, version=active.version,
                         description=f"{model_name} with grammar {active.version}", languages=languages)],
        supports_transcript_streaming=False,
    )
    intent = IntentProgram(
        name="voicecmd", attribution=ATTRIBUTION, installed=True, version=__version__,
        description="voicecmd command grammar (hassil syntax)",
        models=[IntentModel(name=f"grammar-{active.version}", attribution=ATTRIBUTION, installed=True,
                            version=active.version, description=", ".join(active.intent_names),
                            languages=languages)],
    )
    return Info(asr=[asr], intent=[intent])


class ServerContext:
    """What every connection shares: settings, the session pool, the grammar in force, the worker threads."""

    def __init__(self, config: WyomingConfig, recognizer: RecognizerLike, grammar: Callable[[], ActiveGrammar],
                 *, site_id: str, model_name: str, on_event: Callable[[UtteranceEvent], None]) -> None:
        self.config = config
        self.grammar = grammar
        self.site_id = site_id
        self.model_name = model_name
        self._on_event = on_event
        self.pool = SessionPool(recognizer, max_idle=config.max_connections)
        self.limits = EventLimits(max_payload_bytes=config.max_event_bytes)
        self.executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="wyoming-worker")
        # Look-ahead decodes get threads of their own: a worker finishing a transcription may wait for one, and
        # fixed threads (not one per utterance) keep the heap from growing an arena per thread.
        self.lookahead_executor = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="wyoming-ahead")
        self.stats = ServerStats()
        self._info: Optional[tuple[str, Event]] = None

    async def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    def info_event(self) -> Event:
        """The info event for the grammar in force (rebuilt after a grammar reload)."""
        active = self.grammar()
        if self._info is None or self._info[0] != active.version:
            self._info = (active.version, build_info(self.model_name, active).event())
        return self._info[1]

    def on_event(self, event: UtteranceEvent) -> None:
        """Hand a transcription's intent / not-recognized event on (MQTT inside the daemon)."""
        try:
            self._on_event(event)
        except Exception:  # publishing must not break the connection
            _LOGGER.exception("could not hand the Wyoming %s on", type(event).__name__)


class WyomingServer:
    """Listens on ``config.uri``; ``await start()``, then ``await serve_forever()`` or ``await stop()``."""

    def __init__(self, config: WyomingConfig, recognizer: RecognizerLike, grammar: Callable[[], ActiveGrammar], *,
                 site_id: str = "default", model_name: str = "model",
                 on_event: Optional[Callable[[UtteranceEvent], None]] = None) -> None:
        self.config = config
        self.context = ServerContext(config, recognizer, grammar, site_id=site_id, model_name=model_name,
                                     on_event=on_event or (lambda _event: None))
        self._server: Optional[asyncio.AbstractServer] = None
        self._tasks: set[asyncio.Task] = set()
        self._advertiser: Any = None
        self.port: Optional[int] = None

    @property
    def stats(self) -> ServerStats:
        """The shared counters."""
        return self.context.stats

    async def start(self) -> None:
        """Bind the socket (OSError if it cannot) and advertise it over zeroconf when asked to."""
        uri = urlparse(self.config.uri)
        limit = self.context.limits.max_header_bytes
        if uri.scheme == "unix":
            Path(uri.path).unlink(missing_ok=True)
            self._server = await asyncio.start_unix_server(self._accept, path=uri.path, limit=limit)
            where = uri.path
        else:
            self._server = await asyncio.start_server(self._accept, host=uri.hostname, port=uri.port, limit=limit)
            self.port = self._server.sockets[0].getsockname()[1]
            where = f"{uri.hostname}:{self.port}"
        _LOGGER.info("Wyoming server listening on %s (%s)", where, self.config.uri)
        if uri.scheme == "tcp" and self.config.zeroconf:
            from daemon.wyoming.discovery import ZeroconfAdvertiser

            name = self.config.zeroconf_name or f"voicecmd-{self.context.site_id}"
            advertiser = ZeroconfAdvertiser(name, int(self.port or 0), uri.hostname or "0.0.0.0")
            try:
                await advertiser.start()
                self._advertiser = advertiser
            except Exception as exc:  # no multicast here: serve anyway, just not discoverable
                _LOGGER.warning("zeroconf advertisement failed (%s); add the server in Home Assistant by address",
                                exc)

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        assert self._server is not None, "start() first"
        await self._server.serve_forever()

    async def stop(self) -> None:
        """Stop accepting, close every connection, withdraw the zeroconf record, stop the worker threads."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._advertiser is not None:
            try:
                await self._advertiser.stop()
            except Exception:
                _LOGGER.debug("zeroconf stop failed", exc_info=True)
            self._advertiser = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        uri = urlparse(self.config.uri)
        if uri.scheme == "unix":
            Path(uri.path).unlink(missing_ok=True)
        self.context.executor.shutdown(wait=False)
        self.context.lookahead_executor.shutdown(wait=False)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.config.max_connections:
            self.stats.refused += 1
            _LOGGER.warning("refusing a Wyoming connection: %d open (wyoming.max_connections)", len(self._tasks))
            try:
                event = Error(text=f"server busy: {len(self._tasks)} connections open", code="busy").event()
                await asyncio.wait_for(async_write_event(event, writer), _REFUSE_WRITE_TIMEOUT_S)
            except (ConnectionError, asyncio.TimeoutError):
                pass
            writer.close()
            return
        handler = WyomingHandler(self.context, reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await handler.run()
        finally:
            self._tasks.discard(task)


class WyomingService:
    """A WyomingServer on its own event loop in a named thread (for the threaded daemon)."""

    def __init__(self, server: WyomingServer) -> None:
        self.server = server
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._started = threading.Event()
        self._error: Optional[BaseException] = None
        self._stopped: Optional[asyncio.Event] = None

    def start(self, timeout: float = 30.0) -> None:
        """Start the thread and wait until the server listens (re-raises a bind error)."""
        self._thread = threading.Thread(target=self._main, name="wyoming", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the Wyoming server did not start in time")
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            await self._stopped.wait()
        finally:
            await self.server.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the server and join the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:  # the loop already ended
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _LOGGER.warning("the Wyoming server thread did not stop within %.0f s", timeout)

