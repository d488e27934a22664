"""The built .deb: lintian-clean, private layout, conffiles, both models/demo/grammars, vendored natives, size."""

from __future__ import annotations

import ast
import filecmp
import gzip
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.packaging.conftest import BUNDLED_MODELS
from tests.packaging.debroot import REPO_ROOT, pinned_version, run

pytestmark = pytest.mark.slow

SYSTEM_DEPENDS = {"python3-numpy", "python3-yaml", "python3-paho-mqtt", "python3-pyaudio", "python3-systemd",
                  "python3-sentencepiece", "adduser"}
MAX_DEB_BYTES = 120 * 10**6  # issue 10's budget for the .deb


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
    """onnxruntime, webrtcvad, opencc and zeroconf for Ubuntu 22.04's Python 3.10 and Debian 12's 3.11, built for
    this architecture."""
    vendor = unpacked / "usr" / "lib" / "voicecmd" / "vendor" / f"python{python}"
    tag = "cpython-" + python.replace(".", "")
    pybind = list((vendor / "onnxruntime" / "capi").glob(f"onnxruntime_pybind11_state.{tag}-*.so"))
    vad = list(vendor.glob(f"_webrtcvad.{tag}-*.so"))
    opencc = list((vendor / "opencc" / "clib").glob(f"opencc_clib.{tag}-*.so"))
    zeroconf = list((vendor / "zeroconf").glob(f"_dns.{tag}-*.so"))
    assert [len(pybind), len(vad), len(opencc), len(zeroconf)] == [1, 1, 1, 1], sorted(
        p.name for p in vendor.rglob("*.so"))
    assert (vendor / "webrtcvad.py").is_file()
    machine = run(["uname", "-m"]).stdout.strip().replace("_", "-")
    for native in (vad[0], opencc[0], zeroconf[0]):
        assert machine in run(["file", "-L", str(native)]).stdout.replace("_", "-"), native
    assert not (vendor / "onnxruntime" / "transformers").exists()
    # opencc: the module, its extension and the dictionaries of s2t (daemon.grammar.surface's conversion), without
    # the wheel's command-line tools, headers and static libraries.
    share = vendor / "opencc" / "clib" / "share" / "opencc"
    assert all((share / name).is_file() for name in ("s2t.json", "STCharacters.ocd2", "STPhrases.ocd2"))
    assert (vendor / "opencc" / "__init__.py").is_file()
    assert not [p for p in ("bin", "include", "lib64", "lib") if (vendor / "opencc" / "clib" / p).exists()]
    # No wheel metadata but wyoming's METADATA: `import wyoming` asks importlib.metadata for its version.
    assert [p.relative_to(vendor).as_posix() for p in vendor.glob("*.dist-info/*")] == [
        f"wyoming-{pinned_version('wyoming')}.dist-info/METADATA"]
    # wyoming without its Flask-based HTTP bridge; ifaddr without its test module.
    assert (vendor / "wyoming" / "server.py").is_file() and not (vendor / "wyoming" / "http").exists()
    assert (vendor / "ifaddr" / "__init__.py").is_file() and not (vendor / "ifaddr" / "test_ifaddr.py").exists()


def python_interpreter(version: str) -> str:
    """A CPython X.Y on this machine: the test's own, script/setup's .venv310, or pythonX.Y on the PATH."""
    for candidate in (sys.executable, str(REPO_ROOT / ".venv310" / "bin" / "python"), shutil.which(f"python{version}")):
        if candidate and Path(candidate).exists():
            found = run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], check=False)
            if found.stdout.strip() == version:
                return candidate
    pytest.skip(f"no Python {version} here (`script/setup test` makes .venv310)")


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_vendored_wyoming_and_zeroconf_run(unpacked: Path, python: str) -> None:
    """With no site-packages (python -S), the package's own files give the Wyoming server its libraries on both
    Pythons: wyoming, zeroconf (its Cython extension packs and parses an mDNS answer) and ifaddr, at the pinned
    versions."""
    probe = run([python_interpreter(python), "-S", str(Path(__file__).with_name("wyoming_probe.py")), str(unpacked)])
    found = json.loads(probe.stdout)
    vendor = f"{unpacked}/usr/lib/voicecmd/vendor/python{python}/"
    assert all(path.startswith(vendor) for path in found["files"].values()), found["files"]
    assert found["files"]["zeroconf._dns"].endswith(".so")
    assert found["versions"] == {"wyoming": pinned_version("wyoming"), "zeroconf": pinned_version("zeroconf")}
    assert found["answer_port"] == 10300 and found["addresses"]


