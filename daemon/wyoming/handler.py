"""One Wyoming connection: describe/info, transcribe + audio → transcript, recognize → intent, errors → close."""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe
from wyoming.intent import Entity, Intent, NotRecognized, Recognize
from wyoming.ping import Ping, Pong
from wyoming.server import AsyncEventHandler

from daemon.wyoming.audio import AudioFormatError
from daemon.wyoming.protocol import ProtocolError, read_event
from daemon.wyoming.session import AudioTooLong, TranscriptionSession

if TYPE_CHECKING:
    from daemon.wyoming.server import ServerContext

_LOGGER = logging.getLogger(__name__)


@dataclass
class ConnectionState:
    """What one connection is doing: the language asked for and the transcription in progress, if any."""

    language: Optional[str] = None
    transcribe_requested: bool = False
    session: Optional[TranscriptionSession] = None
    events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class WyomingHandler(AsyncEventHandler):
    """Handles the events of one client. Any protocol violation is answered with an ``error`` event, then the
    connection closes; the server and other connections carry on."""

    def __init__(self, context: "ServerContext", reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.context = context
        self.state = ConnectionState()
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer or "client")

    # ---- connection loop (replaces the library's: limits, idle timeout, error events)

    async def run(self) -> None:
        """Read events until the client leaves, breaks the protocol, idles too long or the server stops."""
        ctx = self.context
        ctx.stats.connections += 1
        ctx.stats.open_connections += 1
        try:
            while True:
                try:
                    event = await asyncio.wait_for(read_event(self.reader, ctx.limits), ctx.config.idle_timeout_s)
                except asyncio.TimeoutError:
                    await self._fail("idle-timeout", f"no event for {ctx.config.idle_timeout_s:g} s")
                    break
                if event is None:
                    break
                self.state.events += 1
                if not await self.handle_event(event):
                    break
        except ProtocolError as exc:
            await self._fail(exc.code, exc.text)
        except (ConnectionError, asyncio.IncompleteReadError):
            _LOGGER.debug("%s: connection lost", self.peer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must cost one connection, not the server
            _LOGGER.exception("%s: handler failed", self.peer)
            await self._fail("internal-error", f"{type(exc).__name__}: {exc}")
        finally:
            ctx.stats.open_connections -= 1
            await self.disconnect()
            self.writer.close()

    async def disconnect(self) -> None:
        """Give a half-received transcription's recognizer session back."""
        session, self.state.session = self.state.session, None
        if session is not None:
            _LOGGER.info("%s: disconnected after %.2f s of audio: transcription dropped", self.peer, session.seconds)
            self.context.stats.dropped += 1
            await self.context.run_blocking(session.close)

    async def _fail(self, code: str, text: str) -> None:
        self.context.stats.errors += 1
        _LOGGER.warning("%s: %s (%s): closing the connection", self.peer, text, code)
        try:
            await asyncio.wait_for(async_write_event(Error(text=text, code=code).event(), self.writer), 2.0)
        except (ConnectionError, asyncio.TimeoutError, RuntimeError):
            pass

    # ---- events

    async def handle_event(self, event: Event) -> bool:
        """Dispatch one event; raises ProtocolError for malformed or out-of-order ones."""
        try:
            if AudioChunk.is_type(event.type):
                return await self._on_audio_chunk(event)
            if AudioStart.is_type(event.type):
                return await self._on_audio_start(event)
            if AudioStop.is_type(event.type):
                return await self._on_audio_stop()
            if Transcribe.is_type(event.type):
                return self._on_transcribe(event)
            if Describe.is_type(event.type):
                await self.write_event(self.context.info_event())
                return True
            if Recognize.is_type(event.type):
                return await self._on_recognize(event)
            if Ping.is_type(event.type):
                await self.write_event(Pong(text=Ping.from_event(event).text).event())
                return True
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProtocolError("malformed-event", f"{event.type}: missing or invalid field ({exc})") from None
        _LOGGER.debug("%s: ignoring event %r", self.peer, event.type)
        return True

    def _on_transcribe(self, event: Event) -> bool:
        if self.state.session is not None:
            raise ProtocolError("unexpected-event", "transcribe while audio is streaming (send audio-stop first)")
        language = Transcribe.from_event(event).language
        if language is not None and not isinstance(language, str):
            raise ProtocolError("malformed-event", "transcribe: language must be a string")
        self.state.language = language
        self.state.transcribe_requested = True
        return True

    async def _on_audio_start(self, event: Event) -> bool:
        if self.state.session is not None:
            raise ProtocolError("unexpected-event", "audio-start while audio is already streaming")
        data = event.data
        ctx = self.context
        try:
            session = await ctx.run_blocking(
                functools.partial(TranscriptionSession, ctx.pool, data.get("rate"), data.get("width"),
                                  data.get("channels"), ctx.config.max_audio_s,
                                  lookahead_after_ms=ctx.config.lookahead_after_ms, grammar=ctx.grammar,
                                  executor=ctx.lookahead_executor))
        except AudioFormatError as exc:
            raise ProtocolError("unsupported-audio", str(exc)) from None
        self.state.session = session
        return True

    async def _on_audio_chunk(self, event: Event) -> bool:
        session = self.state.session
        if session is None:
            raise ProtocolError("unexpected-event", "audio-chunk without audio-start")
        data = event.data
        if not session.matches(data.get("rate"), data.get("width"), data.get("channels")):
            raise ProtocolError("unsupported-audio", "audio-chunk format differs from audio-start's")
        if event.payload:
            try:
                await self.context.run_blocking(session.feed, event.payload)
            except AudioTooLong as exc:
                raise ProtocolError("audio-too-long", str(exc)) from None
        return True

    async def _on_audio_stop(self) -> bool:
        session, self.state.session = self.state.session, None
        if session is None:
            raise ProtocolError("unexpected-event", "audio-stop without audio-start")
        ctx = self.context
        transcription = await ctx.run_blocking(session.finish, ctx.grammar(), ctx.site_id)
        ctx.stats.transcriptions += 1
        ctx.stats.looked_ahead += int(session.looked_ahead)
        language = self.state.language or transcription.language
        self.state.transcribe_requested = False
        _LOGGER.info("%s: transcript %r (%.1f s of audio, decoded in %.1f ms)", self.peer, transcription.text,
                     session.seconds, transcription.decode_ms)
        await self.write_event(Transcript(text=transcription.text, language=language).event())
        ctx.on_event(transcription.event)
        return True

    async def _on_recognize(self, event: Event) -> bool:
        text = event.data.get("text")
        if not isinstance(text, str):
            raise ProtocolError("malformed-event", "recognize: text must be a string")
        grammar = self.context.grammar().grammar
        match = await self.context.run_blocking(grammar.parse, text) if grammar is not None else None
        if match is None:
            await self.write_event(NotRecognized(text=text).event())
        else:
            entities = [Entity(name=name, value=value) for name, value in match.slots.items()]
            await self.write_event(Intent(name=match.intent, entities=entities, text=match.text or text).event())
        return True
