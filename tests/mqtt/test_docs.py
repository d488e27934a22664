"""The Home Assistant and Node-RED guides: their YAML and flow JSON parse and use the topics the link publishes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from daemon.mqtt.config import MqttConfig
from daemon.mqtt.topics import SiteTopics

DOCS = Path(__file__).resolve().parents[2] / "docs"


def blocks(path: Path, lang: str) -> list[str]:
    """The bodies of the fenced ``lang`` code blocks of a Markdown file."""
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_node_red_flow_is_importable_json():
    (flow_text,) = blocks(DOCS / "node-red.md", "json")
    flow = json.loads(flow_text)
    ids = {node["id"] for node in flow}
    assert len(ids) == len(flow)
    for node in flow:
        for output in node.get("wires", []):
            assert set(output) <= ids, node["id"]
        if node["type"] in ("mqtt in", "mqtt out"):
            assert node["broker"] in ids
    topics = {node["topic"] for node in flow if node["type"] == "mqtt in"}
    assert topics == {"voicecmd/+/intent/#", "hermes/intent/#"}
    assert SiteTopics("voicecmd", "living_room").command("mute") in {n.get("topic") for n in flow}


def test_home_assistant_yaml_examples_parse():
    docs = blocks(DOCS / "home-assistant.md", "yaml")
    assert len(docs) >= 4
    parsed = [yaml.safe_load(text) for text in docs]
    config = parsed[0]
    assert set(config["mqtt"]) <= set(MqttConfig.__dataclass_fields__)
    snips = next(p for p in parsed if "snips" in p)
    assert {"HassTurnOn", "HassLightSet"} <= set(snips["intent_script"])
