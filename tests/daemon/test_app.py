"""The Daemon in-process with scripted parts: end of input, commands, crash escalation to a non-zero exit."""

from __future__ import annotations

import threading


from daemon.app import Daemon
from daemon.config import AudioConfig, DaemonConfig, ServiceConfig
from daemon.pipeline import ActiveGrammar
from daemon.service.notify import Notifier
from tests.daemon.fakes import RecordingSink, ScriptedDecoder, ScriptedRecognizer
from tests.daemon.notify_harness import NotifyReceiver
from tests.daemon.speech import synth_wav


def make_daemon(tmp_path, recognizer=None, notifier=None, **service):
    wav = synth_wav("turn on the kitchen light")
    config = DaemonConfig(
        audio=AudioConfig(source="wav", wav_path=wav, realtime=False),
        service=ServiceConfig(site_id="unit", state_dir=tmp_path, **service),
    )
    sink = RecordingSink()

    def sink_factory(cfg, on_command):
        sink.on_command = on_command
        return sink

    def build(paths):
        return ActiveGrammar(decoder=ScriptedDecoder(), language="en", version="v1", intent_names=("light_on",))

    daemon = Daemon(config, notifier=notifier or Notifier({}), recognizer=recognizer or ScriptedRecognizer(),
                    grammar_builder=build, sink_factory=sink_factory)
    return daemon, sink


def test_wav_input_runs_to_the_end_and_exits_0(tmp_path):
    with NotifyReceiver(tmp_path / "n.sock") as rx:
        daemon, sink = make_daemon(tmp_path, notifier=Notifier({"NOTIFY_SOCKET": rx.path}))
        assert daemon.run() == 0
        assert [e.intent for e in sink.intents] == ["light_on"]
        assert sink.started and sink.stopped and sink.discovery == [["light_on"]]
        assert sink.states[-1]["state"] == "listening" and sink.states[-1]["grammar_version"] == "v1"
        assert rx.wait_for(lambda ls: "STOPPING=1" in ls, 2)
        lines = rx.lines()
        assert lines.index("READY=1") < lines.index("STOPPING=1")
        assert "STATUS=stopping (end of input)" in lines


def test_mute_and_unmute_commands_publish_the_state(tmp_path):
    daemon, sink = make_daemon(tmp_path)
    daemon.start()
    try:
        sink.on_command("mute", {})
        assert sink.states[-1]["state"] == "muted" and daemon.pipeline.muted
        sink.on_command("unmute", {})
        assert sink.states[-1]["state"] == "listening" and not daemon.pipeline.muted
        sink.on_command("bogus", {"x": 1})  # ignored, logged
    finally:
        daemon.request_stop("test")
        daemon._shutdown()


class CrashingRecognizer(ScriptedRecognizer):
    def create_session(self):
        session = super().create_session()

        def boom(samples):
            raise RuntimeError("encoder exploded")

        session.accept_waveform = boom
        return session


def test_a_component_that_keeps_crashing_ends_the_daemon_non_zero(tmp_path, caplog):
    daemon, sink = make_daemon(tmp_path, recognizer=CrashingRecognizer(), max_restarts=2)
    # restart quickly: the supervisor's backoff starts at audio.reopen_min_s for audio, 0.5 s otherwise
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", daemon.run()))
    t.start()
    t.join(30)
    assert not t.is_alive()
    assert result["rc"] == 1
    assert "pipeline: giving up after 3 failures" in caplog.text
    assert sink.errors == ["recognition failed: RuntimeError: encoder exploded"] * 3


def test_idle_at_end_keeps_listening_until_stopped(tmp_path):
    import dataclasses
    import time

    daemon, sink = make_daemon(tmp_path)
    daemon.config = dataclasses.replace(daemon.config,
                                        audio=dataclasses.replace(daemon.config.audio, at_end="idle"))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", daemon.run()))
    t.start()
    deadline = time.monotonic() + 10
    while not sink.intents and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.intent for e in sink.intents] == ["light_on"]
    frames = daemon.health.frames
    time.sleep(0.5)
    assert t.is_alive() and time.monotonic() - daemon.health.last_frame < 0.2  # silence keeps flowing
    assert daemon.health.frames == frames  # (the source itself has ended)
    daemon.request_stop("test")
    t.join(10)
    assert result["rc"] == 0
