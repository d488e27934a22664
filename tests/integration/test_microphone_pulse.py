"""The microphone path for real: speech played into a PulseAudio null sink, captured by the daemon through PyAudio
and ALSA's pulse plugin (at 16 kHz, and at 48 kHz through the daemon's resampler), published over MQTT."""

from __future__ import annotations

import time

import pytest

from tests.daemon.notify_harness import NotifyReceiver, env_for
from tests.daemon.speech import speech_bounds, synth_samples, synth_wav
from tests.helpers.mosquitto import Broker, Subscriber
from tests.integration.daemon_proc import FIXTURE_MODEL, TINY_GRAMMAR, DaemonProcess, write_config
from tests.integration.pulse import PulseServer

SITE = "mic-test"


@pytest.mark.parametrize("input_rate", [None, 48000])
def test_speech_played_into_pulseaudio_becomes_an_intent(tmp_path, input_rate):
    wav = synth_wav("turn the light off")
    first, last = speech_bounds(synth_samples("turn the light off"))
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    with PulseServer(tmp_path) as pulse, Broker(tmp_path / "broker").start() as broker, \
            Subscriber(broker.port, [f"voicecmd/{SITE}/#"]) as sub:
        config = write_config(
            tmp_path,
            audio={"source": "microphone", "device": "pulse", "input_rate": input_rate},
            model={"dir": str(FIXTURE_MODEL)},
            grammar={"paths": [str(grammar)], "watch": False, "reject_threshold": -1e6},
            mqtt={"host": "127.0.0.1", "port": broker.port, "discovery": False},
            service={"site_id": SITE},
            logging={"target": "stderr"},
        )
        with NotifyReceiver(tmp_path / "notify.sock") as rx, \
                DaemonProcess(config, env={**pulse.env, **env_for(rx)}) as daemon:
            # READY=1 comes with the first captured block (PortAudio's first read blocks while the stream warms up)
            assert rx.wait_for(lambda ls: "READY=1" in ls, 30), daemon.log()
            player = pulse.play(wav)
            assert player.wait(15) == 0
            sub.wait_for(lambda ms: any("/intent/" in m.topic for m in ms), 15)
            intent = [m for m in sub.messages if "/intent/" in m.topic]
            assert len(intent) == 1 and intent[0].topic == f"voicecmd/{SITE}/intent/LightOff"
            payload = intent[0].json()
            assert payload["site_id"] == SITE
            # the VAD found the spoken part of the captured audio
            assert payload["end_time"] - payload["start_time"] == pytest.approx(last - first, abs=0.35)
            log = daemon.log()
            assert "capturing from pulse at %d Hz" % (input_rate or 16000) in log
            if input_rate:
                assert "resampled to 16 kHz" in log


def test_capture_recovers_after_the_sound_server_goes_away(tmp_path):
    """Device loss: PulseAudio dies mid-stream; the daemon reopens with backoff and hears the next command."""
    wav = synth_wav("turn the light off")
    grammar = tmp_path / "grammar.yaml"
    grammar.write_text(TINY_GRAMMAR.format(intent="LightOff"))
    with Broker(tmp_path / "broker").start() as broker, Subscriber(broker.port, [f"voicecmd/{SITE}/#"]) as sub:
        pulse = PulseServer(tmp_path).start()
        try:
            config = write_config(
                tmp_path,
                audio={"source": "microphone", "device": "pulse", "reopen_min_s": 0.2, "reopen_max_s": 1.0},
                model={"dir": str(FIXTURE_MODEL)},
                grammar={"paths": [str(grammar)], "watch": False, "reject_threshold": -1e6},
                mqtt={"host": "127.0.0.1", "port": broker.port, "discovery": False},
                service={"site_id": SITE, "stall_timeout_s": 0.6},
                logging={"target": "stderr"},
            )
            with NotifyReceiver(tmp_path / "notify.sock") as rx, \
                    DaemonProcess(config, env={**pulse.env, **env_for(rx, watchdog_usec=400_000)}) as daemon:
                assert rx.wait_for(lambda ls: "READY=1" in ls, 30), daemon.log()
                pulse.stop()
                lost_at = time.monotonic()
                time.sleep(2.5)
                assert daemon.proc.poll() is None, daemon.log()
                # deaf while the device is gone: no watchdog pings (systemd would restart a daemon that stays deaf)
                assert not [t for t in rx.times_of("WATCHDOG=1") if t > lost_at + 1.2], daemon.log()[-2000:]
                pulse.start()
                deadline = time.monotonic() + 20
                while "reopened" not in daemon.log() and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert "reopened" in daemon.log(), daemon.log()[-3000:]
                reopened_at = time.monotonic()
                # watchdog pings resume only once captured blocks flow again
                deadline = time.monotonic() + 20
                while not any(t > reopened_at for t in rx.times_of("WATCHDOG=1")) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert any(t > reopened_at for t in rx.times_of("WATCHDOG=1")), daemon.log()[-3000:]
                assert pulse.play(wav).wait(15) == 0
                sub.wait_for(lambda ms: any(m.topic == f"voicecmd/{SITE}/intent/LightOff" for m in ms), 15)
        finally:
            pulse.stop()


def test_project_model_hears_a_command_through_the_microphone(tmp_path):
    """The whole product path: PulseAudio → PyAudio → VAD → models/default → shipped grammars → MQTT."""
    from tests.integration.daemon_proc import PROJECT_MODEL, ROOT

    assert (PROJECT_MODEL / "units.txt").exists(), f"{PROJECT_MODEL} is missing (the model part ships it)"
    wav = synth_wav("turn on the kitchen light")
    with PulseServer(tmp_path) as pulse, Broker(tmp_path / "broker").start() as broker, \
            Subscriber(broker.port, [f"voicecmd/{SITE}/#", "hermes/intent/#"]) as sub:
        config = write_config(
            tmp_path,
            audio={"source": "microphone", "device": "pulse"},
            model={"dir": str(PROJECT_MODEL)},
            grammar={"paths": [str(ROOT / "grammars")], "watch": False},
            mqtt={"host": "127.0.0.1", "port": broker.port, "discovery": False},
            service={"site_id": SITE},
            logging={"target": "stderr"},
        )
        with NotifyReceiver(tmp_path / "notify.sock") as rx, \
                DaemonProcess(config, env={**pulse.env, **env_for(rx)}) as daemon:
            assert rx.wait_for(lambda ls: "READY=1" in ls, 30), daemon.log()
            assert pulse.play(wav).wait(15) == 0
            sub.wait_for(lambda ms: any(m.topic == "hermes/intent/HassTurnOn" for m in ms), 15)
            [native] = sub.on(f"voicecmd/{SITE}/intent/HassTurnOn")
            assert native.json()["slots"] == {"area": "kitchen", "device": "light", "domain": "light"}
