#!/usr/bin/env bash
# Packaging test set-up: Debian build/lint tools, nspawn + debootstrap, and a cached clean Debian 12 root
# (minbase + systemd + python3) that tests/packaging overlays, installs the .deb into and boots.
# Idempotent; about 25 s of apt and 65 s of debootstrap on a fresh machine, instant afterwards.
# Set VOICECMD_ARM64_ROOT_CACHE=1 to also cache the arm64 root used by script/build-deb-arm64.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

packages="debhelper dh-python python3-all python3-dev python3-setuptools python3-pip devscripts lintian fakeroot
build-essential dpkg-dev systemd-container debootstrap qemu-user-static binfmt-support espeak-ng sox file"
# shellcheck disable=SC2086
if ! dpkg -s $packages >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi

# shellcheck source=script/deb-env.sh
. script/deb-env.sh

make_root() {  # make_root ARCH DIR: debootstrap a minbase bookworm root with systemd, then apt lists
  local arch=$1 dir=$2
  [ -f "$dir/.voicecmd-root-ok" ] && return 0
  echo "40-packaging: debootstrap bookworm $arch into $dir from $MIRROR"
  $SUDO rm -rf "$dir" && $SUDO mkdir -p "$dir"
  $SUDO debootstrap --arch="$arch" --variant=minbase --include=systemd,systemd-sysv,dbus,python3,ca-certificates \
      bookworm "$dir" "$MIRROR" >"$dir.log" 2>&1 || { tail -n 20 "$dir.log" >&2; exit 1; }
  $SUDO chroot "$dir" apt-get update -qq
  $SUDO chroot "$dir" apt-get clean
  $SUDO touch "$dir/.voicecmd-root-ok"
}

make_root amd64 "$VOICECMD_ROOT_CACHE/bookworm-amd64"
if [ "${VOICECMD_ARM64_ROOT_CACHE:-0}" = 1 ]; then
  enable_qemu_aarch64
  make_root arm64 "$VOICECMD_ROOT_CACHE/bookworm-arm64"
fi
echo "40-packaging: ready (roots in $VOICECMD_ROOT_CACHE)"
