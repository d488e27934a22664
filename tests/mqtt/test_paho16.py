"""The broker-facing MQTT tests again, in a child Python that imports paho-mqtt 1.6.1 (Debian/Ubuntu's version)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import paho.mqtt
import pytest

REPO = Path(__file__).resolve().parents[2]
PAHO16 = REPO / ".venv-paho16"


@pytest.mark.slow
def test_link_suite_passes_on_paho_1_6(tmp_path):
    assert (PAHO16 / "paho" / "mqtt" / "__init__.py").is_file(), (
        f"{PAHO16} is missing: run script/setup test (hook script/setup.d/20-mqtt.sh installs paho-mqtt 1.6.1 there)"
    )
    assert paho.mqtt.__version__.startswith("2."), "this parent run is meant to use paho 2.x"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PAHO16), str(REPO)]),
        "VOICECMD_EXPECT_PAHO": "1.6.1",  # tests/mqtt/conftest.py asserts the child really imported it
    }
    probe = subprocess.run([sys.executable, "-c", "import paho.mqtt as p; print(p.__version__, p.__file__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.startswith("1.6.1 " + str(PAHO16)), probe.stdout
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
         "tests/mqtt/test_paho_compat.py", "tests/mqtt/test_link.py", "tests/mqtt/test_broker_restart.py",
         "tests/mqtt/test_reliability.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
