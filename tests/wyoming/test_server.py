"""The Wyoming server with the bundled model and the shipped grammars, driven by the real ``wyoming`` client."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from wyoming.client import AsyncClient
from wyoming.info import Describe, Info
from wyoming.intent import Recognize

from tests.wyoming.helpers import (DEMO, MODEL_AUDIO, Pcm, event_after, read_until, running_server, transcribe,
                                   uri_of)

EN_COMMANDS = {
    "en_turn_on_kitchen_light.wav": "turn on the kitchen light",
    "en_bedroom_temperature_22.wav": "set the bedroom temperature to twenty two degrees",
}


@pytest.fixture(scope="module")
def server(recognizer, shipped_grammar):
    with running_server(recognizer, shipped_grammar) as srv:
        yield srv


@pytest.mark.parametrize("chunk_ms", [20, 100])
@pytest.mark.parametrize("name", sorted(EN_COMMANDS))
def test_streamed_speech_gives_the_grammar_sentence(server, name, chunk_ms):
    answer, _latency = asyncio.run(transcribe(uri_of(server), Pcm.of(DEMO / name), chunk_ms, language="en"))
    assert answer is not None and answer.type == "transcript"
    assert answer.data["text"] == EN_COMMANDS[name]


def test_mandarin_speech_gives_the_grammar_sentence(server):
    answer, _ = asyncio.run(transcribe(uri_of(server), Pcm.of(DEMO / "zh_turn_on_living_room_light.wav"), 60))
    assert answer.data["text"] == "打开客厅的灯"


def test_rejected_utterance_gives_an_empty_transcript(server):
    before = len(server.events)
    answer, _ = asyncio.run(transcribe(uri_of(server), Pcm.of(DEMO / "en_not_a_command.wav"), 40))
    assert answer.type == "transcript" and answer.data["text"] == ""
    assert type(event_after(server, before)).__name__ == "NotRecognizedEvent"


def test_transcriptions_are_handed_on_as_intent_events(server):
    before = len(server.events)
    asyncio.run(transcribe(uri_of(server), Pcm.of(DEMO / "en_turn_on_kitchen_light.wav"), 40))
    event = event_after(server, before)
    assert (event.intent, event.slots["area"], event.site_id) == ("HassTurnOn", "kitchen", "test")


def _to_48k_stereo_24bit(pcm: Pcm) -> Pcm:
    mono = np.frombuffer(pcm.audio, dtype="<i2").astype(np.float64)
    t_out = np.arange(len(mono) * 3) / 3.0
    up = np.interp(t_out, np.arange(len(mono)), mono)
    left = np.clip(up * 256, -(2 ** 23), 2 ** 23 - 1).astype(np.int32)
    right = (left // 2).astype(np.int32)
    frames = np.stack([left, right], axis=1).reshape(-1)
    raw = frames.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return Pcm(48000, 3, 2, raw)


def test_any_rate_width_and_channels_are_converted(server):
    pcm = _to_48k_stereo_24bit(Pcm.of(DEMO / "en_turn_on_kitchen_light.wav"))
    answer, _ = asyncio.run(transcribe(uri_of(server), pcm, 30))
    assert answer.data["text"] == "turn on the kitchen light"


def test_model_clips_are_transcribed(server):
    answer, _ = asyncio.run(transcribe(uri_of(server), Pcm.of(MODEL_AUDIO / "zh_cmd_02.wav"), 80))
    assert answer.data["text"] == "关闭一下厨房的风扇"


async def _ask(uri, event):
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(event)
        return await read_until(client, ("info", "intent", "not-recognized", "error"))


def test_describe_announces_an_asr_and_an_intent_program(server):
    info = Info.from_event(asyncio.run(_ask(uri_of(server), Describe().event())))
    assert info.asr[0].name == "voicecmd" and info.asr[0].installed
    assert set(info.asr[0].models[0].languages) >= {"en", "zh-CN"}
    assert info.asr[0].supports_transcript_streaming is False
    assert info.intent[0].models[0].languages == info.asr[0].models[0].languages


def test_recognize_returns_the_intent_with_its_entities(server):
    answer = asyncio.run(_ask(uri_of(server), Recognize(text="set the kitchen light to 40 percent").event()))
    assert answer.type == "intent" and answer.data["name"] == "HassLightSet"
    entities = {e["name"]: e["value"] for e in answer.data["entities"]}
    assert (entities["area"], entities["brightness"]) == ("kitchen", 40)


def test_recognize_of_other_text_is_not_recognized(server):
    answer = asyncio.run(_ask(uri_of(server), Recognize(text="what is the weather like").event()))
    assert answer.type == "not-recognized"


def test_several_transcriptions_on_one_connection(server):
    async def two():
        pcm = Pcm.of(DEMO / "en_turn_on_kitchen_light.wav")
        texts = []
        async with AsyncClient.from_uri(uri_of(server)) as client:
            from wyoming.audio import AudioChunk, AudioStart, AudioStop

            for _ in range(2):
                await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
                for chunk in pcm.chunks(50):
                    await client.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=chunk).event())
                await client.write_event(AudioStop().event())
                texts.append((await read_until(client, ("transcript",))).data["text"])
        return texts

    assert asyncio.run(two()) == ["turn on the kitchen light"] * 2
