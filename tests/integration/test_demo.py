"""``voicecmd run --demo`` without a microphone: demo recordings, a local mosquitto and a printing subscriber."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

from tests.daemon.speech import synth_samples, write_wav
from tests.integration.daemon_proc import FIXTURE_MODEL, ROOT, TINY_GRAMMAR

# daemon.paths has no override for the demo recordings: point it at the test's directory from a wrapper.
_WRAPPER = textwrap.dedent("""
    import sys
    from pathlib import Path
    import daemon.paths
    daemon.paths.default_demo_audio_dir = lambda: Path(sys.argv[1])
    from daemon.cli import main
    raise SystemExit(main(["run", "--demo"]))
""")


def test_demo_plays_the_recordings_through_a_local_broker_and_exits(tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    speech = synth_samples("turn the light off")
    write_wav(demo / "01.wav", speech)
    write_wav(demo / "02.wav", np.concatenate([speech, speech[:0]]))
    grammars = tmp_path / "grammars" / "en"
    grammars.mkdir(parents=True)
    (grammars / "g.yaml").write_text(TINY_GRAMMAR.format(intent="LightOff"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE", "XDG_RUNTIME", "NOTIFY_SOCKET"))}
    env.update(VOICECMD_MODEL_DIR=str(FIXTURE_MODEL), VOICECMD_GRAMMAR_DIR=str(tmp_path / "grammars"),
               PYTHONPATH=str(ROOT), HOME=str(tmp_path))  # HOME: no ~/.asoundrc devices
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, str(demo)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "voicecmd demo: listening to the demo recordings" in proc.stderr
    assert "publishing to a local mosquitto on 127.0.0.1:" in proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("voicecmd/", "hermes/"))]
    topics = [line.split(" ", 1)[0] for line in lines]
    assert "voicecmd/demo/status" in topics
    # each recording gives one event (the random fixture model may or may not pass the default threshold)
    events = [line for line in lines if line.startswith(("voicecmd/demo/intent/", "voicecmd/demo/not_recognized"))]
    assert len(events) == 2, proc.stdout
    for line in events:
        assert json.loads(line.split(" ", 1)[1])["site_id"] == "demo"
