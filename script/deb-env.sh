# Sourced by the packaging scripts: where cached Debian roots live, which Debian mirror to use, qemu for arm64.
# shellcheck shell=bash

VOICECMD_ROOT_CACHE=${VOICECMD_ROOT_CACHE:-/var/cache/voicecmd-ci}

debian_mirror() {  # the Debian mirror this machine's apt already uses (deb822 URIs: or one-line deb entries)
  local uri
  uri=$(grep -hs -E '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
      | grep -v security | sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(debian_mirror)}

enable_qemu_aarch64() {  # register qemu-aarch64 with binfmt_misc (flags F: works inside chroots)
  [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || {
    echo "deb-env: qemu-aarch64 binfmt handler is not enabled" >&2; return 1; }
}
