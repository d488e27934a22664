"""systemd/voicecmd.service: systemd-analyze verify is silent, the exposure score is <= 2.0, the service contract holds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.packaging.debroot import REPO_ROOT, run

UNIT = REPO_ROOT / "systemd" / "voicecmd.service"
MAX_EXPOSURE = 2.0


def unit_settings(text: str) -> dict[str, list[str]]:
    """Every ``Key=value`` of a unit file, keys repeated in order (systemd allows repeats)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.fixture()
def verifiable_unit(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the unit whose commands exist on this machine, and an environment where man:voicecmd(1) resolves."""
    text = UNIT.read_text().replace("/usr/bin/voicecmd", shutil.which("true") or "/bin/true")
    unit = tmp_path / "voicecmd.service"
    unit.write_text(text)
    man1 = tmp_path / "man" / "man1"
    man1.mkdir(parents=True)
    shutil.copyfile(REPO_ROOT / "debian" / "voicecmd.1", man1 / "voicecmd.1")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "MANPATH": str(tmp_path / "man"), "LC_ALL": "C.UTF-8"}
    return unit, env


def test_systemd_analyze_verify_prints_nothing(verifiable_unit: tuple[Path, dict[str, str]]) -> None:
    """Unknown keys and bad values are only warnings with rc 0, so any output at all is a failure."""
    unit, env = verifiable_unit
    proc = run(["systemd-analyze", "verify", str(unit)], check=False, env=env)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and output == "", f"rc {proc.returncode}: {output}"


def test_systemd_analyze_verify_catches_a_bad_key(verifiable_unit: tuple[Path, dict[str, str]]) -> None:
    """The check above can fail: a misspelt hardening key produces output."""
    unit, env = verifiable_unit
    unit.write_text(unit.read_text().replace("ProtectClock=yes", "ProtectClocks=yes"))
    proc = run(["systemd-analyze", "verify", str(unit)], check=False, env=env)
    assert "ProtectClocks" in proc.stdout + proc.stderr


def parse_exposure(output: str) -> float:
    """The overall exposure level in the output of ``systemd-analyze security``."""
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert found, output
    return float(found.group(1))


def exposure(unit: Path) -> float:
    """systemd-analyze security --offline=true's overall exposure level of ``unit``."""
    proc = run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)], check=False)
    score = parse_exposure(proc.stdout + proc.stderr)
    print(f"exposure of {unit.name}: {score}")
    return score


def test_security_exposure_at_most_2(verifiable_unit: tuple[Path, dict[str, str]]) -> None:
    """The hardened unit rates <= 2.0; without its hardening the same unit rates far worse."""
    unit, _ = verifiable_unit
    assert exposure(unit) <= MAX_EXPOSURE
    service_keys = {"Type", "NotifyAccess", "WatchdogSec", "Restart", "RestartSec", "TimeoutStartSec",
                    "ExecStartPre", "ExecStart", "User", "Group", "StateDirectory", "StateDirectoryMode",
                    "ConfigurationDirectory", "WorkingDirectory", "Environment", "SupplementaryGroups"}
    plain = [line for line in unit.read_text().splitlines()
             if "=" not in line or line.split("=", 1)[0] in service_keys or line.startswith(("Description", "Doc",
                                                                                              "After", "Wants",
                                                                                              "WantedBy"))]
    unit.write_text("\n".join(plain) + "\n")
    assert exposure(unit) > 5.0


def test_service_contract() -> None:
    """Type=notify with a watchdog, config check before start, dedicated user in audio, sound and network allowed."""
    settings = unit_settings(UNIT.read_text())
    assert settings["Type"] == ["notify"]
    assert float(settings["WatchdogSec"][0]) > 0
    assert settings["Restart"] == ["on-failure"]
    assert settings["RestartSec"]
    assert settings["ExecStartPre"] == ["/usr/bin/voicecmd run --check-config"]
    assert settings["ExecStart"][0].startswith("/usr/bin/voicecmd run")
    assert settings["User"] == ["voicecmd"]
    assert settings["SupplementaryGroups"] == ["audio"]
    assert settings["StateDirectory"] == ["voicecmd"]
    assert settings["ConfigurationDirectory"] == ["voicecmd"]
    assert "char-alsa rw" in settings["DeviceAllow"]
    assert "-/dev/snd" in settings["BindPaths"]
    families = set(" ".join(settings["RestrictAddressFamilies"]).split())
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= families
    assert any(doc.startswith("man:voicecmd(1)") for doc in settings["Documentation"])
    assert settings["WantedBy"] == ["multi-user.target"]
