"""The Wyoming server on the streaming WeNet model (the X3's BPU default), whose encoder runs while audio arrives."""

from __future__ import annotations

import asyncio

import pytest

from daemon import paths
from tests.wyoming.helpers import DEMO, MODEL_AUDIO, Pcm, running_server, transcribe, uri_of


@pytest.fixture(scope="module")
def wenet_server():
    from daemon.app import build_recognizer, make_grammar_builder
    from daemon.config import DaemonConfig, ModelConfig
    from daemon.service.grammars import GrammarManager

    recognizer = build_recognizer(DaemonConfig(model=ModelConfig(dir=paths.default_wenet_model_dir())))
    grammars = GrammarManager((paths.default_grammar_dir(),), make_grammar_builder(recognizer, None), watch=False)
    grammars.load_initial()
    with running_server(recognizer, grammars.current) as server:
        yield server


@pytest.mark.parametrize("wav,text", [
    (DEMO / "en_turn_on_kitchen_light.wav", "turn on the kitchen light"),
    (DEMO / "zh_turn_on_living_room_light.wav", "打开客厅的灯"),
    (MODEL_AUDIO / "zh_cmd_02.wav", "关闭一下厨房的风扇"),
    (DEMO / "en_not_a_command.wav", ""),
])
def test_wenet_transcripts(wenet_server, wav, text):
    answer, _ = asyncio.run(transcribe(uri_of(wenet_server), Pcm.of(wav), 20))
    assert answer.data["text"] == text
