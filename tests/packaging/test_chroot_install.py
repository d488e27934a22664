"""The .deb in a clean Debian 12 root (chroot): install, the CLI from the installed files, the unit, remove/purge."""

from __future__ import annotations

import asyncio
import json
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from wyoming.client import AsyncClient
from wyoming.info import Describe

from daemon import __version__
from tests.packaging.conftest import CPU_MODEL, DEMO_DIR, DEMO_INTENTS, WENET_MODEL
from tests.packaging.debroot import REPO_ROOT, OverlayRoot, cached_root, pinned_version, run
from tests.packaging.test_unit_file import MAX_EXPOSURE, parse_exposure
from tests.wyoming.helpers import DEMO, Pcm, read_until, transcribe

pytestmark = pytest.mark.slow

INSIDE_DEB = "/var/tmp/voicecmd.deb"
INSIDE_WAV = "/srv/voicecmd-test/en_command.wav"
WYOMING_DEMO = "en_turn_on_kitchen_light.wav"
# `voicecmd wyoming` loads Whisper base and compiles both shipped grammars before it prints "serving on" (~3 s here).
WYOMING_START_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def root(deb_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OverlayRoot]:
    """A clean Debian 12 root with the .deb installed by apt (which pulls python3-numpy & co. from the mirror)."""
    with OverlayRoot(cached_root(), tmp_path_factory.mktemp("chroot")) as overlay:
        overlay.mount_kernel_filesystems()
        overlay.put(deb_path, INSIDE_DEB)
        overlay.chroot("apt-get", "update", "-q")  # the cached root's lists may be older than the mirror
        started = time.monotonic()
        install = overlay.chroot("apt-get", "install", "-y", "-q", INSIDE_DEB, check=False, timeout=900)
        seconds = time.monotonic() - started
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        size = overlay.chroot("dpkg-query", "-W", "-f", "${Installed-Size}", "voicecmd").stdout
        print(f"\npackaging: {deb_path.name}: {deb_path.stat().st_size / 1e6:.1f} MB .deb, "
              f"{int(size) / 1024:.1f} MB installed; apt-get install (with dependencies) took {seconds:.1f} s")
        yield overlay


def test_installed_and_private(root: OverlayRoot) -> None:
    """Installed; nothing in the shared dist-packages; plain python3 cannot see our 'daemon' package."""
    status = root.chroot("dpkg-query", "-W", "-f", "${Status}", "voicecmd").stdout
    assert status == "install ok installed"
    files = root.chroot("dpkg", "-L", "voicecmd").stdout.splitlines()
    assert "/usr/lib/voicecmd/daemon/cli.py" in files
    assert not [f for f in files if "dist-packages" in f or "site-packages" in f]
    plain = root.chroot("python3", "-c", "import daemon", check=False)
    assert "ModuleNotFoundError" in plain.stderr


def test_version(root: OverlayRoot) -> None:
    """`voicecmd --version` from the installed wrapper, with the system Python."""
    assert root.chroot("voicecmd", "--version").stdout.strip() == f"voicecmd {__version__}"


def test_vendored_modules_import(root: OverlayRoot) -> None:
    """Debian's numpy with the vendored onnxruntime and webrtcvad, as the wrapper sets the path up."""
    code = ("import sys; sys.path[0:0] = ['/usr/lib/voicecmd', '/usr/lib/voicecmd/vendor/python%d.%d' % "
            "sys.version_info[:2]]; import numpy, onnxruntime, webrtcvad; "
            "print(numpy.__file__, onnxruntime.__version__, webrtcvad.Vad(3).is_speech(bytes(640), 16000))")
    out = root.chroot("python3", "-c", code).stdout
    assert out.startswith("/usr/lib/python3/dist-packages/numpy/") and out.split()[1:] == ["1.20.1", "False"], out