def test_vendored_licenses(unpacked: Path) -> None:
    """The vendored projects' licence texts are in /usr/share/doc/voicecmd/vendor/ and named in debian/copyright."""
    doc = unpacked / "usr" / "share" / "doc" / "voicecmd"
    texts = {}
    for text in ("onnxruntime/LICENSE", "onnxruntime/ThirdPartyNotices.txt", "webrtcvad/LICENSE", "opencc/LICENSE",
                 "opencc/AUTHORS", "wyoming/LICENSE.md", "zeroconf/COPYING", "ifaddr/LICENSE.txt"):
        # dh_compress gzips documentation over 4 kB (policy 12.3).
        plain, packed = doc / "vendor" / text, doc / "vendor" / f"{text}.gz"
        texts[text] = gzip.decompress(packed.read_bytes()).decode() if packed.is_file() else plain.read_text()
        assert texts[text].strip(), text
    assert "Apache License" in texts["opencc/LICENSE"] and "Carbo Kuo" in texts["opencc/AUTHORS"]
    copyright_text = (doc / "copyright").read_text()
    assert "Files: vendor/opencc/*" in copyright_text and "opencc 1.4.2" in copyright_text
    assert "MIT License" in texts["wyoming/LICENSE.md"] and "MIT License" in texts["ifaddr/LICENSE.txt"]
    assert "Lesser General Public" in texts["zeroconf/COPYING"]
    for project, licence in (("wyoming", "MIT"), ("zeroconf", "LGPL-2.1+"), ("ifaddr", "MIT")):
        paragraph = copyright_text.split(f"Files: vendor/{project}/*\n", 1)[1].split("\n\n", 1)[0]
        assert f"License: {licence}\n" in paragraph + "\n", paragraph
        assert f"{project} {pinned_version(project)}" in copyright_text


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


@pytest.mark.parametrize(("source", "installed"), BUNDLED_MODELS, ids=["whisper-base", "wenet"])
def test_ships_both_models(unpacked: Path, source: Path, installed: str) -> None:
    """Every file of models/whisper-base is in /usr/share/voicecmd/model and of models/default in model-wenet."""
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert files, f"{source} is empty"
    shipped = unpacked / installed.lstrip("/")
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()) == files
    for name in files:
        assert filecmp.cmp(source / name, shipped / name, shallow=False), name


def test_installed_models_are_the_defaults(unpacked: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """daemon.paths finds Whisper for the CPU backends and the WeNet model for the BPU ones in the package's layout."""
    from daemon import paths

    monkeypatch.delenv("VOICECMD_MODEL_DIR", raising=False)
    monkeypatch.setattr(paths, "INSTALLED_SHARE", unpacked / paths.INSTALLED_SHARE.relative_to("/"))
    cpu, wenet = (unpacked / installed.lstrip("/") for _, installed in BUNDLED_MODELS)
    assert paths.default_model_dir() == paths.default_model_dir("onnx") == cpu
    assert (cpu / "whisper.json").is_file()
    assert paths.default_model_dir("bpu") == paths.default_wenet_model_dir() == wenet
    assert (wenet / "units.txt").is_file()


def test_deb_within_size_budget(deb_path: Path) -> None:
    """The .deb with both models and two vendored onnxruntime copies stays within issue 10's 120 MB."""
    size = deb_path.stat().st_size
    print(f"packaging: {deb_path.name}: {size} bytes ({size / 1e6:.1f} MB)")
    assert size <= MAX_DEB_BYTES


def imported_top_level(path: Path) -> set[str]:
    """Top-level names of the absolute imports of one Python file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_whisper_path_needs_only_numpy_and_onnxruntime(unpacked: Path) -> None:
    """The shipped Whisper code imports nothing beyond the standard library, numpy (Depends) and the vendored
    onnxruntime."""
    private = unpacked / "usr" / "lib" / "voicecmd"
    files = [*(private / "runtime" / "whisper").glob("*.py"), private / "runtime" / "features" / "whisper_mel.py",
             private / "daemon" / "grammar" / "whisper_decode.py"]
    assert all(f.is_file() for f in files), files
    third_party = set().union(*(imported_top_level(f) for f in files)) - set(sys.stdlib_module_names)
    assert third_party <= {"daemon", "runtime", "numpy", "onnxruntime"}, third_party


def test_ships_the_demo_audio(unpacked: Path) -> None:
    """demo/audio/*.wav are in /usr/share/voicecmd/demo (fails until the demo recordings exist)."""
    source = sorted(p.name for p in (REPO_ROOT / "demo" / "audio").glob("*.wav"))
    assert source, "demo/audio has no WAV yet (model helper M ships them)"
    shipped = sorted(p.name for p in (unpacked / "usr" / "share" / "voicecmd" / "demo").glob("*.wav"))
    assert shipped == source
