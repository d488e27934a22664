"""Misbehaving clients cost their own connection only: an ``error`` event, the connection closes, others go on."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncClient
from wyoming.event import Event

from tests.wyoming.helpers import DEMO, Pcm, read_until, running_server, transcribe, uri_of

KITCHEN = DEMO / "en_turn_on_kitchen_light.wav"


@pytest.fixture(scope="module")
def server(recognizer, shipped_grammar):
    with running_server(recognizer, shipped_grammar, max_event_bytes=65536, max_audio_s=10.0,
                        max_connections=12) as srv:
        yield srv


def still_serving(server) -> bool:
    answer, _ = asyncio.run(transcribe(uri_of(server), Pcm.of(KITCHEN), 40))
    return answer is not None and answer.data.get("text") == "turn on the kitchen light"


async def _raw(server, payload: bytes, read_timeout: float = 10.0) -> list[dict]:
    """Send raw bytes; return the JSON headers of what comes back until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(payload)
    await writer.drain()
    headers = []
    while True:
        line = await asyncio.wait_for(reader.readline(), read_timeout)
        if not line:
            break
        header = json.loads(line)
        if header.get("data_length"):
            header["data"] = json.loads(await reader.readexactly(header["data_length"]))
        headers.append(header)
    writer.close()
    return headers


def _error_code(headers: list[dict]) -> str:
    assert headers and headers[-1]["type"] == "error", headers
    return headers[-1]["data"]["code"]


def test_garbage_bytes_get_an_error_and_the_connection_closes(server):
    assert _error_code(asyncio.run(_raw(server, b"\x00\xffnot json at all\x13\n"))) == "malformed-event"
    assert still_serving(server)


def test_an_event_without_a_type_is_malformed(server):
    assert _error_code(asyncio.run(_raw(server, b'{"data": {}}\n'))) == "malformed-event"


def test_an_oversized_payload_is_refused_before_it_is_read(server):
    header = json.dumps({"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1},
                         "payload_length": 10_000_000}).encode() + b"\n"
    assert _error_code(asyncio.run(_raw(server, header))) == "event-too-large"
    assert still_serving(server)


def test_a_header_line_without_end_is_refused(server):
    assert _error_code(asyncio.run(_raw(server, b'{"type": "' + b"x" * 200_000))) == "event-too-large"


def test_audio_without_audio_start_is_out_of_order(server):
    chunk = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x00\x00" * 160).event()
    assert _error_code(asyncio.run(_send_events(server, [chunk]))) == "unexpected-event"
    assert _error_code(asyncio.run(_send_events(server, [Event("audio-stop")]))) == "unexpected-event"
    start = AudioStart(rate=16000, width=2, channels=1).event()
    assert _error_code(asyncio.run(_send_events(server, [start, start]))) == "unexpected-event"
    assert still_serving(server)


def test_unsupported_or_missing_audio_format_is_an_error(server):
    for data in ({"rate": 16000, "width": 5, "channels": 1}, {"rate": 16000, "channels": 1},
                 {"rate": 1000, "width": 2, "channels": 1}):
        assert _error_code(asyncio.run(_send_events(server, [Event("audio-start", data)]))) == "unsupported-audio"


def test_too_much_audio_is_refused(server):
    start = AudioStart(rate=16000, width=2, channels=1).event()
    second = AudioChunk(rate=16000, width=2, channels=1, audio=b"\x00\x00" * 16000).event()
    assert _error_code(asyncio.run(_send_events(server, [start] + [second] * 11))) == "audio-too-long"
    assert still_serving(server)


async def _send_events(server, events: list[Event]) -> list[dict]:
    async with AsyncClient.from_uri(uri_of(server)) as client:
        for event in events:
            await client.write_event(event)
        answers = []
        while True:
            event = await asyncio.wait_for(client.read_event(), 10)
            if event is None:
                return answers
            answers.append({"type": event.type, "data": event.data})


def test_a_client_that_disconnects_mid_stream_leaves_the_server_serving(server):
    dropped = server.stats.dropped

    async def vanish():
        pcm = Pcm.of(KITCHEN)
        async with AsyncClient.from_uri(uri_of(server)) as client:
            await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
            for chunk in list(pcm.chunks(40))[:20]:
                await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=chunk).event())
        await asyncio.sleep(0.3)

    asyncio.run(vanish())
    assert server.stats.dropped == dropped + 1
    assert still_serving(server)


def test_eight_clients_at_once_each_get_their_own_transcript(server):
    names = ["en_turn_on_kitchen_light.wav", "en_bedroom_temperature_22.wav", "zh_turn_on_living_room_light.wav",
             "en_not_a_command.wav"] * 2
    expected = {"en_turn_on_kitchen_light.wav": "turn on the kitchen light",
                "en_bedroom_temperature_22.wav": "set the bedroom temperature to twenty two degrees",
                "zh_turn_on_living_room_light.wav": "打开客厅的灯", "en_not_a_command.wav": ""}

    async def all_at_once():
        return await asyncio.gather(*(transcribe(uri_of(server), Pcm.of(DEMO / n), 20 + 10 * i, realtime=True)
                                      for i, n in enumerate(names)))

    answers = asyncio.run(all_at_once())
    assert [a.data["text"] for a, _ in answers] == [expected[n] for n in names]


def test_an_idle_connection_is_closed_with_an_error(recognizer, shipped_grammar):
    with running_server(recognizer, shipped_grammar, idle_timeout_s=1.0) as srv:
        assert _error_code(asyncio.run(_raw(srv, b"", read_timeout=5.0))) == "idle-timeout"


def test_connections_over_the_limit_are_refused_with_busy(recognizer, shipped_grammar):
    async def scenario(srv):
        first = AsyncClient.from_uri(uri_of(srv))
        await first.connect()
        await asyncio.sleep(0.2)
        try:
            return await _raw(srv, b"")
        finally:
            await first.disconnect()

    with running_server(recognizer, shipped_grammar, max_connections=1) as srv:
        assert _error_code(asyncio.run(scenario(srv))) == "busy"
        assert srv.stats.refused == 1


def test_ping_is_answered(server):
    async def ping():
        async with AsyncClient.from_uri(uri_of(server)) as client:
            await client.write_event(Event("ping", {"text": "hi"}))
            return await read_until(client, ("pong",))

    assert asyncio.run(ping()).data.get("text") == "hi"