def test_installed_daemon_accepts_traditional_characters(root: OverlayRoot) -> None:
    """The vendored opencc imports for the installed code (the wrapper's path) and converts 灯 -> 燈, and the installed
    daemon.grammar.surface spells the shipped Mandarin grammar with traditional forms (燈 read back as 灯)."""
    code = ("import sys; sys.path[0:0] = ['/usr/lib/voicecmd', '/usr/lib/voicecmd/vendor/python%d.%d' % "
            "sys.version_info[:2]]; import opencc; from daemon.grammar.grammar import load_grammar; "
            "from daemon.grammar.surface import written_grammar; "
            "written = written_grammar(load_grammar('/etc/voicecmd/grammars/zh')); "
            "print(opencc.__file__, opencc.OpenCC('s2t').convert('\u706f'), written.char_map.get('\u71c8'))")
    proc = root.chroot("python3", "-c", code)
    path, converted, read_back = proc.stdout.split()
    assert path.startswith("/usr/lib/voicecmd/vendor/python3.") and path.endswith("/opencc/__init__.py"), path
    assert (converted, read_back) == ("燈", "灯"), proc.stdout
    assert "opencc is not installed" not in proc.stderr


def test_user_state_dir_and_enabled_unit(root: OverlayRoot) -> None:
    """System user voicecmd in group audio; state dir owned by it; unit installed and enabled."""
    passwd = root.chroot("getent", "passwd", "voicecmd").stdout.split(":")
    assert int(passwd[2]) < 1000 and passwd[5] == "/var/lib/voicecmd"
    assert "audio" in root.chroot("id", "-nG", "voicecmd").stdout.split()
    assert root.chroot("stat", "-c", "%U %a", "/var/lib/voicecmd").stdout.split() == ["voicecmd", "750"]
    assert (root.path / "lib/systemd/system/voicecmd.service").is_file()
    assert (root.path / "etc/systemd/system/multi-user.target.wants/voicecmd.service").is_symlink()


def test_installed_unit_verify_and_security(root: OverlayRoot) -> None:
    """systemd-analyze on the installed unit, inside the root: silent verify, exposure <= 2.0."""
    unit = "/lib/systemd/system/voicecmd.service"
    # `man` is not installed in the minimal root: check the page's file instead of letting verify run man.
    assert (root.path / "usr/share/man/man1/voicecmd.1.gz").is_file()
    proc = root.chroot("systemd-analyze", "verify", "--man=no", unit, check=False)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and not output, output
    security = root.chroot("systemd-analyze", "security", "--offline=true", "--no-pager", unit, check=False)
    score = parse_exposure(security.stdout + security.stderr)
    print(f"packaging: installed unit exposure {score}")
    assert score <= MAX_EXPOSURE


@pytest.mark.parametrize("language", ["en", "zh"])
def test_check_grammar_on_shipped_grammars(root: OverlayRoot, language: str) -> None:
    """The conffile grammars in /etc/voicecmd/grammars pass `voicecmd check-grammar`."""
    proc = root.chroot("voicecmd", "check-grammar", f"/etc/voicecmd/grammars/{language}", check=False)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1].startswith("ok:"), proc.stdout + proc.stderr


def recognize_pair(root: OverlayRoot, inside: list[str], host: list[Path], model: list[str],
                   host_model: Path) -> list[tuple[dict, dict]]:
    """(installed, checkout) results of `voicecmd recognize` on the same audio: the installed wrapper in the root
    with ``model`` (none: the installed default), the checkout with ``host_model``; both with the shipped grammars."""
    started = time.monotonic()
    installed = root.chroot("voicecmd", "recognize", *model, "--grammar", "/etc/voicecmd/grammars", *inside,
                            check=False)
    seconds = time.monotonic() - started
    assert installed.returncode == 0, installed.stderr
    # Whisper's Mandarin decoding found the vendored opencc (without it: simplified characters only).
    assert "opencc is not installed" not in installed.stderr, installed.stderr
    reference = run([sys.executable, "-m", "daemon", "recognize", "--model", str(host_model), "--grammar",
                     str(REPO_ROOT / "grammars"), *map(str, host)], cwd=REPO_ROOT)
    got = [json.loads(line) for line in installed.stdout.strip().splitlines()]
    want = [json.loads(line) for line in reference.stdout.strip().splitlines()]
    print(f"packaging: installed recognize {' '.join(model) or '(default model)'} on {len(inside)} files took "
          f"{seconds:.1f} s: {got}")
    assert [g["file"] for g in got] == inside
    for g, w in zip(got, want):
        for key in ("recognized", "intent", "slots", "text"):
            assert g[key] == w[key], (key, g, w)
    return list(zip(got, want))


