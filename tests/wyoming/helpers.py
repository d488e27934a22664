"""Wyoming test helpers: a server on a loopback port in a thread, and a real ``wyoming`` client streaming WAVs."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.event import Event

from daemon.config import WyomingConfig
from daemon.wyoming.server import WyomingServer, WyomingService

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "audio"
MODEL_AUDIO = REPO / "tests" / "model" / "audio"
DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Pcm:
    """Raw PCM of a WAV file and its format."""

    rate: int
    width: int
    channels: int
    audio: bytes

    @staticmethod
    def of(path: Path) -> "Pcm":
        """Read a WAV file."""
        with wave.open(str(path), "rb") as wav:
            return Pcm(wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.readframes(wav.getnframes()))

    def chunks(self, chunk_ms: int) -> Iterator[bytes]:
        """The audio in chunks of ``chunk_ms`` milliseconds."""
        step = self.rate * self.width * self.channels * chunk_ms // 1000
        for begin in range(0, len(self.audio), step):
            yield self.audio[begin:begin + step]


@contextlib.contextmanager
def running_server(recognizer: Any, grammar: Callable[[], Any], **overrides: Any) -> Iterator[WyomingServer]:
    """A WyomingServer on 127.0.0.1 (a free port, no zeroconf unless asked) in its own thread."""
    settings = dict(enabled=True, uri="tcp://127.0.0.1:0", zeroconf=False)
    settings.update(overrides)
    config = dataclasses.replace(WyomingConfig(), **settings)
    events: list[Any] = []
    server = WyomingServer(config, recognizer, grammar, site_id="test", model_name="default",
                           on_event=events.append)
    server.events = events  # type: ignore[attr-defined]
    service = WyomingService(server)
    service.start()
    try:
        yield server
    finally:
        service.stop()


def uri_of(server: WyomingServer) -> str:
    """The server's tcp:// URI with its real port."""
    return f"tcp://127.0.0.1:{server.port}"


async def read_until(client: AsyncClient, types: tuple[str, ...], timeout: float = 30.0) -> Optional[Event]:
    """The next event of one of ``types`` (None when the server closed the connection)."""
    while True:
        event = await asyncio.wait_for(client.read_event(), timeout)
        if event is None or event.type in types:
            return event


async def transcribe(uri: str, pcm: Pcm, chunk_ms: int = 40, language: Optional[str] = None,
                     realtime: bool = False) -> tuple[Optional[Event], float]:
    """Stream ``pcm`` as transcribe + audio-start/chunks/stop; returns the answer and audio-stop→answer seconds."""
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Transcribe(language=language).event())
        await client.write_event(AudioStart(rate=pcm.rate, width=pcm.width, channels=pcm.channels).event())
        for chunk in pcm.chunks(chunk_ms):
            await client.write_event(AudioChunk(rate=pcm.rate, width=pcm.width, channels=pcm.channels,
                                                audio=chunk).event())
            if realtime:
                await asyncio.sleep(chunk_ms / 1000)
        sent = time.perf_counter()
        await client.write_event(AudioStop().event())
        answer = await read_until(client, ("transcript", "error"))
        return answer, time.perf_counter() - sent


def event_after(server: WyomingServer, before: int, timeout: float = 5.0) -> Any:
    """The first utterance event handed on after ``before`` (it follows the transcript, so it may lag a little)."""
    deadline = time.monotonic() + timeout
    events = server.events  # type: ignore[attr-defined]
    while len(events) <= before and time.monotonic() < deadline:
        time.sleep(0.01)
    return events[before]
