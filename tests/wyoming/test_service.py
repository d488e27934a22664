"""The Wyoming server as deployed: advertised over zeroconf, inside the daemon (intents to the event sink), and
as the ``voicecmd wyoming`` program."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from wyoming.client import AsyncClient
from wyoming.info import Describe

from daemon.app import Daemon
from daemon.config import AudioConfig, DaemonConfig, ServiceConfig, WyomingConfig
from daemon.service.notify import Notifier
from tests.daemon.fakes import RecordingSink
from tests.wyoming.helpers import DEMO, REPO, Pcm, read_until, running_server, transcribe, uri_of


def test_a_zeroconf_browser_sees_the_service_and_its_port(recognizer, shipped_grammar):
    zeroconf = pytest.importorskip("zeroconf")
    from daemon.wyoming.discovery import SERVICE_TYPE, local_addresses

    with running_server(recognizer, shipped_grammar, uri="tcp://0.0.0.0:0", zeroconf=True,
                        zeroconf_name="voicecmd-zc-test") as server:
        added = threading.Event()
        names: list[str] = []

        def on_change(zeroconf, service_type, name, state_change):
            if state_change is ServiceStateChange.Added:
                names.append(name)
                added.set()

        from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

        browser_zc = Zeroconf(interfaces=local_addresses("0.0.0.0"), ip_version=IPVersion.V4Only)
        try:
            browser = ServiceBrowser(browser_zc, SERVICE_TYPE, handlers=[on_change])
            deadline = time.monotonic() + 10
            info = None
            while time.monotonic() < deadline and info is None:
                added.wait(0.2)
                if "voicecmd-zc-test." + SERVICE_TYPE in names:
                    info = browser_zc.get_service_info(SERVICE_TYPE, "voicecmd-zc-test." + SERVICE_TYPE, 3000)
            browser.cancel()
        finally:
            browser_zc.close()
        assert info is not None, f"not seen over mDNS (saw {names})"
        assert info.port == server.port
        assert info.parsed_addresses()
        assert zeroconf.__version__


def test_inside_the_daemon_wyoming_intents_reach_the_event_sink(tmp_path, recognizer):
    sink = RecordingSink()
    config = DaemonConfig(
        audio=AudioConfig(source="wav", wav_path=DEMO / "en_not_a_command.wav", realtime=True, at_end="idle"),
        service=ServiceConfig(site_id="hall", state_dir=tmp_path),
        wyoming=WyomingConfig(enabled=True, uri="tcp://127.0.0.1:0", zeroconf=False),
    )
    daemon = Daemon(config, notifier=Notifier({}), recognizer=recognizer,
                    sink_factory=lambda cfg, on_command: sink)
    daemon.start()
    try:
        port = daemon.wyoming.server.port
        answer, _ = asyncio.run(transcribe(f"tcp://127.0.0.1:{port}", Pcm.of(DEMO / "en_turn_on_kitchen_light.wav")))
        assert answer.data["text"] == "turn on the kitchen light"
        deadline = time.monotonic() + 5
        while not sink.intents and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(e.intent, e.slots["area"], e.site_id) for e in sink.intents] == [("HassTurnOn", "kitchen", "hall")]
    finally:
        daemon.request_stop("test")
        daemon._shutdown()
    assert daemon.wyoming.server.stats.transcriptions == 1


def test_voicecmd_wyoming_serves_until_sigterm(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "daemon", "wyoming", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf",
                             "--grammar", str(REPO / "grammars" / "en")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        assert "serving on" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        port = int(line.rsplit("port ", 1)[1].rstrip(")\n"))

        async def describe_and_transcribe():
            async with AsyncClient.from_uri(f"tcp://127.0.0.1:{port}") as client:
                await client.write_event(Describe().event())
                info = await read_until(client, ("info",))
            answer, _ = await transcribe(f"tcp://127.0.0.1:{port}", Pcm.of(DEMO / "en_bedroom_temperature_22.wav"))
            return info, answer

        info, answer = asyncio.run(describe_and_transcribe())
        assert info.data["asr"][0]["models"][0]["languages"] == ["en"]
        assert answer.data["text"] == "set the bedroom temperature to twenty two degrees"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_voicecmd_wyoming_reports_a_busy_port_in_one_line(recognizer, shipped_grammar):
    with running_server(recognizer, shipped_grammar) as server:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run([sys.executable, "-m", "daemon", "wyoming", "--uri", uri_of(server), "--no-zeroconf"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("voicecmd: error: --uri tcp://127.0.0.1:")


def test_voicecmd_wyoming_thread_flags_reach_the_model(monkeypatch, recognizer):
    import daemon.app
    from daemon.cli import build_parser
    from daemon.commands.wyoming import build_server

    seen = []
    monkeypatch.setattr(daemon.app, "build_recognizer", lambda config: seen.append(config.model) or recognizer)
    args = build_parser().parse_args(["wyoming", "--threads", "2", "--encoder-threads", "3", "--no-zeroconf"])
    build_server(args)
    assert (seen[0].threads, seen[0].encoder_threads, seen[0].dir) == (2, 3, None)
    assert daemon.app.encoder_threads(seen[0]) == 3


def test_voicecmd_wyoming_rejects_a_bad_thread_count_naming_the_field():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "daemon", "wyoming", "--encoder-threads", "0", "--no-zeroconf"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert "model.encoder_threads: 0 is below the minimum 1" in done.stderr
