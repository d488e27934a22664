"""The synthetic accuracy benchmark's "followed" set: commands each followed by an out-of-grammar sentence."""

from __future__ import annotations

import wave

import numpy as np

from bench.accuracy import FOLLOW_GAP_S, followed_rows, read_row_audio


def _write(path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.astype("<i2").tobytes())


def test_each_command_is_followed_by_a_sentence_after_a_gap(tmp_path) -> None:
    (tmp_path / "clean").mkdir()
    commands = [{"uid": f"c{i}", "text": f"command {i}", "intent": "X", "slots": "{}", "kind": "in"} for i in range(3)]
    oog = [{"uid": f"o{i}", "text": f"remark {i}", "intent": "", "slots": "{}", "kind": "oog"} for i in range(2)]
    for i, row in enumerate(commands + oog):
        _write(tmp_path / "clean" / f"{row['uid']}.wav", np.full(1600 * (i + 1), i + 1, np.int16))
    rows = followed_rows(commands, oog, 2)
    assert [row["parts"] for row in rows] == [("c0", "o1"), ("c1", "o0")]
    assert rows[0]["uid"] == "c0+o1" and rows[0]["text"] == "command 0 | remark 1" and rows[0]["intent"] == "X"
    audio = read_row_audio(tmp_path, rows[0])
    gap = int(FOLLOW_GAP_S * 16000)
    assert len(audio) == 1600 + gap + 1600 * 5
    assert (audio[:1600] == 1).all() and (audio[1600:1600 + gap] == 0).all() and (audio[1600 + gap:] == 5).all()
    assert (read_row_audio(tmp_path, commands[2]) == 3).all()  # a plain row is its own clip
