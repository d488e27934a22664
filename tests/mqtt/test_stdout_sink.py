"""StdoutSink: the link's interface for demo mode without a broker, one JSON line per message."""

from __future__ import annotations

import io
import json

from daemon.mqtt.config import MqttConfig
from daemon.mqtt.messages import HermesIntent, IntentMessage
from daemon.mqtt.stdout_sink import StdoutSink
from tests.mqtt.factories import make_intent, make_not_recognized


def lines(stream: io.StringIO) -> list[dict]:
    """The JSON lines the sink wrote to ``stream``."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_native_topics_only_by_default():
    out = io.StringIO()
    sink = StdoutSink(site_id="kitchen", stream=out)
    sink.start()
    ev = make_intent(1)
    sink.publish_intent(ev)
    sink.publish_not_recognized(make_not_recognized(2))
    sink.publish_state({"muted": False})
    sink.publish_discovery(["SetBrightness"])  # discovery disabled without a config
    sink.publish_error("bad thing")
    sink.stop()
    got = lines(out)
    assert [g["topic"] for g in got] == [
        "voicecmd/kitchen/status", "voicecmd/kitchen/intent/SetBrightness", "voicecmd/kitchen/not_recognized",
        "voicecmd/kitchen/state", "voicecmd/kitchen/error", "voicecmd/kitchen/status",
    ]
    assert got[0]["payload"] == "online" and got[-1]["payload"] == "offline" and got[0]["retain"] is True
    assert got[1]["payload"] == json.loads(IntentMessage("voicecmd", ev).payload())
    assert got[3]["payload"] == {"muted": False, "site_id": "kitchen"}


def test_with_a_config_prints_what_the_link_would_publish():
    out = io.StringIO()
    sink = StdoutSink(MqttConfig.from_dict({"topic_prefix": "home/voice"}), "hall", None, None, stream=out)
    ev = make_intent(3, site_id="hall")
    sink.publish_intent(ev)
    sink.publish_discovery(["SetBrightness"])
    topics = [g["topic"] for g in lines(out)]
    assert topics == ["home/voice/hall/intent/SetBrightness", "hermes/asr/textCaptured", "hermes/intent/SetBrightness",
                      "home/voice/hall/event", "home/voice/hall/last_command",
                      "homeassistant/event/voicecmd_hall/command/config",
                      "homeassistant/sensor/voicecmd_hall/last_command/config",
                      "homeassistant/sensor/voicecmd_hall/state/config",
                      "homeassistant/button/voicecmd_hall/mute/config",
                      "homeassistant/button/voicecmd_hall/unmute/config",
                      "homeassistant/button/voicecmd_hall/reload/config"]
    assert lines(out)[2]["payload"] == json.loads(HermesIntent.from_event(ev).payload())
