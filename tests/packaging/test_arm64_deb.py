"""The X3 Pi package: voicecmd_<version>_arm64.deb built under qemu-user-static, installed and run in an arm64 root."""

from __future__ import annotations

import json
import subprocess

import pytest

from daemon import __version__
from tests.packaging.conftest import DEMO_INTENTS
from tests.packaging.debroot import REPO_ROOT, pinned_version

# A fresh machine debootstraps the arm64 root and its build dependencies under emulation (~10 min).
BUILD_TIMEOUT_S = 40 * 60


@pytest.mark.slow
def test_arm64_deb_builds_installs_and_runs_under_emulation(tmp_path):
    proc = subprocess.run(
        ["bash", str(REPO_ROOT / "script" / "build-deb-arm64"), "--smoke", "--out", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )
    print(proc.stdout[-4000:])
    assert proc.returncode == 0, proc.stderr[-4000:]
    deb = tmp_path / f"voicecmd_{__version__}_arm64.deb"
    assert deb.is_file()
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Architecture", "Package"],
                            capture_output=True, text=True, check=True).stdout
    assert "Architecture: arm64" in fields and "Package: voicecmd" in fields
    lines = proc.stdout.splitlines()
    assert "aarch64" in lines, "the smoke test did not run inside the arm64 root"
    assert f"voicecmd {__version__}" in lines
    assert any(line.startswith("numpy ") and "onnxruntime" in line for line in lines)
    # The vendored opencc (aarch64 wheel) converts simplified 灯 to traditional 燈 in the arm64 root.
    assert any(line.startswith("opencc ") and line.endswith(" s2t 燈") for line in lines), lines
    # tests/packaging/wyoming_probe.py: the vendored wyoming and zeroconf (its aarch64 extension packs an mDNS answer).
    probe = json.loads(next(line for line in lines if line.startswith('{"files": ')))
    assert probe["files"]["zeroconf._dns"].startswith("/usr/lib/voicecmd/vendor/python3.11/zeroconf/_dns.")
    assert probe["files"]["zeroconf._dns"].endswith("-aarch64-linux-gnu.so"), probe
    assert probe["versions"] == {"wyoming": pinned_version("wyoming"), "zeroconf": pinned_version("zeroconf")}
    assert probe["answer_port"] == 10300
    # `voicecmd transcribe --model .../model-wenet` prints "<file>\t<text>" for the bundled demo recording.
    transcripts = [line.split("\t", 1) for line in lines if line.startswith("/usr/share/voicecmd/demo/")]
    assert transcripts and transcripts[0][1].strip(), "the installed WeNet model did not transcribe the demo"
    # `voicecmd recognize` with the installed default model (Whisper base) prints the demo's intent as JSON.
    results = [json.loads(line) for line in lines if line.startswith('{"file": "/usr/share/voicecmd/demo/')]
    assert results, "the installed default model did not recognize the demo recording"
    intent, slots = DEMO_INTENTS["en_turn_on_kitchen_light.wav"]
    assert results[0]["recognized"] and (results[0]["intent"], results[0]["slots"]) == (intent, slots), results
    print(next(line for line in lines if "took" in line and "Whisper" in line))
    assert "smoke test passed" in proc.stdout
