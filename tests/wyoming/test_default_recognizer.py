"""The Wyoming server on the CPU's default recognizer (Whisper base today; the other tests use the streaming
WeNet model): the same seam, so the same transcripts for clear commands."""

from __future__ import annotations

import asyncio

import pytest

from daemon import paths
from tests.wyoming.helpers import DEMO, Pcm, running_server, transcribe, uri_of


@pytest.fixture(scope="module")
def default_server():
    from daemon.app import build_recognizer, make_grammar_builder
    from daemon.config import DaemonConfig
    from daemon.service.grammars import GrammarManager

    recognizer = build_recognizer(DaemonConfig())
    grammars = GrammarManager((paths.default_grammar_dir(),), make_grammar_builder(recognizer, None), watch=False)
    grammars.load_initial()
    with running_server(recognizer, grammars.current) as server:
        yield server


@pytest.mark.parametrize("wav,text", [
    (DEMO / "en_turn_on_kitchen_light.wav", "turn on the kitchen light"),
    (DEMO / "zh_turn_on_living_room_light.wav", "打开客厅的灯"),
    (DEMO / "en_not_a_command.wav", ""),
])
def test_default_recognizer_transcripts(default_server, wav, text):
    answer, _ = asyncio.run(transcribe(uri_of(default_server), Pcm.of(wav), 40))
    assert answer.data["text"] == text


def test_a_decode_made_during_the_trailing_silence_is_used(default_server):
    pool = default_server.context.pool
    session = pool.acquire()
    pool.release(session)
    if not hasattr(session, "snapshot"):
        pytest.skip("the default recognizer streams: nothing to decode ahead")
    pcm = Pcm.of(DEMO / "en_turn_on_kitchen_light.wav")
    pcm.audio += b"\x00\x00" * 16000  # one second of silence, as a client's VAD streams it before audio-stop
    before = default_server.stats.looked_ahead
    answer, _ = asyncio.run(transcribe(uri_of(default_server), pcm, 40, realtime=True))
    assert answer.data["text"] == "turn on the kitchen light"
    assert default_server.stats.looked_ahead == before + 1
