"""Helpers for the packaging tests: build the .deb, overlay the cached Debian 12 root, chroot and nspawn into it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Sequence

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT_CACHE = Path(os.environ.get("VOICECMD_ROOT_CACHE", "/var/cache/voicecmd-ci"))
AMD64_ROOT = ROOT_CACHE / "bookworm-amd64"
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
}
SETUP_HINT = "run `bash script/setup.d/40-packaging.sh` (part of `script/setup test`)"


def run(cmd: Sequence[str], *, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; on failure the assertion shows the command and its output."""
    kwargs.setdefault("text", True)
    proc = subprocess.run(list(cmd), capture_output=True, timeout=timeout, **kwargs)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} -> rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def pinned_version(project: str) -> str:
    """The version script/build-deb vendors of ``project`` (its ``<PROJECT>_VERSION=`` line)."""
    found = re.search(rf"^{project.upper()}_VERSION=(\S+)", (REPO_ROOT / "script" / "build-deb").read_text(), re.M)
    assert found, f"script/build-deb pins no {project}"
    return found.group(1)


def cached_root() -> Path:
    """The pristine debootstrap root made by the set-up hook (fails with the remedy if it is missing)."""
    assert (AMD64_ROOT / ".voicecmd-root-ok").is_file(), f"no cached Debian 12 root at {AMD64_ROOT}: {SETUP_HINT}"
    return AMD64_ROOT


def build_deb(out_dir: Path) -> Path:
    """Run script/build-deb into ``out_dir``; returns the .deb (``VOICECMD_TEST_DEB`` reuses a built one)."""
    prebuilt = os.environ.get("VOICECMD_TEST_DEB")
    if prebuilt:
        return Path(prebuilt)
    started = time.monotonic()
    proc = run(["bash", str(REPO_ROOT / "script" / "build-deb"), "--out", str(out_dir)], check=False, timeout=900)
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, f"script/build-deb failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    debs = sorted(out_dir.glob("voicecmd_*.deb"))
    assert len(debs) == 1, debs
    print(f"packaging: build-deb took {time.monotonic() - started:.1f} s")
    return debs[0]


class OverlayRoot:
    """A throw-away writable copy of the cached root: overlayfs over it, with /proc mounted for chroot use."""

    def __init__(self, lower: Path, base: Path) -> None:
        self.lower = lower
        self.base = base
        self.path = base / "root"
        self._mounts: list[Path] = []

    def __enter__(self) -> "OverlayRoot":
        for sub in ("upper", "work", "root"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={self.lower},upperdir={self.base / 'upper'},workdir={self.base / 'work'}"
        run(["mount", "-t", "overlay", "overlay", "-o", options, str(self.path)])
        self._mounts.append(self.path)
        return self

    def mount_kernel_filesystems(self) -> None:
        """Mount /proc and /sys inside for chroot use (apt needs /proc; onnxruntime's cpuinfo reads both)."""
        for fstype, target in (("proc", self.path / "proc"), ("sysfs", self.path / "sys")):
            run(["mount", "-t", fstype, fstype, str(target)])
            self._mounts.append(target)

    def __exit__(self, *exc_info: object) -> None:
        for mount in reversed(self._mounts):
            if run(["umount", str(mount)], check=False).returncode != 0:
                run(["umount", "-l", str(mount)], check=False)
        self._mounts.clear()
        shutil.rmtree(self.base, ignore_errors=True)

    def chroot(self, *cmd: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a command inside the root with a clean environment."""
        return run(["chroot", str(self.path), *cmd], check=check, timeout=timeout, env=CHROOT_ENV)

    def spawn(self, *cmd: str, stderr: Path) -> subprocess.Popen:
        """Start a long-running command inside the root (clean environment): stdout is a text pipe, stderr goes to
        the host file ``stderr``. The chroot shares the host's network, so its loopback servers are the host's."""
        with stderr.open("w") as log:
            return subprocess.Popen(["chroot", str(self.path), *cmd], env=CHROOT_ENV, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=log, text=True)

    def put(self, src: Path, inside: str) -> str:
        """Copy a host file into the root; returns its path as seen inside."""
        target = self.path / inside.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        return inside

    def write(self, inside: str, text: str) -> str:
        """Create a text file inside the root; returns its path as seen inside."""
        target = self.path / inside.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return inside


class BootedContainer:
    """systemd-nspawn booting an OverlayRoot; commands run through nsenter into the container's namespaces."""

    def __init__(self, root: OverlayRoot, log_path: Path) -> None:
        self.root = root
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.leader = 0

    def __enter__(self) -> "BootedContainer":
        log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-q", "-D", str(self.root.path), "--register=no", "--keep-unit", "-b",
             "--console=pipe"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_for_boot()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for_boot(self) -> None:
        """Find the container's init (nspawn's child once it has exec'ed systemd), then wait for the boot."""
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while not self.leader:
            assert self.proc.poll() is None, f"systemd-nspawn exited: {self.log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "systemd-nspawn started no container init"
            for child in run(["pgrep", "-P", str(self.proc.pid)], check=False).stdout.split():
                # Before the exec the child is still a copy of nspawn, in namespaces not yet set up.
                if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                    self.leader = int(child)
            time.sleep(0.05)
        # Right after the exec, systemd has not opened its bus yet and systemctl fails at once: retry.
        while True:
            proc = self.exec("systemctl", "is-system-running", "--wait", check=False, timeout=120)
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                return
            assert time.monotonic() < deadline, f"container did not boot: {state!r} {proc.stderr.strip()}"
            time.sleep(0.2)

    def exec(self, *cmd: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a command in the container (host network: nsenter -a shares it)."""
        return run(["nsenter", "-t", str(self.leader), "-a", "env", "-i", *[f"{k}={v}" for k, v in CHROOT_ENV.items()],
                    *cmd], check=check, timeout=timeout)

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.leader:
            self.exec("systemctl", "poweroff", check=False, timeout=30)
        # nspawn turns the first SIGTERM into a clean halt and the second into an immediate stop.
        for stop in (lambda: None, self.proc.terminate, self.proc.terminate, self.proc.kill):
            stop()
            try:
                self.proc.wait(timeout=15)
                return
            except subprocess.TimeoutExpired:
                continue


def synthesize_wav(text: str, voice: str, path: Path) -> Path:
    """A 16 kHz mono 16-bit WAV of ``text`` spoken by espeak-ng (padded with 0.5 s of silence)."""
    raw = run(["espeak-ng", "-v", voice, "--stdout", text], text=False).stdout
    run(["sox", "-t", "wav", "-", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(path),
         "pad", "0.5", "0.5"], input=raw, text=False)
    return path
