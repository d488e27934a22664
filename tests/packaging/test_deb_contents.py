"""The built .deb: lintian-clean of errors, private layout, conffiles, model/demo/grammars, vendored natives, Depends."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from tests.packaging.debroot import REPO_ROOT, run

pytestmark = pytest.mark.slow

SYSTEM_DEPENDS = {"python3-numpy", "python3-yaml", "python3-paho-mqtt", "python3-pyaudio", "python3-systemd",
                  "python3-sentencepiece", "adduser"}


@pytest.fixture(scope="module")
def unpacked(deb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .deb's files (``dpkg-deb -x``) with its control area in DEBIAN/."""
    dest = tmp_path_factory.mktemp("unpacked")
    run(["dpkg-deb", "-R", str(deb_path), str(dest)])
    return dest


def control_field(unpacked: Path, name: str) -> str:
    """One field of DEBIAN/control."""
    for line in (unpacked / "DEBIAN" / "control").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in control")


def test_lintian_reports_no_errors(deb_path: Path) -> None:
    """lintian --fail-on error passes; its warnings are printed for the record."""
    proc = run(["lintian", "--fail-on", "error", "--display-level", ">=warning", str(deb_path)], check=False)
    print(f"lintian:\n{proc.stdout}{proc.stderr}")
    assert proc.returncode == 0
    assert not [line for line in proc.stdout.splitlines() if line.startswith("E:")]


def test_name_architecture_and_depends(deb_path: Path, unpacked: Path) -> None:
    """voicecmd_<version>_<arch>.deb, Architecture: any built for this machine, Debian's Python libraries as Depends."""
    from daemon import __version__

    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    assert deb_path.name == f"voicecmd_{__version__}_{arch}.deb"
    assert control_field(unpacked, "Architecture") == arch
    depends = {item.split("(")[0].strip() for item in control_field(unpacked, "Depends").split(",")}
    assert SYSTEM_DEPENDS <= depends
    assert not {"python3-onnxruntime", "python3-webrtcvad", "python3-daemon"} & depends


def test_private_code_and_wrapper(unpacked: Path) -> None:
    """daemon/ and runtime/ only under /usr/lib/voicecmd, the same files as the checkout; wrapper uses /usr/bin/python3."""
    private = unpacked / "usr" / "lib" / "voicecmd"
    for package in ("daemon", "runtime"):
        shipped = sorted(p.relative_to(private) for p in (private / package).rglob("*.py"))
        source = sorted(p.relative_to(REPO_ROOT) for p in (REPO_ROOT / package).rglob("*.py"))
        assert shipped == source
    assert not list(unpacked.rglob("dist-packages")) and not list(unpacked.rglob("site-packages"))
    assert not list(unpacked.rglob("__pycache__"))
    wrapper = unpacked / "usr" / "bin" / "voicecmd"
    assert wrapper.read_text().splitlines()[0] == "#!/usr/bin/python3"
    assert wrapper.stat().st_mode & 0o111


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_vendored_native_modules(unpacked: Path, python: str) -> None:
    """onnxruntime and webrtcvad for Ubuntu 22.04's Python 3.10 and Debian 12's 3.11, built for this architecture."""
    vendor = unpacked / "usr" / "lib" / "voicecmd" / "vendor" / f"python{python}"
    tag = "cpython-" + python.replace(".", "")
    pybind = list((vendor / "onnxruntime" / "capi").glob(f"onnxruntime_pybind11_state.{tag}-*.so"))
    vad = list(vendor.glob(f"_webrtcvad.{tag}-*.so"))
    assert len(pybind) == 1 and len(vad) == 1, sorted(p.name for p in vendor.rglob("*.so"))
    assert (vendor / "webrtcvad.py").is_file()
    machine = run(["uname", "-m"]).stdout.strip().replace("_", "-")
    assert machine in run(["file", "-L", str(vad[0])]).stdout.replace("_", "-")
    assert not (vendor / "onnxruntime" / "transformers").exists()


def test_conffiles_unit_and_maintainer_scripts(unpacked: Path) -> None:
    """config.yaml and every grammar YAML are conffiles; the unit is enabled by the Debian helpers; user created."""
    conffiles = (unpacked / "DEBIAN" / "conffiles").read_text().split()
    assert "/etc/voicecmd/config.yaml" in conffiles
    assert filecmp.cmp(unpacked / "etc/voicecmd/config.yaml", REPO_ROOT / "systemd" / "config.yaml", shallow=False)
    grammars = sorted(REPO_ROOT.glob("grammars/*/*.yaml"))
    assert grammars
    for grammar in grammars:
        inside = f"/etc/voicecmd/grammars/{grammar.parent.name}/{grammar.name}"
        assert inside in conffiles
    assert filecmp.cmp(unpacked / "lib/systemd/system/voicecmd.service", REPO_ROOT / "systemd" / "voicecmd.service",
                       shallow=False)
    postinst = (unpacked / "DEBIAN" / "postinst").read_text()
    assert "adduser --quiet --system" in postinst and "adduser --quiet voicecmd audio" in postinst
    assert "deb-systemd-helper" in postinst and "deb-systemd-invoke" in postinst
    assert "rm -rf /var/lib/voicecmd" in (unpacked / "DEBIAN" / "postrm").read_text()
    assert (unpacked / "usr/share/man/man1/voicecmd.1.gz").is_file()


def test_ships_the_project_model(unpacked: Path) -> None:
    """Every file of models/default is in /usr/share/voicecmd/model (fails until the project's model exists)."""
    source = REPO_ROOT / "models" / "default"
    assert (source / "units.txt").is_file(), "models/default is missing (model helper M ships it)"
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    shipped = unpacked / "usr" / "share" / "voicecmd" / "model"
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()) == files


def test_ships_the_demo_audio(unpacked: Path) -> None:
    """demo/audio/*.wav are in /usr/share/voicecmd/demo (fails until the demo recordings exist)."""
    source = sorted(p.name for p in (REPO_ROOT / "demo" / "audio").glob("*.wav"))
    assert source, "demo/audio has no WAV yet (model helper M ships them)"
    shipped = sorted(p.name for p in (unpacked / "usr" / "share" / "voicecmd" / "demo").glob("*.wav"))
    assert shipped == source
