"""The runtime never imports the service, YAML or MQTT code (checked by scanning imports with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_RUNTIME = {"daemon", "yaml", "paho", "systemd", "pyaudio", "webrtcvad"}


def imported_top_level_names(path: Path) -> set[str]:
    """All top-level module names a source file imports (absolute imports only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


RUNTIME_FILES = sorted((ROOT / "runtime").rglob("*.py"))


def test_runtime_has_sources():
    assert RUNTIME_FILES, "runtime/ has no Python files"


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_runtime_does_not_import_service_yaml_or_mqtt(path):
    bad = imported_top_level_names(path) & FORBIDDEN_IN_RUNTIME
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_scanner_detects_forbidden_import(tmp_path):
    sample = tmp_path / "bad.py"
    sample.write_text("import yaml\nfrom paho.mqtt import client\nfrom . import x\n")
    assert imported_top_level_names(sample) == {"yaml", "paho"}