def test_recognize_demo_with_installed_default_whisper(root: OverlayRoot) -> None:
    """`voicecmd recognize` without --model runs the installed Whisper base: the demo commands (English, Mandarin)
    give their intents, the demo non-command is rejected, all as the checkout's models/whisper-base decides."""
    names = [*DEMO_INTENTS, "en_not_a_command.wav"]
    results = recognize_pair(root, [f"{DEMO_DIR}/{name}" for name in names],
                             [REPO_ROOT / "demo" / "audio" / name for name in names], [], CPU_MODEL[0])
    for name, (got, _) in zip(names, results):
        if name in DEMO_INTENTS:
            assert got["recognized"] and (got["intent"], got["slots"]) == DEMO_INTENTS[name], got
        else:
            assert not got["recognized"] and got["intent"] is None, got


def test_recognize_with_installed_wenet_model(root: OverlayRoot, english_wav: Path) -> None:
    """The installed WeNet model (the BPU default, here on the CPU) gives the checkout's answer for a synthesized
    command."""
    root.put(english_wav, INSIDE_WAV)
    recognize_pair(root, [INSIDE_WAV], [english_wav], ["--model", WENET_MODEL[1]], WENET_MODEL[0])


def test_check_config_as_service_user(root: OverlayRoot) -> None:
    """The shipped /etc/voicecmd/config.yaml validates (model, grammars) when run as the service's user."""
    proc = root.chroot("runuser", "-u", "voicecmd", "--", "voicecmd", "run", "--check-config", check=False)
    assert proc.returncode == 0 and "config ok" in proc.stdout, proc.stdout + proc.stderr


def test_vendored_wyoming_and_zeroconf_run(root: OverlayRoot) -> None:
    """Debian 12's python3 with the wrapper's path imports the vendored wyoming, zeroconf and ifaddr (not Debian's
    python3-zeroconf), and zeroconf's Cython extension packs and parses an mDNS answer."""
    probe = root.put(Path(__file__).with_name("wyoming_probe.py"), "/srv/voicecmd-test/wyoming_probe.py")
    found = json.loads(root.chroot("python3", probe).stdout)
    assert all(path.startswith("/usr/lib/voicecmd/vendor/python3.") for path in found["files"].values()), found
    assert found["files"]["zeroconf._dns"].endswith(".so")
    assert found["versions"] == {"wyoming": pinned_version("wyoming"), "zeroconf": pinned_version("zeroconf")}
    assert found["answer_port"] == 10300 and found["addresses"]


def wait_for_serving(server: subprocess.Popen, log: Path) -> int:
    """The port from `voicecmd wyoming`'s "serving on ... (port N)" line (fails with its log if it exits first)."""
    assert server.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        ready = selector.select(WYOMING_START_TIMEOUT_S)
    line = server.stdout.readline() if ready else ""
    assert "serving on" in line, f"voicecmd wyoming did not start: {line!r}\n{log.read_text()[-3000:]}"
    return int(line.rsplit("port ", 1)[1].rstrip(")\n"))


def test_installed_voicecmd_wyoming_serves_a_wyoming_client(root: OverlayRoot, tmp_path: Path) -> None:
    """`voicecmd wyoming` from the package (chroot, no zeroconf: no multicast from the tests) on a free loopback
    port: a real wyoming client's describe gets info with the asr program of the installed default model, the demo
    command streamed to it comes back as its transcript, and SIGTERM stops it cleanly."""
    log = tmp_path / "wyoming.log"
    started = time.monotonic()
    server = root.spawn("voicecmd", "wyoming", "--uri", "tcp://127.0.0.1:0", "--no-zeroconf", stderr=log)
    try:
        uri = f"tcp://127.0.0.1:{wait_for_serving(server, log)}"

        async def describe_and_transcribe():
            async with AsyncClient.from_uri(uri) as client:
                await client.write_event(Describe().event())
                info = await read_until(client, ("info",))
            answer, _ = await transcribe(uri, Pcm.of(DEMO / WYOMING_DEMO))
            return info, answer

        info, answer = asyncio.run(describe_and_transcribe())
        print(f"packaging: installed voicecmd wyoming: start, describe and one transcript took "
              f"{time.monotonic() - started:.1f} s")
        assert info is not None and info.data["asr"], info
        asr = info.data["asr"][0]
        assert asr["name"] == "voicecmd" and asr["installed"]
        assert asr["models"][0]["name"] == "model" and "en" in asr["models"][0]["languages"], asr
        assert answer is not None and answer.type == "transcript", answer
        assert answer.data["text"] == "turn on the kitchen light", answer
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0, log.read_text()[-3000:]
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "needs PyPI" not in log.read_text()


def test_config_wyoming_section_starts_the_server_in_the_daemon(root: OverlayRoot) -> None:
    """`voicecmd run` with the config's wyoming: section enabled starts the Wyoming server beside the (demo WAV)
    input instead of failing with a config error, then recognizes the demo command and exits at its end."""
    config = root.write("/srv/voicecmd-test/wyoming.yaml", (
        f"audio:\n  source: wav\n  wav_path: {DEMO_DIR}/{WYOMING_DEMO}\n  realtime: false\n  at_end: exit\n"
        "grammar:\n  watch: false\nmqtt: null\n"
        "wyoming:\n  enabled: true\n  uri: tcp://127.0.0.1:0\n  zeroconf: false\n"))
    proc = root.chroot("voicecmd", "run", "--config", config, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Wyoming server listening on 127.0.0.1:" in proc.stderr, proc.stderr[-3000:]
    intents = [json.loads(line) for line in proc.stdout.splitlines() if '"topic": "voicecmd/default/intent/' in line]
    assert [message["payload"]["intent"] for message in intents] == [DEMO_INTENTS[WYOMING_DEMO][0]], proc.stdout


def test_reinstall_keeps_edited_conffile(root: OverlayRoot) -> None:
    """An upgrade/reinstall of the same package leaves the administrator's edits to the config alone."""
    config = root.path / "etc/voicecmd/config.yaml"
    config.write_text(config.read_text() + "\n# edited by the administrator\n")
    root.chroot("apt-get", "install", "--reinstall", "-y", "-q", INSIDE_DEB)
    assert "# edited by the administrator" in config.read_text()
    assert "audio" in root.chroot("id", "-nG", "voicecmd").stdout.split()


def test_remove_keeps_config_purge_removes_state(root: OverlayRoot) -> None:
    """remove keeps the (edited) conffile and the state; purge deletes /etc/voicecmd and /var/lib/voicecmd."""
    config = root.path / "etc/voicecmd/config.yaml"
    assert "# edited by the administrator" in config.read_text()
    (root.path / "var/lib/voicecmd/outbox.db").write_text("queued intents")
    root.chroot("apt-get", "remove", "-y", "-q", "voicecmd")
    assert "# edited by the administrator" in config.read_text()
    assert (root.path / "var/lib/voicecmd/outbox.db").is_file()
    assert not (root.path / "usr/lib/voicecmd").exists()
    assert not (root.path / "usr/bin/voicecmd").exists()
    root.chroot("apt-get", "purge", "-y", "-q", "voicecmd")
    assert not (root.path / "etc/voicecmd").exists()
    assert not (root.path / "var/lib/voicecmd").exists()
    assert not (root.path / "etc/systemd/system/multi-user.target.wants/voicecmd.service").exists()
    dpkg = root.chroot("dpkg-query", "-W", "-f", "${Status}", "voicecmd", check=False)
    assert dpkg.returncode != 0 or "not-installed" in dpkg.stdout
